/**
 * Errors are values with stable codes (README "API summary", docs/api). Every error wirepool throws or
 * emits is a `WirepoolError`; each failure kind has its own subclass so callers can use
 * `instanceof` or `err.code`, whichever they prefer. `cause` keeps the underlying error.
 */

export const ErrorCode = {
  CONNECT_TIMEOUT: 'WP_CONNECT_TIMEOUT',
  CONNECT_REFUSED: 'WP_CONNECT_REFUSED',
  TLS_VERIFY: 'WP_TLS_VERIFY',
  TLS_PIN_MISMATCH: 'WP_TLS_PIN_MISMATCH',
  HEADERS_TIMEOUT: 'WP_HEADERS_TIMEOUT',
  BODY_TIMEOUT: 'WP_BODY_TIMEOUT',
  ABORTED: 'WP_ABORTED',
  SOCKET_CLOSED: 'WP_SOCKET_CLOSED',
  H1_PARSE: 'WP_H1_PARSE',
  H2_PROTOCOL: 'WP_H2_PROTOCOL',
  H2_STREAM_RESET: 'WP_H2_STREAM_RESET',
  H2_GOAWAY: 'WP_H2_GOAWAY',
  INVALID_ARG: 'WP_INVALID_ARG',
  POOL_CLOSED: 'WP_POOL_CLOSED',
  WS_PROTOCOL: 'WP_WS_PROTOCOL',
  WS_HANDSHAKE: 'WP_WS_HANDSHAKE',
  DECOMPRESS: 'WP_DECOMPRESS',
  TLS_HANDSHAKE: 'WP_TLS_HANDSHAKE',
  BODY_INCOMPLETE: 'WP_BODY_INCOMPLETE',
  REQUEST_TIMEOUT: 'WP_REQUEST_TIMEOUT',
  INTERNAL: 'WP_INTERNAL',
  PROXY_CONNECT: 'WP_PROXY_CONNECT',
  PROXY_AUTH: 'WP_PROXY_AUTH',
  DNS: 'WP_DNS',
  SEND_TIMEOUT: 'WP_SEND_TIMEOUT',
  TOO_MANY_REDIRECTS: 'WP_TOO_MANY_REDIRECTS',
  REDIRECT_LOOP: 'WP_REDIRECT_LOOP',
  REDIRECT_REFUSED: 'WP_REDIRECT_REFUSED',
} as const

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode]

/** Which side caused a failure (as hyperium/h2's `Initiator`). */
export type ErrorInitiator = 'user' | 'library' | 'remote'

export interface WirepoolErrorOptions {
  cause?: unknown
  /** `scheme://host:port` of the origin the failure belongs to, when known. */
  origin?: string
  initiator?: ErrorInitiator
}

export class WirepoolError extends Error {
  readonly code: ErrorCode
  origin: string | undefined
  readonly initiator: ErrorInitiator | undefined

  constructor(code: ErrorCode, message: string, options: WirepoolErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.origin = options.origin
    this.initiator = options.initiator
  }

  override get name(): string {
    return this.constructor.name
  }
}

export class ConnectTimeoutError extends WirepoolError {
  readonly timeoutMs: number
  /** `host:port` and the addresses tried when the connector knew them (Happy Eyeballs race). */
  readonly target: string | undefined
  readonly addresses: readonly string[]
  constructor(timeoutMs: number, options: WirepoolErrorOptions & { target?: string; addresses?: readonly string[] } = {}) {
    const { target, addresses = [], ...rest } = options
    const where = target === undefined ? '' : ` to ${target}${addresses.length === 0 ? ' (no address tried)' : ` (tried ${addresses.join(', ')})`}`
    super(ErrorCode.CONNECT_TIMEOUT, `connect timed out after ${timeoutMs} ms${where}`, { initiator: 'library', ...rest })
    this.timeoutMs = timeoutMs
    this.target = target
    this.addresses = addresses
  }
}

/**
 * A name could not be resolved: NXDOMAIN (`ENOTFOUND`), no address records (`ENODATA`), a
 * resolver that failed or timed out (`EAI_AGAIN`, `ETIMEOUT`, `ECONNREFUSED`…). `dnsCode` is
 * the resolver's code; the lookup's own error is the `cause`.
 */
export class DnsError extends WirepoolError {
  readonly hostname: string
  readonly dnsCode: string
  constructor(hostname: string, dnsCode: string, options: WirepoolErrorOptions = {}) {
    super(ErrorCode.DNS, `cannot resolve ${hostname}: ${dnsCode}`, { initiator: 'remote', ...options })
    this.hostname = hostname
    this.dnsCode = dnsCode
  }
}

