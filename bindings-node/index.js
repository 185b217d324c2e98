'use strict'
// flightcache for Node: the Cache class over the native core (flightcache.node).
//
// Each method is one call to a plain native function with the cache's handle. The
// binding converts values and drives loads on the JS thread; every cache rule (TTL,
// bounds, single-flight, expiry, memo keys) lives in the Rust core.

const { AsyncLocalStorage } = require('node:async_hooks')
const path = require('node:path')

const native = loadNative()

function loadNative () {
  const file = path.join(__dirname, 'flightcache.node')
  try {
    return require(file)
  } catch (e) {
    const err = new Error(
      `flightcache: could not load the native module ${file} (${e.message}). ` +
      `It is built from source when the package is installed; to build it again run ` +
      `\`npm run build\` in ${__dirname} (needs cargo).`
    )
    err.code = 'ERR_FLIGHTCACHE_NOT_BUILT'
    err.cause = e
    throw err
  }
}

/** Stable `code`s of the errors flightcache makes itself. */
const errorCodes = Object.freeze({
  WRONG_TYPE: 'ERR_FLIGHTCACHE_WRONG_TYPE',
  INVALID_ARGUMENT: 'ERR_FLIGHTCACHE_INVALID_ARGUMENT',
  TIMEOUT: 'ERR_FLIGHTCACHE_TIMEOUT',
  REENTRANT: 'ERR_FLIGHTCACHE_REENTRANT',
  LOADER_ABORTED: 'ERR_FLIGHTCACHE_LOADER_ABORTED'
})

// What `native.begin` returns on a miss: this caller loads (LEAD) or waits (WAIT).
const LEAD = Object.freeze({ flightcache: 'lead' })
const WAIT = Object.freeze({ flightcache: 'wait' })
native.setSentinels(LEAD, WAIT)

// The flights the current async context is loading, so that an async loader asking for
// its own key is told so instead of waiting for itself. Enabled only while a loader runs:
// an enabled AsyncLocalStorage slows every Promise of the process down.
const loading = new AsyncLocalStorage()
let loadersRunning = 0
function loaderDone () {
  if (--loadersRunning === 0) loading.disable()
}

const PURGE_INTERVAL_MS = 1000
const OPTIONS = ['maxEntries', 'maxBytes', 'maxKeyBytes', 'maxValueBytes', 'ttl', 'maxTtl',
  'loadTimeout', 'clock', 'sizeOf']

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

function isThenable (v) {
  return v !== null && (typeof v === 'object' || typeof v === 'function') && typeof v.then === 'function'
}

function noop () {}

/** A getValue Promise this call does not use must not become an unhandled rejection. */
function ignore (getValue) {
  if (getValue instanceof Promise) getValue.catch(noop)
}

/**
 * The library's size estimate for a value that is not a string, a number, a boolean,
 * null or binary data: a walk of at most 256 objects, extrapolated from the first 64
 * items of longer arrays and objects.
 */
function estimateSize (value) {
  let budget = 256
  const seen = new Set()
  function walk (v) {
    switch (typeof v) {
      case 'string': return v.length
      case 'number': case 'boolean': return 8
      case 'bigint': return 16
      case 'symbol': return 16
      case 'undefined': return 0
      case 'function': return 64
    }
    if (v === null) return 8
    if (ArrayBuffer.isView(v)) return v.byteLength
    if (v instanceof ArrayBuffer) return v.byteLength
    if (seen.has(v) || --budget < 0) return 8
    seen.add(v)
    if (Array.isArray(v)) {
      const m = Math.min(v.length, 64)
      let n = 0
      for (let i = 0; i < m; i++) n += 8 + walk(v[i])
      return 16 + (m === 0 ? 0 : Math.ceil(n * v.length / m))
    }
    const keys = Object.keys(v)
    const m = Math.min(keys.length, 64)
    let n = 0
    for (let i = 0; i < m; i++) n += keys[i].length + 8 + walk(v[keys[i]])
    return 32 + (m === 0 ? 0 : Math.ceil(n * keys.length / m))
  }
  return walk(value)
}

let anonymousWrappers = 0

