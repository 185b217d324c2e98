'use strict'
// Every SPEC rule Node can show, on a ManualClock (no sleeping to test expiry).
const test = require('node:test')
const assert = require('node:assert/strict')
const { Cache, ManualClock, errorCodes } = require('..')
const { cacheWith } = require('./helpers')

const DAY = 24 * 3600 * 1000

// ------------------------------------------------------------------ keys

test('a key is a string; anything else is a TypeError naming the type', async () => {
  const { cache } = cacheWith()
  cache.setSync('k', 'v')
  const bad = [[1, 'number'], [null, 'null'], [undefined, 'undefined'], [{}, 'object'],
    [[], 'array'], [Symbol('s'), 'symbol'], [10n, 'bigint'], [true, 'boolean']]
  for (const [key, type] of bad) {
    for (const call of [
      () => cache.getSync(key), () => cache.setSync(key, 'x'), () => cache.delSync(key),
      () => cache.has(key)
    ]) {
      assert.throws(call, (e) => e instanceof TypeError && e.code === errorCodes.WRONG_TYPE &&
        e.message.includes(`got ${type}`), `key ${type}`)
    }
    for (const call of [() => cache.get(key), () => cache.get(key, { getValue: () => 1 }),
      () => cache.set(key, 1), () => cache.del(key), () => cache.expire(key, 1),
      () => cache.remainingTtl(key), () => cache.incr(key)]) {
      await assert.rejects(call(), (e) => e instanceof TypeError && e.message.includes(`got ${type}`))
    }
  }
  assert.deepEqual((await cache.keys()), ['k'], 'bad keys changed nothing')
  assert.equal(cache.getSync('k'), 'v')
})

test('the empty string is a key; long and non-ASCII keys work', async () => {
  const { cache } = cacheWith()
  cache.setSync('', 'empty')
  assert.equal(cache.getSync(''), 'empty')
  const long = 'k'.repeat(10_000) + 'é'
  cache.setSync(long, 1)
  assert.equal(cache.getSync(long), 1)
  assert.equal(cache.getSync(long.slice(0, -1)), undefined)
  cache.setSync('ключ🔑', 'значение✓')
  assert.equal(cache.getSync('ключ🔑'), 'значение✓')
  assert.ok((await cache.keys()).includes('ключ🔑'))
  assert.ok((await cache.keys()).includes(long))
})

// ------------------------------------------------------------------ values

test('values keep their type; objects are the same object', async () => {
  const { cache } = cacheWith()
  const obj = { a: [1, 2] }
  const fn = () => 1
  const sym = Symbol('s')
  const buf = Buffer.from('abc')
  const values = { s: 'str', n: 1.5, z: -0, i: 42, t: true, f: false, nul: null, obj, fn, sym, big: 12n, buf, nan: NaN }
  for (const [k, v] of Object.entries(values)) assert.equal(cache.setSync(k, v), true, k)
  for (const [k, v] of Object.entries(values)) assert.ok(Object.is(cache.getSync(k), v), k)
  assert.equal(cache.getSync('obj'), obj)
  assert.equal(cache.getSync('buf'), buf)
})

test('a stored object stays alive through its hits and is released when it leaves the cache', async () => {
  // A hit converts the stored reference where it lies, without counting a copy in and
  // out: 1,000 hits must neither release an object the cache holds nor keep one it let go.
  require('node:v8').setFlagsFromString('--expose-gc')
  const gc = require('node:vm').runInNewContext('gc')
  const settle = async () => {
    for (let i = 0; i < 3; i++) {
      await new Promise((resolve) => setImmediate(resolve))
      gc()
    }
  }
  const clock = new ManualClock()
  const cache = new Cache({ clock })
  const refs = [];
  (() => {
    for (let i = 0; i < 4; i++) {
      const o = { i, s: 'x'.repeat(50) }
      refs.push(new WeakRef(o))
      cache.setSync('k' + i, o, { ttl: i === 3 ? 10 : DAY })
    }
  })()
  for (let n = 0; n < 1000; n++) {
    for (let i = 0; i < 4; i++) assert.equal(cache.getSync('k' + i).i, i)
  }
  await settle()
  for (let i = 0; i < 4; i++) assert.notEqual(refs[i].deref(), undefined, `k${i} released while stored`)
  cache.delSync('k0') // deleted
  cache.setSync('k1', 1) // replaced
  cache.namespace('n').setSync('k', 1)
  cache.namespace('n').clear()
  assert.equal(cache.getSync('k2').i, 2)
  clock.advance(20)
  assert.equal(cache.purgeExpired(), 1) // k3 expired
  await settle()
  assert.notEqual(refs[2].deref(), undefined, 'k2 released while stored')
  cache.clear()
  await settle()
  for (let i = 0; i < 4; i++) assert.equal(refs[i].deref(), undefined, `k${i} kept after it left the cache`)
})

