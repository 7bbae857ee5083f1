/**
 * What may be stored and how stored heads change (RFC 9111 §3, §3.1, §3.2, §4.3.4, §4.4), pure.
 */
import type { HeaderRecord } from '../../dispatch.js'
import type { RequestDirectives, ResponseDirectives } from './cache-control.js'
import { HEURISTICALLY_CACHEABLE } from './freshness.js'

/**
 * Statuses whose caching rules we implement (§5.2.2.3 `must-understand`): every final status
 * RFC 9110 defines but 206 (no range handling here) and 304 (never stored as such).
 */
const UNDERSTOOD: ReadonlySet<number> = new Set([200, 201, 202, 203, 204, 205, 300, 301, 302, 303, 307, 308, 400, 401, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 421, 422, 426, 500, 501, 502, 503, 504, 505])

export interface StoreDecisionInput {
  status: number
  headers: HeaderRecord
  cc: ResponseDirectives
  request: RequestDirectives
  /** The request carried `Authorization`. */
  authorization: boolean
  /** A heuristic lifetime is configured. */
  heuristic: boolean
}

/**
 * §3: may this response to a GET be stored? Also refuses what could never be reused (Vary: *,
 * handled by the caller) and what would only ever be fetched again whole: a response with
 * no lifetime, no validator and no stale-if-error/stale-while-revalidate to use it for.
 */
export function mayStore(input: StoreDecisionInput): boolean {
  const { status, headers, cc } = input
  if (status < 200 || status === 206 || status === 304) return false
  // §5.2.1.5: request no-store — nothing of this exchange is stored.
  if (input.request.noStore) return false
  if (cc.mustUnderstand) {
    // §5.2.2.3: only a cache that understands the status may store it, and it then
    // ignores no-store (which a sender adds for caches that do not).
    if (!UNDERSTOOD.has(status)) return false
  } else if (cc.noStore) {
    return false
  }
  // §3.5 is a shared-cache rule, but one Agent often serves many users of a server process:
  // a response to an authenticated request is kept only when the origin said it may be
  // (public, must-revalidate, s-maxage — and private, which names exactly this kind of cache).
  if (input.authorization && !(cc.public || cc.private || cc.mustRevalidate || cc.sMaxage)) return false
  // §3: explicit freshness, public/private, or a status cacheable by default.
  const explicit = cc.maxAge !== undefined || headers['expires'] !== undefined || cc.public || cc.private
  if (!explicit && !HEURISTICALLY_CACHEABLE.has(status)) return false
  const hasValidator = headers['etag'] !== undefined || headers['last-modified'] !== undefined
  const canBeFresh = cc.maxAge !== undefined ? cc.maxAge > 0 : headers['expires'] !== undefined || input.heuristic
  return canBeFresh || hasValidator || cc.staleIfError !== undefined || cc.staleWhileRevalidate !== undefined
}

/** §3.1: fields that describe the connection, not the response, and are never stored. */
const NOT_STORED: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'transfer-encoding',
  'upgrade',
  'proxy-authenticate',
  'proxy-authentication-info',
  'proxy-authorization',
])

/**
 * §3.1: the head as stored — no connection-specific fields, nor those `Connection` names, nor
 * those a qualified no-cache names (`omit`, §5.2.2.4).
 */
export function storedHeaders(headers: HeaderRecord, omit: readonly string[] = []): HeaderRecord {
  const named = connectionNamed(headers)
  for (const name of omit) named.add(name)
  const out: HeaderRecord = {}
  for (const name of Object.keys(headers)) {
    if (NOT_STORED.has(name) || named.has(name)) continue
    out[name] = headers[name] as string | string[]
  }
  return out
}

function connectionNamed(headers: HeaderRecord): Set<string> {
  const out = new Set<string>()
  const field = headers['connection']
  if (field === undefined) return out
  for (const line of typeof field === 'string' ? [field] : field) for (const name of line.split(',')) out.add(name.trim().toLowerCase())
  return out
}

/**
 * §3.2 / §4.3.4: freshen a stored head with a 304's (or a HEAD's) fields. Each field of the
 * new head replaces the stored one, except those never stored (§3.1) and Content-Length,
 * which describes the stored body, not the bodiless 304.
 */
export function updatedHeaders(stored: HeaderRecord, fresh: HeaderRecord, omit: readonly string[] = []): HeaderRecord {
  const out: HeaderRecord = { ...stored }
  const update = storedHeaders(fresh, omit)
  for (const name of Object.keys(update)) {
    if (name === 'content-length') continue
    out[name] = update[name] as string | string[]
  }
  return out
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}

/**
 * §4.3.4: does a 304 apply to this stored response? With a strong ETag in the 304, only a
 * stored response with the same one; with a weak one or only Last-Modified, one that has the
 * same; with no validator at all, the (one) stored response we asked about.
 */
export function notModifiedMatches(stored: HeaderRecord, notModified: HeaderRecord): boolean {
  const etag = first(notModified['etag'])
  if (etag !== undefined) return first(stored['etag']) === etag
  const lastModified = first(notModified['last-modified'])
  if (lastModified !== undefined) return first(stored['last-modified']) === lastModified
  return true
}

/** RFC 9110 §9.2.1: methods that are safe; every other one (known or not) invalidates (§4.4). */
const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE'])

export function isUnsafe(method: string): boolean {
  return !SAFE_METHODS.has(method)
}

/**
 * §4.4: after a non-error (2xx/3xx) answer to an unsafe request, the target URI and the
 * same-origin URIs in Location and Content-Location are invalidated (a different origin's
 * are not, lest one origin evict another's responses).
 */
export function invalidationTargets(target: URL, status: number, headers: HeaderRecord): URL[] {
  if (status < 200 || status >= 400) return []
  const out = [target]
  for (const name of ['location', 'content-location']) {
    const value = first(headers[name])
    if (value === undefined) continue
    let url: URL
    try {
      url = new URL(value, target)
    } catch {
      continue
    }
    if (url.origin === target.origin) out.push(url)
  }
  return out
}

/** The request fields that make a GET conditional or partial: the cache does not add its own on top of them. */
export const CONDITIONAL_REQUEST_FIELDS = ['if-none-match', 'if-modified-since', 'if-match', 'if-unmodified-since', 'if-range', 'range'] as const
