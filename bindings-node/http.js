'use strict'
// HTTP response caching on a flightcache Cache, for fetch and axios (`flightcache/http`).
//
//   const { wrapFetch, attachAxios } = require('flightcache/http')
//   const cachedFetch = wrapFetch(fetch, cache, { ttl: 60_000 })
//   attachAxios(axiosInstance, cache, { keyParams: ['page'] })
//   await cache.fetch(url)        // the global fetch, default options
//
// Every rule (which responses are stored, for how long, under which key, re-validation) is
// the core's (flightcache::http); this file only moves requests and responses between the
// clients and the cache. Identical concurrent requests make one upstream call: the cache's
// single flight. Each response carries `x-cache`: HIT (served from the cache), MISS (from
// upstream), REVALIDATED (the upstream answered a conditional request with 304) or STALE
// (a re-validation failed and the stored response was served).
//
// A stored response is plain data ({ status, headers: [[name, value]], body: Buffer, vary },
// the body decoded), in the cache's `http` namespace, then one namespace per origin and one
// per path: `clear(url)` drops one endpoint's entries, or a whole origin's.

const native = require('./flightcache.node')
const tokens = require('./token')

const NAMESPACE = 'http'
const OPTIONS = ['ttl', 'maxTtl', 'keyParams', 'respectCacheControl', 'maxKeyBytes', 'maxValueBytes',
  'dropTokenOn401']
const MAX_VIEWS = 4096

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

class Helper {
  constructor (cache, options) {
    if (cache === null || typeof cache !== 'object' || typeof cache.namespace !== 'function') {
      throw wrongType(`cache must be a flightcache Cache, got ${typeName(cache)}`)
    }
    if (options === undefined) options = {}
    if (options === null || typeof options !== 'object') {
      throw wrongType(`options must be an object, got ${typeName(options)}`)
    }
    for (const k of Object.keys(options)) {
      if (!OPTIONS.includes(k)) throw wrongType(`unknown option ${JSON.stringify(k)} (known: ${OPTIONS.join(', ')})`)
    }
    const { dropTokenOn401 = true } = options
    if (typeof dropTokenOn401 !== 'boolean') {
      throw wrongType(`dropTokenOn401 must be a boolean, got ${typeName(dropTokenOn401)}`)
    }
    this.policy = native.httpPolicy(options.ttl, options.maxTtl, options.respectCacheControl,
      options.maxKeyBytes, options.maxValueBytes, options.keyParams)
    this.root = cache.namespace(NAMESPACE)
    this.dropTokenOn401 = dropTokenOn401
    this.views = new Map()
    // How the load that made a record went, for the callers that joined it (they get the
    // very same object).
    this.labels = new WeakMap()
  }

  clear (url) {
    if (url === undefined) return this.root.clear()
    const [origin, path] = native.httpEndpoint(url)
    let view = this.root.namespace(origin)
    if (path !== null) view = view.namespace(path)
    view.clear()
  }

  view (origin, path) {
    const id = origin + ' ' + path
    let v = this.views.get(id)
    if (v === undefined) {
      if (this.views.size >= MAX_VIEWS) this.views.clear()
      v = this.root.namespace(origin).namespace(path)
      this.views.set(id, v)
    }
    return v
  }

  upstreamStatus (status, headers) {
    if (status === 401 && this.dropTokenOn401) {
      const token = native.httpBearer(headers)
      if (token !== undefined) tokens.drop(token)
    }
  }

  /** A Flight for a cacheable request, or null when it bypasses the cache. */
  plan (method, url, headers) {
    const plan = native.httpRequest(this.policy, method, url, headers)
    if (typeof plan === 'string') return null
    return new Flight(this, method, headers, this.view(plan[0], plan[1]), plan[2], plan[3])
  }
}

