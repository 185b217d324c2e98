#!/usr/bin/env node
'use strict'
// Builds the native module from source with cargo and copies it to flightcache.node.
// Runs as the package's `install` script: it needs only cargo (and this repository's
// Rust workspace, which the package folder is part of).
//
//   node scripts/build.js          build (cargo decides whether anything changed)
//   FLIGHTCACHE_PROFILE=dev ...    a debug build (faster to compile, slow to run)

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const pkgDir = path.resolve(__dirname, '..')
const out = path.join(pkgDir, 'flightcache.node')

function findCargo () {
  if (process.env.CARGO) return process.env.CARGO
  const probe = spawnSync('cargo', ['--version'], { stdio: 'ignore' })
  if (probe.status === 0) return 'cargo'
  const home = path.join(os.homedir(), '.cargo', 'bin', process.platform === 'win32' ? 'cargo.exe' : 'cargo')
  if (fs.existsSync(home)) return home
  console.error('flightcache: cargo was not found. Install Rust (https://rustup.rs) and run `npm install` again.')
  process.exit(1)
}

const profile = process.env.FLIGHTCACHE_PROFILE || 'release'
const args = ['build', '-p', 'flightcache-node', '--message-format=json-render-diagnostics']
if (profile === 'release') args.push('--release')
else args.push('--profile', profile)

console.error(`flightcache: building the native module (cargo ${args.slice(0, 3).join(' ')} --${profile})`)
const r = spawnSync(findCargo(), args, {
  cwd: pkgDir,
  stdio: ['ignore', 'pipe', 'inherit'],
  maxBuffer: 256 * 1024 * 1024,
  encoding: 'utf8'
})
if (r.error) {
  console.error(`flightcache: could not run cargo: ${r.error.message}`)
  process.exit(1)
}
if (r.status !== 0) {
  console.error(`flightcache: cargo build failed (exit ${r.status})`)
  process.exit(r.status || 1)
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
  process.exit(1)
}
// Copy next to it then rename: a process that has the old module loaded keeps its copy.
const tmp = `${out}.${process.pid}.tmp`
fs.copyFileSync(lib, tmp)
fs.renameSync(tmp, out)
console.error(`flightcache: built ${path.relative(process.cwd(), out) || out}`)
