// ESM entry point: the same module as `require('flightcache')`.
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const flightcache = require('./index.js')

export const { Cache, ManualClock, errorCodes } = flightcache
