// flightcache/keyv behind keyv 6 (absolute expiries, bare keys, namespaces with ':') and
// behind cache-manager 7 (keyv 5 underneath), in memory or with the store ADAPTER_STORE
// names (sqlite, redis). Run by mk/adapters.mk next to Keyv's own suite.
import { describe, expect, test } from 'vitest'
import Keyv5 from 'keyv'
import { Keyv as Keyv6 } from 'keyv6'
import { createCache } from 'cache-manager'
import { KeyvFlightcache } from 'flightcache/keyv'
import { ownOptions as options } from './stores.mjs'
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

describe('keyv 6', () => {
  test('uses the adapter directly, with absolute expiries', async () => {
    const store = new KeyvFlightcache(options())
    const keyv = new Keyv6({ store, namespace: 'app:v1' })
    expect(keyv.store).toBe(store)
    expect(store.capabilities.expires).toBe(true)
    expect(await keyv.set('a', { n: 1 }, 150)).toBe(true)
    expect(await keyv.get('a')).toEqual({ n: 1 })
    expect(await keyv.has('a')).toBe(true)
    await sleep(200)
    expect(await keyv.get('a')).toBeUndefined()
    expect(await keyv.set('forever', 1)).toBe(true)
    expect(await store.cache.namespace('k.app%3Av1').remainingTtl('forever')).toBe(Infinity)
  })

  test('namespaces with ":" do not collide, and clear stays in its namespace', async () => {
    const store = new KeyvFlightcache(options())
    const outer = new Keyv6({ store: new KeyvFlightcache(store.cache), namespace: 'app' })
    const inner = new Keyv6({ store: new KeyvFlightcache(store.cache), namespace: 'app:v1' })
    await outer.set('v1:x', 'outer')
    await inner.set('x', 'inner')
    expect(await outer.get('v1:x')).toBe('outer')
    expect(await inner.get('x')).toBe('inner')
    await inner.clear()
    expect(await inner.get('x')).toBeUndefined()
    expect(await outer.get('v1:x')).toBe('outer')
  })

  test('the *Many methods and the iterator', async () => {
    const keyv = new Keyv6({ store: new KeyvFlightcache(options()), namespace: 'm' })
    expect(await keyv.setMany([{ key: 'a', value: 1 }, { key: 'b', value: 2 }])).toEqual([true, true])
    expect(await keyv.getMany(['a', 'b', 'c'])).toEqual([1, 2, undefined])
    expect(await keyv.hasMany(['a', 'c'])).toEqual([true, false])
    const seen = []
    for await (const [k, v] of keyv.iterator()) seen.push([k, v])
    expect(seen.sort()).toEqual([['a', 1], ['b', 2]])
    expect(await keyv.deleteMany(['a', 'c'])).toEqual([true, false])
    expect(await keyv.get('a')).toBeUndefined()
  })
})

describe('cache-manager 7', () => {
  test('a flightcache Keyv store behind createCache', async () => {
    const keyv = new Keyv5({ store: new KeyvFlightcache(options()) })
    const cache = createCache({ stores: [keyv] })
    expect(await cache.set('k', 'v', 150)).toBe('v')
    expect(await cache.get('k')).toBe('v')
    expect(await cache.mget(['k', 'none'])).toEqual(['v', undefined])
    let calls = 0
    const fn = async () => { calls++; return 42 }
    expect(await cache.wrap('w', fn)).toBe(42)
    expect(await cache.wrap('w', fn)).toBe(42)
    expect(calls).toBe(1)
    await sleep(200)
    expect(await cache.get('k')).toBeUndefined()
    expect(await cache.del('w')).toBe(true)
    await cache.clear()
  })
})
