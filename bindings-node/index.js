'use strict'
// flightcache for Node: the Cache class over the native core (flightcache.node).
//
// Every cache rule (TTL, bounds, single-flight, the shared store's protocol, expiry, memo
// keys) lives in the Rust core. This file runs loaders, awaits what the core says to await
// (see `drive`), and keeps the native handles in private fields.

const { AsyncLocalStorage } = require('node:async_hooks')
// The native core: built from source, or the prebuilt package for this platform (native.js).
const native = require('./native.js').load()

/** Stable `code`s of the errors flightcache makes itself (written once, in the core). */
const errorCodes = Object.freeze({ ...native.errorCodes })

// ------------------------------------------------------------------ driving operations

// What the core tells a driver (`native.step`).
const DONE = 0
const FAILED = 1
const RUN_LOADER = 2
const SPAWN = 4
// From here up: run the loader of flight `kind - RUN_LOADER_OF`.
const RUN_LOADER_OF = 8

// Parked operations, by id: the core wakes one by calling this handler on the JS thread.
const resumers = new Map()
const wake = native.init((id) => {
  const resume = resumers.get(id)
  if (resume !== undefined) resume()
})

// The flights the current async context is loading, so that an async loader asking for
// its own key is told so instead of waiting for itself. Enabled while loaders run, and
// disabled when the event loop comes round with none running: an enabled
// AsyncLocalStorage slows every Promise of the process down, and enabling and disabling it
// cost Node 20 about 11,000 instructions (its promise hooks and their handles), as much as
// the rest of a load, so a burst of loads enables it once.
const loading = new AsyncLocalStorage()
let loadersRunning = 0
let disableQueued = false
function disableIfIdle () {
  disableQueued = false
  if (loadersRunning === 0) loading.disable()
}
function loaderDone () {
  if (--loadersRunning === 0 && !disableQueued) {
    disableQueued = true
    setImmediate(disableIfIdle).unref()
  }
}

function noop () {}

function isThenable (v) {
  return v !== null && (typeof v === 'object' || typeof v === 'function') && typeof v.then === 'function'
}

/** A getValue Promise this call does not use must not become an unhandled rejection. */
function ignore (getValue) {
  if (getValue instanceof Promise) getValue.catch(noop)
}

// A caller's wait keeps the process alive; background work (a refresh, a load nobody waits
// for any more) never does on its own.
function park (id, ms, background) {
  return new Promise((resolve) => {
    let timer
    let done = false
    const resume = () => {
      if (done) return
      done = true
      if (timer !== undefined) clearTimeout(timer)
      resumers.delete(id)
      if (!background) native.parked(wake, -1)
      resolve()
    }
    if (!background) native.parked(wake, 1)
    resumers.set(id, resume)
    if (ms !== undefined) {
      timer = setTimeout(resume, Math.max(0, Math.ceil(ms)))
      if (background) timer.unref()
    }
  })
}

/**
 * Runs the loader of the flight `op` leads and hands its result to the core. A loader that
 * answers at once: its value goes over with the next step, whose kind is returned (its
 * payload in `stepOut`). A Promise: the settling of it, which never rejects, is returned.
 * A loader that threw: undefined (the failure is handed over; the caller steps next).
 */
function runLoader (op, flight, getValue, key) {
  loadersRunning++
  let r
  try {
    if (typeof getValue === 'function') {
      const outer = loading.getStore()
      const within = outer === undefined ? [flight] : outer.concat(flight)
      r = native.runLoader(flight, () => loading.run(within, getValue, key))
    } else {
      r = getValue
    }
    // Inside the try: a `then` getter that throws fails the load instead of leaving it
    // running.
    if (isThenable(r)) return settle(op, r)
  } catch (e) {
    native.failed(op, e)
    loaderDone()
    return undefined
  }
  loaderDone()
  // Outside the try: an error of the next step is the drive's, not the loader's (a value
  // that cannot be converted fails the load on the native side).
  return native.loadedStep(op, r, stepOut)
}

async function settle (op, r) {
  try {
    native.loaded(op, await r)
  } catch (e) {
    native.failed(op, e)
  } finally {
    loaderDone()
  }
}

// What `native.step` hands over besides the step's kind (read before any await).
const stepOut = [undefined, undefined]

