/**
 * How a mocked request is described and matched: origin, method, path (string, RegExp or
 * function), query, headers and body, in the shapes undici's MockAgent and nock users know.
 */
import type { HeaderRecord } from '../dispatch.js'

/** A request as the mock saw it: what matchers, reply functions and `calls` receive. */
export interface MockRequest {
  /** `scheme://host[:port]` (default ports dropped, as `URL#origin`). */
  origin: string
  method: string
  /** The request-target, `/path?query`. */
  path: string
  /** `origin` + `path`. */
  url: string
  /** Lowercase names, as sent (including `accept-encoding` when the agent decompresses). */
  headers: HeaderRecord
  /** The body as UTF-8 text ('' when none). */
  body: string
  /** The body's bytes. */
  bodyBytes: Buffer
}

export type StringMatcher = string | RegExp | ((value: string) => boolean)

export interface InterceptOptions {
  /** `/path` (the query is ignored unless the string has one), a RegExp over `/path?query`, or a function of it. */
  path: StringMatcher
  /** Default 'GET'. */
  method?: StringMatcher
  /** Every listed parameter must be present with this value, and no other parameter. */
  query?: Record<string, string | number | boolean | readonly string[]>
  /** Each named header must match (names case-insensitive); or a function of all of them. */
  headers?: Record<string, StringMatcher> | ((headers: HeaderRecord) => boolean)
  /** The request body as text: equal, matching, or accepted by the function. */
  body?: StringMatcher
}

export type OriginMatcher = string | RegExp | ((origin: string) => boolean)

export function normalizeOrigin(origin: string | URL): string {
  return new URL(String(origin)).origin
}

export function matchString(matcher: StringMatcher, value: string): boolean {
  if (typeof matcher === 'string') return matcher === value
  if (matcher instanceof RegExp) {
    matcher.lastIndex = 0
    return matcher.test(value)
  }
  return matcher(value)
}

export function matchOrigin(matcher: OriginMatcher, origin: string): boolean {
  if (typeof matcher === 'string') return normalizeOrigin(matcher) === origin
  return matchString(matcher, origin)
}

function matchPath(matcher: StringMatcher, target: string): boolean {
  if (typeof matcher !== 'string') return matchString(matcher, target)
  if (matcher.includes('?')) return matcher === target
  const q = target.indexOf('?')
  return matcher === (q === -1 ? target : target.slice(0, q))
}

function matchQuery(expected: NonNullable<InterceptOptions['query']>, target: string): boolean {
  const q = target.indexOf('?')
  const actual = new URLSearchParams(q === -1 ? '' : target.slice(q + 1))
  const keys = new Set(actual.keys())
  if (keys.size !== Object.keys(expected).length) return false
  for (const [key, value] of Object.entries(expected)) {
    const want = Array.isArray(value) ? value.map(String) : [String(value)]
    const got = actual.getAll(key)
    if (got.length !== want.length || got.some((v, i) => v !== want[i])) return false
  }
  return true
}

function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value
}

function matchHeaders(expected: NonNullable<InterceptOptions['headers']>, headers: HeaderRecord): boolean {
  if (typeof expected === 'function') return expected(headers)
  for (const [name, matcher] of Object.entries(expected)) {
    const value = headerText(headers[name.toLowerCase()])
    if (value === undefined || !matchString(matcher, value)) return false
  }
  return true
}

export function matchRequest(options: InterceptOptions, request: MockRequest): boolean {
  const method = options.method ?? 'GET'
  if (typeof method === 'string' ? method.toUpperCase() !== request.method.toUpperCase() : !matchString(method, request.method)) return false
  if (!matchPath(options.path, request.path)) return false
  if (options.query !== undefined && !matchQuery(options.query, request.path)) return false
  if (options.headers !== undefined && !matchHeaders(options.headers, request.headers)) return false
  if (options.body !== undefined && !matchString(options.body, request.body)) return false
  return true
}

/** A matcher as text, for error messages and `pendingInterceptors()`. */
export function describeMatcher(matcher: StringMatcher | OriginMatcher | undefined): string {
  if (matcher === undefined) return '*'
  if (typeof matcher === 'function') return `[function ${matcher.name || 'anonymous'}]`
  return String(matcher)
}
