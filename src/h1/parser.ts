/**
 * Sans-I/O HTTP/1.1 response parser (RFC 9112). Bytes in through `execute()`, events out
 * through the `ResponseParserHandler` of `parser-events.ts`. No sockets, timers or promises.
 *
 * How it reads:
 * - Line-oriented parts (status line, field lines, chunk-size lines, trailer lines) are
 *   found with `indexOf(LF)` and parsed straight from the caller's chunk. Only a line that
 *   spans chunks is copied, into one growable buffer bounded by the size limits.
 * - Body bytes are never copied: `onBody` receives `subarray` views of the chunk.
 * - Field names and values are latin1. A head that is whole in one chunk (the usual case)
 *   is decoded with one native call and its strings are slices of that; a head that spans
 *   chunks is decoded field by field.
 *
 * Policy decisions (each also cited where it is enforced):
 * - CRLF only. A bare LF as line terminator is refused (RFC 9112 §2.2 allows a recipient to
 *   accept it; llhttp in strict mode — Node's and undici's default — refuses it, and two
 *   parties disagreeing about line ends is how responses get split). A bare CR anywhere is
 *   refused (RFC 9112 §2.2).
 * - Empty lines before a status line are skipped (RFC 9112 §2.2 robustness rule; llhttp
 *   does the same for responses, and servers do send a stray CRLF after a body).
 * - Field values may contain HTAB, SP, VCHAR and obs-text only; every other control byte is
 *   refused, not just NUL/CR/LF (see parser-chars.ts).
 * - Bytes after a response that ends the connection (`keepAlive` false) are an error
 *   ("data after connection close"), as in llhttp: nothing after it can be a response to
 *   one of our requests.
 * - The driver tells the parser which request the next response answers
 *   (`expectResponse`, as hyper's `ParseContext`), so framing and persistence are decided
 *   here, once: a HEAD response has no body, a CONNECT 2xx is a tunnel (RFC 9112 §6.3
 *   rules 1 and 2). A 101 to a request that asked for an upgrade, and a CONNECT 2xx, stop
 *   the parser (Framing.SWITCHED): `onMessageComplete` is NOT called for it, `execute`
 *   returns the offset right after the head, and the parser stays in state `upgraded`. A
 *   101 nobody asked for is refused (RFC 9110 §15.2.2).
 *
 * Lifetimes: views given to `onBody` are valid only during the call. The handler must not
 * call back into the parser it is being called from.
 */
import { H1ParseError } from '../errors.js'
import { integerOption } from '../option-checks.js'
import * as events from './parser-events.js'
import type { Framing as FramingType, ResponseHead, ResponseParserHandler, ResponseParserOptions } from './parser-events.js'
import * as chars from './parser-chars.js'
import * as framing from './parser-framing.js'
import type { TransferCodings } from './parser-framing.js'

// Module-local copies of what the hot loops read. When TypeScript runs through tsx (tests,
// benchmarks) every access to an imported binding is a getter call; a local const is not.
const { BACKSLASH, COLON, CR, DQUOTE, EQUALS, FIELD_VALUE, HEX, HTAB, LF, QDTEXT, SEMICOLON, SP, TOKEN } = chars
const { addTransferCodings, CL_MISMATCH, CL_OVERFLOW, CONN_CLOSE, CONN_KEEP_ALIVE, CONN_UPGRADE } = framing
const { connectionOptions, parseContentLength } = framing
const { Framing } = events

/** The parser's states, in the order a response walks through them. */
export const ParserState = {
  /** Between responses, nothing buffered. */
  IDLE: 'idle',
  /** Part of a status line (or of an empty line before it) is buffered. */
  STATUS_LINE: 'status-line',
  HEADERS: 'headers',
  /** Reading a Content-Length body. */
  BODY_LENGTH: 'body-length',
  /** Reading a body delimited by the end of the connection (RFC 9112 §6.3 rule 8). */
  BODY_UNTIL_CLOSE: 'body-until-close',
  CHUNK_SIZE: 'chunk-size',
  CHUNK_DATA: 'chunk-data',
  /** Expecting the CRLF that ends a chunk's data. */
  CHUNK_DATA_END: 'chunk-data-end',
  TRAILERS: 'trailers',
  /** The last response ended the connection; no further byte is acceptable. */
  CLOSED: 'closed',
  /** The rest of the stream belongs to another protocol. */
  UPGRADED: 'upgraded',
  /** A parse error (or a throwing handler) killed the parser. */
  DEAD: 'dead',
} as const
export type ParserState = (typeof ParserState)[keyof typeof ParserState]

const S = ParserState

/** Allowed transitions; DEAD is reachable from anywhere and not listed. */
const TRANSITIONS: { readonly [K in ParserState]: readonly ParserState[] } = {
  [S.IDLE]: [S.STATUS_LINE, S.HEADERS],
  [S.STATUS_LINE]: [S.IDLE, S.HEADERS],
  // IDLE after a 1xx interim head: the final response follows.
  [S.HEADERS]: [S.IDLE, S.CLOSED, S.BODY_LENGTH, S.BODY_UNTIL_CLOSE, S.CHUNK_SIZE, S.UPGRADED],
  [S.BODY_LENGTH]: [S.IDLE, S.CLOSED],
  [S.BODY_UNTIL_CLOSE]: [S.CLOSED],
  [S.CHUNK_SIZE]: [S.CHUNK_DATA, S.TRAILERS],
  [S.CHUNK_DATA]: [S.CHUNK_DATA_END],
  [S.CHUNK_DATA_END]: [S.CHUNK_SIZE],
  [S.TRAILERS]: [S.IDLE, S.CLOSED],
  [S.CLOSED]: [],
  [S.UPGRADED]: [],
  [S.DEAD]: [],
}