class ManualClock {
  /** A clock for tests: starts at 0 and moves only by `advance(ms)`. */
  constructor () {
    this._c = native.clockNew()
  }

  /** Moves the clock forward by `ms` milliseconds; returns the new time. */
  advance (ms) {
    return native.clockAdvance(this._c, ms)
  }

  /** Milliseconds since the clock was made. */
  now () {
    return native.clockNow(this._c)
  }
}

class Cache {
  constructor (options) {
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
    if (clock !== undefined && !(clock instanceof ManualClock)) {
      throw wrongType(`clock must be a ManualClock, got ${typeName(clock)}`)
    }
    if (sizeOf !== undefined && typeof sizeOf !== 'function') {
      throw wrongType(`sizeOf must be a function, got ${typeName(sizeOf)}`)
    }
    this._h = native.create(options.maxEntries, options.maxBytes, options.maxKeyBytes,
      options.maxValueBytes, options.ttl, options.maxTtl, options.loadTimeout,
      clock === undefined ? undefined : clock._c)
    this._bind()
    this._sizeOf = sizeOf
    this._root = this
    // Expired entries are reclaimed even when nobody calls; the timer never keeps the
    // process alive, and stops when the cache is collected.
    const ref = new WeakRef(this)
    const timer = setInterval(() => {
      const c = ref.deref()
      if (c === undefined) clearInterval(timer)
      else native.purge(c._h)
    }, PURGE_INTERVAL_MS)
    timer.unref()
  }

  // ---------------------------------------------------------------- synchronous

  /** The live value of `key`, or undefined. Counts one hit or one miss. */
  getSync (key) {
    return this._getSync(key)
  }

  /** Stores `value`; returns false when nothing is stored (ttl 0, over a size limit). */
  setSync (key, value, options) {
    let ttl
    if (options !== undefined) {
      ttl = options.ttl
      if (typeof ttl === 'function' && value !== undefined) ttl = ttl(value)
    }
    let size
    if (value !== null && (typeof value === 'object' || typeof value === 'function')) {
      size = this._measure(value)
    }
    return native.set(this._h, key, value, ttl, size)
  }

  /** Removes `key`; returns whether it had a live value. */
  delSync (key) {
    return native.del(this._h, key)
  }

  /** Whether `key` has a live value (counts neither a hit nor a miss). */
  has (key) {
    return this._has(key)
  }

  // ---------------------------------------------------------------- Promises

  /**
   * The value of `key`. With `getValue` (a function returning a value or a Promise, or a
   * Promise itself), a missing key is loaded once however many callers ask at once.
   */
  get (key, options) {
    if (options === undefined) {
      try {
        return Promise.resolve(this._getSync(key))
      } catch (e) {
        return Promise.reject(e)
      }
    }
    return this._get(key, options)
  }

  _get (key, options) {
    let getValue, ttl, maxAge
    if (typeof options === 'function') {
      getValue = options
    } else if (options !== null && typeof options === 'object') {
      getValue = options.getValue
      ttl = options.ttl
      maxAge = options.maxAge
    } else {
      return Promise.reject(wrongType(`options must be an object, got ${typeName(options)}`))
    }
    try {
      if (getValue === undefined) {
        return Promise.resolve(maxAge === undefined
          ? native.getSync(this._h, key)
          : native.getFresh(this._h, key, maxAge))
      }
      const r = native.begin(this._h, key, typeof ttl === 'function' ? undefined : ttl, maxAge)
      if (r === LEAD) return this._lead(key, getValue, ttl)
      if (r === WAIT) return this._wait(getValue)
      ignore(getValue)
      return Promise.resolve(r)
    } catch (e) {
      ignore(getValue)
      return Promise.reject(e)
    }
  }

