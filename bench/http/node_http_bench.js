'use strict'
// flightcache/http against axios-cache-interceptor and undici's cache interceptor, in one run
// (`make http-bench-node`).
//
// 1. A cached response served by each helper: ns per request through the client (axios, or
//    undici's fetch), next to the same client with no cache asking a local server. Each
//    library is timed in processes of its own (3, interleaved), so that one library's JIT
//    state and garbage do not weigh on another; the figure is the median of all repetitions.
// 2. Upstream calls when 100 concurrent requests ask for the same URL whose server takes
//    200 ms.
//
// The server is a local loopback node:http server on a free port, started and stopped here.
// No number here is asserted by a test.
const http = require('node:http')
const axios = require('axios')
const { setupCache } = require('axios-cache-interceptor')
const undici = require('undici')
const { Cache } = require('flightcache')
const { wrapFetch, attachAxios } = require('flightcache/http')

const quick = process.argv.includes('--quick')
const N = quick ? 200 : 2000
const REPS = quick ? 3 : 7
const BODY = JSON.stringify({ id: 42, name: 'item 42', tags: ['a', 'b', 'c'] }).repeat(4)
const calls = new Map()

const server = http.createServer((req, res) => {
  calls.set(req.url, (calls.get(req.url) || 0) + 1)
  const send = () => {
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'public, max-age=600' })
    res.end(BODY)
  }
  if (req.url.startsWith('/slow')) setTimeout(send, 200)
  else send()
})

function clients () {
  const fcAxios = axios.create()
  attachAxios(fcAxios, new Cache())
  const aci = setupCache(axios.create())
  const fcFetch = wrapFetch(undici.fetch, new Cache())
  const dispatcher = new undici.Agent().compose(undici.interceptors.cache())
  const plainAxios = axios.create()
  return {
    'flightcache attachAxios (axios)': async (url) => (await fcAxios.get(url)).data,
    'axios-cache-interceptor (axios)': async (url) => (await aci.get(url)).data,
    'flightcache wrapFetch (undici fetch)': async (url) => (await fcFetch(url)).text(),
    'undici interceptors.cache (undici fetch)': async (url) => (await undici.fetch(url, { dispatcher })).text(),
    'axios, no cache (local server)': async (url) => (await plainAxios.get(url)).data,
    'undici fetch, no cache (local server)': async (url) => (await undici.fetch(url)).text()
  }
}

async function timeHits (get, url, n) {
  const t = process.hrtime.bigint()
  for (let i = 0; i < n; i++) await get(url)
  return Number(process.hrtime.bigint() - t) / n
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] }
const fmt = (x) => Math.round(x).toLocaleString('en-US')

async function listen () {
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${server.address().port}`
}

function stop () {
  server.closeAllConnections()
  server.close()
}

/** In a child process: the repetitions of one library's hit timing, as JSON on stdout. */
async function timeOne (name) {
  const base = await listen()
  try {
    const get = clients()[name]
    const url = base + '/item?id=42'
    for (let i = 0; i < 3; i++) {
      const d = await get(url)
      const text = typeof d === 'string' ? d : JSON.stringify(d)
      if (text !== BODY) throw new Error(`${name} returned another body`)
    }
    if (!name.includes('no cache') && calls.get('/item?id=42') !== 1) throw new Error(`${name} did not cache the response`)
    await timeHits(get, url, N) // warm-up
    const out = []
    for (let r = 0; r < REPS; r++) out.push(await timeHits(get, url, N))
    process.stdout.write(JSON.stringify(out))
  } finally {
    stop()
  }
}

async function main () {
  const { execFileSync } = require('node:child_process')
  const names = Object.keys(clients())
  const samples = Object.fromEntries(names.map((k) => [k, []]))
  for (let proc = 0; proc < 3; proc++) {
    for (const name of names) {
      const args = [__filename, '--one', name].concat(quick ? ['--quick'] : [])
      samples[name].push(...JSON.parse(execFileSync(process.execPath, args, { encoding: 'utf8' })))
    }
  }
  const med = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]))
  console.log(`\nA cached response served through the client (${N} requests x ${REPS} repetitions x 3 processes, median ns/request)`)
  for (const [k, v] of Object.entries(med)) console.log(`  ${k.padEnd(42)} ${fmt(v).padStart(12)}`)
  console.log('\nRatios (flightcache / anchor; below 1.0 is faster)')
  for (const [ours, anchor] of [
    ['flightcache attachAxios (axios)', 'axios-cache-interceptor (axios)'],
    ['flightcache wrapFetch (undici fetch)', 'undici interceptors.cache (undici fetch)']
  ]) {
    console.log(`  ${ours} ${fmt(med[ours])} / ${anchor} ${fmt(med[anchor])} = ${(med[ours] / med[anchor]).toFixed(2)}x`)
  }

  const base = await listen()
  try {
    console.log('\nUpstream calls for 100 concurrent identical requests (Promises; the server takes 200 ms)')
    let i = 0
    for (const [name, get] of Object.entries(clients())) {
      if (name.includes('no cache')) continue
      const path = `/slow${i++}`
      await Promise.all(Array.from({ length: 100 }, () => get(base + path)))
      console.log(`  ${name.padEnd(42)} ${String(calls.get(path)).padStart(4)} upstream call(s)`)
    }
  } finally {
    stop()
  }
}

const one = process.argv.indexOf('--one')
const run = one >= 0 ? timeOne(process.argv[one + 1]) : main()
run.then(() => process.exit(0), (e) => { console.error(e); process.exit(1) })
