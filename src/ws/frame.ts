/**
 * Sans-I/O RFC 6455 frame reader for the client side: bytes from a server in, messages and
 * control frames out to a handler. No socket, timer or promise in here; the WebSocket
 * layer owns those. The encoder for client frames lives in `frame-encode.ts`.
 *
 * Data payloads are streamed to the handler as views of the chunks given to `push` (a
 * server's frames are not masked, so nothing is rewritten); nothing is copied except a
 * frame header or a control frame payload that straddles two chunks.
 */
import { InvalidArgumentError, WsProtocolError } from '../errors.js'
import { Utf8Validator, isValidUtf8 } from './utf8.js'

/** Frame opcodes, RFC 6455 §5.2 and §11.8. 3–7 and 0xB–0xF are reserved. */
export const Opcode = {
  CONTINUATION: 0x0,
  TEXT: 0x1,
  BINARY: 0x2,
  CLOSE: 0x8,
  PING: 0x9,
  PONG: 0xa,
} as const
export type Opcode = (typeof Opcode)[keyof typeof Opcode]

/** The opcodes that start a data message. */
export type DataOpcode = typeof Opcode.TEXT | typeof Opcode.BINARY

/**
 * Close status codes, RFC 6455 §7.4.1 plus the IANA "WebSocket Close Code Number Registry"
 * (1012–1014). 1005, 1006 and 1015 are for reporting only and never appear on the wire.
 */
export const CloseCode = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  UNSUPPORTED_DATA: 1003,
  /** No status code was present in the Close frame (§7.1.5). Never sent. */
  NO_STATUS: 1005,
  /** The connection closed without a Close frame (§7.1.5). Never sent. */
  ABNORMAL: 1006,
  INVALID_PAYLOAD: 1007,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  MANDATORY_EXTENSION: 1010,
  INTERNAL_ERROR: 1011,
  SERVICE_RESTART: 1012,
  TRY_AGAIN_LATER: 1013,
  BAD_GATEWAY: 1014,
  /** TLS handshake failure (§7.4.1). Never sent. */
  TLS_HANDSHAKE: 1015,
} as const
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode]

/**
 * Whether a status code may appear in a Close frame (RFC 6455 §7.4.1, §7.4.2): the defined
 * codes except 1004 (reserved), 1005, 1006 and 1015 (never sent), and 3000–4999 (registered
 * and private use). 0–999 are unused and the rest of 1000–2999 is reserved for the RFC.
 */
export function isValidCloseCode(code: number): boolean {
  return (
    (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999)
  )
}

/** What the decoder reports. Calls come in wire order. */
export interface FrameHandler {
  /**
   * The first frame of a data message arrived. `compressed` is the RSV1 bit (only possible
   * with `allowRsv1`): the payload is permessage-deflate data (RFC 7692), which the decoder
   * neither inflates nor UTF-8-checks; the layer that inflates a text message validates it.
   */
  onMessageStart(opcode: DataOpcode, compressed: boolean): void
  /**
   * The next piece of the current message's payload, never empty. A view of a chunk given
   * to `push`: the decoder never writes to it, so it stays valid as long as its owner does
   * not reuse that chunk. Text pieces (uncompressed) were already checked as UTF-8 prefixes.
   */
  onMessageData(piece: Uint8Array): void
  /** The current message is complete (its FIN frame ended). A text message was valid UTF-8. */
  onMessageEnd(): void
  /** A Ping (§5.5.2); the client answers with a Pong carrying the same payload. Same view rules. */
  onPing(payload: Uint8Array): void
  /** A Pong (§5.5.3). Same view rules. */
  onPong(payload: Uint8Array): void
  /**
   * A Close frame (§5.5.1). `code` is 1005 (NO_STATUS) when the frame had no body (§7.1.5);
   * `reason` is the decoded UTF-8 reason ('' when none). The decoder ignores any byte after
   * it: the server must not send anything after a Close (§5.5.1), and nothing it sends
   * could be acted on.
   */
  onClose(code: number, reason: string): void
}