/** Stable `H1ParseError#reason` strings. */
export const ParseReason = {
  INVALID_STATUS_LINE: 'invalid status line',
  UNSUPPORTED_VERSION: 'unsupported http version',
  INVALID_STATUS_CODE: 'invalid status code',
  INVALID_REASON_PHRASE: 'invalid reason phrase',
  BARE_CR: 'bare CR',
  BARE_LF: 'bare LF',
  INVALID_HEADER_NAME: 'invalid header name',
  INVALID_HEADER_VALUE: 'invalid header value',
  WHITESPACE_BEFORE_FIRST_FIELD: 'whitespace before first field',
  HEADER_TOO_LARGE: 'header too large',
  TOO_MANY_HEADERS: 'too many headers',
  INVALID_CONTENT_LENGTH: 'invalid content-length',
  CONTENT_LENGTH_OVERFLOW: 'content-length overflow',
  CONFLICTING_CONTENT_LENGTH: 'conflicting content-length',
  CHUNKED_TWICE: 'chunked applied more than once',
  INVALID_CHUNK_SIZE: 'invalid chunk size',
  CHUNK_SIZE_OVERFLOW: 'chunk size overflow',
  INVALID_CHUNK_EXTENSION: 'invalid chunk extension',
  CHUNK_LINE_TOO_LARGE: 'chunk line too large',
  MISSING_CHUNK_CRLF: 'missing CRLF after chunk data',
  UNEXPECTED_101: 'unexpected 101',
  DATA_AFTER_CLOSE: 'data after connection close',
  UNEXPECTED_EOF: 'unexpected eof',
} as const
export type ParseReason = (typeof ParseReason)[keyof typeof ParseReason]

export const DEFAULT_MAX_HEADER_SIZE = 16 * 1024
export const DEFAULT_MAX_HEADER_COUNT = 128
/**
 * A chunk-size line (size + extensions + CRLF) longer than this is refused. Extensions
 * carry nothing we use; Go's net/http allows 4096 bytes per chunk line too.
 */
export const MAX_CHUNK_LINE = 4096

const MAX_DIV_16 = Math.floor(Number.MAX_SAFE_INTEGER / 16)

/** `#specials` record kinds: a field that decides framing or persistence. */
const K_CONTENT_LENGTH = 0
const K_TRANSFER_ENCODING = 1
const K_CONNECTION = 2

const HTTP_SLASH = [0x48, 0x54, 0x54, 0x50, 0x2f] // "HTTP/"
const CRLF_CRLF = Buffer.from('\r\n\r\n')
const NAME_CONTENT_LENGTH = asciiBytes('content-length')
const NAME_TRANSFER_ENCODING = asciiBytes('transfer-encoding')
const NAME_CONNECTION = asciiBytes('connection')

/** Partial-line validation phases for field lines (see #validate). */
const P_LINE_START = 0
const P_NAME = 1
const P_VALUE = 2

function asciiBytes(s: string): Uint8Array {
  return Uint8Array.from(s, (ch) => ch.charCodeAt(0))
}

/** Case-insensitive compare of `lit` (lowercase letters and '-') with buf[s, s+lit.length). */
function eqLower(buf: Buffer, s: number, lit: Uint8Array): boolean {
  for (let k = 0; k < lit.length; k++) {
    // OR 0x20 lowercases ASCII letters; the other bytes are tchars and cannot collide
    // with a letter or '-' that way.
    if ((buf[s + k]! | 0x20) !== lit[k]) return false
  }
  return true
}

interface Latin1Slicer {
  latin1Slice(start: number, end: number): string
}

/** Buffer#latin1Slice: the binding `toString('latin1')` ends in, without its argument checks. */
function latin1(buf: Buffer, start: number, end: number): string {
  return (buf as unknown as Latin1Slicer).latin1Slice(start, end)
}

export class ResponseParser {
  readonly #handler: ResponseParserHandler
  readonly #maxHeaderSize: number
  readonly #maxHeaderCount: number

  #state: ParserState = S.IDLE
  /** What killed the parser; rethrown by every later call. */
  #error: unknown = undefined
  /** Stream offset of the first byte of the chunk being executed (total consumed otherwise). */
  #consumed = 0
  /**
   * Stream offset of the first byte of the response being parsed (its status line; an
   * interim response is a response of its own): H1ParseError#offset counts from here, as
   * errors.ts documents, not from the start of the connection.
   */
  #messageStart = 0

  // A line that spans chunks: its bytes so far, and the stream offset of its first byte.
  #line: Buffer = Buffer.allocUnsafe(256)
  #lineLen = 0
  #lineOff = 0
  // Incremental validation state of the buffered partial line (#validate).
  #pPhase = P_LINE_START
  #pCR = false

  // A head that arrived whole in one chunk is decoded to a string once and its names and
  // values are sliced from that string: one native call per head instead of two per field.
  /** The chunk #headStr was decoded from (null when there is none). */
  #strBuf: Buffer | null = null
  #headStr = ''
  /** Index in #strBuf of #headStr[0]. */
  #strBase = 0

