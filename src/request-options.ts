/**
 * Turns what a caller passes to `request()` / `dispatch()` into a validated DispatchRequest.
 * Everything is checked here, before a connection is chosen, so a bad header never reaches
 * a socket (no CRLF injection: RFC 9110 §5.5, RFC 9112 §2.2).
 */
import { InvalidArgumentError } from './errors.js'
import { bodyByteLength, isInMemoryBody, webBody, type RequestBodyInit } from './body-source.js'
import { msOption } from './option-checks.js'
import type { DispatchRequest, RequestBody } from './dispatch.js'
import { assertFieldValue, assertRequestTarget, assertToken } from './http/validate.js'
import { ACCEPT_ENCODING } from './decompress.js'
import { countingBody, type ProgressListener } from './progress.js'

export type HeadersInit =
  | Record<string, string | number | readonly string[] | undefined>
  | Iterable<readonly [string, string]>

export interface PoolRequestOptions {
  /** request-target in origin-form, `/path?query`. Default `/`. */
  path?: string
  method?: string
  headers?: HeadersInit
  /**
   * string, bytes, a Readable or AsyncIterable of bytes, or a web body: `Blob`, `FormData`
   * (multipart/form-data), `URLSearchParams` (form-urlencoded), `ReadableStream`. The
   * content-type of a web body is set unless you set one; content-length whenever the
   * size is known.
   */
  body?: RequestBodyInit
  /**
   * Called as the request body goes out and the response body comes in (bytes so far, and
   * the total when known). A request with onProgress is not retried when its body is in
   * memory (it is then sent in slices to report them). Costs nothing when unset.
   */
  onProgress?: ProgressListener
  /** A value sent as JSON (`JSON.stringify`) with `content-type: application/json` (unless set); not with `body`. */
  json?: unknown
  signal?: AbortSignal
  /** Default: true for GET, HEAD, OPTIONS, TRACE, PUT, DELETE (RFC 9110 §9.2.2). */
  idempotent?: boolean
  headersTimeout?: number
  bodyTimeout?: number
  /** Ask for a protocol upgrade (e.g. `websocket`); the 101 goes to `onUpgrade`. */
  upgrade?: string
  /**
   * Affinity key: requests with the same key go to the same connection while it lives
   * (they wait for it when it is busy), e.g. to keep a connection-bound authentication or a
   * server-side session on one socket. When it closes or drains, the next request binds anew.
   */
  affinity?: string
  /**
   * Overall deadline in ms for the whole request: waiting for a connection, connecting, the
   * response head and the body to its end (got's `timeout.request`), beside the phase
   * timeouts; a request that misses it fails with WP_REQUEST_TIMEOUT. Default: none (0 too).
   */
  timeout?: number
  /**
   * What a redirect response (301, 302, 303, 307, 308 with a Location) does (README
   * "Redirects"): `manual` (default) resolves with it; `follow` sends the request on to its
   * Location (on a Pool: same-origin hops only); `error` fails with WP_REDIRECT_REFUSED.
   */
  redirect?: RedirectMode
  /** With `redirect: 'follow'`: more redirects than this fail with WP_TOO_MANY_REDIRECTS. Default 20. */
  maxRedirections?: number
}

/** A request's `redirect` option. */
export type RedirectMode = 'follow' | 'manual' | 'error'

export interface RequestOptions extends PoolRequestOptions {
  /** Absolute URL; or give `origin` and `path`. */
  url?: string | URL
  origin?: string | URL
}

/**
 * Every per-request option (RequestOptions, PoolRequestOptions): anything else is refused,
 * as the Agent's options are, so a misspelt one is an error rather than silently ignored.
 */
const KNOWN_REQUEST_OPTIONS = new Set([
  'url', 'origin', 'path', 'method', 'headers', 'body', 'signal', 'idempotent', 'headersTimeout', 'bodyTimeout',
  'upgrade', 'affinity', 'timeout', 'json', 'onProgress', 'redirect', 'maxRedirections',
])

/** The `redirect` option (request or interceptor), `fallback` when unset. */
export function redirectModeOption(value: unknown, fallback: RedirectMode): RedirectMode {
  if (value === undefined) return fallback
  if (value !== 'follow' && value !== 'manual' && value !== 'error') throw new InvalidArgumentError(`option redirect must be 'follow', 'manual' or 'error', not ${JSON.stringify(value)}`)
  return value
}

/** The `maxRedirections` option (request or interceptor), `fallback` when unset. */
export function maxRedirectionsOption(value: unknown, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) throw new InvalidArgumentError(`option maxRedirections must be a non-negative integer, not ${String(value)}`)
  return value
}

