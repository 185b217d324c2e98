// keyv's own suite for keyv 6 (vendor/keyv-test-suite: the Keyv-wrapper tests, the iterator
// tests and the storage-adapter tests, as keyv's storage adapters run them) against
// flightcache/keyv on keyv 6.1.0, in memory or with the store ADAPTER_STORE names.
import { it } from 'vitest'
import { Keyv } from 'keyv6'
import { KeyvFlightcache } from 'flightcache/keyv'
import { keyvApiTests } from './vendor/keyv-test-suite/src/api.ts'
import { keyvValueTests } from './vendor/keyv-test-suite/src/values.ts'
import { keyvNamespaceTests } from './vendor/keyv-test-suite/src/namespace.ts'
import { keyvIteratorTests } from './vendor/keyv-test-suite/src/iterator.ts'
import { storageBasicTests } from './vendor/keyv-test-suite/src/storage-basic.ts'
import { storageBatchTests } from './vendor/keyv-test-suite/src/storage-batch.ts'
import { storageIteratorTests } from './vendor/keyv-test-suite/src/storage-iterator.ts'
import { storageTtlTests } from './vendor/keyv-test-suite/src/storage-ttl.ts'
import { storageNamespaceTests } from './vendor/keyv-test-suite/src/storage-namespace.ts'
import { storageDisconnectTests } from './vendor/keyv-test-suite/src/storage-disconnect.ts'
import { kind, sharedOptions } from './stores.mjs'

// In memory, one cache shared by the suite's stores (its namespace tests need two Keyv on
// one store); with a store, a cache per store on the run's one store, as separate processes
// would be.
const shared = new KeyvFlightcache(sharedOptions()).cache
const store = () => kind === 'memory' ? new KeyvFlightcache(shared) : new KeyvFlightcache(sharedOptions())

// keyvTestSuite and storageTestSuite of the suite's index.ts, group by group.
keyvApiTests(it, Keyv, store)
keyvValueTests(it, Keyv, store)
keyvNamespaceTests(it, Keyv, store)
keyvIteratorTests(it, Keyv, store)
storageBasicTests(it, store)
storageBatchTests(it, store)
storageIteratorTests(it, store)
storageTtlTests(it, store)
storageNamespaceTests(it, store)
storageDisconnectTests(it, store)
