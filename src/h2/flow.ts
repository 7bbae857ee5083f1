/**
 * HTTP/2 flow control as plain values (RFC 9113 §5.2, §6.9). Each window is a number with the
 * rules that govern it; the session owns one pair per stream plus one pair for the connection
 * and asks both before it sends or after it receives DATA. No I/O, no timers: the session
 * writes the WINDOW_UPDATE frames these classes ask for and measures the RTTs it feeds them.
 *
 * Only DATA frames are flow controlled (§6.9), and the whole DATA payload counts, Pad Length
 * octet and padding included (§6.9.1): use `flowControlledLength` from the frame reader.
 */
import { InvalidArgumentError } from '../errors.js'
import { DEFAULT_INITIAL_WINDOW_SIZE, H2ErrorCode, MAX_WINDOW_SIZE, h2Error } from './frame.js'

/** hyper's BDP_LIMIT: above this the TCP window, not ours, is what limits a download. */
export const MAX_BDP_WINDOW = 16 * 1024 * 1024

/**
 * What the peer lets us send on one stream (or, with streamId 0, on the connection).
 *
 * The window starts at the peer's SETTINGS_INITIAL_WINDOW_SIZE (65,535 for the connection,
 * whatever SETTINGS say), shrinks as we send DATA and grows with each WINDOW_UPDATE. A later
 * SETTINGS_INITIAL_WINDOW_SIZE moves every stream window by the difference, which can leave it
 * negative: then nothing may be sent until WINDOW_UPDATEs bring it back above zero (§6.9.2).
 */
export class SendWindow {
  readonly streamId: number
  /** Octets we may still send; negative after the peer shrank INITIAL_WINDOW_SIZE (§6.9.2). */
  #window: number

  constructor(initialWindow: number = DEFAULT_INITIAL_WINDOW_SIZE, streamId = 0) {
    checkWindow(initialWindow, 'initialWindow')
    checkStreamId(streamId)
    this.#window = initialWindow
    this.streamId = streamId
  }

  /** The window as the peer sees it; may be negative. */
  get window(): number {
    return this.#window
  }

  /** Octets of DATA that may be sent now on this window alone (never negative). */
  get available(): number {
    return this.#window > 0 ? this.#window : 0
  }

  /**
   * We are sending `n` octets of DATA. The caller checks `available` on both this and the
   * connection window first (§6.9.1: a sender "MUST NOT send a flow-controlled frame with a
   * length that exceeds the space available in either"): more is our bug, not the peer's.
   */
  consume(n: number): void {
    if (!Number.isInteger(n) || n < 0 || n > this.available) {
      throw new InvalidArgumentError(`cannot send ${n} octets: ${this.available} available on window of stream ${this.streamId}`)
    }
    this.#window -= n
  }

  /**
   * A WINDOW_UPDATE arrived (the frame reader already refused an increment of 0). §6.9.1: "A
   * sender MUST NOT allow a flow-control window to exceed 2^31-1 octets. If a sender receives
   * a WINDOW_UPDATE that causes a flow-control window to exceed this maximum, it MUST
   * terminate either the stream or the connection, as appropriate": a stream error on a
   * stream, a connection error on the connection, both FLOW_CONTROL_ERROR.
   */
  increase(increment: number): void {
    if (!Number.isInteger(increment) || increment < 1 || increment > MAX_WINDOW_SIZE) {
      throw new InvalidArgumentError(`window increment must be in [1, 2^31-1], got ${increment}`)
    }
    if (this.#window + increment > MAX_WINDOW_SIZE) {
      throw h2Error(
        H2ErrorCode.FLOW_CONTROL_ERROR,
        this.streamId,
        `WINDOW_UPDATE of ${increment} takes the window of stream ${this.streamId} from ${this.#window} past 2^31-1 (RFC 9113 §6.9.1)`,
      )
    }
    this.#window += increment
  }

  /**
   * The peer's SETTINGS_INITIAL_WINDOW_SIZE changed by `delta` (new − old): §6.9.2 says to
   * adjust every stream window by the difference, possibly below zero, and that "a change to
   * SETTINGS_INITIAL_WINDOW_SIZE that causes any flow-control window to exceed the maximum size
   * [is] a connection error of type FLOW_CONTROL_ERROR". The connection window is not affected.
   */
  applyInitialWindowDelta(delta: number): void {
    if (this.streamId === 0) throw new InvalidArgumentError('SETTINGS_INITIAL_WINDOW_SIZE does not apply to the connection window (RFC 9113 §6.9.2)')
    if (!Number.isInteger(delta)) throw new InvalidArgumentError(`window delta must be an integer, got ${delta}`)
    if (this.#window + delta > MAX_WINDOW_SIZE) {
      throw h2Error(
        H2ErrorCode.FLOW_CONTROL_ERROR,
        0,
        `SETTINGS_INITIAL_WINDOW_SIZE change of ${delta} takes the window of stream ${this.streamId} past 2^31-1 (RFC 9113 §6.9.2)`,
      )
    }
    this.#window += delta
  }
}

