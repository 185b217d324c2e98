// An integration handler that calls a third-party API with an access token, run the way a
// platform runs it: many invocations at once, one cache. `make demo` (or
// `node examples/handler.js` after `npm install` in examples/) prints what a user sees.
//
// The handler caches the two things such handlers cache: the API's access token
// (`cache.token`) and its responses (`attachAxios`, an axios interceptor). The "third-party
// API" is a small server on a free loopback port started by this script, so the example runs
// without a network.
//
// In your project: const { Cache } = require('flightcache')
//                  const { attachAxios, wrapFetch } = require('flightcache/http')
const http = require('node:http')
const axios = require('axios')
const { Cache, ManualClock } = require('../bindings-node')
const { attachAxios } = require('../bindings-node/http')

// ------------------------------------------------------------ the "third-party API"

const calls = {}
const count = (k) => { calls[k] = (calls[k] || 0) + 1 }
const validTokens = new Set()

// POST /oauth/token issues a token for an hour; GET /v1/items/<id> needs one, takes 50 ms,
// answers with an ETag, and 304 to a matching If-None-Match.
const server = http.createServer((req, res) => {
  const send = (status, body, headers = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers })
    res.end(body === undefined ? undefined : JSON.stringify(body))
  }
  if (req.method === 'POST') {
    count('login')
    const token = `token-${calls.login}`
    validTokens.add(token)
    return send(200, { access_token: token, token_type: 'Bearer', expires_in: 3600 })
  }
  count(`GET ${req.url}`)
  if (!validTokens.has((req.headers.authorization || '').slice(7))) return send(401, { error: 'invalid_token' })
  setTimeout(() => {
    const etag = '"v1"'
    if (req.headers['if-none-match'] === etag) return send(304, undefined, { etag })
    const id = req.url.split('/').pop()
    send(200, { id, name: `item ${id}` }, { etag })
  }, 50)
})

// ------------------------------------------------------------ the handler

let API
const authenticate = () => axios.post(`${API}/oauth/token`).then((r) => r.data)

// The handler as the platform documents it, with the token and the API's responses cached.
async function handler ({ payload, cache, api }) {
  const token = await cache.token('api', authenticate) // fetched once per lifetime, less 30 s
  const r = await api.get(`/v1/items/${payload.item}`, { headers: { authorization: `Bearer ${token}` } })
  return { status: r.status, body: r.data, cached: r.headers['x-cache'] }
}

async function main () {
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  API = `http://127.0.0.1:${server.address().port}`
  const clock = new ManualClock() // lets the demo show expiry without waiting ten minutes
  const cache = new Cache({ maxEntries: 10_000, clock })
  const api = axios.create({ baseURL: API, validateStatus: () => true })
  const responses = attachAxios(api, cache) // responses kept 10 minutes (the default ttl)

  const invoke = async (n, item = '42') => {
    const results = await Promise.all(Array.from({ length: n }, () => handler({ payload: { item }, cache, api })))
    const tally = {}
    for (const r of results) tally[`${r.status} ${r.cached}`] = (tally[`${r.status} ${r.cached}`] || 0) + 1
    return JSON.stringify(tally)
  }

  console.log('1. 100 concurrent invocations, nothing cached yet')
  console.log(`   responses: ${await invoke(100)}; login ran ${calls.login} time, the API got ${calls['GET /v1/items/42']} request`)

  console.log('2. 100 more invocations: token and response from the cache')
  console.log(`   responses: ${await invoke(100)}; API requests so far: ${calls['GET /v1/items/42']}`)

  console.log('3. a caller asks for a fresh copy (cache-control: no-cache): a conditional request')
  const r = await api.get('/v1/items/42', {
    headers: { authorization: `Bearer ${await cache.token('api', authenticate)}`, 'cache-control': 'no-cache' }
  })
  console.log(`   ${r.status} ${r.headers['x-cache']} (the API answered 304; the stored body was served)`)

  console.log('4. the API revokes the token: a 401 drops it, the next invocation logs in again')
  validTokens.clear()
  const first = await handler({ payload: { item: '7' }, cache, api })
  const second = await handler({ payload: { item: '7' }, cache, api })
  console.log(`   ${first.status} ${first.cached}, then ${second.status} ${second.cached}; login ran ${calls.login} times`)

  console.log('5. eleven minutes later the stored response has expired (the token has not)')
  clock.advance(11 * 60 * 1000)
  console.log(`   responses: ${await invoke(10)}; login ran ${calls.login} times`)

  console.log('6. clearing the endpoint\'s entries')
  responses.clear(`${API}/v1/items/42`)
  console.log(`   next request: ${(await handler({ payload: { item: '42' }, cache, api })).cached}`)
  const s = cache.stats()
  console.log(`stats: hits=${s.hits} misses=${s.misses} loads=${s.loads} entries=${s.entries}`)
  server.close()
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
