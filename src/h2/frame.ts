/**
 * Sans-I/O HTTP/2 framing (RFC 9113 §4, §6): the constants of the frame layer, a `FrameReader`
 * that turns byte chunks into calls on a `FrameHandler`, and writers that build frames.
 *
 * The reader checks every rule that can be decided from the frames alone — lengths, stream id 0
 * or not, padding, SETTINGS values, the HEADERS/CONTINUATION sequence — and leaves to the
 * session what needs stream state (idle or closed streams, our own SETTINGS_ENABLE_PUSH, …).
 * Payloads are handed out as `subarray` views: of the chunk given to `push()` when the frame
 * lies inside it, else of one buffer allocated for that frame once its length is known. Nothing
 * here touches a socket, a timer or a promise.
 */
import { H2ProtocolError, InvalidArgumentError } from '../errors.js'

/** Frame types (RFC 9113 §6, §11.2). */
export const FrameType = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
} as const
export type FrameType = (typeof FrameType)[keyof typeof FrameType]

/** Frame flags (RFC 9113 §6). Their meaning depends on the frame type; undefined ones are ignored (§4.1). */
export const Flag = {
  /** DATA, HEADERS */
  END_STREAM: 0x1,
  /** SETTINGS, PING */
  ACK: 0x1,
  /** HEADERS, PUSH_PROMISE, CONTINUATION */
  END_HEADERS: 0x4,
  /** DATA, HEADERS, PUSH_PROMISE */
  PADDED: 0x8,
  /** HEADERS */
  PRIORITY: 0x20,
} as const

/** Error codes (RFC 9113 §7). */
export const H2ErrorCode = {
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  FLOW_CONTROL_ERROR: 0x3,
  SETTINGS_TIMEOUT: 0x4,
  STREAM_CLOSED: 0x5,
  FRAME_SIZE_ERROR: 0x6,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  COMPRESSION_ERROR: 0x9,
  CONNECT_ERROR: 0xa,
  ENHANCE_YOUR_CALM: 0xb,
  INADEQUATE_SECURITY: 0xc,
  HTTP_1_1_REQUIRED: 0xd,
} as const
export type H2ErrorCode = (typeof H2ErrorCode)[keyof typeof H2ErrorCode]

/** SETTINGS parameters (RFC 9113 §6.5.2, RFC 8441 §3, RFC 9218 §2.1). */
export const SettingsId = {
  HEADER_TABLE_SIZE: 0x1,
  ENABLE_PUSH: 0x2,
  MAX_CONCURRENT_STREAMS: 0x3,
  INITIAL_WINDOW_SIZE: 0x4,
  MAX_FRAME_SIZE: 0x5,
  MAX_HEADER_LIST_SIZE: 0x6,
  ENABLE_CONNECT_PROTOCOL: 0x8,
  NO_RFC7540_PRIORITIES: 0x9,
} as const
export type SettingsId = (typeof SettingsId)[keyof typeof SettingsId]

/** One SETTINGS parameter as `[identifier, value]`, in the order it came on the wire. */
export type SettingsEntry = readonly [id: number, value: number]

/** RFC 9113 §4.1: every frame starts with a 9-octet header. */
export const FRAME_HEADER_LENGTH = 9
/** RFC 9113 §6.5.2: initial SETTINGS_MAX_FRAME_SIZE, and the smallest value allowed. */
export const DEFAULT_MAX_FRAME_SIZE = 16_384
/** RFC 9113 §6.5.2: the largest SETTINGS_MAX_FRAME_SIZE (2^24 − 1). */
export const MAX_ALLOWED_FRAME_SIZE = 16_777_215
/** RFC 9113 §6.9.1: a flow-control window never exceeds 2^31 − 1. */
export const MAX_WINDOW_SIZE = 2_147_483_647
/** RFC 9113 §6.5.2 / §6.9.2: initial window of the connection and of every stream. */
export const DEFAULT_INITIAL_WINDOW_SIZE = 65_535

/** RFC 9113 §3.4: the client connection preface, sent before the client's first SETTINGS frame. */
export const CLIENT_PREFACE: Buffer = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1')

const STREAM_ID_MASK = 0x7fffffff // the top bit of stream ids and increments is reserved (§4.1)

const ERROR_NAMES: readonly string[] = Object.keys(H2ErrorCode)
const KNOWN_SETTINGS: ReadonlySet<number> = new Set(Object.values(SettingsId))

/** The RFC 9113 §7 name of an error code; unknown codes (which §7 says to treat like any other) get a hex label. */
export function h2ErrorName(code: number): string {
  return ERROR_NAMES[code] ?? `UNKNOWN_ERROR_0x${code.toString(16)}`
}