/** One cacheable request: what it found, and the load that answers it on a miss. */
class Flight {
  constructor (helper, method, headers, view, base, maxAge) {
    this.h = helper
    this.method = method
    this.headers = headers
    this.view = view
    this.base = base
    this.maxAge = maxAge === null ? undefined : maxAge
    this.key = base
    this.entry = undefined
    this.label = undefined
    this.ttl = 0
    this.staleTtl = 0
    this.keep = () => this.ttl
  }

  /** The stored response this request may be answered with at once (a HIT), if any; a
   * Promise of it only when the request bounds its age (`max-age=N`). */
  lookup () {
    let entry = this.view.getSync(this.base)
    // Not in this process: with a store, another process (or language) may have stored it.
    if (entry === undefined && this.view.hasStore) return this.lookupShared()
    if (entry !== undefined && entry.status === undefined) {
      // A marker: the responses here vary on request headers.
      this.key = native.httpVariant(this.base, entry.vary, this.headers)
      entry = this.view.getSync(this.key)
    }
    this.entry = entry
    if (entry === undefined || this.maxAge === 0) return undefined
    if (this.maxAge === undefined) return entry
    return this.view.get(this.key, { maxAge: this.maxAge })
  }

  async lookupShared () {
    let entry = await this.view.get(this.base)
    if (entry !== undefined && entry.status === undefined) {
      this.key = native.httpVariant(this.base, entry.vary, this.headers)
      entry = await this.view.get(this.key)
    }
    this.entry = entry
    if (entry === undefined || this.maxAge === 0) return undefined
    if (this.maxAge === undefined) return entry
    return this.view.get(this.key, { maxAge: this.maxAge })
  }

  async conditional () {
    if (this.entry === undefined) return []
    // Kept if the re-validation fails and the entry is served stale.
    this.staleTtl = (await this.view.remainingTtl(this.key)) || 0
    return native.httpConditional(this.entry.headers)
  }

  /**
   * The record for the upstream's answer ([status, headers, body], or null when it did not
   * answer), stored as the core decides; sets `label` and `ttl` for the flight.
   */
  answered (got, sentConditional) {
    const entry = this.entry
    if (entry !== undefined && native.httpServeStoredOn(got === null ? undefined : got[0])) {
      this.label = 'STALE'
      this.ttl = this.staleTtl
      return this._done(entry)
    }
    let [status, headers, body] = got
    this.h.upstreamStatus(status, this.headers)
    if (status === 304 && entry !== undefined && sentConditional) {
      headers = native.httpRefreshed(entry.headers, headers)
      status = entry.status
      body = entry.body
      this.label = 'REVALIDATED'
    } else {
      this.label = 'MISS'
    }
    let [ttl, vary, stored] = native.httpResponse(this.h.policy, this.method, status, headers, body.length, Date.now())
    const record = {
      status,
      headers: stored,
      body,
      vary: vary === null ? [] : native.httpVaried(vary, this.headers)
    }
    const target = vary === null ? this.base : native.httpVariant(this.base, vary, this.headers)
    if (ttl > 0 && target !== this.key) {
      // Stored elsewhere than the flight's key: a set during a load wins over it.
      if (vary !== null) this.view.setSync(this.base, { vary }, { ttl })
      this.view.setSync(target, record, { ttl })
      ttl = 0
    }
    this.ttl = ttl
    return this._done(record)
  }

  _done (record) {
    this.h.labels.set(record, this.label)
    return record
  }

  /** The label of a record got from another caller's load; null when it varies and does
   * not suit this request (which must then load its own). */
  joined (record) {
    if (record.vary.length > 0 && !native.httpVaryMatches(record.vary, this.headers)) return null
    return this.h.labels.get(record) || 'MISS'
  }
}

/**
 * The flow of one request: [record, label], or null when it bypasses the cache. `send(extra)`
 * asks the upstream (with `extra` conditional headers) for [status, headers, body Buffer].
 */
