'use strict'
// The README's resilience example (examples/resilience_example.js) runs as written, with
// `require('flightcache')` resolving to this package.
const test = require('node:test')
const assert = require('node:assert/strict')
const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const pkg = path.resolve(__dirname, '..')
const examples = path.resolve(pkg, '..', 'examples')

test('examples/resilience_example.js', () => {
  const modules = fs.mkdtempSync(path.join(os.tmpdir(), 'flightcache-examples-'))
  try {
    fs.symlinkSync(pkg, path.join(modules, 'flightcache'))
    const out = execFileSync(process.execPath, [path.join(examples, 'resilience_example.js')],
      { encoding: 'utf8', env: { ...process.env, NODE_PATH: modules }, timeout: 30_000 })
    assert.deepEqual(out.trim().split('\n'), [
      'Cached: {"EUR":0.92} (stale from memory, 61000 ms old)',
      'load errors 1, stale hits 2, refreshes 1'
    ])
  } finally {
    fs.rmSync(modules, { recursive: true, force: true })
  }
})
