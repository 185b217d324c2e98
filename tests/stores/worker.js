'use strict'
// A Node process of the store tests: one cache on a shared store, one job, its result
// printed as one JSON line. Run by test_*.py (never by hand); the same modes as worker.py.
const fs = require('node:fs')
const { Cache } = require(process.env.FLIGHTCACHE_NODE || 'flightcache')

function encode (v) {
  if (Buffer.isBuffer(v)) return { $bytes: v.toString('hex') }
  if (typeof v === 'bigint') return { $int: v.toString() }
  if (Array.isArray(v)) return v.map(encode)
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, encode(x)]))
  return v
}

function decode (v) {
  if (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 1 && '$bytes' in v) {
    return Buffer.from(v.$bytes, 'hex')
  }
  if (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 1 && '$int' in v) {
    return BigInt(v.$int)
  }
  if (Array.isArray(v)) return v.map(decode)
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, decode(x)]))
  return v
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

async function main () {
  const [url, mode, key, ...args] = process.argv.slice(2)
  const options = JSON.parse(process.env.FLIGHTCACHE_TEST_OPTIONS || '{}')
  const camel = Object.fromEntries(Object.entries(options).map(([k, v]) => [k.replace(/_(\w)/g, (_, c) => c.toUpperCase()), v]))
  const cache = new Cache({ store: url, ...camel })
  if (mode === 'load') {
    const [callers, log, sleepMs, startAt] = [Number(args[0]), args[1], Number(args[2]), Number(args[3])]
    const loader = async () => {
      fs.appendFileSync(log, `node ${process.pid} ${Date.now() / 1000}\n`)
      await sleep(sleepMs)
      return `from node ${process.pid}`
    }
    const delay = startAt - Date.now()
    if (delay > 0) await sleep(delay)
    const results = await Promise.all(Array.from({ length: callers }, () =>
      cache.get(key, { getValue: loader }).catch((e) => `error ${e.name}: ${e.message}`)))
    // Background work (a refresh) may outlive the calls: give it time before reporting.
    await sleep(Number(process.env.FLIGHTCACHE_TEST_LINGER_MS || 0))
    console.log(JSON.stringify({ results, stats: cache.stats() }))
  } else if (mode === 'hold') {
    const [log, ready] = args
    await cache.get(key, {
      getValue: async () => {
        fs.appendFileSync(log, `node ${process.pid} ${Date.now() / 1000}\n`)
        fs.writeFileSync(ready, '')
        await sleep(3600 * 1000)
        return 'never'
      }
    })
  } else if (mode === 'get') {
    console.log(JSON.stringify({ value: encode(await cache.get(key)), has: cache.has(key) }))
  } else if (mode === 'set') {
    const ttl = args.length > 1 ? Number(args[1]) : undefined
    console.log(JSON.stringify({ stored: await cache.set(key, decode(JSON.parse(args[0])), { ttl }) }))
    // When the write was done, for tests that measure how soon others see it.
    if (process.env.FLIGHTCACHE_TEST_AT) fs.writeFileSync(process.env.FLIGHTCACHE_TEST_AT, String(Date.now() / 1000))
  } else if (mode === 'echo') {
    const v = await cache.get(key)
    console.log(JSON.stringify({ stored: await cache.set(args[0], v), value: encode(v) }))
  } else if (mode === 'steady') {
    await steady(cache, key, Number(args[0]), args[1])
  } else if (mode === 'watch') {
    // Reads `key` with getSync in one synchronous loop (answered from its JS copy after the
    // first read) until another process's change reaches it; no event-loop turn helps.
    const [ready, seconds] = [args[0], Number(args[1])]
    const first = await cache.get(key)
    let reads = 0
    let v = cache.getSync(key)
    fs.writeFileSync(ready, '')
    const end = performance.now() + seconds * 1000
    while (v === first && performance.now() < end) {
      v = cache.getSync(key)
      reads++
    }
    console.log(JSON.stringify({ first: encode(first), last: v === undefined ? null : encode(v), reads, at: Date.now() / 1000 }))
  } else if (mode === 'writes') {
    const n = Number(args[0])
    for (let i = 0; i < n; i++) await cache.set(key, i)
    console.log(JSON.stringify({ last: n - 1 }))
  } else {
    throw new Error(`unknown mode ${mode}`)
  }
}

// The same steady load as worker.py's.
async function steady (cache, prefix, seconds, ready) {
  for (let i = 0; i < 20; i++) await cache.set(`${prefix}:warm:${i}`, i)
  fs.writeFileSync(ready, '')
  const errors = []
  let wrong = 0
  let calls = 0
  let maxMs = 0
  const sets = []
  const end = performance.now() + seconds * 1000
  let n = 0
  while (performance.now() < end) {
    n++
    for (let step = 0; step < 3; step++) {
      const t0 = performance.now()
      try {
        if (step === 0) {
          const i = n % 20
          const v = await cache.get(`${prefix}:warm:${i}`, { getValue: () => i })
          if (v !== i) wrong++
        } else if (step === 1) {
          const stored = await cache.set(`${prefix}:w:${process.pid}:${n % 50}`, n)
          sets.push([Date.now() / 1000, Boolean(stored)])
        } else {
          const v = await cache.get(`${prefix}:cold:${process.pid}:${n}`, { getValue: () => n })
          if (v !== n) wrong++
        }
      } catch (e) {
        errors.push(`${e.name}: ${e.message}`)
      }
      maxMs = Math.max(maxMs, performance.now() - t0)
      calls++
    }
    await sleep(2)
  }
  console.log(JSON.stringify({
    calls, errors: errors.slice(0, 10), error_count: errors.length, wrong, max_ms: maxMs, sets, stats: cache.stats()
  }))
}

main().catch((e) => { console.error(e); process.exit(1) })
