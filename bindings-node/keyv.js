'use strict'
// A Keyv storage adapter on flightcache, for keyv 5 (what cache-manager 7 uses) and keyv 6:
//
//   const Keyv = require('keyv')
//   const { KeyvFlightcache } = require('flightcache/keyv')
//   const keyv = new Keyv({ store: new KeyvFlightcache({ store: 'redis://127.0.0.1:6379/0' }) })
//
// Keyv 6 reads `capabilities` (which declares `expires`), then hands the adapter bare keys and
// an absolute expiry (epoch ms): that is also the contract of the adapter used directly. Keyv 5
// reads `opts` (to see whether the store iterates) and never `capabilities`; once it has, the
// adapter takes keys prefixed with `${namespace}:` and a relative ttl (ms), as keyv 5 hands them. Each Keyv namespace lives in a flightcache namespace of its own, whose
// name escapes ':' and '%' (`app:v1` is `k.app%3Av1`), so `clear()` removes that namespace's
// keys only and `app` never sees `app:v1`. Nothing here requires keyv at run time.

const { EventEmitter } = require('node:events')
const { Cache } = require('./index.js')

const METHODS = ['get', 'set', 'delete', 'clear', 'has', 'getMany', 'setMany', 'deleteMany',
  'hasMany', 'iterator', 'disconnect']

/** The flightcache namespace of a Keyv namespace (undefined: keys without one). */
function namespaceName (ns) {
  if (ns === undefined || ns === null || ns === '') return 'k'
  return 'k.' + String(ns).replace(/%/g, '%25').replace(/:/g, '%3A')
}

class KeyvFlightcache extends EventEmitter {
  /**
   * `cacheOrOptions`: an existing flightcache `Cache`, or the `Cache` constructor's options
   * (`{ store: 'sqlite:///ABS/PATH' }`, `{ maxEntries: 10000 }`, ...).
   */
  constructor (cacheOrOptions) {
    super()
    if (cacheOrOptions instanceof Cache) {
      this.cache = cacheOrOptions
    } else if (cacheOrOptions === undefined || (cacheOrOptions !== null && typeof cacheOrOptions === 'object')) {
      this.cache = new Cache(cacheOrOptions === undefined ? {} : cacheOrOptions)
    } else {
      const e = new TypeError(`KeyvFlightcache takes a flightcache Cache or Cache options, got ${cacheOrOptions === null ? 'null' : typeof cacheOrOptions}`)
      e.code = 'ERR_FLIGHTCACHE_WRONG_TYPE'
      throw e
    }
    const url = cacheOrOptions instanceof Cache ? undefined : cacheOrOptions && cacheOrOptions.store
    this._opts = { dialect: 'flightcache', url: typeof url === 'string' ? url : 'flightcache://memory' }
    this._namespace = undefined
    this._views = new Map()
    // 'keyv5' once keyv 5 read `opts` (prefixed keys, relative ttls), 'keyv6' once keyv 6 read
    // `capabilities`; until either, keyv 6's storage contract (bare keys, absolute expiries).
    this._keyv = undefined
  }

  /** Bare keys and absolute expiries (keyv 6, and direct use), not keyv 5's forms. */
  get _expires () {
    return this._keyv !== 'keyv5'
  }

  /** Keyv 5 reads this to decide whether the store iterates (see `iterator`). */
  get opts () {
    if (this._keyv === undefined) this._keyv = 'keyv5'
    return this._opts
  }

  get namespace () {
    return this._namespace
  }

  set namespace (ns) {
    this._namespace = ns === null || ns === '' ? undefined : ns
  }

  /** Keyv 6: the storage methods, and `expires` (this adapter takes absolute expiries). */
  get capabilities () {
    this._keyv = 'keyv6'
    const methods = {}
    for (const m of METHODS) methods[m] = { exists: true, methodType: 'async' }
    return { compatible: true, store: 'keyvStorage', methods, expires: true }
  }

  _view (ns) {
    const name = namespaceName(ns)
    let v = this._views.get(name)
    if (v === undefined) {
      v = this.cache.namespace(name)
      this._views.set(name, v)
    }
    return v
  }

