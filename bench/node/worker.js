// One library, one workload, in its own process (node --expose-gc worker.js LIB WORKLOAD):
// prints one JSON line. Run by bench.js.
import { createRequire } from 'node:module'
import { performance } from 'node:perf_hooks'

const require = createRequire(import.meta.url)
const [lib, workload] = process.argv.slice(2)

const WEEK = 7 * 24 * 3600 * 1000
const BIG_BYTES = 2 ** 40 // a byte bound every library is given, never reached

function median (xs) {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}

function shuffled (xs) {
  const a = [...xs]
  let seed = 42
  for (let i = a.length - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff
    const j = seed % (i + 1);
    [a[i], a[j]] = [a[j], a[i]]
  }
  return a
}

const key16 = (i) => 'k' + String(i).padStart(15, '0') // 16 chars
const value32 = (i) => 'v' + String(i).padStart(31, '0') // 32 chars

// Each adapter: getSync/setSync when the library has them, aget/aset (Promises), load
// (single-flight get with a loader), all configured with max entries, a TTL and a byte bound
// as flightcache is, except 'lru-cache (max only)'.
async function adapter (name, max) {
  switch (name) {
    case 'flightcache': {
      const { Cache } = require('../../bindings-node')
      const c = new Cache({ maxEntries: max, ttl: WEEK, maxBytes: BIG_BYTES })
      return {
        getSync: (k) => c.getSync(k),
        setSync: (k, v) => c.setSync(k, v),
        aget: (k) => c.get(k),
        aset: (k, v) => c.set(k, v),
        load: (k, fn) => c.get(k, { getValue: fn })
      }
    }
    case 'lru-cache': {
      const { LRUCache } = await import('lru-cache')
      let loader
      const c = new LRUCache({
        max,
        ttl: WEEK,
        maxSize: BIG_BYTES,
        sizeCalculation: (v, k) => (typeof v === 'string' ? v.length : 8) + k.length,
        fetchMethod: (k) => loader(k)
      })
      return {
        getSync: (k) => c.get(k),
        setSync: (k, v) => c.set(k, v),
        aget: async (k) => c.get(k),
        aset: async (k, v) => c.set(k, v),
        load: (k, fn) => { loader = fn; return c.fetch(k) }
      }
    }
    case 'lru-cache (max only)': {
      // Issue 12's stretch anchor: lru-cache as most people configure it, a bound and no TTL.
      const { LRUCache } = await import('lru-cache')
      const c = new LRUCache({ max })
      return {
        getSync: (k) => c.get(k),
        setSync: (k, v) => c.set(k, v),
        aget: async (k) => c.get(k),
        aset: async (k, v) => c.set(k, v)
      }
    }
    case 'lru.min': {
      const { createLRU } = await import('lru.min')
      const c = createLRU({ max })
      return {
        getSync: (k) => c.get(k),
        setSync: (k, v) => c.set(k, v),
        aget: async (k) => c.get(k),
        aset: async (k, v) => c.set(k, v)
      }
    }
    case 'quick-lru': {
      const { default: QuickLRU } = await import('quick-lru')
      const c = new QuickLRU({ maxSize: max, maxAge: WEEK })
      return {
        getSync: (k) => c.get(k),
        setSync: (k, v) => c.set(k, v),
        aget: async (k) => c.get(k),
        aset: async (k, v) => c.set(k, v)
      }
    }
    case 'cache-manager': {
      const { createCache } = await import('cache-manager')
      const { Keyv } = await import('keyv')
      const { KeyvCacheableMemory } = await import('cacheable')
      const c = createCache({ stores: [new Keyv({ store: new KeyvCacheableMemory({ ttl: WEEK, lruSize: max }) })], ttl: WEEK })
      return {
        aget: (k) => c.get(k),
        aset: (k, v) => c.set(k, v),
        load: (k, fn) => c.wrap(k, fn)
      }
    }
    case 'cacheable': {
      const { Cacheable, CacheableMemory } = await import('cacheable')
      // The synchronous workloads use its in-memory store; the async ones the Cacheable class.
      const mem = new CacheableMemory({ ttl: WEEK, lruSize: max })
      const c = new Cacheable({ primary: new (await import('keyv')).Keyv({ store: new CacheableMemory({ ttl: WEEK, lruSize: max }) }), ttl: WEEK })
      return {
        getSync: (k) => mem.get(k),
        setSync: (k, v) => mem.set(k, v),
        aget: (k) => c.get(k),
        aset: (k, v) => c.set(k, v),
        load: (k, fn) => c.getOrSet(k, fn)
      }
    }
    case 'async-cache-dedupe': {
      const { createCache } = await import('async-cache-dedupe')
      let loader
      const c = createCache({ ttl: WEEK / 1000, storage: { type: 'memory', options: { size: max } } })
      c.define('fetchValue', (k) => loader(k))
      return {
        // Its only read is the defined function: a hit is a call whose loader is not run.
        aget: (k) => c.fetchValue(k),
        load: (k, fn) => { loader = fn; return c.fetchValue(k) }
      }
    }
  }
  throw new Error(`unknown library ${name}`)
}

