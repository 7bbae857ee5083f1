/**
 * HTTP/2 frame writers (RFC 9113 §4.1, §6). They check their arguments (a bad one is our bug,
 * reported as WP_INVALID_ARG) and return one Buffer per frame, except for DATA, whose header
 * is built alone so that the payload can be written after it without a copy.
 */
import { InvalidArgumentError } from '../errors.js'
import {
  FRAME_HEADER_LENGTH,
  Flag,
  FrameType,
  H2ErrorCode,
  MAX_ALLOWED_FRAME_SIZE,
  MAX_WINDOW_SIZE,
  settingViolation,
  STREAM_ID_MASK,
  type SettingsEntry,
} from './frame.js'
import type { Priority } from './frame-reader.js'


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