  /** [the flightcache view, the key in it] for a key Keyv handed over. */
  _locate (key) {
    if (typeof key !== 'string') {
      const e = new TypeError(`a key must be a string, got ${key === null ? 'null' : typeof key}`)
      e.code = 'ERR_FLIGHTCACHE_WRONG_TYPE'
      throw e
    }
    const ns = this._namespace
    if (ns === undefined) return [this._view(undefined), key]
    if (this._expires) return [this._view(ns), key]
    // Keyv 5: `${namespace}:${key}`; a key without the prefix (useKeyPrefix: false) is kept
    // apart from the namespace's own.
    const prefix = `${ns}:`
    if (key.startsWith(prefix)) return [this._view(ns), key.slice(prefix.length)]
    return [this._view(undefined), key]
  }

  /** The flightcache ttl (ms) of what Keyv passes: keyv 5 a ttl, keyv 6 an expiry. */
  _ttl (ttlOrExpires) {
    if (ttlOrExpires === undefined || ttlOrExpires === null) return Infinity
    if (typeof ttlOrExpires !== 'number' || Number.isNaN(ttlOrExpires)) {
      const e = new TypeError(`a ttl must be a number of milliseconds, got ${typeof ttlOrExpires}`)
      e.code = 'ERR_FLIGHTCACHE_WRONG_TYPE'
      throw e
    }
    if (!Number.isFinite(ttlOrExpires)) return Infinity
    if (this._expires) return Math.max(0, ttlOrExpires - Date.now())
    return ttlOrExpires > 0 ? ttlOrExpires : Infinity
  }

  async _call (f) {
    try {
      return await f()
    } catch (e) {
      this.emit('error', e)
      throw e
    }
  }

  async get (key) {
    return this._call(() => {
      const [c, k] = this._locate(key)
      return c.get(k)
    })
  }

  async getMany (keys) {
    return Promise.all(keys.map((k) => this.get(k)))
  }

  async set (key, value, ttlOrExpires) {
    return this._call(async () => {
      const [c, k] = this._locate(key)
      const ttl = this._ttl(ttlOrExpires)
      if (ttl === 0) {
        await c.del(k)
        return true
      }
      await c.set(k, value, { ttl })
      return true
    })
  }

  async setMany (entries) {
    return Promise.all(entries.map((e) =>
      this.set(e.key, e.value, this._expires ? e.expires : e.ttl).catch(() => false)))
  }

  async delete (key) {
    return this._call(() => {
      const [c, k] = this._locate(key)
      return c.del(k)
    })
  }

  /** Keyv 6: one boolean per key; keyv 5: whether every key was deleted. */
  async deleteMany (keys) {
    const results = await Promise.all(keys.map((k) => this.delete(k)))
    return this._expires ? results : results.every(Boolean)
  }

  async has (key) {
    return this._call(async () => {
      const [c, k] = this._locate(key)
      if (c.has(k)) return true
      if (!c.hasStore) return false
      return (await c.remainingTtl(k)) !== undefined
    })
  }

  async hasMany (keys) {
    return Promise.all(keys.map((k) => this.has(k)))
  }

  /** Removes the keys of this adapter's namespace only (all of them without one). */
  async clear () {
    return this._call(async () => {
      await this._view(this._namespace).clear()
    })
  }

  /**
   * `[key, value]` of every live key of the namespace: bare keys for keyv 6, keys with
   * Keyv's `${namespace}:` prefix for keyv 5.
   */
  async * iterator (namespace) {
    const ns = namespace === undefined ? this._namespace : namespace
    const c = this._view(ns)
    const prefix = ns !== undefined && !this._expires ? `${ns}:` : ''
    for (const k of await c.keys()) {
      const v = await c.get(k)
      if (v !== undefined) yield [prefix + k, v]
    }
  }

  async disconnect () {}
}

module.exports = { KeyvFlightcache, KeyvFlightcacheAdapter: KeyvFlightcache, default: KeyvFlightcache }