async function cachedRequest (helper, method, url, headers, send) {
  let record
  for (let attempt = 0; attempt < 2; attempt++) {
    const f = helper.plan(method, url, headers)
    if (f === null) return null
    let hit = f.lookup()
    if (hit instanceof Promise) hit = await hit
    if (hit !== undefined) return [hit, 'HIT']
    const getValue = async () => {
      const cond = await f.conditional()
      let got
      try {
        got = await send(cond)
      } catch (e) {
        if (f.entry === undefined) throw e
        return f.answered(null, cond.length > 0)
      }
      return f.answered(got, cond.length > 0)
    }
    record = await f.view.get(f.key, { getValue, ttl: f.keep, maxAge: f.maxAge })
    if (f.label !== undefined) return [record, f.label]
    const label = f.joined(record)
    if (label !== null) return [record, label]
  }
  return [record, 'MISS']
}

// ------------------------------------------------------------------------------ fetch

function headerPairs (h) {
  if (h === undefined || h === null) return []
  if (typeof h.entries === 'function' && !Array.isArray(h)) return [...h.entries()]
  if (Array.isArray(h)) return h.map(([n, v]) => [String(n), String(v)])
  return Object.entries(h).map(([n, v]) => [n, String(v)])
}

function noBody (status, method) {
  return method === 'HEAD' || status === 204 || status === 205 || status === 304
}

function toResponse (record, label, url, method) {
  const headers = record.headers.slice()
  headers.push(['x-cache', label])
  const res = new Response(noBody(record.status, method) ? null : record.body, { status: record.status, headers })
  Object.defineProperty(res, 'url', { value: url })
  return res
}

function withLabel (res, label, url) {
  const headers = new Headers(res.headers)
  headers.set('x-cache', label)
  const out = new Response(res.body, { status: res.status, statusText: res.statusText, headers })
  Object.defineProperty(out, 'url', { value: res.url || url })
  return out
}

/** A fetch-compatible function that answers from `cache` (options: see the file's comment). */
function wrapFetch (fetch, cache, options) {
  if (typeof fetch !== 'function') throw wrongType(`fetch must be a function, got ${typeName(fetch)}`)
  const helper = new Helper(cache, options)
  const cachedFetch = async function (input, init) {
    let url, method, headersInit
    if (typeof input === 'string' || input instanceof URL) {
      url = String(input)
      method = (init && init.method) || 'GET'
      headersInit = init && init.headers
    } else if (input !== null && typeof input === 'object' && typeof input.url === 'string') {
      url = input.url
      method = (init && init.method) || input.method || 'GET'
      headersInit = (init && init.headers) || input.headers
    } else {
      throw wrongType(`input must be a URL string, a URL or a Request, got ${typeName(input)}`)
    }
    method = method.toUpperCase()
    const headers = headerPairs(headersInit)
    const send = async (extra) => {
      let next = init
      if (extra.length > 0) {
        const h = new Headers(headersInit)
        for (const [n, v] of extra) h.set(n, v)
        next = { ...init, headers: h }
      }
      const res = await fetch(input, next)
      const body = Buffer.from(await res.arrayBuffer())
      return [res.status, [...res.headers], body]
    }
    const out = await cachedRequest(helper, method, url, headers, send)
    if (out === null) {
      const res = await fetch(input, init)
      helper.upstreamStatus(res.status, headers)
      return withLabel(res, 'MISS', url)
    }
    return toResponse(out[0], out[1], url, method)
  }
  /** Drops every stored response, or those of one origin or endpoint (`url`). */
  cachedFetch.clear = (url) => helper.clear(url)
  return cachedFetch
}

const defaultFetches = new WeakMap()

/** `cache.fetch(input, init)`: the global fetch through `cache`, default options. */
function cacheFetch (cache, input, init) {
  let f = defaultFetches.get(cache)
  if (f === undefined) {
    if (typeof globalThis.fetch !== 'function') {
      return Promise.reject(new Error('cache.fetch needs the global fetch (Node 18 or later)'))
    }
    f = wrapFetch((i, o) => globalThis.fetch(i, o), cache)
    defaultFetches.set(cache, f)
  }
  return f(input, init)
}

// ------------------------------------------------------------------------------ axios

const STATE = Symbol('flightcache')

