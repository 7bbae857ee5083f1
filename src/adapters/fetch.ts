/**
 * `wirepool/fetch`: WHATWG `fetch()` on wirepool's low-level handler, no undici involved.
 * Request, Response and Headers are the platform's; the bytes go through a wirepool Agent
 * (its pool, TLS session cache and metrics). Redirects are followed here (fetch §4.4,
 * RFC 9110 §15.4) so every hop is a pooled request too.
 */
import type { Agent } from '../pool/agent.js'
import type { ComposedDispatcher } from '../interceptors/compose.js'
import { getDefaultAgent } from '../pool/agent.js'
import type { WirepoolError } from '../errors.js'
import type { HeaderRecord } from '../dispatch.js'
import type { RequestOptions } from '../request-options.js'
import { ACCEPT_ENCODING } from '../decompress.js'
import { FetchHop, fetchError, type FetchHead } from './fetch-response.js'
import { nextHop, REDIRECT_STATUSES, type Hop } from './fetch-redirect.js'

export type WirepoolFetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>

/** fetch §4.4 step 5: more than 20 redirects is a network error. */
const MAX_REDIRECTS = 20

/**
 * Hop-by-hop fields belong to wirepool's connection management (RFC 9110 §7.6.1); a fetch
 * caller may have set them (Node's Headers does not forbid them), so they are dropped,
 * as `transfer-encoding: chunked` is: wirepool frames bodies itself.
 */
const DROPPED_REQUEST_HEADERS: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding'])

/**
 * A fetch bound to one wirepool Agent, or to an Agent composed with interceptors
 * (`agent.compose(cache())`): then every request, each redirect hop included, passes through them.
 */
export function createFetch(agent: Agent | ComposedDispatcher<Agent>): WirepoolFetch {
  return (input, init) => wirepoolFetch(agent, input, init)
}

/** fetch on wirepool's process-wide default Agent (the one behind `request()`). */
export function fetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
  return wirepoolFetch(getDefaultAgent(), input, init)
}

function isStreamBody(body: unknown): boolean {
  return (
    typeof body === 'object' &&
    body !== null &&
    (body instanceof ReadableStream || Symbol.asyncIterator in body)
  )
}

/**
 * The request body: bytes when it can be sent again (every BodyInit but a stream), or the
 * stream itself. Buffering lets a 307/308 redirect re-send it and gives a content-length.
 */
async function extractBody(request: Request, input: unknown, init: RequestInit | undefined): Promise<Uint8Array | ReadableStream<Uint8Array> | null> {
  if (request.body === null) return null
  const given = init?.body ?? null
  // A body that came inside a Request input is a stream already, of unknown length.
  const streamed = given !== null ? isStreamBody(given) : input instanceof Request
  if (streamed) return request.body
  return new Uint8Array(await request.arrayBuffer())
}

async function wirepoolFetch(agent: Agent | ComposedDispatcher<Agent>, input: string | URL | Request, init?: RequestInit): Promise<Response> {
  // The platform validates and normalises: URL, method (forbidden ones throw), headers, signal.
  const request = new Request(input, init)
  const signal = request.signal
  if (signal.aborted) throw signal.reason
  const body = await extractBody(request, input, init)

  const headers: Array<[string, string]> = []
  for (const [name, value] of request.headers) {
    if (!DROPPED_REQUEST_HEADERS.has(name)) headers.push([name, value])
  }
  // What undici's fetch sends by default (fetch §4.6 "HTTP-network-or-cache fetch").
  if (!request.headers.has('accept')) headers.push(['accept', '*/*'])
  if (!request.headers.has('accept-encoding')) headers.push(['accept-encoding', ACCEPT_ENCODING])
  if (body instanceof Uint8Array && request.method !== 'GET' && request.method !== 'HEAD') {
    headers.push(['content-length', String(body.byteLength)])
  }

  let hop: Hop = {
    url: new URL(request.url),
    method: request.method,
    headers,
    body: body === null ? null : body instanceof Uint8Array ? body : 'stream',
  }
  let redirects = 0
  for (;;) {
    if (signal.aborted) throw signal.reason
    const follow = request.redirect !== 'manual'
    const handler = new FetchHop({
      head: hop.method === 'HEAD',
      isFollowedRedirect: (status, h) => follow && REDIRECT_STATUSES.has(status) && locationOf(h) !== undefined,
      toFetchError: (err: WirepoolError) => fetchError(err, signal),
    })
    const options: RequestOptions = { url: hop.url, method: hop.method, headers: hop.headers, signal }
    if (hop.body instanceof Uint8Array) options.body = hop.body
    else if (hop.body === 'stream') options.body = body as ReadableStream<Uint8Array> as unknown as AsyncIterable<Uint8Array>
    agent.dispatch(options, handler)
    const head = await handler.head
    const location = locationOf(head.headers)
    if (!follow || !REDIRECT_STATUSES.has(head.status) || location === undefined) {
      try {
        return toResponse(head, hop.url, redirects > 0)
      } catch (err) {
        // A status a Response cannot carry (fetch §6.4 allows 200..599): release the connection.
        void head.body?.cancel(err)
        throw new TypeError('fetch failed', { cause: err })
      }
    }
    if (request.redirect === 'error') {
      throw new TypeError('fetch failed', { cause: new Error(`redirect to ${location} with redirect mode "error"`) })
    }
    if (++redirects > MAX_REDIRECTS) throw new TypeError('fetch failed', { cause: new Error('redirect count exceeded') })
    const decision = nextHop(hop, head.status, location)
    if (decision.kind === 'error') throw new TypeError('fetch failed', { cause: new Error(decision.message) })
    // Let the redirect's own (small) body finish so its connection goes back to the pool.
    await handler.finished
    hop = decision.next
  }
}

function locationOf(headers: HeaderRecord): string | undefined {
  const value = headers['location']
  return Array.isArray(value) ? value[0] : value
}

function toResponse(head: FetchHead, url: URL, redirected: boolean): Response {
  const headers = new Headers()
  for (const name of Object.keys(head.headers)) {
    const value = head.headers[name] as string | string[]
    if (typeof value === 'string') headers.append(name, value)
    else for (const v of value) headers.append(name, v)
  }
  // The Response constructor refuses statuses outside 200..599 (fetch §6.4): a 101 or an
  // unknown 1xx final status cannot be represented, and wirepool never resolves those.
  const response = new Response(head.body, { status: head.status, statusText: head.statusText, headers })
  // `url` and `redirected` are getters over internal state a constructed Response cannot
  // set; own properties carry the values fetch would have given them.
  const href = new URL(url)
  href.hash = ''
  Object.defineProperty(response, 'url', { value: href.href, enumerable: true })
  Object.defineProperty(response, 'redirected', { value: redirected, enumerable: true })
  return response
}
