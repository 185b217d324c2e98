// What a Node hit could cost if it never crossed into native code: lru-cache's get beside
// a JS Map lookup shaped like a JS-side index of the cache's entries (value, deadline,
// generation slot), once with the time read per hit (flightcache's exact expiry) and once
// with a time read earlier (lru-cache's `ttlResolution`). Not part of `make bench`: it
// measures a design flightcache does not have (see the README's performance notes).
//
//   cd bench/node && npm install && node near_probe.mjs
import { createRequire } from 'node:module'
import { performance } from 'node:perf_hooks'

const require = createRequire(import.meta.url)
const { LRUCache } = require('lru-cache')

const N = 100_000
const WEEK = 7 * 24 * 3600 * 1000
const keys = Array.from({ length: N }, (_, i) => 'k' + String(i).padStart(15, '0'))
const value = (i) => 'v' + String(i).padStart(31, '0')

// The same shuffle as worker.js's getSync workloads.
const order = [...keys]
let seed = 42
for (let i = N - 1; i > 0; i--) {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff
  const j = seed % (i + 1);
  [order[i], order[j]] = [order[j], order[i]]
}

const lru = new LRUCache({
  max: 2 * N,
  ttl: WEEK,
  maxSize: 2 ** 40,
  sizeCalculation: (v, k) => v.length + k.length
})
for (let i = 0; i < N; i++) lru.set(keys[i], value(i))

const generations = new Int32Array(4096)
const index = new Map()
for (let i = 0; i < N; i++) {
  index.set(keys[i], { value: value(i), deadline: performance.now() + WEEK, slot: i & 4095, generation: 0 })
}
let hits = 0
let earlier = performance.now()
function indexGet (k, now) {
  const e = index.get(k)
  if (e !== undefined && e.deadline > now && generations[e.slot] === e.generation) {
    hits++
    return e.value
  }
  return undefined
}

function nsPerHit (get) {
  const reps = []
  for (let r = 0; r < 9; r++) {
    const t = performance.now()
    for (let p = 0; p < 5; p++) {
      for (let i = 0; i < N; i++) if (get(order[i]) === undefined) throw new Error('miss')
    }
    reps.push((performance.now() - t) * 1e6 / (5 * N))
  }
  reps.sort((a, b) => a - b)
  return reps[4]
}

const rounds = []
for (let round = 0; round < 3; round++) {
  const a = nsPerHit((k) => lru.get(k))
  const b = nsPerHit((k) => indexGet(k, earlier))
  const c = nsPerHit((k) => indexGet(k, performance.now()))
  earlier = performance.now()
  rounds.push([a, b, c])
  console.log(`round ${round + 1}: lru-cache ${a.toFixed(1)} ns, JS index with an earlier time ` +
    `${b.toFixed(1)} (${(b / a).toFixed(2)}x), with the time read per hit ${c.toFixed(1)} (${(c / a).toFixed(2)}x)`)
}
const med = (i) => rounds.map((r) => r[i]).sort((x, y) => x - y)[1]
console.log(`medians: lru-cache ${med(0).toFixed(1)}, earlier time ${med(1).toFixed(1)}, time per hit ${med(2).toFixed(1)} ns (${hits} index hits)`)
