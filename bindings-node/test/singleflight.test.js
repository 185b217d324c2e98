'use strict'
// Single-flight loading: one getValue call per key however many callers, one outcome for all.
const test = require('node:test')
const assert = require('node:assert/strict')
const { Cache, errorCodes } = require('..')
const { cacheWith, sleep, slowLoader } = require('./helpers')

test('1,000 concurrent callers of one missing key with a 50 ms loader: one load, the same object for all', async () => {
  const cache = new Cache()
  const loader = slowLoader(50, () => ({ token: 'abc' }))
  const callers = Array.from({ length: 1000 }, () => cache.get('k', { getValue: loader }))
  const values = await Promise.all(callers)
  assert.equal(loader.calls, 1)
  assert.equal(values.length, 1000)
  for (const v of values) assert.equal(v, values[0])
  assert.deepEqual(values[0], { token: 'abc' })
  assert.equal(cache.getSync('k'), values[0], 'stored: later hits give the same object too')
  const s = cache.stats()
  assert.equal(s.loads, 1)
  assert.equal(s.misses, 1000, 'a caller that joins a flight is a miss')
})

test('a rejecting loader: one call, every caller rejects with the same error, nothing stored, the next call loads again', async () => {
  const cache = new Cache()
  const err = new Error('upstream down')
  let calls = 0
  const failing = () => { calls++; return sleep(20).then(() => { throw err }) }
  const outcomes = await Promise.allSettled(
    Array.from({ length: 1000 }, () => cache.get('k', { getValue: failing })))
  assert.equal(calls, 1)
  for (const o of outcomes) {
    assert.equal(o.status, 'rejected')
    assert.equal(o.reason, err, 'the very same error object')
  }
  assert.equal(cache.has('k'), false)
  assert.equal(cache.stats().loadErrors, 1)
  const loader = slowLoader(5, () => 'ok')
  assert.equal(await cache.get('k', { getValue: loader }), 'ok')
  assert.equal(loader.calls, 1)
  assert.equal(cache.getSync('k'), 'ok')
})

test('the documented example, with getValue an already-started Promise', async () => {
  let authentications = 0
  async function authenticate () {
    authentications++
    await sleep(10)
    return { token: `token-${authentications}` }
  }
  const cache = new Cache({ maxEntries: 10_000, ttl: 7 * 24 * 3600 * 1000 })
  async function handler ({ cache }) {
    const token = await cache.get('token', { ttl: 60 * 1000, getValue: authenticate().then(d => d.token) })
    return token
  }
  assert.equal(await handler({ cache }), 'token-1')
  // A second call starts authenticate() again (the argument is evaluated), but the cached
  // token is returned and the unused Promise is not an unhandled rejection.
  assert.equal(await handler({ cache }), 'token-1')
  assert.equal(await cache.remainingTtl('token') <= 60_000, true)
  // Many concurrent handlers with Promises made before the call: one wins, all agree.
  await cache.clear()
  const tokens = await Promise.all(Array.from({ length: 50 }, () => handler({ cache })))
  for (const t of tokens) assert.equal(t, tokens[0])
  await cache.set('token', tokens[0], { ttl: 1000 })
  assert.equal(await cache.del('token'), true)
  assert.equal(await cache.del('token'), false)
})

test('an unused rejecting getValue Promise does not crash the process', async () => {
  const cache = new Cache()
  cache.setSync('k', 'v')
  const unhandled = []
  const onUnhandled = (r) => unhandled.push(r)
  process.on('unhandledRejection', onUnhandled)
  try {
    assert.equal(await cache.get('k', { getValue: Promise.reject(new Error('unused')) }), 'v')
    await sleep(10)
    assert.deepEqual(unhandled, [])
  } finally {
    process.off('unhandledRejection', onUnhandled)
  }
})

test('a set made while the load is in flight wins; waiters still get the load', async () => {
  const cache = new Cache()
  const loader = slowLoader(30, () => 'loaded')
  const first = cache.get('k', { getValue: loader })
  const second = cache.get('k', { getValue: loader })
  await sleep(5)
  cache.setSync('k', 'written')
  assert.equal(await first, 'loaded')
  assert.equal(await second, 'loaded')
  assert.equal(cache.getSync('k'), 'written', 'the newer write is not overwritten')
  assert.equal(loader.calls, 1)
})

