// Keyv's own shared adapter suite (@keyv/test-suite 2.1.2, for keyv 5: the Keyv that
// cache-manager 7 uses) against flightcache/keyv, in memory or (ADAPTER_STORE=sqlite) with a
// SQLite store behind the cache. Run by mk/adapters.mk.
import * as test from 'vitest'
import keyvTestSuite, { keyvIteratorTests } from '@keyv/test-suite'
import Keyv from 'keyv'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { KeyvFlightcache } from 'flightcache/keyv'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flightcache-keyv-'))
let n = 0
function options () {
  if (process.env.ADAPTER_STORE === 'sqlite') return { store: `sqlite://${dir}/keyv-${process.pid}.db` }
  return {}
}

// In memory, one cache shared by the suite's stores (its namespace tests need two Keyv on
// one store); with SQLite, a cache per store on one file, as separate processes would be.
const shared = new KeyvFlightcache(options()).cache
const store = () => {
  n++
  return process.env.ADAPTER_STORE === 'sqlite' ? new KeyvFlightcache(options()) : new KeyvFlightcache(shared)
}

keyvTestSuite(test, Keyv, store)
keyvIteratorTests(test, Keyv, store)
