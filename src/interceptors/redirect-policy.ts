/**
 * Which redirects are followed and what the next request of a chain is (RFC 9110 §15.4 and
 * §10.2.2; WHATWG fetch §4.4 "HTTP-redirect fetch"), as values in and values out: no socket,
 * no timer, no promise. The `redirect()` interceptor (redirect.ts) and wirepool/fetch
 * (adapters/fetch.ts) both walk their chains with it, each with its own rules.
 *
 * Credentials are the part that has gone wrong elsewhere, in one class of bug:
 * - undici forwarded `Cookie` (CVE-2023-45143) and then `Proxy-Authorization`
 *   (GHSA-3787-6prv-h9w3) to another origin: every origin-bound field is listed here, and a
 *   caller can add its own (`stripHeaders`);
 * - Go sent them to any host whose name merely ended in the original one, an IPv6 zone
 *   (`[::1%25.example.com]`) included (CVE-2023-45289): the test here is the origin, compared
 *   exactly (scheme, host, port), never a suffix;
 * - Go restored them when a later hop came back to the original domain (CVE-2024-45336),
 *   because each hop copied the fields of the first request: here each hop is built from the
 *   previous one, and once dropped the credentials stay dropped for the rest of the chain.
 */
import type { RedirectHop, RedirectRefusal } from '../errors.js'

/** RFC 9110 §15.4: the statuses whose Location is followed (300 and 304 are not redirects to follow). */
export const REDIRECT_STATUSES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308])

/**
 * Fields that carry credentials for the origin they were set for: never sent to another one
 * (fetch §4.4 step 13 removes Authorization; cookies and proxy credentials belong to their
 * origin as much, the lesson of the advisories above).
 */
export const CREDENTIAL_HEADERS: ReadonlySet<string> = new Set(['authorization', 'cookie', 'proxy-authorization'])

/**
 * Fields that describe a request body: they go when the body does (fetch's
 * "request-body-header names", §4.4 step 12), and `expect`, which waits for a body to send.
 */
const BODY_HEADERS: ReadonlySet<string> = new Set(['content-encoding', 'content-language', 'content-location', 'content-type', 'content-length', 'expect'])

/**
 * How 301/302/303 change the method:
 * - `client`: every method but GET and HEAD becomes GET, the body dropped (Go's net/http and
 *   curl -L; RFC 9110 §15.4.2/§15.4.3 allow it for POST "for historical reasons", and a PUT
 *   re-sent to wherever a 301 points is rarely what was meant);
 * - `fetch`: fetch §4.4 step 12 — POST on 301/302, and anything but GET and HEAD on 303.
 * HEAD stays HEAD in both (§15.4.4: "a GET or HEAD request").
 */
export type MethodRewrite = 'client' | 'fetch'

export interface RedirectRules {
  methodRewrite: MethodRewrite
  /** Redirects followed before the chain fails (fetch: 20). */
  maxRedirections: number
  /** Follow https: → http:. Off for the interceptor: a downgrade exposes what follows to the network. */
  allowDowngrade: boolean
  /** More fields (lowercase) dropped with the credentials when the chain leaves the first origin. */
  stripHeaders: ReadonlySet<string>
  /** Fail as soon as a hop repeats a request of the chain (fetch counts to its limit instead). */
  detectLoops: boolean
  /** Hops may only go to this origin (`scheme://host:port`): a Pool reaches no other. */
  onlyOrigin: string | undefined
}

/** What a request carries as content, as far as sending it again goes. */
export type BodyKind = 'none' | 'replayable' | 'once'

/** One request of a chain. */
export interface HopRequest {
  url: URL
  method: string
  /** `[lowercase name, value]`, as sent. */
  headers: Array<[string, string]>
  body: BodyKind
}

export type HopDecision =
  /** Send `next`; `bodyDropped`: without the body of the request before it. */
  | { kind: 'follow'; next: HopRequest; bodyDropped: boolean }
  | { kind: 'refuse'; reason: RedirectRefusal | 'too-many' | 'loop'; message: string }

/** The first value of the response's `location` field, if any. */
export function locationOf(headers: Readonly<Record<string, string | string[]>>): string | undefined {
  const value = headers['location']
  return Array.isArray(value) ? value[0] : value
}

/**
 * A URL as a response or an error names it: without its fragment, which is never sent
 * (fetch's response URL), nor any userinfo, which is no business of a log line.
 */
export function withoutFragment(url: URL): string {
  if (url.hash === '' && url.username === '' && url.password === '') return url.href
  const copy = new URL(url.href)
  copy.hash = ''
  copy.username = ''
  copy.password = ''
  return copy.href
}

/**
 * The redirects of one request: each `next()` decides on one redirect response, and on
 * `follow` the chain has moved to the request it returns.
 */