  // The head (or trailer section) being built.
  #headOff = 0
  #headBytes = 0
  #statusCode = 0
  #statusText = ''
  #versionMinor: 0 | 1 = 1
  #fields: string[] = []
  /** Triples [kind, index of the name in #fields, stream offset of the field line]. */
  readonly #specials: number[] = []
  readonly #codings: TransferCodings = { chunkedLast: false, chunkedCount: 0 }

  // Body.
  /** Bytes left in a Content-Length body or in the current chunk. */
  #remaining = 0
  /** Bytes of the CRLF after a chunk's data seen so far (0 or 1). */
  #crlfSeen = 0
  /** Persistence of the response being read; decides IDLE or CLOSED at its end. */
  #keepAlive = true

  // The request the next response answers (expectResponse): primitives, set per response
  // by the driver, read once per head.
  /** It was HEAD: the response has no body whatever its framing fields say. */
  #requestHead = false
  /** It was CONNECT: a 2xx makes the connection a tunnel. */
  #requestConnect = false
  /** It asked for an upgrade: a 101 switches protocols. */
  #upgradeRequested = false

  constructor(handler: ResponseParserHandler, options: ResponseParserOptions = {}) {
    this.#handler = handler
    this.#maxHeaderSize = integerOption('maxHeaderSize', options.maxHeaderSize, DEFAULT_MAX_HEADER_SIZE, { min: 16 })
    this.#maxHeaderCount = integerOption('maxHeaderCount', options.maxHeaderCount, DEFAULT_MAX_HEADER_COUNT, { min: 0 })
  }

  /**
   * Say which request the next response (its interim heads included) answers: its method
   * and whether it asked for an upgrade. Holds until called again; the default is a GET
   * that asked for no upgrade. Call it between responses, before `execute()` delivers the
   * head — for pipelined responses in one chunk, from `onMessageComplete`.
   */
  expectResponse(method: string, upgrade: boolean): void {
    this.#requestHead = method === 'HEAD'
    this.#requestConnect = method === 'CONNECT'
    this.#upgradeRequested = upgrade
  }

  get state(): ParserState {
    return this.#state
  }

  /** Between responses with no partial bytes buffered: the stream may end or be reused here. */
  get idle(): boolean {
    return this.#state === S.IDLE
  }