test('set(key, undefined) is del(key); undefined is never stored', async () => {
  const { cache } = cacheWith()
  cache.setSync('k', 1)
  assert.equal(cache.setSync('k', undefined), false)
  assert.equal(cache.has('k'), false)
  assert.equal(await cache.set('k', undefined), false)
  assert.equal(cache.size, 0)
})

// ------------------------------------------------------------------ TTL

test('the default TTL is 7 days; a call ttl overrides it; Infinity never expires', async () => {
  const { cache, clock } = cacheWith()
  cache.setSync('d', 1)
  assert.equal((await cache.remainingTtl('d')), 7 * DAY)
  cache.setSync('c', 1, { ttl: 60_000 })
  assert.equal((await cache.remainingTtl('c')), 60_000)
  cache.setSync('inf', 1, { ttl: Infinity })
  assert.equal((await cache.remainingTtl('inf')), Infinity)
  clock.advance(7 * DAY)
  assert.equal(cache.getSync('d'), undefined)
  assert.equal(cache.getSync('inf'), 1)
  assert.equal((await cache.remainingTtl('missing')), undefined)
  const short = cacheWith({ ttl: 1000 })
  short.cache.setSync('k', 1)
  assert.equal((await short.cache.remainingTtl('k')), 1000)
})

test('an entry written at t with TTL d is present at t+d-1 and absent at t+d', async () => {
  const { cache, clock } = cacheWith()
  clock.advance(12_345)
  cache.setSync('k', 'v', { ttl: 100 })
  await cache.set('p', 'v', { ttl: 100 })
  clock.advance(99)
  assert.equal(cache.getSync('k'), 'v')
  assert.equal(await cache.get('p'), 'v')
  assert.equal(cache.has('k'), true)
  assert.equal((await cache.remainingTtl('k')), 1)
  clock.advance(1)
  assert.equal(cache.getSync('k'), undefined)
  assert.equal(await cache.get('p'), undefined)
  assert.equal(cache.has('p'), false)
  assert.equal((await cache.remainingTtl('p')), undefined)
  assert.deepEqual((await cache.keys()), [])
})

test('expired entries stop costing memory without anyone reading them', async () => {
  const { cache, clock } = cacheWith()
  for (let i = 0; i < 100; i++) cache.setSync(`k${i}`, 'x'.repeat(100), { ttl: 10 })
  assert.equal(cache.stats().entries, 100)
  clock.advance(10)
  // No get: the sweep (also run by an unref'd timer every second) reclaims them.
  assert.equal(cache.purgeExpired(), 100)
  const s = cache.stats()
  assert.equal(s.entries, 0)
  assert.equal(s.bytes, 0)
  assert.equal(s.expirations, 100)
})

test('ttl 0 means do not keep: set returns false, a load is returned and not stored', async () => {
  const { cache } = cacheWith()
  cache.setSync('k', 'old')
  assert.equal(cache.setSync('k', 'new', { ttl: 0 }), false)
  assert.equal(cache.has('k'), false, 'the newest write wins: the old value is gone')
  let calls = 0
  const getValue = () => { calls++; return 'loaded' }
  assert.equal(await cache.get('z', { ttl: 0, getValue }), 'loaded')
  assert.equal(await cache.get('z', { ttl: 0, getValue }), 'loaded')
  assert.equal(calls, 2)
  assert.equal(cache.has('z'), false)
})

