// The documented handler, run the way a platform runs it: many invocations, one cache.
// `make demo` (or `node examples/handler.js`) prints what a user sees.
//
// In your project: const { Cache, ManualClock } = require('flightcache')
const { Cache, ManualClock } = require('../bindings-node')

let authentications = 0
// Stands in for the third-party login: 50 ms of network, then a fresh token.
async function authenticate () {
  const n = ++authentications
  await new Promise((resolve) => setTimeout(resolve, 50))
  return { token: `token-${n}` }
}

// The handler exactly as the platform documents it.
async function handler ({ payload, secrets, cache }) {
  const token = await cache.get('token', { ttl: 60 * 1000, getValue: authenticate().then(d => d.token) })
  return { status: 200, body: `called ${payload.endpoint} with ${token}` }
}

// The same with getValue as a function: authenticate() runs only when the token is missing.
async function lazyHandler ({ payload, cache }) {
  const token = await cache.get('token', { ttl: 60 * 1000, getValue: () => authenticate().then(d => d.token) })
  return { status: 200, body: `called ${payload.endpoint} with ${token}` }
}

async function main () {
  const clock = new ManualClock() // lets the demo show expiry without waiting a minute
  const cache = new Cache({ maxEntries: 10_000, ttl: 7 * 24 * 3600 * 1000, clock })
  const invoke = (h, n) => Promise.all(Array.from({ length: n }, (_, i) =>
    h({ payload: { endpoint: `/items/${i}` }, secrets: {}, cache })))

  console.log('1. 100 concurrent invocations of the documented handler (getValue: a Promise)')
  let responses = await invoke(handler, 100)
  let tokens = new Set(responses.map((r) => r.body.split(' with ')[1]))
  console.log(`   every response used the same token: ${[...tokens].join(', ')}`)
  console.log(`   authenticate() was started ${authentications} times: the argument is evaluated before`)
  console.log('   get() is called; only the first one\'s token was used and cached.')

  console.log('2. 100 more invocations: all hits')
  const before = cache.stats()
  responses = await invoke(lazyHandler, 100)
  const after = cache.stats()
  console.log(`   hits +${after.hits - before.hits}, misses +${after.misses - before.misses}, ` +
    `loads +${after.loads - before.loads}; token ${responses[0].body.split(' with ')[1]}, ` +
    `expires in ${cache.remainingTtl('token') / 1000} s`)

  console.log('3. one minute later the token has expired')
  clock.advance(60 * 1000)
  console.log(`   cache.has('token') = ${cache.has('token')}`)
  const started = authentications
  responses = await invoke(lazyHandler, 100)
  tokens = new Set(responses.map((r) => r.body.split(' with ')[1]))
  console.log(`   100 concurrent invocations (getValue: a function): authenticate() ran ${authentications - started} time,`)
  console.log(`   all got ${[...tokens].join(', ')}`)

  console.log('4. set and del, as documented')
  console.log(`   await cache.set('token', 'manual', { ttl: 1000 }) -> ${await cache.set('token', 'manual', { ttl: 1000 })}`)
  console.log(`   await cache.get('token') -> ${await cache.get('token')}`)
  console.log(`   await cache.del('token') -> ${await cache.del('token')}`)
  console.log(`   await cache.get('token') -> ${await cache.get('token')}`)
  const s = cache.stats()
  console.log(`stats: ${JSON.stringify(s)}`)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
