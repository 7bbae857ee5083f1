/**
 * What the parts of `cache()` share: the store and settings of one cache, its counters, the
 * request being looked up, and the two steps every path ends in — keeping a response and
 * producing the head a stored response is served with.
 */
import type { HeaderRecord } from '../../dispatch.js'
import type { RequestDirectives } from './cache-control.js'
import { DELTA_SECONDS_MAX } from './cache-control.js'
import { currentAge, type HeuristicOptions } from './freshness.js'
import type { ReplayResponse } from './replay.js'
import type { CachedResponse, CacheStore } from './store.js'

/** What a cache() counts (`stats()`, README "Caching"). */
export interface Counters {
  /** GETs answered from the store without asking the origin (stale ones allowed by max-stale included). */
  hits: number
  /** GETs forwarded with nothing usable stored. */
  misses: number
  /** Conditional requests the cache sent to revalidate a stored response (background ones included). */
  revalidations: number
  /** …of which the origin answered 304 and the stored response was served/freshened. */
  notModified: number
  /** Stale responses served while a background revalidation ran (RFC 5861 §3). */
  staleWhileRevalidate: number
  /** Stale responses served instead of an error (RFC 5861 §4). */
  staleIfError: number
  /** Responses written to the store. */
  stores: number
  /** Keys dropped after unsafe requests (RFC 9111 §4.4). */
  invalidations: number
  /** Store calls that failed (the request itself went on). */
  storeErrors: number
  /** Background revalidations that failed. */
  backgroundErrors: number
}

export interface CacheContext {
  readonly store: CacheStore
  readonly now: () => number
  readonly heuristic: HeuristicOptions | undefined
  readonly maxEntrySize: number
  readonly counters: Counters
}

/** A GET as the cache sees it. */
export interface Lookup {
  readonly url: URL
  readonly key: string
  /** The request's fields, lowercase names (what Vary is matched on). */
  readonly headers: ReadonlyArray<readonly [string, string]>
  readonly cc: RequestDirectives
  readonly authorization: boolean
  /** §4.2.3 request_time */
  readonly requestTime: number
  readonly signal: AbortSignal | undefined
  /** The variants stored under the key when the request was looked up. */
  readonly stored: readonly CachedResponse[]
}

/**
 * Keep a response. A response whose Vary lists other fields than the stored variants' means
 * the origin changed how it negotiates: those variants go first (they would never be chosen
 * over the newer one, only take room). Store failures are counted, never thrown: a cache that
 * cannot keep a response still answered the request.
 */
export function persist(ctx: CacheContext, lookup: Lookup, entry: CachedResponse): void {
  const varyList = entry.vary.join(',')
  const outdated = lookup.stored.some((s) => s.vary.join(',') !== varyList)
  const run = async (): Promise<void> => {
    if (outdated) await ctx.store.delete(entry.key)
    await ctx.store.put(entry)
    ctx.counters.stores++
  }
  run().catch(() => {
    ctx.counters.storeErrors++
  })
}

/** RFC 9111 §5.1: a served stored response carries its current age. */
export function servedHead(entry: CachedResponse, now: number): ReplayResponse {
  const headers: HeaderRecord = { ...entry.headers }
  headers['age'] = String(Math.min(DELTA_SECONDS_MAX, Math.floor(currentAge(entry, now))))
  return { status: entry.status, statusText: entry.statusText, headers, body: entry.body, protocol: entry.protocol }
}

/** Drop a key; failures counted, never thrown. */
export function forget(ctx: CacheContext, key: string): void {
  try {
    void Promise.resolve(ctx.store.delete(key)).catch(() => ctx.counters.storeErrors++)
  } catch {
    ctx.counters.storeErrors++
  }
}