export interface FrameDecoderOptions {
  /**
   * Max bytes of one data message, summed over its fragments as they are sent on the wire
   * (compressed size when RSV1 is set). A frame header that would exceed it fails with 1009
   * before any of its payload is read. Default 100 MiB (as `ws`); `Infinity` for no limit.
   */
  maxPayload?: number
  /** permessage-deflate was negotiated: RSV1 may be set on a message's first frame (RFC 7692 §6). */
  allowRsv1?: boolean
}

export const DEFAULT_MAX_PAYLOAD = 100 * 1024 * 1024

/** Where the decoder is in the byte stream. */
export const DecoderState = {
  /** Between frames or inside a frame header. */
  HEADER: 'header',
  /** Inside a frame's payload. */
  PAYLOAD: 'payload',
  /** A Close frame was received; later bytes are discarded. */
  CLOSED: 'closed',
  /** A protocol error was thrown; every later `push` throws it again. */
  FAILED: 'failed',
} as const
export type DecoderState = (typeof DecoderState)[keyof typeof DecoderState]

/** Which data message is open, i.e. started by a frame without FIN (§5.4). */
const Message = { NONE: 'none', TEXT: 'text', BINARY: 'binary' } as const
type Message = (typeof Message)[keyof typeof Message]

const FIN = 0x80
const RSV1 = 0x40
const RSV2_3 = 0x30
const OPCODE_BITS = 0x0f
const MASK = 0x80
const LENGTH_BITS = 0x7f
const LENGTH_16 = 126
const LENGTH_64 = 127
/** §5.5: control frames carry at most 125 bytes. */
const MAX_CONTROL_PAYLOAD = 125
/** 2 bytes + a 64-bit length. A mask key never follows: a masked server frame is an error. */
const MAX_HEADER = 10

const reasonDecoder = new TextDecoder()

export class FrameDecoder {
  readonly #handler: FrameHandler
  readonly #maxPayload: number
  readonly #allowRsv1: boolean

  #state: DecoderState = DecoderState.HEADER
  /** What `push` threw: a WsProtocolError, or whatever a handler callback threw. */
  #error: unknown

  /** Header bytes gathered across chunks (only when a header straddles chunks). */
  readonly #head = new Uint8Array(MAX_HEADER)
  #headHave = 0

  /** The frame whose payload is being read. */
  #fin = false
  #opcode = 0
  #remaining = 0
  /** A control payload that straddles chunks is gathered here (a fresh buffer per frame). */
  #control: Uint8Array | undefined
  #controlHave = 0

  /** The data message being received. */
  #message: Message = Message.NONE
  #compressed = false
  #messageLength = 0
  readonly #utf8 = new Utf8Validator()

  constructor(handler: FrameHandler, options: FrameDecoderOptions = {}) {
    const maxPayload = options.maxPayload ?? DEFAULT_MAX_PAYLOAD
    if (!(maxPayload === Infinity || (Number.isSafeInteger(maxPayload) && maxPayload >= 0))) {
      throw new InvalidArgumentError(`maxPayload must be a non-negative integer or Infinity, got ${maxPayload}`)
    }
    this.#handler = handler
    this.#maxPayload = maxPayload
    this.#allowRsv1 = options.allowRsv1 ?? false
  }

  get state(): DecoderState {
    return this.#state
  }

  /** A data message was started and its FIN frame has not arrived yet. */
  get inMessage(): boolean {
    return this.#message !== Message.NONE
  }

