'use strict'
// The resilience policies (issue 11) from Node: what they cost on a hit, and a
// stale-while-revalidate workload against lru-cache's fetch with allowStale, in one run.
//
//   make resilience-bench   (or: node --expose-gc bench/resilience/node_resilience_bench.js [--quick])
//
// (a) Hits. Two caches, the same 1,000 live keys: one with every policy set (staleTtl,
// staleIfError, softTimeout, hardTimeout, refreshAhead, failSafeBackoff), one with none. The
// TTL is an hour, so no refresh-ahead or stale path is reached while timing: only the hit path
// is measured. The sides take turns every 100 operations (ABBA; the machine may be shared);
// each sample is the mean of 100 hits. Figures: ns/op median and p99 of the samples, and the
// ratio with policies / without.
//
// (b) Stale-while-revalidate. 5 keys, a TTL of 50 ms (real time), a loader that takes 20 ms
// (a timer); callers (async functions on the one event loop, yielding to it with setImmediate
// between calls) call get on the keys in turn for a few seconds. After warm-up no caller
// should wait for the loader. Reported: per-call latency p50 / p99 / max, calls over 5 ms,
// calls that waited for a load ("waited": the value they got was loaded after they called),
// loader calls, and calls served a value older than the TTL ("stale serves"); both judged
// from the load time carried in the value, the same way for both sides. The sides: flightcache
// `await get(key, { getValue })` with staleTtl 10 s, and lru-cache `await fetch(key)` with
// allowStale, noDeleteOnStaleGet and a fetchMethod, taking turns round by round.
// Nothing here is asserted by a test.
const { Cache } = require('../../bindings-node')
const { LRUCache } = require('lru-cache')

const QUICK = process.argv.includes('--quick')
const JSON_OUT = (() => { const i = process.argv.indexOf('--json'); return i > 0 ? process.argv[i + 1] : null })()
const HOUR = 3_600_000
const POLICIES = { staleTtl: 60_000, staleIfError: 60_000, softTimeout: 100, hardTimeout: 1_000, refreshAhead: 0.8, failSafeBackoff: 1_000 }
const N_KEYS = 1000
const CHUNK = 100
const SWR_KEYS = 5
const SWR_TTL = 50
const SWR_LOAD = 20
const SWR_STALE = 10_000
const SLOW_NS = 5_000_000n

const now = process.hrtime.bigint
const pct = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2 }
const tick = () => new Promise((resolve) => setImmediate(resolve))
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