/**
 * What we let the peer send on one stream (or on the connection), and when to tell it it may
 * send more.
 *
 * Four numbers, always related by  window + buffered + pending = target:
 * - target:   the window we mean to keep open (our INITIAL_WINDOW_SIZE, grown by `setTarget`);
 * - window:   what the peer may still send before it must wait for a WINDOW_UPDATE;
 * - buffered: received, not yet consumed by the application;
 * - pending:  consumed, not yet handed back with a WINDOW_UPDATE.
 *
 * Updates are batched, as in hyperium/h2 and golang.org/x/net/http2: one WINDOW_UPDATE once at
 * least half the target waits to be handed back, rather than one per DATA frame.
 */
export class ReceiveWindow {
  readonly streamId: number
  #target: number
  #window: number
  /** Negative after `setTarget` shrank the target: consumption first repays the difference. */
  #pending = 0

  constructor(initialWindow: number = DEFAULT_INITIAL_WINDOW_SIZE, streamId = 0) {
    checkWindow(initialWindow, 'initialWindow')
    checkStreamId(streamId)
    this.#target = initialWindow
    this.#window = initialWindow
    this.streamId = streamId
  }

  get target(): number {
    return this.#target
  }

  /** Octets the peer may still send. */
  get window(): number {
    return this.#window
  }

  /** Octets received and not yet consumed. */
  get buffered(): number {
    return this.#target - this.#window - this.#pending
  }

  /** Octets consumed and not yet returned to the peer (negative while a shrink is repaid). */
  get pending(): number {
    return this.#pending
  }

  /**
   * A DATA frame of `n` flow-controlled octets arrived. §6.9.1: the sender "MUST NOT send a
   * flow-controlled frame with a length that exceeds the space available"; when it does, we
   * answer FLOW_CONTROL_ERROR — on the stream for a stream window (§5.4.2), on the connection
   * for the connection window (§5.4.1).
   */
  onDataReceived(n: number): void {
    if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`received length must be a non-negative integer, got ${n}`)
    if (n > this.#window) {
      throw h2Error(
        H2ErrorCode.FLOW_CONTROL_ERROR,
        this.streamId,
        `peer sent ${n} octets on stream ${this.streamId} with only ${this.#window} of window left (RFC 9113 §6.9.1)`,
      )
    }
    this.#window -= n
  }

  /**
   * The application consumed `n` received octets (padding counts as consumed on arrival).
   * Returns the WINDOW_UPDATE increment to send now, or 0 to keep batching.
   */
  onConsumed(n: number): number {
    if (!Number.isInteger(n) || n < 0 || n > this.buffered) {
      throw new InvalidArgumentError(`cannot consume ${n} octets: ${this.buffered} buffered on stream ${this.streamId}`)
    }
    this.#pending += n
    return this.#flush()
  }

  /**
   * Aim for a window of `size` (from `BdpEstimator`, or the application's wish). Growing hands
   * the difference to the peer — returned as an increment when it reaches the batching
   * threshold, which a growth of half the new target does at once. Shrinking cannot take credit
   * back: the peer's window drains, and updates wait until consumption has covered the cut.
   */
  setTarget(size: number): number {
    checkWindow(size, 'target window')
    this.#pending += size - this.#target
    this.#target = size
    return this.#flush()
  }

  /**
   * Our SETTINGS_INITIAL_WINDOW_SIZE changed by `delta` and the peer acknowledged it: the peer
   * moved this stream's window by the difference (§6.9.2), and so do we, target included.
   */
  applyInitialWindowDelta(delta: number): void {
    if (this.streamId === 0) throw new InvalidArgumentError('SETTINGS_INITIAL_WINDOW_SIZE does not apply to the connection window (RFC 9113 §6.9.2)')
    if (!Number.isInteger(delta) || this.#target + delta > MAX_WINDOW_SIZE || this.#target + delta < 0) {
      throw new InvalidArgumentError(`window delta ${delta} takes target ${this.#target} out of [0, 2^31-1]`)
    }
    this.#window += delta
    this.#target += delta
  }

  /** Hand back what is pending once it is at least half the target. */
  #flush(): number {
    if (this.#pending <= 0 || this.#pending * 2 < this.#target) return 0
    const increment = this.#pending
    // window + pending <= target <= 2^31-1, so the peer's window stays within §6.9.1's bound.
    this.#window += increment
    this.#pending = 0
    return increment
  }
}

