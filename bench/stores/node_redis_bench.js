'use strict'
// flightcache's Redis store against ioredis (GET + JSON.parse / SET + JSON.stringify) and
// cache-manager 7 on Keyv with @keyv/redis, side by side in one run on one loopback Redis:
// `make store-bench` (part of `make bench`).
//
//   node node_redis_bench.js [--quick] [--redis redis://127.0.0.1:PORT/0]
//
// Without --redis it uses $CONFORMANCE_STORE (what `tests/stores/redis_server.py -- CMD`
// sets); without that it runs itself again under tests/stores/redis_server.py.
//
// Median p50 / p99 over several repetitions, microseconds per operation; a "store hit" is a
// read the in-process tier cannot answer (the reading cache keeps 10 entries, Redis 5,000
// written by another cache; the bench checks the reader's storeHits count). Every side reads and writes the same 32-character string under
// the same key numbers and gets a string back: flightcache from its envelope, ioredis by
// JSON.parse of what SET JSON.stringify wrote, cache-manager through Keyv's serializer.
// flightcache's set is its store write (one Lua script: SET PX, void the key's lease,
// PUBLISH the change); the anchors' is one SET. Nothing here is asserted by a test.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawn, spawnSync } = require('node:child_process')

const ROOT = path.resolve(__dirname, '..', '..')
const quick = process.argv.includes('--quick')
const REPS = quick ? 3 : 5
const OPS = quick ? 3000 : 10000
const N = 5000
const VALUE = 'v'.repeat(32)
const PROCS = 8

function redisUrl () {
  const i = process.argv.indexOf('--redis')
  if (i >= 0) return process.argv[i + 1]
  const env = process.env.CONFORMANCE_STORE || ''
  return env.startsWith('redis://') ? env : undefined
}

function median (xs) {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}

function pcts (ts) {
  ts.sort((a, b) => a - b)
  return [ts[Math.floor(ts.length / 2)] / 1000, ts[Math.floor(ts.length * 0.99)] / 1000]
}

// Appends the time per operation (ns) of `op` over `keys` to `out`, each awaited.
async function timed (op, keys, out) {
  for (let i = 0; i < keys.length; i++) {
    const t = process.hrtime.bigint()
    await op(keys[i])
    out.push(Number(process.hrtime.bigint() - t))
  }
}

// In-process hits take about as long as reading the clock: time batches of 100 instead, and
// report the batches' median and p99 per operation.
function timedSync (op, keys, out) {
  for (let i = 0; i + 100 <= keys.length; i += 100) {
    const t = process.hrtime.bigint()
    for (let j = i; j < i + 100; j++) op(keys[j])
    out.push(Number(process.hrtime.bigint() - t) / 100)
  }
}

// One of the PROCS processes of `loadsPerKey`: waits for the common start, then asks for
// the cold key once; each load appends a line to the log and takes 200 ms.
async function child (kind, url, start, log, late) {
  const load = async () => {
    fs.appendFileSync(log, 'x\n')
    await new Promise((resolve) => setTimeout(resolve, 200))
    return 'value'
  }
  const wait = async () => {
    fs.appendFileSync(late, `${(Date.now() - start) / 1000}\n`)
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, start - Date.now())))
  }
  let v
  if (kind === 'flightcache') {
    const { Cache } = require(path.join(ROOT, 'bindings-node'))
    const c = new Cache({ store: url })
    await c.ping()
    await wait()
    v = await c.get('cold', { getValue: load })
  } else if (kind === 'cache-manager') {
    const { createCache } = require('cache-manager')
    const { Keyv } = require('keyv')
    const { default: KeyvRedis } = require('@keyv/redis')
    const cm = createCache({ stores: [new Keyv({ store: new KeyvRedis(url) })] })
    await cm.get('cm:warm')
    await wait()
    v = await cm.wrap('cm:cold', load, 60000)
    await cm.disconnect()
  } else {
    const { default: Redis } = require('ioredis')
    const r = new Redis(url)
    await r.ping()
    await wait()
    const got = await r.get('io:cold')
    if (got === null) {
      v = await load()
      await r.set('io:cold', JSON.stringify(v))
    } else {
      v = JSON.parse(got)
    }
    r.disconnect()
  }
  if (v !== 'value') throw new Error(`${kind}: ${v}`)
  process.exit(0)
}

