// Type definitions for flightcache (Node).

/** A TTL in milliseconds, or a function of the value giving one (for tokens whose lifetime comes with them). */
export type Ttl<T = unknown> = number | ((value: T) => number)

/** What a loader may be: a function returning the value or a Promise/thenable of it, or a Promise itself. */
export type GetValue<T> = ((key: string) => T | PromiseLike<T>) | PromiseLike<T>

/**
 * The resilience options, per cache and per call (`get`, `getEntry`, `wrap`); a call's values
 * override the cache's. Windows and the back-off run on the cache's clock; timeouts on real time.
 */
export interface PolicyOptions {
  /** An expired value is kept this much longer (ms); within it a `get` with a loader gets it at once while one background refresh runs. */
  staleTtl?: number
  /** A failed load gives the expired value instead of the error within this window (ms); the error is counted. */
  staleIfError?: number
  /** With a stale value (within `staleIfError`), callers stop waiting for a slower loader after this many ms and get the stale value; the load goes on. */
  softTimeout?: number
  /** Callers stop waiting after this many ms (stale value if any, else `ERR_FLIGHTCACHE_TIMEOUT`); the load is abandoned: the next caller starts a new one. */
  hardTimeout?: number
  /** A fraction of the TTL in (0, 1]: a hit on an older value starts one background refresh (earlier by XFetch near expiry). */
  refreshAhead?: number
  /** After a failed load, callers within this many ms (default 1 000) get the stale value or the same error without a new loader call. */
  failSafeBackoff?: number
}

/** How a value was served (`getEntry`): the "Cached" badge a platform shows. */
export interface CacheEntry<T> {
  value: T | undefined
  status: 'hit' | 'stale' | 'miss' | 'loaded' | 'joined' | 'refreshing'
  source: 'memory' | 'store' | 'loader'
  /** How old the value is (ms); undefined without a value. */
  ageMs: number | undefined
  /** How long until it expires (ms; 0 for a stale value, Infinity for never); undefined without a value. */
  remainingTtl: number | undefined
}

export interface CacheOptions extends PolicyOptions {
  /** At most this many entries (default 10 000). */
  maxEntries?: number
  /** At most this many bytes of keys plus values. */
  maxBytes?: number
  /** A key longer than this (UTF-8 bytes) is not stored (counted as `rejected`). */
  maxKeyBytes?: number
  /** A value larger than this is not stored (counted as `rejected`). */
  maxValueBytes?: number
  /** Default TTL in milliseconds (7 days). */
  ttl?: number
  /** Every TTL is capped to this many milliseconds. */
  maxTtl?: number
  /** Callers waiting for another caller's load reject with `ERR_FLIGHTCACHE_TIMEOUT` after this many ms. */
  loadTimeout?: number
  /** A fake clock for tests. */
  clock?: ManualClock
  /**
   * The size in bytes (a whole number >= 0) of a value that is not a string, number,
   * boolean, null or binary data (those are measured exactly). Default: the core's
   * estimate, the same in Python and Node.
   */
  sizeOf?: (value: unknown) => number
  /**
   * A shared store behind the in-process tier: `'sqlite:///ABSOLUTE/PATH'`,
   * `'redis://HOST:PORT/DB'`, `'rediss://…'`, or `'memory://NAME'` (caches of this process
   * opened on one name share it: for tests). `undefined` or `'memory'`: in-process only.
   */
  store?: string
  /** Longest wait for one store command, ms (default 100). */
  storeTimeout?: number
  /** How long a loader's lease in the store lasts without renewal, ms (default 5 000). */
  lease?: number
  /** Longest time another process's write may go unseen, ms (default 100). */
  l1Staleness?: number
  /** Bounds of a SQLite store's file. */
  storeMaxEntries?: number
  storeMaxBytes?: number
  /**
   * Copy semantics: the in-process tier keeps its own copy of every value, made through the
   * wire format a store uses, and every read returns a new copy, so changing an object after
   * `set`, or one a `get` returned, never changes the cache. Only what the wire format holds
   * can be set (strings, numbers, booleans, null, Buffers and typed arrays, arrays and plain
   * objects of these): anything else is a TypeError and changes nothing. Default false: values
   * are kept by reference (a hit returns the very object).
   */
  copy?: boolean
}

