/**
 * The sending half of an HTTP/2 connection: request HEADERS (with CONTINUATION, RFC 9113
 * §6.10), request content and tunnel bytes as DATA frames within the stream and connection
 * send windows (§6.9.1), one frame per stream per turn of the write scheduler, and only while
 * the socket keeps up. A streamed body is read with the shared copy loop (body-source.ts)
 * into the stream's own send queue (H2Stream.queue / takeBytes).
 */
import { performance } from 'node:perf_hooks'
import type { BatchWriter } from '../batch-writer.js'
import { bodyStreamError, copyBody, isAsyncIterable, type BodySink } from '../body-source.js'
import type { RequestBody } from '../dispatch.js'
import { InvalidArgumentError, SocketClosedError } from '../errors.js'
import type { SessionContext } from './context.js'
import { DEFAULT_INITIAL_WINDOW_SIZE, Flag, H2ErrorCode } from './frame.js'
import { dataFrameHeader, encodeContinuation, encodeHeaders } from './frame-writer.js'
import { SendWindow } from './flow.js'
import { WriteScheduler } from './scheduler.js'
import type { PeerSettings } from './settings.js'
import { H2Stream, ResponsePhase, StreamEvent, canSend } from './stream.js'
import { establishedTunnel, type TunnelHandler } from './tunnel.js'

/** Stop producing DATA frames while this much is waiting to reach the kernel. */
export const WRITE_HIGH_WATER = 1024 * 1024
/** A streamed request body (or a tunnel's writes) is read ahead at most this far past what was sent. */
const BODY_HIGH_WATER = 256 * 1024
/** `H2Stream.heldBody` for a streamed body (the stream itself is read once released). */
const HELD_STREAM = new Uint8Array(0)
const EMPTY = new Uint8Array(0)

/**
 * The request content as bytes to queue at once (an in-memory body), or null (no content, or
 * a stream the Sender reads). Throws InvalidArgumentError, before anything is sent, for a body
 * that does not match its declared `contentLength` or is no body at all.
 */
export function contentBytes(body: RequestBody, contentLength: number): Uint8Array | null {
  if (typeof body === 'string') {
    const bytes = Buffer.from(body, 'utf8')
    if (bytes.byteLength !== contentLength) throw new InvalidArgumentError('bodyLength does not match the string body')
    return bytes
  }
  if (body instanceof Uint8Array) {
    if (body.byteLength !== contentLength) throw new InvalidArgumentError('bodyLength does not match the body')
    return body
  }
  if (body !== null && body !== undefined && !isAsyncIterable(body)) {
    throw new InvalidArgumentError('body must be a string, Uint8Array, Readable or AsyncIterable<Uint8Array>')
  }
  return null
}

export class Sender {
  readonly #ctx: SessionContext
  readonly #writer: BatchWriter
  readonly #peer: PeerSettings
  readonly #scheduler = new WriteScheduler()
  /** The connection send window (§6.9.1): the peer's credit for all of our DATA. */
  readonly #connSend = new SendWindow(DEFAULT_INITIAL_WINDOW_SIZE, 0)

  constructor(ctx: SessionContext) {
    this.#ctx = ctx
    this.#writer = ctx.writer
    this.#peer = ctx.peer
  }

  /** Streams are waiting for their turn to send. */
  get pending(): boolean {
    return this.#scheduler.size > 0
  }

  /** HEADERS, then CONTINUATION frames when the block exceeds the peer's MAX_FRAME_SIZE (§4.3, §6.10). */
  writeHeaders(id: number, block: Buffer, endStream: boolean): void {
    const max = this.#peer.maxFrameSize
    if (block.length <= max) {
      this.#writer.push(encodeHeaders(id, block, { endStream }))
      return
    }
    this.#writer.push(encodeHeaders(id, block.subarray(0, max), { endStream, endHeaders: false }))
    for (let at = max; at < block.length; at += max) {
      const end = Math.min(at + max, block.length)
      this.#writer.push(encodeContinuation(id, block.subarray(at, end), end === block.length))
    }
  }

  /**
   * RFC 9110 §10.1.1: hold the content until 100 (Continue), a final response, or the
   * stream's deadline (deadlines.ts then calls releaseHeldBody).
   */
  holdBody(stream: H2Stream, bytes: Uint8Array | null): void {
    stream.heldBody = bytes ?? HELD_STREAM
  }

