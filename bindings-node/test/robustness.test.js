'use strict'
// What a careless user, or an unlucky one, runs into: each case once gave a wrong answer,
// an abort, a leak or a hang.
const test = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { Cache, ManualClock, errorCodes } = require('..')

const native = require(path.join(__dirname, '..', 'flightcache.node'))

test('every native function refuses a wrong handle, or none, with a TypeError', () => {
  const cache = new Cache()
  const clock = new ManualClock()
  const ns = cache.namespace('n')
  // Real handles of each kind, to pass where another kind is expected.
  const handles = {
    none: undefined,
    object: {},
    number: 42,
    string: 'h',
    fn: () => 1,
    clock: native.clockNew(),
    cache: native.create({}, undefined, undefined, native.init(() => {}))
  }
  const expects = {
    create: [],
    namespace: ['cache'],
    bind: ['cache'],
    lookup: ['cache'],
    del: ['cache'],
    expire: ['cache'],
    remainingTtl: ['cache'],
    incr: ['cache'],
    keys: ['cache'],
    clear: ['cache'],
    ping: ['cache'],
    len: ['cache'],
    purge: ['cache'],
    storeError: ['cache'],
    stats: ['cache'],
    step: ['op'],
    loaded: ['op'],
    loadedStep: ['op'],
    failed: ['op'],
    close: ['op'],
    parked: ['wake'],
    clockAdvance: ['clock'],
    clockNow: ['clock']
  }
  let checked = 0
  for (const [name, kinds] of Object.entries(expects)) {
    assert.equal(typeof native[name], 'function', name)
    if (kinds.length === 0) continue
    for (const [what, h] of Object.entries(handles)) {
      if (kinds.includes(what)) continue
      for (let i = 0; i < 3; i++) {
        assert.throws(() => native[name](h, 'k', 'v', undefined, [undefined]),
          (e) => e instanceof TypeError && e.code === errorCodes.WRONG_TYPE && /not (a|an) /.test(e.message),
          `${name}(${what})`)
        checked++
      }
    }
  }
  assert.ok(checked > 300)
  // runLoader takes a flight's id, not a handle: anything else is a TypeError.
  for (const h of [handles.object, handles.string, handles.cache]) {
    assert.throws(() => native.runLoader(h, () => 1),
      (e) => e instanceof TypeError && e.code === errorCodes.WRONG_TYPE && /not a flight id/.test(e.message))
  }
  assert.equal(native.runLoader(7, () => 'ran'), 'ran')
  assert.equal(native.runLoader(undefined, () => 'ran'), 'ran')
  // The classes keep their handles private: borrowing a method for another object fails.
  assert.throws(() => Cache.prototype.setSync.call({ _h: handles.clock }, 'k', 'v'), TypeError)
  assert.throws(() => ManualClock.prototype.advance.call({ _c: handles.cache }, 1), TypeError)
  assert.throws(() => ManualClock.prototype.advance.call(cache, 1), TypeError)
  assert.equal(cache.setSync('k', 'v'), true, 'the cache still works')
  assert.equal(ns.getSync('k'), undefined)
  assert.equal(clock.advance(1), 1)
})

test('a second copy of the package in one thread works on its own', async () => {
  const main = require.resolve('..')
  const first = require('..')
  delete require.cache[main]
  const second = require('..')
  assert.notEqual(first.Cache, second.Cache)
  const a = new first.Cache()
  const b = new second.Cache()
  let calls = 0
  assert.equal(await a.get('k', { getValue: () => { calls++; return 'from a' } }), 'from a')
  assert.equal(await b.get('k', { getValue: () => { calls++; return 'from b' } }), 'from b')
  assert.equal(calls, 2)
  require.cache[main] = require.cache[main] || { exports: first }
})

test('a ManualClock cannot wrap around', () => {
  const clock = new ManualClock()
  const cache = new Cache({ clock })
  cache.setSync('k', 'v', { ttl: 1000 })
  clock.advance(Infinity)
  clock.advance(Infinity)
  assert.equal(cache.getSync('k'), undefined, 'an expired entry came back')
  assert.equal(clock.now(), 2 ** 64 - 2)
})

test('getValue must be a function or a thenable', async () => {
  const cache = new Cache()
  for (const bad of [42, 'x', {}, null, true]) {
    await assert.rejects(cache.get('k', { getValue: bad }),
      (e) => e instanceof TypeError && e.code === errorCodes.WRONG_TYPE && e.message.includes('getValue'))
  }
  assert.equal(cache.has('k'), false, 'nothing was stored')
})

test('a sizeOf that returns anything but a whole number >= 0 is an error, and stores nothing', async () => {
  for (const [bad, Kind] of [[undefined, TypeError], ['8', TypeError], [NaN, TypeError], [1.5, TypeError], [-1, RangeError]]) {
    const cache = new Cache({ sizeOf: () => bad, maxBytes: 100 })
    assert.throws(() => cache.setSync('k', { a: 1 }), Kind, String(bad))
    assert.equal(cache.has('k'), false)
    await assert.rejects(cache.get('l', { getValue: () => ({ b: 2 }) }), Kind)
    assert.equal(cache.has('l'), false)
  }
})

