/**
 * The HTTP/2 frame reader (RFC 9113 §4, §6): byte chunks in, calls on a `FrameHandler` out.
 *
 * It checks every rule that can be decided from the frames alone — lengths, stream id 0 or
 * not, padding, SETTINGS values, the HEADERS/CONTINUATION sequence — and leaves to the
 * session what needs stream state (idle or closed streams, our own SETTINGS_ENABLE_PUSH, …).
 * Payloads are handed out as `subarray` views: of the chunk given to `push()` when the frame
 * lies inside it, else of one buffer allocated for that frame once its length is known.
 */
import { H2ProtocolError, InvalidArgumentError } from '../errors.js'
import {
  DEFAULT_MAX_FRAME_SIZE,
  FRAME_HEADER_LENGTH,
  Flag,
  FrameType,
  H2ErrorCode,
  MAX_ALLOWED_FRAME_SIZE,
  h2Error,
  settingViolation,
  STREAM_ID_MASK,
  KNOWN_SETTINGS,
  type SettingsEntry,
} from './frame.js'

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