  /** Start sending the request content: in-memory bytes are queued at once, a stream is pumped. */
  startBody(stream: H2Stream, bytes: Uint8Array | null): void {
    if (bytes !== null) {
      stream.queue(bytes)
      stream.bodyEnded = true
      this.queued(stream)
    } else {
      void this.#pumpBody(stream)
    }
  }

  /** 100 (Continue) arrived or the wait is over: send the held content. */
  releaseHeldBody(stream: H2Stream): void {
    const held = stream.heldBody
    if (held === null) return
    stream.heldBody = null
    stream.deadline = Infinity
    this.startBody(stream, held === HELD_STREAM ? null : held)
  }

  /**
   * Read a streamed body (Readable / AsyncIterable) into the stream's send queue with the
   * shared copy loop, staying at most BODY_HIGH_WATER ahead of what the windows let us send.
   */
  async #pumpBody(stream: H2Stream): Promise<void> {
    let complete: boolean
    try {
      const iterator = (stream.request.body as AsyncIterable<unknown>)[Symbol.asyncIterator]()
      stream.iterator = iterator
      complete = await copyBody(iterator, stream.declaredLength, new StreamBodySink(stream, this.queued))
    } catch (err) {
      if (stream.done) return
      stream.iterator = undefined
      this.#ctx.cancel(stream, H2ErrorCode.CANCEL, bodyStreamError(err, this.#ctx.origin))
      return
    }
    if (!complete) return
    stream.iterator = undefined
    stream.bodyEnded = true
    this.queued(stream)
  }

  /** The stream has something new to send (DATA, or END_STREAM): its turn in the round robin, and pump. */
  readonly queued = (stream: H2Stream): void => {
    if (stream.sendDeadline === Infinity) this.#watchSend(stream)
    this.#scheduler.add(stream)
    this.pumpData()
  }

  /**
   * Content waits to go out: it must make progress within bodyTimeout (issue #18: a peer that
   * stops reading, or gives no window, must not hold the request forever). Each DATA frame
   * sent moves the deadline on (#sendData); a tunnel's bytes are not a request body.
   */
  #watchSend(stream: H2Stream): void {
    const ms = stream.request.bodyTimeout
    if (!(ms > 0) || !Number.isFinite(ms) || establishedTunnel(stream) !== null) return
    this.#ctx.armSendDeadline(stream, performance.now() + ms)
  }

  /** The stream may send again (its window opened): its turn in the round robin, without pumping yet. */
  schedule(stream: H2Stream): void {
    this.#scheduler.add(stream)
  }

  /** WINDOW_UPDATE on stream 0 (§6.9.1). */
  increaseConnectionWindow(increment: number): void {
    this.#connSend.increase(increment)
    this.pumpData()
  }

  /** The connection closed: nothing more goes out. */
  clear(): void {
    this.#scheduler.clear()
  }

  /**
   * Turn queued request body bytes into DATA frames, one frame per stream per turn (fair
   * round robin), within the stream and connection send windows (RFC 9113 §6.9.1) and while
   * the socket keeps up.
   */
  pumpData(): void {
    if (this.#ctx.closed()) return
    const writer = this.#writer
    const scheduler = this.#scheduler
    const maxFrame = this.#peer.maxFrameSize
    while (scheduler.size > 0 && writer.backlog < WRITE_HIGH_WATER) {
      const stream = scheduler.take() as H2Stream
      if (stream.done || !canSend(stream.state)) continue
      if (stream.queuedBytes === 0) {
        // An empty DATA frame carries END_STREAM; it needs no window (§6.9.1 counts payload).
        if (stream.bodyEnded) this.#sendData(stream, EMPTY, true)
        continue
      }
      const connAvailable = this.#connSend.available
      if (connAvailable === 0) {
        // Blocked on the connection window: keep its turn; a WINDOW_UPDATE on stream 0 resumes.
        scheduler.add(stream)
        break
      }
      const n = Math.min(stream.queuedBytes, maxFrame, stream.sendWindow.available, connAvailable)
      // Blocked on its own window: out of the ring until a WINDOW_UPDATE (or SETTINGS) opens it.
      if (n === 0) continue
      const payload = stream.takeBytes(n)
      this.#sendData(stream, payload, stream.bodyEnded && stream.queuedBytes === 0)
      // (After END_STREAM the state is half-closed (local) or closed: canSend is false.)
      if (stream.queuedBytes > 0 || (stream.bodyEnded && canSend(stream.state))) scheduler.add(stream)
      const wake = stream.wakeBody
      if (wake !== null && stream.queuedBytes < BODY_HIGH_WATER) {
        stream.wakeBody = null
        wake()
      }
    }
  }

  #sendData(stream: H2Stream, payload: Uint8Array, endStream: boolean): void {
    const n = payload.byteLength
    this.#writer.push(dataFrameHeader(n, endStream ? Flag.END_STREAM : 0, stream.id))
    if (n > 0) {
      this.#writer.push(payload)
      stream.sendWindow.consume(n)
      this.#connSend.consume(n)
    }
    if (endStream) {
      if (!this.#ctx.transitionStream(stream, StreamEvent.SEND_END_STREAM)) return
      if (stream.phase === ResponsePhase.HEAD) this.#ctx.armDeadline(stream, stream.request.headersTimeout)
      const tunnel = establishedTunnel(stream)
      if (tunnel !== null) {
        if (stream.state.kind === 'closed') this.finishTunnel(stream)
        tunnel.endWritten()
      } else if (stream.request.upgrade === undefined) {
        stream.handler.onRequestSent?.()
      }
    }
    // Progress: the send deadline moves on while content still waits, and ends when none does
    // (a streamed body waiting for its source is not a stalled send).
    if (stream.sendDeadline !== Infinity) {
      stream.sendDeadline = stream.queuedBytes > 0 || (stream.bodyEnded && canSend(stream.state)) ? performance.now() + stream.request.bodyTimeout : Infinity
    }
  }

  // ── RFC 8441 tunnels ────────────────────────────────────────────────────────────────

  /** The tunnel's Duplex wrote `chunk`: queue it as DATA; `done` once the queue has room (backpressure). */
  tunnelWrite(stream: H2Stream, chunk: Uint8Array, done: (err?: Error | null) => void): void {
    if (stream.done || !canSend(stream.state) || this.#ctx.closed()) {
      done(new SocketClosedError('the tunnel stream is closed', { origin: this.#ctx.origin }))
      return
    }
    if (chunk.byteLength === 0) {
      done()
      return
    }
    stream.queue(chunk)
    this.queued(stream)
    // The same read-ahead bound as a streamed request body: pumpData wakes it below the mark.
    if (stream.queuedBytes < BODY_HIGH_WATER || stream.done) done()
    else stream.wakeBody = () => done()
  }

  /** The tunnel's Duplex ended: END_STREAM once the queued DATA is out (a half-close, RFC 9113 §8.5). */
  tunnelEnd(stream: H2Stream, done: (err?: Error | null) => void): void {
    if (stream.done || !canSend(stream.state) || this.#ctx.closed()) {
      done()
      return
    }
    ;(stream.handler as TunnelHandler).awaitEnd(done)
    stream.bodyEnded = true
    this.queued(stream)
  }

  /** Both directions of a tunnel ended with END_STREAM: the stream is closed and served. */
  finishTunnel(stream: H2Stream): void {
    stream.phase = ResponsePhase.DONE
    stream.deadline = Infinity
    this.#ctx.countServed()
    this.#ctx.remove(stream)
  }
}

/**
 * Where copyBody puts a streamed request body: the stream's send queue. A write returns a
 * promise (backpressure) while BODY_HIGH_WATER or more waits to go out; pumpData resolves it
 * (`wakeBody`) once the queue drained below the mark, and abandoning the body does too.
 */
class StreamBodySink implements BodySink {
  readonly #stream: H2Stream
  readonly #queued: (stream: H2Stream) => void

  constructor(stream: H2Stream, queued: (stream: H2Stream) => void) {
    this.#stream = stream
    this.#queued = queued
  }

  wanted(): boolean {
    return !this.#stream.done && canSend(this.#stream.state)
  }

  write(chunk: Uint8Array): Promise<void> | undefined {
    const stream = this.#stream
    stream.queue(chunk)
    this.#queued(stream)
    if (stream.queuedBytes < BODY_HIGH_WATER || stream.done) return undefined
    return new Promise<void>((resolve) => (stream.wakeBody = resolve))
  }
}
