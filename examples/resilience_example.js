// Resilience policies: a token refreshed ahead of its expiry, a failing API answered from the
// last good value, and the "Cached" badge. A ManualClock stands in for time passing.
const assert = require('node:assert')
const { Cache, ManualClock } = require('flightcache')

async function main () {
  const clock = new ManualClock()
  const cache = new Cache({ clock, ttl: 60_000, refreshAhead: 0.8, staleIfError: 600_000 })

  let issued = 0
  const fetchToken = async () => `token-${++issued}`

  // refreshAhead: a hit after 80% of the TTL returns the token at once and fetches the next
  // one in the background, so a hot key never expires and no caller waits for the token API.
  assert.equal(await cache.get('token', { getValue: fetchToken }), 'token-1')
  clock.advance(50_000)
  assert.equal(await cache.get('token', { getValue: fetchToken }), 'token-1')
  await new Promise((resolve) => setImmediate(resolve)) // the refresh runs on the event loop
  assert.equal(cache.getSync('token'), 'token-2')

  // staleIfError: when the API fails, callers get the last good value (within 10 minutes of
  // its expiry) instead of the error; the failure is counted, and for a second
  // (failSafeBackoff) nobody calls the API again.
  const ratesApiDown = async () => { throw new Error('rates API unreachable') }
  await cache.get('rates', { getValue: async () => ({ EUR: 0.92 }) })
  clock.advance(61_000)
  assert.deepStrictEqual(await cache.get('rates', { getValue: ratesApiDown }), { EUR: 0.92 })

  // getEntry: the value with how it was served, what a platform shows as a "Cached" badge.
  const entry = await cache.getEntry('rates', { getValue: ratesApiDown })
  const badge = entry.status === 'loaded' ? 'Live' : 'Cached'
  console.log(`${badge}: ${JSON.stringify(entry.value)} (${entry.status} from ${entry.source}, ${entry.ageMs} ms old)`)
  const s = cache.stats()
  console.log(`load errors ${s.loadErrors}, stale hits ${s.staleHits}, refreshes ${s.refreshes}`)
}

main()
