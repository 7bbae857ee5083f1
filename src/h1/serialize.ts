/**
 * HTTP/1.1 request serialisation: the request head as one latin1 string, and the chunked
 * transfer coding for bodies of unknown length (RFC 9112 §7.1). No I/O of its own: the
 * writers take any Writable (the socket in production, a collector in tests).
 */
import type { Writable } from 'node:stream'
import type { DispatchRequest } from '../dispatch.js'
import { InvalidArgumentError } from '../errors.js'

/**
 * Methods whose semantics anticipate content: RFC 9110 §8.6 has a user agent send
 * `Content-Length: 0` for them even with no body, and omit it for the others.
 */
const ANTICIPATES_CONTENT: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH'])

/**
 * The pool validated every string already; this is the last line against response
 * splitting: a NUL, CR or LF, or a code unit above 0xFF (latin1 would truncate U+010A to
 * "\n"), would let a value start a new header line or a new request (RFC 9112 §2.2).
 */
const UNSAFE_IN_FIELD = /[\0\r\n\u0100-\uffff]/
/** Method and request-target are delimited by SP in the request line (RFC 9112 §3). */
const UNSAFE_IN_REQUEST_LINE = /[^\x21-\x7e]/

function unsafe(what: string, value: string): InvalidArgumentError {
  return new InvalidArgumentError(`refusing to send ${what} ${JSON.stringify(value)}: it would break the message framing`)
}

/**
 * Bytes of content that follow the head: -1 for chunked, 0 when there is no body. A
 * missing body wins over a stale `bodyLength` so the head never promises bytes we won't send.
 */
export function contentLengthOf(request: DispatchRequest): number {
  const body = request.body
  if (body === null || body === undefined) return 0
  return request.bodyLength < 0 ? -1 : request.bodyLength
}

/**
 * True when this request will carry an `expect: 100-continue` line. RFC 9110 §10.1.1: a
 * client MUST NOT send the expectation for a request without content.
 */
export function sendsExpectContinue(request: DispatchRequest): boolean {
  return request.expectContinue && contentLengthOf(request) !== 0
}

/**
 * A connection to a forwarding HTTP proxy rather than to the origin (RFC 9112 §3.2.2): the
 * request-target goes in absolute-form, and the proxy's own header lines (its
 * `proxy-authorization`) go on every request — they are meant for the proxy, which consumes
 * them; they never reach the origin over a tunnel or a direct connection.
 */
export interface ForwardProxyForm {
  /** `http://host[:port]` of the origin, prefixed to the origin-form path. */
  origin: string
  /** Complete `name: value\r\n` lines (already validated), or ''. */
  headerLines: string
}

/**
 * `METHOD SP path SP HTTP/1.1 CRLF`, `host`, the caller's headers in order, then the lines
 * the engine owns: body framing, `expect`, and `connection: upgrade` + `upgrade` (RFC 9110
 * §7.8 requires the Upgrade option in Connection). Returned as one string to be written as
 * latin1 in a single call. Throws InvalidArgumentError for a value that would break framing.
 */
export function serializeHead(request: DispatchRequest, forward?: ForwardProxyForm): string {
  const { method, path, authority, headers } = request
  if (UNSAFE_IN_REQUEST_LINE.test(method) || method.length === 0) throw unsafe('method', method)
  if (UNSAFE_IN_REQUEST_LINE.test(path) || path.length === 0) throw unsafe('request-target', path)
  if (UNSAFE_IN_FIELD.test(authority)) throw unsafe('host', authority)
  // RFC 9112 §3.2: a client MUST send Host, and it comes first so a server can route early.
  // Through a forwarding proxy the target is absolute-form (§3.2.2); `OPTIONS *` becomes the
  // bare origin (§3.2.4: "the last component of the request-target ... is '*'" only when
  // sent to the origin itself).
  let head =
    forward === undefined
      ? `${method} ${path} HTTP/1.1\r\nhost: ${authority}\r\n`
      : `${method} ${path === '*' ? forward.origin : forward.origin + path} HTTP/1.1\r\nhost: ${authority}\r\n${forward.headerLines}`
  for (let i = 0; i + 1 < headers.length; i += 2) {
    const name = headers[i] as string
    const value = headers[i + 1] as string
    if (UNSAFE_IN_FIELD.test(name)) throw unsafe('header name', name)
    if (UNSAFE_IN_FIELD.test(value)) throw unsafe(`value for header ${name}`, value)
    head += `${name}: ${value}\r\n`
  }
  const length = contentLengthOf(request)
  if (length < 0) {
    // RFC 9112 §6.1: the only way to frame content of unknown length in a request.
    head += 'transfer-encoding: chunked\r\n'
  } else if (length > 0 || ANTICIPATES_CONTENT.has(method)) {
    head += `content-length: ${length}\r\n`
  }
  if (sendsExpectContinue(request)) head += 'expect: 100-continue\r\n'
  const upgrade = request.upgrade
  if (upgrade !== undefined) {
    if (UNSAFE_IN_FIELD.test(upgrade) || upgrade.length === 0) throw unsafe('upgrade', upgrade)
    head += `connection: upgrade\r\nupgrade: ${upgrade}\r\n`
  }
  return head + '\r\n'
}

/**
 * The head, and the whole body when it is in memory, in one corked write: one trip into
 * the socket's C++ side, one TCP segment for a small request. A string body goes as UTF-8
 * (its `bodyLength` was measured that way). Returns the last write's backpressure answer.
 */
export function writeHead(out: Writable, head: string, body?: string | Uint8Array): boolean {
  if (body === undefined || body.length === 0) return out.write(head, 'latin1')
  out.cork()
  out.write(head, 'latin1')
  const ok = typeof body === 'string' ? out.write(body, 'utf8') : out.write(body)
  out.uncork()
  return ok
}

/** The last-chunk and the empty trailer section that end a chunked body (RFC 9112 §7.1). */
export const LAST_CHUNK = '0\r\n\r\n'

/**
 * One chunk of a chunked body: `chunk-size CRLF data CRLF` (RFC 9112 §7.1). The payload is
 * written as its own buffer, never copied into a framing buffer; cork/uncork turns the three
 * pieces into one writev. An empty `data` writes nothing: a zero-size chunk would end the body.
 */
export function writeChunk(out: Writable, data: Uint8Array): boolean {
  if (data.byteLength === 0) return true
  out.cork()
  out.write(`${data.byteLength.toString(16)}\r\n`, 'latin1')
  out.write(data)
  const ok = out.write('\r\n', 'latin1')
  out.uncork()
  return ok
}
