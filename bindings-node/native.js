'use strict'
// Finds flightcache's native module, in napi-rs's layout:
//
//   1. flightcache.node beside this file: built from source with cargo (scripts/build.js,
//      which the install script runs when no prebuilt package fits, and `make node-build`);
//   2. the prebuilt package for this platform, `flightcache-<platform>` (for example
//      flightcache-linux-x64-gnu), which npm installs from the main package's
//      optionalDependencies, skipping those whose os, cpu and libc do not match.
//
// A module built from source wins: it exists only when someone chose to build.

const fs = require('node:fs')
const path = require('node:path')

// The platforms the release workflows build (.github/workflows/release-node.yml); the main
// package lists each `flightcache-<name>` as an optional dependency.
const PLATFORMS = Object.freeze({
  'linux-x64-gnu': { target: 'x86_64-unknown-linux-gnu', os: 'linux', cpu: 'x64', libc: 'glibc' },
  'linux-arm64-gnu': { target: 'aarch64-unknown-linux-gnu', os: 'linux', cpu: 'arm64', libc: 'glibc' },
  'linux-x64-musl': { target: 'x86_64-unknown-linux-musl', os: 'linux', cpu: 'x64', libc: 'musl' },
  'linux-arm64-musl': { target: 'aarch64-unknown-linux-musl', os: 'linux', cpu: 'arm64', libc: 'musl' },
  'darwin-x64': { target: 'x86_64-apple-darwin', os: 'darwin', cpu: 'x64' },
  'darwin-arm64': { target: 'aarch64-apple-darwin', os: 'darwin', cpu: 'arm64' },
  'win32-x64-msvc': { target: 'x86_64-pc-windows-msvc', os: 'win32', cpu: 'x64' }
})

const LOCAL_BUILD = path.join(__dirname, 'flightcache.node')

function isMusl () {
  // Reading ldd is cheap; the process report is the fallback, as it may take a while to make.
  try {
    return fs.readFileSync('/usr/bin/ldd', 'latin1').includes('musl')
  } catch {}
  const report = process.report && typeof process.report.getReport === 'function'
    ? process.report.getReport()
    : null
  return !(report && report.header && report.header.glibcVersionRuntime)
}

/** This process's platform in napi-rs's naming: linux-x64-gnu, darwin-arm64, win32-x64-msvc, ... */
function platformName () {
  const { platform, arch } = process
  if (platform === 'linux') return `linux-${arch}-${isMusl() ? 'musl' : 'gnu'}`
  if (platform === 'win32') return `win32-${arch}-msvc`
  return `${platform}-${arch}`
}

function packageName (platform) {
  return `flightcache-${platform}`
}

/**
 * Loads the prebuilt package for this platform: { module, from } on success, else
 * { error, installed } (installed: whether the package is there but failed to load).
 */
function loadPrebuilt (platform = platformName()) {
  const name = packageName(platform)
  try {
    return { module: require(name), from: name }
  } catch (e) {
    const missing = e.code === 'MODULE_NOT_FOUND' && String(e.message).includes(`'${name}'`)
    return { error: e, installed: !missing, from: name }
  }
}

function notFound (platform, prebuilt, localError) {
  const lines = [`flightcache: no native module could be loaded for this platform (${platform}).`]
  if (prebuilt.installed) {
    lines.push(`- ${prebuilt.from} is installed but did not load: ${prebuilt.error.message}`)
  } else if (Object.hasOwn(PLATFORMS, platform)) {
    lines.push(`- the prebuilt package ${prebuilt.from} is not installed (was the install run with ` +
      '--omit=optional or --no-optional, or copied from another platform?)')
  } else {
    lines.push(`- no prebuilt package exists for ${platform}; prebuilt ones: ${Object.keys(PLATFORMS).join(', ')}`)
  }
  if (localError) lines.push(`- ${LOCAL_BUILD} did not load: ${localError.message}`)
  else lines.push(`- it was not built from source either (${LOCAL_BUILD} does not exist)`)
  lines.push('To build it from source, install Rust (https://rustup.rs) so that `cargo` is on PATH, then run ' +
    '`npm rebuild flightcache`.')
  const err = new Error(lines.join('\n'))
  err.code = 'ERR_FLIGHTCACHE_NOT_BUILT'
  err.cause = prebuilt.installed ? prebuilt.error : localError
  return err
}

/** The native module: built from source if it was, else the prebuilt package. Throws a clear error. */
function load () {
  let localError
  if (fs.existsSync(LOCAL_BUILD)) {
    try {
      return require(LOCAL_BUILD)
    } catch (e) {
      localError = e
    }
  }
  const platform = platformName()
  const prebuilt = loadPrebuilt(platform)
  if (prebuilt.module) return prebuilt.module
  throw notFound(platform, prebuilt, localError)
}

module.exports = { PLATFORMS, LOCAL_BUILD, platformName, packageName, loadPrebuilt, load }
