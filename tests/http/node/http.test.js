'use strict'
// flightcache/http against a real local server, through wrapFetch (global fetch),
// cache.fetch and attachAxios. Time moves on the cache's ManualClock.
const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const axios = require('axios')
const { Cache, ManualClock } = require('flightcache')
const { wrapFetch, attachAxios } = require('flightcache/http')
const { Upstream, slow, sleep } = require('./upstream')

/** One client kind, driven the same way in every test: get() -> [status, x-cache, body]. */
function client (kind, cache, options) {
  if (kind === 'fetch' || kind === 'cache.fetch') {
    const f = kind === 'fetch' ? wrapFetch(fetch, cache, options) : (i, o) => cache.fetch(i, o)
    return {
      async get (url, headers, method = 'GET') {
        const r = await f(url, { headers, method })
        return [r.status, r.headers.get('x-cache'), Buffer.from(await r.arrayBuffer()).toString()]
      },
      clear: (url) => (kind === 'fetch' ? f.clear(url) : undefined)
    }
  }
  const ax = axios.create({ validateStatus: () => true, responseType: 'text', transformResponse: [(d) => d] })
  const attached = attachAxios(ax, cache, options)
  return {
    async get (url, headers, method = 'GET') {
      const r = await ax.request({ url, headers, method })
      return [r.status, r.headers['x-cache'], r.data === undefined ? '' : String(r.data)]
    },
    clear: (url) => attached.clear(url)
  }
}

const KINDS = ['fetch', 'axios']
const ok = (body = 'hello', headers = {}) => () => [200, { 'content-type': 'text/plain', ...headers }, body]