/**
 * Runs one operation of the core to its answer (a Promise). It steps synchronously until
 * something must be awaited (a loader's Promise, a wake): a load whose loader answers at
 * once makes no async function and waits for no turn of the microtask queue.
 */
function drive (op, getValue, key, background, used = false) {
  try {
    let kind = native.step(op, stepOut)
    for (;;) {
      if (kind >= RUN_LOADER_OF || kind === RUN_LOADER) {
        used = true
        const flight = kind === RUN_LOADER ? undefined : kind - RUN_LOADER_OF
        const next = runLoader(op, flight, getValue, key)
        if (typeof next === 'number') {
          kind = next
          continue
        }
        if (next !== undefined) return driveAfter(next, op, getValue, key, background, used)
        kind = native.step(op, stepOut)
        continue
      }
      const payload = stepOut[0]
      stepOut[0] = undefined
      if (kind === DONE || kind === FAILED) {
        if (!used) ignore(getValue)
        return kind === DONE ? Promise.resolve(payload) : Promise.reject(payload)
      }
      if (kind === SPAWN) {
        // This call's background work runs the loader: its answer goes nowhere, a failure
        // is counted in the stats.
        used = true
        drive(payload, getValue, key, true).catch(noop)
      } else {
        const woken = park(stepOut[1], payload, background)
        return driveAfter(woken, op, getValue, key, background, used)
      }
      kind = native.step(op, stepOut)
    }
  } catch (e) {
    abandon(op, getValue, used)
    return Promise.reject(e)
  }
}

/** Goes on driving `op` once `waiting` settles. */
async function driveAfter (waiting, op, getValue, key, background, used) {
  try {
    await waiting
  } catch (e) {
    abandon(op, getValue, used)
    throw e
  }
  return drive(op, getValue, key, background, used)
}

/**
 * An operation given up on an error thrown on the way: a load it led is taken over by one
 * of its waiters. (A finished operation is closed already.)
 */
function abandon (op, getValue, used) {
  try {
    native.close(op)
  } finally {
    if (!used) ignore(getValue)
  }
}

// ------------------------------------------------------------------ options

// The resilience options, per cache and per call.
const POLICY = ['staleTtl', 'staleIfError', 'softTimeout', 'hardTimeout', 'refreshAhead',
  'failSafeBackoff']

const OPTIONS = ['maxEntries', 'maxBytes', 'maxKeyBytes', 'maxValueBytes', 'ttl', 'maxTtl',
  'loadTimeout', 'clock', 'sizeOf', 'store', 'storeTimeout', 'lease', 'l1Staleness',
  'storeMaxEntries', 'storeMaxBytes', 'copy', ...POLICY]

function typeName (v) {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'array'
  return typeof v
}

function wrongType (message) {
  const e = new TypeError(message)
  e.code = errorCodes.WRONG_TYPE
  return e
}

// Made only by this file: the constructor's way to make a namespace view.
const VIEW = Symbol('flightcache view')

let anonymousWrappers = 0

const clocks = new WeakMap()

function entryObject ([value, status, source, ageMs, remainingTtl]) {
  return { value, status, source, ageMs, remainingTtl }
}

class ManualClock {
  /** A clock for tests: starts at 0 and moves only by `advance(ms)`. */
  constructor () {
    clocks.set(this, native.clockNew())
  }

  /** Moves the clock forward by `ms` milliseconds; returns the new time. */
  advance (ms) {
    return native.clockAdvance(clockHandle(this), ms)
  }

  /** Milliseconds since the clock was made. */
  now () {
    return native.clockNow(clockHandle(this))
  }
}

function clockHandle (clock) {
  const h = clocks.get(clock)
  if (h === undefined) throw wrongType('not a ManualClock (call the methods of a ManualClock object)')
  return h
}

// ------------------------------------------------------------------ getSync's copies

// The words of the core's mirror block (see core/src/memory/mirror.rs).
const MIRROR = native.mirrorLayout
const EPOCH = MIRROR.epoch
const PENDING = MIRROR.pending
const BURST_TRUST_MS = MIRROR.burstTrustMs
const BURST_HITS = MIRROR.burstHits
const BURST_READS = MIRROR.burstReads
// The wall clock as it was when flightcache was loaded: fake timers installed later (a test's
// `jest.useFakeTimers()`) must not hold a copy past the core's real deadline.
const wallNow = Date.now