  /**
   * Feed bytes received from the server. Throws a WsProtocolError at the first violation;
   * the caller fails the connection with its `closeCode` (§7.1.7). Handler calls made before
   * the violation stand. If a handler throws, the decoder is failed too and rethrows it.
   */
  push(chunk: Uint8Array): void {
    if (this.#state === DecoderState.FAILED) throw this.#error
    try {
      let pos = 0
      // Each step consumes at least one byte or leaves the loop, so this ends.
      while (pos < chunk.length) {
        if (this.#state === DecoderState.HEADER) pos = this.#readHeader(chunk, pos)
        else if (this.#state === DecoderState.PAYLOAD) pos = this.#readPayload(chunk, pos)
        else return
      }
    } catch (err) {
      // The frame in progress is in an unknown state now: never parse past it.
      this.#error = err
      this.#enter(DecoderState.FAILED)
      throw err
    }
  }

  /** The one place the state changes. */
  #enter(next: DecoderState): void {
    if (next === DecoderState.HEADER) this.#headHave = 0
    this.#state = next
  }

  #fail(closeCode: number, message: string): never {
    throw new WsProtocolError(closeCode, message)
  }

  // ---- header ------------------------------------------------------------------------

  #readHeader(chunk: Uint8Array, pos: number): number {
    const available = chunk.length - pos
    if (this.#headHave === 0 && available >= 2) {
      const size = headerSize(chunk[pos + 1] as number)
      if (available >= size) {
        // Fast path: the whole header is in this chunk, read it in place.
        this.#checkFirstBytes(chunk[pos] as number, chunk[pos + 1] as number)
        this.#startFrame(chunk, pos)
        return pos + size
      }
    }
    // Slow path: gather the header across chunks, checking the first two bytes as soon as
    // they are here so a bad frame fails without waiting for its extended length.
    const head = this.#head
    let p = pos
    if (this.#headHave < 2) {
      while (this.#headHave < 2 && p < chunk.length) head[this.#headHave++] = chunk[p++] as number
      if (this.#headHave < 2) return p
      this.#checkFirstBytes(head[0] as number, head[1] as number)
    }
    const size = headerSize(head[1] as number)
    while (this.#headHave < size && p < chunk.length) head[this.#headHave++] = chunk[p++] as number
    if (this.#headHave < size) return p
    this.#startFrame(head, 0)
    return p
  }

  /** Every rule decidable from the first two header bytes (RFC 6455 §5.2, §5.4, §5.5). */
  #checkFirstBytes(b0: number, b1: number): void {
    const opcode = b0 & OPCODE_BITS
    const control = opcode >= Opcode.CLOSE
    if ((opcode > Opcode.BINARY && opcode < Opcode.CLOSE) || opcode > Opcode.PONG) {
      // §5.2: "If an unknown opcode is received, the receiving endpoint MUST _Fail the WebSocket Connection_."
      this.#fail(CloseCode.PROTOCOL_ERROR, `reserved opcode 0x${opcode.toString(16)}`)
    }
    if ((b0 & RSV2_3) !== 0) {
      // §5.2: RSV bits MUST be 0 unless an extension defines them; none we speak uses RSV2/RSV3.
      this.#fail(CloseCode.PROTOCOL_ERROR, 'RSV2 or RSV3 set without a negotiated extension')
    }
    if ((b0 & RSV1) !== 0) {
      if (!this.#allowRsv1) this.#fail(CloseCode.PROTOCOL_ERROR, 'RSV1 set without a negotiated extension')
      // RFC 7692 §6.1: the "Per-Message Compressed" bit is set only on a message's first frame.
      if (opcode !== Opcode.TEXT && opcode !== Opcode.BINARY) {
        this.#fail(CloseCode.PROTOCOL_ERROR, 'RSV1 set on a control or continuation frame')
      }
    }
    if ((b1 & MASK) !== 0) {
      // §5.1: "A client MUST close a connection if it detects a masked frame."
      this.#fail(CloseCode.PROTOCOL_ERROR, 'masked frame from the server')
    }
    if (control) {
      // §5.5: "All control frames MUST have a payload length of 125 bytes or less and MUST NOT be fragmented."
      if ((b0 & FIN) === 0) this.#fail(CloseCode.PROTOCOL_ERROR, 'fragmented control frame')
      if ((b1 & LENGTH_BITS) > MAX_CONTROL_PAYLOAD) this.#fail(CloseCode.PROTOCOL_ERROR, 'control frame payload over 125 bytes')
    } else if (opcode === Opcode.CONTINUATION) {
      // §5.4: a continuation frame only continues a message started by a non-FIN frame.
      if (this.#message === Message.NONE) this.#fail(CloseCode.PROTOCOL_ERROR, 'continuation frame without a message to continue')
    } else if (this.#message !== Message.NONE) {
      // §5.4: the fragments of one message are not interleaved with another message.
      this.#fail(CloseCode.PROTOCOL_ERROR, 'new data frame while a fragmented message is open')
    }
  }

  /** The header is complete in bytes[at..]; its first two bytes passed `#checkFirstBytes`. */
  #startFrame(bytes: Uint8Array, at: number): void {
    const b0 = bytes[at] as number
    const length = payloadLength(bytes, at)
    if (length < 0) this.#fail(CloseCode.PROTOCOL_ERROR, LENGTH_ERRORS[-length as 1 | 2 | 3])
    this.#fin = (b0 & FIN) !== 0
    this.#opcode = b0 & OPCODE_BITS
    this.#remaining = length

    if (this.#opcode >= Opcode.CLOSE) {
      this.#control = undefined
      this.#controlHave = 0
      if (length === 0) {
        this.#enter(DecoderState.HEADER)
        this.#endControl(new Uint8Array(0))
      } else {
        this.#enter(DecoderState.PAYLOAD)
      }
      return
    }

    // A length JavaScript cannot count exactly is too big for any maxPayload, Infinity included.
    if (length > Number.MAX_SAFE_INTEGER) this.#fail(CloseCode.MESSAGE_TOO_BIG, 'frame payload length over 2^53 - 1')
    // §10.4: the limit is per message, so fragments count together.
    if (length > this.#maxPayload - this.#messageLength) {
      this.#fail(CloseCode.MESSAGE_TOO_BIG, `message exceeds maxPayload (${this.#maxPayload} bytes)`)
    }
    this.#messageLength += length
    if (this.#opcode !== Opcode.CONTINUATION) {
      this.#message = this.#opcode === Opcode.TEXT ? Message.TEXT : Message.BINARY
      this.#compressed = (b0 & RSV1) !== 0
      this.#utf8.reset()
      this.#handler.onMessageStart(this.#opcode as DataOpcode, this.#compressed)
    }
    if (length === 0) {
      this.#enter(DecoderState.HEADER)
      this.#endDataFrame()
    } else {
      this.#enter(DecoderState.PAYLOAD)
    }
  }

  // ---- payload -----------------------------------------------------------------------

  #readPayload(chunk: Uint8Array, pos: number): number {
    const take = Math.min(this.#remaining, chunk.length - pos)
    const end = pos + take
    this.#remaining -= take
    const done = this.#remaining === 0
    if (this.#opcode >= Opcode.CLOSE) {
      if (done && this.#control === undefined) {
        this.#enter(DecoderState.HEADER)
        this.#endControl(chunk.subarray(pos, end))
        return end
      }
      // The payload straddles chunks: gather it (at most 125 bytes). On the first piece,
      // take + remaining is the frame's payload length.
      const control = (this.#control ??= new Uint8Array(take + this.#remaining))
      control.set(chunk.subarray(pos, end), this.#controlHave)
      this.#controlHave += take
      if (done) {
        this.#enter(DecoderState.HEADER)
        this.#endControl(control)
      }
      return end
    }

    const piece = chunk.subarray(pos, end)
    if (this.#message === Message.TEXT && !this.#compressed && !this.#utf8.push(piece)) {
      this.#invalidUtf8()
    }
    if (done) this.#enter(DecoderState.HEADER)
    this.#handler.onMessageData(piece)
    if (done) this.#endDataFrame()
    return end
  }

  #endDataFrame(): void {
    if (!this.#fin) return
    const text = this.#message === Message.TEXT && !this.#compressed
    this.#message = Message.NONE
    this.#messageLength = 0
    // §8.1: the whole message must be valid UTF-8, so a sequence cut off by FIN is invalid.
    if (text && !this.#utf8.end()) this.#invalidUtf8()
    this.#handler.onMessageEnd()
  }

  #invalidUtf8(): never {
    const offset = this.#utf8.errorOffset
    this.#fail(CloseCode.INVALID_PAYLOAD, `text message is not valid UTF-8 (byte ${offset} of the message)`)
  }

  #endControl(payload: Uint8Array): void {
    if (this.#opcode === Opcode.PING) {
      this.#handler.onPing(payload)
    } else if (this.#opcode === Opcode.PONG) {
      this.#handler.onPong(payload)
    } else {
      this.#endClose(payload)
    }
  }

  /** §5.5.1: an empty body, or a 2-byte status code followed by a UTF-8 reason. */
  #endClose(payload: Uint8Array): void {
    let code: number = CloseCode.NO_STATUS
    let reason = ''
    if (payload.length === 1) this.#fail(CloseCode.PROTOCOL_ERROR, 'close frame body of 1 byte')
    if (payload.length >= 2) {
      code = ((payload[0] as number) << 8) | (payload[1] as number)
      if (!isValidCloseCode(code)) this.#fail(CloseCode.PROTOCOL_ERROR, `invalid close code ${code}`)
      const reasonBytes = payload.subarray(2)
      // §5.5.1: the reason "is not guaranteed to be human readable" but MUST be UTF-8 (§8.1 → 1007).
      if (!isValidUtf8(reasonBytes)) this.#fail(CloseCode.INVALID_PAYLOAD, 'close reason is not valid UTF-8')
      reason = reasonDecoder.decode(reasonBytes)
    }
    this.#enter(DecoderState.CLOSED)
    this.#handler.onClose(code, reason)
  }
}

/** Header size in bytes from its second byte. */
function headerSize(b1: number): number {
  const len7 = b1 & LENGTH_BITS
  return len7 === LENGTH_64 ? 10 : len7 === LENGTH_16 ? 4 : 2
}

const LENGTH_ERRORS = {
  1: '16-bit payload length below 126 (not the minimal encoding)',
  2: '64-bit payload length below 65536 (not the minimal encoding)',
  3: '64-bit payload length with the most significant bit set',
} as const

/**
 * The payload length of the header at bytes[at..], or a negative LENGTH_ERRORS key.
 * RFC 6455 §5.2: "the minimal number of bytes MUST be used to encode the length" and the
 * 64-bit form's most significant bit MUST be 0. A receiver could tolerate a longer form
 * (ws and tungstenite do); we do not, like Chrome: a server whose framer gets this wrong
 * is broken, and failing early makes that visible instead of masking it.
 */
function payloadLength(bytes: Uint8Array, at: number): number {
  const len7 = (bytes[at + 1] as number) & LENGTH_BITS
  if (len7 < LENGTH_16) return len7
  if (len7 === LENGTH_16) {
    const length = ((bytes[at + 2] as number) << 8) | (bytes[at + 3] as number)
    return length < LENGTH_16 ? -1 : length
  }
  const high = readUint32(bytes, at + 2)
  if (high >= 0x8000_0000) return -3
  const length = high * 0x1_0000_0000 + readUint32(bytes, at + 6)
  return length < 0x1_0000 ? -2 : length
}

function readUint32(bytes: Uint8Array, at: number): number {
  return (
    (bytes[at] as number) * 0x100_0000 +
    (((bytes[at + 1] as number) << 16) | ((bytes[at + 2] as number) << 8) | (bytes[at + 3] as number))
  )
}

/**
 * Collects the pieces of one message and hands back one contiguous payload: the piece
 * itself when there was one (no copy), else a single copy into a buffer of the known total
 * size. It keeps the views `onMessageData` gave it, so the chunks must not be reused by
 * their owner until `take()`.
 */
export class PayloadCollector {
  /** The first piece: most messages are one piece, which is then handed back as is. */
  #first: Uint8Array | undefined
  /** Pieces after the first (allocated only for a message that arrives in several). */
  #rest: Uint8Array[] | undefined
  #length = 0

  get byteLength(): number {
    return this.#length
  }

  append(piece: Uint8Array): void {
    if (this.#first === undefined) this.#first = piece
    else (this.#rest ??= []).push(piece)
    this.#length += piece.length
  }

  /** The payload so far, as one Uint8Array; the collector is empty afterwards. */
  take(): Uint8Array {
    const first = this.#first
    const rest = this.#rest
    const length = this.#length
    this.#first = undefined
    this.#rest = undefined
    this.#length = 0
    if (first === undefined) return new Uint8Array(0)
    if (rest === undefined) return first
    const out = new Uint8Array(length)
    out.set(first, 0)
    let offset = first.length
    for (const piece of rest) {
      out.set(piece, offset)
      offset += piece.length
    }
    return out
  }
}