  /**
   * Parse as much of `chunk` as possible. Returns the bytes consumed: `chunk.length`, or,
   * after a head with Framing.SWITCHED, the offset right after that head.
   * Throws H1ParseError on malformed input; the parser is then dead.
   */
  execute(chunk: Uint8Array): number {
    const state = this.#state
    if (state === S.DEAD) throw this.#error
    if (state === S.UPGRADED) return 0
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
    const len = buf.length
    let pos = 0
    try {
      while (pos < len) {
        switch (this.#state) {
          case S.IDLE:
          case S.STATUS_LINE:
          case S.HEADERS:
          case S.CHUNK_SIZE:
          case S.TRAILERS:
            pos = this.#readLines(buf, pos, len)
            // (the handler's onHead may have moved the state; widen TS's narrowing)
            if ((this.#state as ParserState) === S.UPGRADED) {
              this.#consumed += pos
              return pos
            }
            break
          case S.BODY_LENGTH:
            pos = this.#readLengthBody(buf, pos, len)
            break
          case S.CHUNK_DATA:
            pos = this.#readChunkData(buf, pos, len)
            break
          case S.CHUNK_DATA_END:
            pos = this.#readChunkEnd(buf, pos, len)
            break
          case S.BODY_UNTIL_CLOSE:
            this.#handler.onBody(pos === 0 ? buf : buf.subarray(pos, len))
            pos = len
            break
          default:
            // CLOSED (UPGRADED and DEAD returned above and cannot be entered mid-loop)
            this.#fail(ParseReason.DATA_AFTER_CLOSE, this.#consumed + pos)
        }
      }
    } catch (err) {
      this.#die(err)
      throw err
    }
    this.#consumed += len
    return len
  }

  /**
   * The peer closed the stream. Completes a body delimited by the close; throws
   * H1ParseError('unexpected eof') if the close cut a head, a Content-Length body or a
   * chunked body short; does nothing between responses or after an upgrade.
   */
  finish(): void {
    switch (this.#state) {
      case S.IDLE:
      case S.CLOSED:
      case S.UPGRADED:
        return
      case S.DEAD:
        throw this.#error
      case S.BODY_UNTIL_CLOSE:
        // RFC 9112 §6.3 rule 8: the close is the end of this body.
        try {
          this.#to(S.CLOSED)
          this.#handler.onMessageComplete()
        } catch (err) {
          this.#die(err)
          throw err
        }
        return
      default: {
        // RFC 9112 §8: a message whose framing says it is longer than what arrived is incomplete.
        const err = new H1ParseError(ParseReason.UNEXPECTED_EOF, this.#consumed - this.#messageStart)
        this.#die(err)
        throw err
      }
    }
  }

  // ---------------------------------------------------------------- state machine

  #to(next: ParserState): void {
    if (next !== S.DEAD && !TRANSITIONS[this.#state].includes(next)) {
      throw new Error(`ResponseParser: illegal transition ${this.#state} -> ${next}`)
    }
    this.#state = next
  }

  #die(err: unknown): void {
    if (this.#state === S.DEAD) return
    this.#error = err
    this.#lineLen = 0
    this.#fields = []
    this.#strBuf = null
    this.#headStr = ''
    this.#to(S.DEAD)
  }

  /** `offset` is a stream offset; the error counts from the start of the response. */
  #fail(reason: ParseReason, offset: number): never {
    throw new H1ParseError(reason, offset - this.#messageStart)
  }

  /** End of a response: the next byte starts the next one, or nothing may follow. */
  #complete(): void {
    this.#to(this.#keepAlive ? S.IDLE : S.CLOSED)
    this.#handler.onMessageComplete()
  }

  // ---------------------------------------------------------------- lines

  /** Consume complete lines while the state is line-oriented; buffer a trailing partial line. */
  #readLines(buf: Buffer, pos: number, len: number): number {
    while (pos < len) {
      if (this.#state === S.IDLE && this.#lineLen === 0) this.#messageStart = this.#consumed + pos
      let lf: number
      if (buf === this.#strBuf) {
        // Inside a head decoded whole: its line ends are in the string.
        const i = this.#headStr.indexOf('\n', pos - this.#strBase)
        lf = i === -1 ? -1 : i + this.#strBase
      } else {
        if (this.#state === S.IDLE && buf[pos] !== CR) this.#decodeHead(buf, pos)
        lf = buf.indexOf(LF, pos)
      }
      if (lf === -1) {
        this.#bufferPartial(buf, pos, len)
        return len
      }
      if (this.#lineLen === 0) {
        this.#onLine(buf, pos, lf, this.#consumed + pos)
      } else {
        const limit = this.#lineLimit()
        if (this.#lineLen + (lf - pos) + 1 > limit) this.#refuseOversized(buf, pos, limit)
        this.#append(buf, pos, lf + 1)
        this.#onLine(this.#line, 0, this.#lineLen - 1, this.#lineOff)
        this.#lineLen = 0
      }
      pos = lf + 1
      switch (this.#state) {
        case S.IDLE:
        case S.STATUS_LINE:
        case S.HEADERS:
        case S.CHUNK_SIZE:
        case S.TRAILERS:
          continue
        default:
          return pos
      }
    }
    return pos
  }

  /**
   * A status line starts at buf[pos]: if the whole head (up to the CRLF of its empty line)
   * is in this chunk and within the size limit, decode it once. A valid head cannot contain
   * CRLF CRLF before its end; an invalid one is refused by the same line parsers either way.
   */
  #decodeHead(buf: Buffer, pos: number): void {
    const end = buf.indexOf(CRLF_CRLF, pos)
    if (end === -1 || end + 4 - pos > this.#maxHeaderSize) return
    this.#strBuf = buf
    this.#strBase = pos
    this.#headStr = latin1(buf, pos, end + 4)
  }

  /** buf[s, e) as a latin1 string: sliced from the decoded head when it is in there. */
  #text(buf: Buffer, s: number, e: number): string {
    if (buf === this.#strBuf) return this.#headStr.slice(s - this.#strBase, e - this.#strBase)
    return latin1(buf, s, e)
  }

  /** Copy buf[from, to) to the end of the partial-line buffer, growing it as needed. */
  #append(buf: Buffer, from: number, to: number): void {
    const need = this.#lineLen + (to - from)
    if (need > this.#line.length) {
      let size = this.#line.length * 2
      while (size < need) size *= 2
      const grown = Buffer.allocUnsafe(size)
      this.#line.copy(grown, 0, 0, this.#lineLen)
      this.#line = grown
    }
    buf.copy(this.#line, this.#lineLen, from, to)
    this.#lineLen = need
  }

  /** A line without its LF yet: keep it (bounded) and validate what can already be judged. */
  #bufferPartial(buf: Buffer, from: number, to: number): void {
    if (this.#lineLen === 0) {
      this.#lineOff = this.#consumed + from
      this.#pPhase = P_LINE_START
      this.#pCR = false
      if (this.#state === S.IDLE) this.#to(S.STATUS_LINE)
    }
    const limit = this.#lineLimit()
    if (this.#lineLen + (to - from) > limit) this.#refuseOversized(buf, from, limit)
    const start = this.#lineLen
    this.#append(buf, from, to)
    this.#validate(this.#line, 0, start, this.#lineLen, this.#lineOff)
  }

  /**
   * Bytes the current line may have, CRLF included (RFC 9112 §2.3 lets a recipient limit
   * them): what is left of the head (or trailer) budget, or the chunk-line limit.
   */
  #lineLimit(): number {
    return this.#state === S.CHUNK_SIZE ? MAX_CHUNK_LINE : this.#maxHeaderSize - this.#headBytes
  }

  /**
   * The buffered line plus buf[from, …) exceeds `limit`: judge the bytes that still fit
   * (a bad byte before the limit is the first error in stream order), then refuse.
   */
  #refuseOversized(buf: Buffer, from: number, limit: number): never {
    const start = this.#lineLen
    this.#append(buf, from, from + (limit - start))
    this.#validate(this.#line, 0, start, this.#lineLen, this.#lineOff)
    return this.#fail(this.#sizeReason(), this.#lineOff + limit)
  }

  #sizeReason(): ParseReason {
    return this.#state === S.CHUNK_SIZE ? ParseReason.CHUNK_LINE_TOO_LARGE : ParseReason.HEADER_TOO_LARGE
  }

  /**
   * Judge bytes buf[from, to) of a line that starts at buf[lineStart] (stream offset `off`)
   * before it is complete, so that a peer trickling garbage is refused now rather than at
   * the size limit, and so that the first bad byte in stream order is the one reported
   * however the line was cut. Reports the reason and offset the complete-line parsers
   * would. Status lines: the `HTTP/` prefix; field lines: name, colon and value bytes;
   * chunk-size lines are judged only when complete. Resumes from #pPhase / #pCR.
   */
  #validate(buf: Buffer, lineStart: number, from: number, to: number, off: number): void {
    const state = this.#state
    if (state === S.IDLE || state === S.STATUS_LINE) {
      // A lone CR may still be the start of an empty line's CRLF.
      if (to - lineStart === 1 && buf[lineStart] === CR) return
      // At most five bytes; checking them from the line start keeps a CR at position 0
      // (now known not to start an empty line) reported where #statusLine would.
      for (let k = 0; k < HTTP_SLASH.length && lineStart + k < to; k++) {
        if (buf[lineStart + k] !== HTTP_SLASH[k]) this.#fail(ParseReason.INVALID_STATUS_LINE, off + k)
      }
      return
    }
    if (state !== S.HEADERS && state !== S.TRAILERS) return
    let phase = this.#pPhase
    let pendingCR = this.#pCR
    for (let i = from; i < to; i++) {
      const c = buf[i]!
      if (pendingCR) {
        // The previous byte was a CR and this one is not the LF: a bare CR (RFC 9112 §2.2).
        this.#fail(phase === P_VALUE ? ParseReason.BARE_CR : ParseReason.INVALID_HEADER_NAME, off + (i - 1 - lineStart))
      }
      if (phase === P_LINE_START) {
        if (c === CR) pendingCR = true
        else if (c === SP || c === HTAB) {
          if (this.#fields.length === 0) this.#fail(ParseReason.WHITESPACE_BEFORE_FIRST_FIELD, off + (i - lineStart))
          phase = P_VALUE
        } else if (TOKEN[c] === 1) phase = P_NAME
        else this.#fail(ParseReason.INVALID_HEADER_NAME, off + (i - lineStart))
      } else if (phase === P_NAME) {
        if (c === COLON) phase = P_VALUE
        else if (TOKEN[c] === 0) this.#fail(ParseReason.INVALID_HEADER_NAME, off + (i - lineStart))
      } else if (c === CR) pendingCR = true
      else if (FIELD_VALUE[c] === 0) this.#fail(ParseReason.INVALID_HEADER_VALUE, off + (i - lineStart))
    }
    this.#pPhase = phase
    this.#pCR = pendingCR
  }

  /**
   * One complete line: bytes buf[s, lf) where buf[lf] is the LF; `off` is the stream offset
   * of buf[s]. RFC 9112 §2.2: lines end in CRLF.
   */
  #onLine(buf: Buffer, s: number, lf: number, off: number): void {
    const size = lf - s + 1
    const limit = this.#lineLimit()
    if (size > limit || lf === s || buf[lf - 1] !== CR) {
      // Error paths: report the first bad byte in stream order, as a cut line would.
      this.#pPhase = P_LINE_START
      this.#pCR = false
      if (size > limit) {
        this.#validate(buf, s, s, s + limit, off)
        this.#fail(this.#sizeReason(), off + limit)
      }
      this.#validate(buf, s, s, lf, off)
      this.#fail(ParseReason.BARE_LF, off + (lf - s))
    }
    const e = lf - 1
    switch (this.#state) {
      case S.IDLE:
      case S.STATUS_LINE:
        if (e === s) {
          // RFC 9112 §2.2: empty line(s) before a message are ignored.
          if (this.#state === S.STATUS_LINE) this.#to(S.IDLE)
          return
        }
        this.#headBytes = size
        this.#headOff = off
        this.#statusLine(buf, s, e, off)
        this.#fields = []
        this.#specials.length = 0
        this.#to(S.HEADERS)
        return
      case S.HEADERS:
      case S.TRAILERS:
        this.#headBytes += size
        if (e === s) {
          if (this.#state === S.HEADERS) this.#headComplete()
          else this.#trailersComplete()
        } else {
          this.#fieldLine(buf, s, e, off)
        }
        return
      default:
        // CHUNK_SIZE: the only other line-oriented state.
        this.#chunkSizeLine(buf, s, e, off)
    }
  }

  /** RFC 9112 §4: status-line = HTTP-version SP status-code SP [ reason-phrase ] */
  #statusLine(buf: Buffer, s: number, e: number, off: number): void {
    for (let k = 0; k < 5; k++) {
      if (s + k >= e || buf[s + k] !== HTTP_SLASH[k]) this.#fail(ParseReason.INVALID_STATUS_LINE, off + k)
    }
    // RFC 9112 §2.3: HTTP-version = "HTTP/" DIGIT "." DIGIT
    const major = s + 5 < e ? buf[s + 5]! : -1
    const dot = s + 6 < e ? buf[s + 6]! : -1
    const minor = s + 7 < e ? buf[s + 7]! : -1
    if (major < 0x30 || major > 0x39 || dot !== 0x2e || minor < 0x30 || minor > 0x39) {
      this.#fail(ParseReason.INVALID_STATUS_LINE, off + 5)
    }
    // Only HTTP/1.x is HTTP/1 (HTTP/0.9 has no status line, HTTP/2 has no text framing).
    // RFC 9110 §6.2: a higher minor version of a major we implement is processed as the
    // highest minor we implement, 1.1.
    if (major !== 0x31) this.#fail(ParseReason.UNSUPPORTED_VERSION, off + 5)
    if (s + 8 >= e || buf[s + 8] !== SP) this.#fail(ParseReason.INVALID_STATUS_LINE, off + 8)
    // RFC 9112 §4: status-code = 3DIGIT
    let code = 0
    for (let k = 9; k < 12; k++) {
      const c = s + k < e ? buf[s + k]! : -1
      if (c < 0x30 || c > 0x39) this.#fail(ParseReason.INVALID_STATUS_CODE, off + k)
      code = code * 10 + (c - 0x30)
    }
    // RFC 9110 §15: the first digit is the class, 1 to 5 in use; 6xx–9xx are tolerated as
    // hyper and Go do, 0xx has no meaning at all.
    if (code < 100) this.#fail(ParseReason.INVALID_STATUS_CODE, off + 9)
    let text = ''
    if (s + 12 < e) {
      if (buf[s + 12] !== SP) this.#fail(ParseReason.INVALID_STATUS_CODE, off + 12)
      // reason-phrase = 1*( HTAB / SP / VCHAR / obs-text ); a missing one is allowed
      // (the SP before it too, as llhttp and every client accept "HTTP/1.1 200\r\n").
      for (let i = s + 13; i < e; i++) {
        const c = buf[i]!
        if (FIELD_VALUE[c] === 0) {
          this.#fail(c === CR ? ParseReason.BARE_CR : ParseReason.INVALID_REASON_PHRASE, off + (i - s))
        }
      }
      if (s + 13 < e) text = this.#text(buf, s + 13, e)
    }
    this.#statusCode = code
    this.#statusText = text
    this.#versionMinor = minor === 0x30 ? 0 : 1
  }

  /** RFC 9112 §5: field-line = field-name ":" OWS field-value OWS, or an obs-fold continuation. */
  #fieldLine(buf: Buffer, s: number, e: number, off: number): void {
    const fields = this.#fields
    const c0 = buf[s]!
    if (c0 === SP || c0 === HTAB) {
      // RFC 9112 §2.2: whitespace between the start-line and the first field is refused
      // (it could hide a field from us that another parser would see).
      if (fields.length === 0) this.#fail(ParseReason.WHITESPACE_BEFORE_FIRST_FIELD, off)
      // RFC 9112 §5.2: a user agent replaces obs-fold with SP before interpreting the value.
      for (let i = s; i < e; i++) {
        const c = buf[i]!
        if (FIELD_VALUE[c] === 0) {
          this.#fail(c === CR ? ParseReason.BARE_CR : ParseReason.INVALID_HEADER_VALUE, off + (i - s))
        }
      }
      let vs = s
      while (vs < e && (buf[vs] === SP || buf[vs] === HTAB)) vs++
      let ve = e
      while (ve > vs && (buf[ve - 1] === SP || buf[ve - 1] === HTAB)) ve--
      if (vs < ve) {
        const last = fields.length - 1
        const prev = fields[last]!
        const more = this.#text(buf, vs, ve)
        fields[last] = prev === '' ? more : prev + ' ' + more
      }
      return
    }
    // RFC 9110 §5.1: field-name = token; RFC 9112 §5.1: no whitespace before the colon.
    let i = s
    while (i < e && TOKEN[buf[i]!] === 1) i++
    if (i === s || i === e || buf[i] !== COLON) this.#fail(ParseReason.INVALID_HEADER_NAME, off + (i - s))
    const nameEnd = i
    i++
    while (i < e && (buf[i] === SP || buf[i] === HTAB)) i++
    const vs = i
    for (; i < e; i++) {
      const c = buf[i]!
      if (FIELD_VALUE[c] === 0) {
        this.#fail(c === CR ? ParseReason.BARE_CR : ParseReason.INVALID_HEADER_VALUE, off + (i - s))
      }
    }
    let ve = e
    while (ve > vs && (buf[ve - 1] === SP || buf[ve - 1] === HTAB)) ve--
    if (fields.length >= this.#maxHeaderCount * 2) this.#fail(ParseReason.TOO_MANY_HEADERS, off)
    const index = fields.length
    fields.push(this.#text(buf, s, nameEnd), vs === ve ? '' : this.#text(buf, vs, ve))
    if (this.#state !== S.HEADERS) return
    // Remember the fields that decide framing; they are interpreted once the head is whole
    // (an obs-fold line may still extend their value).
    let kind = -1
    switch (nameEnd - s) {
      case 14:
        if (eqLower(buf, s, NAME_CONTENT_LENGTH)) kind = K_CONTENT_LENGTH
        break
      case 17:
        if (eqLower(buf, s, NAME_TRANSFER_ENCODING)) kind = K_TRANSFER_ENCODING
        break
      case 10:
        if (eqLower(buf, s, NAME_CONNECTION)) kind = K_CONNECTION
        break
    }
    if (kind !== -1) this.#specials.push(kind, index, off)
  }

  /** The empty line after the fields: decide framing (RFC 9112 §6.3) and hand the head out. */
  #headComplete(): void {
    const fields = this.#fields
    const specials = this.#specials
    const codings = this.#codings
    codings.chunkedLast = false
    codings.chunkedCount = 0
    let contentLength = -1
    let te = false
    let teOff = 0
    let conn = 0
    for (let k = 0; k < specials.length; k += 3) {
      const kind = specials[k]!
      const value = fields[specials[k + 1]! + 1]!
      const at = specials[k + 2]!
      if (kind === K_CONTENT_LENGTH) {
        const n = parseContentLength(value)
        if (n < 0) {
          this.#fail(
            n === CL_OVERFLOW
              ? ParseReason.CONTENT_LENGTH_OVERFLOW
              : n === CL_MISMATCH
                ? ParseReason.CONFLICTING_CONTENT_LENGTH
                : ParseReason.INVALID_CONTENT_LENGTH,
            at,
          )
        }
        // RFC 9110 §8.6 / RFC 9112 §6.3 rule 5: differing Content-Length values are unrecoverable.
        if (contentLength !== -1 && n !== contentLength) this.#fail(ParseReason.CONFLICTING_CONTENT_LENGTH, at)
        contentLength = n
      } else if (kind === K_TRANSFER_ENCODING) {
        te = true
        teOff = at
        addTransferCodings(value, codings)
      } else {
        conn |= connectionOptions(value)
      }
    }
    // RFC 9112 §6.1: a sender MUST NOT apply chunked more than once; a body "chunked twice"
    // would be framed differently by whoever decodes one layer.
    if (codings.chunkedCount > 1) this.#fail(ParseReason.CHUNKED_TWICE, teOff)

    const status = this.#statusCode
    const v1 = this.#versionMinor === 1
    // RFC 9112 §6.3 rule 4: chunked is the framing only when it is the final coding.
    const chunked = te && codings.chunkedLast
    // RFC 9112 §6.3 rule 3: Transfer-Encoding overrides Content-Length, and such a message
    // "ought to be handled as an error": we read it by Transfer-Encoding and never reuse
    // the connection.
    const conflicting = te && contentLength !== -1
    // RFC 9112 §9.3: persistent unless "close", or HTTP/1.0 without "keep-alive".
    let persistent = (conn & CONN_CLOSE) === 0 && (v1 || (conn & CONN_KEEP_ALIVE) !== 0)
    // RFC 9112 §6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing: close after it.
    if (conflicting || (te && !v1)) persistent = false
    // RFC 9112 §6.3, its rules in order, with the request this response answers.
    let framing: FramingType
    if (status < 200) {
      // RFC 9110 §15.2.2: a 101 switches only when we asked; otherwise 1xx is interim (rule 1).
      framing = status === 101 && this.#upgradeRequested ? Framing.SWITCHED : Framing.NONE
    } else if (this.#requestConnect && status < 300) {
      // Rule 2: a 2xx to CONNECT makes the connection a tunnel right after the head.
      framing = Framing.SWITCHED
    } else if (this.#requestHead || status === 204 || status === 304) {
      // Rule 1: no content whatever the framing fields say, so a missing Content-Length
      // does not make the response close-delimited.
      framing = Framing.NONE
    } else if (chunked) {
      framing = Framing.CHUNKED // rule 4
    } else if (te || contentLength === -1) {
      framing = Framing.UNTIL_CLOSE // rules 4 and 8
    } else {
      framing = Framing.LENGTH // rule 6
    }
    const keepAlive = persistent && framing !== Framing.UNTIL_CLOSE

    const head: ResponseHead = {
      statusCode: status,
      statusText: this.#statusText,
      versionMinor: this.#versionMinor,
      rawHeaders: fields,
      keepAlive,
      contentLength: te ? -1 : contentLength,
      chunked,
      conflictingFraming: conflicting,
      upgrade: (conn & CONN_UPGRADE) !== 0,
      framing,
    }
    this.#fields = []
    this.#headBytes = 0
    // The decoded head is done with; do not keep the chunk (or match a reused one) later.
    this.#strBuf = null
    this.#headStr = ''
    this.#handler.onHead(head)

    if (framing === Framing.SWITCHED) return this.#to(S.UPGRADED)
    if (status < 200) {
      // A 101 nobody asked for: nothing after it can be parsed as HTTP/1.1.
      if (status === 101) this.#fail(ParseReason.UNEXPECTED_101, this.#headOff)
      // RFC 9110 §15.2: an interim response; the final one follows on the same stream.
      return this.#to(S.IDLE)
    }
    this.#keepAlive = keepAlive
    switch (framing) {
      case Framing.NONE:
        return this.#complete()
      case Framing.CHUNKED:
        return this.#to(S.CHUNK_SIZE)
      case Framing.UNTIL_CLOSE:
        return this.#to(S.BODY_UNTIL_CLOSE)
    }
    if (contentLength === 0) return this.#complete()
    this.#remaining = contentLength
    this.#to(S.BODY_LENGTH)
  }

  /** RFC 9112 §7.1: chunk-size [ chunk-ext ] CRLF, chunk-size = 1*HEXDIG. */
  #chunkSizeLine(buf: Buffer, s: number, e: number, off: number): void {
    let i = s
    let n = 0
    for (; i < e; i++) {
      const h = HEX[buf[i]!]!
      if (h < 0) break
      // n * 16 + h must stay <= Number.MAX_SAFE_INTEGER (whose low hex digit is f).
      if (n > MAX_DIV_16) this.#fail(ParseReason.CHUNK_SIZE_OVERFLOW, off + (i - s))
      n = n * 16 + h
    }
    if (i === s) this.#fail(ParseReason.INVALID_CHUNK_SIZE, off)
    if (i < e) this.#chunkExtensions(buf, i, e, off - s)
    if (n === 0) {
      // RFC 9112 §7.1.2: the last chunk is followed by the trailer section.
      this.#fields = []
      this.#headBytes = 0
      this.#to(S.TRAILERS)
    } else {
      this.#remaining = n
      this.#to(S.CHUNK_DATA)
    }
  }