test('a negative or NaN ttl is a RangeError, a non-numeric one a TypeError; either changes nothing', async () => {
  const { cache } = cacheWith()
  cache.setSync('k', 'v', { ttl: 1000 })
  for (const ttl of [-1, NaN, -Infinity]) {
    assert.throws(() => cache.setSync('k', 'x', { ttl }), (e) => e instanceof RangeError && e.code === errorCodes.INVALID_ARGUMENT)
    assert.throws(() => cache.setSync('k', undefined, { ttl }), RangeError)
    await assert.rejects(cache.expire('k', ttl), RangeError)
    await assert.rejects(cache.set('k', 'x', { ttl }), RangeError)
    await assert.rejects(cache.get('new', { ttl, getValue: () => 1 }), RangeError)
  }
  for (const ttl of ['10', null, {}, true, 10n]) {
    assert.throws(() => cache.setSync('k', 'x', { ttl }), (e) => e instanceof TypeError && e.code === errorCodes.WRONG_TYPE)
    await assert.rejects(cache.expire('k', ttl), TypeError)
    await assert.rejects(cache.get('new', { ttl, getValue: () => 1 }), TypeError)
  }
  assert.equal(cache.getSync('k'), 'v')
  assert.equal((await cache.remainingTtl('k')), 1000)
  assert.equal(cache.has('new'), false)
  assert.equal(cache.stats().loads, 0)
  assert.throws(() => new Cache({ ttl: -5 }), RangeError)
  assert.throws(() => new Cache({ ttl: 'x' }), TypeError)
})

test('maxTtl caps every TTL', async () => {
  const { cache } = cacheWith({ maxTtl: 1000 })
  cache.setSync('a', 1)
  cache.setSync('b', 1, { ttl: 5000 })
  cache.setSync('c', 1, { ttl: 10 })
  await cache.get('d', { ttl: Infinity, getValue: () => 1 })
  assert.equal((await cache.remainingTtl('a')), 1000)
  assert.equal((await cache.remainingTtl('b')), 1000)
  assert.equal((await cache.remainingTtl('c')), 10)
  assert.equal((await cache.remainingTtl('d')), 1000)
})

test('ttl may be a function of the value', async () => {
  const { cache, clock } = cacheWith()
  const token = { token: 't', expiresIn: 500 }
  cache.setSync('s', token, { ttl: (v) => v.expiresIn })
  assert.equal((await cache.remainingTtl('s')), 500)
  const got = await cache.get('g', { ttl: (v) => v.expiresIn * 2, getValue: async () => token })
  assert.equal(got, token)
  assert.equal((await cache.remainingTtl('g')), 1000)
  clock.advance(1000)
  assert.equal(cache.has('g'), false)
  // A ttl function that throws fails the load; nothing is stored.
  const boom = new Error('bad ttl')
  await assert.rejects(cache.get('h', { ttl: () => { throw boom }, getValue: () => 1 }), (e) => e === boom)
  assert.equal(cache.has('h'), false)
})

// ------------------------------------------------------------------ get / loading

test('get without a loader returns the value or undefined', async () => {
  const { cache, clock } = cacheWith()
  assert.equal(await cache.get('k'), undefined)
  await cache.set('k', 'v', { ttl: 10 })
  assert.equal(await cache.get('k'), 'v')
  assert.equal(await cache.get('k', {}), 'v')
  clock.advance(10)
  assert.equal(await cache.get('k'), undefined)
})

test('getValue may be a function returning a value, a Promise or a thenable, or a Promise itself', async () => {
  const { cache } = cacheWith()
  assert.equal(await cache.get('a', { getValue: () => 'sync' }), 'sync')
  assert.equal(await cache.get('b', { getValue: async () => 'async' }), 'async')
  assert.equal(await cache.get('c', { getValue: Promise.resolve('promise') }), 'promise')
  const thenable = { then (resolve) { resolve('thenable') } }
  assert.equal(await cache.get('d', { getValue: () => thenable }), 'thenable')
  assert.equal(await cache.get('e', { getValue: thenable }), 'thenable')
  assert.equal(await cache.get('f', (key) => `fn:${key}`), 'fn:f')
  for (const k of 'abcdef') assert.ok(cache.has(k), k)
  // A hit does not call the loader again.
  let calls = 0
  assert.equal(await cache.get('a', { getValue: () => { calls++; return 'again' } }), 'sync')
  assert.equal(calls, 0)
})

test('null is stored; undefined is returned and not stored', async () => {
  const { cache } = cacheWith()
  let calls = 0
  assert.equal(await cache.get('n', { getValue: () => { calls++; return null } }), null)
  assert.equal(await cache.get('n', { getValue: () => { calls++; return null } }), null)
  assert.equal(calls, 1)
  assert.equal(cache.has('n'), true)
  assert.equal(await cache.get('u', { getValue: () => { calls++ } }), undefined)
  assert.equal(await cache.get('u', { getValue: async () => { calls++ } }), undefined)
  assert.equal(calls, 3)
  assert.equal(cache.has('u'), false)
})

