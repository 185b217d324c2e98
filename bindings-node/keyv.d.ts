import { EventEmitter } from 'node:events'
import { Cache, CacheOptions } from './index.js'

/**
 * A Keyv storage adapter on flightcache, for keyv 5 and keyv 6:
 * `new Keyv({ store: new KeyvFlightcache({ store: 'redis://127.0.0.1:6379/0' }) })`.
 */
export class KeyvFlightcache extends EventEmitter {
  /** An existing flightcache `Cache`, or the `Cache` constructor's options. */
  constructor(cacheOrOptions?: Cache | CacheOptions)
  readonly cache: Cache
  /** Read by keyv 5 (whether the store iterates); from then on the adapter takes keyv 5's
   * prefixed keys and relative ttls. Used directly or by keyv 6: bare keys, absolute expiries. */
  readonly opts: { dialect: 'flightcache'; url: string }
  /** Set by Keyv; any text (`app:v1` too). */
  namespace: string | undefined
  /** Keyv 6 reads this: the adapter takes absolute expiries (`expires: true`). */
  readonly capabilities: {
    compatible: true
    store: 'keyvStorage'
    methods: Record<string, { exists: true; methodType: 'async' }>
    expires: true
  }
  get<T = unknown>(key: string): Promise<T | undefined>
  getMany<T = unknown>(keys: string[]): Promise<Array<T | undefined>>
  /** keyv 5 passes a ttl (ms), keyv 6 an absolute expiry (epoch ms); none: never expires. */
  set(key: string, value: unknown, ttlOrExpires?: number): Promise<boolean>
  setMany(entries: Array<{ key: string; value: unknown; ttl?: number; expires?: number }>): Promise<boolean[]>
  delete(key: string): Promise<boolean>
  /** keyv 6: one boolean per key; keyv 5: whether every key was deleted. */
  deleteMany(keys: string[]): Promise<boolean[] | boolean>
  has(key: string): Promise<boolean>
  hasMany(keys: string[]): Promise<boolean[]>
  /** Removes the keys of this adapter's namespace only. */
  clear(): Promise<void>
  iterator(namespace?: string): AsyncGenerator<[string, unknown], void>
  disconnect(): Promise<void>
}

export default KeyvFlightcache
