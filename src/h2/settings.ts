/**
 * SETTINGS bookkeeping for the client side of a connection (RFC 9113 §6.5): the parameters we
 * announce, and the parameters the peer announced, with the consequences of each change
 * spelled out as values the session applies (window delta, new frame size, table size).
 */
import { DEFAULT_INITIAL_WINDOW_SIZE, DEFAULT_MAX_FRAME_SIZE, SettingsId, type SettingsEntry } from './frame.js'
import { DEFAULT_HEADER_TABLE_SIZE } from './hpack.js'

export interface LocalSettingsOptions {
  initialWindowSize: number
  maxHeaderListSize: number
}

/**
 * Our first SETTINGS frame. RFC 9113 §6.5.2: ENABLE_PUSH=0 — we never accept pushes, so a
 * PUSH_PROMISE is a connection error (§6.6, §8.4). MAX_CONCURRENT_STREAMS is left at its
 * default: as a client we do not accept streams at all, and ENABLE_PUSH=0 already says so.
 * HEADER_TABLE_SIZE stays at its 4096 default (what our decoder uses), so it is not sent.
 */
export function localSettings(options: LocalSettingsOptions): SettingsEntry[] {
  const entries: SettingsEntry[] = [[SettingsId.ENABLE_PUSH, 0]]
  if (options.initialWindowSize !== DEFAULT_INITIAL_WINDOW_SIZE) entries.push([SettingsId.INITIAL_WINDOW_SIZE, options.initialWindowSize])
  entries.push([SettingsId.MAX_HEADER_LIST_SIZE, options.maxHeaderListSize])
  return entries
}

/** What applying one SETTINGS frame from the peer changed; -1 / 0 where nothing did. */
export interface SettingsChange {
  /** New INITIAL_WINDOW_SIZE minus the old one: applied to every stream send window (§6.9.2). */
  windowDelta: number
  /** New HEADER_TABLE_SIZE for our encoder, or -1. */
  headerTableSize: number
  /** New MAX_FRAME_SIZE for our writer, or -1. */
  maxFrameSize: number
  /** MAX_CONCURRENT_STREAMS changed. */
  concurrencyChanged: boolean
}

/**
 * The peer's settings in force. Values start at the RFC 9113 §6.5.2 initial values and change
 * only through `apply`, in wire order — §6.5.3: "The values in the SETTINGS frame MUST be
 * processed in the order they appear".
 */
export class PeerSettings {
  headerTableSize = DEFAULT_HEADER_TABLE_SIZE
  enablePush = 1
  /** §6.5.2: "Initially, there is no limit to this value." */
  maxConcurrentStreams = Infinity
  initialWindowSize = DEFAULT_INITIAL_WINDOW_SIZE
  maxFrameSize = DEFAULT_MAX_FRAME_SIZE
  maxHeaderListSize = Infinity
  enableConnectProtocol = 0
  /** SETTINGS frames received (the first one is the server's connection preface, §3.4). */
  received = 0

  /** Apply one SETTINGS frame (values were range-checked by the frame reader). */
  apply(entries: readonly SettingsEntry[]): SettingsChange {
    const change: SettingsChange = { windowDelta: 0, headerTableSize: -1, maxFrameSize: -1, concurrencyChanged: false }
    const windowBefore = this.initialWindowSize
    for (const [id, value] of entries) {
      switch (id) {
        case SettingsId.HEADER_TABLE_SIZE:
          this.headerTableSize = value
          change.headerTableSize = value
          break
        case SettingsId.ENABLE_PUSH:
          // §6.5.2: a server MUST NOT send 1; the reader already refused values above 1.
          this.enablePush = value
          break
        case SettingsId.MAX_CONCURRENT_STREAMS:
          this.maxConcurrentStreams = value
          change.concurrencyChanged = true
          break
        case SettingsId.INITIAL_WINDOW_SIZE:
          this.initialWindowSize = value
          break
        case SettingsId.MAX_FRAME_SIZE:
          this.maxFrameSize = value
          change.maxFrameSize = value
          break
        case SettingsId.MAX_HEADER_LIST_SIZE:
          this.maxHeaderListSize = value
          break
        case SettingsId.ENABLE_CONNECT_PROTOCOL:
          this.enableConnectProtocol = value
          break
        default:
          // NO_RFC7540_PRIORITIES and any other known id: nothing for us to do (§6.5.2 ignore).
          break
      }
    }
    // §6.9.2: only the net change of the frame matters, however many times it was repeated.
    change.windowDelta = this.initialWindowSize - windowBefore
    this.received++
    return change
  }
}