export interface BdpEstimatorOptions {
  /** The receive window in use when sampling starts (default 65,535). */
  initialWindow?: number
  /** Never propose more than this (default 16 MiB). */
  maxWindow?: number
}

/**
 * Adaptive receive window from the bandwidth-delay product, as hyper does (src/proto/h2/ping.rs):
 * the session sends a PING when DATA starts arriving, counts the DATA octets received until its
 * ACK, and gives this estimator the count and the round trip. When one RTT brought at least 2/3
 * of the current window, the window was the bottleneck: propose twice the sample (capped at
 * `maxWindow`) for the connection window and the stream windows.
 *
 * Only growth is proposed, and only while the measured bandwidth (octets per smoothed RTT) keeps
 * rising: a sample slower than the best one means the path, not the window, limits us.
 * `pingDelayMs` paces the pings: halved after a growth, ×4 after two samples without one, up
 * to about 10 s once the window stops growing.
 */
export class BdpEstimator {
  readonly #maxWindow: number
  #window: number
  /** Best bandwidth seen, octets per ms. */
  #maxBandwidth = 0
  /** Smoothed round trip, ms (0 until the first sample). */
  #rtt = 0
  #pingDelayMs = 100
  #stableCount = 0

  constructor(options: BdpEstimatorOptions = {}) {
    this.#window = checkWindow(options.initialWindow ?? DEFAULT_INITIAL_WINDOW_SIZE, 'initialWindow')
    this.#maxWindow = checkWindow(options.maxWindow ?? MAX_BDP_WINDOW, 'maxWindow')
  }

  /** The current estimate: the receive window to use. */
  get window(): number {
    return this.#window
  }

  /** Smoothed RTT in ms. */
  get rttMs(): number {
    return this.#rtt
  }

  /** How long to wait after an ACK before sending the next BDP ping. */
  get pingDelayMs(): number {
    return this.#pingDelayMs
  }

  /**
   * A BDP ping was acknowledged after `rttMs`, and `bytes` DATA octets arrived while it was
   * out. Returns the new, larger window to apply, or 0 when the window stays as it is.
   */
  sample(bytes: number, rttMs: number): number {
    if (!Number.isFinite(bytes) || bytes < 0) throw new InvalidArgumentError(`bytes must be a non-negative number, got ${bytes}`)
    if (!Number.isFinite(rttMs) || rttMs < 0) throw new InvalidArgumentError(`rttMs must be a non-negative number, got ${rttMs}`)
    if (this.#window >= this.#maxWindow) return this.#stable()

    // One eighth weight for each new RTT, as TCP's SRTT (RFC 6298 §2).
    this.#rtt = this.#rtt === 0 ? rttMs : this.#rtt + (rttMs - this.#rtt) / 8
    // hyper divides by 1.5 RTT: the octets counted arrived over a little more than one RTT.
    // A zero RTT (a clock too coarse for loopback) says nothing about bandwidth: skip the test.
    if (this.#rtt > 0) {
      const bandwidth = bytes / (this.#rtt * 1.5)
      if (bandwidth < this.#maxBandwidth) return this.#stable()
      this.#maxBandwidth = bandwidth
    }

    if (bytes * 3 < this.#window * 2) return this.#stable()
    this.#window = Math.min(bytes * 2, this.#maxWindow)
    this.#stableCount = 0
    this.#pingDelayMs /= 2
    return this.#window
  }

  /** No growth this time: after two such samples in a row, ping four times less often. */
  #stable(): 0 {
    if (this.#pingDelayMs < 10_000 && ++this.#stableCount >= 2) {
      this.#pingDelayMs *= 4
      this.#stableCount = 0
    }
    return 0
  }
}

function checkWindow(size: number, name: string): number {
  if (!Number.isInteger(size) || size < 0 || size > MAX_WINDOW_SIZE) throw new InvalidArgumentError(`${name} must be an integer in [0, 2^31-1], got ${size}`)
  return size
}

function checkStreamId(streamId: number): void {
  if (!Number.isInteger(streamId) || streamId < 0 || streamId > MAX_WINDOW_SIZE) {
    throw new InvalidArgumentError(`stream id must be an integer in [0, 2^31-1], got ${streamId}`)
  }
}
