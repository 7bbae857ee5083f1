/**
 * The seams of the engine: the low-level handler every request is driven through, the
 * normalised request a connection receives, and the one connection contract the pool
 * uses without knowing the protocol (docs/architecture.md).
 */
import type { EventEmitter } from 'node:events'
import type { Duplex, Readable } from 'node:stream'
import type { WirepoolError } from './errors.js'
import type { RequestTimings } from './timings.js'

export type Protocol = 'http/1.1' | 'h2'

/** Response header record: lowercase names; repeated fields become arrays (set-cookie always is). */
export type HeaderRecord = Record<string, string | string[]>

export type RequestBody = string | Uint8Array | Readable | AsyncIterable<Uint8Array> | null | undefined

/** What `res.connection` and `onConnect` tell about the connection a request went on. */
export interface ConnectionInfo {
  id: number
  /** The connection served at least one request before this one. */
  reused: boolean
  /** TLS session was resumed; null for cleartext. */
  tlsResumed: boolean | null
  remoteAddress: string | undefined
  remotePort: number | undefined
  protocol: Protocol
  /**
   * The request's timings (src/timings.ts), live: filled in as the request goes on, `end`
   * once the body has ended. Given by a pool (Agent, Pool, MockAgent) for each request;
   * undefined when a connection is driven without one.
   */
  timings?: RequestTimings | undefined
}

/**
 * A request after the pool validated and normalised it. Header names and values were
 * validated (no CR/LF/NUL, names are tokens) before this object was built.
 */
export interface DispatchRequest {
  method: string
  /** request-target in origin-form: `/path?query` */
  path: string
  /** `host[:port]` for the Host header / :authority. */
  authority: string
  /** Flattened `[name, value, …]`, validated; never contains Host, Connection framing headers set by us. */
  headers: string[]
  body: RequestBody
  /** Known body length in bytes, or -1 when it must be streamed (chunked). */
  bodyLength: number
  idempotent: boolean
  /** `expect: 100-continue` was requested: hold the body until a 100 (or the timeout). */
  expectContinue: boolean
  headersTimeout: number
  bodyTimeout: number
  /**
   * Ask for another protocol on this request (WebSocket), which turns the exchange into a
   * bidirectional byte stream handed to `onUpgrade`. How it goes on the wire is the
   * connection's business:
   * - HTTP/1.1: `method` (GET) with `Upgrade: <upgrade>`; a 101 hands over the socket
   *   (RFC 9110 §7.8).
   * - HTTP/2, when the peer sent SETTINGS_ENABLE_CONNECT_PROTOCOL=1 (`extendedConnect`):
   *   an extended CONNECT (RFC 8441 §4) — `:method CONNECT`, `:protocol <upgrade>`, with
   *   `:scheme`, `:path`, `:authority`; `method` must be GET or CONNECT and there is no
   *   request content. A 2xx hands over a Duplex over the stream (writes → DATA, end →
   *   END_STREAM, destroy → RST_STREAM(CANCEL)); other streams of the connection go on.
   *   Without the setting the connection refuses the request (the pool routes it to HTTP/1.1).
   */
  upgrade: string | undefined
}

/**
 * The low-level handler (README "Usage", `dispatch()`). Calls arrive in this order:
 * onRedirect* → onConnect → onInformational* → onHeaders → onData* → onTrailers? → onComplete,
 * or onError at any point (and then nothing else). onRedirect comes only when redirects are
 * followed (`redirect: 'follow'`, the `redirect()` interceptor), once before each further hop.
 */
export interface DispatchHandler {
  /**
   * A redirect response (`status`) is being followed to `location` (resolved, RFC 9110
   * §10.2.2). Its own head and body never reach the handler; the next hop's do, and
   * onConnect then tells the connection of the response that is the handler's.
   */
  onRedirect?(status: number, location: URL): void
  /** The request was assigned to a connection. `abort()` cancels it (the socket is not reused). */
  onConnect?(abort: (reason?: Error) => void, info: ConnectionInfo): void
  /**
   * The request's last byte was handed to the socket (HTTP/1.1), or its END_STREAM flag to
   * the connection's writer (HTTP/2): where `timings.sent` is taken. Not called for an
   * upgrade, nor for a body abandoned because the response came first.
   */
  onRequestSent?(): void
  /** A 1xx interim response other than 101 (e.g. 100 Continue, 103 Early Hints). */
  onInformational?(status: number, headers: HeaderRecord): void
  /**
   * The final response head. `resume()` restarts the body flow after `onData` returned false.
   * Return false to pause right away (as onData).
   *
   * `rawHeaders`, when given, holds the same fields as received: flattened
   * `[name, value, name, value, …]` in wire order, names in the case the peer wrote them,
   * latin1 strings (RFC 9110 §5.5). HTTP/1.1 connections give it (the parser produced it
   * anyway); other protocols and wrapping handlers may leave it out, so a handler must fall
   * back to `headers`. It is for handlers that hand the head on in wire form (the undici
   * bridge), which would otherwise rebuild that list from the record.
   */
  onHeaders(status: number, headers: HeaderRecord, resume: () => void, statusText: string, rawHeaders?: readonly string[]): boolean | void
  /**
   * A body chunk: a view into bytes the engine never reuses (no onread buffer pooling), so a
   * consumer may keep it without copying. Return false to pause until `resume()`.
   */
  onData(chunk: Uint8Array): boolean | void
  onTrailers?(trailers: HeaderRecord): void
  onComplete(): void
  onError(err: WirepoolError): void
  /**
   * The upgrade a request with `upgrade` set asked for was granted: 101 Switching Protocols
   * over HTTP/1.1 (the socket is now the caller's), or the 2xx answer to an HTTP/2 extended
   * CONNECT (a Duplex over that one stream; `head` is empty). Either way the caller owns the
   * Duplex and must end or destroy it.
   */
  onUpgrade?(status: number, headers: HeaderRecord, socket: Duplex, head: Uint8Array): void
}