describe('flightcache/http', () => {
  let up
  before(async () => { up = await new Upstream().start() })
  after(() => up.stop())
  let n = 0
  const fresh = () => `/p${++n}`
  const setup = (kind, options) => {
    const clock = new ManualClock()
    const cache = new Cache({ clock })
    return { clock, cache, c: client(kind, cache, options) }
  }

  for (const kind of KINDS) {
    describe(kind, () => {
      it('stores a 2xx GET, then serves it as a HIT', async () => {
        const p = fresh()
        up.route(p, ok())
        const { c } = setup(kind)
        assert.deepEqual(await c.get(up.url(p)), [200, 'MISS', 'hello'])
        assert.deepEqual(await c.get(up.url(p)), [200, 'HIT', 'hello'])
        assert.equal(up.count(p), 1)
      })

      it('stores only 2xx GET and HEAD responses', async () => {
        const { c } = setup(kind)
        for (const status of [404, 500, 503]) {
          const p = fresh()
          up.route(p, () => [status, {}, 'no'])
          for (let i = 0; i < 2; i++) assert.deepEqual(await c.get(up.url(p)), [status, 'MISS', 'no'])
          assert.equal(up.count(p), 2)
        }
        const p = fresh()
        up.route(p, ok('posted'))
        for (let i = 0; i < 2; i++) assert.deepEqual(await c.get(up.url(p), {}, 'POST'), [200, 'MISS', 'posted'])
        assert.equal(up.count(p), 2)
        const h = fresh()
        up.route(h, ok('body'))
        assert.deepEqual((await c.get(up.url(h), {}, 'HEAD')).slice(0, 2), [200, 'MISS'])
        assert.deepEqual((await c.get(up.url(h), {}, 'HEAD')).slice(0, 2), [200, 'HIT'])
        assert.deepEqual(await c.get(up.url(h)), [200, 'MISS', 'body'])
        assert.deepEqual(await c.get(up.url(h)), [200, 'HIT', 'body'])
      })

      for (const respect of [false, true]) {
        it(`never stores no-store, private or Vary: * (respectCacheControl ${respect})`, async () => {
          const { c } = setup(kind, { respectCacheControl: respect })
          for (const headers of [{ 'cache-control': 'no-store, max-age=60' }, { 'cache-control': 'private, max-age=60' }, { vary: '*' }]) {
            const p = fresh()
            up.route(p, ok('x', headers))
            assert.equal((await c.get(up.url(p)))[1], 'MISS')
            assert.equal((await c.get(up.url(p)))[1], 'MISS')
            assert.equal(up.count(p), 2)
          }
        })
      }

      it('keys on the sorted query, or the chosen parameters', async () => {
        const p = fresh()
        up.route(p, (r) => [200, {}, r.query])
        const { c, cache } = setup(kind)
        assert.equal((await c.get(up.url(p + '?b=2&a=1')))[1], 'MISS')
        assert.equal((await c.get(up.url(p + '?a=1&b=2')))[1], 'HIT')
        assert.equal((await c.get(up.url(p + '?a=1&b=3')))[1], 'MISS')
        const k = client(kind, cache, { keyParams: ['page'] })
        const q = fresh()
        up.route(q, (r) => [200, {}, r.query])
        assert.deepEqual(await k.get(up.url(q + '?page=1&ts=1')), [200, 'MISS', '?page=1&ts=1'])
        assert.deepEqual(await k.get(up.url(q + '?ts=2&page=1')), [200, 'HIT', '?page=1&ts=1'])
        assert.equal((await k.get(up.url(q + '?page=2')))[1], 'MISS')
      })

      it('keeps one response per varied request header', async () => {
        const p = fresh()
        up.route(p, (r) => [200, { vary: 'Accept' }, r.headers.accept])
        const { c } = setup(kind)
        assert.deepEqual(await c.get(up.url(p), { accept: 'application/json' }), [200, 'MISS', 'application/json'])
        assert.deepEqual(await c.get(up.url(p), { accept: 'text/plain' }), [200, 'MISS', 'text/plain'])
        assert.deepEqual(await c.get(up.url(p), { accept: 'application/json' }), [200, 'HIT', 'application/json'])
        assert.deepEqual(await c.get(up.url(p), { accept: 'text/plain' }), [200, 'HIT', 'text/plain'])
        assert.equal(up.count(p), 2)
        // Concurrent first requests differing in the varied header each get their own.
        const q = fresh()
        up.route(q, async (r) => { await sleep(100); return [200, { vary: 'Accept' }, r.headers.accept] })
        const accepts = Array.from({ length: 20 }, (_, i) => `a/${i % 2}`)
        const got = await Promise.all(accepts.map((a) => c.get(up.url(q), { accept: a })))
        assert.deepEqual(got.map((g) => g[2]), accepts)
        assert.ok(up.count(q) <= 3, `${up.count(q)} upstream calls`)
      })

      it('keeps a response for the ttl (default 10 minutes, to the millisecond)', async () => {
        const p = fresh()
        up.route(p, ok())
        const { c, clock, cache } = setup(kind)
        await c.get(up.url(p))
        clock.advance(599_999)
        assert.equal((await c.get(up.url(p)))[1], 'HIT')
        clock.advance(1)
        assert.equal((await c.get(up.url(p)))[1], 'MISS')
        const short = client(kind, cache, { ttl: 1000 })
        const q = fresh()
        up.route(q, ok())
        await short.get(up.url(q))
        clock.advance(999)
        assert.equal((await short.get(up.url(q)))[1], 'HIT')
        clock.advance(1)
        assert.equal((await short.get(up.url(q)))[1], 'MISS')
      })

      it('takes the TTL from Cache-Control or Expires when respected, capped by maxTtl', async () => {
        const { c, clock, cache } = setup(kind, { respectCacheControl: true })
        const ignoring = client(kind, cache)
        const ma = fresh(); const exp = fresh(); const long = fresh(); const nc = fresh()
        up.route(ma, ok('m', { 'cache-control': 'max-age=60' }))
        up.route(exp, ok('e', { date: 'Sun, 06 Nov 1994 08:49:37 GMT', expires: 'Sun, 06 Nov 1994 08:50:07 GMT' }))
        up.route(long, ok('l', { 'cache-control': 'max-age=86400' }))
        up.route(nc, ok('n', { 'cache-control': 'no-cache' }))
        for (const p of [ma, exp, long, nc]) await c.get(up.url(p))
        await ignoring.get(up.url(ma + '?x'))
        clock.advance(29_999)
        assert.equal((await c.get(up.url(exp)))[1], 'HIT')
        clock.advance(1)
        assert.equal((await c.get(up.url(exp)))[1], 'MISS')
        clock.advance(29_999)
        assert.equal((await c.get(up.url(ma)))[1], 'HIT')
        clock.advance(1)
        assert.equal((await c.get(up.url(ma)))[1], 'MISS')
        assert.equal((await ignoring.get(up.url(ma + '?x')))[1], 'HIT')
        assert.equal((await c.get(up.url(nc)))[1], 'MISS')
        clock.advance(3_600_000 - 60_000 - 1)
        assert.equal((await c.get(up.url(long)))[1], 'HIT')
        clock.advance(1)
        assert.equal((await c.get(up.url(long)))[1], 'MISS')
      })

      it('obeys maxKeyBytes and maxValueBytes', async () => {
        const { c, cache } = setup(kind)
        const small = client(kind, cache, { maxValueBytes: 4000 })
        const p = fresh()
        up.route(p, ok('x'.repeat(5000)))
        assert.equal((await small.get(up.url(p)))[1], 'MISS')
        assert.equal((await small.get(up.url(p)))[1], 'MISS')
        assert.equal((await c.get(up.url(p)))[1], 'MISS')
        assert.equal((await c.get(up.url(p)))[1], 'HIT')
        const q = fresh()
        up.route(q, ok())
        const url = up.url(q + '?q=' + 'a'.repeat(10_240))
        assert.equal((await c.get(url))[1], 'MISS')
        assert.equal((await c.get(url))[1], 'MISS')
        assert.equal(up.count(q), 2)
      })

      it('re-validates with If-None-Match; a 304 refreshes the entry', async () => {
        const p = fresh()
        const v = { etag: '"v1"', body: 'one' }
        up.route(p, (r) => r.headers['if-none-match'] === v.etag ? [304, { etag: v.etag }, ''] : [200, { etag: v.etag }, v.body])
        const { c, clock } = setup(kind, { ttl: 10_000 })
        assert.deepEqual(await c.get(up.url(p)), [200, 'MISS', 'one'])
        clock.advance(9000)
        assert.deepEqual(await c.get(up.url(p), { 'cache-control': 'no-cache' }), [200, 'REVALIDATED', 'one'])
        assert.equal(up.last(p).headers['if-none-match'], '"v1"')
        clock.advance(9000)
        assert.deepEqual(await c.get(up.url(p)), [200, 'HIT', 'one'])
        v.etag = '"v2"'; v.body = 'two'
        assert.deepEqual(await c.get(up.url(p), { 'cache-control': 'max-age=0' }), [200, 'MISS', 'two'])
        assert.deepEqual(await c.get(up.url(p)), [200, 'HIT', 'two'])
        assert.equal(up.count(p), 3)
      })

      it('re-validates with If-Modified-Since, and honours a request max-age', async () => {
        const p = fresh()
        const lm = 'Sun, 06 Nov 1994 08:49:37 GMT'
        up.route(p, (r) => r.headers['if-modified-since'] === lm ? [304, {}, ''] : [200, { 'last-modified': lm }, 'lm'])
        const { c, clock } = setup(kind)
        await c.get(up.url(p))
        clock.advance(5000)
        assert.deepEqual(await c.get(up.url(p), { 'cache-control': 'max-age=10' }), [200, 'HIT', 'lm'])
        assert.deepEqual(await c.get(up.url(p), { 'cache-control': 'max-age=4' }), [200, 'REVALIDATED', 'lm'])
        assert.equal(up.count(p), 2)
        const q = fresh()
        up.route(q, ok())
        assert.equal((await c.get(up.url(q), { 'cache-control': 'no-store' }))[1], 'MISS')
        assert.equal((await c.get(up.url(q), { 'cache-control': 'no-store' }))[1], 'MISS')
        assert.equal(up.count(q), 2)
      })

      it('serves the stored response as STALE when a re-validation fails', async () => {
        const p = fresh()
        let down = false
        up.route(p, () => down ? [503, {}, 'down'] : [200, { etag: '"e"' }, 'kept'])
        const { c } = setup(kind)
        assert.deepEqual(await c.get(up.url(p)), [200, 'MISS', 'kept'])
        down = true
        assert.deepEqual(await c.get(up.url(p), { 'cache-control': 'no-cache' }), [200, 'STALE', 'kept'])
        assert.deepEqual(await c.get(up.url(p)), [200, 'HIT', 'kept'])
        up.route(p, () => [404, {}, 'gone'])
        assert.deepEqual(await c.get(up.url(p), { 'cache-control': 'no-cache' }), [404, 'MISS', 'gone'])
      })

      it('makes one upstream call for 100 concurrent identical requests', async () => {
        const p = fresh()
        up.route(p, slow(300, [200, {}, 'once']))
        const { c } = setup(kind)
        let got = await Promise.all(Array.from({ length: 100 }, () => c.get(up.url(p))))
        assert.equal(up.count(p), 1)
        assert.deepEqual(new Set(got.map((g) => g[2] + ' ' + g[1])), new Set(['once MISS']))
        up.route(p, slow(300, [200, {}, 'again']))
        got = await Promise.all(Array.from({ length: 100 }, () => c.get(up.url(p), { 'cache-control': 'no-cache' })))
        assert.equal(up.count(p), 2)
        assert.deepEqual(new Set(got.map((g) => g[2])), new Set(['again']))
      })

      it('clears one endpoint, one origin, or all', async () => {
        const one = fresh(); const two = fresh()
        up.route(one, ok()); up.route(two, ok())
        const { c, cache } = setup(kind)
        for (const p of [one, one + '?x=1', two]) await c.get(up.url(p))
        c.clear(up.url(one))
        const labels = async (ps) => Promise.all(ps.map(async (p) => (await c.get(up.url(p)))[1]))
        assert.deepEqual(await labels([one, one + '?x=1', two]), ['MISS', 'MISS', 'HIT'])
        c.clear(up.url(''))
        assert.deepEqual(await labels([one, two]), ['MISS', 'MISS'])
        cache.setSync('mine', 1)
        c.clear()
        assert.deepEqual(await labels([two]), ['MISS'])
        assert.equal(cache.getSync('mine'), 1)
      })

      it('drops a token held by cache.token on a 401', async () => {
        const p = fresh()
        const valid = new Set(['t2'])
        up.route(p, (r) => valid.has((r.headers.authorization || '').slice(7)) ? [200, {}, 'me'] : [401, {}, 'expired'])
        const { c, cache } = setup(kind)
        let issued = 0
        const fetchToken = async () => ({ access_token: `t${++issued}`, expires_in: 3600 })
        let token = await cache.token('api', fetchToken)
        assert.equal(token, 't1')
        assert.deepEqual((await c.get(up.url(p), { authorization: `Bearer ${token}` })).slice(0, 2), [401, 'MISS'])
        token = await cache.token('api', fetchToken)
        assert.equal(token, 't2')
        assert.deepEqual(await c.get(up.url(p), { authorization: `Bearer ${token}` }), [200, 'MISS', 'me'])
        assert.equal(await cache.token('api', fetchToken), 't2')
        const off = client(kind, cache, { dropTokenOn401: false })
        valid.clear()
        assert.equal((await off.get(up.url(p + '?off'), { authorization: 'Bearer t2' }))[0], 401)
        assert.equal(await cache.token('api', fetchToken), 't2')
        assert.equal((await c.get(up.url(p), { authorization: 'Bearer t2' }, 'POST'))[0], 401)
        assert.equal(await cache.token('api', fetchToken), 't3')
      })
    })
  }

  it('cache.fetch uses the global fetch with the default options', async () => {
    const p = fresh()
    up.route(p, ok())
    const { cache } = setup('fetch')
    const c = client('cache.fetch', cache)
    assert.deepEqual(await c.get(up.url(p)), [200, 'MISS', 'hello'])
    assert.deepEqual(await c.get(up.url(p)), [200, 'HIT', 'hello'])
    const r = await cache.fetch(up.url(p))
    assert.equal(r.url, up.url(p))
  })

  it('axios data is transformed as without the cache (JSON parsed, arraybuffer kept)', async () => {
    const p = fresh()
    up.route(p, (r) => r.headers['if-none-match'] === '"j"'
      ? [304, { etag: '"j"' }, '']
      : [200, { 'content-type': 'application/json', etag: '"j"' }, '{"a":[1,2]}'])
    const cache = new Cache()
    const ax = axios.create()
    attachAxios(ax, cache)
    for (const label of ['MISS', 'HIT']) {
      const r = await ax.get(up.url(p))
      assert.deepEqual([r.headers['x-cache'], r.data], [label, { a: [1, 2] }])
    }
    const r = await ax.get(up.url(p), { headers: { 'cache-control': 'no-cache' } })
    assert.deepEqual([r.headers['x-cache'], r.status, r.data], ['REVALIDATED', 200, { a: [1, 2] }])
    const b = await ax.get(up.url(p), { responseType: 'arraybuffer' })
    assert.ok(Buffer.isBuffer(b.data))
    assert.equal(b.data.toString(), '{"a":[1,2]}')
    // A 404 rejects as axios does, with the label on the error's response.
    const q = fresh()
    up.route(q, () => [404, {}, 'nope'])
    await assert.rejects(ax.get(up.url(q)), (e) => e.isAxiosError && e.response.status === 404 && e.response.headers['x-cache'] === 'MISS')
  })

  it('a request no server answers fails as without the cache, for every caller', async () => {
    const closed = await new Upstream().start()
    const url = closed.url('/nothing')
    await closed.stop()
    const cache = new Cache()
    const ax = axios.create()
    attachAxios(ax, cache)
    const f = wrapFetch(fetch, cache)
    const results = await Promise.allSettled([
      ...Array.from({ length: 5 }, () => ax.get(url)),
      ...Array.from({ length: 5 }, () => f(url + '?fetch'))
    ])
    assert.deepEqual(results.map((r) => r.status), Array(10).fill('rejected'))
    assert.ok(results.slice(0, 5).every((r) => r.reason.code === 'ECONNREFUSED'), results[0].reason.code)
    assert.equal((await cache.namespace('http').keys()).length, 0)
  })

  it('a stored response is plain data, under the same key as in Python', async () => {
    const p = fresh()
    up.route(p, ok('{"a":1}', { etag: '"p"' }))
    const cache = new Cache()
    const c = client('fetch', cache)
    await c.get(up.url(p + '?z=1&y=2'))
    const keys = (await cache.namespace('http').keys())
    assert.deepEqual(keys, [`http%3A//127.0.0.1%3A${up.port}:${p}:GET ?y=2&z=1`])
    const [origin, path, ...rest] = keys[0].split(':')
    const record = cache.namespace('http').namespace(origin).namespace(path).getSync(rest.join(':'))
    assert.deepEqual(Object.keys(record).sort(), ['body', 'headers', 'status', 'vary'])
    assert.equal(record.status, 200)
    assert.ok(Buffer.isBuffer(record.body))
    assert.equal(record.body.toString(), '{"a":1}')
    assert.deepEqual(record.vary, [])
    assert.ok(record.headers.some(([n, v]) => n === 'etag' && v === '"p"'))
    assert.ok(!record.headers.some(([n]) => n === 'content-length' || n === 'x-cache'))
  })

  it('bad options say what is wrong', () => {
    const cache = new Cache()
    assert.throws(() => wrapFetch(fetch, cache, { ttl: -1 }), (e) => e instanceof RangeError && /ttl/.test(e.message))
    assert.throws(() => wrapFetch(fetch, cache, { ttl: 7_200_000 }), /ttl \(7200000 ms\) is over maxTtl/)
    assert.throws(() => wrapFetch(fetch, cache, { keyParams: 'page' }), (e) => e instanceof TypeError && /keyParams must be an array/.test(e.message))
    assert.throws(() => wrapFetch(fetch, cache, { maxValueBytes: '10' }), /maxValueBytes must be a number, got string/)
    assert.throws(() => wrapFetch(fetch, cache, { respectCacheControl: 1 }), /respectCacheControl must be a boolean/)
    assert.throws(() => wrapFetch(fetch, cache, { tll: 5 }), /unknown option "tll"/)
    assert.throws(() => wrapFetch(fetch, cache, { maxKeyBytes: 1.5 }), /maxKeyBytes must be a whole number/)
    assert.throws(() => attachAxios({}, cache), /needs an axios instance/)
    assert.throws(() => wrapFetch('fetch', cache), /fetch must be a function/)
  })
})
