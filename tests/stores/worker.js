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
  const cache = new Cache({ store: url })
  if (mode === 'load') {
    const [callers, log, sleepMs, startAt] = [Number(args[0]), args[1], Number(args[2]), Number(args[3])]
    const loader = async () => {
      fs.appendFileSync(log, `node ${process.pid}\n`)
      await sleep(sleepMs)
      return `from node ${process.pid}`
    }
    const delay = startAt - Date.now()
    if (delay > 0) await sleep(delay)
    const results = await Promise.all(Array.from({ length: callers }, () =>
      cache.get(key, { getValue: loader }).catch((e) => `error ${e.name}: ${e.message}`)))
    console.log(JSON.stringify({ results, stats: cache.stats() }))
  } else if (mode === 'hold') {
    const [log, ready] = args
    await cache.get(key, {
      getValue: async () => {
        fs.appendFileSync(log, `node ${process.pid}\n`)
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
  } else if (mode === 'echo') {
    const v = await cache.get(key)
    console.log(JSON.stringify({ stored: await cache.set(args[0], v), value: encode(v) }))
  } else {
    throw new Error(`unknown mode ${mode}`)
  }
}

main().catch((e) => { console.error(e); process.exit(1) })