test('a synchronous throw in getValue rejects every caller and stores nothing', async () => {
  const { cache } = cacheWith()
  const err = new Error('sync throw')
  await assert.rejects(cache.get('k', { getValue: () => { throw err } }), (e) => e === err)
  assert.equal(cache.has('k'), false)
  assert.equal(await cache.get('k', { getValue: () => 'ok' }), 'ok')
  // Any thrown value passes through unchanged, primitives too.
  await assert.rejects(cache.get('p', { getValue: () => Promise.reject('plain string') }), (e) => e === 'plain string')
  await assert.rejects(cache.get('q', { getValue: () => Promise.reject(undefined) }), (e) => e === undefined)
})

test('maxAge: an older entry counts as absent; maxAge 0 forces a refresh', async () => {
  const { cache, clock } = cacheWith()
  let n = 0
  const getValue = () => ++n
  assert.equal(await cache.get('k', { getValue }), 1)
  clock.advance(100)
  assert.equal(await cache.get('k', { getValue, maxAge: 101 }), 1)
  assert.equal(await cache.get('k', { getValue, maxAge: 100 }), 2)
  assert.equal(await cache.get('k', { maxAge: 50 }), 2, 'just written')
  clock.advance(50)
  assert.equal(await cache.get('k', { maxAge: 50 }), undefined, 'maxAge without a loader')
  assert.equal(await cache.get('k', { getValue, maxAge: 0 }), 3)
  assert.equal(cache.getSync('k'), 3)
  await assert.rejects(cache.get('k', { getValue, maxAge: -1 }), RangeError)
  await assert.rejects(cache.get('k', { getValue, maxAge: 'x' }), TypeError)
})

// ------------------------------------------------------------------ bounds

test('maxEntries: no call returns with the cache over the bound', async () => {
  const { cache } = cacheWith({ maxEntries: 100 })
  for (let i = 0; i < 10_000; i++) {
    cache.setSync(`k${i}`, i)
    if (i % 97 === 0) assert.ok(cache.size <= 100)
  }
  for (let i = 0; i < 1000; i++) await cache.get(`l${i}`, { getValue: () => i })
  assert.ok(cache.size <= 100, `size ${cache.size}`)
  const s = cache.stats()
  assert.ok(s.entries <= 100)
  assert.ok(s.evictions >= 10_900, `evictions ${s.evictions}`)
  assert.equal(new Cache().stats().entries, 0)
})

test('sizes: exact UTF-8 bytes for strings and keys, byte length for binary, 8 for scalars, sizeOf otherwise', async () => {
  const { cache } = cacheWith({ sizeOf: (v) => v.weight ?? 1 })
  const bytes = () => cache.stats().bytes
  cache.setSync('k', 'abc')
  assert.equal(bytes(), 1 + 3)
  cache.setSync('k', 'é€😀') // 2 + 3 + 4 bytes
  assert.equal(bytes(), 1 + 9)
  await cache.clear()
  cache.setSync('ключ', 1) // 8-byte key
  assert.equal(bytes(), 8 + 8)
  await cache.clear()
  cache.setSync('b', Buffer.alloc(100))
  assert.equal(bytes(), 1 + 100)
  cache.setSync('b', new Float64Array(10))
  assert.equal(bytes(), 1 + 80)
  cache.setSync('b', new ArrayBuffer(33))
  assert.equal(bytes(), 1 + 33)
  cache.setSync('b', new DataView(new ArrayBuffer(20), 4, 6))
  assert.equal(bytes(), 1 + 6)
  cache.setSync('b', { weight: 1234 })
  assert.equal(bytes(), 1 + 1234)
  cache.setSync('b', null)
  assert.equal(bytes(), 1 + 8)
  cache.setSync('b', true)
  assert.equal(bytes(), 1 + 8)
  assert.throws(() => cache.setSync('b', { weight: 'heavy' }), TypeError)
  assert.throws(() => cache.setSync('b', { weight: -1 }), RangeError)
  assert.equal(cache.getSync('b'), true, 'a failed set changed nothing')
  // Without sizeOf the library estimates, growing with the object.
  const { cache: est } = cacheWith()
  est.setSync('s', { a: 1 })
  const small = est.stats().bytes
  est.setSync('s', { a: 'x'.repeat(10_000), b: [1, 2, 3] })
  assert.ok(est.stats().bytes > small + 10_000)
})

test('maxBytes bounds keys plus values', async () => {
  const { cache } = cacheWith({ maxBytes: 1000 })
  for (let i = 0; i < 1000; i++) {
    cache.setSync(`k${i}`, 'x'.repeat(50))
    assert.ok(cache.stats().bytes <= 1000)
  }
  assert.ok(cache.size <= 1000 / 52)
  assert.ok(cache.size >= 1, 'something stays')
})

