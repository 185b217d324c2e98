'use strict'
// The Node runner of the conformance scenarios (tests/scenarios/*.json, format in
// tests/README.md): one `test()` per scenario, driving the public package exactly as a
// user does (`const { Cache, ManualClock } = require('flightcache')`).
// `make conformance` links tests/node/node_modules/flightcache to bindings-node.

const test = require('node:test')
const assert = require('node:assert')
const fs = require('node:fs')
const path = require('node:path')
const { Cache, ManualClock } = require('flightcache')

const LANG = 'node'
const DIR = process.env.CONFORMANCE_SCENARIOS || path.join(__dirname, '..', 'scenarios')
const FILES = fs.readdirSync(DIR).filter((f) => f.endsWith('.json')).sort()
const SETTLE_DEADLINE_MS = 5000
const WAIT_DEADLINE_MS = 10000

const STEP_FIELDS = new Set([
  'op', 'key', 'value', 'ttl', 'by', 'must_exist', 'ns', 'api', 'load', 'max_age', 'ms', 'options', 'group',
  'callers', 'loader', 'message', 'call', 'fn', 'args', 'body', 'anonymous', 'async', 'times',
  'steps', 'langs', 'expect', 'error', 'at_most', 'at_least', 'identical', 'inner_error',
  'eventually', 'stale_ttl', 'stale_if_error', 'soft_timeout', 'hard_timeout', 'refresh_ahead',
  'fail_safe_backoff'
])
// The resilience options, per call of get / getEntry / start (camelCase in Node).
const POLICY = ['stale_ttl', 'stale_if_error', 'soft_timeout', 'hard_timeout', 'refresh_ahead',
  'fail_safe_backoff']
// How long a step marked `eventually` is retried (real time) until it holds.
const EVENTUALLY_DEADLINE_MS = 5000
const STATS_FIELDS = ['hits', 'misses', 'loads', 'load_errors', 'evictions', 'expirations',
  'rejected', 'entries', 'bytes', 'stale_hits', 'refreshes', 'refresh_errors']

/** What the scenarios' loaders throw: a plain error of the user's own. */
class LoaderFailure extends Error {}

// ---------------------------------------------------------------- error kinds, mapped once

const ERROR_KINDS = {
  invalid_argument: (e) => e instanceof RangeError && e.code === 'ERR_FLIGHTCACHE_INVALID_ARGUMENT',
  wrong_type: (e) => e instanceof TypeError && e.code === 'ERR_FLIGHTCACHE_WRONG_TYPE',
  timeout: (e) => e instanceof Error && e.code === 'ERR_FLIGHTCACHE_TIMEOUT',
  reentrant: (e) => e instanceof Error && e.code === 'ERR_FLIGHTCACHE_REENTRANT',
  not_found: (e) => e instanceof Error && e.code === 'ERR_FLIGHTCACHE_NOT_FOUND'
}

function kindOf (e) {
  if (e instanceof LoaderFailure) return 'loader_error'
  for (const [kind, is] of Object.entries(ERROR_KINDS)) if (is(e)) return kind
  return `unexpected ${e && e.constructor && e.constructor.name} (code ${e && e.code}): ${e && e.message}`
}

class Failed {
  constructor (error) {
    this.error = error
    this.kind = kindOf(error)
  }
}

// ---------------------------------------------------------------- values

const camel = (s) => s.replace(/_([a-z])/g, (_, c) => c.toUpperCase())

function isTag (v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v) &&
    Object.keys(v).some((k) => k.startsWith('$'))
}

/** Turns a scenario's argument into the JS value it stands for. */
function decode (v) {
  if (!isTag(v)) return v
  if ('$nan' in v) return NaN
  if ('$inf' in v) return v.$inf < 0 ? -Infinity : Infinity
  if ('$bytes' in v) return Buffer.from(v.$bytes, 'utf8')
  if ('$timedelta_ms' in v) return v.$timedelta_ms
  if ('$int' in v) return BigInt(v.$int)
  if ('$undefined' in v) return undefined
  if ('$type' in v) return { list: [], object: {}, int: 1, float: 1.5, bool: true, null: null }[v.$type]
  if ('$ttl_of' in v) return (value) => value[v.$ttl_of]
  throw new Error(`${JSON.stringify(v)} cannot be passed in Node (give the step "langs")`)
}

