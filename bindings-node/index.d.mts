// Type definitions for `import ... from 'flightcache'`: the same API as the CommonJS entry.
export * from './index.js'
