/**
 * The shapes of `wirepool/testing`: what a route handler receives and returns, the fault
 * policies a response can carry (as OkHttp MockWebServer's socket policies), and what the
 * server records.
 */

export type TestProtocol = 'http/1.1' | 'h2' | 'h2c'

export type FieldRecord = Record<string, string | string[]>

/** A request as it arrived (what `server.requests` lists and handlers receive). */
export interface RecordedRequest {
  method: string
  /** The request-target, `/path?query`. */
  path: string
  /** Lowercase names; repeated fields as arrays. HTTP/2 pseudo-headers are not included. */
  headers: FieldRecord
  body: Buffer
  /** 1, 2, …: the TCP connection it came on (in accept order). */
  connectionId: number
  /** 'http/1.1' or 'h2' (cleartext h2c is reported as 'h2'). */
  protocol: 'http/1.1' | 'h2'
  /** Requests served before this one on the same connection. */
  sequence: number
  /** The fault applied to this request, if any. */
  fault: ResponseFault['kind'] | undefined
}

/**
 * A fault on one response. Byte counts are response-body bytes; omitted `afterBytes` (where
 * allowed) means before the response head.
 */
export type ResponseFault =
  /** Close the connection (FIN) as the request arrives, before any response byte. */
  | { kind: 'close-before-head' }
  /** Send the head and `afterBytes` body bytes (of a longer declared body), then close (FIN). */
  | { kind: 'close'; afterBytes: number }
  /** TCP RST after the head and `afterBytes` body bytes; omitted: RST before the head. */
  | { kind: 'reset'; afterBytes?: number }
  /** Send the head and `afterBytes` body bytes, then nothing (the connection stays open); omitted: not even the head. */
  | { kind: 'stall'; afterBytes?: number }
  /** The body in `chunkSize`-byte pieces, one every `intervalMs`. */
  | { kind: 'drip'; chunkSize: number; intervalMs: number }
  /** Wait `delayMs` before the response head. */
  | { kind: 'delay-head'; delayMs: number }
  /** HTTP/2: RST_STREAM(REFUSED_STREAM) before the head (RFC 9113 §8.7). HTTP/1.1: as close-before-head. */
  | { kind: 'refuse-stream' }
  /** HTTP/2: RST_STREAM(`code`, default INTERNAL_ERROR) after the head and `afterBytes` body bytes. HTTP/1.1: as reset. */
  | { kind: 'rst-stream'; afterBytes?: number; code?: number }
  /**
   * HTTP/2: once `afterStreams` streams were opened on the connection, a further one gets a
   * GOAWAY whose last-stream-id excludes it (it was not processed), then the connection closes
   * gracefully. HTTP/1.1: the `afterStreams`-th response carries `Connection: close`.
   */
  | { kind: 'goaway'; afterStreams: number }
  /** On a connection that served a request before, close it (FIN) as this one arrives: the stale keep-alive socket. */
  | { kind: 'close-idle' }
  /** WebSocket: never answer a Ping. */
  | { kind: 'ws-no-pong' }
  /** WebSocket: send a Close frame with `code` right after the handshake. */
  | { kind: 'ws-close'; code: number; reason?: string }

/** Faults of a whole connection, decided before any request (`server.connectionFault()`). */
export type ConnectionFault =
  /** Answer the ClientHello with a fatal handshake_failure alert (RFC 8446 §6.2). */
  | { kind: 'tls-fail' }
  /** Hold the ClientHello `delayMs` before the handshake goes on. */
  | { kind: 'tls-slow'; delayMs: number }

export type Fault = ResponseFault | ConnectionFault

export interface RouteResponse {
  /** Default 200; 101 accepts a WebSocket upgrade. */
  status?: number
  headers?: Record<string, string | number | readonly string[]>
  body?: string | Uint8Array
  trailers?: Record<string, string>
  fault?: ResponseFault
}

export type RouteHandler = (request: RecordedRequest) => RouteResponse | Promise<RouteResponse>

export interface TestServerOptions {
  /** Default ['http/1.1', 'h2'] with TLS, ['http/1.1'] without. 'h2c': cleartext HTTP/2 with prior knowledge. */
  protocols?: readonly TestProtocol[]
  /** Serve TLS with an in-memory certificate for localhost / 127.0.0.1 / ::1. Default true. */
  tls?: boolean
  /**
   * Accept WebSockets on paths without a route (HTTP/1.1 upgrade; HTTP/2 extended CONNECT,
   * RFC 8441, which also needs this to announce SETTINGS_ENABLE_CONNECT_PROTOCOL); they echo
   * messages. Default false.
   */
  websocket?: boolean
}