/** Build the error for a protocol violation. `streamId` 0 makes it a connection error (§5.4.1). */
export function h2Error(code: number, streamId: number, message: string, cause?: unknown): H2ProtocolError {
  return new H2ProtocolError(code, h2ErrorName(code), streamId, message, cause === undefined ? {} : { cause })
}

/**
 * The rule RFC 9113 §6.5.2 (and RFC 8441 §3, RFC 9218 §2.1) sets on a SETTINGS value, as an
 * error code, or -1 when the value is acceptable. Shared by the reader and `encodeSettings`.
 */
function settingViolation(id: number, value: number): number {
  switch (id) {
    case SettingsId.ENABLE_PUSH:
    case SettingsId.ENABLE_CONNECT_PROTOCOL:
    case SettingsId.NO_RFC7540_PRIORITIES:
      return value > 1 ? H2ErrorCode.PROTOCOL_ERROR : -1
    case SettingsId.INITIAL_WINDOW_SIZE:
      // "Values above the maximum flow-control window size of 2^31-1 MUST be treated as a
      // connection error of type FLOW_CONTROL_ERROR."
      return value > MAX_WINDOW_SIZE ? H2ErrorCode.FLOW_CONTROL_ERROR : -1
    case SettingsId.MAX_FRAME_SIZE:
      return value < DEFAULT_MAX_FRAME_SIZE || value > MAX_ALLOWED_FRAME_SIZE ? H2ErrorCode.PROTOCOL_ERROR : -1
    default:
      return -1
  }
}

/** RFC 9113 §5.3.2 / §6.3: deprecated RFC 7540 priority information, parsed so it can be ignored or used. */
export interface Priority {
  /** Stream this one depends on (31 bits; the exclusive bit is split off). */
  streamDependency: number
  /** 1 to 256: the wire carries weight − 1. */
  weight: number
  exclusive: boolean
}

/**
 * What the reader calls, one method per frame type. Views (`data`, `fragment`, …) point into
 * the chunk given to `push()` or into a buffer made for that one frame; they stay valid as long
 * as the caller does not reuse the chunk's memory (copy them when reading with a reused buffer,
 * e.g. the `onread` socket option). Flags are passed as received: test the bits you need.
 */
export interface FrameHandler {
  /**
   * DATA (§6.1). `data` excludes the Pad Length octet and the padding; `flowControlledLength`
   * is the whole payload length, which is what counts against flow control (§6.9.1).
   */
  onData(streamId: number, flags: number, data: Uint8Array, flowControlledLength: number): void
  /** HEADERS (§6.2). `fragment` is the field block fragment, padding and priority removed. */
  onHeaders(streamId: number, flags: number, fragment: Uint8Array, priority: Priority | undefined): void
  /** PRIORITY (§6.3). */
  onPriority(streamId: number, priority: Priority): void
  /** RST_STREAM (§6.4). */
  onRstStream(streamId: number, errorCode: number): void
  /**
   * SETTINGS (§6.5). Known parameters only, in wire order (unknown ones are ignored, §6.5.2);
   * values already checked against §6.5.2. Empty for an ACK.
   */
  onSettings(ack: boolean, settings: readonly SettingsEntry[]): void
  /** PUSH_PROMISE (§6.6). `promisedStreamId` is even and non-zero (server-initiated, §5.1.1). */
  onPushPromise(streamId: number, flags: number, promisedStreamId: number, fragment: Uint8Array): void
  /** PING (§6.7). `opaque` is the 8-octet payload to echo back in the ACK. */
  onPing(ack: boolean, opaque: Uint8Array): void
  /** GOAWAY (§6.8). */
  onGoaway(lastStreamId: number, errorCode: number, debugData: Uint8Array): void
  /** WINDOW_UPDATE (§6.9). `increment` is 1 … 2^31−1 (0 is reported as an error instead). */
  onWindowUpdate(streamId: number, increment: number): void
  /** CONTINUATION (§6.10). Always on the stream of the HEADERS/PUSH_PROMISE it continues. */
  onContinuation(streamId: number, flags: number, fragment: Uint8Array): void
  /** A frame of a type this reader does not know: §4.1 says to ignore and discard it. */
  onUnknown(type: number, flags: number, streamId: number, payload: Uint8Array): void
  /**
   * A frame broke a rule whose penalty is a stream error (§5.4.2): the frame was dropped and
   * reading goes on. The session answers with RST_STREAM `error.h2Code` on `error.streamId`.
   */
  onStreamError(error: H2ProtocolError): void
}

export interface FrameReaderOptions {
  /** Our SETTINGS_MAX_FRAME_SIZE in force (default 16384, §6.5.2). */
  maxFrameSize?: number
}