export class RedirectChain {
  #hop: HopRequest
  readonly #rules: RedirectRules
  /** Sticky: set by the first hop to another origin, never cleared (CVE-2024-45336). */
  #credentialsDropped = false
  /** The requests sent so far (loop detection only). */
  readonly #sent: Set<string> | undefined
  /** The redirects followed, in order. */
  readonly followed: RedirectHop[] = []

  constructor(first: HopRequest, rules: RedirectRules) {
    this.#hop = first
    this.#rules = rules
    this.#sent = rules.detectLoops ? new Set([this.#key(first)]) : undefined
  }

  get current(): HopRequest {
    return this.#hop
  }

  /** The redirect `status` with Location `location` answered the current request. */
  next(status: number, location: string): HopDecision {
    const rules = this.#rules
    const hop = this.#hop
    if (this.followed.length >= rules.maxRedirections) {
      return { kind: 'refuse', reason: 'too-many', message: `redirect count exceeded: more than ${rules.maxRedirections} redirects (the last one to ${JSON.stringify(location)})` }
    }
    // RFC 9110 §10.2.2: a relative reference is resolved against the target URI (RFC 3986 §5);
    // the WHATWG parser does that, and refuses what is no reference at all.
    let url: URL
    try {
      url = new URL(location, hop.url)
    } catch {
      return { kind: 'refuse', reason: 'invalid-location', message: `invalid redirect location ${JSON.stringify(location)}` }
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      return { kind: 'refuse', reason: 'unsupported-scheme', message: `redirect to unsupported scheme ${url.protocol} (${JSON.stringify(location)})` }
    }
    if (hop.url.protocol === 'https:' && url.protocol === 'http:' && !rules.allowDowngrade) {
      return { kind: 'refuse', reason: 'downgrade', message: `redirect from https: to http: refused (${withoutFragment(url)}); allow it with allowDowngrade` }
    }
    if (rules.onlyOrigin !== undefined && url.origin !== rules.onlyOrigin) {
      return { kind: 'refuse', reason: 'cross-origin', message: `redirect to another origin (${url.origin}) from a Pool for ${rules.onlyOrigin}: make the request on an Agent to follow it` }
    }
    const toGet = rewritesToGet(status, hop.method, rules.methodRewrite)
    // RFC 9110 §15.4.8/§15.4.9 (307/308): the same method and content again, so the body must
    // be sent a second time; fetch §4.4 step 11 fails a stream body there, and so do we.
    if (!toGet && hop.body === 'once') {
      return { kind: 'refuse', reason: 'body-not-replayable', message: `cannot follow a ${status} redirect: it must send the request body again, and a streamed body can be sent only once (give a string, bytes, Blob, FormData, URLSearchParams or json)` }
    }
    let method = hop.method
    let body = hop.body
    let headers = hop.headers
    if (toGet) {
      method = 'GET'
      body = 'none'
      headers = headers.filter(([name]) => !BODY_HEADERS.has(name))
    }
    const crossOrigin = url.origin !== hop.url.origin
    if (crossOrigin) this.#credentialsDropped = true
    if (this.#credentialsDropped) headers = headers.filter(([name]) => !CREDENTIAL_HEADERS.has(name) && !rules.stripHeaders.has(name))
    // A Host set by the caller named the first origin; another one gets its own.
    if (crossOrigin) headers = headers.filter(([name]) => name !== 'host')
    // RFC 9110 §10.2.2: a Location without a fragment inherits the request's (fetch §4.4 step 19).
    if (url.hash === '' && hop.url.hash !== '') url.hash = hop.url.hash
    const next: HopRequest = { url, method, headers, body }
    const sent = this.#sent
    if (sent !== undefined) {
      const key = this.#key(next)
      if (sent.has(key)) return { kind: 'refuse', reason: 'loop', message: `redirect loop: ${method} ${withoutFragment(url)} was requested before in this chain` }
      sent.add(key)
    }
    this.followed.push({ status, url: withoutFragment(url) })
    this.#hop = next
    return { kind: 'follow', next, bodyDropped: body !== hop.body }
  }

  /**
   * What makes two requests of a chain the same request: the method, the URL and whether
   * credentials still go with it (the rest only shrinks along a chain, with them).
   */
  #key(hop: HopRequest): string {
    return `${hop.method} ${withoutFragment(hop.url)} ${this.#credentialsDropped ? '-' : '+'}`
  }
}

function rewritesToGet(status: number, method: string, rewrite: MethodRewrite): boolean {
  if (method === 'GET' || method === 'HEAD') return false
  if (status === 303) return true
  if (status !== 301 && status !== 302) return false
  return rewrite === 'client' || method === 'POST'
}
