'use strict'
// cache.token against a real local token server issuing expires_in, with time on the
// cache's ManualClock.
const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { Cache, ManualClock } = require('flightcache')
const { wrapFetch } = require('flightcache/http')
const { Upstream, sleep } = require('./upstream')

describe('cache.token', () => {
  let up
  let issued = 0
  before(async () => {
    up = await new Upstream().start()
    // POST /token issues t1, t2, ... valid for 3600 s, after 50 ms of work.
    up.route('/token', async () => {
      await sleep(50)
      const body = { access_token: `t${++issued}`, token_type: 'Bearer', expires_in: 3600 }
      return [200, { 'content-type': 'application/json' }, JSON.stringify(body)]
    })
  })
  after(() => up.stop())
  const fetchToken = () => fetch(up.url('/token'), { method: 'POST' }).then((r) => r.json())
  const setup = () => {
    issued = 0
    up.calls.set('/token', 0)
    const clock = new ManualClock()
    return { clock, cache: new Cache({ clock }) }
  }

  it('fetches once per lifetime less the skew', async () => {
    const { cache, clock } = setup()
    const off = { refreshAhead: null }
    for (let i = 0; i < 3; i++) assert.equal(await cache.token('api', fetchToken, off), 't1')
    assert.equal(up.count('/token'), 1)
    clock.advance(3_600_000 - 30_000 - 1)
    assert.equal(await cache.token('api', fetchToken, off), 't1')
    clock.advance(1)
    assert.equal(await cache.token('api', fetchToken, off), 't2')
    assert.equal(up.count('/token'), 2)
    assert.equal(await cache.token('other', fetchToken, { skew: 300_000 }), 't3')
    assert.equal((await cache.namespace('token').remainingTtl('other')), 3_300_000)
  })

  it('refreshes ahead of expiry in the background', async () => {
    const { cache, clock } = setup()
    assert.equal(await cache.token('api', fetchToken), 't1')
    const kept = 3_600_000 - 30_000
    clock.advance(Math.floor(kept * 0.8) - 1)
    assert.equal(await cache.token('api', fetchToken), 't1')
    assert.equal(up.count('/token'), 1)
    clock.advance(1)
    // Past 80% of the time it is kept: this caller gets t1 at once; t2 is fetched meanwhile.
    assert.equal(await cache.token('api', fetchToken), 't1')
    const deadline = Date.now() + 10_000
    while ((await cache.token('api', fetchToken)) !== 't2') {
      assert.ok(Date.now() < deadline, 'the token was never refreshed')
      await sleep(10)
    }
    assert.equal(up.count('/token'), 2)
    assert.equal(await cache.namespace('token').remainingTtl('api'), kept)
  })

  it('100 concurrent callers share one fetch', async () => {
    const { cache } = setup()
    const tokens = await Promise.all(Array.from({ length: 100 }, () => cache.token('api', fetchToken)))
    assert.deepEqual(new Set(tokens), new Set(['t1']))
    assert.equal(up.count('/token'), 1)
  })

  it('fetches anew after a 401 seen by an HTTP helper', async () => {
    const { cache } = setup()
    up.route('/api', (r) => r.headers.authorization === 'Bearer t1' ? [401, {}, ''] : [200, {}, 'ok'])
    const f = wrapFetch(fetch, cache)
    const call = async () => f(up.url('/api'), { headers: { authorization: `Bearer ${await cache.token('api', fetchToken)}` } })
    assert.equal((await call()).status, 401)
    assert.equal((await call()).status, 200)
    assert.equal(up.count('/token'), 2)
  })

  it('a JWT lives until its exp; expires_at as epoch seconds', async () => {
    const { cache } = setup()
    const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url')
    const jwt = `${b64({ alg: 'HS256' })}.${b64({ sub: 'me', exp: Math.floor(Date.now() / 1000) + 120 })}.signature`
    assert.equal(await cache.token('jwt', () => jwt), jwt)
    const left = (await cache.namespace('token').remainingTtl('jwt'))
    assert.ok(left >= 88_000 && left <= 90_000, String(left))
    const at = Math.floor(Date.now() / 1000) + 600
    assert.equal(await cache.token('at', () => ({ access_token: 'a', expires_at: at }), { skew: 0 }), 'a')
    const left2 = (await cache.namespace('token').remainingTtl('at'))
    assert.ok(left2 >= 598_000 && left2 <= 600_000, String(left2))
  })

  it('bad input says what is wrong', async () => {
    const { cache } = setup()
    await assert.rejects(cache.token('a', () => ({ token_type: 'Bearer', expires_in: 60 })), (e) => e instanceof RangeError && /no access_token/.test(e.message))
    await assert.rejects(cache.token('a', () => ({ access_token: 'opaque' })), /lifetime is unknown/)
    await assert.rejects(cache.token('a', () => 'opaque'), /not a JWT/)
    await assert.rejects(cache.token('a', () => 5), (e) => e instanceof TypeError && /got number/.test(e.message))
    await assert.rejects(cache.token(5, () => 'x'), /token name must be a string/)
    await assert.rejects(cache.token('a', 'x'), /fetchToken must be a function/)
    await assert.rejects(cache.token('a', () => 'x', { skew: -1 }), (e) => e instanceof RangeError && /skew/.test(e.message))
    assert.equal(cache.namespace('token').has('a'), false)
    const boom = new Error('token server down')
    await assert.rejects(cache.token('a', async () => { throw boom }), (e) => e === boom)
  })
})
