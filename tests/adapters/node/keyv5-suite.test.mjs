// Keyv's own shared adapter suite (@keyv/test-suite 2.1.2, for keyv 5: the Keyv that
// cache-manager 7 uses) against flightcache/keyv, in memory or with the store ADAPTER_STORE
// names (sqlite, redis) behind the cache. Run by mk/adapters.mk.
import * as test from 'vitest'
import keyvTestSuite, { keyvIteratorTests } from '@keyv/test-suite'
import Keyv from 'keyv'
import { KeyvFlightcache } from 'flightcache/keyv'
import { kind, sharedOptions } from './stores.mjs'

// In memory, one cache shared by the suite's stores (its namespace tests need two Keyv on
// one store); with a store, a cache per store on the run's one store, as separate processes
// would be.
const shared = new KeyvFlightcache(sharedOptions()).cache
const store = () => kind === 'memory' ? new KeyvFlightcache(shared) : new KeyvFlightcache(sharedOptions())

keyvTestSuite(test, Keyv, store)
keyvIteratorTests(test, Keyv, store)
