// Runs the suites with vitest's JSON reporter, prints "SUITE (STORE): N passed, N failed,
// N skipped" for each and fails on any failure that tests/adapters/README.md does not list,
// and when a suite did not run at all.
//
//   node run.mjs memory|sqlite|redis     (redis: ADAPTER_REDIS_URL names the server)
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

const store = process.argv[2] || 'memory'
if (!['memory', 'sqlite', 'redis'].includes(store)) throw new Error(`unknown store ${store}`)

// Each test file belongs to one suite.
const SUITES = [
  ['@keyv/test-suite 2.1.2 on keyv 5.6.0', (f) => f === 'keyv5-suite.test.mjs'],
  ['keyv 6 suite on keyv 6.1.0', (f) => f === 'keyv6-suite.test.mjs'],
  ['cache-manager 7.2.9 tests', (f) => f.startsWith('vendor/cache-manager/test/')],
  ['our keyv 6 / cache-manager checks', (f) => f === 'keyv6-cache-manager.test.mjs']
]

// keyv 5 gives `keyv.iterator` only to stores whose opts.dialect or opts.url names one of
// its listed databases (sqlite, postgres, mysql, mongo, redis, valkey, etcd): with a
// sqlite:// or redis:// URL it does, in memory it does not, and the adapter does not claim a
// dialect it is not.
const NO_ITERATOR = 'keyv 5 wires iterator() only for its listed dialects; in memory the adapter claims none'
// cache-manager's own tests time real sleeps (TTLs, refresh thresholds) and non-blocking
// writes against the stores' answers; with a store behind a network round trip, on a loaded
// machine, one of them fails now and then (seen with Redis: 'clear should be non-blocking',
// 'should respect refreshAllStores'; with SQLite, whose writes also go through the store's
// runtime thread: 'del should be non-blocking'). With a store, a failure of one of those
// tests is reported and tolerated; any other failure fails the run. They are found in the
// vendored source (a test whose body calls sleep or setTimeout, or sets nonBlocking), not
// listed by hand, and every one of them must pass in memory, where a write lands at once.
function wallClockTests () {
  const dir = path.join(path.dirname(new URL(import.meta.url).pathname), 'vendor/cache-manager/test')
  const titles = new Set()
  for (const f of fs.readdirSync(dir).filter((f) => f.endsWith('.test.ts'))) {
    const src = fs.readFileSync(path.join(dir, f), 'utf8')
    const its = [...src.matchAll(/\bit\((["'`])(.*?)\1/g)]
    its.forEach((m, i) => {
      const body = src.slice(m.index, i + 1 < its.length ? its[i + 1].index : src.length)
      if (/sleep\(|setTimeout|nonBlocking/.test(body)) titles.add(m[2])
    })
  }
  return titles
}
const WALL_CLOCK = 'times real sleeps or a non-blocking write against a store written asynchronously: tolerated with a store, required in memory'

const KNOWN = {
  memory: {
    '@keyv/test-suite 2.1.2 on keyv 5.6.0': {
      '.iterator() returns an asyncIterator': NO_ITERATOR,
      'iterator() iterates over all values': NO_ITERATOR,
      "iterator() doesn't yield values from other namespaces": NO_ITERATOR,
      "iterator() doesn't yield expired values, and deletes them": NO_ITERATOR
    }
  },
  sqlite: {
    'cache-manager 7.2.9 tests': Object.fromEntries([...wallClockTests()].map((t) => [t, WALL_CLOCK]))
  },
  redis: {
    'cache-manager 7.2.9 tests': Object.fromEntries([...wallClockTests()].map((t) => [t, WALL_CLOCK]))
  }
}

const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'vitest-')), 'r.json')
try {
  execFileSync(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', '--reporter=json', `--outputFile=${out}`],
    { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, ADAPTER_STORE: store } })
} catch {}
const r = JSON.parse(fs.readFileSync(out, 'utf8'))
const here = path.dirname(new URL(import.meta.url).pathname)
const results = new Map(SUITES.map(([name]) => [name, []]))
let unexpected = 0
for (const file of r.testResults) {
  const rel = path.relative(here, file.name)
  const suite = SUITES.find(([, has]) => has(rel))
  if (!suite) { console.log(`${rel}: not part of any suite`); unexpected++; continue }
  // A file that failed to load has no tests: that is a failure of its own.
  if (file.assertionResults.length === 0) {
    console.log(`${rel} (${store}): ran no tests\n${file.message || ''}`)
    unexpected++
  }
  results.get(suite[0]).push(...file.assertionResults)
}
for (const [name, tests] of results) {
  const passed = tests.filter((t) => t.status === 'passed').length
  const failed = tests.filter((t) => t.status === 'failed')
  const skipped = tests.length - passed - failed.length
  console.log(`${name} (${store}): ${passed} passed, ${failed.length} failed, ${skipped} skipped`)
  if (tests.length === 0) { console.log('  no tests ran'); unexpected++ }
  const known = (KNOWN[store] || {})[name] || {}
  for (const t of failed) {
    const why = known[t.title]
    console.log(`  failed: ${t.title}${why ? `  (known: ${why})` : ''}`)
    if (!why) { unexpected++; console.log(t.failureMessages.join('\n')) }
  }
  for (const t of tests.filter((t) => t.status !== 'passed' && t.status !== 'failed')) {
    console.log(`  skipped: ${t.title} (${t.status})`)
  }
}
process.exit(unexpected ? 1 : 0)
