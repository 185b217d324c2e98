#!/usr/bin/env node
'use strict'
// Builds the native module from source with cargo and copies it to flightcache.node.
// Two layouts have the Rust sources:
//   - this repository: the package folder is a member of the Cargo workspace above it;
//   - the packed npm tarball: rust/ holds the workspace (core + this crate), copied in by
//     packaging/npm_pack.js, so that platforms without a prebuilt package still install.
//
//   node scripts/build.js          build (cargo decides whether anything changed)
//   FLIGHTCACHE_PROFILE=dev ...    a debug build (faster to compile, slow to run)

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const pkgDir = path.resolve(__dirname, '..')
const out = path.join(pkgDir, 'flightcache.node')

/** Where the Rust sources are: { manifest, packed } or null when this copy has none. */
function sources () {
  const packed = path.join(pkgDir, 'rust', 'Cargo.toml')
  if (fs.existsSync(packed)) return { manifest: packed, packed: true }
  const repo = path.join(pkgDir, 'Cargo.toml')
  if (fs.existsSync(repo)) return { manifest: repo, packed: false }
  return null
}

function findCargo () {
  if (process.env.CARGO) return process.env.CARGO
  const probe = spawnSync('cargo', ['--version'], { stdio: 'ignore' })
  if (probe.status === 0) return 'cargo'
  const home = path.join(os.homedir(), '.cargo', 'bin', process.platform === 'win32' ? 'cargo.exe' : 'cargo')
  if (fs.existsSync(home)) return home
  return null
}

/** Builds flightcache.node; returns an exit status after saying what went wrong. */
function build (why) {
  const src = sources()
  if (!src) {
    console.error('flightcache: this copy of the package has no Rust sources to build from.')
    return 1
  }
  const cargo = findCargo()
  if (!cargo) {
    console.error(`flightcache: ${why ? why + ', and ' : ''}cargo was not found to build the native module ` +
      'from source. Install Rust (https://rustup.rs) so that `cargo` is on PATH, then run ' +
      '`npm rebuild flightcache`.')
    return 1
  }

  const profile = process.env.FLIGHTCACHE_PROFILE || 'release'
  const args = ['build', '-p', 'flightcache-node', '--manifest-path', src.manifest,
    '--message-format=json-render-diagnostics']
  if (profile === 'release') args.push('--release')
  else args.push('--profile', profile)

  // A packed copy builds in a temporary target folder, removed afterwards: a release build
  // leaves hundreds of megabytes that node_modules should not keep.
  const env = { ...process.env }
  let tmpTarget
  if (src.packed && !env.CARGO_TARGET_DIR) {
    tmpTarget = fs.mkdtempSync(path.join(os.tmpdir(), 'flightcache-build-'))
    env.CARGO_TARGET_DIR = tmpTarget
  }
  console.error(`flightcache: ${why ? why + '; ' : ''}building the native module from source ` +
    `(cargo build -p flightcache-node --${profile}); this takes a minute or two`)
  try {
    const r = spawnSync(cargo, args, {
      cwd: path.dirname(src.manifest),
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 256 * 1024 * 1024,
      encoding: 'utf8'
    })
    if (r.error) {
      console.error(`flightcache: could not run cargo: ${r.error.message}`)
      return 1
    }
    if (r.status !== 0) {
      console.error(`flightcache: cargo build failed (exit ${r.status})`)
      return r.status || 1
    }

    let lib
    for (const line of r.stdout.split('\n')) {
      if (!line.startsWith('{')) continue
      const msg = JSON.parse(line)
      if (msg.reason === 'compiler-artifact' && msg.target && msg.target.name === 'flightcache_node') {
        lib = msg.filenames.find((f) => /\.(so|dylib|dll)$/.test(f))
      }
    }
    if (!lib) {
      console.error('flightcache: cargo did not report the built library')
      return 1
    }
    // Copy next to it then rename: a process that has the old module loaded keeps its copy.
    const tmp = `${out}.${process.pid}.tmp`
    fs.copyFileSync(lib, tmp)
    fs.renameSync(tmp, out)
    console.error(`flightcache: built ${path.relative(process.cwd(), out) || out}`)
    return 0
  } finally {
    if (tmpTarget) fs.rmSync(tmpTarget, { recursive: true, force: true })
  }
}

module.exports = { build, sources }

if (require.main === module) process.exit(build())