  /**
   * RFC 9112 §7.1.1: chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ),
   * chunk-ext-name = token, chunk-ext-val = token / quoted-string. Validated, then ignored.
   * `base` maps a buffer index to its stream offset. Whitespace is only allowed where BWS is,
   * so "5 \r\n" or "5 junk\r\n" are refused as llhttp does.
   */
  #chunkExtensions(buf: Buffer, i: number, e: number, base: number): void {
    let seen = false
    for (;;) {
      const ws = i
      while (i < e && (buf[i] === SP || buf[i] === HTAB)) i++
      if (i === e) {
        if (i !== ws) this.#fail(seen ? ParseReason.INVALID_CHUNK_EXTENSION : ParseReason.INVALID_CHUNK_SIZE, base + ws)
        return
      }
      if (buf[i] !== SEMICOLON) {
        this.#fail(seen ? ParseReason.INVALID_CHUNK_EXTENSION : ParseReason.INVALID_CHUNK_SIZE, base + i)
      }
      seen = true
      i++
      while (i < e && (buf[i] === SP || buf[i] === HTAB)) i++
      const nameStart = i
      while (i < e && TOKEN[buf[i]!] === 1) i++
      if (i === nameStart) this.#fail(ParseReason.INVALID_CHUNK_EXTENSION, base + i)
      const afterName = i
      while (i < e && (buf[i] === SP || buf[i] === HTAB)) i++
      if (i === e || buf[i] !== EQUALS) {
        i = afterName
        continue
      }
      i++
      while (i < e && (buf[i] === SP || buf[i] === HTAB)) i++
      if (i < e && buf[i] === DQUOTE) {
        // RFC 9110 §5.6.4: quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE
        i++
        for (;;) {
          if (i >= e) this.#fail(ParseReason.INVALID_CHUNK_EXTENSION, base + e)
          const c = buf[i]!
          if (c === DQUOTE) break
          if (c === BACKSLASH) {
            i++
            if (i >= e || FIELD_VALUE[buf[i]!] === 0) this.#fail(ParseReason.INVALID_CHUNK_EXTENSION, base + i)
          } else if (QDTEXT[c] === 0) {
            this.#fail(ParseReason.INVALID_CHUNK_EXTENSION, base + i)
          }
          i++
        }
        i++
      } else {
        const valueStart = i
        while (i < e && TOKEN[buf[i]!] === 1) i++
        if (i === valueStart) this.#fail(ParseReason.INVALID_CHUNK_EXTENSION, base + i)
      }
    }
  }

  /** The empty line ending the trailer section (RFC 9112 §7.1.2). */
  #trailersComplete(): void {
    const trailers = this.#fields
    this.#fields = []
    this.#headBytes = 0
    if (trailers.length !== 0) this.#handler.onTrailers(trailers)
    this.#complete()
  }

  // ---------------------------------------------------------------- bodies

  /**
   * Counts the body octets of buf[pos, len) against `#remaining` (what Content-Length or the
   * chunk-size still owes): returns where they end, `len` while more is owed. `#remaining` is
   * 0 afterwards exactly when the count was reached.
   */
  #countBody(pos: number, len: number): number {
    const avail = len - pos
    const remaining = this.#remaining
    if (avail < remaining) {
      this.#remaining = remaining - avail
      return len
    }
    this.#remaining = 0
    return pos + remaining
  }

  /** RFC 9112 §6.3 rule 6: exactly Content-Length bytes. */
  #readLengthBody(buf: Buffer, pos: number, len: number): number {
    const end = this.#countBody(pos, len)
    const reached = this.#remaining === 0
    this.#handler.onBody(pos === 0 && end === len ? buf : buf.subarray(pos, end))
    if (reached) this.#complete()
    return end
  }

  #readChunkData(buf: Buffer, pos: number, len: number): number {
    const end = this.#countBody(pos, len)
    if (this.#remaining === 0) {
      this.#crlfSeen = 0
      this.#to(S.CHUNK_DATA_END)
    }
    this.#handler.onBody(pos === 0 && end === len ? buf : buf.subarray(pos, end))
    return end
  }

  /** RFC 9112 §7.1: chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF — the second CRLF. */
  #readChunkEnd(buf: Buffer, pos: number, len: number): number {
    while (pos < len) {
      const expected = this.#crlfSeen === 0 ? CR : LF
      if (buf[pos] !== expected) this.#fail(ParseReason.MISSING_CHUNK_CRLF, this.#consumed + pos)
      pos++
      if (expected === LF) {
        this.#to(S.CHUNK_SIZE)
        return pos
      }
      this.#crlfSeen = 1
    }
    return pos
  }
}