/**
 * The values `getSync` has read, answered again without calling the core while the core's
 * mirror block says they are current: a call into native code costs several times
 * lru-cache's whole hit. Every rule of when a copy is current is the core's (it bumps the
 * key's generation or the epoch on every change; it sets the margins and the BURST_* rules
 * of when a reading of the clock may be reused); this only compares. The time is
 * `Date.now()` (as loaded), the cheapest clock JS has: a copy is answered only for as long as
 * the core says, counted from a time read before asking it, and every copy is dropped if
 * the wall clock goes back.
 */
class Copies {
  constructor (words, tally) {
    this.words = words
    this.map = new Map()
    this.epoch = words[EPOCH]
    this.capacity = words[MIRROR.capacity]
    // The latest time read: a wall clock set back drops every copy.
    this.last = 0
    // Hits answered here, shared by a cache and its namespaces (counted by `stats`).
    this.tally = tally
    // A reading of the clock this synchronous stretch may answer hits with (0: none), the
    // hits answered with it, and the readings in a row of one millisecond: the core's
    // BURST_* rules (core/src/memory/mirror.rs). `forget` runs when the stretch yields.
    this.now = 0
    this.uses = 0
    this.prev = 0
    this.same = 0
    this.armed = false
    this.forget = () => {
      this.now = 0
      this.armed = false
    }
  }

  /**
   * The wall clock, read; in a burst of readings, also kept for the hits that follow.
   * `burst`: this reading counts towards one (`getSync`'s; not `get`'s, whose every hit is a
   * stretch of its own: arming there would cost a microtask and save nothing).
   */
  clock (burst) {
    const t = wallNow()
    if (t !== this.prev) {
      this.prev = t
      this.same = 0
    } else if (burst && ++this.same >= BURST_READS && !this.armed) {
      this.same = 0
      this.armed = true
      queueMicrotask(this.forget)
    }
    if (this.armed) {
      this.now = t
      this.uses = 0
    }
    return t
  }

  /** After a call into the core: copies of values it let go of are dropped. */
  sync () {
    if (this.words[EPOCH] !== this.epoch) {
      this.map.clear()
      this.epoch = this.words[EPOCH]
    }
  }
}

class Cache {
  #h
  #copies
  #getSync
  #has
  #set
  #loadNative
  #store
  // Where the native side puts an operation when it cannot answer at once.
  #out = [undefined]

  constructor (options, handle) {
    if (options === VIEW) {
      this.#h = handle.h
      this.#store = handle.store
      if (handle.words !== undefined) this.#copies = new Copies(handle.words, handle.tally)
      this.#bind()
      return
    }
    if (options === undefined) options = {}
    if (options === null || typeof options !== 'object') {
      throw wrongType(`options must be an object, got ${typeName(options)}`)
    }
    for (const k of Object.keys(options)) {
      if (!OPTIONS.includes(k)) {
        throw wrongType(`unknown option ${JSON.stringify(k)} (known: ${OPTIONS.join(', ')})`)
      }
    }
    const { clock, sizeOf } = options
    if (clock !== undefined && !clocks.has(clock)) {
      throw wrongType(`clock must be a ManualClock, got ${typeName(clock)}`)
    }
    if (sizeOf !== undefined && typeof sizeOf !== 'function') {
      throw wrongType(`sizeOf must be a function, got ${typeName(sizeOf)}`)
    }
    this.#h = native.create(options, clock === undefined ? undefined : clocks.get(clock), sizeOf, wake)
    this.#store = options.store !== undefined && options.store !== null &&
      options.store !== '' && options.store !== 'memory'
    const words = native.mirror(this.#h)
    if (words !== undefined) this.#copies = new Copies(words, { hits: 0 })
    this.#bind()
    // Expired entries are reclaimed even when nobody calls: the core says what is due; the
    // timer never keeps the process alive, and stops when the cache is collected.
    const ref = new WeakRef(this)
    const timer = setInterval(() => {
      const c = ref.deref()
      if (c === undefined) clearInterval(timer)
      else c.purgeExpired()
    }, native.sweepPollMs)
    timer.unref()
  }

  // The hot calls as functions bound to this cache (no handle argument to check).
  #bind () {
    const [getSync, has, set, load] = native.bind(this.#h)
    this.#getSync = getSync
    this.#has = has
    this.#set = set
    this.#loadNative = load
  }

  /** The answer the native side gave, or the operation it left in `#out`, driven. */
  #answer (r, getValue, key) {
    if (r !== this.#out) return Promise.resolve(r)
    const op = this.#out[0]
    this.#out[0] = undefined
    return drive(op, getValue, key)
  }

  /** For the synchronous API: the store write a call left in `#out` goes on in the background. */
  #writeBehind () {
    const op = this.#out[0]
    this.#out[0] = undefined
    drive(op, undefined).catch(noop)
  }