test('maxKeyBytes and maxValueBytes: an entry over a limit is not stored and is counted as rejected', async () => {
  const { cache } = cacheWith({ maxKeyBytes: 4, maxValueBytes: 10 })
  assert.equal(cache.setSync('long-key', 'v'), false)
  assert.equal(cache.setSync('k', 'x'.repeat(11)), false)
  assert.equal(cache.setSync('k', 'x'.repeat(10)), true)
  assert.equal(cache.setSync('k', 'y'.repeat(11)), false)
  assert.equal(cache.has('k'), false, 'the newest write wins')
  assert.equal(await cache.set('k2', 'x'.repeat(11)), false)
  // A loaded value over the limit is still returned.
  const big = 'z'.repeat(100)
  assert.equal(await cache.get('k', { getValue: () => big }), big)
  assert.equal(cache.has('k'), false)
  assert.equal(cache.stats().rejected, 5)
  assert.equal(cache.stats().entries, 0)
})

test('invalid bounds are errors', async () => {
  assert.throws(() => new Cache({ maxEntries: 0 }), RangeError)
  assert.throws(() => new Cache({ maxEntries: -1 }), RangeError)
  assert.throws(() => new Cache({ maxEntries: 1.5 }), (e) => e instanceof TypeError && e.code === errorCodes.WRONG_TYPE)
  assert.throws(() => new Cache({ maxEntries: '10' }), TypeError)
  assert.throws(() => new Cache({ maxBytes: 0 }), RangeError)
  assert.throws(() => new Cache({ max: 10 }), (e) => e instanceof TypeError && e.message.includes('"max"'))
  assert.throws(() => new Cache({ clock: {} }), TypeError)
  assert.throws(() => new Cache({ sizeOf: 1 }), TypeError)
  assert.throws(() => new Cache(5), TypeError)
})

// ------------------------------------------------------------------ more operations

test('expire, remainingTtl', async () => {
  const { cache, clock } = cacheWith()
  cache.setSync('k', 'v', { ttl: 100 })
  assert.equal((await cache.expire('k', 1000)), true)
  assert.equal((await cache.remainingTtl('k')), 1000)
  clock.advance(999)
  assert.equal(cache.getSync('k'), 'v')
  clock.advance(1)
  assert.equal(cache.getSync('k'), undefined)
  assert.equal((await cache.expire('k', 10)), false, 'not live')
  cache.setSync('z', 1)
  assert.equal((await cache.expire('z', 0)), true)
  assert.equal(cache.has('z'), false)
  await assert.rejects(cache.expire('z'), TypeError)
})

test('incr: atomic, a missing key starts at 0, a non-integer value is a TypeError', async () => {
  const { cache, clock } = cacheWith()
  assert.equal((await cache.incr('n')), 1)
  assert.equal((await cache.incr('n', 5)), 6)
  assert.equal((await cache.incr('n', -10)), -4)
  assert.equal(cache.getSync('n'), -4)
  cache.setSync('t', 10, { ttl: 100 })
  clock.advance(50)
  assert.equal((await cache.incr('t')), 11)
  assert.equal((await cache.remainingTtl('t')), 50, 'an existing key keeps its TTL')
  for (const v of ['5', 1.5, { n: 1 }, null]) {
    cache.setSync('x', v)
    await assert.rejects(cache.incr('x'), (e) => e instanceof TypeError && e.code === errorCodes.WRONG_TYPE)
    assert.equal(cache.getSync('x'), v, 'unchanged')
  }
  await assert.rejects(cache.incr('n', 1.5), (e) => e instanceof TypeError && e.code === errorCodes.WRONG_TYPE)
  await assert.rejects(cache.incr('n', '1'), TypeError)
  assert.equal(cache.getSync('n'), -4)
})

test('has, keys, clear, ping, size', async () => {
  const { cache, clock } = cacheWith()
  cache.setSync('a', 1)
  cache.setSync('b', 2, { ttl: 5 })
  assert.equal(cache.has('a'), true)
  assert.equal(cache.has('c'), false)
  assert.deepEqual((await cache.keys()).sort(), ['a', 'b'])
  assert.equal(cache.size, 2)
  clock.advance(5)
  assert.deepEqual((await cache.keys()), ['a'])
  assert.equal(cache.size, 1)
  assert.equal((await cache.ping()), true)
  await cache.clear()
  assert.equal(cache.size, 0)
  assert.deepEqual((await cache.keys()), [])
})