/**
 * HEAD: between frames, possibly holding the first octets of a frame header that a chunk cut.
 * PAYLOAD: the header is read and part of the payload is held in a buffer of the frame's size.
 * FAILED: a connection error (or a throwing handler) stopped the reader; every push rethrows it.
 */
const ReaderState = { HEAD: 'head', PAYLOAD: 'payload', FAILED: 'failed' } as const
type ReaderState = (typeof ReaderState)[keyof typeof ReaderState]

const NO_SETTINGS: readonly SettingsEntry[] = Object.freeze([])

export class FrameReader {
  readonly #handler: FrameHandler
  #maxFrameSize: number
  #state: ReaderState = ReaderState.HEAD
  #failure: unknown = undefined

  /** Octets of a frame header cut by a chunk boundary (state HEAD). */
  readonly #head = new Uint8Array(FRAME_HEADER_LENGTH)
  #headLength = 0

  /** The header of the frame being read. */
  #length = 0
  #type = 0
  #flags = 0
  #streamId = 0

  /** The payload gathered so far when it spans chunks (state PAYLOAD); exactly `#length` long. */
  #payload: Uint8Array | null = null
  #payloadLength = 0

  /** Stream of a field block still waiting for its END_HEADERS (§6.2, §6.10), else 0. */
  #fieldBlockStream = 0

  constructor(handler: FrameHandler, options: FrameReaderOptions = {}) {
    this.#handler = handler
    this.#maxFrameSize = checkMaxFrameSize(options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE)
  }

  get state(): ReaderState {
    return this.#state
  }

  /** Octets held back because a frame spans chunks (at most max frame size + 9). */
  get bufferedBytes(): number {
    return this.#state === ReaderState.PAYLOAD ? FRAME_HEADER_LENGTH + this.#payloadLength : this.#headLength
  }

  get maxFrameSize(): number {
    return this.#maxFrameSize
  }

  /** Apply a new SETTINGS_MAX_FRAME_SIZE of ours, once the peer has acknowledged it (§6.5.3). */
  setMaxFrameSize(size: number): void {
    this.#maxFrameSize = checkMaxFrameSize(size)
  }

  /**
   * Feed bytes. Handler methods run synchronously, in frame order. A connection error is
   * thrown as an `H2ProtocolError` (streamId 0) and leaves the reader FAILED, as does an
   * exception thrown by the handler: the byte stream can no longer be trusted or resumed.
   */
  push(chunk: Uint8Array): void {
    if (this.#state === ReaderState.FAILED) throw this.#failure
    try {
      this.#consume(chunk)
    } catch (err) {
      this.#failure = err
      this.#transition(ReaderState.FAILED)
      throw err
    }
  }

  /** The one place `#state` changes; PAYLOAD comes with its buffer and the octets already in it. */
  #transition(next: ReaderState, payload: Uint8Array | null = null, gathered = 0): void {
    this.#state = next
    this.#payload = payload
    this.#payloadLength = gathered
  }

  #consume(chunk: Uint8Array): void {
    const end = chunk.length
    let offset = 0

