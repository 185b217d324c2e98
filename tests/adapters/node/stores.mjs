// The flightcache Cache options the suites' stores use, for ADAPTER_STORE = memory | sqlite |
// redis. With redis, ADAPTER_REDIS_URL, else CONFORMANCE_STORE (redis://127.0.0.1:PORT/0: the
// loopback server that tests/stores/redis_server.py starts for the run), names the server.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

export const kind = process.env.ADAPTER_STORE || 'memory'
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flightcache-adapters-'))
let files = 0
let dbs = 0

function redisUrl (db) {
  // tests/stores/redis_server.py names its server in CONFORMANCE_STORE.
  const url = process.env.ADAPTER_REDIS_URL || process.env.CONFORMANCE_STORE
  if (!url) throw new Error('ADAPTER_STORE=redis needs ADAPTER_REDIS_URL (mk/adapters.mk sets it)')
  return db === undefined ? url : url.replace(/\/\d*$/, `/${db}`)
}

/** Options of a cache on the run's one store (one SQLite file, Redis database 0). */
export function sharedOptions () {
  if (kind === 'sqlite') return { store: `sqlite://${dir}/shared.db` }
  if (kind === 'redis') return { store: redisUrl() }
  return {}
}

/**
 * Options of a cache with a store of its own, where a suite needs separate stores (such as
 * cache-manager's two-tier tests): a new SQLite file; one of Redis databases 1..15 in turn
 * (each test uses a handful of stores at once, with random keys).
 */
export function ownOptions () {
  if (kind === 'sqlite') return { store: `sqlite://${dir}/own-${files++}.db` }
  if (kind === 'redis') return { store: redisUrl(1 + (dbs++ % 15)) }
  return {}
}
