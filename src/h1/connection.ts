/**
 * H1Connection: one HTTP/1.1 connection driven for the pool through the PoolConnection
 * contract. The sans-I/O ResponseParser reads; serialize.ts frames what we write; this file
 * is the glue: request ordering, keep-alive and retirement (RFC 9112 §9), optional
 * pipelining, 1xx and 100-continue, upgrades, backpressure in both directions, one timer,
 * and making every failure reach every affected handler exactly once.
 *
 * Life of the connection (`#state`, changed only by `#transition`):
 *
 *   open ──► draining ──► closed        draining: no new requests, in-flight ones finish
 *   open ──► closed                     failure, destroy(), or the peer went away
 *   open | draining ──► upgraded        101: the socket now belongs to the upgrade handler
 */
import { EventEmitter } from 'node:events'
import type { Socket } from 'node:net'
import type { Duplex, Readable } from 'node:stream'
import type {
  ConnectionEvents,
  ConnectionInfo,
  DispatchHandler,
  DispatchRequest,
  PoolConnection,
  Protocol,
} from '../dispatch.js'
import {
  AbortedError,
  BodyTimeoutError,
  H1ParseError,
  HeadersTimeoutError,
  InvalidArgumentError,
  SocketClosedError,
  WirepoolError,
  toWirepoolError,
} from '../errors.js'
import { parseKeepAliveTimeout, rawHeadersToRecord } from '../http/headers.js'
import { Exchange, ReadState, WriteState } from './exchange.js'
import { BodyMode, type ResponseHead } from './parser-events.js'
import { ResponseParser } from './parser.js'
import { LAST_CHUNK, contentLengthOf, serializeHead, writeChunk, writeHead } from './serialize.js'

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
}

type ConnectionState = 'open' | 'draining' | 'closed' | 'upgraded'

/** What the one per-connection timer currently measures; it always concerns the oldest exchange. */
const TimerKind = { NONE: 0, CONTINUE: 1, HEADERS: 2, BODY: 3 } as const
type TimerKind = (typeof TimerKind)[keyof typeof TimerKind]

/**
 * Thrown from parser callbacks once the connection has been torn down inside one of them,
 * to unwind `execute()` without the parser delivering the rest of the chunk to anyone.
 */
const UNWIND: unique symbol = Symbol('unwind')

const DEFAULT_EXPECT_CONTINUE_TIMEOUT = 1000

function isReadable(body: unknown): body is Readable {
  return typeof (body as Readable).on === 'function' && typeof (body as Readable).destroy === 'function'
}