/** Throw for the first key that is not a request option, suggesting the one it resembles. */
function checkOptionNames(options: object): void {
  for (const key in options) {
    if (!KNOWN_REQUEST_OPTIONS.has(key)) throw new InvalidArgumentError(`unknown request option ${key}${suggestion(key)}`)
  }
}

/** ` (did you mean X?)` for a known option within two edits (or differing only in case). */
function suggestion(key: string): string {
  let best: string | undefined
  let bestDistance = 3
  for (const known of KNOWN_REQUEST_OPTIONS) {
    const d = known.toLowerCase() === key.toLowerCase() ? 0 : editDistance(known, key)
    if (d < bestDistance) {
      best = known
      bestDistance = d
    }
  }
  return best === undefined ? '' : ` (did you mean ${best}?)`
}

/** Levenshtein distance (only ever run on the error path, on short names). */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      current[j] = Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, (previous[j - 1] as number) + cost)
    }
    previous = current
  }
  return previous[b.length] as number
}

/** The `timeout` option: undefined or 0 mean none. */
export function requestTimeoutOption(value: unknown): number {
  return msOption('timeout', value, 0)
}

/** RFC 9110 §9.2.2: methods whose repetition has the same effect as one request. */
const IDEMPOTENT_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE'])

/**
 * Headers the engine owns. Framing and connection management are per-hop (RFC 9110 §7.6.1)
 * and decided by the protocol layer; letting a caller set them is how requests get smuggled.
 */
const ENGINE_OWNED = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'te', 'proxy-connection'])

/** The caller's `idempotent`, else the method's nature (RFC 9110 §9.2.2; method names are case-sensitive, §9.1). */
export function isIdempotentRequest(options: { method?: string | undefined; idempotent?: boolean | undefined }): boolean {
  return options.idempotent ?? IDEMPOTENT_METHODS.has(options.method ?? 'GET')
}

export interface Timeouts {
  headersTimeout: number
  bodyTimeout: number
}

interface HeaderState {
  expectContinue: boolean
  contentLength: number
  host: string | undefined
  acceptEncoding: boolean
  contentType: boolean
}

function pushHeader(out: string[], name: unknown, value: unknown, state: HeaderState): void {
  if (typeof name !== 'string') throw new InvalidArgumentError('header names must be strings')
  assertToken(name, 'header name')
  if (typeof value === 'number') value = String(value)
  if (typeof value !== 'string') throw new InvalidArgumentError(`header ${name} must have a string value`)
  assertFieldValue(name, value)
  const lower = name.toLowerCase()
  if (ENGINE_OWNED.has(lower)) {
    throw new InvalidArgumentError(`header ${name} is managed by wirepool and cannot be set by the caller`)
  }
  if (lower === 'accept-encoding') state.acceptEncoding = true
  else if (lower === 'content-type') state.contentType = true
  if (lower === 'host') {
    if (state.host !== undefined) throw new InvalidArgumentError('duplicate host header')
    state.host = value
    return
  }
  if (lower === 'expect') {
    // RFC 9110 §10.1.1: 100-continue is the only expectation defined.
    if (value.toLowerCase() !== '100-continue') throw new InvalidArgumentError(`unsupported expect value ${value}`)
    state.expectContinue = true
    return
  }
  if (lower === 'content-length') {
    if (!/^\d{1,15}$/.test(value) || state.contentLength !== -1) throw new InvalidArgumentError(`invalid content-length ${value}`)
    state.contentLength = Number(value)
    return
  }
  out.push(name, value)
}

/**
 * Validate and normalise one request. `authority` is the origin's `host[:port]`.
 * `acceptEncoding`: add `accept-encoding` (when the caller set none) because the response
 * will be decoded for them.
 */