async function loadsPerKey (kind, url, dir) {
  const log = path.join(dir, `loads-${kind}.log`)
  const late = path.join(dir, `late-${kind}.log`)
  fs.writeFileSync(log, '')
  fs.writeFileSync(late, '')
  const start = Date.now() + 2500
  const ps = Array.from({ length: PROCS }, () => new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [__filename, '--child', kind, url, String(start), log, late], { stdio: 'inherit' })
    p.on('exit', (code) => code === 0 ? resolve() : reject(new Error(`a ${kind} process failed (${code})`)))
  }))
  await Promise.all(ps)
  const lateness = Math.max(...fs.readFileSync(late, 'utf8').trim().split('\n').map(Number))
  return [fs.readFileSync(log, 'utf8').trim().split('\n').filter(Boolean).length, lateness]
}

async function main (url) {
  const { Cache } = require(path.join(ROOT, 'bindings-node'))
  const { default: Redis } = require('ioredis')
  const { createCache } = require('cache-manager')
  const { Keyv } = require('keyv')
  const { default: KeyvRedis } = require('@keyv/redis')
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flightcache-redis-bench-js-'))
  const io = new Redis(url)
  await io.flushdb() // this bench's keys only from here on
  const cm = createCache({ stores: [new Keyv({ store: new KeyvRedis(url) })] })
  const writer = new Cache({ store: url })
  const reader = new Cache({ maxEntries: 10, store: url })
  const plain = new Cache()
  const withStore = new Cache({ store: url })
  for (let i = 0; i < N; i++) {
    await writer.set(`k${i}`, VALUE)
    await io.set(`io:k${i}`, JSON.stringify(VALUE))
    await cm.set(`cm:k${i}`, VALUE)
  }
  for (let i = 0; i < 1000; i++) {
    plain.setSync(`h${i}`, VALUE)
    await withStore.set(`h${i}`, VALUE)
  }
  // Every side reads back what it wrote, decoded the same.
  if (await reader.get('k1') !== VALUE || JSON.parse(await io.get('io:k1')) !== VALUE ||
      await cm.get('cm:k1') !== VALUE || withStore.getSync('h1') !== VALUE) {
    throw new Error('a side did not read back the value')
  }
  let seed = 42
  const rand = (n) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n }
  // In-process hits: 100 operations per timing, 1,000 timings per repetition.
  const hot = Array.from({ length: 100000 }, () => `h${rand(1000)}`)
  const inproc = [['getSync hit, no store', (k) => plain.getSync(k)], ['getSync hit, Redis store', (k) => withStore.getSync(k)]]
  const reads = [
    ['flightcache store hit', (k) => reader.get(k)],
    ['ioredis GET + JSON.parse', async (k) => JSON.parse(await io.get('io:' + k))],
    ['cache-manager get', (k) => cm.get('cm:' + k)]
  ]
  const writes = [
    ['flightcache set', (k) => writer.set(k, VALUE)],
    ['ioredis SET JSON.stringify', (k) => io.set('io:' + k, JSON.stringify(VALUE))],
    ['cache-manager set', (k) => cm.set('cm:' + k, VALUE)]
  ]
  // The machine may be shared (load from other work comes and goes within seconds), so the
  // sides compared take turns: every CHUNK operations of one side, the same keys for each
  // other side, reads first, then writes; the in-process hits every 100.
  const CHUNK = 250
  const results = {}
  const started = Date.now()
  for (let rep = 0; rep < REPS; rep++) {
    const keys = Array.from({ length: OPS }, () => `k${rand(N)}`)
    const samples = {}
    const out = (name) => { samples[name] = samples[name] || []; return samples[name] }
    for (let i = 0, j = 0; i < hot.length; i += 100, j++) {
      for (const [name, op] of (j % 2 === 0 ? inproc : [...inproc].reverse())) timedSync(op, hot.slice(i, i + 100), out(name))
    }
    for (const phase of [reads, writes]) {
      for (let i = 0; i < OPS; i += CHUNK) {
        for (const [name, op] of phase) await timed(op, keys.slice(i, i + CHUNK), out(name))
      }
      // the sets' change messages are handled before what follows
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
    for (const [name, ts] of Object.entries(samples)) (results[name] = results[name] || []).push(pcts(ts))
  }
  const elapsed = (Date.now() - started) / 1000
  const hits = reader.stats().storeHits
  if (hits < 0.95 * REPS * OPS) throw new Error(`only ${hits} store hits`)
  const med = {}
  console.log(`Node, Redis store (${REPS} repetitions of ${OPS} operations, ${elapsed.toFixed(0)} s; median p50 / p99, microseconds; load average ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} CPUs)`)
  for (const [name, rs] of Object.entries(results)) {
    med[name] = [median(rs.map((r) => r[0])), median(rs.map((r) => r[1]))]
    const d = med[name][1] < 10 ? 3 : 2 // in-process hits are fractions of a microsecond
    console.log(`  ${name.padEnd(32)} p50 ${med[name][0].toFixed(d).padStart(8)}  p99 ${med[name][1].toFixed(d).padStart(8)}`)
  }
  const ratios = {}
  const ratio = (a, b, label, target) => {
    const [a50, a99] = med[a]; const [b50, b99] = med[b]
    const t = target ? `  (target <= ${target}x: p50 ${a50 / b50 <= target ? 'met' : 'NOT met'}, p99 ${a99 / b99 <= target ? 'met' : 'NOT met'})` : ''
    const d = Math.max(a99, b99) < 10 ? 3 : 2
    console.log(`  ${label.padEnd(40)} p50 ${a50.toFixed(d)} / ${b50.toFixed(d)} = ${(a50 / b50).toFixed(2)}x   p99 ${a99.toFixed(d)} / ${b99.toFixed(d)} = ${(a99 / b99).toFixed(2)}x${t}`)
    ratios[label] = { p50: a50 / b50, p99: a99 / b99 }
  }
  ratio('flightcache store hit', 'ioredis GET + JSON.parse', 'store hit / ioredis GET+parse', 1.0)
  ratio('flightcache store hit', 'cache-manager get', 'store hit / cache-manager get')
  ratio('flightcache set', 'ioredis SET JSON.stringify', 'set / ioredis SET')
  ratio('flightcache set', 'cache-manager set', 'set / cache-manager set')
  ratio('getSync hit, Redis store', 'getSync hit, no store', 'in-process hit with / without Redis', 1.05)
  const loads = {}
  for (const kind of ['flightcache', 'cache-manager', 'ioredis']) {
    const [n, late] = await loadsPerKey(kind, url, dir)
    loads[kind] = n
    loads[`${kind} latest start (s)`] = late
  }
  console.log(`  loads of one cold key (200 ms loader) by ${PROCS} processes: flightcache ${loads.flightcache}, ` +
    `cache-manager wrap ${loads['cache-manager']}, ioredis GET-then-SET ${loads.ioredis}`)
  const worst = Math.max(...Object.entries(loads).filter(([k]) => k.endsWith('(s)')).map(([, v]) => v))
  console.log(`  (the latest of the ${PROCS} processes reached the common start ${worst >= 0 ? '+' : ''}${worst.toFixed(3)} s after it)`)
  console.log(JSON.stringify({ node_redis: med, ratios, loads }))
  io.disconnect()
  await cm.disconnect()
  fs.rmSync(dir, { recursive: true, force: true })
}

if (process.argv[2] === '--child') {
  const [kind, url, start, log, late] = process.argv.slice(3)
  child(kind, url, Number(start), log, late).catch((e) => { console.error(e); process.exit(1) })
} else {
  const url = redisUrl()
  if (url === undefined) {
    // A Redis of its own, started and stopped by tests/stores/redis_server.py.
    const r = spawnSync('python3', [path.join(ROOT, 'tests', 'stores', 'redis_server.py'), '--', process.execPath, ...process.argv.slice(1)], { stdio: 'inherit' })
    process.exit(r.status === null ? 1 : r.status)
  }
  main(url).then(() => process.exit(0), (e) => { console.error(e); process.exit(1) })
}