function expected (v) {
  if (isTag(v) && '$absent' in v) return undefined
  if (isTag(v) && '$bytes' in v) return Buffer.from(v.$bytes, 'utf8')
  if (isTag(v) && '$inf' in v) return v.$inf < 0 ? -Infinity : Infinity
  return v
}

function same (want, got) {
  try {
    assert.deepStrictEqual(got, want)
    return true
  } catch {
    return false
  }
}

function show (o) {
  if (o instanceof Failed) return `error ${o.kind}`
  return o === undefined ? 'absent' : JSON.stringify(o)
}

const turn = () => new Promise((resolve) => setImmediate(resolve))
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

function within (promise, ms, what) {
  let timer
  return Promise.race([
    promise,
    new Promise((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not finish in ${ms} ms (hung)`)), ms)
    })
  ]).finally(() => clearTimeout(timer))
}

// ---------------------------------------------------------------- loaders

/** A loader that waits until the scenario resolves or rejects it. */
class Deferred {
  constructor () {
    this.calls = 0
    this.promise = new Promise((resolve, reject) => { this.resolve = resolve; this.reject = reject })
    this.promise.catch(() => {}) // a rejection nobody asked for is no unhandled rejection
  }

  call () {
    this.calls++
    return this.promise
  }
}

// ---------------------------------------------------------------- the runner

class Runner {
  constructor (options, clock = 'manual') {
    this.clock = new ManualClock()
    // `"clock": "system"`: the cache keeps the system clock (real time; `advance` moves
    // nothing it reads).
    this.cache = new Cache({ ...cacheOptions(options), ...(clock === 'system' ? {} : { clock: this.clock }) })
    this.deferred = new Map()
    this.groups = new Map()
    this.memos = new Map()
    this.raised = []
    this.notHere = 0
  }

  target (step) {
    let c = this.cache
    const ns = step.ns === undefined ? [] : [].concat(step.ns)
    for (const name of ns) c = c.namespace(name)
    return c
  }

  deferredLoader (name) {
    if (!this.deferred.has(name)) this.deferred.set(name, new Deferred())
    return this.deferred.get(name)
  }

  fail (message) {
    const e = new LoaderFailure(message)
    this.raised.push(e)
    return e
  }

  /** The getValue of a step: a plain function by default, an async one for api "async". */
  loader (spec, key, target, isAsync, step) {
    if (typeof spec === 'string') {
      const d = this.deferredLoader(spec)
      return () => d.call()
    }
    if ('reenter' in spec) {
      const value = decode(spec.value)
      return async () => {
        try {
          await within(target.get(key, { getValue: () => 'inner' }), 2000, 'the inner get')
          step.__inner = 'no error'
        } catch (e) {
          step.__inner = /hung/.test(e.message) ? 'deadlock (no answer in 2 s)' : kindOf(e)
        }
        return value
      }
    }
    if (spec.made) {
      // A Promise already made (the documented example's getValue), not a function.
      return 'error' in spec ? Promise.reject(this.fail(spec.error)) : Promise.resolve(decode(spec.value))
    }
    if ('value' in spec) {
      const value = decode(spec.value)
      return isAsync ? async () => value : () => value
    }
    if ('error' in spec) {
      return isAsync
        ? async () => { throw this.fail(spec.error) }
        : () => { throw this.fail(spec.error) }
    }
    throw new Error(`unknown loader ${JSON.stringify(spec)}`)
  }

  /** One caller of the step's get, as a function returning a Promise. */
  getCall (step) {
    const target = this.target(step)
    const key = decode(step.key)
    const isAsync = step.api === 'async'
    const options = {}
    if ('max_age' in step) options.maxAge = decode(step.max_age)
    if ('ttl' in step) options.ttl = decode(step.ttl)
    if ('load' in step) options.getValue = this.loader(step.load, key, target, isAsync, step)
    for (const p of POLICY) if (p in step) options[camel(p)] = decode(step[p])
    if (step.op === 'get_entry') {
      return async () => {
        const e = await target.getEntry(key, options)
        return {
          value: e.status === 'miss' ? undefined : e.value,
          status: e.status,
          source: e.source,
          age_ms: e.ageMs,
          remaining_ttl: e.remainingTtl
        }
      }
    }
    if (step.api === 'sync') {
      assert.strictEqual(Object.keys(options).length, 0, 'getSync takes no options')
      return async () => target.getSync(key)
    }
    if (Object.keys(options).length === 0) return () => target.get(key)
    return () => target.get(key, options)
  }

  /**
   * Waits until `n` more gets than `base` reached the cache and the group's waiting loader
   * was called (for at most a second: a group may join another loader's flight), then a
   * little longer for each caller to join or start its flight.
   */
  async settle (base, n, loader) {
    const deadline = Date.now() + SETTLE_DEADLINE_MS
    for (;;) {
      const s = this.cache.stats()
      if (s.hits + s.misses >= base + n) break
      if (Date.now() > deadline) {
        throw new assert.AssertionError({ message: `only ${s.hits + s.misses - base} of ${n} callers reached the cache` })
      }
      await turn()
    }
    if (loader instanceof Deferred) {
      const until = Date.now() + 1000
      while (loader.calls === 0 && Date.now() < until) await turn()
    }
    for (let i = 0; i < 10; i++) await turn()
    await sleep(20)
  }

  memo (step) {
    const bodyName = step.body === undefined ? 'count' : step.body
    let body
    if (bodyName === 'count') {
      body = { calls: 0, call () { return ++this.calls } }
    } else {
      body = this.deferredLoader(bodyName)
    }
    let fn = step.async ? async (...args) => body.call() : (...args) => body.call()
    Object.defineProperty(fn, 'name', { value: step.anonymous ? '' : step.fn })
    const options = {}
    if ('ttl' in step) options.ttl = decode(step.ttl)
    if ('key' in step) options.key = step.key
    fn = this.cache.wrap(fn, options)
    this.memos.set(step.fn, { fn, body })
  }

  memoCall (step) {
    const { fn } = this.memos.get(step.fn !== undefined ? step.fn : step.call)
    const args = (step.args || []).map(decode)
    return () => fn(...args)
  }

  async step (step) {
    const op = step.op
    const c = ['start', 'await', 'memo', 'call'].includes(op) ? null : this.target(step)
    const key = decode(step.key)
    const sync = step.api === 'sync'
    switch (op) {
      case 'get': return this.getCall(step)()
      case 'get_entry': return this.getCall(step)()
      case 'sleep': await new Promise((resolve) => setTimeout(resolve, step.ms)); return null
      case 'read_for': {
        // One synchronous stretch (no event-loop turn): getSync, where copies are answered.
        const end = performance.now() + step.ms
        let v
        do v = c.getSync(key); while (performance.now() < end)
        return v
      }
      case 'set': {
        const value = decode(step.value)
        const opts = 'ttl' in step ? { ttl: decode(step.ttl) } : undefined
        if (sync) return opts ? c.setSync(key, value, opts) : c.setSync(key, value)
        return opts ? c.set(key, value, opts) : c.set(key, value)
      }
      case 'add': {
        const value = decode(step.value)
        return 'ttl' in step ? c.add(key, value, { ttl: decode(step.ttl) }) : c.add(key, value)
      }
      case 'del': return sync ? c.delSync(key) : c.del(key)
      case 'has': return c.has(key)
      case 'expire': return c.expire(key, decode(step.ttl))
      case 'remaining_ttl': return c.remainingTtl(key)
      case 'incr': {
        const by = 'by' in step ? decode(step.by) : undefined
        if ('must_exist' in step) return c.incr(key, by, { mustExist: step.must_exist })
        return 'by' in step ? c.incr(key, by) : c.incr(key)
      }
      case 'keys': return [...(await c.keys())].sort()
      case 'clear': await c.clear(); return null
      case 'len': return c.size
      case 'stats': {
        const s = await c.stats()
        const out = {}
        for (const f of STATS_FIELDS) out[f] = s[camel(f)]
        return out
      }
      case 'ping': return c.ping()
      case 'advance': this.clock.advance(decode(step.ms)); return null
      case 'new': {
        const created = new Cache({ ...cacheOptions(step.options), clock: new ManualClock() })
        return created instanceof Cache
      }
      case 'start': {
        const n = step.callers === undefined ? 1 : step.callers
        const s = this.cache.stats()
        const base = s.hits + s.misses
        const call = 'call' in step ? this.memoCall(step) : this.getCall(step)
        if (!this.groups.has(step.group)) this.groups.set(step.group, [])
        for (let i = 0; i < n; i++) {
          let p
          try {
            p = Promise.resolve(call())
          } catch (e) {
            p = Promise.reject(e)
          }
          this.groups.get(step.group).push(p.then((v) => v, (e) => new Failed(e)))
        }
        const loader = 'call' in step
          ? this.memos.get(step.call).body
          : typeof step.load === 'string' ? this.deferredLoader(step.load) : null
        await this.settle(base, n, loader)
        return null
      }
      case 'resolve': this.deferredLoader(step.loader).resolve(decode(step.value)); return null
      case 'reject':
        this.deferredLoader(step.loader).reject(this.fail(step.message || 'rejected'))
        return null
      case 'calls':
        if ('loader' in step) return this.deferredLoader(step.loader).calls
        return this.memos.get(step.fn).body.calls
      case 'await': {
        const promises = this.groups.get(step.group)
        this.groups.delete(step.group)
        const results = await within(Promise.all(promises), WAIT_DEADLINE_MS, 'the group')
        this.checkGroup(step, results)
        return null
      }
      case 'memo': this.memo(step); return null
      case 'call': return this.memoCall(step)()
      default: throw new Error(`unknown op ${op}`)
    }
  }

  checkGroup (step, results) {
    if ('callers' in step) assert.strictEqual(results.length, step.callers, 'callers')
    results.forEach((r, i) => {
      const err = check(step, r) || this.checkLoaderError(r)
      if (err) throw new assert.AssertionError({ message: `caller ${i}: ${err}` })
    })
    if (step.identical === false) {
      // Every caller received an object of its own (the copy option).
      results.forEach((a, i) => {
        for (const b of results.slice(i + 1)) {
          if (!(a instanceof Failed) && !(b instanceof Failed) && a === b) {
            throw new assert.AssertionError({ message: 'two callers received the very same object' })
          }
        }
      })
    }
    if (step.identical) {
      const unwrap = (r) => (r instanceof Failed ? r.error : r)
      for (const r of results.slice(1)) {
        if (unwrap(r) !== unwrap(results[0])) {
          throw new assert.AssertionError({ message: 'the callers did not all receive the identical result' })
        }
      }
    }
  }

  /** A loader error must be the very error the loader threw. */
  checkLoaderError (o) {
    if (o instanceof Failed && o.kind === 'loader_error' && !this.raised.includes(o.error)) {
      return "a loader_error that is not the loader's own error object"
    }
    return null
  }
}

let stores = 0
/** The store each cache of this run uses (`CONFORMANCE_STORE`: memory, sqlite), a new one per cache. */
function storeUrl () {
  const kind = process.env.CONFORMANCE_STORE
  if (!kind) return undefined
  const n = stores++
  if (kind === 'memory') return `memory://conformance-${process.pid}-${n}`
  if (kind.startsWith('redis')) return kind
  if (kind === 'sqlite') {
    const dir = path.join(require('node:os').tmpdir(), `flightcache-conformance-js-${process.pid}`)
    fs.mkdirSync(dir, { recursive: true })
    return `sqlite://${dir}/${n}.db`
  }
  throw new Error(`CONFORMANCE_STORE=${kind}: use memory or sqlite`)
}

function cacheOptions (options) {
  const out = {}
  for (const [k, v] of Object.entries(options || {})) out[camel(k)] = decode(v)
  if ('sizeOf' in out) {
    const n = out.sizeOf
    out.sizeOf = () => n // `size_of: N` is a function giving N
  }
  const store = storeUrl()
  if (store !== undefined) out.store = store
  return out
}

/** Compares an outcome with the step's expect / error / at_most / at_least. */
function check (step, got) {
  if ('error' in step) {
    if (got instanceof Failed && got.kind === step.error) return null
    return `expected error ${step.error}, got ${show(got)}`
  }
  for (const [bound, most] of [['at_most', true], ['at_least', false]]) {
    if (!(bound in step)) continue
    if (got instanceof Failed) return `unexpected error ${got.kind}`
    const limit = step[bound]
    const pairs = typeof limit === 'object' ? Object.entries(limit) : [[step.op, limit]]
    for (const [name, lim] of pairs) {
      const val = typeof limit === 'object' ? got[name] : got
      if (!(most ? val <= lim : val >= lim)) {
        return `${name} = ${val}, expected ${most ? 'at most' : 'at least'} ${lim}`
      }
    }
  }
  if ('expect' in step) {
    const want = expected(step.expect)
    if (got instanceof Failed) return `expected ${show(want)}, got error ${got.kind} (${got.error && got.error.message})`
    if (step.op === 'stats' || step.op === 'get_entry') {
      const bad = Object.keys(want).filter((k) => !same(expected(want[k]), got[k]))
      if (bad.length) return `expected stats ${JSON.stringify(want)}, got ${JSON.stringify(got)}`
    } else if (!same(want, got)) {
      return `expected ${show(want)}, got ${show(got)}`
    }
  } else if (got instanceof Failed && !('at_most' in step) && !('at_least' in step)) {
    return `unexpected error ${got.kind}`
  }
  return null
}

function substitute (v, i) {
  if (typeof v === 'string') return v.split('{i}').join(String(i))
  if (Array.isArray(v)) return v.map((x) => substitute(x, i))
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, substitute(x, i)]))
  }
  return v
}

