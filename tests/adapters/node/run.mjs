// Runs the suites with vitest's JSON reporter, prints "keyv (STORE): N passed, N failed,
// N skipped" and fails on any failure that tests/adapters/README.md does not list.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

const store = process.argv[2] || 'memory'
// keyv 5 gives `keyv.iterator` only to stores whose opts.dialect or opts.url names one of
// its listed databases (sqlite, postgres, mysql, mongo, redis, valkey, etcd): with a
// sqlite:// URL it does, in memory it does not, and the adapter does not claim a dialect
// it is not.
const NO_ITERATOR = 'keyv 5 wires iterator() only for its listed dialects; in memory the adapter claims none'
const KNOWN = {
  memory: {
    '.iterator() returns an asyncIterator': NO_ITERATOR,
    'iterator() iterates over all values': NO_ITERATOR,
    "iterator() doesn't yield values from other namespaces": NO_ITERATOR,
    "iterator() doesn't yield expired values, and deletes them": NO_ITERATOR
  },
  sqlite: {}
}

const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'vitest-')), 'r.json')
try {
  execFileSync(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', '--reporter=json', `--outputFile=${out}`],
    { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, ADAPTER_STORE: store } })
} catch {}
const r = JSON.parse(fs.readFileSync(out, 'utf8'))
const known = KNOWN[store]
let unexpected = 0
for (const file of r.testResults) {
  const passed = file.assertionResults.filter((t) => t.status === 'passed').length
  const failed = file.assertionResults.filter((t) => t.status === 'failed')
  const skipped = file.assertionResults.length - passed - failed.length
  console.log(`${path.basename(file.name)} (${store}): ${passed} passed, ${failed.length} failed, ${skipped} skipped`)
  for (const t of failed) {
    const why = known[t.title]
    console.log(`  failed: ${t.title}${why ? `  (known: ${why})` : ''}`)
    if (!why) { unexpected++; console.log(t.failureMessages.join('\n')) }
  }
}
if (r.numTotalTests === 0 || r.testResults.length < 2) unexpected++
process.exit(unexpected ? 1 : 0)
