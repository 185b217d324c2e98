'use strict'
const { Cache, ManualClock } = require('..')

/** A cache on a manual clock: TTL tests move time instead of sleeping. */
function cacheWith (options = {}) {
  const clock = new ManualClock()
  const cache = new Cache({ ...options, clock })
  return { cache, clock }
}

function sleep (ms) {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** A loader that counts its calls and resolves after `ms` with `value()`. */
function slowLoader (ms, value) {
  const loader = () => {
    loader.calls++
    return new Promise((resolve) => setTimeout(() => resolve(value()), ms))
  }
  loader.calls = 0
  return loader
}

module.exports = { cacheWith, sleep, slowLoader }