async function runSteps (r, steps, prefix = '') {
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i]
    const at = `${prefix}${i + 1}`
    const unknown = Object.keys(step).filter((k) => !STEP_FIELDS.has(k))
    assert.deepStrictEqual(unknown, [], `step ${at} has unknown fields`)
    if (step.langs && !step.langs.includes(LANG)) {
      r.notHere++
      continue
    }
    if (step.op === 'repeat') {
      for (let n = 0; n < step.times; n++) {
        await runSteps(r, step.steps.map((s) => substitute(s, n)), `${at}.${n}.`)
      }
      continue
    }
    const where = `step ${at} ${JSON.stringify(step).slice(0, 160)}`
    const deadline = Date.now() + EVENTUALLY_DEADLINE_MS
    let got, err
    for (;;) {
      try {
        got = await r.step(step)
      } catch (e) {
        if (e instanceof assert.AssertionError) {
          e.message = `${where}: ${e.message}`
          throw e
        }
        got = new Failed(e)
      }
      if (step.op === 'await') break
      err = check(step, got) || r.checkLoaderError(got)
      // `eventually`: background work (a refresh) settles on its own; retried a while.
      if (!err || !step.eventually || Date.now() > deadline) break
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    if (step.op === 'await') continue
    if (!err && 'inner_error' in step && step.__inner !== step.inner_error) {
      err = `the loader's own call of its key gave ${step.__inner}, expected ${step.inner_error}`
    }
    if (err) throw new assert.AssertionError({ message: `${where}: ${err}` })
  }
}

