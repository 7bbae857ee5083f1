/**
 * Receive-side flow control of a connection (RFC 9113 §6.9): what the peer may still send us,
 * when the octets a handler took are credited back (WINDOW_UPDATE), holding credit back from
 * a paused handler (per-stream backpressure), and growing our stream windows with the
 * measured bandwidth-delay product (a PING times a window of DATA; flow.ts's BdpEstimator).
 */
import { performance } from 'node:perf_hooks'
import type { BatchWriter } from '../batch-writer.js'
import type { SessionContext } from './context.js'
import { BdpEstimator, ReceiveWindow } from './flow.js'
import { DEFAULT_INITIAL_WINDOW_SIZE, SettingsId } from './frame.js'
import { encodePing, encodeWindowUpdate } from './frame-writer.js'
import type { PingTracker } from './pings.js'
import { canReceive, type H2Stream } from './stream.js'

export class ReceiveFlow {
  readonly #ctx: SessionContext
  readonly #writer: BatchWriter
  readonly #pings: PingTracker
  /** The connection receive window (§6.9.1): what the peer may send on all streams together. */
  readonly #connRecv = new ReceiveWindow(DEFAULT_INITIAL_WINDOW_SIZE, 0)
  readonly #bdp: BdpEstimator
  /** Our SETTINGS_INITIAL_WINDOW_SIZE as the peer will apply it to new streams. */
  #localWindow: number
  /** DATA octets received since the BDP probe went out. */
  #bdpBytes = 0
  /** No BDP probe before this time (performance.now ms). */
  #bdpNext = 0

  constructor(ctx: SessionContext, pings: PingTracker, initialStreamWindow: number, connectionWindow: number) {
    this.#ctx = ctx
    this.#writer = ctx.writer
    this.#pings = pings
    this.#localWindow = initialStreamWindow
    // A stream window never grows past half the connection window, so that one paused
    // consumer can never hold all of the connection's credit.
    this.#bdp = new BdpEstimator({ initialWindow: initialStreamWindow, maxWindow: Math.max(initialStreamWindow, Math.floor(connectionWindow / 2)) })
  }

  /** Our SETTINGS_INITIAL_WINDOW_SIZE now (grows with the BDP estimate). */
  get localWindow(): number {
    return this.#localWindow
  }

  /** §6.9.2: the connection window only grows by WINDOW_UPDATE; open it to `window` right after the preface. */
  openConnectionWindow(window: number): void {
    const increment = this.#connRecv.setTarget(window)
    if (increment > 0) this.#writer.push(encodeWindowUpdate(0, increment))
  }

  /** §6.9.1: DATA counts against the connection window whatever becomes of its stream. */
  onDataReceived(flowLength: number): void {
    this.#connRecv.onDataReceived(flowLength)
  }

  /**
   * The application took `n` flow-controlled octets of the stream. While it is paused the
   * credit is held back (per-stream backpressure: the peer can send at most one window more,
   * which is what bounds the memory a slow consumer costs); otherwise both windows get it.
   */
  consumed(stream: H2Stream, n: number): void {
    if (stream.paused) {
      stream.unacked += n
      return
    }
    const increment = stream.recvWindow.onConsumed(n)
    if (increment > 0 && !stream.endPending && canReceive(stream.state)) this.#writer.push(encodeWindowUpdate(stream.id, increment))
    this.creditConnection(n)
  }

  /**
   * The stream is finished with while it still holds connection credit: octets a paused
   * handler took (`unacked`) or never got (`recvBuffer`, dropped on an error). They count
   * against the connection window until credited (RFC 9113 §6.9.1), and no later resume will
   * do it, so it is done here. Left out, every response that ends while its reader is paused
   * (undici's fetch pauses on each chunk) leaks its share, until the connection window is
   * gone and every stream on it stalls.
   */
  releaseHeld(stream: H2Stream): void {
    let n = stream.unacked
    stream.unacked = 0
    for (const chunk of stream.recvBuffer) n += chunk.byteLength
    stream.recvBuffer.length = 0
    if (n > 0 && !this.#ctx.closed()) this.creditConnection(n)
  }

  /** Octets that will never reach a handler (a dead stream's DATA, padding) go back to the connection window at once. */
  creditConnection(n: number): void {
    if (n === 0) return
    const increment = this.#connRecv.onConsumed(n)
    if (increment > 0) this.#writer.push(encodeWindowUpdate(0, increment))
  }

  /** onData / onHeaders returned false: hold the stream's credit until resume(). */
  pause(stream: H2Stream): void {
    if (stream.resumeEarly) {
      stream.resumeEarly = false
      return
    }
    stream.paused = true
    // A slow consumer is not a silent server: no body timeout while paused.
    stream.deadline = Infinity
  }

  // ── window growth (BDP) ─────────────────────────────────────────────────────────────

  /** `flowLength` octets of DATA arrived: count them for the probe in flight, or start one. */
  countBody(flowLength: number): void {
    if (this.#pings.bdpInFlight) {
      this.#bdpBytes += flowLength
      return
    }
    const now = performance.now()
    if (now < this.#bdpNext || this.#ctx.closed()) return
    this.#bdpBytes = flowLength
    this.#writer.push(encodePing(this.#pings.bdp(now)))
  }

  /** The BDP probe was answered at `now`: sample, and grow the stream windows if the estimate says so. */
  onBdpAck(now: number): void {
    const window = this.#bdp.sample(this.#bdpBytes, this.#pings.bdpRtt)
    this.#bdpNext = now + this.#bdp.pingDelayMs
    if (window > this.#localWindow) this.#growStreamWindows(window)
  }

  /**
   * The estimator wants larger stream windows: announce the new INITIAL_WINDOW_SIZE (it
   * applies to open streams too, §6.9.2) and move our receive windows by the same delta. Doing
   * it before the peer's ACK is safe because it only grows: until the peer applies it, it is
   * bound by the smaller window it already had.
   */
  #growStreamWindows(window: number): void {
    const delta = window - this.#localWindow
    this.#localWindow = window
    this.#ctx.sendSettings([[SettingsId.INITIAL_WINDOW_SIZE, window]])
    for (const stream of this.#ctx.streams.values()) stream.recvWindow.applyInitialWindowDelta(delta)
  }
}
