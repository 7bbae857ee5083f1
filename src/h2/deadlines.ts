/**
 * Header, body and 100-continue deadlines of every stream on a connection, on the one shared
 * DeadlineTimer (no timer per stream). A stream keeps its absolute deadline in
 * `H2Stream.deadline` (performance.now ms, Infinity: none); when the timer fires, a stream
 * holding its content for 100 (Continue) sends it anyway (RFC 9110 §10.1.1), any other due
 * stream fails with HeadersTimeoutError or BodyTimeoutError and is reset with CANCEL.
 */
import { performance } from 'node:perf_hooks'
import { DeadlineTimer } from '../deadline-timer.js'
import { BodyTimeoutError, HeadersTimeoutError, SendTimeoutError } from '../errors.js'
import type { SessionContext } from './context.js'
import { H2ErrorCode } from './frame.js'
import type { Sender } from './send.js'
import { ResponsePhase, canSend, type H2Stream } from './stream.js'

export class StreamDeadlines {
  readonly #ctx: SessionContext
  readonly #sender: Sender
  readonly #timer = new DeadlineTimer((now) => this.#onDue(now))

  constructor(ctx: SessionContext, sender: Sender) {
    this.#ctx = ctx
    this.#sender = sender
  }

  /** Set the stream's deadline `ms` from now (non-finite or ≤ 0, or a paused stream: none). */
  arm(stream: H2Stream, ms: number): void {
    if (!(ms > 0) || !Number.isFinite(ms) || stream.paused) {
      stream.deadline = Infinity
      return
    }
    this.armAt(stream, performance.now() + ms)
  }

  /** Set the stream's deadline to the absolute time `at`. */
  armAt(stream: H2Stream, at: number): void {
    stream.deadline = at
    this.#timer.armBy(at)
  }

  /** The stream's content must make progress by `at` (send.ts keeps it moving). */
  armSendAt(stream: H2Stream, at: number): void {
    stream.sendDeadline = at
    this.#timer.armBy(at)
  }

  /** No stream left to watch, or the connection closed: drop the timer. */
  cancel(): void {
    this.#timer.cancel()
  }

  /** Handle every stream that is due; returns the next deadline. */
  #onDue(now: number): number {
    if (this.#ctx.closed()) return Infinity
    let next = Infinity
    for (const stream of [...this.#ctx.streams.values()]) {
      if (stream.done) continue
      const send = stream.sendDeadline
      if (send <= now) {
        // Content still waits and none of it went out for bodyTimeout: no window from the
        // peer, or a socket that does not drain. The request fails with a code of its own.
        if (stream.queuedBytes > 0 || (stream.bodyEnded && canSend(stream.state))) {
          this.#ctx.cancel(stream, H2ErrorCode.CANCEL, new SendTimeoutError(stream.request.bodyTimeout, { origin: this.#ctx.origin }))
          this.#ctx.requestTimedOut()
          continue
        }
        stream.sendDeadline = Infinity
      } else if (send < next) next = send
      if (stream.deadline === Infinity) continue
      if (stream.deadline > now) {
        if (stream.deadline < next) next = stream.deadline
        continue
      }
      if (stream.heldBody !== null) {
        this.#sender.releaseHeldBody(stream)
        continue
      }
      const request = stream.request
      const origin = this.#ctx.origin
      const error =
        stream.phase === ResponsePhase.HEAD ? new HeadersTimeoutError(request.headersTimeout, { origin }) : new BodyTimeoutError(request.bodyTimeout, { origin })
      this.#ctx.cancel(stream, H2ErrorCode.CANCEL, error)
      this.#ctx.requestTimedOut()
    }
    return next
  }
}