test('namespaces: prefixed keys, own keys(), own clear(), never see each other', async () => {
  const cache = new Cache()
  const a = cache.namespace('a')
  const b = cache.namespace('b')
  a.setSync('k', 'from a')
  await b.set('k', 'from b')
  cache.setSync('k', 'root')
  assert.equal(a.getSync('k'), 'from a')
  assert.equal(await b.get('k'), 'from b')
  assert.deepEqual(await a.keys(), ['k'])
  assert.deepEqual((await cache.keys()).sort(), ['a:k', 'b:k', 'k'])
  assert.equal(cache.getSync('a:k'), 'from a')
  const ab = a.namespace('x')
  ab.setSync('deep', 1)
  assert.deepEqual((await a.keys()).sort(), ['k', 'x:deep'])
  await a.clear()
  assert.equal(a.size, 0)
  assert.equal(ab.has('deep'), false)
  assert.equal(b.getSync('k'), 'from b')
  assert.equal(cache.getSync('k'), 'root')
  assert.equal(await a.get('n', { getValue: () => 'loaded' }), 'loaded')
  assert.equal(await a.incr('c'), 1)
  assert.equal(cache.getSync('a:c'), 1)
  assert.equal(await a.ping(), true)
  assert.throws(() => cache.namespace(''), RangeError)
  assert.throws(() => cache.namespace('a:b'), RangeError)
  assert.throws(() => cache.namespace(1), TypeError)
})

test('stats count hits, misses, loads, errors, evictions, expirations, rejected, entries, bytes', async () => {
  const { cache, clock } = cacheWith({ maxEntries: 64, maxValueBytes: 100 })
  await cache.get('a', { getValue: () => 'aa' }) // miss + load
  cache.getSync('a') // hit
  await cache.get('a') // hit
  await cache.get('a', { getValue: () => 'no' }) // hit
  cache.getSync('nope') // miss
  await cache.get('err', { getValue: () => Promise.reject(new Error('x')) }).catch(() => {}) // miss + load + error
  cache.has('a') // neither
  cache.setSync('big', 'x'.repeat(101)) // rejected
  cache.setSync('t', 1, { ttl: 1 })
  clock.advance(1)
  cache.getSync('t') // miss + expiration
  for (let i = 0; i < 200; i++) cache.setSync(`e${i}`, i)
  const s = cache.stats()
  assert.equal(s.hits, 3)
  assert.equal(s.misses, 4)
  assert.equal(s.loads, 2)
  assert.equal(s.loadErrors, 1)
  assert.equal(s.rejected, 1)
  assert.equal(s.expirations, 1)
  assert.ok(s.evictions >= 201 - 64, `evictions ${s.evictions}`)
  assert.equal(s.entries, cache.size)
  assert.ok(s.entries <= 64)
  assert.ok(s.bytes > 0)
})

test('ManualClock moves only when told', async () => {
  const clock = new ManualClock()
  assert.equal(clock.now(), 0)
  assert.equal(clock.advance(10), 10)
  assert.equal(clock.now(), 10)
  assert.throws(() => clock.advance(-1), RangeError)
  assert.throws(() => clock.advance('1'), TypeError)
  assert.equal(clock.now(), 10)
})

test('bad input never corrupts the cache', async () => {
  const { cache } = cacheWith({ maxEntries: 100 })
  for (let i = 0; i < 50; i++) cache.setSync(`k${i}`, `v${i}`)
  const snapshot = async () => Promise.all((await cache.keys()).sort()
    .map(async (k) => [k, cache.getSync(k), await cache.remainingTtl(k)]))
  const before = await snapshot()
  cache.setSync('k3', 'not a number')
  const attempts = [
    () => cache.setSync(1, 'x'), () => cache.setSync('k1', 'x', { ttl: -1 }),
    () => cache.setSync('k1', 'x', { ttl: 'soon' }),
    () => cache.namespace(''), () => cache.setSync('k4', { a: 1 }, { ttl: {} })
  ]
  for (const a of attempts) assert.throws(a)
  await assert.rejects(cache.expire('k2', NaN))
  await assert.rejects(cache.incr('k3'))
  cache.setSync('k3', 'v3')
  await assert.rejects(cache.get('k5', { maxAge: -1, getValue: () => 1 }))
  await assert.rejects(cache.get(undefined, { getValue: () => 1 }))
  assert.deepEqual(await snapshot(), before)
})