/** `path`, when given, is the request-target the Agent split from a URL (options.path is then unset). */
export function buildDispatchRequest(options: PoolRequestOptions, authority: string, defaults: Timeouts, acceptEncoding = false, path = options.path ?? '/'): DispatchRequest {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError('request options must be an object')
  checkOptionNames(options)
  const method = options.method ?? 'GET'
  if (typeof method !== 'string') throw new InvalidArgumentError('method must be a string')
  assertToken(method, 'method')
  if (typeof path !== 'string') throw new InvalidArgumentError('path must be a string')
  assertRequestTarget(path)

  const headers: string[] = []
  const state: HeaderState = { expectContinue: false, contentLength: -1, host: undefined, acceptEncoding: false, contentType: false }
  const init = options.headers
  if (init !== undefined && init !== null) {
    if (typeof init !== 'object') throw new InvalidArgumentError('headers must be an object or an iterable of pairs')
    if (Symbol.iterator in init) {
      for (const pair of init as Iterable<readonly [string, string]>) {
        if (!Array.isArray(pair) || pair.length !== 2) throw new InvalidArgumentError('header pairs must be [name, value]')
        pushHeader(headers, pair[0], pair[1], state)
      }
    } else {
      for (const name of Object.keys(init)) {
        const value = (init as Record<string, unknown>)[name]
        if (value === undefined) continue
        if (Array.isArray(value)) for (const v of value) pushHeader(headers, name, v, state)
        else pushHeader(headers, name, value, state)
      }
    }
  }

  if (acceptEncoding && !state.acceptEncoding) headers.push('accept-encoding', ACCEPT_ENCODING)

  let body = options.body as RequestBody | RequestBodyInit
  let contentType: string | undefined
  if (options.json !== undefined) {
    if (body !== undefined && body !== null) throw new InvalidArgumentError('give either body or json, not both')
    const text = JSON.stringify(options.json) as string | undefined
    if (text === undefined) throw new InvalidArgumentError('option json must be a value JSON can represent')
    body = text
    contentType = 'application/json'
  }
  let bodyLength: number
  const web = isInMemoryBody(body) ? undefined : webBody(body)
  if (web === undefined) {
    bodyLength = bodyByteLength(body as RequestBody)
  } else {
    body = web.body
    bodyLength = web.length
    contentType = web.contentType
  }
  if (contentType !== undefined && !state.contentType) headers.push('content-type', contentType)
  if (state.contentLength !== -1) {
    if (bodyLength === -1) bodyLength = state.contentLength // a stream of declared length, checked as it is sent
    else if (bodyLength !== state.contentLength) {
      throw new InvalidArgumentError(`content-length ${state.contentLength} does not match the body's ${bodyLength} bytes`)
    }
  }
  if ((method === 'GET' || method === 'HEAD') && bodyLength !== 0 && !(body === undefined || body === null)) {
    // RFC 9110 §9.3.1: a GET body has no defined semantics and some servers treat it as smuggling.
    throw new InvalidArgumentError(`${method} requests cannot have a body`)
  }
  if (options.idempotent !== undefined && typeof options.idempotent !== 'boolean') {
    throw new InvalidArgumentError('idempotent must be a boolean')
  }
  const onProgress = options.onProgress
  if (onProgress !== undefined) {
    if (typeof onProgress !== 'function') throw new InvalidArgumentError('option onProgress must be a function')
    body = countingBody(body as RequestBody, bodyLength, onProgress)
  }
  // Followed above the pool (interceptors/redirect.ts); what reaches here is only checked.
  if (options.redirect !== undefined || options.maxRedirections !== undefined) {
    redirectModeOption(options.redirect, 'manual')
    maxRedirectionsOption(options.maxRedirections, 0)
  }
  const upgrade = options.upgrade
  if (upgrade !== undefined) {
    if (typeof upgrade !== 'string') throw new InvalidArgumentError('upgrade must be a string')
    assertFieldValue('upgrade', upgrade)
  }
  return new BuiltRequest(
    method,
    path,
    state.host ?? authority,
    headers,
    body as RequestBody,
    bodyLength,
    isIdempotentRequest(options),
    state.expectContinue,
    msOption('headersTimeout', options.headersTimeout, defaults.headersTimeout),
    msOption('bodyTimeout', options.bodyTimeout, defaults.bodyTimeout),
    upgrade,
  )
}

/**
 * The DispatchRequest buildDispatchRequest makes. A class, not an object literal: a request
 * lives as long as its exchange and points at its body, and a literal may be pretenured by V8
 * (see AnnouncedConnection in src/dispatch.ts for what that cost).
 */
class BuiltRequest implements DispatchRequest {
  method: string
  path: string
  authority: string
  headers: string[]
  body: RequestBody
  bodyLength: number
  idempotent: boolean
  expectContinue: boolean
  headersTimeout: number
  bodyTimeout: number
  upgrade: string | undefined

  constructor(
    method: string,
    path: string,
    authority: string,
    headers: string[],
    body: RequestBody,
    bodyLength: number,
    idempotent: boolean,
    expectContinue: boolean,
    headersTimeout: number,
    bodyTimeout: number,
    upgrade: string | undefined,
  ) {
    this.method = method
    this.path = path
    this.authority = authority
    this.headers = headers
    this.body = body
    this.bodyLength = bodyLength
    this.idempotent = idempotent
    this.expectContinue = expectContinue
    this.headersTimeout = headersTimeout
    this.bodyTimeout = bodyTimeout
    this.upgrade = upgrade
  }
}
