'use strict'
// getSync's copies (index.js `Copies`, core/src/memory/mirror.rs): on the system clock a
// hit is answered in JS from a copy of what the core answered before. Every answer must be
// the core's: each test reads keys twice or more (the second read is a copy's), changes the
// cache behind the copies, and compares with what the core says (`has`, which never reads
// the copies).
const test = require('node:test')
const assert = require('node:assert/strict')
// flightcache reads the Date.now it finds when loaded: this one can be set back.
const realNow = Date.now
let wallOffset = 0
Date.now = () => realNow() + wallOffset
const { Cache } = require('..')
Date.now = realNow

function spin (ms) {
  // Synchronous: no timer and no event-loop turn may help the copies notice.
  const end = performance.now() + ms
  while (performance.now() < end);
}

/** Reads every key twice; returns how many hits stats() counted for it. */
function readTwice (c, keys) {
  const before = c.stats().hits
  for (const k of keys) c.getSync(k)
  for (const k of keys) c.getSync(k)
  return c.stats().hits - before
}

function agreesWithCore (c, keys, value) {
  for (const k of keys) {
    const got = c.getSync(k)
    assert.strictEqual(got, c.has(k) ? value(k) : undefined, k)
  }
}

test('copies are answered, and counted as hits exactly', () => {
  const c = new Cache()
  const keys = Array.from({ length: 100 }, (_, i) => `k${i}`)
  for (const k of keys) c.setSync(k, `v-${k}`)
  const obj = { deep: [1, 2] }
  c.setSync('obj', obj)
  assert.strictEqual(readTwice(c, keys), 200)
  const { hits, misses } = c.stats()
  for (let i = 0; i < 1000; i++) assert.strictEqual(c.getSync('obj'), obj, 'the same object')
  assert.strictEqual(c.getSync('absent'), undefined)
  const after = c.stats()
  assert.strictEqual(after.hits - hits, 1000)
  assert.strictEqual(after.misses - misses, 1)
})

test('a write or delete through any view is seen at once', () => {
  const c = new Cache()
  const a = c.namespace('ns')
  const b = c.namespace('ns')
  a.setSync('k', 'old')
  readTwice(a, ['k'])
  b.setSync('k', 'new')
  assert.strictEqual(a.getSync('k'), 'new')
  readTwice(a, ['k'])
  b.delSync('k')
  assert.strictEqual(a.getSync('k'), undefined)
  c.setSync('n', 1)
  readTwice(c, ['n'])
  b.setSync('n', 2) // another namespace's key of the same name
  assert.strictEqual(c.getSync('n'), 1)
})

test('a load, an incr, an expire and a clear are seen at once', async () => {
  const c = new Cache()
  const other = c.namespace('x')
  const view = c.namespace('x')
  view.setSync('n', 1)
  readTwice(view, ['n'])
  await other.incr('n', 5)
  assert.strictEqual(view.getSync('n'), 6)
  readTwice(view, ['n'])
  // A load that replaces a value older than maxAge.
  spin(3)
  assert.strictEqual(await other.get('n', { getValue: () => 42, maxAge: 1 }), 42)
  assert.strictEqual(view.getSync('n'), 42)
  readTwice(view, ['n'])
  await other.expire('n', 0)
  assert.strictEqual(view.getSync('n'), undefined)
  view.setSync('m', 'v')
  readTwice(view, ['m'])
  await other.clear()
  assert.strictEqual(view.getSync('m'), undefined)
})

test('evicted entries are not answered, and their values are let go', () => {
  const c = new Cache({ maxEntries: 1000 })
  const keys = Array.from({ length: 500 }, (_, i) => `k${i}`)
  for (const k of keys) c.setSync(k, `v-${k}`)
  assert.ok(readTwice(c, keys) === 1000)
  // Keys read more often than those push them out.
  for (let i = 0; i < 3000; i++) {
    c.setSync(`other${i}`, 'x')
    for (let r = 0; r < 3; r++) c.getSync(`other${i}`)
  }
  const evicted = keys.filter((k) => !c.has(k)).length
  assert.ok(evicted > 100, `${evicted} of the copied keys evicted`)
  agreesWithCore(c, keys, (k) => `v-${k}`)
  agreesWithCore(c, keys, (k) => `v-${k}`)
})