/** The TCP connection could not be made (refused, unreachable, DNS failure, reset during connect). */
export class ConnectRefusedError extends WirepoolError {
  constructor(message: string, options: WirepoolErrorOptions = {}) {
    super(ErrorCode.CONNECT_REFUSED, message, { initiator: 'remote', ...options })
  }
}

/** What a user can do about a certificate this process does not trust. */
const VERIFY_HINT = '; if the server\'s CA is one you trust, give it as the tls.ca option ({ tls: { ca: pem } }, or ca: \'system\' for the operating system\'s store; --cacert FILE in the CLI)'

export class TlsVerifyError extends WirepoolError {
  /** OpenSSL's reason code, e.g. `DEPTH_ZERO_SELF_SIGNED_CERT` or `ERR_TLS_CERT_ALTNAME_INVALID`. */
  readonly reason: string
  constructor(reason: string, message: string, options: WirepoolErrorOptions = {}) {
    super(ErrorCode.TLS_VERIFY, `${message}${VERIFY_HINT}`, { initiator: 'remote', ...options })
    this.reason = reason
  }
}

export class TlsPinMismatchError extends WirepoolError {
  readonly expected: readonly string[]
  readonly actual: string
  constructor(expected: readonly string[], actual: string, options: WirepoolErrorOptions = {}) {
    super(ErrorCode.TLS_PIN_MISMATCH, `peer certificate SPKI ${actual} matches none of the configured pins`, {
      initiator: 'remote',
      ...options,
    })
    this.expected = expected
    this.actual = actual
  }
}

export class HeadersTimeoutError extends WirepoolError {
  constructor(timeoutMs: number, options: WirepoolErrorOptions = {}) {
    super(ErrorCode.HEADERS_TIMEOUT, `no response head within ${timeoutMs} ms`, { initiator: 'library', ...options })
  }
}

export class BodyTimeoutError extends WirepoolError {
  constructor(timeoutMs: number, options: WirepoolErrorOptions = {}) {
    super(ErrorCode.BODY_TIMEOUT, `no response body data for ${timeoutMs} ms`, { initiator: 'library', ...options })
  }
}

/**
 * Sending the request made no progress for `timeoutMs` (the request's bodyTimeout): the peer
 * stopped reading (the socket does not drain) or gave no HTTP/2 flow-control window.
 */
export class SendTimeoutError extends WirepoolError {
  readonly timeoutMs: number
  constructor(timeoutMs: number, options: WirepoolErrorOptions = {}) {
    super(ErrorCode.SEND_TIMEOUT, `the request could not be sent: no progress for ${timeoutMs} ms`, { initiator: 'library', ...options })
    this.timeoutMs = timeoutMs
  }
}

export class AbortedError extends WirepoolError {
  constructor(message = 'request aborted', options: WirepoolErrorOptions = {}) {
    super(ErrorCode.ABORTED, message, { initiator: 'user', ...options })
  }
}

export class SocketClosedError extends WirepoolError {
  /**
   * False when the socket failed before any byte of this request's response arrived: the
   * peer may not have processed the request, so an idempotent one may be retried elsewhere.
   */
  readonly responseStarted: boolean
  constructor(message = 'socket closed', options: WirepoolErrorOptions & { responseStarted?: boolean } = {}) {
    super(ErrorCode.SOCKET_CLOSED, message, { initiator: 'remote', ...options })
    this.responseStarted = options.responseStarted ?? true
  }
}

/**
 * An HTTP/2 connection stopped answering: a liveness PING (RFC 9113 §6.7) went unacknowledged
 * within the PING timeout, so the connection was closed. `retryable` when no byte of this
 * request's response had arrived (an idempotent request may then go again, RFC 9110 §9.2.2).
 */
export class PingTimeoutError extends SocketClosedError {
  readonly retryable: boolean
  constructor(timeoutMs: number, options: WirepoolErrorOptions & { responseStarted?: boolean } = {}) {
    super(`connection stopped answering: no PING acknowledgement within ${timeoutMs} ms`, options)
    this.retryable = !this.responseStarted
  }
}

/** A malformed HTTP/1.x response. `offset` counts bytes from the start of the response. */
export class H1ParseError extends WirepoolError {
  readonly reason: string
  readonly offset: number
  constructor(reason: string, offset: number, options: WirepoolErrorOptions = {}) {
    super(ErrorCode.H1_PARSE, `invalid HTTP/1.1 response at byte ${offset}: ${reason}`, { initiator: 'remote', ...options })
    this.reason = reason
    this.offset = offset
  }
}