test('strings with lone surrogates: keys are refused, values come back unchanged', async () => {
  const cache = new Cache()
  for (const key of ['a\ud800b', '\udfff', 'x'.repeat(200) + '\ud800']) {
    assert.throws(() => cache.setSync(key, 1), (e) => e.code === errorCodes.INVALID_ARGUMENT && e.message.includes('surrogate'))
    assert.throws(() => cache.getSync(key), RangeError)
  }
  assert.equal(cache.size, 0, 'no key was merged with another')
  const odd = 'a\ud800b'
  cache.setSync('v', odd)
  assert.equal(cache.getSync('v'), odd)
  assert.notEqual(cache.getSync('v'), 'a\ufffdb')
  // A store cannot hold it: refused with the reason, nothing changed.
  const shared = new Cache({ store: `memory://node-surrogate-${process.pid}` })
  shared.setSync('v', 'ok')
  assert.throws(() => shared.setSync('v', odd), (e) => e.message.includes('surrogate'))
  assert.equal(shared.getSync('v'), 'ok')
})

test('incr beyond 2^53 answers a BigInt, exactly', async () => {
  const cache = new Cache()
  const max = Number.MAX_SAFE_INTEGER
  assert.equal(await cache.incr('n', max), max)
  assert.equal(await cache.incr('n'), 2n ** 53n)
  assert.equal(await cache.incr('n', 2n ** 62n), 2n ** 62n + 2n ** 53n)
  assert.equal(cache.getSync('n'), 2n ** 62n + 2n ** 53n)
  await assert.rejects(cache.incr('n', 2n ** 62n), (e) => e instanceof RangeError && e.message.includes('overflow'))
  await assert.rejects(cache.incr('n', 2n ** 70n), RangeError)
  assert.equal(await cache.incr('m', 2 ** 60), 2n ** 60n, 'an exact whole number is taken')
  cache.setSync('unsafe', 2 ** 60)
  await assert.rejects(cache.incr('unsafe'), (e) => e.code === errorCodes.WRONG_TYPE, 'not an exact integer')
  assert.equal(await cache.incr('small', -3n), -3)
})

test('a loader result whose then getter throws fails the load at once', async () => {
  const cache = new Cache()
  const evil = {}
  Object.defineProperty(evil, 'then', { get () { throw new Error('then getter exploded') } })
  // Returned at once: the load fails before `get` returns, nothing is left running.
  await assert.rejects(cache.get('k', { getValue: () => evil }), /then getter exploded/)
  assert.equal(await cache.get('k', { getValue: () => 'next' }), 'next', 'the next call loads again')
  // Resolved later, with a caller waiting for it: both are failed.
  const first = cache.get('j', { getValue: () => Promise.resolve().then(() => evil) })
  const second = cache.get('j', { getValue: () => 'fine' })
  await assert.rejects(first, /then getter exploded/)
  await assert.rejects(second, /then getter exploded/)
  assert.equal(await cache.get('j', { getValue: () => 'next' }), 'next', 'the next call loads again')
})

test('wrap refuses arguments the key cannot represent faithfully', async () => {
  const cache = new Cache()
  const size = cache.wrap((m) => m.size, { name: 'size' })
  for (const arg of [new Map([[1, 1]]), new Set([1]), new (class Point { constructor () { this.x = 1 } })()]) {
    await assert.rejects(size(arg), (e) => e instanceof TypeError && e.message.includes('key'))
  }
  // Plain data, Dates (toJSON), Buffers and BigInts are fine; NaN and Infinity are not strings.
  const id = cache.wrap((x) => x, { name: 'id' })
  assert.equal(await id({ a: 1 }), (await id({ a: 1 })))
  assert.equal(await id(NaN), (await id(NaN)))
  await id('NaN')
  await id(Infinity)
  await id('Infinity')
  await id(Buffer.from('x'))
  await id(7n)
  const keys = await cache.keys()
  assert.equal(new Set(keys).size, keys.length)
  assert.ok(keys.includes('id:[NaN]') && keys.includes('id:["NaN"]'), keys.join(' '))
  assert.ok(keys.includes('id:[Infinity]') && keys.includes('id:["Infinity"]'))
})

test('two caches on one store share entries, loads and deletions', async () => {
  const url = `memory://node-share-${process.pid}`
  const a = new Cache({ store: url })
  const b = new Cache({ store: url })
  const value = { token: 't', n: [1, 2.5, null, true], bin: Buffer.from([0, 255]) }
  assert.equal(await a.set('k', value), true)
  assert.deepEqual(await b.get('k'), value)
  let calls = 0
  const load = async () => { calls++; await new Promise((resolve) => setTimeout(resolve, 50)); return 'once' }
  const got = await Promise.all([a, b, a, b].map((c) => c.get('j', { getValue: load })))
  assert.deepEqual(got, ['once', 'once', 'once', 'once'])
  assert.equal(calls, 1)
  assert.equal(await a.del('j'), true)
  assert.equal(await b.get('j'), undefined)
  assert.equal(b.stats().storeErrors, 0)
  // A value outside the shared model is refused by set; a loader's is returned, not kept.
  await assert.rejects(a.set('m', new Map()), (e) => e instanceof TypeError && e.message.includes('Map'))
  assert.ok((await a.get('m2', { getValue: () => new Map() })) instanceof Map)
  assert.equal(await b.get('m2'), undefined)
})

test('a store URL the cache cannot use is an error at construction', () => {
  assert.throws(() => new Cache({ store: 'ftp://x' }), (e) => e instanceof RangeError && e.message.includes('scheme'))
  assert.throws(() => new Cache({ store: 'sqlite://relative.db' }), /absolute/)
  assert.throws(() => new Cache({ store: 42 }), TypeError)
})
