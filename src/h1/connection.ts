/**
 * H1Connection: one HTTP/1.1 connection driven for the pool through the PoolConnection
 * contract. The sans-I/O ResponseParser reads (told which request each response answers);
 * RequestWriter (request-writer.ts) writes; this file is the glue: request ordering,
 * keep-alive and retirement (RFC 9112 §9), optional pipelining, 1xx and 100-continue,
 * upgrades, backpressure in both directions, one deadline timer, and making every failure
 * reach every affected handler exactly once.
 *
 * Life of the connection: `#state`, a ConnectionState (connection-state.ts, where its
 * diagram is), changed only by `#transition`, which rejects unlisted moves.
 */
import { EventEmitter } from 'node:events'
import type { Socket } from 'node:net'
import type { Readable } from 'node:stream'
import { bodyStreamError, isReadable } from '../body-source.js'
import { announceConnection, type ConnectionEvents, type DispatchHandler, type DispatchRequest, type PoolConnection, type Protocol } from '../dispatch.js'
import {
  AbortedError,
  BodyIncompleteError,
  BodyTimeoutError,
  H1ParseError,
  HeadersTimeoutError,
  SendTimeoutError,
  IllegalTransitionError,
  InvalidArgumentError,
  SocketClosedError,
  WirepoolError,
  toWirepoolError,
} from '../errors.js'
import { parseKeepAliveTimeout, rawHeadersToRecord } from '../http/headers.js'
import { integerOption } from '../option-checks.js'
import { type ConnectionState, OPEN, UPGRADED, closed, draining, isListedMove, whyNotPersistent } from './connection-state.js'
import { ExchangeDeadline, Watch } from './exchange-deadline.js'
import { Exchange, READ_NAMES, frameExchange, ReadState, WriteState } from './exchange.js'
import { Framing, type ResponseHead } from './parser-events.js'
import { ParseReason, ResponseParser } from './parser.js'
import { RequestWriter, type RequestWriterEvents } from './request-writer.js'
import type { ForwardProxyForm } from './serialize.js'
import { deliverSocket } from './upgrade.js'

export interface H1ConnectionOptions {
  id: number
  /** `scheme://host:port`, stamped on every error. */
  origin: string
  /** Max requests in flight (1 = no pipelining). */
  pipelining: number
  maxHeaderSize: number
  maxHeaderCount: number
  /** Retire the connection after this many requests were dispatched on it. */
  maxRequestsPerConnection?: number
  /** How long to hold a body for `100 Continue` before sending it anyway (RFC 9110 §10.1.1). Default 1000 ms. */
  expectContinueTimeout?: number
  tlsResumed: boolean | null
  /** The socket goes to a forwarding HTTP proxy: requests in absolute-form, with its header lines (src/proxy). */
  forwardProxy?: ForwardProxyForm
}

/**
 * Thrown from parser callbacks once the connection has been torn down inside one of them,
 * to unwind `execute()` without the parser delivering the rest of the chunk to anyone.
 */
const UNWIND: unique symbol = Symbol('unwind')

const DEFAULT_EXPECT_CONTINUE_TIMEOUT = 1000

/**
 * An upgrade request, or a CONNECT (whose 2xx makes the connection a tunnel, RFC 9112 §6.3
 * rule 2): its answer may take the socket, so it must be alone on the connection.
 */
function takesConnection(request: DispatchRequest): boolean {
  return request.upgrade !== undefined || request.method === 'CONNECT'
}

export class H1Connection extends EventEmitter<ConnectionEvents> implements PoolConnection {
  readonly id: number
  readonly protocol: Protocol = 'http/1.1'
  /** One request at a time on the wire's answer order; pipelining is not multiplexing. */
  readonly multiplexed = false
  /** The capacity of HTTP/1.1 is ours to set (pipelining), known from the start. */
  readonly capacityKnown = true
  /** HTTP/1.1 has no PING. */
  readonly rttMs = undefined
  /** An upgrade takes the whole HTTP/1.1 connection, never a share of it. */
  readonly extendedConnect = false
  readonly tlsResumed: boolean | null
  readonly remoteAddress: string | undefined
  readonly remotePort: number | undefined