export interface GetOptions<T> extends PolicyOptions {
  /** Loads the value when the key is absent or expired: one call per key however many callers wait. */
  getValue?: GetValue<T>
  /** TTL of a loaded value (ms, or a function of the value); the cache's default when absent. */
  ttl?: Ttl<T>
  /** A stored value older than this (ms) counts as absent; `maxAge: 0` forces a (single-flight) refresh. */
  maxAge?: number
}

export interface SetOptions<T> {
  /** TTL in ms (or a function of the value); 0 means "do not keep". Negative or NaN: RangeError. */
  ttl?: Ttl<T>
}

export interface WrapOptions<A extends unknown[]> extends PolicyOptions {
  /** TTL of each result (ms, or a function of the result). */
  ttl?: Ttl
  /**
   * The key of a call: a function of the arguments, or dotted paths into the first argument
   * (`['page.repository', 'page.section.name']`; a missing path is an error).
   * Default: a canonical encoding of all the arguments (object keys sorted at every depth).
   */
  key?: ((...args: A) => unknown) | string[]
  /** Prefix of the keys (default: the function's name, else a prefix unique to this wrapper). */
  name?: string
}

export interface Stats {
  /** `get` calls that found a live value. */
  hits: number
  /** `get` calls that did not (including callers that joined another caller's load). */
  misses: number
  /** Loader runs. */
  loads: number
  /** Loader runs that failed. */
  loadErrors: number
  /** Live entries removed to make room. */
  evictions: number
  /** Expired entries removed. */
  expirations: number
  /** Entries not stored because they were over a size limit. */
  rejected: number
  /** Entries stored now. */
  entries: number
  /** Bytes (keys plus values) stored now. */
  bytes: number
  /** Reads answered by the shared store. */
  storeHits: number
  /** Reads the shared store had no fresh entry for. */
  storeMisses: number
  /** Store calls that failed, timed out, or were skipped while the store was down. */
  storeErrors: number
  /** Calls answered by a load that ran in another process. */
  remoteLoadsJoined: number
  /** Expired values served (stale-while-revalidate, fail-safe, soft timeout); counted as hits too. */
  staleHits: number
  /** Background refreshes that completed (stale-while-revalidate, refresh-ahead). */
  refreshes: number
  /** Background refreshes whose loader failed (counted in `loadErrors` too). */
  refreshErrors: number
}

/** A clock for tests: starts at 0 and moves only by `advance`. */
export class ManualClock {
  constructor()
  /** Moves the clock forward by `ms` (>= 0; a fraction of a millisecond is dropped, as for a ttl); returns the new time. */
  advance(ms: number): number
  /** Milliseconds since the clock was made. */
  now(): number
}

/**
 * A bounded TTL cache with single-flight loading. Keys are strings (anything else is a
 * TypeError); values are held by reference (`undefined` is never stored).
 */
export class Cache<V = any> {
  constructor(options?: CacheOptions)

  /** The value, or undefined when absent or expired. */
  get(key: string): Promise<V | undefined>
  /** The value; when absent or expired, loaded once with `getValue` however many callers ask. */
  get<T extends V = V>(key: string, options: GetOptions<T> & { getValue: GetValue<T> }): Promise<T>
  get<T extends V = V>(key: string, options: GetOptions<T>): Promise<T | undefined>
  get<T extends V = V>(key: string, getValue: (key: string) => T | PromiseLike<T>): Promise<T>
  /** `get`, answering the value with how it was served (the "Cached" badge). */
  getEntry<T extends V = V>(key: string, options?: GetOptions<T>): Promise<CacheEntry<T>>
  /** Stores the value (Promise of whether it was stored). `undefined` deletes the key. */
  set(key: string, value: V | undefined, options?: SetOptions<V>): Promise<boolean>
  /** Stores the value only if the key has no live value, atomically (in the store too): Promise of whether it was stored. */
  add(key: string, value: V, options?: SetOptions<V>): Promise<boolean>
  /** Removes the key (Promise of whether it had a live value). */
  del(key: string): Promise<boolean>

