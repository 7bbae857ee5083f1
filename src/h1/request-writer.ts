/**
 * The write side of an `H1Connection`: request heads and bodies onto the socket, in the
 * order the connection hands them over (RFC 9112 §9.3.2). A head with an in-memory body
 * leaves in one write; a body held for `100 Continue` (RFC 9110 §10.1.1) or streamed from a
 * Readable / AsyncIterable blocks the heads after it until it is on the wire, so at most one
 * exchange is `writing` at a time. Which request goes next, and what a response does to a
 * body in flight, is the connection's to decide.
 */
import type { Socket } from 'node:net'
import { type BodySink, bodyStreamError, copyBody, isReadable } from '../body-source.js'
import { type Exchange, WRITE_NAMES, WriteState } from './exchange.js'
import { IllegalTransitionError, type WirepoolError } from '../errors.js'
import { LAST_CHUNK, writeChunk, writeHead } from './serialize.js'

export interface RequestWriterEvents {
  /** A held or streamed body is now on the wire in full: later heads may follow. */
  bodySent(ex: Exchange): void
  /** A streamed body failed: the stream threw, produced a bad chunk, or missed its declared length. */
  bodyFailed(ex: Exchange, err: WirepoolError): void
  /** A streamed body started or stopped waiting for the socket to drain (the send deadline watches it). */
  sendBlocked(ex: Exchange): void
  /** An unlisted write move was refused (production; tests throw): fail the connection. */
  internalError(err: IllegalTransitionError): void
}

export class RequestWriter {
  readonly #socket: Socket
  readonly #origin: string
  readonly #events: RequestWriterEvents
  #writing: Exchange | null = null
  #drainWaiter: (() => void) | null = null
  /** The socket is corked until the next tick so that pipelined heads leave in one write. */
  #corked = false

  constructor(socket: Socket, origin: string, events: RequestWriterEvents) {
    this.#socket = socket
    this.#origin = origin
    this.#events = events
    socket.on('drain', this.#onDrain)
  }

  /** The exchange whose body is being written (or held for 100-continue); it blocks later heads. */
  get writing(): Exchange | null {
    return this.#writing
  }

  /** The body being written waits for the socket to drain (no progress until it does). */
  get blocked(): boolean {
    return this.#drainWaiter !== null
  }

  /** The socket is no longer ours (an upgrade took it). */
  detach(): void {
    this.#socket.off('drain', this.#onDrain)
  }

  /**
   * Requests dispatched in the same tick (a pipelined burst, or the follow-ups that
   * completed responses trigger) leave in one writev: one trip into the kernel instead of
   * one per request (PERF.md). Without pipelining there is never a second request to wait
   * for, and the connection writes the head at once.
   *
   * This is the project's one batching rule (src/batch-writer.ts) in the form HTTP/1.1
   * needs; BatchWriter itself is not behaviour-identical here: it would defer even a lone
   * request's head to the next tick, copy every head and in-memory body into one buffer
   * (heads are latin1 strings, so a Buffer each first), and a held or streamed body,
   * written straight to the socket, could overtake heads still queued in the batch. A
   * corked socket keeps every write in call order at no cost.
   */
  corkUntilNextTick(): void {
    if (this.#corked) return
    this.#socket.cork()
    this.#corked = true
    process.nextTick(this.#uncork)
  }

  #uncork = (): void => {
    this.#corked = false
    this.#socket.uncork()
  }

  /**
   * Write `ex`'s head now. True when the request is on the wire in full (no body, or one in
   * memory: head and body in one write); false when its body is held for 100-continue or
   * streaming, which makes it `writing` until `bodySent` or `abandon`.
   */
  start(ex: Exchange): boolean {
    const socket = this.#socket
    const body = ex.request.body
    if (ex.request.expectContinue && ex.contentLength !== 0) {
      writeHead(socket, ex.head)
      if (!this.#move(ex, WriteState.AWAITING_CONTINUE)) return false
      this.#writing = ex
      return false
    }
    if (body === null || body === undefined || typeof body === 'string' || body instanceof Uint8Array) {
      writeHead(socket, ex.head, body ?? undefined)
      if (this.#move(ex, WriteState.SENT)) ex.handler.onRequestSent?.()
      return true
    }
    writeHead(socket, ex.head)
    this.#stream(ex)
    return false
  }

  /** 100 Continue arrived, or we waited long enough (RFC 9110 §10.1.1): send the held body. */
  release(ex: Exchange): void {
    const body = ex.request.body
    if (typeof body === 'string' || body instanceof Uint8Array) {
      this.#socket.write(body)
      this.#sent(ex)
    } else {
      this.#stream(ex)
    }
  }

  /** Stop writing `ex`'s body for good (a final response came first, or a failure). */
  abandon(ex: Exchange): void {
    if (ex.write !== WriteState.AWAITING_CONTINUE && ex.write !== WriteState.STREAMING) return
    this.#move(ex, WriteState.ABANDONED)
    if (this.#writing === ex) this.#writing = null
    const waiter = this.#drainWaiter
    this.#drainWaiter = null
    waiter?.()
    const iterator = ex.iterator
    ex.iterator = undefined
    if (iterator?.return !== undefined) iterator.return().catch(() => {})
    const body = ex.request.body
    if (isReadable(body)) body.destroy()
  }

  #move(ex: Exchange, to: WriteState): boolean {
    if (ex.moveWrite(to)) return true
    this.#events.internalError(new IllegalTransitionError('request write', WRITE_NAMES[ex.write], WRITE_NAMES[to], { origin: this.#origin }))
    return false
  }

  #sent(ex: Exchange): void {
    if (!this.#move(ex, WriteState.SENT)) return
    if (this.#writing === ex) this.#writing = null
    ex.handler.onRequestSent?.()
    this.#events.bodySent(ex)
  }

  #stream(ex: Exchange): void {
    if (!this.#move(ex, WriteState.STREAMING)) return
    this.#writing = ex
    void this.#copy(ex)
  }

  /**
   * Copy a Readable / AsyncIterable body to the socket with body-source's one loop: chunked
   * when its length is unknown (RFC 9112 §7.1), raw and counted when declared (a length
   * mismatch would desynchronise the peer, RFC 9112 §6.3, so it fails the request and the
   * socket). Waits for 'drain' whenever the socket buffer is full.
   */
  async #copy(ex: Exchange): Promise<void> {
    const socket = this.#socket
    const chunked = ex.contentLength < 0
    const sink: BodySink = {
      wanted: () => ex.write === WriteState.STREAMING,
      write: (chunk) => {
        const ok = chunked ? writeChunk(socket, chunk) : socket.write(chunk)
        if (ok) return undefined
        const wait = new Promise<void>((resolve) => (this.#drainWaiter = resolve))
        this.#events.sendBlocked(ex)
        return wait
      },
    }
    try {
      const iterator = (ex.request.body as AsyncIterable<unknown>)[Symbol.asyncIterator]()
      ex.iterator = iterator
      if (!(await copyBody(iterator, ex.contentLength, sink))) return
      if (chunked) socket.write(LAST_CHUNK, 'latin1')
    } catch (err) {
      if (ex.write !== WriteState.STREAMING) return // we abandoned it; the error is a consequence
      ex.iterator = undefined
      this.#events.bodyFailed(ex, bodyStreamError(err, this.#origin))
      return
    }
    ex.iterator = undefined
    this.#sent(ex)
  }

  #onDrain = (): void => {
    const waiter = this.#drainWaiter
    if (waiter === null) return
    this.#drainWaiter = null
    const writing = this.#writing
    if (writing !== null) this.#events.sendBlocked(writing)
    waiter()
  }
}
