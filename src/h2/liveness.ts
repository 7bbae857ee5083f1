/**
 * Finding dead HTTP/2 connections (issue #18), as Go's http2 Transport does with
 * ReadIdleTimeout + PingTimeout: a connection with open streams that has received nothing for
 * `readIdleMs` sends a PING (RFC 9113 §6.7: "a mechanism for … determining whether an idle
 * connection is still functional"); a PING not acknowledged within `pingTimeoutMs` means the
 * peer is gone (or its bytes no longer arrive) and the connection is closed.
 *
 * A request that timed out on the connection makes it *suspect* at once: a PING goes out
 * straight away and, until its ACK, the connection shows no capacity, so the pool opens or
 * picks another one instead of sending more requests into the same hole. An ACK proves
 * liveness: the suspicion is lifted and a slow but healthy response is never killed.
 *
 * One Timeout per connection, armed only while streams are open or a probe is out (an idle
 * connection keeps none); the hot path only stores the time of each socket read.
 */
import { performance } from 'node:perf_hooks'

export interface LivenessHooks {
  /** Streams are open on the connection (the idle probe only matters then). */
  hasStreams(): boolean
  /** Write a PING whose ACK calls `onAck`. */
  sendProbe(onAck: () => void): void
  /** The probe was not acknowledged within the PING timeout. */
  dead(pingTimeoutMs: number): void
  /** A probe was answered after the connection was suspect: it takes requests again. */
  cleared(): void
}

export class LivenessWatch {
  readonly #readIdleMs: number
  readonly #pingTimeoutMs: number
  readonly #hooks: LivenessHooks
  #timer: NodeJS.Timeout | undefined = undefined
  /** performance.now() of the last socket read. */
  lastRead = performance.now()
  /** When the outstanding probe was sent, or -1. */
  #probeAt = -1
  #suspect = false
  #stopped = false

  constructor(readIdleMs: number, pingTimeoutMs: number, hooks: LivenessHooks) {
    this.#readIdleMs = readIdleMs
    this.#pingTimeoutMs = pingTimeoutMs
    this.#hooks = hooks
  }

  /** A request timed out here and no PING has proved the peer alive since. */
  get suspect(): boolean {
    return this.#suspect
  }

  /** A stream was opened: make sure the idle probe is watching. */
  streamOpened(): void {
    if (this.#timer !== undefined || this.#stopped || !(this.#readIdleMs > 0) || !(this.#pingTimeoutMs > 0)) return
    this.#arm(this.#readIdleMs)
  }

  /** A request on this connection timed out: suspect the connection and probe it now. */
  requestTimedOut(): void {
    if (this.#stopped || !(this.#pingTimeoutMs > 0)) return
    this.#suspect = true
    this.#probe(performance.now())
  }

  /** The connection closed. */
  stop(): void {
    this.#stopped = true
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
  }

  #probe(now: number): void {
    if (this.#probeAt >= 0) return
    this.#probeAt = now
    this.#hooks.sendProbe(this.#onAck)
    this.#arm(this.#pingTimeoutMs)
  }

  readonly #onAck = (): void => {
    this.#probeAt = -1
    if (this.#stopped || !this.#suspect) return
    this.#suspect = false
    this.#hooks.cleared()
  }

  #arm(ms: number): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = setTimeout(this.#fire, Math.max(1, Math.ceil(ms)))
    this.#timer.unref()
  }

  readonly #fire = (): void => {
    this.#timer = undefined
    if (this.#stopped) return
    const now = performance.now()
    if (this.#probeAt >= 0) {
      const waited = now - this.#probeAt
      if (waited >= this.#pingTimeoutMs) {
        this.stop()
        this.#hooks.dead(this.#pingTimeoutMs)
        return
      }
      this.#arm(this.#pingTimeoutMs - waited)
      return
    }
    // No stream open: nothing to watch until the next one (streamOpened re-arms).
    if (!this.#hooks.hasStreams() || !(this.#readIdleMs > 0)) return
    const idle = now - this.lastRead
    if (idle >= this.#readIdleMs) this.#probe(now)
    else this.#arm(this.#readIdleMs - idle)
  }
}
