'use strict'
// Resilience in Node: background work on the event loop, failures that are counted and never
// raised, and nothing that keeps the process alive. The rules themselves are scenarios
// (tests/scenarios/resilience_*.json).
const test = require('node:test')
const assert = require('node:assert')
const path = require('node:path')
const { spawnSync } = require('node:child_process')
const { Cache, ManualClock, errorCodes } = require('..')
const { sleep } = require('./helpers')

async function until (cond, ms = 5000) {
  const deadline = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error('timed out')
    await sleep(5)
  }
}

async function staleCache (options) {
  const clock = new ManualClock()
  const cache = new Cache({ clock, ttl: 1000, ...options })
  assert.equal(await cache.get('k', { getValue: () => 'v1' }), 'v1')
  clock.advance(1000)
  return { cache, clock }
}

test('getEntry answers the value with how it was served', async () => {
  const { cache } = await staleCache({ staleTtl: 5000 })
  assert.deepStrictEqual(await cache.getEntry('k', { getValue: () => 'v2' }),
    { value: 'v1', status: 'refreshing', source: 'memory', ageMs: 1000, remainingTtl: 0 })
  assert.deepStrictEqual(await cache.getEntry('absent'),
    { value: undefined, status: 'miss', source: 'memory', ageMs: undefined, remainingTtl: undefined })
  await until(() => cache.getSync('k') === 'v2')
  const e = await cache.getEntry('k')
  assert.equal(e.status, 'hit')
  assert.equal(e.remainingTtl, 1000)
})

test('a failing refresh is counted, never an unhandled rejection', async () => {
  const { cache } = await staleCache({ staleTtl: 5000 })
  const unhandled = []
  const onUnhandled = (e) => unhandled.push(e)
  process.on('unhandledRejection', onUnhandled)
  try {
    assert.equal(await cache.get('k', { getValue: async () => { throw new Error('down') } }), 'v1')
    await until(() => cache.stats().refreshErrors === 1)
    await sleep(20)
  } finally {
    process.off('unhandledRejection', onUnhandled)
  }
  assert.deepStrictEqual(unhandled, [])
  assert.equal(cache.stats().loadErrors, 1)
  // Still stale-servable; the next caller starts the next refresh.
  assert.equal(await cache.get('k', { getValue: () => 'v2' }), 'v1')
  await until(() => cache.getSync('k') === 'v2')
})

test('one refresh per key however many stale callers', async () => {
  const { cache } = await staleCache({ staleTtl: 5000 })
  let calls = 0
  let release
  const gate = new Promise((resolve) => { release = resolve })
  const getValue = async () => { calls++; await gate; return 'v2' }
  const got = await Promise.all(Array.from({ length: 50 }, () => cache.get('k', { getValue })))
  assert.ok(got.every((v) => v === 'v1'))
  release()
  await until(() => cache.getSync('k') === 'v2')
  assert.equal(calls, 1)
  assert.equal(cache.stats().refreshes, 1)
  assert.equal(cache.stats().staleHits, 50)
})

test('fail-safe: a failed load serves the stale value, then backs off', async () => {
  const { cache } = await staleCache({ staleIfError: 60000 })
  let calls = 0
  const failing = () => { calls++; throw new Error('down') }
  assert.equal(await cache.get('k', { getValue: failing }), 'v1')
  assert.equal(await cache.get('k', { getValue: failing }), 'v1')
  assert.equal(calls, 1)
  assert.equal(cache.stats().loadErrors, 1)
})

test('hardTimeout: callers stop with ERR_FLIGHTCACHE_TIMEOUT; the next caller loads anew', async () => {
  const cache = new Cache()
  const never = () => new Promise(() => {})
  await assert.rejects(cache.get('k', { getValue: never, hardTimeout: 30 }),
    (e) => e.code === errorCodes.TIMEOUT)
  assert.equal(await cache.get('k', { getValue: () => 'fresh', hardTimeout: 30 }), 'fresh')
})

test('softTimeout serves the stale value; the load fills the entry later', async () => {
  const { cache } = await staleCache({ staleIfError: 60000 })
  let release
  const gate = new Promise((resolve) => { release = resolve })
  const e = await cache.getEntry('k', { getValue: async () => { await gate; return 'v2' }, softTimeout: 30 })
  assert.deepStrictEqual([e.value, e.status], ['v1', 'stale'])
  release()
  await until(() => cache.getSync('k') === 'v2')
})

test('wrap passes the resilience options; bad ones are errors naming them', async () => {
  const clock = new ManualClock()
  const cache = new Cache({ clock })
  let n = 0
  const f = cache.wrap(async (x) => ++n, { ttl: 1000, staleTtl: 5000, name: 'f' })
  assert.equal(await f(1), 1)
  clock.advance(1000)
  assert.equal(await f(1), 1)
  await until(async () => (await f(1)) === 2)
  assert.throws(() => new Cache({ refreshAhead: 2 }), /refresh_ahead/)
  assert.throws(() => new Cache({ staleTtl: 'long' }), /staleTtl/)
  await assert.rejects(cache.get('x', { getValue: () => 1, staleTtl: -1 }), /stale_ttl/)
  assert.equal(cache.getSync('x'), undefined)
})

test('a refresh in flight does not keep the process alive', () => {
  const script = `
    const { Cache, ManualClock } = require(${JSON.stringify(path.resolve(__dirname, '..'))})
    const clock = new ManualClock()
    const cache = new Cache({ clock, ttl: 1000, staleTtl: 60000 })
    cache.setSync('k', 'v1')
    clock.advance(1000)
    cache.get('k', { getValue: () => new Promise(() => {}) }).then((v) => console.log(v))
  `
  const started = Date.now()
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30000 })
  assert.equal(r.status, 0, r.stderr)
  assert.equal(r.stdout.trim(), 'v1')
  assert.ok(Date.now() - started < 20000)
})
