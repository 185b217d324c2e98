// make node-bench: flightcache side by side with the Node caches people use, in one run.
// Every (library, workload) runs in its own process (worker.js), so that one library's
// garbage and JIT state never weigh on another's numbers. Prints a table of medians and
// the ratios the targets are stated in; writes bench-results/node.json at the repo root.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
const LIBS = ['flightcache', 'lru-cache', 'lru-cache (max only)', 'lru.min', 'quick-lru', 'cache-manager', 'cacheable', 'async-cache-dedupe']
// Timing workloads run in this many processes each; the table shows the median of their medians.
const PROCESSES = Number(process.env.BENCH_PROCESSES || 3)

function run (lib, workload) {
  const out = execFileSync(process.execPath, ['--expose-gc', path.join(here, 'worker.js'), lib, workload],
    { encoding: 'utf8', timeout: 600_000, stdio: ['ignore', 'pipe', 'inherit'] })
  return JSON.parse(out.trim().split('\n').pop())
}

function median (xs) {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}

const results = {}
function record (lib, row, value) {
  (results[row] ||= {})[lib] = value
}

const timed = [
  ['getSync-string', 'getSync hit, string values (ns/op)'],
  ['getSync-object', 'getSync hit, object values (ns/op)'],
  ['await-get', 'await get hit (ns/op)'],
  ['set-evict', 'set with eviction, bound 100k, 1M keys (ns/op)']
]
// The libraries take turns, one process each per round: this machine's speed drifts over
// minutes, and a library whose processes all ran in one stretch took that stretch's speed.
for (const [workload, row] of timed) {
  const runs = {}
  const skip = {}
  for (let p = 0; p < PROCESSES; p++) {
    for (const lib of LIBS) {
      if (skip[lib]) continue
      const r = run(lib, workload)
      if (r.na || r.error) {
        skip[lib] = r.na ? 'n/a' : `error: ${r.error}`
        continue
      }
      (runs[lib] ||= []).push(r.ns)
    }
  }
  for (const lib of LIBS) {
    record(lib, row, skip[lib] ?? median(runs[lib]))
    process.stderr.write(`${workload} ${lib}: ${JSON.stringify(results[row][lib])} (processes: ${JSON.stringify(runs[lib] || [])})\n`)
  }
}

for (const lib of LIBS) {
  const r = run(lib, 'memory')
  process.stderr.write(`memory ${lib}: ${JSON.stringify(r)}\n`)
  const ok = r.present === 1
  record(lib, 'heap + external bytes per entry (1M entries)', ok ? r.heapExternalPerEntry : `only ${(r.present * 100).toFixed(0)}% kept`)
  record(lib, 'RSS bytes per entry (1M entries)', ok ? r.rssPerEntry : 'n/a')
  record(lib, 'full global.gc() with 1M entries (ms)', r.gcMs)
}

for (const lib of LIBS) {
  const r = run(lib, 'single-flight')
  process.stderr.write(`single-flight ${lib}: ${JSON.stringify(r)}\n`)
  record(lib, 'single-flight, 1000 callers: loads per key', r.na ? 'n/a' : r.error ? `error: ${r.error}` : r.loadsPerKey)
  record(lib, 'single-flight, 1000 callers, 50 ms loader (ms)', r.na ? 'n/a' : r.error ? 'error' : r.ms)
}

// ---------------------------------------------------------------- the table

function fmt (v) {
  if (typeof v !== 'number') return v
  if (v >= 100) return v.toFixed(0)
  if (v >= 10) return v.toFixed(1)
  return v.toFixed(2)
}
function ratio (row, other) {
  const a = results[row].flightcache
  const b = results[row][other]
  return typeof a === 'number' && typeof b === 'number' && b > 0 ? `${(a / b).toFixed(2)}x` : '-'
}

const header = ['', ...LIBS, 'fc / lru-cache', 'fc / cache-manager']
const rows = Object.keys(results).map((row) => [row, ...LIBS.map((l) => fmt(results[row][l] ?? '-')),
  ratio(row, 'lru-cache'), ratio(row, 'cache-manager')])
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)))
const line = (cells) => cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join(' | ')
console.log(`\nflightcache Node benchmark (node ${process.version}; medians; timing rows: median of ${PROCESSES} processes x several repetitions, the libraries taking turns)\n`)
console.log(line(header))
console.log(widths.map((w) => '-'.repeat(w)).join('-|-'))
for (const r of rows) console.log(line(r))

// ---------------------------------------------------------------- targets

const R = (row) => results[row]
const targets = [
  ['getSync hit (strings) <= 1.5x lru-cache (ttl and max)', R('getSync hit, string values (ns/op)'), 'lru-cache', 1.5],
  ['getSync hit (objects) <= 1.5x lru-cache (ttl and max)', R('getSync hit, object values (ns/op)'), 'lru-cache', 1.5],
  ['stretch: getSync hit (strings) <= 1.0x lru-cache (max only)', R('getSync hit, string values (ns/op)'), 'lru-cache (max only)', 1],
  ['stretch: getSync hit (objects) <= 1.0x lru-cache (max only)', R('getSync hit, object values (ns/op)'), 'lru-cache (max only)', 1],
  ['await get hit <= 0.5x cache-manager', R('await get hit (ns/op)'), 'cache-manager', 0.5],
  // flightcache keeps entries outside the V8 heap: its heap + external figure is ~0 and
  // means nothing; its RSS counts all of its memory. Compared with lru-cache's heap +
  // external (its objects without V8's reserve), the stricter of lru-cache's two figures.
  ['bytes per entry <= lru-cache (flightcache RSS vs lru-cache heap + external)',
    { flightcache: R('RSS bytes per entry (1M entries)').flightcache, 'lru-cache': R('heap + external bytes per entry (1M entries)')['lru-cache'] }, 'lru-cache', 1],
  ['bytes per entry <= lru-cache (RSS vs RSS)', R('RSS bytes per entry (1M entries)'), 'lru-cache', 1],
  ['full GC with 1M entries <= 0.25x lru-cache', R('full global.gc() with 1M entries (ms)'), 'lru-cache', 0.25]
]
console.log('\ntargets:')
for (const [name, row, other, limit] of targets) {
  const a = row.flightcache
  const b = row[other]
  const r = a / b
  console.log(`  ${r <= limit ? 'met    ' : 'NOT met'}  ${name}: ${fmt(a)} vs ${fmt(b)} = ${r.toFixed(2)}x`)
}
const loads = R('single-flight, 1000 callers: loads per key').flightcache
console.log(`  ${loads === 1 ? 'met    ' : 'NOT met'}  one load per key with 1000 callers: ${loads}`)

const outDir = path.resolve(here, '..', '..', 'bench-results')
fs.mkdirSync(outDir, { recursive: true })
fs.writeFileSync(path.join(outDir, 'node.json'), JSON.stringify({ node: process.version, results }, null, 2))
