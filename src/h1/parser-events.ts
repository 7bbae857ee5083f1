/**
 * The contract between the sans-I/O HTTP/1.1 response parser (`parser.ts`) and whoever
 * drives it (`connection.ts`, tests, benchmarks). Types only: no I/O, no timers.
 */

/** A parsed status line + header section (a final response, or a 1xx interim one). */
export interface ResponseHead {
  statusCode: number
  /** Reason phrase as sent (may be empty). */
  statusText: string
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  versionMinor: 0 | 1
  /**
   * Flattened `[name, value, name, value, …]` in wire order. Names keep their case; values
   * have surrounding OWS removed and obs-fold replaced by SP (RFC 9112 §5.2). Decoded as
   * latin1 once, straight from the input chunk (no intermediate concatenation unless the
   * head spans chunks).
   */
  rawHeaders: string[]
  /** RFC 9112 §9.3: persistent unless HTTP/1.0 without keep-alive, or `Connection: close`. */
  keepAlive: boolean
  /** Value of Content-Length, or -1 when absent (or when Transfer-Encoding wins). */
  contentLength: number
  /** Transfer-Encoding ends in chunked. */
  chunked: boolean
  /** Content-Length and Transfer-Encoding were both present; the connection must not be reused. */
  conflictingFraming: boolean
  /** `Connection: upgrade` token present (meaningful with 101). */
  upgrade: boolean
}

/** What the driver tells the parser about the body of the response it just saw. */
export const BodyMode = {
  /** Use the framing the head declares (RFC 9112 §6.3). */
  DEFAULT: 0,
  /** No body whatever the head says: the request was HEAD, or a CONNECT got 2xx. */
  NONE: 1,
  /** Stop parsing: the rest of the bytes belong to another protocol (101 Switching Protocols). */
  UPGRADE: 2,
} as const
export type BodyMode = (typeof BodyMode)[keyof typeof BodyMode]

export interface ResponseParserHandler {
  /**
   * Called for every head, interim (1xx) and final. Return a BodyMode for final heads;
   * `undefined` means DEFAULT. 1xx heads other than 101 never have a body and parsing
   * continues with the next head.
   */
  onHead(head: ResponseHead): BodyMode | void
  /** A piece of body. A view into the chunk given to `execute`: valid only during the call. */
  onBody(chunk: Uint8Array): void
  /** Trailer fields of a chunked body, flattened like `rawHeaders`. Called only when non-empty. */
  onTrailers(rawTrailers: string[]): void
  /** The response (head + body) is complete. The next byte belongs to the next response. */
  onMessageComplete(): void
}

export interface ResponseParserOptions {
  /** Max bytes of status line + headers (and of the trailer section). Default 16 KiB. */
  maxHeaderSize?: number
  /** Max header fields per head (and per trailer section). Default 128. */
  maxHeaderCount?: number
}
