/**
 * H2Connection's options: what each means, its default, and its check (option-checks.ts),
 * resolved once per connection.
 */
import { integerOption } from '../option-checks.js'
import { MAX_WINDOW_SIZE } from './frame.js'
import { DEFAULT_MAX_HEADER_COUNT, DEFAULT_MAX_HEADER_LIST_SIZE } from './hpack.js'

export interface H2ConnectionOptions {
  id: number
  /** `scheme://host:port`: gives :scheme and is stamped on every error. */
  origin: string
  /** Our cap on concurrent streams (default 1000); the peer's SETTINGS_MAX_CONCURRENT_STREAMS also applies. */
  maxConcurrentStreams?: number
  /** Our SETTINGS_MAX_HEADER_LIST_SIZE (default 64 KiB). */
  maxHeaderListSize?: number
  /** Most fields a response section may carry (default 128). */
  maxHeaderCount?: number
  /** How long the peer has to acknowledge our SETTINGS (RFC 9113 §6.5.3), default 10 s. */
  settingsTimeout?: number
  /** Send a liveness PING this often (ms); an unanswered one by the next interval kills the connection. Default off. */
  pingInterval?: number
  /**
   * Liveness (Go's ReadIdleTimeout): with streams open and nothing received for this many ms,
   * send a PING. Default 15000; 0 disables the idle probe.
   */
  readIdleTimeout?: number
  /**
   * Liveness (Go's PingTimeout): a liveness PING — after readIdleTimeout, or after a request on
   * this connection timed out — not acknowledged within this many ms closes the connection.
   * Default 10000; 0 disables liveness PINGs.
   */
  pingTimeout?: number
  tlsResumed: boolean | null
  /** Our SETTINGS_INITIAL_WINDOW_SIZE to start with (default 1 MiB); grows with the measured BDP. */
  initialStreamWindow?: number
  /** Connection receive window, opened with a WINDOW_UPDATE right after the preface (default 16 MiB). */
  connectionWindow?: number
  /** How long a request with `expectContinue` holds its body for 100 (Continue); default 1000 ms. */
  expectContinueTimeout?: number
}

export interface ResolvedH2Options {
  maxConcurrentStreams: number
  maxHeaderListSize: number
  maxHeaderCount: number
  settingsTimeout: number
  pingInterval: number
  readIdleTimeout: number
  pingTimeout: number
  initialStreamWindow: number
  connectionWindow: number
  expectContinueTimeout: number
}

const DEFAULT_MAX_CONCURRENT = 1000
const DEFAULT_STREAM_WINDOW = 1024 * 1024
const DEFAULT_CONNECTION_WINDOW = 16 * 1024 * 1024
const DEFAULT_SETTINGS_TIMEOUT = 10_000
/**
 * Go's http2 Transport has the same pair (ReadIdleTimeout, off unless set; PingTimeout, 15 s).
 * Ours is on by default: a response may stay silent for any time as long as the peer answers
 * a PING within 10 s, so only a connection whose peer is gone (or unreachable) is closed.
 */
const DEFAULT_READ_IDLE_TIMEOUT = 15_000
const DEFAULT_PING_TIMEOUT = 10_000
/** As H1Connection: how long to hold a body for 100 (Continue) before sending it anyway. */
const DEFAULT_EXPECT_CONTINUE_TIMEOUT = 1000

/** Every option with its default; the integer ones checked (InvalidArgumentError naming the option). */
export function resolveH2Options(options: H2ConnectionOptions): ResolvedH2Options {
  return {
    maxConcurrentStreams: integerOption('maxConcurrentStreams', options.maxConcurrentStreams, DEFAULT_MAX_CONCURRENT),
    // SETTINGS values are 32-bit (RFC 9113 §6.5.1).
    maxHeaderListSize: integerOption('maxHeaderListSize', options.maxHeaderListSize, DEFAULT_MAX_HEADER_LIST_SIZE, { max: 0xffffffff }),
    maxHeaderCount: integerOption('maxHeaderCount', options.maxHeaderCount, DEFAULT_MAX_HEADER_COUNT),
    settingsTimeout: options.settingsTimeout ?? DEFAULT_SETTINGS_TIMEOUT,
    pingInterval: options.pingInterval ?? 0,
    readIdleTimeout: options.readIdleTimeout ?? DEFAULT_READ_IDLE_TIMEOUT,
    pingTimeout: options.pingTimeout ?? DEFAULT_PING_TIMEOUT,
    // §6.9.1: a flow-control window never exceeds 2^31-1.
    initialStreamWindow: integerOption('initialStreamWindow', options.initialStreamWindow, DEFAULT_STREAM_WINDOW, { max: MAX_WINDOW_SIZE }),
    connectionWindow: integerOption('connectionWindow', options.connectionWindow, DEFAULT_CONNECTION_WINDOW, { max: MAX_WINDOW_SIZE }),
    expectContinueTimeout: options.expectContinueTimeout ?? DEFAULT_EXPECT_CONTINUE_TIMEOUT,
  }
}
