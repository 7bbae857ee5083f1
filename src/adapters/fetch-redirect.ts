/**
 * The redirect rules of WHATWG fetch "HTTP-redirect fetch" (§4.4) with the method rewrites of
 * RFC 9110 §15.4, as a pure function: the next hop of a request, or why there is none.
 * No I/O here; `fetch.ts` does the requests.
 */

/** RFC 9110 §15.4: the statuses that carry a Location to follow. */
export const REDIRECT_STATUSES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308])

/** What a hop needs to know about the request it repeats. */
export interface Hop {
  url: URL
  method: string
  /** Lowercase name → value, as sent. */
  headers: Array<[string, string]>
  /** Buffered body (replayable), `stream` for a body that can be sent only once, or null. */
  body: Uint8Array | 'stream' | null
}

export type RedirectDecision = { kind: 'follow'; next: Hop } | { kind: 'error'; message: string }

/**
 * Fetch's "request-body-header names": they describe a body, so they go when the body does
 * (fetch §4.4 step 12).
 */
const BODY_HEADERS: ReadonlySet<string> = new Set(['content-encoding', 'content-language', 'content-location', 'content-type', 'content-length'])

/**
 * Credentials that must not follow a request to another origin (fetch §4.4 step 13 removes
 * Authorization; cookies and proxy credentials belong to the origin they were set for, as
 * browsers and undici also treat them).
 */
const ORIGIN_BOUND_HEADERS: ReadonlySet<string> = new Set(['authorization', 'cookie', 'proxy-authorization'])

export function nextHop(hop: Hop, status: number, location: string): RedirectDecision {
  let url: URL
  try {
    url = new URL(location, hop.url)
  } catch {
    return { kind: 'error', message: `invalid redirect location ${JSON.stringify(location)}` }
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { kind: 'error', message: `redirect to unsupported scheme ${url.protocol}` }
  }
  // fetch §4.4 step 10: a body that was streamed cannot be sent again.
  if (status !== 303 && hop.body === 'stream' && !rewritesToGet(status, hop.method)) {
    return { kind: 'error', message: 'cannot follow a redirect with a streamed request body' }
  }
  let method = hop.method
  let body = hop.body
  let headers = hop.headers
  // RFC 9110 §15.4.2/§15.4.3: POST may become GET on 301/302 (what every client does);
  // §15.4.4: 303 means "GET the other resource" for anything but HEAD.
  if ((status === 303 && method !== 'HEAD') || rewritesToGet(status, method)) {
    method = 'GET'
    body = null
    headers = headers.filter(([name]) => !BODY_HEADERS.has(name))
  }
  if (url.origin !== hop.url.origin) headers = headers.filter(([name]) => !ORIGIN_BOUND_HEADERS.has(name))
  // fetch §4.4 step 19: a Location without a fragment inherits the request's.
  if (url.hash === '' && hop.url.hash !== '') url.hash = hop.url.hash
  return { kind: 'follow', next: { url, method, headers, body } }
}

function rewritesToGet(status: number, method: string): boolean {
  return (status === 301 || status === 302) && method === 'POST'
}
