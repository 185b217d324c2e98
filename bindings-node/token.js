'use strict'
// `cache.token(name, fetchToken, { skew })`: an access token kept for its lifetime less a
// skew (default 30 000 ms), fetched once per lifetime however many callers ask (the cache's
// single flight). The core (flightcache::http::token) reads what fetchToken returns: an
// OAuth token response ({ access_token, expires_in } or expires_at) or the token itself (a
// JWT, whose exp gives the lifetime).
//
// Refresh-ahead: the first call after `refreshAhead` (default 0.8) of the time a token is kept
// returns it at once and fetches the next one in the background (the cache's refreshAhead
// policy), so callers of a busy token never wait for the token endpoint; `refreshAhead: null`
// turns it off (the first caller after the lifetime less the skew fetches).

const native = require('./flightcache.node')

const NAMESPACE = 'token'
const MAX_HELD = 1024

// The tokens handed out, so that an HTTP helper seeing a 401 to a request that carried one
// can drop it: token -> [WeakRef to the cache, name]. Bounded: the oldest go first; a token
// missing here is only not dropped early.
const held = new Map()

function typeName (v) {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'array'
  return typeof v
}

function wrongType (message) {
  const e = new TypeError(message)
  e.code = 'ERR_FLIGHTCACHE_WRONG_TYPE'
  return e
}

function grant (cache, name, value, skew) {
  let text
  if (typeof value === 'string') text = value
  else if (value !== null && typeof value === 'object' && !Array.isArray(value)) text = JSON.stringify(value)
  else throw wrongType(`fetchToken must resolve to a token response (object) or a token (string), got ${typeName(value)}`)
  const [token, keep] = native.tokenGrant(text, Date.now(), skew)
  held.delete(token)
  held.set(token, [new WeakRef(cache), name])
  if (held.size > MAX_HELD) held.delete(held.keys().next().value)
  return [token, keep]
}

/** The access token `name` (see the file's comment). */
function token (cache, name, fetchToken, options) {
  try {
    if (typeof name !== 'string') throw wrongType(`token name must be a string, got ${typeName(name)}`)
    if (typeof fetchToken !== 'function') throw wrongType(`fetchToken must be a function, got ${typeName(fetchToken)}`)
    if (options !== undefined && (options === null || typeof options !== 'object')) {
      throw wrongType(`options must be an object, got ${typeName(options)}`)
    }
    const skew = options === undefined ? undefined : options.skew
    native.tokenSkew(skew)
    let keep = 0
    const getValue = () => Promise.resolve(fetchToken()).then((value) => {
      let t
      [t, keep] = grant(cache, name, value, skew)
      return t
    })
    const refreshAhead = options === undefined || options.refreshAhead === undefined
      ? 0.8
      : options.refreshAhead
    const opts = { getValue, ttl: () => keep }
    if (refreshAhead !== null) opts.refreshAhead = refreshAhead
    return cache.namespace(NAMESPACE).get(name, opts)
  } catch (e) {
    return Promise.reject(e)
  }
}

/** Drops `token` from the cache that holds it, if it is still the one kept there. */
function drop (token) {
  const h = held.get(token)
  if (h === undefined) return false
  held.delete(token)
  const cache = h[0].deref()
  if (cache === undefined) return false
  const ns = cache.namespace(NAMESPACE)
  if (ns.getSync(h[1]) !== token) return false
  ns.delSync(h[1])
  return true
}

module.exports = { token, drop, NAMESPACE }