  readonly #socket: Socket
  readonly #origin: string
  readonly #pipelining: number
  readonly #maxRequests: number
  readonly #forward: ForwardProxyForm | undefined
  readonly #parser: ResponseParser
  readonly #writer: RequestWriter

  /** The only holder of the connection's state; written by `#transition` alone. */
  #state: ConnectionState = OPEN
  /** Dispatched and unfinished, oldest first; responses are matched to `#queue[0]` (RFC 9112 §9.3.2). */
  #queue: Exchange[] = []
  /** Index in `#queue` of the first exchange whose head is not written yet. */
  #writeIdx = 0
  /** An upgrade or CONNECT request is in flight: it must be alone on the connection (takesConnection). */
  #exclusive = false
  #dispatched = 0
  #served = 0
  /** Inside `parser.execute()`/`finish()`: writes of newly dispatched requests wait until it returns. */
  #inParse = false
  /** Exchanges completed during the current chunk (the pool hears 'free' once per chunk). */
  #completedInChunk = 0
  /** Set by onHead on a switching head (101, CONNECT 2xx): the chunk handler hands the socket over. */
  #switchHead: ResponseHead | null = null
  #keepAliveHint: number | undefined = undefined
  /** The Keep-Alive value `#keepAliveHint` was parsed from: a server repeats the same one on every response. */
  #keepAliveValue: string | undefined = undefined
  #closeEmitted = false
  #tickScheduled = false

  readonly #deadline: ExchangeDeadline