// ------------------------------------------------------------------ (a) hits
async function hitBench (reps, chunks) {
  const keys = Array.from({ length: N_KEYS }, (_, i) => `key-${i}`)
  const plain = new Cache({ ttl: HOUR })
  const policed = new Cache({ ttl: HOUR, ...POLICIES })
  for (const c of [plain, policed]) for (const k of keys) c.setSync(k, k + '-value')
  const getValue = () => { throw new Error('a loader was called on a hit') }
  const opts = { getValue }

  let sink = 0
  const ops = {
    'getSync(key) hit': async (c, from) => {
      const t = now()
      for (let i = from; i < from + CHUNK; i++) if (c.getSync(keys[i]) !== undefined) sink++
      return Number(now() - t) / CHUNK
    },
    'await get(key, {getValue}) hit': async (c, from) => {
      const t = now()
      for (let i = from; i < from + CHUNK; i++) if ((await c.get(keys[i], opts)) !== undefined) sink++
      return Number(now() - t) / CHUNK
    }
  }
  const out = {}
  for (const [op, fn] of Object.entries(ops)) {
    const all = { none: [], all: [] }
    const repRatios = []
    // warm-up (JIT) on both sides
    for (let i = 0; i < 200; i++) { await fn(plain, (i * CHUNK) % N_KEYS); await fn(policed, (i * CHUNK) % N_KEYS) }
    for (let r = 0; r < reps; r++) {
      const per = { none: [], all: [] }
      let order = Math.random() < 0.5 ? [['none', plain], ['all', policed]] : [['all', policed], ['none', plain]]
      if (global.gc) global.gc()
      for (let i = 0; i < chunks; i++) {
        const from = (i * CHUNK) % N_KEYS
        for (const [name, c] of order) per[name].push(await fn(c, from))
        order = [order[1], order[0]]
      }
      all.none.push(...per.none)
      all.all.push(...per.all)
      repRatios.push(median(per.all) / median(per.none))
    }
    const row = {}
    for (const name of ['none', 'all']) {
      const s = all[name].sort((a, b) => a - b)
      row[`${name}_p50`] = median(s)
      row[`${name}_p99`] = pct(s, 0.99)
    }
    row.ratio_p50 = row.all_p50 / row.none_p50
    row.ratio_p99 = row.all_p99 / row.none_p99
    repRatios.sort((a, b) => a - b)
    row.rep_ratio_median = median(repRatios)
    row.rep_ratio_min = repRatios[0]
    row.rep_ratio_max = repRatios[repRatios.length - 1]
    out[op] = row
  }
  for (const c of [plain, policed]) {
    const s = c.stats()
    if (s.loads || s.refreshes || s.staleHits) throw new Error('a hit bench reached the slow path: ' + JSON.stringify(s))
  }
  if (sink === 0) throw new Error('no hits')
  return out
}

// ------------------------------------------------------------------ (b) stale-while-revalidate
async function swrRound (side, seconds, callers) {
  const keys = Array.from({ length: SWR_KEYS }, (_, i) => `swr-${i}`)
  const lat = []
  let loads = 0
  let stale = 0
  let waited = 0
  const ttlNs = BigInt(SWR_TTL) * 1_000_000n
  const load = async (key) => {
    loads++
    await sleep(SWR_LOAD)
    return { key, loadedAt: now() }
  }
  let call, stats
  if (side === 'flightcache') {
    const c = new Cache({ ttl: SWR_TTL, staleTtl: SWR_STALE })
    call = (key) => c.get(key, { getValue: load })
    stats = () => { const s = c.stats(); return { stats_stale_hits: s.staleHits, stats_refreshes: s.refreshes, stats_loads: s.loads } }
  } else {
    const c = new LRUCache({
      max: 1000,
      ttl: SWR_TTL,
      allowStale: true,
      noDeleteOnStaleGet: true,
      fetchMethod: (key) => load(key)
    })
    call = (key) => c.fetch(key)
    stats = () => ({})
  }
  for (const k of keys) await call(k) // warm-up: the first load of each key, not timed
  const deadline = now() + BigInt(Math.round(seconds * 1e9))
  const caller = async (offset) => {
    for (let i = offset; ; i++) {
      const t = now()
      const v = await call(keys[i % SWR_KEYS])
      const end = now()
      lat.push(end - t)
      if (end - v.loadedAt > ttlNs) stale++
      if (v.loadedAt > t) waited++
      if (end > deadline) return
      await tick() // let the other callers and the loaders' timers run
    }
  }
  await Promise.all(Array.from({ length: callers }, (_, j) => caller(j)))
  await sleep(SWR_LOAD * 2) // refreshes in flight finish
  lat.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  return {
    calls: lat.length,
    p50_us: Number(pct(lat, 0.5)) / 1000,
    p99_us: Number(pct(lat, 0.99)) / 1000,
    max_us: Number(lat[lat.length - 1]) / 1000,
    over_5ms: lat.filter((x) => x > SLOW_NS).length,
    waited,
    loader_calls: loads,
    stale_serves: stale,
    ...stats()
  }
}