  _lead (key, getValue, ttl) {
    const [guard, flight] = native.takeLead()
    let r
    loadersRunning++
    try {
      if (typeof getValue === 'function') {
        const outer = loading.getStore()
        const within = outer === undefined ? [flight] : outer.concat(flight)
        r = native.runLoader(guard, () => loading.run(within, getValue, key))
      } else {
        r = getValue
      }
    } catch (e) {
      loaderDone()
      native.fail(guard, e)
      return Promise.reject(e)
    }
    if (isThenable(r)) {
      return Promise.resolve(r).then(
        (v) => {
          loaderDone()
          return this._complete(guard, v, ttl)
        },
        (e) => {
          loaderDone()
          native.fail(guard, e)
          throw e
        })
    }
    loaderDone()
    try {
      return Promise.resolve(this._complete(guard, r, ttl))
    } catch (e) {
      return Promise.reject(e)
    }
  }

  _complete (guard, value, ttlOption) {
    try {
      let ttl, size
      if (value !== undefined) {
        if (typeof ttlOption === 'function') ttl = ttlOption(value)
        if (value !== null && (typeof value === 'object' || typeof value === 'function')) {
          size = this._measure(value)
        }
      }
      return native.complete(guard, value, size, ttl)
    } catch (e) {
      native.fail(guard, e) // no-op when complete already finished the flight
      throw e
    }
  }

  _wait (getValue) {
    ignore(getValue)
    const [waiter, , timeout] = native.takeWait()
    const within = loading.getStore()
    if (within !== undefined) {
      try {
        native.waitCheck(waiter, within)
      } catch (e) {
        return Promise.reject(e)
      }
    }
    return new Promise((resolve, reject) => {
      let settled = false
      let timer
      const timeoutError = native.waitOn(waiter, (ok, v) => {
        settled = true
        if (timer !== undefined) clearTimeout(timer)
        if (ok) resolve(v)
        else reject(v)
      })
      if (timeoutError !== undefined && !settled) timer = setTimeout(reject, timeout, timeoutError)
    })
  }

  /** Stores `value` (Promise of whether it was stored). `undefined` deletes. */
  set (key, value, options) {
    try {
      return Promise.resolve(this.setSync(key, value, options))
    } catch (e) {
      return Promise.reject(e)
    }
  }

  /** Removes `key` (Promise of whether it had a live value). */
  del (key) {
    try {
      return Promise.resolve(native.del(this._h, key))
    } catch (e) {
      return Promise.reject(e)
    }
  }

  // ---------------------------------------------------------------- more operations

  /** Sets a new TTL (ms) on a live key; 0 removes it. Returns whether the key was live. */
  expire (key, ttl) {
    return native.expire(this._h, key, ttl)
  }

  /** Milliseconds until `key` expires (Infinity if never), or undefined when absent. */
  remainingTtl (key) {
    return native.remainingTtl(this._h, key)
  }

  /** Adds `by` (default 1) to the integer at `key` atomically; a missing key starts at 0. */
  incr (key, by) {
    return native.incr(this._h, key, by)
  }

  /** The live keys (of this namespace, without its prefix). */
  keys () {
    return native.keys(this._h)
  }

  /** Removes every key (of this namespace only, for a namespace). */
  clear () {
    native.clear(this._h)
  }

  /** True when the cache answers. */
  ping () {
    return native.ping(this._h)
  }

  /** Entries stored now. */
  get size () {
    return native.len(this._h)
  }

  /** A view whose keys are stored under `name`; it sees only its own keys. */
  namespace (name) {
    const ns = Object.create(Cache.prototype)
    ns._h = native.namespace(this._h, name)
    ns._bind()
    ns._sizeOf = this._sizeOf
    ns._root = this._root
    return ns
  }

  /** Counters since the cache was made (shared by all its namespaces). */
  stats () {
    return native.stats(this._h)
  }

  /** Removes every expired entry now (a timer also does it every second). */
  purgeExpired () {
    return native.purge(this._h)
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
      return cache.get(k, { ttl, getValue: () => fn.apply(this, args) })
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

  // The hot calls as functions bound to this cache's handle (no handle argument to check).
  _bind () {
    const [getSync, has] = native.bind(this._h)
    this._getSync = getSync
    this._has = has
  }

  _measure (value) {
    if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return undefined // exact, natively
    if (this._sizeOf === undefined) return estimateSize(value)
    const s = this._sizeOf(value)
    return typeof s === 'number' && s >= 0 ? Math.ceil(s) : s
  }
}

module.exports = { Cache, ManualClock, errorCodes, estimateSize }
