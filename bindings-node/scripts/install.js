#!/usr/bin/env node
'use strict'
// The package's `install` script. In order:
//   1. a prebuilt package for this platform is installed and loads: use it, compile nothing;
//   2. else, with the Rust sources (a clone, or the packed tarball's rust/) and cargo: build;
//   3. else fail the install, saying what is missing and how to fix it.
// FLIGHTCACHE_BUILD_FROM_SOURCE=1 skips step 1.

const { build } = require('./build.js')
const { loadPrebuilt, platformName, PLATFORMS } = require('../native.js')

function main () {
  const platform = platformName()
  let why
  if (process.env.FLIGHTCACHE_BUILD_FROM_SOURCE) {
    why = 'FLIGHTCACHE_BUILD_FROM_SOURCE is set'
  } else {
    const prebuilt = loadPrebuilt(platform)
    if (prebuilt.module) {
      console.error(`flightcache: using the prebuilt native module from ${prebuilt.from}`)
      return 0
    }
    if (prebuilt.installed) why = `${prebuilt.from} is installed but did not load (${prebuilt.error.message})`
    else if (Object.hasOwn(PLATFORMS, platform)) why = `the prebuilt package ${prebuilt.from} is not installed`
    else why = `no prebuilt package exists for ${platform} (prebuilt: ${Object.keys(PLATFORMS).join(', ')})`
  }
  return build(why)
}

process.exit(main())