test('a del made while the load is in flight: later callers start a new load', async () => {
  const cache = new Cache()
  let n = 0
  const loader = () => { const i = ++n; return sleep(30).then(() => `load ${i}`) }
  const first = cache.get('k', { getValue: loader })
  await sleep(5)
  assert.equal(cache.delSync('k'), false)
  const later = cache.get('k', { getValue: loader })
  assert.equal(await first, 'load 1')
  assert.equal(await later, 'load 2')
  assert.equal(n, 2)
  assert.equal(cache.getSync('k'), 'load 2')
})

test('a loader asking for its own key gets ERR_FLIGHTCACHE_REENTRANT, never a deadlock', async () => {
  const cache = new Cache()
  // Synchronously, from inside getValue.
  const sync = cache.get('a', { getValue: () => cache.get('a', { getValue: () => 1 }) })
  await assert.rejects(sync, (e) => e.code === errorCodes.REENTRANT && e.message.includes('own key'))
  // After an await, in the loader's async context.
  const later = cache.get('b', {
    getValue: async () => {
      await sleep(1)
      return cache.get('b', { getValue: () => 2 })
    }
  })
  await assert.rejects(later, (e) => e.code === errorCodes.REENTRANT)
  // Nested: b's loader asks for c, whose loader asks for b.
  const nested = cache.get('b', {
    getValue: async () => {
      await null
      return cache.get('c', { getValue: async () => { await null; return cache.get('b', { getValue: () => 3 }) } })
    }
  })
  await assert.rejects(nested, (e) => e.code === errorCodes.REENTRANT)
  // A loader may use other keys freely, and the cache works afterwards.
  const ok = await cache.get('d', { getValue: async () => (await cache.get('e', { getValue: async () => 5 })) + 1 })
  assert.equal(ok, 6)
  assert.equal(await cache.get('b', { getValue: () => 'fine' }), 'fine')
  assert.equal(cache.has('a'), false)
})

test('a loader asking for its own key is caught right after another load and after the event loop came round', async () => {
  // The async context that tracks loaders stays on until the event loop comes round with
  // no loader running: both states must catch it.
  const cache = new Cache()
  const own = (k) => cache.get(k, { getValue: async () => { await null; return cache.get(k, { getValue: () => 0 }) } })
  const turn = () => new Promise((resolve) => setImmediate(resolve))
  for (let i = 0; i < 3; i++) {
    assert.equal(await cache.get(`plain${i}`, { getValue: () => i }), i)
    await assert.rejects(own(`same${i}`), (e) => e.code === errorCodes.REENTRANT)
    await turn()
    await turn()
    await assert.rejects(own(`later${i}`), (e) => e.code === errorCodes.REENTRANT)
    assert.equal(await cache.get(`after${i}`, { getValue: async () => { await null; return (await cache.get(`other${i}`, { getValue: () => 1 })) + 1 } }), 2)
  }
})

test('loadTimeout: waiting callers stop with ERR_FLIGHTCACHE_TIMEOUT; the loader still completes', async () => {
  const cache = new Cache({ loadTimeout: 20 })
  const loader = slowLoader(600, () => 'slow')
  const leader = cache.get('k', { getValue: loader })
  const waiters = Array.from({ length: 10 }, () => cache.get('k', { getValue: loader }))
  // Every waiter's rejection handled from the start: on a loaded machine several can time
  // out before a loop awaiting them one by one reaches them.
  await Promise.all(waiters.map((w) => assert.rejects(w,
    (e) => e instanceof Error && e.code === errorCodes.TIMEOUT && e.message.includes('"k"'))))
  assert.equal(await leader, 'slow')
  assert.equal(loader.calls, 1)
  assert.equal(cache.getSync('k'), 'slow')
})

