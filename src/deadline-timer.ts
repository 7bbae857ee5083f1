/**
 * One timer per connection for every deadline on it (HTTP/1.1: the oldest exchange's
 * 100-continue wait, head and body deadlines; HTTP/2: every stream's). Deadlines are
 * absolute `performance.now()` times kept by the caller; the timer only promises to call
 * `onDue` no later than the earliest deadline it was told about. `onDue` looks at what is
 * due, handles it and returns the next deadline (Infinity: none).
 *
 * Moving a deadline later costs nothing (the timer fires early, `onDue` finds nothing due
 * and re-arms), so a request-per-tick workload does not touch a Timeout at all; only an
 * earlier deadline reschedules. The timer is unref'd: a deadline never keeps a process alive.
 */
export class DeadlineTimer {
  #timer: NodeJS.Timeout | undefined
  #at = Infinity
  readonly #onDue: (now: number) => number

  constructor(onDue: (now: number) => number) {
    this.#onDue = onDue
  }

  /** Make sure `onDue` runs no later than `at` (a `performance.now()` time; Infinity: nothing to do). */
  armBy(at: number): void {
    if (!(at < this.#at)) return
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#at = at
    this.#timer = setTimeout(this.#fire, Math.max(1, Math.ceil(at - performance.now())))
    this.#timer.unref()
  }

  /** No deadline left (the connection closed or went idle): drop the Timeout. */
  cancel(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
    this.#at = Infinity
  }

  #fire = (): void => {
    this.#timer = undefined
    this.#at = Infinity
    const next = this.#onDue(performance.now())
    if (next !== Infinity) this.armBy(next)
  }
}