export class InvalidArgumentError extends WirepoolError {
  constructor(message: string, options: WirepoolErrorOptions = {}) {
    super(ErrorCode.INVALID_ARG, message, { initiator: 'user', ...options })
  }
}

export class PoolClosedError extends WirepoolError {
  constructor(message = 'pool is closed', options: WirepoolErrorOptions = {}) {
    super(ErrorCode.POOL_CLOSED, message, { initiator: 'user', ...options })
  }
}

/** Wrap anything thrown by a lower layer into a WirepoolError, keeping it as `cause`. */
export function toWirepoolError(err: unknown, origin?: string): WirepoolError {
  if (err instanceof WirepoolError) {
    if (origin !== undefined && err.origin === undefined) err.origin = origin
    return err
  }
  const message = err instanceof Error ? err.message : String(err)
  return new SocketClosedError(message, origin === undefined ? { cause: err } : { cause: err, origin })
}

/**
 * A WebSocket peer broke RFC 6455 (or a negotiated extension). `closeCode` is the status
 * code to _Fail the WebSocket Connection_ with (RFC 6455 §7.1.7, codes from §7.4.1):
 * 1002 protocol error, 1007 invalid UTF-8 in a text message, 1009 message too big.
 */
export class WsProtocolError extends WirepoolError {
  readonly closeCode: number
  constructor(closeCode: number, message: string, options: WirepoolErrorOptions = {}) {
    super(ErrorCode.WS_PROTOCOL, message, { initiator: 'remote', ...options })
    this.closeCode = closeCode
  }
}

/**
 * An HTTP/2 protocol violation found by the frame reader, the HPACK decoder, flow control or
 * the session. `h2Code` is the RFC 9113 §7 error code to put on the wire (`h2CodeName` its
 * name, e.g. `FRAME_SIZE_ERROR`). `streamId` 0 means a connection error (RFC 9113 §5.4.1:
 * send GOAWAY and close); any other value a stream error on that stream (§5.4.2: send
 * RST_STREAM, the connection lives on).
 */
export class H2ProtocolError extends WirepoolError {
  readonly h2Code: number
  readonly h2CodeName: string
  readonly streamId: number
  constructor(h2Code: number, h2CodeName: string, streamId: number, message: string, options: WirepoolErrorOptions = {}) {
    super(ErrorCode.H2_PROTOCOL, `${h2CodeName}: ${message}`, { initiator: 'remote', ...options })
    this.h2Code = h2Code
    this.h2CodeName = h2CodeName
    this.streamId = streamId
  }
}

/**
 * The WebSocket opening handshake failed (RFC 6455 §4.1): the server answered something
 * other than 101, or a 101 whose `Sec-WebSocket-Accept`, subprotocol or extensions break the
 * rules a client MUST check. `status` is the response status (0 when no response arrived,
 * e.g. a handshake timeout or a connect failure, which is then the `cause`).
 */
export class WsHandshakeError extends WirepoolError {
  readonly status: number
  constructor(status: number, message: string, options: WirepoolErrorOptions = {}) {
    super(ErrorCode.WS_HANDSHAKE, message, { initiator: 'remote', ...options })
    this.status = status
  }
}

/**
 * The server reset one HTTP/2 stream with RST_STREAM (RFC 9113 §6.4); the connection lives on.
 * With REFUSED_STREAM the server did no application processing on it (RFC 9113 §8.7): then
 * `retryable` is true and `responseStarted` false, so the request may be sent again. The
 * session may also mark a reset `retryable` that came before any response (`options.retryable`):
 * the pool still repeats only idempotent requests then (RFC 9110 §9.2.2).
 */
export class H2StreamResetError extends WirepoolError {
  readonly h2Code: number
  readonly h2CodeName: string
  readonly streamId: number
  /** RFC 9113 §8.7: REFUSED_STREAM guarantees the request was not processed; or the session said so (see above). */
  readonly retryable: boolean
  /** Mirrors SocketClosedError.responseStarted for the pool's retry rule. */
  readonly responseStarted: boolean
  constructor(h2Code: number, h2CodeName: string, streamId: number, options: WirepoolErrorOptions & { responseStarted?: boolean; retryable?: boolean } = {}) {
    super(ErrorCode.H2_STREAM_RESET, `stream ${streamId} reset by the peer: ${h2CodeName}`, { initiator: 'remote', ...options })
    this.h2Code = h2Code
    this.h2CodeName = h2CodeName
    this.streamId = streamId
    // REFUSED_STREAM is 0x7 (RFC 9113 §7); a refused stream has no response by definition.
    this.retryable = h2Code === 0x7 || options.retryable === true
    this.responseStarted = this.retryable ? false : (options.responseStarted ?? true)
  }
}

