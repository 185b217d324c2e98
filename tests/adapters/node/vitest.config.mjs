import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['*.test.mjs'],
    // flightcache is a native module: one process, no worker threads.
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 20000
  },
  resolve: { preserveSymlinks: false }
})