async function getSyncHit (objects) {
  const N = 100_000
  const a = await adapter(lib, 2 * N)
  if (!a.getSync) return { na: 'no synchronous get' }
  const keys = Array.from({ length: N }, (_, i) => key16(i))
  for (let i = 0; i < N; i++) a.setSync(keys[i], objects ? { i, name: value32(i) } : value32(i))
  const order = shuffled(keys)
  let misses = 0
  const pass = () => { for (let i = 0; i < N; i++) if (a.getSync(order[i]) === undefined) misses++ }
  // As many passes over the keys per repetition as fit in about 0.25 s (1 to 10).
  let t = performance.now()
  pass()
  const passes = Math.max(1, Math.min(10, Math.round(250 / (performance.now() - t))))
  const reps = []
  for (let r = 0; r < 9; r++) {
    t = performance.now()
    for (let p = 0; p < passes; p++) pass()
    reps.push((performance.now() - t) * 1e6 / (passes * N))
  }
  if (misses) return { error: `${misses} misses in a hit benchmark` }
  return { ns: median(reps.slice(2)) } // the first two are warm-up
}

async function asyncGetHit () {
  const N = 100_000
  const a = await adapter(lib, 2 * N)
  const keys = Array.from({ length: N }, (_, i) => key16(i))
  if (a.aset) for (let i = 0; i < N; i++) await a.aset(keys[i], value32(i))
  else for (let i = 0; i < N; i++) await a.load(keys[i], async () => value32(i))
  const order = shuffled(keys)
  let misses = 0
  const reps = []
  for (let r = 0; r < 7; r++) {
    const t = performance.now()
    for (let i = 0; i < N; i++) if ((await a.aget(order[i])) === undefined) misses++
    reps.push((performance.now() - t) * 1e6 / N)
  }
  if (misses) return { error: `${misses} misses in a hit benchmark` }
  return { ns: median(reps.slice(2)) }
}

async function setEvict () {
  const BOUND = 100_000
  const N = 1_000_000
  const keys = Array.from({ length: N }, (_, i) => key16(i))
  const values = Array.from({ length: 1000 }, (_, i) => value32(i))
  const reps = []
  const started = performance.now()
  for (let r = 0; r < 5 && !(r >= 3 && performance.now() - started > 20_000); r++) {
    const a = await adapter(lib, BOUND)
    if (!a.setSync && !a.aset) return { na: 'no set' }
    global.gc()
    const t = performance.now()
    if (a.setSync) for (let i = 0; i < N; i++) a.setSync(keys[i], values[i % 1000])
    else for (let i = 0; i < N; i++) await a.aset(keys[i], values[i % 1000])
    reps.push((performance.now() - t) * 1e6 / N)
  }
  return { ns: median(reps) }
}

function usage () {
  for (let i = 0; i < 4; i++) global.gc()
  const m = process.memoryUsage()
  return { heap: m.heapUsed, external: m.external, rss: m.rss }
}

async function memory () {
  const N = 1_000_000
  const a = await adapter(lib, Math.ceil(N * 1.25))
  const before = usage()
  if (a.setSync) for (let i = 0; i < N; i++) a.setSync(key16(i), value32(i))
  else if (a.aset) for (let i = 0; i < N; i++) await a.aset(key16(i), value32(i))
  else for (let i = 0; i < N; i++) await a.load(key16(i), async () => value32(i))
  const after = usage()
  // Every entry must still be there for the numbers to mean anything.
  let present = 0
  for (let i = 0; i < N; i += 1000) {
    const v = a.getSync ? a.getSync(key16(i)) : await a.aget(key16(i))
    if (v !== undefined) present++
  }
  const gcs = []
  for (let i = 0; i < 5; i++) {
    const t = performance.now()
    global.gc()
    gcs.push(performance.now() - t)
  }
  return {
    heapExternalPerEntry: (after.heap + after.external - before.heap - before.external) / N,
    rssPerEntry: (after.rss - before.rss) / N,
    present: present / (N / 1000),
    gcMs: median(gcs)
  }
}

async function singleFlight () {
  const a = await adapter(lib, 10_000)
  if (!a.load) return { na: 'no loader' }
  const reps = []
  let loads = 0
  for (let r = 0; r < 5; r++) {
    const key = `flight${r}`
    const loader = () => { loads++; return new Promise((resolve) => setTimeout(() => resolve({ token: key }), 50)) }
    const t = performance.now()
    const values = await Promise.all(Array.from({ length: 1000 }, () => a.load(key, loader)))
    reps.push(performance.now() - t)
    if (!values.every((v) => v !== undefined && v.token === key)) return { error: 'wrong values' }
  }
  return { loadsPerKey: loads / 5, ms: median(reps) }
}

const workloads = {
  'getSync-string': () => getSyncHit(false),
  'getSync-object': () => getSyncHit(true),
  'await-get': asyncGetHit,
  'set-evict': setEvict,
  memory,
  'single-flight': singleFlight
}

const result = await workloads[workload]()
console.log(JSON.stringify({ lib, workload, ...result }))
process.exit(0)