function isAsyncIterable(body: unknown): body is AsyncIterable<unknown> {
  return typeof (body as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function'
}

/**
 * RFC 9112 §9.3 persistence from the Connection field alone: `close` ends it; HTTP/1.0
 * needs `keep-alive`. Used for HEAD responses, whose missing length means nothing.
 */
function persistsAfterBodyless(head: ResponseHead, headers: Record<string, string | string[]>): boolean {
  const field = headers['connection']
  const tokens = (Array.isArray(field) ? field.join(',') : field ?? '').toLowerCase().split(',').map((t) => t.trim())
  if (tokens.includes('close')) return false
  return head.versionMinor === 1 || tokens.includes('keep-alive')
}

function toBytes(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value
  if (typeof value === 'string') return Buffer.from(value, 'utf8')
  throw new InvalidArgumentError('request body streams must produce Uint8Array (or string) chunks')
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
  readonly #continueTimeout: number
  readonly #parser: ResponseParser

  #state: ConnectionState = 'open'
  /**
   * Set when a response ends the connection's useful life (Connection: close, doubtful
   * framing, early response): no response after this exchange's is trusted and no further
   * request head is written. The connection closes once it is done.
   */
  #finalExchange: Exchange | null = null
  /** Dispatched and unfinished, oldest first; responses are matched to `#queue[0]` (RFC 9112 §9.3.2). */
  #queue: Exchange[] = []
  /** Index in `#queue` of the first exchange whose head is not written yet. */
  #writeIdx = 0
  /** The exchange whose body is being written (or held for 100-continue); blocks later heads. */
  #writing: Exchange | null = null
  /** An upgrade request is in flight: it must be alone on the connection. */
  #exclusive = false
  #dispatched = 0
  #served = 0
  /** Inside `parser.execute()`/`finish()`: writes of newly dispatched requests wait until it returns. */
  #inParse = false
  /** Exchanges completed during the current chunk (the pool hears 'free' once per chunk). */
  #completedInChunk = 0
  /** Set by onHead on a 101 for an upgrade request: the chunk handler hands the socket over. */
  #upgradeHead: ResponseHead | null = null
  #keepAliveHint: number | undefined = undefined
  /** The Keep-Alive value `#keepAliveHint` was parsed from: a server repeats the same one on every response. */
  #keepAliveValue: string | undefined = undefined
  #closeErr: WirepoolError | undefined = undefined
  #closeEmitted = false
  #tickScheduled = false
  #drainWaiter: (() => void) | null = null

  #timer: NodeJS.Timeout | undefined = undefined
  #timerKind: TimerKind = TimerKind.NONE
  #timerMs = 0
  /** The socket is corked until the next tick so that pipelined heads leave in one write. */
  #corked = false

  constructor(socket: Socket, options: H1ConnectionOptions) {
    super()
    const { pipelining } = options
    if (!Number.isInteger(pipelining) || pipelining < 1) {
      throw new InvalidArgumentError(`pipelining must be an integer ≥ 1, got ${pipelining}`)
    }
    this.id = options.id
    this.tlsResumed = options.tlsResumed
    this.#socket = socket
    this.#origin = options.origin
    this.#pipelining = pipelining
    this.#maxRequests = options.maxRequestsPerConnection ?? Infinity
    this.#continueTimeout = options.expectContinueTimeout ?? DEFAULT_EXPECT_CONTINUE_TIMEOUT
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
    // We never want a half-open socket: a peer FIN means the connection is over (and while
    // idle, that the pool must drop it now, not at the next request).
    socket.allowHalfOpen = false
    socket.on('data', this.#onData)
    socket.on('end', this.#onEnd)
    socket.on('error', this.#onError)
    socket.on('close', this.#onClose)
    socket.on('drain', this.#onDrain)
    if (socket.destroyed) {
      this.#teardown(new SocketClosedError('socket was already closed', { origin: this.#origin, responseStarted: false }), undefined, false)
      process.nextTick(this.#emitClose)
    }
  }

  // ── PoolConnection ──────────────────────────────────────────────────────────────────

  get capacity(): number {
    if (this.#state !== 'open' || this.#exclusive) return 0
    return this.#pipelining - this.#queue.length
  }

  get inFlight(): number {
    return this.#queue.length
  }

  get requestsServed(): number {
    return this.#served
  }

  get retired(): boolean {
    return this.#state !== 'open'
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
    if (this.#state !== 'open') throw new InvalidArgumentError(`connection ${this.id} is ${this.#state} and takes no requests`)
    const busy = this.#queue.length
    if (busy >= this.#pipelining || this.#exclusive) throw new InvalidArgumentError(`connection ${this.id} has no free capacity`)
    if (busy > 0 && !request.idempotent) {
      throw new InvalidArgumentError('a non-idempotent request may only be dispatched on an idle connection')
    }
    if (busy > 0 && request.upgrade !== undefined) {
      throw new InvalidArgumentError('an upgrade request may only be dispatched on an idle connection')
    }
    const body = request.body
    const contentLength = contentLengthOf(request)
    if (typeof body === 'string') {
      if (Buffer.byteLength(body) !== contentLength) throw new InvalidArgumentError('bodyLength does not match the string body')
    } else if (body instanceof Uint8Array) {
      if (body.byteLength !== contentLength) throw new InvalidArgumentError('bodyLength does not match the body')
    } else if (body !== null && body !== undefined && !isAsyncIterable(body)) {
      throw new InvalidArgumentError('body must be a string, Uint8Array, Readable or AsyncIterable<Uint8Array>')
    }
    const ex = new Exchange(request, handler, serializeHead(request), contentLength)
    ex.resume = () => this.#resume(ex)
    const reused = this.#dispatched > 0
    this.#dispatched++
    this.#queue.push(ex)
    if (request.upgrade !== undefined) this.#exclusive = true
    if (body !== null && body !== undefined && isReadable(body)) {
      // A Readable that errors before we start reading it would otherwise throw an
      // unhandled 'error' event; it fails this request instead.
      ex.onBodyError = (err) => this.#onBodyStreamError(ex, err)
      body.on('error', ex.onBodyError)
    }
    if (handler.onConnect !== undefined) {
      const info: ConnectionInfo = {
        id: this.id,
        reused,
        tlsResumed: this.tlsResumed,
        remoteAddress: this.remoteAddress,
        remotePort: this.remotePort,
        protocol: this.protocol,
      }
      try {
        handler.onConnect((reason) => this.#abort(ex, reason), info)
      } catch (err) {
        this.#abort(ex, err instanceof Error ? err : new Error(String(err)))
      }
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
    const closed = new Promise<void>((resolve) => this.once('close', () => resolve()))
    if (this.#state === 'open') this.#retire('close() called', null)
    if (this.#state === 'draining') this.#maybeFinishDrain()
    return closed
  }

  /** Fail every unfinished request with `err` (or a SocketClosedError each) and close the socket now. */
  destroy(err?: WirepoolError): void {
    if (!this.#isLive()) return
    if (err !== undefined && err.origin === undefined) err.origin = this.#origin
    this.#teardown(err, err === undefined ? undefined : () => err, false)
  }

  // ── writing ─────────────────────────────────────────────────────────────────────────

  /** Write every head (and in-memory body) that may go now, in dispatch order. */
  #pump(): void {
    if (this.#inParse || this.#writing !== null || this.#finalExchange !== null) return
    if (!this.#isLive()) return
    const socket = this.#socket
    if (this.#pipelining > 1 && !this.#corked && this.#writeIdx < this.#queue.length) {
      // Requests dispatched in the same tick (a pipelined burst, or the follow-ups that
      // completed responses trigger) leave in one writev: one trip into the kernel instead
      // of one per request (PERF.md). Without pipelining there is never a second request
      // to wait for, so the head is written at once.
      socket.cork()
      this.#corked = true
      process.nextTick(this.#uncork)
    }
    while (this.#writeIdx < this.#queue.length) {
      const ex = this.#queue[this.#writeIdx] as Exchange
      const body = ex.request.body
      const expectContinue = ex.request.expectContinue && ex.contentLength !== 0
      // An exchange holding its body for 100-continue is only started once it is the
      // oldest: then the 1xx, the timer and an early final response are all unambiguously its.
      if (expectContinue && this.#writeIdx !== 0) return
      this.#writeIdx++
      if (expectContinue) {
        writeHead(socket, ex.head)
        ex.write = WriteState.AWAITING_CONTINUE
        this.#writing = ex
        this.#armTimer()
        return
      }
      if (body === null || body === undefined || typeof body === 'string' || body instanceof Uint8Array) {
        writeHead(socket, ex.head, body ?? undefined)
        this.#sent(ex)
        continue
      }
      writeHead(socket, ex.head)
      this.#startStreaming(ex)
      return
    }
  }

  #uncork = (): void => {
    this.#corked = false
    this.#socket.uncork()
  }

  /** The request is on the wire in full: its response deadline starts if it is the oldest. */
  #sent(ex: Exchange): void {
    ex.write = WriteState.SENT
    if (this.#writing === ex) this.#writing = null
    if (this.#queue[0] === ex) this.#armTimer()
  }

  /** 100 Continue arrived, or we waited long enough (RFC 9110 §10.1.1): send the held body. */
  #releaseHeldBody(ex: Exchange): void {
    const body = ex.request.body
    if (typeof body === 'string' || body instanceof Uint8Array) {
      this.#socket.write(body)
      this.#sent(ex)
      this.#pump()
    } else {
      this.#startStreaming(ex)
    }
  }

  #startStreaming(ex: Exchange): void {
    ex.write = WriteState.STREAMING
    this.#writing = ex
    this.#timerKind = TimerKind.NONE
    void this.#streamBody(ex)
  }

  /**
   * Copy a Readable / AsyncIterable body to the socket: chunked when its length is unknown
   * (RFC 9112 §7.1), raw and counted when declared (a length mismatch would desynchronise
   * the peer, RFC 9112 §6.3, so it fails the request and the socket). Waits for 'drain'
   * whenever the socket buffer is full.
   */
  async #streamBody(ex: Exchange): Promise<void> {
    const socket = this.#socket
    const declared = ex.contentLength
    let sent = 0
    try {
      const iterator = (ex.request.body as AsyncIterable<unknown>)[Symbol.asyncIterator]()
      ex.iterator = iterator
      for (;;) {
        const step = await iterator.next()
        if (ex.write !== WriteState.STREAMING) return
        if (step.done === true) break
        const chunk = toBytes(step.value)
        if (chunk.byteLength === 0) continue
        sent += chunk.byteLength
        if (declared >= 0 && sent > declared) {
          throw new InvalidArgumentError(`request body is longer than its declared ${declared} bytes`)
        }
        const ok = declared < 0 ? writeChunk(socket, chunk) : socket.write(chunk)
        if (!ok) {
          await new Promise<void>((resolve) => (this.#drainWaiter = resolve))
          if (ex.write !== WriteState.STREAMING) return
        }
      }
      if (declared >= 0 && sent !== declared) {
        throw new InvalidArgumentError(`request body ended after ${sent} of its declared ${declared} bytes`)
      }
      if (declared < 0) socket.write(LAST_CHUNK, 'latin1')
    } catch (err) {
      if (ex.write !== WriteState.STREAMING) return // we abandoned it; the error is a consequence
      ex.iterator = undefined
      this.#fail(this.#bodyError(err), ex)
      return
    }
    ex.iterator = undefined
    this.#sent(ex)
    this.#pump()
  }

  #bodyError(err: unknown): WirepoolError {
    if (err instanceof WirepoolError) {
      if (err.origin === undefined) err.origin = this.#origin
      return err
    }
    return new AbortedError('request body stream failed', { cause: err, origin: this.#origin, initiator: 'user' })
  }

  /** A Readable body errored outside our iteration (while queued or held for 100-continue). */
  #onBodyStreamError(ex: Exchange, err: Error): void {
    if (ex.done || ex.write === WriteState.STREAMING || ex.write === WriteState.SENT) return
    const error = this.#bodyError(err)
    if (ex.write === WriteState.QUEUED) this.#dropUnsent(ex, error)
    else this.#fail(error, ex)
  }

  /** Stop writing `ex`'s body for good (final response first, or failure). */
  #abandonBody(ex: Exchange): void {
    if (ex.write !== WriteState.AWAITING_CONTINUE && ex.write !== WriteState.STREAMING) return
    ex.write = WriteState.ABANDONED
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

  #onDrain = (): void => {
    const waiter = this.#drainWaiter
    if (waiter === null) return
    this.#drainWaiter = null
    waiter()
  }

  // ── reading ─────────────────────────────────────────────────────────────────────────

  #onData = (chunk: Buffer): void => {
    if (!this.#isLive()) return
    const first = this.#queue[0]
    if (first !== undefined && first.read === ReadState.WAITING && first.write !== WriteState.QUEUED) {
      first.read = ReadState.STARTED
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
    if (this.#upgradeHead !== null) {
      this.#handOver(this.#upgradeHead, chunk.subarray(consumed))
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
      if (next.read === ReadState.WAITING) next.read = ReadState.STARTED
    }
    this.#afterChunk()
  }

  /** After a chunk (or an abort tick): close a drained connection, or write and report capacity. */
  #afterChunk(): void {
    const completed = this.#completedInChunk
    this.#completedInChunk = 0
    if (this.#maybeFinishDrain()) return
    this.#pump()
    if (completed > 0 && this.#state === 'open' && this.capacity > 0) {
      try {
        this.emit('free')
      } catch (err) {
        // A throwing 'free' listener must not escape into the socket's event emission.
        this.#fail(toWirepoolError(err, this.#origin), undefined)
      }
    }
  }

  #onHead(head: ResponseHead): BodyMode | void {
    if (!this.#isLive()) throw UNWIND
    const ex = this.#queue[0]
    if (ex === undefined || ex.write === WriteState.QUEUED) {
      this.#fail(this.#unsolicited(), undefined)
      throw UNWIND
    }
    if (ex.read === ReadState.WAITING) ex.read = ReadState.STARTED
    const status = head.statusCode
    if (status < 200) {
      if (status === 101) {
        // RFC 9110 §15.2.2: only meaningful as the answer to our Upgrade request.
        if (ex.request.upgrade === undefined) {
          this.#fail(
            new H1ParseError('101 Switching Protocols for a request that asked for no upgrade', 0, { origin: this.#origin }),
            ex,
          )
          throw UNWIND
        }
        this.#upgradeHead = head
        return BodyMode.UPGRADE
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
      if (status === 100 && ex.write === WriteState.AWAITING_CONTINUE) this.#releaseHeldBody(ex)
      return
    }

    const noBody = ex.request.method === 'HEAD'
    const headers = rawHeadersToRecord(head.rawHeaders)
    const closeDelimited = !noBody && !head.chunked && head.contentLength < 0 && status !== 204 && status !== 304
    let retireReason: string | undefined
    if (ex.write !== WriteState.SENT) {
      // A final response before the body was (fully) sent: stop sending it. The server has
      // not read the rest, so the connection can never carry another request.
      this.#abandonBody(ex)
      retireReason = 'final response arrived before the request body was sent'
    } else if (head.conflictingFraming) {
      // RFC 9112 §6.3 rule 3: Content-Length with Transfer-Encoding is a smuggling vector;
      // the message may be read, the connection must not be reused.
      retireReason = 'response had both Content-Length and Transfer-Encoding'
    } else if (closeDelimited) {
      // RFC 9112 §6.3 rule 8: the body runs until the server closes the connection.
      retireReason = 'response body is delimited by connection close'
    } else if (!head.keepAlive && !(noBody && persistsAfterBodyless(head, headers))) {
      // RFC 9112 §9.3 (the parser folded a missing length into keepAlive, which does not
      // apply to a HEAD response: it has no body whatever its framing says).
      retireReason = head.versionMinor === 0 ? 'HTTP/1.0 response without keep-alive' : 'peer sent Connection: close'
    }
    if (retireReason !== undefined) {
      this.#retire(retireReason, ex)
      if (!this.#isLive()) throw UNWIND // a 'draining' listener destroyed us
    }

    const keepAlive = headers['keep-alive']
    if (typeof keepAlive !== 'string') {
      this.#keepAliveValue = undefined
      this.#keepAliveHint = undefined
    } else if (keepAlive !== this.#keepAliveValue) {
      this.#keepAliveValue = keepAlive
      this.#keepAliveHint = parseKeepAliveTimeout(keepAlive)
    }
    ex.read = ReadState.BODY
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
    this.#armTimer()
    return noBody ? BodyMode.NONE : BodyMode.DEFAULT
  }

  #onBody(chunk: Uint8Array): void {
    if (this.#timerKind === TimerKind.BODY) (this.#timer as NodeJS.Timeout).refresh()
    const ex = this.#queue[0] as Exchange
    ex.resumeEarly = false
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
    ex.read = ReadState.DONE
    this.#settled(ex)
    if (ex.request.upgrade !== undefined) this.#exclusive = false
    this.#completedInChunk++
    const wasPaused = ex.paused
    try {
      ex.handler.onComplete()
    } catch (err) {
      this.#fail(new AbortedError('request handler threw in onComplete', { cause: err, origin: this.#origin }), undefined)
      throw UNWIND
    }
    if (!this.#isLive()) throw UNWIND
    if (ex === this.#finalExchange) {
      // Nothing after this response may be read as a response of ours.
      this.#maybeFinishDrain()
      throw UNWIND
    }
    // The pause was for this body; the next response must flow.
    if (wasPaused) this.#socket.resume()
    this.#armTimer()
  }

  #pause(ex: Exchange): void {
    if (ex.resumeEarly) {
      ex.resumeEarly = false
      return
    }
    if (ex.paused) return
    ex.paused = true
    this.#socket.pause()
    // A consumer that is slow is not a server that is silent: no body timeout while paused.
    this.#timerKind = TimerKind.NONE
  }

  #resume(ex: Exchange): void {
    if (ex.done || !this.#isLive()) return
    if (!ex.paused) {
      ex.resumeEarly = true
      return
    }
    ex.paused = false
    this.#socket.resume()
    this.#armTimer()
  }

  /** Peer FIN: a close-delimited body ends here (RFC 9112 §6.3 rule 8); anything else unfinished fails. */
  #onEnd = (): void => {
    if (!this.#isLive()) return
    this.#inParse = true
    try {
      this.#parser.finish()
    } catch (err) {
      this.#inParse = false
      this.#onParseThrow(err)
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

  #onError = (err: Error): void => {
    if (!this.#isLive()) return
    this.#fail(new SocketClosedError(err.message, { cause: err, origin: this.#origin }), undefined)
  }

  #onClose = (): void => {
    if (this.#isLive()) {
      const err = this.#queue.length === 0 ? undefined : new SocketClosedError('socket closed', { origin: this.#origin })
      if (err === undefined) this.#teardown(undefined, undefined, false)
      else this.#fail(err, undefined)
    }
    this.#emitClose()
  }

  #emitClose = (): void => {
    if (this.#closeEmitted) return
    this.#closeEmitted = true
    this.emit('close', this.#closeErr)
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

  /** 101 for our Upgrade request: step aside and give the socket, with any bytes after the head, to the handler. */
  #handOver(head: ResponseHead, rest: Uint8Array): void {
    const ex = this.#queue.shift() as Exchange
    this.#upgradeHead = null
    this.#transition('upgraded')
    this.#stopTimer()
    const socket = this.#socket
    // Paused so that no byte is emitted before the new owner listens; it calls resume().
    socket.pause()
    socket.off('data', this.#onData)
    socket.off('end', this.#onEnd)
    socket.off('error', this.#onError)
    socket.off('close', this.#onClose)
    socket.off('drain', this.#onDrain)
    this.#abandonBody(ex)
    // The upgrade request was alone on the connection (dispatch enforces it): nothing else to settle.
    this.#writeIdx = 0
    this.#served++
    ex.read = ReadState.DONE
    this.#settled(ex)
    const onUpgrade = ex.handler.onUpgrade
    try {
      if (onUpgrade === undefined) throw new InvalidArgumentError('101 Switching Protocols but the handler has no onUpgrade')
      onUpgrade.call(ex.handler, head.statusCode, rawHeadersToRecord(head.rawHeaders), socket as Duplex, rest)
    } catch (err) {
      socket.destroy()
      const error =
        err instanceof WirepoolError ? err : new AbortedError('request handler threw in onUpgrade', { cause: err, origin: this.#origin })
      if (error.origin === undefined) error.origin = this.#origin
      this.#closeErr = error
      try {
        ex.handler.onError(error)
      } catch {
        // Nothing is left to tell: the handler failed while being told of its own failure.
      }
    }
    this.#emitClose()
  }

  // ── lifecycle ───────────────────────────────────────────────────────────────────────

  /** Open or draining: the socket is ours and requests may still be in flight. */
  #isLive(): boolean {
    const state = this.#state
    return state === 'open' || state === 'draining'
  }

  /** The one place `#state` changes. */
  #transition(to: ConnectionState, reason?: string): void {
    const from = this.#state
    if (from === to || from === 'closed' || from === 'upgraded') return
    if (to === 'open') return
    this.#state = to
    if (to === 'draining') this.emit('draining', reason ?? 'draining')
  }

  /**
   * No new requests. With `final`, the peer will answer nothing after that exchange either
   * (RFC 9112 §9.6: a server that sends "close" closes after that response), so later
   * exchanges are never written and fail as not started when it is done.
   */
  #retire(reason: string, final: Exchange | null): void {
    if (final !== null && this.#finalExchange === null) this.#finalExchange = final
    if (this.#state === 'open') this.#transition('draining', reason)
  }

  /**
   * A draining connection closes once its final exchange is done, or, without one, once
   * nothing is in flight. Exchanges left then fail with a SocketClosedError (not started:
   * the pool may send them elsewhere).
   */
  #maybeFinishDrain(): boolean {
    if (this.#state !== 'draining') return false
    const final = this.#finalExchange
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
   * Close the connection and settle every unfinished exchange exactly once: `errorFor(ex)`
   * when it returns an error, else a SocketClosedError that says whether its response had
   * started. `closeErr` is what 'close' will carry (undefined for an orderly close).
   */
  #teardown(closeErr: WirepoolError | undefined, errorFor: ((ex: Exchange) => WirepoolError | undefined) | undefined, graceful: boolean): void {
    if (!this.#isLive()) return
    this.#transition('closed')
    this.#closeErr = closeErr
    this.#stopTimer()
    const writing = this.#writing
    if (writing !== null) this.#abandonBody(writing)
    this.#writing = null
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
      this.#settle(
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
    if (ex.request.upgrade !== undefined) this.#exclusive = false
    this.#settle(ex, err)
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
    const err = new AbortedError(reason?.message ?? 'request aborted', { origin: this.#origin, ...(reason === undefined ? {} : { cause: reason }) })
    // Never written: simply forget it. Otherwise HTTP/1.1 has no way to cancel one request
    // but closing the connection (RFC 9112 §9.6); the others fail as SocketClosedError.
    if (ex.write === WriteState.QUEUED) this.#dropUnsent(ex, err)
    else this.#fail(err, ex)
  }

  /** Deliver the one final error of an exchange. */
  #settle(ex: Exchange, err: WirepoolError): void {
    if (ex.done) return
    ex.read = ReadState.DONE
    this.#settled(ex)
    try {
      ex.handler.onError(err)
    } catch {
      // The handler failed while being told of its own failure; there is nobody left to tell.
    }
  }

  #settled(ex: Exchange): void {
    const listener = ex.onBodyError
    if (listener !== undefined) {
      ex.onBodyError = undefined
      ;(ex.request.body as Readable).off('error', listener)
    }
  }

  // ── the one timer ───────────────────────────────────────────────────────────────────

  /** Point the timer at whatever the oldest exchange is waiting for (nothing while it is still being written). */
  #armTimer(): void {
    const ex = this.#queue[0]
    if (ex === undefined || !this.#isLive()) {
      this.#timerKind = TimerKind.NONE
    } else if (ex.write === WriteState.AWAITING_CONTINUE) {
      this.#setTimer(TimerKind.CONTINUE, this.#continueTimeout)
    } else if (ex.read === ReadState.BODY) {
      if (ex.paused) this.#timerKind = TimerKind.NONE
      else this.#setTimer(TimerKind.BODY, ex.request.bodyTimeout)
    } else if (ex.write === WriteState.SENT) {
      this.#setTimer(TimerKind.HEADERS, ex.request.headersTimeout)
    } else {
      this.#timerKind = TimerKind.NONE
    }
  }

  /**
   * One Timeout object per connection, re-armed with refresh() (no allocation) when the
   * duration is unchanged. Disarming only changes `#timerKind`: a stale expiry is ignored.
   */
  #setTimer(kind: TimerKind, ms: number): void {
    if (ms <= 0 || !Number.isFinite(ms)) {
      this.#timerKind = TimerKind.NONE
      return
    }
    this.#timerKind = kind
    if (this.#timer !== undefined && this.#timerMs === ms) {
      this.#timer.refresh()
      return
    }
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timerMs = ms
    this.#timer = setTimeout(this.#onTimer, ms)
    this.#timer.unref()
  }

  #stopTimer(): void {
    this.#timerKind = TimerKind.NONE
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
  }

  #onTimer = (): void => {
    const kind = this.#timerKind
    const ex = this.#queue[0]
    this.#timerKind = TimerKind.NONE
    if (ex === undefined || kind === TimerKind.NONE) return
    if (kind === TimerKind.CONTINUE) {
      if (ex.write === WriteState.AWAITING_CONTINUE) this.#releaseHeldBody(ex)
    } else if (kind === TimerKind.HEADERS) {
      this.#fail(new HeadersTimeoutError(this.#timerMs, { origin: this.#origin }), ex)
    } else {
      this.#fail(new BodyTimeoutError(this.#timerMs, { origin: this.#origin }), ex)
    }
  }
}
