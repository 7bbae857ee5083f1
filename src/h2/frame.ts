/**
 * Sans-I/O HTTP/2 framing (RFC 9113 §4, §6): the constants of the frame layer and the rules
 * both directions share. The reader is `frame-reader.ts` (byte chunks in, calls on a
 * `FrameHandler` out); the writers are `frame-writer.ts`. Nothing here touches a socket, a
 * timer or a promise.
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

export const STREAM_ID_MASK = 0x7fffffff // the top bit of stream ids and increments is reserved (§4.1)

const ERROR_NAMES: readonly string[] = Object.keys(H2ErrorCode)
export const KNOWN_SETTINGS: ReadonlySet<number> = new Set(Object.values(SettingsId))

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
export function settingViolation(id: number, value: number): number {
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
