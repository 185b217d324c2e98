// ESM entry point of `flightcache/http`: the same module as `require('flightcache/http')`.
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const http = require('./http.js')

export const { wrapFetch, attachAxios, cacheFetch, NAMESPACE } = http