    if (this.#state === ReaderState.PAYLOAD) {
      const payload = this.#payload as Uint8Array
      const take = Math.min(this.#length - this.#payloadLength, end)
      payload.set(chunk.subarray(0, take), this.#payloadLength)
      this.#payloadLength += take
      if (this.#payloadLength < this.#length) return
      offset = take
      this.#transition(ReaderState.HEAD)
      this.#dispatch(payload, 0)
    } else if (this.#headLength > 0) {
      const take = Math.min(FRAME_HEADER_LENGTH - this.#headLength, end)
      this.#head.set(chunk.subarray(0, take), this.#headLength)
      this.#headLength += take
      if (this.#headLength < FRAME_HEADER_LENGTH) return
      offset = take
      this.#headLength = 0
      this.#readHeader(this.#head, 0)
      if (!this.#takePayload(chunk, offset)) return
      offset += this.#length
    }

    while (end - offset >= FRAME_HEADER_LENGTH) {
      this.#readHeader(chunk, offset)
      offset += FRAME_HEADER_LENGTH
      if (!this.#takePayload(chunk, offset)) return
      offset += this.#length
    }

    if (offset < end) {
      this.#head.set(chunk.subarray(offset), 0)
      this.#headLength = end - offset
    }
  }

  /**
   * The header was just read and the payload starts at `offset`: dispatch it from the chunk when
   * it is all there (true), else start gathering it (false: the chunk is used up).
   */
  #takePayload(chunk: Uint8Array, offset: number): boolean {
    if (chunk.length - offset >= this.#length) {
      this.#dispatch(chunk, offset)
      return true
    }
    // Concatenate once, now that the length is known; bounded by #maxFrameSize (checked in #readHeader).
    const payload = new Uint8Array(this.#length)
    payload.set(chunk.subarray(offset), 0)
    this.#transition(ReaderState.PAYLOAD, payload, chunk.length - offset)
    return false
  }

  #readHeader(buf: Uint8Array, offset: number): void {
    this.#length = (buf[offset]! << 16) | (buf[offset + 1]! << 8) | buf[offset + 2]!
    this.#type = buf[offset + 3]!
    this.#flags = buf[offset + 4]!
    this.#streamId = u32(buf, offset + 5) & STREAM_ID_MASK
    // §4.2: a frame larger than our SETTINGS_MAX_FRAME_SIZE is a FRAME_SIZE_ERROR. It is a
    // connection error for any frame that can change connection state; we make it one for all
    // frames, which §4.2 allows, and so never buffer or skip an oversized payload.
    if (this.#length > this.#maxFrameSize) {
      throw h2Error(
        H2ErrorCode.FRAME_SIZE_ERROR,
        0,
        `frame of type ${this.#type} has length ${this.#length}, above SETTINGS_MAX_FRAME_SIZE ${this.#maxFrameSize} (RFC 9113 §4.2)`,
      )
    }
  }

  /** Validate and deliver the frame whose header is in the fields, payload at `buf[offset…]`. */
  #dispatch(buf: Uint8Array, offset: number): void {
    const type = this.#type
    const flags = this.#flags
    const streamId = this.#streamId
    const length = this.#length
    const handler = this.#handler

    // §6.2 / §6.10: a field block without END_HEADERS must be followed by CONTINUATION frames on
    // the same stream and nothing else; a CONTINUATION anywhere else is a connection error.
    if (this.#fieldBlockStream !== 0) {
      if (type !== FrameType.CONTINUATION || streamId !== this.#fieldBlockStream) {
        throw h2Error(
          H2ErrorCode.PROTOCOL_ERROR,
          0,
          `frame of type ${type} on stream ${streamId} inside the field block of stream ${this.#fieldBlockStream} (RFC 9113 §6.10)`,
        )
      }
    } else if (type === FrameType.CONTINUATION) {
      throw h2Error(H2ErrorCode.PROTOCOL_ERROR, 0, `CONTINUATION on stream ${streamId} without an open field block (RFC 9113 §6.10)`)
    }

    switch (type) {
      case FrameType.DATA: {
        requireStream(streamId, 'DATA', '6.1')
        let start = offset
        let dataLength = length
        if ((flags & Flag.PADDED) !== 0) {
          const padLength = padLengthOf(buf, offset, length, 0, 'DATA', '6.1')
          start += 1
          dataLength -= 1 + padLength
        }
        handler.onData(streamId, flags, buf.subarray(start, start + dataLength), length)
        return
      }

      case FrameType.HEADERS: {
        requireStream(streamId, 'HEADERS', '6.2')
        const padded = (flags & Flag.PADDED) !== 0
        const hasPriority = (flags & Flag.PRIORITY) !== 0
        let start = offset
        let fragmentLength = length
        if (padded) {
          const padLength = padLengthOf(buf, offset, length, hasPriority ? 5 : 0, 'HEADERS', '6.2')
          start += 1
          fragmentLength -= 1 + padLength
        }
        let priority: Priority | undefined
        if (hasPriority) {
          if (fragmentLength < 5) throw tooShort('HEADERS', length, '6.2')
          priority = readPriority(buf, start)
          start += 5
          fragmentLength -= 5
        }
        if ((flags & Flag.END_HEADERS) === 0) this.#fieldBlockStream = streamId
        handler.onHeaders(streamId, flags, buf.subarray(start, start + fragmentLength), priority)
        return
      }

      case FrameType.PRIORITY:
        requireStream(streamId, 'PRIORITY', '6.3')
        if (length !== 5) {
          // §6.3: the one length rule of §6 whose penalty is only a stream error.
          handler.onStreamError(
            h2Error(H2ErrorCode.FRAME_SIZE_ERROR, streamId, `PRIORITY frame has length ${length}, must be 5 (RFC 9113 §6.3)`),
          )
          return
        }
        handler.onPriority(streamId, readPriority(buf, offset))
        return

      case FrameType.RST_STREAM:
        requireStream(streamId, 'RST_STREAM', '6.4')
        requireLength(length, 4, 'RST_STREAM', '6.4')
        handler.onRstStream(streamId, u32(buf, offset))
        return

      case FrameType.SETTINGS:
        requireConnection(streamId, 'SETTINGS', '6.5')
        if ((flags & Flag.ACK) !== 0) {
          if (length !== 0) {
            throw h2Error(H2ErrorCode.FRAME_SIZE_ERROR, 0, `SETTINGS ACK carries a payload of ${length} octets (RFC 9113 §6.5)`)
          }
          handler.onSettings(true, NO_SETTINGS)
          return
        }
        if (length % 6 !== 0) {
          throw h2Error(H2ErrorCode.FRAME_SIZE_ERROR, 0, `SETTINGS length ${length} is not a multiple of 6 (RFC 9113 §6.5)`)
        }
        handler.onSettings(false, readSettings(buf, offset, length))
        return

      case FrameType.PUSH_PROMISE: {
        requireStream(streamId, 'PUSH_PROMISE', '6.6')
        let start = offset
        let fragmentLength = length
        if ((flags & Flag.PADDED) !== 0) {
          const padLength = padLengthOf(buf, offset, length, 4, 'PUSH_PROMISE', '6.6')
          start += 1
          fragmentLength -= 1 + padLength
        }
        if (fragmentLength < 4) throw tooShort('PUSH_PROMISE', length, '6.6')
        const promisedStreamId = u32(buf, start) & STREAM_ID_MASK
        // §5.1.1: streams a server initiates are even-numbered, and 0 is never a stream.
        if (promisedStreamId === 0 || promisedStreamId % 2 !== 0) {
          throw h2Error(
            H2ErrorCode.PROTOCOL_ERROR,
            0,
            `PUSH_PROMISE promises stream ${promisedStreamId}, not a server-initiated stream (RFC 9113 §5.1.1, §6.6)`,
          )
        }
        if ((flags & Flag.END_HEADERS) === 0) this.#fieldBlockStream = streamId
        handler.onPushPromise(streamId, flags, promisedStreamId, buf.subarray(start + 4, start + fragmentLength))
        return
      }

      case FrameType.PING:
        requireConnection(streamId, 'PING', '6.7')
        requireLength(length, 8, 'PING', '6.7')
        handler.onPing((flags & Flag.ACK) !== 0, buf.subarray(offset, offset + 8))
        return

      case FrameType.GOAWAY:
        requireConnection(streamId, 'GOAWAY', '6.8')
        if (length < 8) throw tooShort('GOAWAY', length, '6.8')
        handler.onGoaway(u32(buf, offset) & STREAM_ID_MASK, u32(buf, offset + 4), buf.subarray(offset + 8, offset + length))
        return

      case FrameType.WINDOW_UPDATE: {
        // §6.9: a wrong length is a connection error whatever the stream.
        requireLength(length, 4, 'WINDOW_UPDATE', '6.9')
        const increment = u32(buf, offset) & STREAM_ID_MASK
        if (increment === 0) {
          // §6.9: increment 0 is a stream error on a stream, a connection error on stream 0.
          const error = h2Error(H2ErrorCode.PROTOCOL_ERROR, streamId, `WINDOW_UPDATE with increment 0 on stream ${streamId} (RFC 9113 §6.9)`)
          if (streamId === 0) throw error
          handler.onStreamError(error)
          return
        }
        handler.onWindowUpdate(streamId, increment)
        return
      }

      case FrameType.CONTINUATION:
        // Stream id 0 cannot get here: the sequence check above only admits the stream of an
        // open field block, and HEADERS / PUSH_PROMISE on stream 0 were refused.
        if ((flags & Flag.END_HEADERS) !== 0) this.#fieldBlockStream = 0
        handler.onContinuation(streamId, flags, buf.subarray(offset, offset + length))
        return

      default:
        // §4.1 / §5.5: unknown frame types are ignored (outside a field block, checked above).
        handler.onUnknown(type, flags, streamId, buf.subarray(offset, offset + length))
    }
  }
}

function checkMaxFrameSize(size: number): number {
  if (!Number.isInteger(size) || size < DEFAULT_MAX_FRAME_SIZE || size > MAX_ALLOWED_FRAME_SIZE) {
    throw new InvalidArgumentError(`maxFrameSize must be an integer in [16384, 16777215], got ${size}`)
  }
  return size
}

function u32(buf: Uint8Array, offset: number): number {
  return ((buf[offset]! << 24) | (buf[offset + 1]! << 16) | (buf[offset + 2]! << 8) | buf[offset + 3]!) >>> 0
}

function requireStream(streamId: number, name: string, section: string): void {
  if (streamId === 0) {
    throw h2Error(H2ErrorCode.PROTOCOL_ERROR, 0, `${name} frame on stream 0 (RFC 9113 §${section})`)
  }
}

function requireConnection(streamId: number, name: string, section: string): void {
  if (streamId !== 0) {
    throw h2Error(H2ErrorCode.PROTOCOL_ERROR, 0, `${name} frame on stream ${streamId}, must be stream 0 (RFC 9113 §${section})`)
  }
}

function requireLength(length: number, expected: number, name: string, section: string): void {
  if (length !== expected) {
    throw h2Error(H2ErrorCode.FRAME_SIZE_ERROR, 0, `${name} frame has length ${length}, must be ${expected} (RFC 9113 §${section})`)
  }
}

/** §4.2: "a frame … too small to contain mandatory frame data" is a FRAME_SIZE_ERROR. */
function tooShort(name: string, length: number, section: string): H2ProtocolError {
  return h2Error(H2ErrorCode.FRAME_SIZE_ERROR, 0, `${name} frame of length ${length} is too short for its fields (RFC 9113 §4.2, §${section})`)
}

/**
 * The Pad Length octet of a PADDED frame whose payload is `length` octets, of which `fixed`
 * belong to other mandatory fields. Padding that leaves less than nothing for the content is a
 * connection PROTOCOL_ERROR (§6.1, §6.2, §6.6).
 */
function padLengthOf(buf: Uint8Array, offset: number, length: number, fixed: number, name: string, section: string): number {
  if (length < 1 + fixed) throw tooShort(name, length, section)
  const padLength = buf[offset]!
  if (padLength > length - 1 - fixed) {
    throw h2Error(
      H2ErrorCode.PROTOCOL_ERROR,
      0,
      `${name} frame pads ${padLength} octets but only ${length - 1 - fixed} remain (RFC 9113 §${section})`,
    )
  }
  return padLength
}

function readPriority(buf: Uint8Array, offset: number): Priority {
  const word = u32(buf, offset)
  return { streamDependency: word & STREAM_ID_MASK, weight: buf[offset + 4]! + 1, exclusive: word > STREAM_ID_MASK }
}

function readSettings(buf: Uint8Array, offset: number, length: number): SettingsEntry[] {
  const settings: SettingsEntry[] = []
  for (let at = offset; at < offset + length; at += 6) {
    const id = (buf[at]! << 8) | buf[at + 1]!
    const value = u32(buf, at + 2)
    // §6.5.2: "An endpoint that receives a SETTINGS frame with any unknown or unsupported
    // identifier MUST ignore that setting."
    if (!KNOWN_SETTINGS.has(id)) continue
    const violation = settingViolation(id, value)
    if (violation !== -1) {
      throw h2Error(violation, 0, `SETTINGS parameter 0x${id.toString(16)} has invalid value ${value} (RFC 9113 §6.5.2)`)
    }
    settings.push([id, value])
  }
  return settings
}

// ---------------------------------------------------------------------------------------------
// Writers. They check their arguments (a bad one is our bug, reported as WP_INVALID_ARG) and
// return one Buffer per frame, except for DATA, whose header is built alone so that the
// payload can be written after it without a copy.

/** Write a 9-octet frame header (§4.1) into `target` at `offset`. */
export function writeFrameHeader(target: Uint8Array, offset: number, length: number, type: number, flags: number, streamId: number): void {
  target[offset] = length >>> 16
  target[offset + 1] = (length >>> 8) & 0xff
  target[offset + 2] = length & 0xff
  target[offset + 3] = type
  target[offset + 4] = flags
  writeU32(target, offset + 5, streamId)
}

/** The 9-octet header of a DATA frame whose payload (`length` octets) the caller writes next. */
export function dataFrameHeader(length: number, flags: number, streamId: number): Buffer {
  checkPayloadLength(length)
  checkByte(flags, 'flags')
  checkStreamId(streamId)
  const header = Buffer.allocUnsafe(FRAME_HEADER_LENGTH)
  writeFrameHeader(header, 0, length, FrameType.DATA, flags, streamId)
  return header
}

export interface DataOptions {
  endStream?: boolean
  /** Octets of padding (0 … 255); sets PADDED. Padding is zeros, as §6.1 requires. */
  padLength?: number
}

/** A whole DATA frame (§6.1), payload copied in. Prefer `dataFrameHeader` for large bodies. */
export function encodeData(streamId: number, data: Uint8Array, options: DataOptions = {}): Buffer {
  checkStreamId(streamId)
  const flags = options.endStream === true ? Flag.END_STREAM : 0
  return padded(FrameType.DATA, flags, streamId, options.padLength, data, null)
}

export interface HeadersOptions {
  endStream?: boolean
  /** Default true: the whole field block fits in this frame. */
  endHeaders?: boolean
  /** Sets PRIORITY and adds the deprecated RFC 7540 priority fields (§6.2). */
  priority?: Priority
  /** Octets of padding (0 … 255); sets PADDED. */
  padLength?: number
}

/** A HEADERS frame (§6.2) carrying `fragment`, the (first part of the) encoded field block. */
export function encodeHeaders(streamId: number, fragment: Uint8Array, options: HeadersOptions = {}): Buffer {
  checkStreamId(streamId)
  let flags = options.endHeaders === false ? 0 : Flag.END_HEADERS
  if (options.endStream === true) flags |= Flag.END_STREAM
  let prefix: Uint8Array | null = null
  if (options.priority !== undefined) {
    flags |= Flag.PRIORITY
    prefix = priorityBytes(options.priority)
  }
  return padded(FrameType.HEADERS, flags, streamId, options.padLength, fragment, prefix)
}

/** A CONTINUATION frame (§6.10). */
export function encodeContinuation(streamId: number, fragment: Uint8Array, endHeaders = true): Buffer {
  checkStreamId(streamId)
  return simple(FrameType.CONTINUATION, endHeaders ? Flag.END_HEADERS : 0, streamId, fragment)
}

/** A SETTINGS frame (§6.5) with these parameters, each checked against §6.5.2. */
export function encodeSettings(settings: readonly SettingsEntry[]): Buffer {
  const frame = Buffer.allocUnsafe(FRAME_HEADER_LENGTH + 6 * settings.length)
  writeFrameHeader(frame, 0, 6 * settings.length, FrameType.SETTINGS, 0, 0)
  let at = FRAME_HEADER_LENGTH
  for (const [id, value] of settings) {
    if (!Number.isInteger(id) || id < 0 || id > 0xffff) throw new InvalidArgumentError(`SETTINGS identifier ${id} is not a 16-bit integer`)
    checkU32(value, 'SETTINGS value')
    if (settingViolation(id, value) !== -1) throw new InvalidArgumentError(`SETTINGS parameter 0x${id.toString(16)} cannot be ${value} (RFC 9113 §6.5.2)`)
    frame[at] = id >>> 8
    frame[at + 1] = id & 0xff
    writeU32(frame, at + 2, value)
    at += 6
  }
  return frame
}

const SETTINGS_ACK = Buffer.alloc(FRAME_HEADER_LENGTH)
writeFrameHeader(SETTINGS_ACK, 0, 0, FrameType.SETTINGS, Flag.ACK, 0)

/** The SETTINGS ACK frame (§6.5.3). One shared, preallocated Buffer: do not modify it. */
export function encodeSettingsAck(): Buffer {
  return SETTINGS_ACK
}

/** A PING frame (§6.7); `opaque` must be 8 octets (echo the peer's for an ACK). */
export function encodePing(opaque: Uint8Array, ack = false): Buffer {
  if (opaque.length !== 8) throw new InvalidArgumentError(`PING payload must be 8 octets, got ${opaque.length}`)
  return simple(FrameType.PING, ack ? Flag.ACK : 0, 0, opaque)
}

/** A GOAWAY frame (§6.8). */
export function encodeGoaway(lastStreamId: number, errorCode: number, debugData: Uint8Array = EMPTY): Buffer {
  checkStreamId(lastStreamId, true)
  checkU32(errorCode, 'error code')
  checkPayloadLength(8 + debugData.length)
  const frame = Buffer.allocUnsafe(FRAME_HEADER_LENGTH + 8 + debugData.length)
  writeFrameHeader(frame, 0, 8 + debugData.length, FrameType.GOAWAY, 0, 0)
  writeU32(frame, FRAME_HEADER_LENGTH, lastStreamId)
  writeU32(frame, FRAME_HEADER_LENGTH + 4, errorCode)
  frame.set(debugData, FRAME_HEADER_LENGTH + 8)
  return frame
}

/** A RST_STREAM frame (§6.4). */
export function encodeRstStream(streamId: number, errorCode: number): Buffer {
  checkStreamId(streamId)
  checkU32(errorCode, 'error code')
  const frame = Buffer.allocUnsafe(FRAME_HEADER_LENGTH + 4)
  writeFrameHeader(frame, 0, 4, FrameType.RST_STREAM, 0, streamId)
  writeU32(frame, FRAME_HEADER_LENGTH, errorCode)
  return frame
}

/** A WINDOW_UPDATE frame (§6.9); stream 0 for the connection window. */
export function encodeWindowUpdate(streamId: number, increment: number): Buffer {
  checkStreamId(streamId, true)
  if (!Number.isInteger(increment) || increment < 1 || increment > MAX_WINDOW_SIZE) {
    throw new InvalidArgumentError(`WINDOW_UPDATE increment must be in [1, 2^31-1], got ${increment} (RFC 9113 §6.9)`)
  }
  const frame = Buffer.allocUnsafe(FRAME_HEADER_LENGTH + 4)
  writeFrameHeader(frame, 0, 4, FrameType.WINDOW_UPDATE, 0, streamId)
  writeU32(frame, FRAME_HEADER_LENGTH, increment)
  return frame
}

/** A PRIORITY frame (§6.3). */
export function encodePriority(streamId: number, priority: Priority): Buffer {
  checkStreamId(streamId)
  return simple(FrameType.PRIORITY, 0, streamId, priorityBytes(priority))
}

export interface PushPromiseOptions {
  /** Default true. */
  endHeaders?: boolean
  /** Octets of padding (0 … 255); sets PADDED. */
  padLength?: number
}

/** A PUSH_PROMISE frame (§6.6). Servers send these; the writer exists for test peers. */
export function encodePushPromise(streamId: number, promisedStreamId: number, fragment: Uint8Array, options: PushPromiseOptions = {}): Buffer {
  checkStreamId(streamId)
  checkStreamId(promisedStreamId)
  const prefix = new Uint8Array(4)
  writeU32(prefix, 0, promisedStreamId)
  const flags = options.endHeaders === false ? 0 : Flag.END_HEADERS
  return padded(FrameType.PUSH_PROMISE, flags, streamId, options.padLength, fragment, prefix)
}

const EMPTY = new Uint8Array(0)

/** A frame whose payload is `payload` as is. */
function simple(type: number, flags: number, streamId: number, payload: Uint8Array): Buffer {
  checkPayloadLength(payload.length)
  const frame = Buffer.allocUnsafe(FRAME_HEADER_LENGTH + payload.length)
  writeFrameHeader(frame, 0, payload.length, type, flags, streamId)
  frame.set(payload, FRAME_HEADER_LENGTH)
  return frame
}

/** A frame of [Pad Length?] [prefix?] content [zero padding], PADDED set when `padLength` is given. */
function padded(
  type: number,
  flags: number,
  streamId: number,
  padLength: number | undefined,
  content: Uint8Array,
  prefix: Uint8Array | null,
): Buffer {
  const prefixLength = prefix === null ? 0 : prefix.length
  let padOverhead = 0
  if (padLength !== undefined) {
    checkByte(padLength, 'padLength')
    flags |= Flag.PADDED
    padOverhead = 1 + padLength
  }
  const length = padOverhead + prefixLength + content.length
  checkPayloadLength(length)
  const frame = Buffer.allocUnsafe(FRAME_HEADER_LENGTH + length)
  writeFrameHeader(frame, 0, length, type, flags, streamId)
  let at = FRAME_HEADER_LENGTH
  if (padLength !== undefined) frame[at++] = padLength
  if (prefix !== null) {
    frame.set(prefix, at)
    at += prefixLength
  }
  frame.set(content, at)
  at += content.length
  // §6.1: "Padding octets MUST be set to zero when sending."
  if (padLength !== undefined) frame.fill(0, at, at + padLength)
  return frame
}

function priorityBytes(priority: Priority): Uint8Array {
  checkStreamId(priority.streamDependency, true)
  if (!Number.isInteger(priority.weight) || priority.weight < 1 || priority.weight > 256) {
    throw new InvalidArgumentError(`priority weight must be in [1, 256], got ${priority.weight}`)
  }
  const bytes = new Uint8Array(5)
  writeU32(bytes, 0, priority.exclusive ? (priority.streamDependency | 0x80000000) >>> 0 : priority.streamDependency)
  bytes[4] = priority.weight - 1
  return bytes
}

function writeU32(target: Uint8Array, offset: number, value: number): void {
  target[offset] = value >>> 24
  target[offset + 1] = (value >>> 16) & 0xff
  target[offset + 2] = (value >>> 8) & 0xff
  target[offset + 3] = value & 0xff
}

function checkStreamId(streamId: number, allowZero = false): void {
  if (!Number.isInteger(streamId) || streamId < (allowZero ? 0 : 1) || streamId > STREAM_ID_MASK) {
    throw new InvalidArgumentError(`stream id must be an integer in [${allowZero ? 0 : 1}, 2^31-1], got ${streamId}`)
  }
}

function checkPayloadLength(length: number): void {
  if (!Number.isInteger(length) || length < 0 || length > MAX_ALLOWED_FRAME_SIZE) {
    throw new InvalidArgumentError(`frame payload length must be in [0, 2^24-1], got ${length} (RFC 9113 §4.1)`)
  }
}

function checkByte(value: number, name: string): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xff) throw new InvalidArgumentError(`${name} must be an integer in [0, 255], got ${value}`)
}

function checkU32(value: number, name: string): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new InvalidArgumentError(`${name} must be a 32-bit unsigned integer, got ${value}`)
}
