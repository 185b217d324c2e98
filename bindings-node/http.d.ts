// Type definitions for flightcache/http.
import type { Cache } from './index'

export interface HttpCacheOptions {
  /** TTL of a stored response, ms (default 600 000). */
  ttl?: number
  /** The largest TTL, also for `Cache-Control` / `Expires` when respected (default 3 600 000). */
  maxTtl?: number
  /** The query parameter names that are part of the key (default: all). */
  keyParams?: string[]
  /** Take the TTL from the response's `Cache-Control: max-age` / `Expires` (default false). */
  respectCacheControl?: boolean
  /** A longer key (UTF-8 bytes, with its namespaces) bypasses the cache (default 10 240). */
  maxKeyBytes?: number
  /** A larger response (body plus headers) is not stored (default 10 240). */
  maxValueBytes?: number
  /** A 401 to a request whose `Authorization: Bearer` token came from `cache.token` drops it (default true). */
  dropTokenOn401?: boolean
}

/** How a response was served, in its `x-cache` header. */
export type XCache = 'HIT' | 'MISS' | 'STALE' | 'REVALIDATED'

export interface CachedFetch {
  (input: string | URL | Request, init?: RequestInit): Promise<Response>
  /** Drops every stored response, or those of one origin (`https://api.example.com`) or endpoint (with a path). */
  clear(url?: string): void
}

/** A fetch-compatible function that answers from `cache`. */
export function wrapFetch(
  fetch: (input: any, init?: any) => Promise<Response>,
  cache: Cache,
  options?: HttpCacheOptions
): CachedFetch

export interface AxiosAttachment {
  clear(url?: string): void
  /** Removes the interceptors. */
  detach(): void
}

/** Installs the cache as interceptors of an axios instance. Attach it before other request interceptors, so that it sees their headers. */
export function attachAxios(axios: any, cache: Cache, options?: HttpCacheOptions): AxiosAttachment

/** `cache.fetch(input, init)`. */
export function cacheFetch(cache: Cache, input: string | URL | Request, init?: RequestInit): Promise<Response>

/** The namespace of the cache that holds the responses. */
export const NAMESPACE: 'http'