/**
 * Lifecycle signals a connection gives to its pool. A connection never decides what the
 * pool does: it says what happened and the pool's one transition function reacts.
 */
export interface ConnectionEvents {
  /** Capacity grew (a request finished): the pool may dispatch queued requests. */
  free: []
  /** The connection will accept no new requests (Connection: close, GOAWAY, max requests); in-flight ones finish. */
  draining: [reason: string]
  /** The socket is gone. `err` is set when it closed because of a failure. */
  close: [err: WirepoolError | undefined]
}

/** The one contract H1Connection and H2Connection implement for the pool: every capability it reads is here. */
export interface PoolConnection extends EventEmitter<ConnectionEvents> {
  readonly id: number
  readonly protocol: Protocol
  /** How many more requests may be dispatched now (0 when busy, draining or closed). */
  readonly capacity: number
  /** Requests in flight. */
  readonly inFlight: number
  /** Requests completed on this connection. */
  readonly requestsServed: number
  readonly remoteAddress: string | undefined
  readonly tlsResumed: boolean | null
  /** True once no new request may be dispatched (draining or closed). */
  readonly retired: boolean
  /**
   * Concurrent requests do not wait for each other (HTTP/2 streams). The pool spreads load
   * over such a connection before opening another; HTTP/1.1 pipelining is not this.
   */
  readonly multiplexed: boolean
  /**
   * False while `capacity` is an assumption (HTTP/2 before the peer's SETTINGS): the pool
   * waits for the real limit (a `free` event follows) before opening another connection.
   */
  readonly capacityKnown: boolean
  /** Round trip of the newest answered PING, ms; undefined when none was answered (or the protocol has none). */
  readonly rttMs: number | undefined
  /**
   * Requests with `upgrade` may go on this multiplexed connection as streams: an HTTP/2 peer
   * that sent SETTINGS_ENABLE_CONNECT_PROTOCOL=1 (RFC 8441 §3). False on HTTP/1.1 (an
   * upgrade takes the whole connection there) and on an HTTP/2 connection without it.
   */
  readonly extendedConnect: boolean
  /**
   * How long the peer said it keeps an idle connection (HTTP/1.1 `Keep-Alive: timeout=`),
   * in ms; undefined when it said nothing. The pool closes the connection before then.
   */
  readonly idleTimeoutHint: number | undefined
  dispatch(request: DispatchRequest, handler: DispatchHandler): void
  /** Liveness check; resolves to the round-trip time in ms. */
  ping(): Promise<number>
  /** Graceful: take no new requests, let in-flight ones finish, then close the socket. */
  close(): Promise<void>
  /** Abort in-flight requests with `err` and close the socket now. */
  destroy(err?: WirepoolError): void
  /**
   * Whether the socket keeps the process alive (`socket.ref()` / `unref()`). The pool says
   * true while the connection carries requests and false while it idles, so a script that
   * has made its requests exits at once instead of living until the keep-alive timeout
   * (undici does the same).
   */
  setKeepsProcessAlive(flag: boolean): void
}

/**
 * The ConnectionInfo object. A class, not an object literal, like every object made per
 * request that points at others of that request (the queue entry, the DispatchRequest): V8
 * may decide to allocate a literal's objects straight in the old generation ("allocation-site
 * pretenuring", after a few young collections in which nearly all of them survived — which
 * happens around a full collection while the heap grows). Once that sticks, every request's
 * literal is old and keeps the request's young objects (handler, response, body stream, the
 * caller's iterator) alive through each scavenge: all of them were promoted, each scavenge
 * copied ~2.5 MB instead of ~0 and took 8–13 ms instead of 0.5, and a sequential GET cost
 * ~60 µs of CPU instead of ~40 (bench/h1-sequential-cpu.ts under tsx). Objects made by `new`
 * carry no allocation site, so they are never pretenured.
 */
class AnnouncedConnection implements ConnectionInfo {
  id: number
  reused: boolean
  tlsResumed: boolean | null
  remoteAddress: string | undefined
  remotePort: number | undefined
  protocol: Protocol
  /** Set by the pool's attempt before the caller sees it; present from the start so the object keeps one shape. */
  timings: ConnectionInfo['timings'] = undefined

  constructor(id: number, reused: boolean, tlsResumed: boolean | null, remoteAddress: string | undefined, remotePort: number | undefined, protocol: Protocol) {
    this.id = id
    this.reused = reused
    this.tlsResumed = tlsResumed
    this.remoteAddress = remoteAddress
    this.remotePort = remotePort
    this.protocol = protocol
  }
}

/**
 * Tell a handler which connection its request went on (`onConnect`), as every protocol does
 * the moment a request is assigned. A throw from the handler is returned, not raised: the
 * connection aborts that one request with it.
 */
export function announceConnection(
  handler: DispatchHandler,
  abort: (reason?: Error) => void,
  conn: Pick<PoolConnection, 'id' | 'tlsResumed' | 'remoteAddress' | 'protocol'> & { readonly remotePort: number | undefined },
  reused: boolean,
): Error | undefined {
  const info: ConnectionInfo = new AnnouncedConnection(conn.id, reused, conn.tlsResumed, conn.remoteAddress, conn.remotePort, conn.protocol)
  try {
    handler.onConnect?.(abort, info)
    return undefined
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err))
  }
}
