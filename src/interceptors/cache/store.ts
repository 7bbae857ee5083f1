/**
 * The store behind `cache()`: a small interface a user can back with anything (the default is
 * `MemoryCacheStore`). It keeps whole responses, several variants (RFC 9111 §4.1 Vary) per
 * primary key; choosing among them, freshness and every other rule stay in the interceptor,
 * so a store only keeps and forgets. Methods may return promises.
 */
import type { HeaderRecord, Protocol } from '../../dispatch.js'

/** One stored response (RFC 9111 §3). Treat it as immutable: a change is a `put` of a new object. */
export interface CachedResponse {
  /** The primary key (target URI) it is stored under. */
  readonly key: string
  /** The request fields its `Vary` names (lowercase, sorted); empty without Vary. */
  readonly vary: readonly string[]
  /** Those fields' values in the request that got it (normalised); `''` without Vary. A put replaces the entry with the same key and variant. */
  readonly variant: string
  readonly status: number
  readonly statusText: string
  /** The head as stored: connection-specific fields removed (§3.1). */
  readonly headers: HeaderRecord
  /** The whole body as received (still content-encoded). */
  readonly body: Uint8Array
  /** When the request that got it, or last validated it, was sent (ms since the epoch; §4.2.3 request_time). */
  readonly requestTime: number
  /** When that response's head arrived (§4.2.3 response_time). */
  readonly responseTime: number
  /** The protocol it came over, told again when it is served. */
  readonly protocol: Protocol
}

export interface CacheStoreStats {
  /** Stored responses (variants counted apart). */
  entries: number
  /** Bytes they take (bodies and heads, as the store counts them). */
  bytes: number
  /** Responses dropped to stay within the bounds. */
  evictions: number
}

export interface CacheStore {
  /** Every stored variant under `key` (an empty list or undefined when none). */
  get(key: string): readonly CachedResponse[] | undefined | Promise<readonly CachedResponse[] | undefined>
  /** Keep `entry`, replacing the one with the same `key` and `variant`. */
  put(entry: CachedResponse): void | Promise<void>
  /** Forget every variant under `key`. */
  delete(key: string): void | Promise<void>
  /** Optional: the figures `cache().stats()` reports as bytes, entries and evictions. */
  stats?(): CacheStoreStats
  /** Optional: the largest entry worth keeping, in bytes; `cache()` does not buffer a body past it. */
  readonly maxEntrySize?: number
}
