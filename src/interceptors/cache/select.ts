/**
 * What to do with a GET, given what is stored under its key (RFC 9111 §4), pure: the clock
 * comes in as `now`.
 */
import type { RequestDirectives } from './cache-control.js'
import { freshness, type HeuristicOptions } from './freshness.js'
import { parseHttpDate } from './http-date.js'
import { variantId } from './key.js'
import type { CachedResponse } from './store.js'

export type Decision =
  /** Serve the stored response (as a 304 when it answers the caller's own conditional). */
  | { kind: 'hit'; entry: CachedResponse; notModified: boolean }
  /** RFC 5861 §3: serve it stale and revalidate in the background. */
  | { kind: 'stale-while-revalidate'; entry: CachedResponse }
  /** §4.3.1: ask the origin whether `entry` is still good (it has a validator). */
  | { kind: 'revalidate'; entry: CachedResponse }
  /** Forward as it is; `entry` (stale, no validator) is kept for stale-if-error. */
  | { kind: 'fetch'; entry: CachedResponse | undefined }
  /** The caller's own conditional request, forwarded; a 304 freshens `entry`. */
  | { kind: 'client-conditional'; entry: CachedResponse | undefined }
  /** §5.2.1.7 only-if-cached with nothing usable: a 504. */
  | { kind: 'only-if-cached' }
  /** Range and precondition requests (If-Match, If-Unmodified-Since, If-Range) pass by the cache. */
  | { kind: 'bypass' }

export interface SelectInput {
  headers: ReadonlyArray<readonly [string, string]>
  cc: RequestDirectives
  stored: readonly CachedResponse[]
  now: number
  heuristic: HeuristicOptions | undefined
}

function field(headers: ReadonlyArray<readonly [string, string]>, name: string): string | undefined {
  for (const [n, v] of headers) if (n === name) return v
  return undefined
}

function firstOf(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}

/** §4.1: the stored variants this request may use; the most recent (by Date, then by arrival) first. */
export function matchingVariant(stored: readonly CachedResponse[], headers: ReadonlyArray<readonly [string, string]>): CachedResponse | undefined {
  let best: CachedResponse | undefined
  let bestTime = -Infinity
  for (const entry of stored) {
    if (variantId(entry.vary, headers) !== entry.variant) continue
    const dateLine = firstOf(entry.headers['date'])
    const time = (dateLine === undefined ? null : parseHttpDate(dateLine)) ?? entry.responseTime
    if (best === undefined || time > bestTime || (time === bestTime && entry.responseTime > best.responseTime)) {
      best = entry
      bestTime = time
    }
  }
  return best
}

/**
 * RFC 9110 §13.1.2 / §13.1.3 evaluated against a stored response: does the caller's
 * If-None-Match (weak comparison) or, without it, If-Modified-Since say "not modified"?
 */
export function evaluateConditional(headers: ReadonlyArray<readonly [string, string]>, entry: CachedResponse): boolean {
  const inm = field(headers, 'if-none-match')
  if (inm !== undefined) {
    const etag = firstOf(entry.headers['etag'])
    if (inm.trim() === '*') return true
    if (etag === undefined) return false
    const weak = (tag: string): string => tag.trim().replace(/^W\//, '')
    return inm.split(',').some((tag) => weak(tag) === weak(etag))
  }
  const ims = field(headers, 'if-modified-since')
  if (ims === undefined) return false
  const since = parseHttpDate(ims)
  if (since === null) return false
  // RFC 9111 §4.3.2: the stored Last-Modified, else its Date, else when it was received.
  const lastModifiedLine = firstOf(entry.headers['last-modified']) ?? firstOf(entry.headers['date'])
  const lastModified = (lastModifiedLine === undefined ? null : parseHttpDate(lastModifiedLine)) ?? entry.responseTime
  return lastModified <= since
}

export function select(input: SelectInput): Decision {
  const { headers, cc } = input
  if (['range', 'if-range', 'if-match', 'if-unmodified-since'].some((name) => field(headers, name) !== undefined)) return { kind: 'bypass' }
  const conditional = field(headers, 'if-none-match') !== undefined || field(headers, 'if-modified-since') !== undefined
  const entry = matchingVariant(input.stored, headers)
  if (entry === undefined) {
    if (cc.onlyIfCached) return { kind: 'only-if-cached' }
    return conditional ? { kind: 'client-conditional', entry: undefined } : { kind: 'fetch', entry: undefined }
  }
  const f = freshness(entry, input.now, input.heuristic)
  // §4.2.4 / §5.2.2: directives that forbid using it without validation.
  const mustValidate = f.cc.noCache || cc.noCache
  // §5.2.1.1: max-age=0 always asks the origin; otherwise the age must not exceed it.
  const ageOk = cc.maxAge === undefined || (cc.maxAge > 0 && f.age <= cc.maxAge)
  const fresh = f.remaining > 0 && (cc.minFresh === undefined || f.remaining >= cc.minFresh)
  // §5.2.1.2: max-stale accepts a stale response, unless the origin said must-revalidate (§5.2.2.2).
  const staleOk = !fresh && cc.maxStale !== undefined && -f.remaining <= cc.maxStale && !f.cc.mustRevalidate
  if (!mustValidate && ageOk && (fresh || staleOk)) {
    return { kind: 'hit', entry, notModified: conditional && evaluateConditional(headers, entry) }
  }
  if (
    !conditional &&
    !mustValidate &&
    !f.cc.mustRevalidate &&
    f.remaining <= 0 &&
    f.cc.staleWhileRevalidate !== undefined &&
    -f.remaining <= f.cc.staleWhileRevalidate &&
    cc.maxAge === undefined &&
    cc.minFresh === undefined
  ) {
    return { kind: 'stale-while-revalidate', entry }
  }
  if (cc.onlyIfCached) return { kind: 'only-if-cached' }
  if (conditional) return { kind: 'client-conditional', entry }
  const hasValidator = entry.headers['etag'] !== undefined || entry.headers['last-modified'] !== undefined
  return hasValidator ? { kind: 'revalidate', entry } : { kind: 'fetch', entry }
}