  /** The value in this process, or undefined (counts one hit or one miss). */
  getSync(key: string): V | undefined
  /**
   * Stores the value; false when nothing is stored (ttl 0, over a size limit). `undefined`
   * deletes. With a store, the store is written in the background.
   */
  setSync(key: string, value: V | undefined, options?: SetOptions<V>): boolean
  /** Removes the key; whether it had a live value in this process. */
  delSync(key: string): boolean
  /** Whether the key has a live value in this process (counts neither a hit nor a miss). */
  has(key: string): boolean

  /** Sets a new TTL (ms) on a live key; 0 removes it. Promise of whether the key was live. */
  expire(key: string, ttl: number): Promise<boolean>
  /** Promise of the milliseconds until the key expires (Infinity if never), or undefined. */
  remainingTtl(key: string): Promise<number | undefined>
  /**
   * Adds `by` (default 1) to the integer at `key` atomically; a missing key starts at 0
   * (with `mustExist`, it rejects with code ERR_FLIGHTCACHE_NOT_FOUND and writes nothing).
   * Promise of the new value: a number, or a BigInt beyond ±(2^53 - 1).
   */
  incr(key: string, by?: number | bigint, options?: { mustExist?: boolean }): Promise<number | bigint>
  /** Promise of the live keys (a namespace lists its own keys, without its prefix). */
  keys(): Promise<string[]>
  /** Removes every key (a namespace removes only its own). */
  clear(): Promise<void>
  /** Promise of true when the cache and its store answer. */
  ping(): Promise<boolean>
  /** Entries in this process's tier now. */
  readonly size: number
  /** Whether a shared store is behind this cache (its `get` then reads the store). */
  readonly hasStore: boolean
  /** The last error the store gave, or undefined. */
  readonly storeError: string | undefined
  /** A view with the whole API whose keys are stored under `name`. */
  namespace(name: string): Cache<V>
  /** Counters since the cache was made. */
  stats(): Stats
  /** Removes every expired entry of this process now; returns how many (a timer also does it every second). */
  purgeExpired(): number

  /** Memoizes `fn`: calls with the same arguments share one entry and one load. */
  wrap<A extends unknown[], R>(
    fn: (...args: A) => R | PromiseLike<R>,
    options?: WrapOptions<A>
  ): (...args: A) => Promise<R>

  /**
   * The access token `name`: `fetchToken` runs once per lifetime (single-flight) and returns
   * an OAuth token response (`access_token` with `expires_in` seconds or `expires_at`) or a
   * JWT (its `exp` gives the lifetime). Kept for its lifetime less `skew` ms (default 30 000).
   */
  token(
    name: string,
    fetchToken: () => TokenResponse | string | PromiseLike<TokenResponse | string>,
    options?: { skew?: number, /** Fraction of the kept time after which a call fetches the next token in the background (default 0.8; null: off). */ refreshAhead?: number | null }
  ): Promise<string>
  /** The global `fetch` through this cache (`flightcache/http`'s `wrapFetch`, default options). */
  fetch(input: string | URL | Request, init?: RequestInit): Promise<Response>
}

/** What a token endpoint answers (RFC 6749 §5.1); `token` is accepted for `access_token`. */
export interface TokenResponse {
  access_token?: string
  token?: string
  expires_in?: number | string
  /** Epoch seconds (or ms), or an RFC 3339 time. */
  expires_at?: number | string
  [field: string]: unknown
}

/** Stable `code`s of flightcache's own errors. Loader rejections pass through unchanged. */
export const errorCodes: {
  readonly WRONG_TYPE: 'ERR_FLIGHTCACHE_WRONG_TYPE'
  readonly INVALID_ARGUMENT: 'ERR_FLIGHTCACHE_INVALID_ARGUMENT'
  readonly TIMEOUT: 'ERR_FLIGHTCACHE_TIMEOUT'
  readonly REENTRANT: 'ERR_FLIGHTCACHE_REENTRANT'
  readonly LOADER_FAILED: 'ERR_FLIGHTCACHE_LOADER_FAILED'
  readonly LOADER_ABORTED: 'ERR_FLIGHTCACHE_LOADER_ABORTED'
  readonly NOT_FOUND: 'ERR_FLIGHTCACHE_NOT_FOUND'
}
