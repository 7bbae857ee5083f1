/**
 * The one deadline of an HTTP/1.1 connection. Responses come in request order (RFC 9112
 * §9.3.2), so only the oldest exchange can be late: the deadline watches what it waits
 * for — its `100 Continue` (RFC 9110 §10.1.1), its head, or the next chunk of its body —
 * on the connection's one lazily re-armed `DeadlineTimer`. While its streamed body waits
 * for a socket that does not drain, the same `bodyTimeout` bounds the wait (issue #18: a
 * server that stops reading must not hold the upload forever).
 */
import { DeadlineTimer } from '../deadline-timer.js'
import { type Exchange, ReadState, WriteState } from './exchange.js'

/** What is watched. */
export const Watch = { NONE: 0, CONTINUE: 1, HEADERS: 2, BODY: 3, SEND: 4 } as const
export type Watch = (typeof Watch)[keyof typeof Watch]

/** Called when a deadline passed: `ms` is the duration it was set from (the timeout errors report it). */
export type OnExpired = (watch: Watch, ex: Exchange, ms: number) => void

export class ExchangeDeadline {
  readonly #timer: DeadlineTimer
  readonly #continueTimeout: number
  readonly #onExpired: OnExpired
  #watch: Watch = Watch.NONE
  #ex: Exchange | null = null
  /** A `performance.now()` time; only meaningful while something is watched. */
  #deadline = Infinity
  #ms = 0

  constructor(continueTimeout: number, onExpired: OnExpired) {
    this.#continueTimeout = continueTimeout
    this.#onExpired = onExpired
    this.#timer = new DeadlineTimer(this.#onDue)
  }

  /**
   * Watch what `oldest` (the connection's oldest exchange, or null when there is none or
   * the connection is no longer live) waits for: its 100 Continue, its head, or (while its
   * consumer is not paused) its next body chunk; while it is still being written, the
   * socket's drain when `sendBlocked` (its body waits for one), else nothing (a streamed body
   * waiting for its own source is not a stalled send). Called whenever the oldest exchange,
   * or what it waits for, changes.
   */
  watch(oldest: Exchange | null, sendBlocked = false): void {
    if (oldest === null) {
      this.#unwatch()
    } else if (oldest.write === WriteState.AWAITING_CONTINUE) {
      this.#watchFor(Watch.CONTINUE, oldest, this.#continueTimeout)
    } else if (oldest.read === ReadState.BODY) {
      if (oldest.paused) this.#unwatch()
      else this.#watchFor(Watch.BODY, oldest, oldest.request.bodyTimeout)
    } else if (oldest.write === WriteState.SENT) {
      this.#watchFor(Watch.HEADERS, oldest, oldest.request.headersTimeout)
    } else if (oldest.write === WriteState.STREAMING && sendBlocked) {
      if (this.#watch !== Watch.SEND || this.#ex !== oldest) this.#watchFor(Watch.SEND, oldest, oldest.request.bodyTimeout)
    } else {
      this.#unwatch()
    }
  }

  /**
   * A body chunk arrived: the body deadline restarts. It only moves later, so the timer is
   * not touched: it fires at the old deadline, finds this one and re-arms (DeadlineTimer).
   */
  bodyChunk(): void {
    if (this.#watch === Watch.BODY) this.#deadline = performance.now() + this.#ms
  }

  /** A consumer that is slow is not a server that is silent: no body deadline while paused. */
  pause(): void {
    this.#unwatch()
  }

  /** The connection closed or was handed over: nothing more to watch, the Timeout goes. */
  stop(): void {
    this.#unwatch()
    this.#timer.cancel()
  }

  /** Nothing is watched (a pending timer will find nothing due); no exchange is kept alive. */
  #unwatch(): void {
    this.#watch = Watch.NONE
    this.#ex = null
  }

  /** 0 (or a non-finite value) means no timeout, as undici. */
  #watchFor(watch: Watch, ex: Exchange, ms: number): void {
    if (ms <= 0 || !Number.isFinite(ms)) {
      this.#unwatch()
      return
    }
    this.#watch = watch
    this.#ex = ex
    this.#ms = ms
    this.#deadline = performance.now() + ms
    this.#timer.armBy(this.#deadline)
  }

  /**
   * The timer fired. What is due is judged now, from the current watch and deadline, never
   * from what was watched when the timer was armed: a stale expiry finds nothing to do.
   */
  #onDue = (now: number): number => {
    const watch = this.#watch
    if (watch === Watch.NONE) return Infinity
    if (now < this.#deadline) return this.#deadline
    const ex = this.#ex as Exchange
    this.#unwatch()
    this.#onExpired(watch, ex, this.#ms)
    // Whatever is watched next (a released body's head) armed the timer itself.
    return Infinity
  }
}
