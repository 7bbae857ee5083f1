/**
 * How a stream ends other than by completing (RFC 9113 §5.4.2, §8.1): failing its request
 * with its one final error, resetting it (paced, reset-pacer.ts), letting go of its request
 * content, and taking it out of the stream table — with the window credit it still held
 * given back to the connection (recv-flow.ts).
 */
import { isReadable } from '../body-source.js'
import { AbortedError, H2ProtocolError, SocketClosedError, WirepoolError } from '../errors.js'
import type { SessionContext } from './context.js'
import { H2ErrorCode } from './frame.js'
import type { ReceiveFlow } from './recv-flow.js'
import type { PacedResets } from './reset-pacer.js'
import { ResponsePhase, detachBodyErrorSink, type H2Stream } from './stream.js'
import { IllegalTransitionError } from '../errors.js'

export class StreamEndings {
  readonly #ctx: SessionContext
  readonly #flow: ReceiveFlow
  readonly #resets: PacedResets
  /** A stream left the table (capacity is free; a draining connection may be done). */
  readonly #afterRemove: () => void

  constructor(ctx: SessionContext, flow: ReceiveFlow, resets: PacedResets, afterRemove: () => void) {
    this.#ctx = ctx
    this.#flow = flow
    this.#resets = resets
    this.#afterRemove = afterRemove
  }

  /** A stream error (§5.4.2): RST_STREAM with its code, the request fails, the connection lives on. */
  streamError(stream: H2Stream, error: H2ProtocolError): void {
    if (error.origin === undefined) error.origin = this.#ctx.origin
    this.cancel(stream, error.h2Code, error)
  }

  /** The handler's `abort` (bound once per stream). */
  readonly abort = (stream: H2Stream, reason?: Error): void => {
    if (stream.done || this.#ctx.closed()) return
    // A WirepoolError is the pool's own verdict (WP_ABORTED whose cause is signal.reason, the
    // request's overall timeout): it reaches the caller as it is.
    if (reason instanceof WirepoolError) {
      this.cancel(stream, H2ErrorCode.CANCEL, reason)
      return
    }
    const options = { origin: this.#ctx.origin, ...(reason === undefined ? {} : { cause: reason }) }
    this.cancel(stream, H2ErrorCode.CANCEL, new AbortedError(reason?.message ?? 'request aborted', options))
  }

  handlerThrew(stream: H2Stream, err: unknown): void {
    // A bug of ours under test (src/state-machine.ts) is not the handler's failure.
    if (err instanceof IllegalTransitionError) throw err
    this.cancel(stream, H2ErrorCode.CANCEL, new AbortedError('request handler threw', { cause: err, origin: this.#ctx.origin }))
  }

  /** Fail the request now and reset its stream (paced); a stream never opened just goes away. */
  cancel(stream: H2Stream, code: number, error: WirepoolError): void {
    if (stream.done) return
    this.abandonBody(stream)
    if (stream.state.kind === 'idle') this.remove(stream)
    else if (stream.state.kind !== 'closed') this.#resets.reset(stream, code)
    this.fail(stream, error)
  }

  /** Stop sending the stream's content: drop what is queued, wake and stop its reader, destroy an unfinished source. */
  abandonBody(stream: H2Stream): void {
    stream.heldBody = null
    stream.dropQueue()
    const wake = stream.wakeBody
    stream.wakeBody = null
    wake?.()
    const iterator = stream.iterator
    stream.iterator = undefined
    if (iterator?.return !== undefined) iterator.return().catch(noop)
    const body = stream.request.body
    // A body read to its end is finished with (its iterator destroyed it); one we stop reading is destroyed here.
    if (body !== null && body !== undefined && isReadable(body) && !stream.bodyEnded) body.destroy()
    detachBodyErrorSink(stream)
  }

  /** The stream leaves the table; capacity grew. */
  remove(stream: H2Stream): void {
    const streams = this.#ctx.streams
    if (streams.get(stream.id) !== stream) return
    streams.delete(stream.id)
    this.#flow.releaseHeld(stream)
    // Closed by the peer (RST_STREAM, GOAWAY) before the pacer let our reset out: it is moot.
    this.#resets.drop(stream)
    this.#afterRemove()
  }

  /** Deliver the one final error of a stream to its handler. */
  fail(stream: H2Stream, err: WirepoolError): void {
    if (stream.done) return
    stream.phase = ResponsePhase.DONE
    stream.deadline = Infinity
    this.#flow.releaseHeld(stream)
    detachBodyErrorSink(stream)
    try {
      stream.handler.onError(err)
    } catch {
      // The handler failed while being told of its own failure; there is nobody left to tell.
    }
  }

  /**
   * The connection closed with `streams` still in its table: each unfinished one fails once,
   * with `closeErr` when it is an H2 protocol error or an explicit destroy() error, else with
   * a SocketClosedError that says whether its response had started.
   */
  failAll(streams: readonly H2Stream[], closeErr: WirepoolError | undefined): void {
    const shared = closeErr instanceof H2ProtocolError || (closeErr !== undefined && !(closeErr instanceof SocketClosedError))
    const cause = closeErr instanceof SocketClosedError && closeErr.cause !== undefined ? closeErr.cause : closeErr
    for (const stream of streams) {
      this.abandonBody(stream)
      if (stream.done) continue
      const err =
        shared && closeErr !== undefined
          ? closeErr
          : new SocketClosedError(closeErr === undefined ? 'connection closed before the response completed' : `connection failed: ${closeErr.message}`, {
              origin: this.#ctx.origin,
              responseStarted: stream.phase !== ResponsePhase.HEAD,
              ...(cause === undefined ? {} : { cause }),
            })
      this.fail(stream, err)
    }
  }
}

function noop(): void {}