  // ---------------------------------------------------------------- synchronous

  /** The live value of `key` in this process, or undefined. Counts one hit or one miss. */
  getSync (key) {
    return this.#hit(key, true)
  }

  /** `getSync`; `burst`: see `Copies.clock`. */
  #hit (key, burst) {
    const c = this.#copies
    if (c === undefined) return this.#getSync(key)
    const e = c.map.get(key)
    if (e !== undefined) {
      let now = c.now
      if (now === 0 || e.until - now <= BURST_TRUST_MS || ++c.uses > BURST_HITS) now = c.clock(burst)
      const w = c.words
      if (now < e.until && now >= c.last && w[e.slot] === e.generation && w[EPOCH] === c.epoch &&
        w[PENDING] === 0) {
        c.last = now
        c.tally.hits++
        return e.value
      }
    }
    return this.#getAndCopy(c, key, burst)
  }

  /** `getSync` from the core, keeping a copy of a hit as the core's answer allows. */
  #getAndCopy (c, key, burst) {
    const w = c.words
    const before = c.clock(burst)
    const epoch = w[EPOCH]
    const v = this.#getSync(key)
    const live = w[MIRROR.fillLiveMs]
    if (v === undefined || live === 0) {
      c.map.delete(key)
      return v
    }
    if (before < c.last || c.map.size >= c.capacity) c.map.clear()
    c.sync()
    // The epoch moved during the call (everything changed elsewhere, or the core let
    // entries go): the value may be older than that, so no copy this time.
    if (c.epoch !== epoch) return v
    c.last = before
    c.map.set(key, {
      value: v,
      until: before + live,
      slot: w[MIRROR.fillSlot],
      generation: w[MIRROR.fillGeneration]
    })
    return v
  }

  /** After a call that changed `key` (and maybe evicted others): their copies go. */
  #changed (key) {
    const c = this.#copies
    if (c !== undefined && c.map.size !== 0) {
      c.map.delete(key)
      c.sync()
    }
  }

  /** Stores `value`; returns false when nothing is stored (ttl 0, over a size limit). */
  setSync (key, value, options) {
    const ttl = options === undefined ? undefined : options.ttl
    const r = this.#set(key, value, ttl, this.#out)
    this.#changed(key)
    if (r !== this.#out) return r
    this.#writeBehind()
    return this.#has(key)
  }

  /** Removes `key`; returns whether it had a live value in this process. */
  delSync (key) {
    const had = this.#has(key)
    if (native.del(this.#h, key, undefined, this.#out) === this.#out) this.#writeBehind()
    this.#changed(key)
    return had
  }

  /** Whether `key` has a live value in this process (counts neither a hit nor a miss). */
  has (key) {
    return this.#has(key)
  }

  // ---------------------------------------------------------------- Promises

  /**
   * The value of `key`. With `getValue` (a function returning a value or a Promise, or a
   * Promise itself), a missing key is loaded once however many callers ask at once (and,
   * with a store, however many processes).
   */
  get (key, options) {
    try {
      if (options === undefined) {
        if (!this.#store) return Promise.resolve(this.#hit(key, false))
        return this.#answer(native.lookup(this.#h, key, undefined, this.#out), undefined)
      }
      return this.#load(key, options)
    } catch (e) {
      return Promise.reject(e)
    }
  }

  /**
   * `get`, answering how the value was served: `{ value, status, source, ageMs,
   * remainingTtl }`, `status` one of hit, stale, miss, loaded, joined, refreshing;
   * `source` one of memory, store, loader.
   */
  getEntry (key, options) {
    try {
      return this.#load(key, options === undefined ? {} : options, true).then(entryObject)
    } catch (e) {
      return Promise.reject(e)
    }
  }

  #load (key, options, entry) {
    let getValue, ttl, maxAge, call
    if (typeof options === 'function') {
      getValue = options
    } else if (options !== null && typeof options === 'object') {
      getValue = options.getValue
      ttl = options.ttl
      maxAge = options.maxAge
      // Read here, where the JIT makes it cheap; the native side reads the options only
      // when one is given.
      if (options.staleTtl !== undefined || options.staleIfError !== undefined ||
        options.softTimeout !== undefined || options.hardTimeout !== undefined ||
        options.refreshAhead !== undefined || options.failSafeBackoff !== undefined) call = options
    } else {
      throw wrongType(`options must be an object, got ${typeName(options)}`)
    }
    if (getValue === undefined && !entry) {
      return this.#answer(native.lookup(this.#h, key, maxAge, this.#out), undefined)
    }
    if (getValue !== undefined && typeof getValue !== 'function' && !isThenable(getValue)) {
      throw wrongType(`getValue must be a function or a Promise, got ${typeName(getValue)}`)
    }
    const mode = entry ? (getValue === undefined ? 2 : 1) : 0
    let r
    try {
      r = this.#loadNative(key, ttl, maxAge, loading.getStore(), this.#out, call, mode)
    } catch (e) {
      ignore(getValue)
      throw e
    }
    // A Promise made before the call may reject while the load waits for a store: handled
    // now, it is still awaited (and its rejection still the callers' error) when it runs.
    ignore(getValue)
    return this.#answer(r, getValue, key)
  }

  /** Stores `value` (Promise of whether it was stored). `undefined` deletes. */
  set (key, value, options) {
    try {
      const ttl = options === undefined ? undefined : options.ttl
      const r = this.#set(key, value, ttl, this.#out)
      this.#changed(key)
      return this.#answer(r)
    } catch (e) {
      return Promise.reject(e)
    }
  }

  /**
   * Stores `value` only if `key` has no live value, atomically (in the store too). Promise
   * of whether it was stored. Counts no hit, miss or load.
   */
  add (key, value, options) {
    try {
      if (options !== undefined && (options === null || typeof options !== 'object')) {
        throw wrongType(`add: options must be an object, got ${typeName(options)}`)
      }
      const ttl = options === undefined ? undefined : options.ttl
      const r = native.add(this.#h, key, value, ttl, this.#out)
      this.#changed(key)
      return this.#answer(r)
    } catch (e) {
      return Promise.reject(e)
    }
  }

  /** Removes `key` (Promise of whether it had a live value). */
  del (key) {
    try {
      const r = native.del(this.#h, key, undefined, this.#out)
      this.#changed(key)
      return this.#answer(r)
    } catch (e) {
      return Promise.reject(e)
    }
  }

  /** Sets a new TTL (ms) on a live key; 0 removes it. Promise of whether it was live. */
  expire (key, ttl) {
    try {
      const r = native.expire(this.#h, key, ttl, this.#out)
      this.#changed(key)
      return this.#answer(r)
    } catch (e) {
      return Promise.reject(e)
    }
  }

  /** Promise of the milliseconds until `key` expires (Infinity if never), or undefined. */
  remainingTtl (key) {
    try {
      return this.#answer(native.remainingTtl(this.#h, key, undefined, this.#out))
    } catch (e) {
      return Promise.reject(e)
    }
  }

  /**
   * Adds `by` (default 1; a whole number or a BigInt) to the integer at `key` atomically;
   * a missing key starts at 0 (with `{ mustExist: true }`, a missing key rejects with
   * code ERR_FLIGHTCACHE_NOT_FOUND and nothing is written). Promise of the new value: a
   * number, or a BigInt beyond ±(2^53 - 1), where numbers stop being exact.
   */
  incr (key, by, options) {
    try {
      let mustExist
      if (options !== undefined) {
        if (options === null || typeof options !== 'object') {
          throw wrongType(`incr: options must be an object, got ${typeName(options)}`)
        }
        mustExist = options.mustExist
        if (mustExist !== undefined && typeof mustExist !== 'boolean') {
          throw wrongType(`incr: mustExist must be a boolean, got ${typeName(mustExist)}`)
        }
      }
      const r = native.incr(this.#h, key, by, mustExist, this.#out)
      this.#changed(key)
      return this.#answer(r)
    } catch (e) {
      return Promise.reject(e)
    }
  }

  /** Promise of the live keys (a namespace lists its own, without its prefix). */
  keys () {
    try {
      return this.#answer(native.keys(this.#h, this.#out))
    } catch (e) {
      return Promise.reject(e)
    }
  }

  /** Removes every key (of this namespace only, for a namespace). */
  clear () {
    try {
      const r = native.clear(this.#h, this.#out)
      if (this.#copies !== undefined) this.#copies.sync()
      return this.#answer(r)
    } catch (e) {
      return Promise.reject(e)
    }
  }

  /** Promise of true when the cache and its store answer. */
  ping () {
    try {
      return this.#answer(native.ping(this.#h, this.#out))
    } catch (e) {
      return Promise.reject(e)
    }
  }

  /** Entries in this process's tier. */
  get size () {
    return native.len(this.#h)
  }

  /** Whether a shared store is behind this cache (its `get` then reads the store). */
  get hasStore () {
    return this.#store
  }

  /** The last error the store gave (undefined: none, or no store). */
  get storeError () {
    return native.storeError(this.#h)
  }

  /** A view whose keys are stored under `name`; it sees only its own keys. */
  namespace (name) {
    const c = this.#copies
    return new Cache(VIEW, {
      h: native.namespace(this.#h, name),
      store: this.#store,
      words: c === undefined ? undefined : c.words,
      tally: c === undefined ? undefined : c.tally
    })
  }

  /** Counters since the cache was made (shared by all its namespaces). */
  stats () {
    const c = this.#copies
    if (c !== undefined && c.tally.hits !== 0) {
      native.countHits(this.#h, c.tally.hits)
      c.tally.hits = 0
    }
    return native.stats(this.#h)
  }

  /** Removes every expired entry of this process's tier now; returns how many. */
  purgeExpired () {
    const n = native.purge(this.#h)
    if (this.#copies !== undefined) this.#copies.sync()
    return n
  }

  /**
   * Memoizes `fn`: calls with the same arguments share one entry and one flight. The key
   * is `name` (else fn.name, else a prefix unique to this wrapper) plus a canonical
   * encoding of the arguments; `key` may be a function of the arguments or a list of
   * dotted paths into the first argument.
   */
  wrap (fn, options) {
    if (typeof fn !== 'function') throw wrongType(`wrap: fn must be a function, got ${typeName(fn)}`)
    if (options === undefined) options = {}
    const { ttl, key } = options
    const policy = {}
    for (const p of POLICY) if (options[p] !== undefined) policy[p] = options[p]
    if (key !== undefined && typeof key !== 'function' && !Array.isArray(key)) {
      throw wrongType(`wrap: key must be a function or an array of paths, got ${typeName(key)}`)
    }
    let name = options.name
    if (name === undefined) name = fn.name || `anonymous#${++anonymousWrappers}`
    if (typeof name !== 'string') throw wrongType(`wrap: name must be a string, got ${typeName(name)}`)
    const cache = this
    const wrapped = function (...args) {
      let k
      try {
        if (key === undefined) k = native.callKey(name, args)
        else if (typeof key === 'function') k = native.callKey(name, [key.apply(this, args)])
        else k = native.pathKey(name, args[0], key)
      } catch (e) {
        return Promise.reject(e)
      }
      return cache.get(k, { ...policy, ttl, getValue: () => fn.apply(this, args) })
    }
    Object.defineProperty(wrapped, 'name', { value: fn.name })
    return wrapped
  }

  /** The access token `name`, fetched by `fetchToken` once per lifetime (token.js). */
  token (name, fetchToken, options) {
    return require('./token').token(this, name, fetchToken, options)
  }

  /** The global `fetch` through this cache, with the HTTP helper's defaults (http.js). */
  fetch (input, init) {
    return require('./http').cacheFetch(this, input, init)
  }

}

module.exports = { Cache, ManualClock, errorCodes }
