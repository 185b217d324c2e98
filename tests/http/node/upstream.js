'use strict'
// A real HTTP server on a free loopback port, for the HTTP helper tests: each test gives it
// routes (functions of the request) and reads how many requests each path received.
const http = require('node:http')

class Upstream {
  constructor () {
    this.routes = new Map()
    this.calls = new Map()
    this.seen = []
    this.server = http.createServer(async (req, res) => {
      const u = new URL(req.url, 'http://127.0.0.1')
      this.calls.set(u.pathname, (this.calls.get(u.pathname) || 0) + 1)
      const r = { method: req.method, path: u.pathname, query: u.search, headers: req.headers }
      this.seen.push(r)
      const route = this.routes.get(u.pathname)
      const [status, headers, body] = route ? await route(r) : [404, {}, 'no route']
      res.writeHead(status, headers)
      res.end(req.method === 'HEAD' || status === 204 || status === 304 ? undefined : body)
    })
    // 100 concurrent clients: keep the backlog and sockets from limiting the tests.
    this.server.maxConnections = 1000
  }

  start () {
    return new Promise((resolve) => this.server.listen(0, '127.0.0.1', () => {
      this.port = this.server.address().port
      resolve(this)
    }))
  }

  stop () {
    this.server.closeAllConnections()
    return new Promise((resolve) => this.server.close(resolve))
  }

  url (path) { return `http://127.0.0.1:${this.port}${path}` }
  route (path, answer) { this.routes.set(path, answer) }
  count (path) { return this.calls.get(path) || 0 }
  last (path) { return this.seen.filter((r) => r.path === path).pop() }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const slow = (ms, answer) => async () => { await sleep(ms); return answer }

module.exports = { Upstream, sleep, slow }
