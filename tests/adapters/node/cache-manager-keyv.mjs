// What cache-manager's own test files (vendor/cache-manager/test) import as `keyv`: keyv 5's
// Keyv, whose store is a flightcache/keyv adapter unless the test gives one, so that every
// `new Keyv()` of those tests is a flightcache store (a cache of its own, memory or a store
// per ADAPTER_STORE).
import { Keyv as Keyv5 } from 'keyv'
import { KeyvFlightcache } from 'flightcache/keyv'
import { ownOptions } from './stores.mjs'

export class Keyv extends Keyv5 {
  constructor (options) {
    const opts = options ?? {}
    super(opts.store ? opts : { ...opts, store: new KeyvFlightcache(ownOptions()) })
  }
}

export default Keyv
