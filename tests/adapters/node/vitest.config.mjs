import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    // Our suites, and cache-manager's own test files (vendored, see vendor/README.md).
    include: ['*.test.mjs', 'vendor/cache-manager/test/*.test.ts'],
    // flightcache is a native module: one process, no worker threads.
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 20000
  },
  resolve: { preserveSymlinks: false }
})
