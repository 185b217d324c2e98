'use strict'
// Copy semantics (`new Cache({ copy: true })`): the cache keeps its own copy of each value,
// made through the wire format a store uses, and hands every reader a copy of its own.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { Cache } = require('..')

test('a value changed after set or get does not change the cache', async () => {
  const cache = new Cache({ copy: true })
  const value = { list: [1, 2], n: null, b: Buffer.from([0, 1]) }
  assert.equal(await cache.set('k', value), true)
  value.list.push(3)
  value.b[0] = 9
  const got = await cache.get('k')
  assert.deepEqual(got, { list: [1, 2], n: null, b: Buffer.from([0, 1]) })
  got.list.push(9)
  assert.deepEqual(cache.getSync('k').list, [1, 2])
  assert.notEqual(cache.getSync('k'), cache.getSync('k'))
  const entry = await cache.getEntry('k')
  entry.value.n = 'changed'
  assert.equal(cache.getSync('k').n, null)
  const s = { v: [1] }
  cache.setSync('s', s)
  s.v.push(2)
  assert.deepEqual(cache.getSync('s'), { v: [1] })
})

test('by reference without the option', async () => {
  const cache = new Cache()
  const value = [1]
  await cache.set('k', value)
  assert.equal(cache.getSync('k'), value)
})

test('a value the wire format cannot hold is a TypeError and changes nothing', async () => {
  const cache = new Cache({ copy: true })
  await cache.set('k', [1])
  for (const bad of [new Map(), new Date(0), [1, new Set()], { f () {} }, Symbol('s')]) {
    await assert.rejects(cache.set('k', bad), (e) => e instanceof TypeError &&
      e.code === 'ERR_FLIGHTCACHE_WRONG_TYPE' && /copy option/.test(e.message))
    assert.throws(() => cache.setSync('k', bad), TypeError)
    await assert.rejects(cache.add('new', bad), TypeError)
  }
  assert.deepEqual(cache.getSync('k'), [1])
  assert.equal(cache.has('new'), false)
  assert.equal(cache.stats().rejected, 0)
})

test('loaded values are kept as copies; one outside the format is returned, not kept', async () => {
  const cache = new Cache({ copy: true })
  const made = { token: 't1' }
  const got = await cache.get('k', { getValue: () => made })
  assert.deepEqual(got, made)
  assert.notEqual(got, made)
  made.token = 'changed by the loader'
  assert.deepEqual(await cache.get('k'), { token: 't1' })
  const map = new Map()
  assert.equal(await cache.get('m', { getValue: () => map }), map)
  assert.equal(cache.has('m'), false)
  assert.equal(cache.stats().rejected, 1)
})

test('incr, add and namespaces with copies', async () => {
  const cache = new Cache({ copy: true })
  assert.equal(await cache.incr('n'), 1)
  assert.equal(await cache.incr('n', 2), 3)
  assert.equal(await cache.add('a', [1]), true)
  assert.equal(await cache.add('a', [2]), false)
  const ns = cache.namespace('app')
  await ns.set('x', { v: [1] })
  ;(await ns.get('x')).v.push(2)
  assert.deepEqual(await ns.get('x'), { v: [1] })
})

test('copy must be a boolean', () => {
  for (const bad of [1, 'yes', {}]) {
    assert.throws(() => new Cache({ copy: bad }), (e) => e instanceof TypeError && /copy must be a boolean/.test(e.message))
  }
})

test('copies with a store', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flightcache-copy-'))
  const cache = new Cache({ copy: true, store: `sqlite://${dir}/c.db` })
  const value = { v: [1] }
  await cache.set('k', value)
  value.v.push(2)
  ;(await cache.get('k')).v.push(3)
  assert.deepEqual(await cache.get('k'), { v: [1] })
  await assert.rejects(cache.set('k', new Map()), TypeError)
  assert.deepEqual(await cache.get('k'), { v: [1] })
})
