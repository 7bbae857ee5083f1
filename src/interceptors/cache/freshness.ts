/**
 * Freshness of a stored response (RFC 9111 §4.2), pure: every time comes in as an argument
 * (milliseconds since the epoch), so unit tests move the clock by hand.
 */
import type { HeaderRecord } from '../../dispatch.js'
import { DELTA_SECONDS_MAX, responseDirectives, type ResponseDirectives } from './cache-control.js'
import { parseHttpDate } from './http-date.js'

/** What freshness needs of a stored response. */
export interface FreshnessInput {
  status: number
  headers: HeaderRecord
  /** When the request that produced (or last validated) the stored response was sent. */
  requestTime: number
  /** When its response head arrived. */
  responseTime: number
}

/** RFC 9110 §15.1: status codes cacheable by default, i.e. heuristically (RFC 9111 §4.2.2). */
export const HEURISTICALLY_CACHEABLE: ReadonlySet<number> = new Set([200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501])

export interface HeuristicOptions {
  /** The fraction of the time since Last-Modified taken as the lifetime (§4.2.2 suggests 10%). */
  fraction: number
  /** Upper bound on a heuristic lifetime, seconds. */
  maxSeconds: number
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}

/**
 * §5.1: Age is delta-seconds. The first field line's first list member decides (`Age: 0, old`
 * is 0, `Age: old, 0` is invalid); an invalid Age is ignored (0).
 */
export function ageValue(headers: HeaderRecord): number {
  const line = first(headers['age'])
  if (line === undefined) return 0
  const member = (line.split(',')[0] as string).trim()
  if (!/^[0-9]+$/.test(member)) return 0
  const n = Number(member)
  return n > DELTA_SECONDS_MAX ? DELTA_SECONDS_MAX : n
}

/** §4.2.3: current_age, in seconds. */
export function currentAge(entry: FreshnessInput, now: number): number {
  const dateLine = first(entry.headers['date'])
  const date = dateLine === undefined ? null : parseHttpDate(dateLine, entry.responseTime)
  const apparentAge = date === null ? 0 : Math.max(0, entry.responseTime - date) / 1000
  const responseDelay = Math.max(0, entry.responseTime - entry.requestTime) / 1000
  const correctedAgeValue = ageValue(entry.headers) + responseDelay
  const correctedInitialAge = Math.max(apparentAge, correctedAgeValue)
  const residentTime = Math.max(0, now - entry.responseTime) / 1000
  return correctedInitialAge + residentTime
}

/**
 * §4.2.1 for a private cache (s-maxage does not apply to it): max-age, else Expires − Date,
 * else a heuristic when one is configured and allowed (§4.2.2), else 0. Seconds.
 */
export function freshnessLifetime(entry: FreshnessInput, heuristic: HeuristicOptions | undefined, cc: ResponseDirectives = responseDirectives(entry.headers['cache-control'])): number {
  if (cc.maxAge !== undefined) return cc.maxAge
  const expiresField = entry.headers['expires']
  if (expiresField !== undefined) {
    // Several Expires lines, or one that is not an HTTP-date: already expired (§5.3, §4.2.1).
    if (Array.isArray(expiresField)) return 0
    const expires = parseHttpDate(expiresField, entry.responseTime)
    if (expires === null) return 0
    const dateLine = first(entry.headers['date'])
    const parsedDate = dateLine === undefined ? null : parseHttpDate(dateLine, entry.responseTime)
    // §4.2.1: without a (valid) Date, the time the response was received stands in for it.
    const date = parsedDate ?? entry.responseTime
    return Math.max(0, (expires - date) / 1000)
  }
  if (heuristic === undefined) return 0
  // §4.2.2: only for statuses cacheable by default, or when `public` marks the response cacheable.
  if (!HEURISTICALLY_CACHEABLE.has(entry.status) && !cc.public) return 0
  const lastModifiedLine = first(entry.headers['last-modified'])
  if (lastModifiedLine === undefined) return 0
  const lastModified = parseHttpDate(lastModifiedLine, entry.responseTime)
  if (lastModified === null) return 0
  const dateLine = first(entry.headers['date'])
  const date = (dateLine === undefined ? null : parseHttpDate(dateLine, entry.responseTime)) ?? entry.responseTime
  if (lastModified >= date) return 0
  return Math.min(heuristic.maxSeconds, ((date - lastModified) / 1000) * heuristic.fraction)
}

/** How fresh (positive) or stale (negative) a stored response is, in seconds. */
export interface Freshness {
  age: number
  lifetime: number
  /** lifetime − age: > 0 fresh, ≤ 0 stale (§4.2: fresh while lifetime > age). */
  remaining: number
  cc: ResponseDirectives
}

export function freshness(entry: FreshnessInput, now: number, heuristic: HeuristicOptions | undefined): Freshness {
  const cc = responseDirectives(entry.headers['cache-control'])
  const age = currentAge(entry, now)
  const lifetime = freshnessLifetime(entry, heuristic, cc)
  return { age, lifetime, remaining: lifetime - age, cc }
}
