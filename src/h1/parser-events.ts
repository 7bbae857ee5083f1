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
  /**
   * RFC 9112 §9.3: persistent unless HTTP/1.0 without keep-alive, `Connection: close`, a
   * body delimited by the close, or Transfer-Encoding on HTTP/1.0 or with Content-Length.
   */
  keepAlive: boolean
  /** Value of Content-Length, or -1 when absent (or when Transfer-Encoding wins). */
  contentLength: number
  /** Transfer-Encoding ends in chunked. */
  chunked: boolean
  /** Content-Length and Transfer-Encoding were both present; the connection must not be reused. */
  conflictingFraming: boolean
  /** `Connection: upgrade` token present (meaningful with 101). */
  upgrade: boolean
  /** How the body is delimited (see Framing); `keepAlive` already accounts for it. */
  framing: Framing
}

/**
 * How the body of a response is delimited, decided once by the parser from the head and
 * from the request it answers (RFC 9112 §6.3, in the rules' order).
 */
export const Framing = {
  /** No body: a 1xx, 204 or 304 (rule 1), or the answer to HEAD (rule 1). */
  NONE: 0,
  /** `contentLength` bytes (rule 6). */
  LENGTH: 1,
  /** The chunked transfer coding (rule 4). */
  CHUNKED: 2,
  /** Until the server closes the connection (rules 4 and 8); the connection is not persistent. */
  UNTIL_CLOSE: 3,
  /**
   * No body and no more HTTP/1.1: the bytes after the head belong to another protocol — a 101
   * to a request that asked for an upgrade (RFC 9110 §15.2.2), or a 2xx to CONNECT, which
   * makes the connection a tunnel (rule 2). The parser stops right after the head.
   */
  SWITCHED: 4,
} as const
export type Framing = (typeof Framing)[keyof typeof Framing]

export interface ResponseParserHandler {
  /**
   * Called for every head, interim (1xx) and final, once its framing is decided (see
   * `ResponseParser#expectResponse`). 1xx heads other than a switching 101 never have a
   * body and parsing continues with the next head.
   */
  onHead(head: ResponseHead): void
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