async function swrBench (rounds, seconds, callers) {
  const per = { flightcache: [], 'lru-cache fetch': [] }
  let order = ['flightcache', 'lru-cache fetch']
  for (let r = 0; r < rounds; r++) {
    for (const side of order) per[side].push(await swrRound(side, seconds, callers))
    order = [order[1], order[0]]
  }
  const out = {}
  for (const [side, results] of Object.entries(per)) {
    const row = {}
    for (const k of Object.keys(results[0])) row[k] = median(results.map((r) => r[k]))
    row.max_us = Math.max(...results.map((r) => r.max_us)) // the worst over all rounds
    out[side] = row
  }
  return out
}

// ------------------------------------------------------------------ report
async function main () {
  const [reps, chunks] = QUICK ? [5, 100] : [21, 300]
  const [rounds, seconds, callers] = QUICK ? [2, 1, 4] : [3, 3, 4]
  console.log(`node ${process.version}; flightcache resilience bench`)
  const hits = await hitBench(reps, chunks)
  console.log(`\n(a) hit cost, every policy set vs none (${reps} repetitions x ${chunks} turns of ${CHUNK} hits per side; ns/op)`)
  console.log(`${'operation'.padEnd(32)} ${'none p50'.padStart(9)} ${'all p50'.padStart(9)} ${'ratio'.padStart(6)} ${'none p99'.padStart(9)} ${'all p99'.padStart(9)} ${'ratio'.padStart(6)}   per-rep ratio med [min, max]`)
  for (const [op, r] of Object.entries(hits)) {
    console.log(`${op.padEnd(32)} ${r.none_p50.toFixed(1).padStart(9)} ${r.all_p50.toFixed(1).padStart(9)} ${r.ratio_p50.toFixed(3).padStart(6)} ` +
      `${r.none_p99.toFixed(1).padStart(9)} ${r.all_p99.toFixed(1).padStart(9)} ${r.ratio_p99.toFixed(3).padStart(6)}   ` +
      `${r.rep_ratio_median.toFixed(3)} [${r.rep_ratio_min.toFixed(3)}, ${r.rep_ratio_max.toFixed(3)}]`)
  }
  const ok = Object.values(hits).every((r) => r.ratio_p50 <= 1.05)
  console.log(`hit with policies <= 1.05x without (p50): ${ok ? 'yes' : 'NO'}`)

  const swr = await swrBench(rounds, seconds, callers)
  console.log(`\n(b) stale-while-revalidate: ${SWR_KEYS} keys, TTL ${SWR_TTL} ms, loader ${SWR_LOAD} ms, ${callers} callers, ${seconds} s a round, ${rounds} rounds (medians over rounds; max is the worst of all rounds)`)
  console.log(`${'side'.padEnd(28)} ${'calls'.padStart(8)} ${'p50 us'.padStart(8)} ${'p99 us'.padStart(8)} ${'max us'.padStart(9)} ${'>5ms'.padStart(5)} ${'waited'.padStart(6)} ${'loads'.padStart(6)} ${'stale'.padStart(8)}   core stats`)
  for (const [side, r] of Object.entries(swr)) {
    const extra = 'stats_stale_hits' in r ? `staleHits=${r.stats_stale_hits} refreshes=${r.stats_refreshes} loads=${r.stats_loads}` : ''
    console.log(`${side.padEnd(28)} ${String(r.calls).padStart(8)} ${r.p50_us.toFixed(2).padStart(8)} ${r.p99_us.toFixed(2).padStart(8)} ` +
      `${r.max_us.toFixed(1).padStart(9)} ${String(r.over_5ms).padStart(5)} ${String(r.waited).padStart(6)} ${String(r.loader_calls).padStart(6)} ${String(r.stale_serves).padStart(8)}   ${extra}`)
  }
  if (JSON_OUT) require('node:fs').writeFileSync(JSON_OUT, JSON.stringify({ hits, swr }, null, 1))
  // The cache's sweep timer may keep the process alive.
  process.exit(0)
}

main().catch((e) => { console.error(e); process.exit(1) })