test('maxAge 0 forces a refresh that is still single-flight', async () => {
  const { cache } = cacheWith()
  cache.setSync('k', 'old')
  const loader = slowLoader(20, () => ({ fresh: true }))
  const values = await Promise.all(Array.from({ length: 100 }, () => cache.get('k', { getValue: loader, maxAge: 0 })))
  assert.equal(loader.calls, 1)
  for (const v of values) assert.equal(v, values[0])
  assert.equal(cache.getSync('k'), values[0])
})

test('different keys load in parallel; a mix of sync and async callers shares one flight', async () => {
  const cache = new Cache()
  const loaders = {}
  const get = (k) => cache.get(k, { getValue: loaders[k] || (loaders[k] = slowLoader(20, () => ({ k }))) })
  const started = Date.now()
  const all = await Promise.all(['a', 'b', 'c', 'a', 'b', 'c'].map(get))
  assert.ok(Date.now() - started < 1000)
  assert.equal(all[0], all[3])
  assert.notEqual(all[0], all[1])
  for (const l of Object.values(loaders)) assert.equal(l.calls, 1)
})

test('wrap: same inputs share one entry and one flight; keys are canonical', async () => {
  const { cache } = cacheWith()
  let calls = 0
  async function fetchUser (query, page) { calls++; await sleep(10); return { query, page, n: calls } }
  const cached = cache.wrap(fetchUser, { ttl: 1000 })
  assert.equal(cached.name, 'fetchUser')
  const [a, b] = await Promise.all([cached({ id: 1, tags: ['x'] }, 2), cached({ tags: ['x'], id: 1 }, 2)])
  assert.equal(a, b)
  assert.equal(calls, 1)
  assert.equal(await cached({ id: 1, tags: ['x'] }, 2), a)
  await cached({ id: 2, tags: ['x'] }, 2)
  assert.equal(calls, 2)
  assert.deepEqual((await cache.keys()).sort(), ['fetchUser:[{"id":1,"tags":["x"]},2]', 'fetchUser:[{"id":2,"tags":["x"]},2]'])
  assert.equal(await cache.remainingTtl('fetchUser:[{"id":1,"tags":["x"]},2]'), 1000)
})

test('wrap: name option, anonymous wrappers never share entries, key function and key paths', async () => {
  const { cache } = cacheWith()
  const f1 = cache.wrap((x) => `one ${x}`)
  const f2 = cache.wrap((x) => `two ${x}`)
  assert.equal(await f1(1), 'one 1')
  assert.equal(await f2(1), 'two 1', 'two anonymous wrappers do not share entries')
  const named = cache.wrap((x) => x * 2, { name: 'double' })
  assert.equal(await named(21), 42)
  assert.ok(cache.has('double:[21]'))
  let calls = 0
  const byKey = cache.wrap((req) => { calls++; return req.body }, { name: 'k', key: (req) => req.id })
  assert.equal(await byKey({ id: 'r1', body: 'first' }), 'first')
  assert.equal(await byKey({ id: 'r1', body: 'second' }), 'first')
  assert.equal(calls, 1)
  const byPath = cache.wrap((p) => { calls++; return p.page.section.name }, {
    name: 'page', key: ['page.repository', 'page.section.name']
  })
  const page = { page: { repository: 'r', section: { name: 's' }, noise: Math.random() } }
  assert.equal(await byPath(page), 's')
  assert.equal(await byPath({ page: { ...page.page, noise: 1 } }), 's')
  assert.equal(calls, 2)
  assert.ok(cache.has('page:["r","s"]'))
  await assert.rejects(byPath({ page: { repository: 'r' } }), (e) => e.message.includes('page.section.name'))
  assert.throws(() => cache.wrap(1), TypeError)
  assert.throws(() => cache.wrap(() => 1, { key: 'x' }), TypeError)
  await assert.rejects(cache.wrap((f) => f)(() => 1), TypeError)
})

test('wrap: a rejecting function is not cached', async () => {
  const cache = new Cache()
  let calls = 0
  const err = new Error('nope')
  const f = cache.wrap(async function flaky () { calls++; if (calls === 1) throw err; return 'ok' })
  const both = await Promise.allSettled([f(), f()])
  assert.deepEqual(both.map((o) => o.reason), [err, err])
  assert.equal(await f(), 'ok')
  assert.equal(calls, 2)
})