/**
 * The server sent GOAWAY (RFC 9113 §6.8) and this request's stream is above `lastStreamId`:
 * the server never processed it (`processed: false`, `retryable: true`), so it may be sent
 * again on a new connection. Streams at or below `lastStreamId` finish normally.
 */
export class H2GoawayError extends WirepoolError {
  readonly lastStreamId: number
  readonly h2Code: number
  readonly h2CodeName: string
  /** False: RFC 9113 §6.8 says streams above last-stream-id were not and will not be processed. */
  readonly processed: boolean
  readonly retryable: boolean
  readonly responseStarted: boolean
  constructor(lastStreamId: number, h2Code: number, h2CodeName: string, options: WirepoolErrorOptions & { processed?: boolean } = {}) {
    super(ErrorCode.H2_GOAWAY, `connection going away (${h2CodeName}, last stream ${lastStreamId}): request was not processed`, {
      initiator: 'remote',
      ...options,
    })
    this.lastStreamId = lastStreamId
    this.h2Code = h2Code
    this.h2CodeName = h2CodeName
    this.processed = options.processed ?? false
    this.retryable = !this.processed
    this.responseStarted = this.processed
  }
}

/**
 * A compressed response body could not be decoded (corrupt data, an unsupported stack) or
 * decoded past `maxDecompressedSize` (a decompression bomb).
 */
export class DecompressError extends WirepoolError {
  readonly encoding: string
  constructor(encoding: string, message: string, options: WirepoolErrorOptions = {}) {
    super(ErrorCode.DECOMPRESS, message, { initiator: 'remote', ...options })
    this.encoding = encoding
  }
}

/**
 * The TLS handshake failed for a reason other than certificate verification: the port does
 * not speak TLS (or speaks another protocol), the server sent an alert, no common version or
 * cipher. `reason` is Node's or OpenSSL's code (e.g. `ERR_SSL_WRONG_VERSION_NUMBER`).
 */
export class TlsHandshakeError extends WirepoolError {
  readonly reason: string
  constructor(reason: string, message: string, options: WirepoolErrorOptions = {}) {
    super(ErrorCode.TLS_HANDSHAKE, message, { initiator: 'remote', ...options })
    this.reason = reason
  }
}

/**
 * The server closed the connection before the response body it announced was complete
 * (RFC 9112 §8: an incomplete message): `received` bytes of `expected` (undefined for a
 * chunked body, whose length was never announced).
 */
export class BodyIncompleteError extends WirepoolError {
  readonly received: number
  readonly expected: number | undefined
  constructor(received: number, expected: number | undefined, options: WirepoolErrorOptions = {}) {
    super(
      ErrorCode.BODY_INCOMPLETE,
      expected === undefined
        ? `response body cut short: the connection closed after ${received} bytes, before the chunked body ended`
        : `response body cut short: ${received} of ${expected} bytes arrived before the connection closed`,
      { initiator: 'remote', ...options },
    )
    this.received = received
    this.expected = expected
  }
}

/** The per-request `timeout` (connect, response head and body together) elapsed. */
export class RequestTimeoutError extends WirepoolError {
  readonly timeoutMs: number
  constructor(timeoutMs: number, options: WirepoolErrorOptions = {}) {
    super(ErrorCode.REQUEST_TIMEOUT, `request did not complete within ${timeoutMs} ms`, { initiator: 'library', ...options })
    this.timeoutMs = timeoutMs
  }
}

/**
 * A state machine of ours was asked for a move its table does not list (src/state-machine.ts):
 * a bug in wirepool, never the peer's fault. In production the connection it happened on
 * fails with this error; under test it is thrown where it happens.
 */
export class IllegalTransitionError extends WirepoolError {
  readonly machine: string
  readonly from: string
  /** The state asked for, or the event that asked (machines driven by events). */
  readonly to: string
  constructor(machine: string, from: string, to: string, options: WirepoolErrorOptions = {}) {
    super(ErrorCode.INTERNAL, `internal error: ${machine} has no transition ${from} -> ${to}`, { initiator: 'library', ...options })
    this.machine = machine
    this.from = from
    this.to = to
  }
}