function axiosHeaderPairs (h) {
  if (!h) return []
  const obj = typeof h.toJSON === 'function' ? h.toJSON() : h
  const out = []
  for (const [n, v] of Object.entries(obj)) {
    if (v === undefined || v === null || v === false) continue
    if (Array.isArray(v)) for (const x of v) out.push([n, String(x)])
    else out.push([n, String(v)])
  }
  return out
}

function axiosHeadersObject (pairs, label) {
  const out = {}
  for (const [n, v] of pairs) out[n] = out[n] === undefined ? v : `${out[n]}, ${v}`
  if (label !== undefined) out['x-cache'] = label
  return out
}

// A record's body as text, made once per record: every hit on it would decode it again.
const texts = new WeakMap()

/** The data axios's adapter would have given for this body: text unless bytes were asked for. */
function axiosData (body, config) {
  if (config.responseType === 'arraybuffer') return body
  if (config.responseEncoding && config.responseEncoding !== 'utf8') return body.toString(config.responseEncoding)
  let t = texts.get(body)
  if (t === undefined) {
    t = body.toString('utf8')
    texts.set(body, t)
  }
  return t
}

function axiosError (response) {
  const s = response.status
  const e = new Error(`Request failed with status code ${s}`)
  e.name = 'AxiosError'
  e.code = s >= 500 ? 'ERR_BAD_RESPONSE' : 'ERR_BAD_REQUEST'
  e.isAxiosError = true
  e.config = response.config
  e.request = response.request
  e.response = response
  e.status = s
  e.toJSON = () => ({ message: e.message, name: e.name, code: e.code, status: s })
  return e
}

/** The response axios's adapter would have resolved (or rejected) with, for a record. */
function axiosSettle (record, label, config) {
  const response = {
    data: axiosData(record.body, config),
    status: record.status,
    statusText: '',
    headers: axiosHeadersObject(record.headers, label),
    config,
    request: {}
  }
  const validate = config.validateStatus
  if (!validate || validate(record.status)) return response
  throw axiosError(response)
}

/** Runs the user's transformResponse functions (skipping ours) over a replacement response. */
function axiosTransformed (record, label, config, capture) {
  const response = { ...axiosSettle(record, label, config) }
  const fns = [].concat(config.transformResponse || []).filter((fn) => fn !== capture)
  let data = response.data
  for (const fn of fns) data = fn.call(config, data, response.headers, response.status)
  response.data = data
  return response
}

const ABSOLUTE = /^[a-z][a-z\d+\-.]*:\/\//i

/** The request's full URL. `axios.getUri` merges the whole config again (a third of a hit's
 * time), so it is only asked when there are params to serialise. */
function axiosUrl (axios, config) {
  const params = config.params
  if (params !== undefined && params !== null && !(typeof params === 'object' && Object.keys(params).length === 0)) {
    return axios.getUri(config)
  }
  const url = config.url || ''
  const base = config.baseURL
  if (!base || (ABSOLUTE.test(url) && config.allowAbsoluteUrls !== false)) return url
  return url ? base.replace(/\/+$/, '') + '/' + url.replace(/^\/+/, '') : base
}

