const { Cache } = require('flightcache')

// Stands in for a call to a third-party API.
async function authenticate () {
  return { token: 'secret-token' }
}

async function main () {
  const cache = new Cache({ maxEntries: 10_000, ttl: 7 * 24 * 3600 * 1000 })

  // Loaded once, however many callers ask at the same time; then served from the cache.
  const token = await cache.get('token', { ttl: 60_000, getValue: () => authenticate().then((d) => d.token) })
  console.log('token:', token)                              // token: secret-token
  console.log('stored:', await cache.set('token', token, { ttl: 60_000 })) // stored: true
  console.log('hit:', cache.getSync('token'))                 // hit: secret-token
  console.log('deleted:', await cache.del('token'))           // deleted: true
  console.log('stats:', cache.stats().hits, 'hit,', cache.stats().loads, 'load')
}

main()
