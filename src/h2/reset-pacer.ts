/**
 * Pacing of the RST_STREAM frames we send, so that a burst of aborts is never mistaken for
 * the "rapid reset" attack (CVE-2023-44487) by a server's defence.
 *
 * The rule: a token bucket of `burst` resets (default 200) refilled at `ratePerSecond`
 * (default 30 per second). A reset with a token goes out at once; without one it waits, in
 * order, until the bucket refills. nghttp2 (1.57+) tolerates a burst of 1000 and 33 per second
 * after it; Go's and nginx's defences count resets against MAX_CONCURRENT_STREAMS-sized
 * windows. Staying under both by a wide margin costs nothing in practice: a stream whose reset
 * waits still occupies one of the peer's concurrency slots (it is open on the wire), which is
 * exactly what the server's accounting expects.
 *
 * Sans-I/O: the caller passes the time and owns the timer.
 */
export interface ResetPacerOptions {
  burst?: number
  ratePerSecond?: number
}

export class ResetPacer {
  readonly #burst: number
  readonly #ratePerMs: number
  #tokens: number
  #last = -1

  constructor(options: ResetPacerOptions = {}) {
    this.#burst = options.burst ?? 200
    this.#ratePerMs = (options.ratePerSecond ?? 30) / 1000
    this.#tokens = this.#burst
  }

  /** Take a token at time `now` (ms); false when the reset must wait. */
  tryTake(now: number): boolean {
    this.#refill(now)
    if (this.#tokens < 1) return false
    this.#tokens -= 1
    return true
  }

  /** Milliseconds from `now` until a token is available (0 when one is). */
  waitMs(now: number): number {
    this.#refill(now)
    if (this.#tokens >= 1) return 0
    return Math.ceil((1 - this.#tokens) / this.#ratePerMs)
  }

  #refill(now: number): void {
    if (this.#last >= 0 && now > this.#last) this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#last) * this.#ratePerMs)
    this.#last = now
  }
}