/** Installs flightcache as a request/response interceptor pair on an axios instance. */
function attachAxios (axios, cache, options) {
  if (axios === null || (typeof axios !== 'object' && typeof axios !== 'function') ||
      !axios.interceptors || typeof axios.getUri !== 'function') {
    throw wrongType(`attachAxios needs an axios instance, got ${typeName(axios)}`)
  }
  const helper = new Helper(cache, options)

  const onRequest = async (config) => {
    const method = (config.method || 'get').toUpperCase()
    const headers = axiosHeaderPairs(config.headers)
    const url = axiosUrl(axios, config)
    const f = config.responseType === 'stream' ? null : helper.plan(method, url, headers)
    if (f === null) {
      config[STATE] = { bypass: true, headers }
      return config
    }
    let hit = f.lookup()
    if (hit instanceof Promise) hit = await hit
    if (hit !== undefined) {
      config.adapter = async (cfg) => axiosSettle(hit, 'HIT', cfg)
      return config
    }
    let lead = false
    let settle
    const loaded = f.view.get(f.key, {
      getValue: () => {
        lead = true
        return new Promise((resolve, reject) => { settle = { resolve, reject } })
      },
      ttl: f.keep,
      maxAge: f.maxAge
    })
    // index.js runs a leading caller's getValue within get(): `lead` is known here.
    if (lead) {
      // The leader's own answer comes through axios; only joiners read `loaded`.
      loaded.catch(() => {})
    } else {
      config.adapter = async (cfg) => {
        const record = await loaded
        const label = f.joined(record)
        if (label === null) {
          // The response varies and does not suit this request: ask for its own.
          const { adapter, ...rest } = cfg
          return axios.request({ ...rest, transformResponse: [(d) => d] })
        }
        return axiosSettle(record, label, cfg)
      }
      return config
    }
    const cond = await f.conditional()
    for (const [n, v] of cond) {
      if (typeof config.headers.set === 'function') config.headers.set(n, v)
      else config.headers[n] = v
    }
    const state = { flight: f, settle, cond, record: undefined, headers }
    // Runs first among the response transforms, on the adapter's own data: the record is
    // made of what the upstream sent, whatever the user's transforms then make of it.
    state.capture = function (data, respHeaders, status) {
      if (state.record === undefined && status !== undefined) {
        const body = Buffer.isBuffer(data) ? data : Buffer.from(data === undefined || data === null ? '' : String(data))
        try {
          state.record = f.answered([status, axiosHeaderPairs(respHeaders), body], cond.length > 0)
          settle.resolve(state.record)
        } catch (e) {
          settle.reject(e)
        }
      }
      return data
    }
    config.transformResponse = [state.capture].concat(config.transformResponse || [])
    config[STATE] = state
    return config
  }

  // The upstream answered (or failed): finish the flight, label the response, and swap in the
  // stored response where the record says so (a 304 re-validated, a failure served stale).
  const finish = (response, error) => {
    const config = (response && response.config) || (error && error.config)
    const state = config && config[STATE]
    if (state === undefined) {
      if (error) throw error
      return response
    }
    if (state.bypass) {
      const status = response ? response.status : error.response && error.response.status
      if (status !== undefined) helper.upstreamStatus(status, axiosHeaderPairs(config.headers))
      if (response) {
        response.headers['x-cache'] = 'MISS'
        return response
      }
      if (error.response) error.response.headers['x-cache'] = 'MISS'
      throw error
    }
    const f = state.flight
    // The final headers: request interceptors added after this one ran before it.
    const status = response ? response.status : error.response && error.response.status
    if (status !== undefined) helper.upstreamStatus(status, axiosHeaderPairs(config.headers))
    if (state.record === undefined) {
      // No answer reached the transforms (a network error, a cancel).
      if (f.entry !== undefined && error) {
        state.record = f.answered(null, state.cond.length > 0)
        state.settle.resolve(state.record)
      } else {
        state.settle.reject(error || new Error('the request ended without a response'))
        if (error) throw error
        return response
      }
    }
    if (f.label === 'REVALIDATED' || f.label === 'STALE') {
      return axiosTransformed(state.record, f.label, config, state.capture)
    }
    if (response) {
      response.headers['x-cache'] = f.label
      return response
    }
    if (error.response) error.response.headers['x-cache'] = f.label
    throw error
  }

  const requestId = axios.interceptors.request.use(onRequest)
  const responseId = axios.interceptors.response.use((r) => finish(r, undefined), (e) => finish(undefined, e))
  return {
    /** Drops every stored response, or those of one origin or endpoint (`url`). */
    clear: (url) => helper.clear(url),
    /** Removes the interceptors. */
    detach () {
      axios.interceptors.request.eject(requestId)
      axios.interceptors.response.eject(responseId)
    }
  }
}

module.exports = { wrapFetch, attachAxios, cacheFetch, NAMESPACE }