for (const file of FILES) {
  const doc = JSON.parse(fs.readFileSync(path.join(DIR, file), 'utf8'))
  const skip = process.env.CONFORMANCE_STORE && doc.in_process_only
    ? `in-process only: ${doc.in_process_only}`
    : false
  test(path.basename(file, '.json'), { timeout: 60000, skip }, async () => {
    const extra = Object.keys(doc).filter((k) => !['description', 'options', 'steps', 'in_process_only', 'clock'].includes(k))
    if ((process.env.CONFORMANCE_STORE || '').startsWith('redis')) {
      // One server for every scenario: each starts with none of flightcache's keys.
      await new Cache({ store: process.env.CONFORMANCE_STORE }).clear()
    }
    assert.deepStrictEqual(extra, [], `unknown fields in ${file}`)
    const r = new Runner(doc.options || {}, doc.clock)
    await runSteps(r, doc.steps)
    assert.deepStrictEqual([...r.groups.keys()], [], 'groups started but never awaited')
  })
}

// A scenario that never moves its clock (nor reads a remaining time, which real time
// moves) runs again on the system clock, where `getSync` answers from its copies of what
// it read (index.js, core/src/memory/mirror.rs): the copies must give every answer the
// core gives.
const unmoved = FILES.filter((file) => {
  const doc = JSON.parse(fs.readFileSync(path.join(DIR, file), 'utf8'))
  const steps = JSON.stringify(doc.steps)
  return doc.clock === undefined && !steps.includes('"advance"') && !steps.includes('"remaining_ttl"')
})
for (const file of process.env.CONFORMANCE_STORE ? [] : unmoved) {
  const doc = JSON.parse(fs.readFileSync(path.join(DIR, file), 'utf8'))
  test(`${path.basename(file, '.json')} (system clock)`, { timeout: 60000 }, async () => {
    const r = new Runner(doc.options || {}, 'system')
    await runSteps(r, doc.steps)
    assert.deepStrictEqual([...r.groups.keys()], [], 'groups started but never awaited')
  })
}

test('scenarios that never move the clock run on the system clock too', () => {
  assert.ok(process.env.CONFORMANCE_STORE || unmoved.length >= 40, `${unmoved.length} scenarios`)
})

test('there are at least 60 scenarios', () => {
  assert.ok(FILES.length >= 60, `${FILES.length} scenarios`)
})
