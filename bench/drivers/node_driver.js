// Instruction-count / timing driver for flightcache's Node binding (issue 8 measurement).
//   node --expose-gc node_driver.js <worktree> MODE N [MAXN]
// Setup and warm-up do not depend on N (key lists are built for MAXN operations), so
// (Ir(2N) - Ir(N)) / N is the cost of one operation, loop included. Prints ns/op.
// MODE: empty, getSync_string, getSync_object, setSync, await_get, await_get_loader_hit,
//       load_fresh (getValue a function), load_fresh_promise (getValue returns a Promise)
'use strict'
const path = require('path')
const { performance } = require('perf_hooks')
const [wt, mode, nArg, maxArg] = process.argv.slice(2)
const { Cache } = require(path.join(wt, 'bindings-node'))
const n = Number(nArg)
const maxn = Number(maxArg || 2_000_000)
const WEEK = 7 * 24 * 3600 * 1000
const BIG_BYTES = 2 ** 40
const N_KEYS = 100_000
const WARM = 200_000
const key16 = (i) => 'k' + String(i).padStart(15, '0')
const value32 = (i) => 'v' + String(i).padStart(31, '0')
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
const cycleTo = (xs, count) => Array.from({ length: count }, (_, i) => xs[i % xs.length])

async function main () {
  let run
  let seq
  if (['empty', 'getSync_string', 'getSync_object', 'await_get', 'await_get_loader_hit'].includes(mode)) {
    const c = new Cache({ maxEntries: 2 * N_KEYS, ttl: WEEK, maxBytes: BIG_BYTES })
    const keys = Array.from({ length: N_KEYS }, (_, i) => key16(i))
    const objects = mode === 'getSync_object'
    for (let i = 0; i < N_KEYS; i++) c.setSync(keys[i], objects ? { i, name: value32(i) } : value32(i))
    seq = cycleTo(shuffled(keys), WARM + maxn)
    let misses = 0
    if (mode === 'empty') {
      const m = new Map()
      run = async (from, to) => { for (let i = from; i < to; i++) if (m.get(seq[i]) !== undefined) misses++ }
    } else if (mode.startsWith('getSync')) {
      run = async (from, to) => { for (let i = from; i < to; i++) if (c.getSync(seq[i]) === undefined) misses++ }
    } else if (mode === 'await_get') {
      run = async (from, to) => { for (let i = from; i < to; i++) if ((await c.get(seq[i])) === undefined) misses++ }
    } else {
      const never = () => { throw new Error('loader called on a hit') }
      run = async (from, to) => { for (let i = from; i < to; i++) if ((await c.get(seq[i], { getValue: never })) === undefined) misses++ }
    }
    const r = run
    run = async (from, to) => { await r(from, to); if (misses && mode !== 'empty') throw new Error(`${misses} misses`) }
  } else if (mode === 'setSync') {
    const c = new Cache({ maxEntries: N_KEYS, ttl: WEEK, maxBytes: BIG_BYTES })
    seq = Array.from({ length: WARM + maxn }, (_, i) => key16(i))
    const values = Array.from({ length: 1000 }, (_, i) => value32(i))
    run = async (from, to) => { for (let i = from; i < to; i++) c.setSync(seq[i], values[i % 1000]) }
  } else if (mode === 'load_fresh' || mode === 'load_fresh_promise') {
    // Keys never seen before, bound 100k (so once warm, each load also evicts).
    const c = new Cache({ maxEntries: N_KEYS, ttl: WEEK, maxBytes: BIG_BYTES })
    seq = Array.from({ length: WARM + maxn }, (_, i) => 'm' + String(i).padStart(15, '0'))
    const v = value32(7)
    const fn = mode === 'load_fresh' ? () => v : () => Promise.resolve(v)
    let loads = 0
    const getValue = () => { loads++; return fn() }
    run = async (from, to) => {
      const before = loads
      for (let i = from; i < to; i++) if ((await c.get(seq[i], { getValue })) !== v) throw new Error('wrong value')
      if (loads - before !== to - from) throw new Error('not a load each time')
    }
  } else throw new Error(`unknown mode ${mode}`)
  await run(0, WARM)
  global.gc()
  const t = performance.now()
  await run(WARM, WARM + n)
  const dt = performance.now() - t
  console.log(`${mode} n=${n} ${(dt * 1e6 / n).toFixed(1)} ns/op`)
}
main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1) })