  constructor(socket: Socket, options: H1ConnectionOptions) {
    super()
    this.id = options.id
    this.tlsResumed = options.tlsResumed
    this.#socket = socket
    this.#origin = options.origin
    this.#forward = options.forwardProxy
    this.#pipelining = integerOption('pipelining', options.pipelining, 1)
    this.#maxRequests = options.maxRequestsPerConnection ?? Infinity
    this.remoteAddress = socket.remoteAddress
    this.remotePort = socket.remotePort
    this.#parser = new ResponseParser(
      {
        onHead: (head) => this.#onHead(head),
        onBody: (chunk) => this.#onBody(chunk),
        onTrailers: (raw) => this.#onTrailers(raw),
        onMessageComplete: () => this.#onMessageComplete(),
      },
      { maxHeaderSize: options.maxHeaderSize, maxHeaderCount: options.maxHeaderCount },
    )
    const events: RequestWriterEvents = {
      bodySent: (ex) => {
        if (this.#queue[0] === ex) this.#watchOldest()
        this.#pump()
      },
      bodyFailed: (ex, err) => this.#fail(err, ex),
      sendBlocked: (ex) => {
        if (this.#queue[0] === ex) this.#watchOldest()
      },
      internalError: (err) => this.#internalError(err),
    }
    this.#writer = new RequestWriter(socket, this.#origin, events)
    this.#deadline = new ExchangeDeadline(options.expectContinueTimeout ?? DEFAULT_EXPECT_CONTINUE_TIMEOUT, this.#onExpired)
    // We never want a half-open socket: a peer FIN means the connection is over (and while
    // idle, that the pool must drop it now, not at the next request).
    socket.allowHalfOpen = false
    socket.on('data', this.#onData)
    socket.on('end', this.#onEnd)
    socket.on('error', this.#onError)
    socket.on('close', this.#onClose)
    if (socket.destroyed) {
      this.#teardown(new SocketClosedError('socket was already closed', { origin: this.#origin, responseStarted: false }), undefined, false)
      process.nextTick(this.#emitClose)
    }
  }

  // ── PoolConnection ──────────────────────────────────────────────────────────────────

  get capacity(): number {
    if (this.#state.kind !== 'open' || this.#exclusive) return 0
    return this.#pipelining - this.#queue.length
  }

  get inFlight(): number {
    return this.#queue.length
  }

  get requestsServed(): number {
    return this.#served
  }

  get retired(): boolean {
    return this.#state.kind !== 'open'
  }

  setKeepsProcessAlive(flag: boolean): void {
    if (flag) this.#socket.ref()
    else this.#socket.unref()
  }

  /** The idle timeout the last response announced in `Keep-Alive: timeout=N`, in ms. */
  get idleTimeoutHint(): number | undefined {
    return this.#keepAliveHint
  }

  /**
   * Queue a request. Throws InvalidArgumentError, without touching the handler, when the
   * connection cannot take it: no capacity, a non-idempotent or upgrade request on a busy
   * connection (a failure could not tell whether the server acted on it), or a request
   * that cannot be framed.
   */
  dispatch(request: DispatchRequest, handler: DispatchHandler): void {
    if (this.#state.kind !== 'open') throw new InvalidArgumentError(`connection ${this.id} is ${this.#state.kind} and takes no requests`)
    const busy = this.#queue.length
    if (busy >= this.#pipelining || this.#exclusive) throw new InvalidArgumentError(`connection ${this.id} has no free capacity`)
    if (busy > 0 && !request.idempotent) {
      throw new InvalidArgumentError('a non-idempotent request may only be dispatched on an idle connection')
    }
    const exclusive = takesConnection(request)
    if (busy > 0 && exclusive) {
      throw new InvalidArgumentError('an upgrade request (or a CONNECT) may only be dispatched on an idle connection')
    }
    const ex = frameExchange(request, handler, this.#forward)
    const body = request.body
    ex.resume = () => this.#resume(ex)
    const reused = this.#dispatched > 0
    this.#dispatched++
    this.#queue.push(ex)
    if (exclusive) this.#exclusive = true
    if (body !== null && body !== undefined && isReadable(body)) {
      // A Readable that errors before we start reading it would otherwise throw an
      // unhandled 'error' event; it fails this request instead.
      ex.onBodyError = (err) => this.#onBodyStreamError(ex, err)
      body.on('error', ex.onBodyError)
    }
    if (handler.onConnect !== undefined) {
      const thrown = announceConnection(handler, (reason) => this.#abort(ex, reason), this, reused)
      if (thrown !== undefined) this.#abort(ex, thrown)
      if (ex.done) return
    }
    if (this.#dispatched >= this.#maxRequests) this.#retire('maximum requests per connection reached', null)
    this.#pump()
  }

  /**
   * HTTP/1.1 has no ping frame and sending a request to probe would change server state,
   * so this only reports whether the socket is still open and writable: it resolves 0 (no
   * round trip was measured) or rejects with SocketClosedError.
   */
  ping(): Promise<number> {
    if (this.#isLive() && this.#socket.writable && !this.#socket.destroyed) {
      return Promise.resolve(0)
    }
    return Promise.reject(new SocketClosedError('connection is closed', { origin: this.#origin, responseStarted: false }))
  }

  /** Graceful: no new requests, in-flight ones finish (queued ones are still sent), then the socket closes. */
  close(): Promise<void> {
    if (this.#closeEmitted) return Promise.resolve()
    const done = new Promise<void>((resolve) => this.once('close', () => resolve()))
    if (this.#state.kind === 'open') this.#retire('close() called', null)
    if (this.#state.kind === 'draining') this.#maybeFinishDrain()
    return done
  }

  /** Fail every unfinished request with `err` (or a SocketClosedError each) and close the socket now. */
  destroy(err?: WirepoolError): void {
    if (!this.#isLive()) return
    if (err !== undefined && err.origin === undefined) err.origin = this.#origin
    this.#teardown(err, err === undefined ? undefined : () => err, false)
  }

  // ── writing (the order; RequestWriter does the bytes) ───────────────────────────────

  /** Write every head (and in-memory body) that may go now, in dispatch order. */
  #pump(): void {
    if (this.#inParse || this.#writer.writing !== null || this.#state.final !== null) return
    if (!this.#isLive()) return
    const writer = this.#writer
    if (this.#pipelining > 1 && this.#writeIdx < this.#queue.length) writer.corkUntilNextTick()
    while (this.#writeIdx < this.#queue.length) {
      const ex = this.#queue[this.#writeIdx] as Exchange
      // An exchange holding its body for 100-continue is only started once it is the
      // oldest: then the 1xx, the timer and an early final response are all unambiguously its.
      if (this.#writeIdx !== 0 && ex.request.expectContinue && ex.contentLength !== 0) return
      this.#writeIdx++
      const sent = writer.start(ex)
      // On the wire in full, its response deadline starts; held for 100-continue, that wait
      // does (always the oldest then); streaming, nothing is watched until it is sent.
      if (this.#queue[0] === ex) this.#watchOldest()
      // Held or streaming: later heads wait for its body.
      if (!sent) return
    }
  }

  /** 100 Continue arrived, or the wait for it is over: the held body goes. */
  #release(ex: Exchange): void {
    this.#writer.release(ex)
    if (this.#isLive()) this.#watchOldest()
  }

  /** A Readable body errored outside our iteration (while queued or held for 100-continue). */
  #onBodyStreamError(ex: Exchange, err: Error): void {
    if (ex.done || ex.write === WriteState.STREAMING || ex.write === WriteState.SENT) return
    const error = bodyStreamError(err, this.#origin)
    if (ex.write === WriteState.QUEUED) this.#dropUnsent(ex, error)
    else this.#fail(error, ex)
  }

  // ── reading ─────────────────────────────────────────────────────────────────────────

  #onData = (chunk: Buffer): void => {
    if (!this.#isLive()) return
    const first = this.#queue[0]
    if (first !== undefined) {
      if (first.read === ReadState.WAITING && first.write !== WriteState.QUEUED) this.#moveRead(first, ReadState.STARTED)
      // The parser decides framing from the request (RFC 9112 §6.3); pipelined responses
      // that follow in this chunk are announced from #onMessageComplete.
      this.#parser.expectResponse(first.request.method, first.request.upgrade !== undefined)
    }
    let consumed: number
    this.#inParse = true
    try {
      consumed = this.#parser.execute(chunk)
    } catch (err) {
      this.#inParse = false
      this.#onParseThrow(err)
      return
    }
    this.#inParse = false
    if (this.#switchHead !== null) {
      this.#handOver(this.#switchHead, chunk.subarray(consumed))
      return
    }
    // A retired connection whose last response just ended closes here (the parser may now
    // be in its after-close state, which is not "idle" but expects nothing more).
    if (this.#maybeFinishDrain()) return
    if (!this.#parser.idle) {
      // Part of a response is in: it must belong to a request we have sent; otherwise the
      // peer is answering nothing, and the bytes would poison the next request's response.
      const next = this.#queue[0]
      if (next === undefined || next.write === WriteState.QUEUED) {
        this.#fail(this.#unsolicited(), undefined)
        return
      }
      if (next.read === ReadState.WAITING) this.#moveRead(next, ReadState.STARTED)
    }
    this.#afterChunk()
  }

  /** After a chunk (or an abort tick): close a drained connection, or write and report capacity. */
  #afterChunk(): void {
    const completed = this.#completedInChunk
    this.#completedInChunk = 0
    if (this.#maybeFinishDrain()) return
    this.#pump()
    if (completed > 0 && this.#state.kind === 'open' && this.capacity > 0) {
      try {
        this.emit('free')
      } catch (err) {
        // A throwing 'free' listener must not escape into the socket's event emission.
        this.#fail(toWirepoolError(err, this.#origin), undefined)
      }
    }
  }

  #onHead(head: ResponseHead): void {
    if (!this.#isLive()) throw UNWIND
    const ex = this.#queue[0]
    if (ex === undefined || ex.write === WriteState.QUEUED) {
      this.#fail(this.#unsolicited(), undefined)
      throw UNWIND
    }
    if (ex.read === ReadState.WAITING) this.#moveRead(ex, ReadState.STARTED)
    const status = head.statusCode
    if (head.framing === Framing.SWITCHED) {
      // A 101 to our Upgrade request, or a 2xx to our CONNECT: the parser stops after this
      // head, and the chunk handler hands the socket over.
      this.#switchHead = head
      return
    }
    if (status < 200) {
      if (status === 101) {
        // RFC 9110 §15.2.2: only meaningful as the answer to our Upgrade request. The parser
        // refuses it too; failing here first names the request in the error.
        this.#fail(new H1ParseError('101 Switching Protocols for a request that asked for no upgrade', 0, { origin: this.#origin }), ex)
        throw UNWIND
      }
      // RFC 9110 §15.2: a client MUST be able to parse 1xx responses it did not expect,
      // so an unsolicited 100 or a 103 is delivered and we keep waiting for the final one.
      const onInformational = ex.handler.onInformational
      if (onInformational !== undefined) {
        try {
          onInformational.call(ex.handler, status, rawHeadersToRecord(head.rawHeaders))
        } catch (err) {
          this.#handlerThrew(ex, err)
        }
        if (!this.#isLive()) throw UNWIND
      }
      if (status === 100 && ex.write === WriteState.AWAITING_CONTINUE) this.#release(ex)
      return
    }

    // The parser decided framing and persistence (RFC 9112 §6.3, §9.3) knowing the request;
    // here only what they mean for this connection.
    let retireReason: string | undefined
    if (ex.write !== WriteState.SENT) {
      // A final response before the body was (fully) sent: stop sending it. The server has
      // not read the rest, so the connection can never carry another request.
      this.#writer.abandon(ex)
      retireReason = 'final response arrived before the request body was sent'
    } else if (!head.keepAlive) {
      retireReason = whyNotPersistent(head)
    }
    if (retireReason !== undefined) {
      this.#retire(retireReason, ex)
      if (!this.#isLive()) throw UNWIND // a 'draining' listener destroyed us
    }

    const headers = rawHeadersToRecord(head.rawHeaders)
    const keepAlive = headers['keep-alive']
    if (typeof keepAlive !== 'string') {
      this.#keepAliveValue = undefined
      this.#keepAliveHint = undefined
    } else if (keepAlive !== this.#keepAliveValue) {
      this.#keepAliveValue = keepAlive
      this.#keepAliveHint = parseKeepAliveTimeout(keepAlive)
    }
    if (!this.#moveRead(ex, ReadState.BODY)) throw UNWIND
    ex.responseLength = head.contentLength
    ex.resumeEarly = false
    let goOn: boolean | void
    try {
      goOn = ex.handler.onHeaders(status, headers, ex.resume, head.statusText, head.rawHeaders)
    } catch (err) {
      this.#handlerThrew(ex, err)
      throw UNWIND
    }
    if (!this.#isLive()) throw UNWIND
    if (goOn === false) this.#pause(ex)
    this.#watchOldest()
  }

  #onBody(chunk: Uint8Array): void {
    this.#deadline.bodyChunk()
    const ex = this.#queue[0] as Exchange
    ex.resumeEarly = false
    ex.bodyReceived += chunk.byteLength
    let goOn: boolean | void
    try {
      goOn = ex.handler.onData(chunk)
    } catch (err) {
      this.#handlerThrew(ex, err)
      throw UNWIND
    }
    if (!this.#isLive()) throw UNWIND
    if (goOn === false) this.#pause(ex)
  }

  #onTrailers(raw: string[]): void {
    const ex = this.#queue[0] as Exchange
    const onTrailers = ex.handler.onTrailers
    if (onTrailers === undefined) return
    try {
      onTrailers.call(ex.handler, rawHeadersToRecord(raw))
    } catch (err) {
      this.#handlerThrew(ex, err)
      throw UNWIND
    }
    if (!this.#isLive()) throw UNWIND
  }

  #onMessageComplete(): void {
    const ex = this.#queue.shift() as Exchange
    this.#writeIdx--
    this.#served++
    if (!this.#markDone(ex)) throw UNWIND
    // An exclusive request is alone on the connection: whichever finished, it was that one.
    this.#exclusive = false
    this.#completedInChunk++
    const wasPaused = ex.paused
    try {
      ex.handler.onComplete()
    } catch (err) {
      this.#fail(new AbortedError('request handler threw in onComplete', { cause: err, origin: this.#origin }), undefined)
      throw UNWIND
    }
    if (!this.#isLive()) throw UNWIND
    if (ex === this.#state.final) {
      // Nothing after this response may be read as a response of ours.
      this.#maybeFinishDrain()
      throw UNWIND
    }
    // The next response in this chunk (pipelining) answers the next request.
    const next = this.#queue[0]
    if (next !== undefined) this.#parser.expectResponse(next.request.method, next.request.upgrade !== undefined)
    // The pause was for this body; the next response must flow.
    if (wasPaused) this.#socket.resume()
    this.#watchOldest()
  }

  #pause(ex: Exchange): void {
    if (ex.resumeEarly) {
      ex.resumeEarly = false
      return
    }
    if (ex.paused) return
    ex.paused = true
    this.#socket.pause()
    this.#deadline.pause()
  }

  #resume(ex: Exchange): void {
    if (ex.done || !this.#isLive()) return
    if (!ex.paused) {
      ex.resumeEarly = true
      return
    }
    ex.paused = false
    this.#socket.resume()
    this.#watchOldest()
  }

  /** Peer FIN: a close-delimited body ends here (RFC 9112 §6.3 rule 8); anything else unfinished fails. */
  #onEnd = (): void => {
    if (!this.#isLive()) return
    this.#inParse = true
    try {
      this.#parser.finish()
    } catch (err) {
      this.#inParse = false
      this.#onParseThrow(this.#incompleteBody(err))
      return
    }
    this.#inParse = false
    if (this.#queue.length === 0) {
      // Idle (or just finished): an ordinary close. The pool drops the connection on 'close'.
      this.#teardown(undefined, undefined, false)
    } else {
      this.#fail(new SocketClosedError('connection closed by the peer before the response completed', { origin: this.#origin }), undefined)
    }
  }

  /**
   * A FIN inside a Content-Length or chunked body (RFC 9112 §8: an incomplete message) is
   * not a malformed response but a short one: say how much of it arrived.
   */
  #incompleteBody(err: unknown): unknown {
    const ex = this.#queue[0]
    if (!(err instanceof H1ParseError) || err.reason !== ParseReason.UNEXPECTED_EOF || ex === undefined || ex.read !== ReadState.BODY) return err
    return new BodyIncompleteError(ex.bodyReceived, ex.responseLength === -1 ? undefined : ex.responseLength, { origin: this.#origin, cause: err })
  }

  #onError = (err: Error): void => {
    if (!this.#isLive()) return
    this.#fail(this.#lostError(err.message, err), undefined)
  }

  /**
   * The socket went away (error or close) with requests outstanding. In the middle of a
   * response body that is the same short body a FIN there is — which of error, close or end
   * a peer's RST surfaces as differs between Node versions —, so say how much arrived.
   */
  #lostError(message: string, cause: Error | undefined): WirepoolError {
    const ex = this.#queue[0]
    if (ex !== undefined && ex.read === ReadState.BODY) {
      return new BodyIncompleteError(ex.bodyReceived, ex.responseLength === -1 ? undefined : ex.responseLength, { origin: this.#origin, ...(cause === undefined ? {} : { cause }) })
    }
    return new SocketClosedError(message, { origin: this.#origin, ...(cause === undefined ? {} : { cause }) })
  }

  #onClose = (): void => {
    if (this.#isLive()) {
      const err = this.#queue.length === 0 ? undefined : this.#lostError('socket closed', undefined)
      if (err === undefined) this.#teardown(undefined, undefined, false)
      else this.#fail(err, undefined)
    }
    this.#emitClose()
  }

  #emitClose = (): void => {
    if (this.#closeEmitted) return
    this.#closeEmitted = true
    const state = this.#state
    this.emit('close', state.kind === 'closed' ? state.error : undefined)
  }

  #onParseThrow(err: unknown): void {
    if (err === UNWIND) return // the connection was already torn down inside a callback
    if (!this.#isLive()) return
    const error = toWirepoolError(err, this.#origin)
    const first = this.#queue[0]
    this.#fail(error, first !== undefined && first.write !== WriteState.QUEUED ? first : undefined)
  }

  #unsolicited(): H1ParseError {
    return new H1ParseError('response bytes arrived with no request in flight', 0, { origin: this.#origin })
  }

  /**
   * 101 for our Upgrade request (or 2xx for our CONNECT): step aside and give the socket,
   * with any bytes after the head, to the handler.
   */
  #handOver(head: ResponseHead, rest: Uint8Array): void {
    const ex = this.#queue.shift() as Exchange
    this.#switchHead = null
    if (!this.#transition(UPGRADED)) return
    this.#deadline.stop()
    const socket = this.#socket
    // Paused so that no byte is emitted before the new owner listens; it calls resume().
    socket.pause()
    socket.off('data', this.#onData)
    socket.off('end', this.#onEnd)
    socket.off('error', this.#onError)
    socket.off('close', this.#onClose)
    this.#writer.detach()
    this.#writer.abandon(ex)
    // The upgrade request was alone on the connection (dispatch enforces it): nothing else to finish.
    this.#writeIdx = 0
    this.#served++
    this.#markDone(ex)
    const error = deliverSocket(ex, head, socket, rest, this.#origin)
    if (error !== undefined) this.#transition(closed(error))
    this.#emitClose()
  }

  // ── lifecycle ───────────────────────────────────────────────────────────────────────

  /** Open or draining: the socket is ours and requests may still be in flight. */
  #isLive(): boolean {
    const kind = this.#state.kind
    return kind === 'open' || kind === 'draining'
  }

  /**
   * The one place `#state` changes. An unlisted move throws under tests; in production it
   * is not made, the connection fails with an internal error, and this returns false.
   */
  #transition(to: ConnectionState): boolean {
    const from = this.#state
    if (!isListedMove(from.kind, to.kind)) {
      this.#internalError(new IllegalTransitionError('H1Connection', from.kind, to.kind, { origin: this.#origin }))
      return false
    }
    this.#state = to
    if (to.kind === 'draining' && from.kind !== 'draining') this.emit('draining', to.reason)
    return true
  }

  /**
   * A state machine refused a move (production only; tests throw where it happens): a bug
   * of ours, so the connection can no longer be trusted. Every unfinished request fails.
   */
  #internalError(err: IllegalTransitionError): void {
    if (!this.#isLive()) return
    this.#fail(err, undefined)
  }

  /** The one place an exchange's response progress changes; false (production) for an unlisted move. */
  #moveRead(ex: Exchange, to: ReadState): boolean {
    if (ex.moveRead(to)) return true
    this.#internalError(new IllegalTransitionError('response read', READ_NAMES[ex.read], READ_NAMES[to], { origin: this.#origin }))
    return false
  }

  /**
   * No new requests. With `final`, the peer will answer nothing after that exchange either
   * (RFC 9112 §9.6: a server that sends "close" closes after that response), so later
   * exchanges are never written and fail as not started when it is done.
   */
  #retire(reason: string, final: Exchange | null): void {
    const state = this.#state
    if (state.kind === 'open') this.#transition(draining(reason, final))
    else if (state.kind === 'draining' && final !== null && state.final === null) this.#transition(draining(state.reason, final))
  }

  /**
   * A draining connection closes once its final exchange is done, or, without one, once
   * nothing is in flight. Exchanges left then fail with a SocketClosedError (not started:
   * the pool may send them elsewhere).
   */
  #maybeFinishDrain(): boolean {
    const state = this.#state
    if (state.kind !== 'draining') return false
    const final = state.final
    if (final !== null ? !final.done : this.#queue.length > 0) return false
    this.#teardown(undefined, undefined, true)
    return true
  }

  /** A failure: `culprit` (if any) gets `err`; every other unfinished exchange a SocketClosedError. */
  #fail(err: WirepoolError, culprit: Exchange | undefined): void {
    this.#teardown(err, culprit === undefined ? undefined : (ex) => (ex === culprit ? err : undefined), false)
  }

  #handlerThrew(ex: Exchange, err: unknown): void {
    this.#fail(new AbortedError('request handler threw', { cause: err, origin: this.#origin }), ex)
  }

  /**
   * Close the connection and end every unfinished exchange exactly once: `errorFor(ex)`
   * when it returns an error, else a SocketClosedError that says whether its response had
   * started. `closeErr` is what 'close' will carry (undefined for an orderly close).
   */
  #teardown(closeErr: WirepoolError | undefined, errorFor: ((ex: Exchange) => WirepoolError | undefined) | undefined, graceful: boolean): void {
    if (!this.#isLive()) return
    this.#transition(closed(closeErr))
    this.#deadline.stop()
    const writing = this.#writer.writing
    if (writing !== null) this.#writer.abandon(writing)
    const queue = this.#queue
    this.#queue = []
    this.#writeIdx = 0
    const socket = this.#socket
    if (graceful && !socket.destroyed) {
      socket.end()
      if (socket.writableFinished) socket.destroy()
      else socket.once('finish', () => socket.destroy())
    } else {
      socket.destroy()
    }
    // A socket-level failure is already a SocketClosedError: its cause (ECONNRESET…) is the
    // more useful cause for each request's own SocketClosedError.
    const cause = closeErr instanceof SocketClosedError && closeErr.cause !== undefined ? closeErr.cause : closeErr
    for (const ex of queue) {
      const own = errorFor?.(ex)
      const what = ex.write === WriteState.QUEUED ? 'before the request was sent' : 'before the response completed'
      const message = closeErr === undefined ? `connection closed ${what}` : `connection failed ${what}: ${closeErr.message}`
      this.#failExchange(
        ex,
        own ??
          new SocketClosedError(message, {
            origin: this.#origin,
            responseStarted: ex.responseStarted,
            ...(cause === undefined ? {} : { cause }),
          }),
      )
    }
  }

  /** Remove an exchange whose head was never written; the connection is unaffected. */
  #dropUnsent(ex: Exchange, err: WirepoolError): void {
    const index = this.#queue.indexOf(ex)
    if (index === -1) return
    this.#queue.splice(index, 1)
    this.#exclusive = false // (an exclusive request is alone: it was this one)
    this.#failExchange(ex, err)
    // Capacity grew: tell the pool, but not from inside whatever call got us here.
    if (!this.#tickScheduled) {
      this.#tickScheduled = true
      process.nextTick(this.#tick)
    }
  }

  #tick = (): void => {
    this.#tickScheduled = false
    if (!this.#isLive()) return
    this.#completedInChunk++
    this.#afterChunk()
  }

  #abort(ex: Exchange, reason: Error | undefined): void {
    if (ex.done || !this.#isLive()) return
    // A WirepoolError is the pool's own verdict (WP_ABORTED whose cause is signal.reason, the
    // request's overall timeout): it reaches the caller as it is.
    const err = reason instanceof WirepoolError ? reason : new AbortedError(reason?.message ?? 'request aborted', { origin: this.#origin, ...(reason === undefined ? {} : { cause: reason }) })
    // Never written: simply forget it. Otherwise HTTP/1.1 has no way to cancel one request
    // but closing the connection (RFC 9112 §9.6); the others fail as SocketClosedError.
    if (ex.write === WriteState.QUEUED) this.#dropUnsent(ex, err)
    else this.#fail(err, ex)
  }

  /** Deliver the one final error of an exchange. */
  #failExchange(ex: Exchange, err: WirepoolError): void {
    if (ex.done) return
    this.#markDone(ex)
    try {
      ex.handler.onError(err)
    } catch {
      // The handler failed while being told of its own failure; there is nobody left to tell.
    }
  }

  /** The exchange is done (completed, failed or upgraded): its response reads nothing more, its body stream is let go. */
  #markDone(ex: Exchange): boolean {
    const listener = ex.onBodyError
    if (listener !== undefined) {
      ex.onBodyError = undefined
      ;(ex.request.body as Readable).off('error', listener)
    }
    return this.#moveRead(ex, ReadState.DONE)
  }

  // ── the one deadline ────────────────────────────────────────────────────────────────

  /** Point the deadline at what the oldest exchange waits for (exchange-deadline.ts). */
  #watchOldest(): void {
    const oldest = this.#isLive() ? (this.#queue[0] ?? null) : null
    this.#deadline.watch(oldest, oldest !== null && this.#writer.blocked && this.#writer.writing === oldest)
  }

  #onExpired = (watch: Watch, ex: Exchange, ms: number): void => {
    if (watch === Watch.CONTINUE) {
      if (ex.write === WriteState.AWAITING_CONTINUE) this.#release(ex)
    } else if (watch === Watch.HEADERS) {
      this.#fail(new HeadersTimeoutError(ms, { origin: this.#origin }), ex)
    } else if (watch === Watch.SEND) {
      // The server stopped reading our body: the request fails with a code of its own, and
      // the connection (destroyed by #fail, as on every timeout) is never reused.
      this.#fail(new SendTimeoutError(ms, { origin: this.#origin }), ex)
    } else {
      this.#fail(new BodyTimeoutError(ms, { origin: this.#origin }), ex)
    }
  }
}