test('an entry is not answered after its deadline, with no event-loop turn between', () => {
  const c = new Cache()
  for (let round = 0; round < 5; round++) {
    c.setSync('short', 's', { ttl: 20 })
    c.setSync('long', 'l', { ttl: 60000 })
    const t0 = performance.now()
    // Answered from the copy until the core says it expired, and never after.
    let last
    for (;;) {
      // The time before the read: a pause after it (this machine is shared) is not a late
      // answer.
      const now = performance.now()
      const got = c.getSync('short')
      if (got === undefined) break
      last = now
      assert.ok(now - t0 < 20 + 1, `served ${(now - t0).toFixed(2)} ms after a 20 ms ttl`)
    }
    assert.ok(last !== undefined)
    spin(2)
    assert.strictEqual(c.getSync('short'), undefined)
    assert.strictEqual(c.getSync('long'), 'l')
  }
})

// The core's BURST_* rules (core/src/memory/mirror.rs): after BURST_READS readings of the
// clock in one millisecond, a synchronous stretch answers up to BURST_HITS hits with its latest
// reading, only for copies with more than BURST_TRUST_MS left, and forgets it when it yields.
const { burstHits: BURST_HITS, burstTrustMs: BURST_TRUST_MS } = require('../native.js').load().mirrorLayout

test('a burst of reads sees a deadline beyond the trusted margin, to the millisecond', () => {
  const c = new Cache()
  c.setSync('k', 'v', { ttl: BURST_TRUST_MS + 200 })
  c.setSync('long', 'l', { ttl: 60000 })
  const t0 = performance.now()
  let served = 0
  for (;;) {
    const now = performance.now()
    const got = c.getSync('k')
    if (got === undefined) break
    served++
    assert.strictEqual(c.getSync('long'), 'l')
    assert.ok(now - t0 < BURST_TRUST_MS + 200 + 1, `served ${(now - t0).toFixed(2)} ms after a ${BURST_TRUST_MS + 200} ms ttl`)
  }
  assert.ok(served > 1000, `${served} reads`)
})

test('a reading kept in a burst: near deadlines, after many hits and after a yield, the clock is read again', async () => {
  const c = new Cache()
  const burst = (k) => { for (let i = 0; i < 1000; i++) assert.notStrictEqual(c.getSync(k), undefined) }
  // Less than BURST_TRUST_MS left: every hit reads the clock.
  c.setSync('near', 'v', { ttl: 300 })
  burst('near')
  spin(400)
  assert.strictEqual(c.getSync('near'), undefined)
  // Far from the deadline, a stretch that blocks past it: at most BURST_HITS answers.
  c.setSync('far', 'v', { ttl: BURST_TRUST_MS + 300 })
  burst('far')
  spin(BURST_TRUST_MS + 400)
  let served = 0
  for (let i = 0; i < 3 * BURST_HITS; i++) if (c.getSync('far') !== undefined) served++
  assert.ok(served <= BURST_HITS, `${served} answers after the deadline`)
  assert.strictEqual(c.getSync('far'), undefined)
  // The same, but the code yields before reading again: the reading is forgotten.
  c.setSync('yield', 'v', { ttl: BURST_TRUST_MS + 300 })
  burst('yield')
  spin(BURST_TRUST_MS + 400)
  await null
  assert.strictEqual(c.getSync('yield'), undefined)
})

test('a wall clock set back drops every copy', (t) => {
  const c = new Cache()
  t.after(() => { wallOffset = 0 })
  c.setSync('k', 'v', { ttl: 30 })
  readTwice(c, ['k'])
  // The wall clock goes back 10 s; real time goes on past the TTL.
  wallOffset = -10_000
  spin(40)
  assert.strictEqual(c.getSync('k'), undefined)
  assert.strictEqual(c.has('k'), false)
})

test('a cache fuller than three quarters of its bound: answers and counters stay exact', () => {
  const c = new Cache({ maxEntries: 100 })
  for (let i = 0; i < 90; i++) c.setSync(`k${i}`, i)
  // Nothing is copied (the core's rules.rs shows it): every hit reaches the eviction
  // policy. Answers and counters are the same.
  assert.strictEqual(readTwice(c, ['k1', 'k2']), 4)
  for (let i = 0; i < 200; i++) c.setSync(`n${i}`, i)
  agreesWithCore(c, ['k1', 'k2'], (k) => Number(k.slice(1)))
})

test('fake timers installed after loading do not keep a copy past its deadline', (t) => {
  const c = new Cache()
  const fake = Date.now()
  Date.now = () => fake // frozen, as a test's fake timers may leave it
  t.after(() => { Date.now = realNow })
  c.setSync('k', 'v', { ttl: 30 })
  readTwice(c, ['k'])
  spin(40)
  assert.strictEqual(c.getSync('k'), undefined)
})

test('a bad key is still a TypeError, and changes nothing', () => {
  const c = new Cache()
  c.setSync('k', 'v')
  readTwice(c, ['k'])
  assert.throws(() => c.getSync(1), TypeError)
  assert.strictEqual(c.getSync('k'), 'v')
})
