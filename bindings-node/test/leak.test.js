'use strict'
// No leak: evicted, expired, overwritten and read values are released (object values are napi
// references, string values Rust memory). Each scenario runs in a child with --expose-gc.
const test = require('node:test')
const assert = require('node:assert/strict')
const { execFileSync } = require('node:child_process')
const path = require('node:path')

function run (script, ...args) {
  const out = execFileSync(process.execPath, ['--expose-gc', path.join(__dirname, 'fixtures', script), ...args],
    { encoding: 'utf8', timeout: 120_000 })
  return JSON.parse(out.trim().split('\n').pop())
}

const MB = 1024 * 1024

for (const mode of ['objects', 'strings']) {
  test(`1,000,000 sets of ${mode} into a cache bounded at 1,000 keep the heap flat`, () => {
    const r = run('leak.js', mode)
    assert.equal(r.entries, 1000)
    assert.equal(r.evictions, 999_000)
    const heapGrowth = r.end.heap - r.warm.heap
    const nativeGrowth = r.end.native - r.warm.native
    // 900,000 leaked values would be tens of MB of heap (objects) or of native memory (strings).
    assert.ok(heapGrowth < 2 * MB, `heap grew by ${(heapGrowth / MB).toFixed(2)} MB`)
    assert.ok(nativeGrowth < 8 * MB, `native memory grew by ${(nativeGrowth / MB).toFixed(2)} MB`)
  })
}

test('expired objects are released by the timer, with nobody calling the cache', () => {
  const r = run('reclaim.js')
  assert.equal(r.released, 10)
  assert.equal(r.stillHeld, 0)
})