/**
 * A proxy refused to open the route to the origin: an HTTP CONNECT answered with a status
 * other than 2xx or 407 (`statusLine` is the proxy's own line, e.g. `HTTP/1.1 403 Forbidden`),
 * a SOCKS5 reply other than "succeeded" (`status` is then the RFC 1928 §6 REP code), a
 * malformed or oversized reply, or a proxy that could not be reached at all. `proxy` is the
 * proxy's URL without credentials: the message names the proxy, never the password.
 */
export class ProxyConnectError extends WirepoolError {
  readonly proxy: string
  /** The HTTP status of a CONNECT answer, or the SOCKS5 REP code; 0 when no reply came. */
  readonly status: number
  /** The proxy's status line (HTTP CONNECT), or a description of the SOCKS reply. */
  readonly statusLine: string
  constructor(proxy: string, status: number, statusLine: string, message: string, options: WirepoolErrorOptions = {}) {
    super(ErrorCode.PROXY_CONNECT, message, { initiator: 'remote', ...options })
    this.proxy = proxy
    this.status = status
    this.statusLine = statusLine
  }
}

/**
 * The proxy asked for credentials or rejected ours: HTTP 407 (RFC 9110 §15.5.8) or a SOCKS5
 * username/password failure (RFC 1929 §2). The credentials are never part of the message.
 */
export class ProxyAuthError extends WirepoolError {
  readonly proxy: string
  /** 407 for HTTP proxies; the RFC 1929 status byte for SOCKS5. */
  readonly status: number
  constructor(proxy: string, status: number, message: string, options: WirepoolErrorOptions = {}) {
    super(ErrorCode.PROXY_AUTH, message, { initiator: 'remote', ...options })
    this.proxy = proxy
    this.status = status
  }
}

/** One redirect a request followed: the status that sent it on, and the URL it went to (without fragment). */
export interface RedirectHop {
  status: number
  url: string
}

/**
 * A redirect chain went on past `maxRedirections` (curl's exit code 47). `redirects` lists
 * the ones followed.
 */
export class TooManyRedirectsError extends WirepoolError {
  readonly maxRedirections: number
  readonly redirects: readonly RedirectHop[]
  constructor(maxRedirections: number, redirects: readonly RedirectHop[], message: string, options: WirepoolErrorOptions = {}) {
    super(ErrorCode.TOO_MANY_REDIRECTS, message, { initiator: 'remote', ...options })
    this.maxRedirections = maxRedirections
    this.redirects = redirects
  }
}

/**
 * A redirect led back to a request already sent in the same chain — the same method, URL and
 * credentials — which a server that answers the same request the same way repeats forever.
 */
export class RedirectLoopError extends WirepoolError {
  /** The URL requested twice. */
  readonly url: string
  readonly redirects: readonly RedirectHop[]
  constructor(url: string, redirects: readonly RedirectHop[], message: string, options: WirepoolErrorOptions = {}) {
    super(ErrorCode.REDIRECT_LOOP, message, { initiator: 'remote', ...options })
    this.url = url
    this.redirects = redirects
  }
}

/** Why a redirect was not followed (RedirectRefusedError#reason). */
export type RedirectRefusal =
  /** The request said `redirect: 'error'`. */
  | 'mode-error'
  /** The Location is not a URL reference (RFC 9110 §10.2.2). */
  | 'invalid-location'
  /** It leads to a scheme other than http: or https:. */
  | 'unsupported-scheme'
  /** https: to http:, and `allowDowngrade` is off. */
  | 'downgrade'
  /** A 307/308 must send the body again, and it was a stream that was sent once already. */
  | 'body-not-replayable'
  /** It leads to another origin and the request was made on a Pool, which reaches only its own. */
  | 'cross-origin'

/**
 * A redirect response the request may not follow: see `reason`. `status` and `location` (as
 * the server sent it) describe the redirect; its response was discarded.
 */
export class RedirectRefusedError extends WirepoolError {
  readonly reason: RedirectRefusal
  readonly status: number
  readonly location: string
  constructor(reason: RedirectRefusal, status: number, location: string, message: string, options: WirepoolErrorOptions = {}) {
    super(ErrorCode.REDIRECT_REFUSED, message, { initiator: reason === 'mode-error' || reason === 'body-not-replayable' ? 'user' : 'remote', ...options })
    this.reason = reason
    this.status = status
    this.location = location
  }
}
