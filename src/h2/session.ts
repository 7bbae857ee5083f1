/**
 * H2Connection: one HTTP/2 connection (RFC 9113) driven for the pool through the
 * PoolConnection contract. The sans-I/O pieces do the protocol work — FrameReader (frame.ts),
 * HpackEncoder/HpackDecoder (hpack.ts), SendWindow/ReceiveWindow/BdpEstimator (flow.ts), the
 * §5.1 stream state machine (stream.ts), the write scheduler (scheduler.ts), the reset pacer
 * (reset-pacer.ts) — and this file is the glue: the stream table, frames in and out of the
 * socket, handler calls, timers and the connection's life.
 *
 * Life of the connection (`#state`, changed only by `#transition`):
 *
 *   open ──► draining ──► closed     draining: GOAWAY sent or received, close(); in-flight streams finish
 *   open ──► closed                  connection error, destroy(), or the socket went away
 *
 * Hot-path notes: frames produced in one tick leave in one socket write (writer.ts); one
 * closure pair per stream (resume/abort, the handler contract needs functions); no timer per
 * stream — header/body deadlines are scanned by one connection timer.
 */
import { EventEmitter } from 'node:events'
import type { Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import type { ConnectionEvents, ConnectionInfo, DispatchHandler, DispatchRequest, PoolConnection, Protocol } from '../dispatch.js'
import {
  AbortedError,
  BodyTimeoutError,
  H2GoawayError,
  H2ProtocolError,
  H2StreamResetError,
  HeadersTimeoutError,
  InvalidArgumentError,
  SocketClosedError,
  type WirepoolError,
} from '../errors.js'
import { bodyStreamError, copyBody, isAsyncIterable, isReadable, type BodySink } from '../body-source.js'
import { DeadlineTimer } from '../deadline-timer.js'
import { integerOption } from '../option-checks.js'
import { rawHeadersToRecord } from '../http/headers.js'
import { FieldBlockAssembler } from './field-block.js'
import { parseResponseSection } from './fields.js'
import { extendedConnectFields, requestFields } from './fields.js'
import { BdpEstimator, ReceiveWindow, SendWindow } from './flow.js'
import {
  CLIENT_PREFACE,
  DEFAULT_INITIAL_WINDOW_SIZE,
  Flag,
  FrameReader,
  H2ErrorCode,
  MAX_WINDOW_SIZE,
  SettingsId,
  dataFrameHeader,
  encodeContinuation,
  encodeGoaway,
  encodeHeaders,
  encodePing,
  encodeRstStream,
  encodeSettings,
  encodeSettingsAck,
  encodeWindowUpdate,
  h2Error,
  h2ErrorName,
  type FrameHandler,
  type Priority,
  type SettingsEntry,
} from './frame.js'
import { DEFAULT_MAX_HEADER_COUNT, DEFAULT_MAX_HEADER_LIST_SIZE, HpackDecoder, HpackEncoder } from './hpack.js'
import { PingAck, PingTracker } from './pings.js'
import { ResetPacer } from './reset-pacer.js'
import { WriteScheduler } from './scheduler.js'
import { PeerSettings, localSettings } from './settings.js'
import { ConnectionEvent, INITIAL_CONNECTION_STATE, acceptsStreams, connectionTransition, settingsKnown, type ConnectionState } from './connection-state.js'
import { H2Stream, ResponsePhase, StreamEvent, canReceive, canSend } from './stream.js'
import { TransitionBug, unlistedTransition } from './transition-bug.js'
import { TunnelHandler } from './tunnel.js'
import { BatchWriter } from '../batch-writer.js'

export interface H2ConnectionOptions {
  id: number
  /** `scheme://host:port`: gives :scheme and is stamped on every error. */
  origin: string
  /** Our cap on concurrent streams (default 1000); the peer's SETTINGS_MAX_CONCURRENT_STREAMS also applies. */
  maxConcurrentStreams?: number
  /** Our SETTINGS_MAX_HEADER_LIST_SIZE (default 64 KiB). */
  maxHeaderListSize?: number
  /** Most fields a response section may carry (default 128). */
  maxHeaderCount?: number
  /** How long the peer has to acknowledge our SETTINGS (RFC 9113 §6.5.3), default 10 s. */
  settingsTimeout?: number
  /** Send a liveness PING this often (ms); an unanswered one by the next interval kills the connection. Default off. */
  pingInterval?: number
  tlsResumed: boolean | null
  /** Our SETTINGS_INITIAL_WINDOW_SIZE to start with (default 1 MiB); grows with the measured BDP. */
  initialStreamWindow?: number
  /** Connection receive window, opened with a WINDOW_UPDATE right after the preface (default 16 MiB). */
  connectionWindow?: number
  /** How long a request with `expectContinue` holds its body for 100 (Continue); default 1000 ms. */
  expectContinueTimeout?: number
}

const DEFAULT_MAX_CONCURRENT = 1000
/**
 * RFC 9113 §6.5.2 recommends peers allow at least 100 concurrent streams: until the server's
 * SETTINGS arrive we assume that many, so a cold burst does not overshoot a smaller limit by much.
 */
const ASSUMED_PEER_CONCURRENCY = 100
const DEFAULT_STREAM_WINDOW = 1024 * 1024
const DEFAULT_CONNECTION_WINDOW = 16 * 1024 * 1024
const DEFAULT_SETTINGS_TIMEOUT = 10_000
/** As H1Connection: how long to hold a body for 100 (Continue) before sending it anyway. */
const DEFAULT_EXPECT_CONTINUE_TIMEOUT = 1000
/** `H2Stream.heldBody` for a streamed body (the stream itself is read once released). */
const HELD_STREAM = new Uint8Array(0)

/** Stop producing DATA frames while this much is waiting to reach the kernel. */
const WRITE_HIGH_WATER = 1024 * 1024
/** A streamed request body is read ahead at most this far past what was sent. */
const BODY_HIGH_WATER = 256 * 1024

/**
 * Bounds on what a hostile peer controls (RFC 9113 §10.5: "An endpoint MAY treat activity
 * that is suspicious as a connection error of type ENHANCE_YOUR_CALM").
 * - acks: PING and SETTINGS acknowledgements we queued since the socket last caught up;
 *   a peer that floods them (and does not read) would otherwise grow our write buffer.
 * - CONTINUATION: frames per field block, and the encoded block's size, before decoding.
 * - idle frames: frames that did nothing useful in a row (empty DATA, frames on closed
 *   streams, PRIORITY, unknown types, RST_STREAM for streams already gone).
 */
const MAX_PENDING_ACKS = 1000
const MAX_CONTINUATION_FRAMES = 64
const MAX_USELESS_FRAMES = 5000
/** Stream ids we reset and whose late frames we therefore ignore (§5.1 "closed"), most recent kept. */
const MAX_REMEMBERED_RESETS = 4096

/** Thrown from frame callbacks once the connection is closed, to stop the reader mid-chunk. */
const UNWIND: unique symbol = Symbol('unwind')

export class H2Connection extends EventEmitter<ConnectionEvents> implements PoolConnection {
  readonly id: number
  readonly protocol: Protocol = 'h2'
  /** Streams do not wait for each other: the pool spreads requests over this connection. */
  readonly multiplexed = true
  /** HTTP/2 has no idle-timeout announcement; GOAWAY says when the peer is done. */
  readonly idleTimeoutHint = undefined
  readonly tlsResumed: boolean | null
  readonly remoteAddress: string | undefined
  readonly remotePort: number | undefined

  readonly #socket: Socket
  readonly #origin: string
  readonly #scheme: string
  readonly #maxConcurrent: number
  /**
   * Streams the peer showed it will carry at once, below what its SETTINGS promise: lowered
   * when it resets a stream of ours with ENHANCE_YOUR_CALM before answering it. node:http2
   * (nghttp2 behind it) does that when a session's memory, which counts the response bodies
   * it has queued, passes `maxSessionMemory` (10 MB by default): sixteen 1 MiB responses on
   * one session are enough. The code says we may be "generating excessive load" (RFC 9113
   * §7), so this connection shows no capacity beyond what the peer is carrying and the pool
   * spreads further requests over other connections instead of having them turned away one
   * after another. It never rises again: a stream over the line would meet the same limit.
   */
  #calmLimit = Number.POSITIVE_INFINITY
  readonly #settingsTimeout: number
  readonly #pingInterval: number
  readonly #continueTimeout: number
  /** The field block being gathered (HEADERS without END_HEADERS, then CONTINUATION, §6.10). */
  readonly #fieldBlock: FieldBlockAssembler
  readonly #reader: FrameReader
  readonly #writer: BatchWriter
  readonly #encoder = new HpackEncoder()
  readonly #decoder: HpackDecoder
  readonly #peer = new PeerSettings()
  readonly #scheduler = new WriteScheduler()
  readonly #pacer = new ResetPacer()
  readonly #bdp: BdpEstimator

  /** Written only by `#transition` (connection-state.ts). */
  #state: ConnectionState = INITIAL_CONNECTION_STATE
  readonly #streams = new Map<number, H2Stream>()
  #nextStreamId = 1
  #dispatched = 0
  #served = 0
  /** Streams we reset (RST_STREAM sent or queued): late frames on them are ignored (§5.1). */
  readonly #resetIds = new Set<number>()
  /** Cancels waiting for the pacer, in order. */
  #resetQueue: Array<[stream: H2Stream, code: number]> = []
  #resetTimer: NodeJS.Timeout | undefined = undefined

  readonly #connSend = new SendWindow(DEFAULT_INITIAL_WINDOW_SIZE, 0)
  readonly #connRecv: ReceiveWindow
  /** Our SETTINGS_INITIAL_WINDOW_SIZE as the peer will apply it to new streams. */
  #localWindow: number


  // hostile-peer accounting
  #pendingAcks = 0
  #uselessFrames = 0

  // SETTINGS acknowledgement (§6.5.3)
  #settingsUnacked = 0
  #settingsTimer: NodeJS.Timeout | undefined = undefined

  // PING
  readonly #pings = new PingTracker()
  #keepAliveTimer: NodeJS.Timeout | undefined = undefined
  #bdpBytes = 0
  #bdpNext = 0

  /** Header / body / 100-continue deadlines: one timer scanning every stream. */
  readonly #deadlines = new DeadlineTimer((now) => this.#onDeadlines(now))

  #freeScheduled = false
  #goawayReceived = -1
  #closeErr: WirepoolError | undefined = undefined
  #closeEmitted = false
  readonly #closePromise: Promise<void>

  constructor(socket: Socket, options: H2ConnectionOptions) {
    super()
    this.id = options.id
    this.tlsResumed = options.tlsResumed
    this.#socket = socket
    this.#origin = options.origin
    this.#scheme = options.origin.startsWith('https:') ? 'https' : 'http'
    this.#maxConcurrent = integerOption('maxConcurrentStreams', options.maxConcurrentStreams, DEFAULT_MAX_CONCURRENT)
    this.#settingsTimeout = options.settingsTimeout ?? DEFAULT_SETTINGS_TIMEOUT
    this.#pingInterval = options.pingInterval ?? 0
    this.#continueTimeout = options.expectContinueTimeout ?? DEFAULT_EXPECT_CONTINUE_TIMEOUT
    const maxHeaderListSize = integerOption('maxHeaderListSize', options.maxHeaderListSize, DEFAULT_MAX_HEADER_LIST_SIZE, { max: 0xffffffff })
    // An encoded block is at most about as long as its decoded list (literals carry less than
    // the 32 octets of per-field overhead §6.5.2 counts), but Huffman can lengthen odd bytes.
    this.#fieldBlock = new FieldBlockAssembler(2 * maxHeaderListSize, MAX_CONTINUATION_FRAMES)
    this.#localWindow = integerOption('initialStreamWindow', options.initialStreamWindow, DEFAULT_STREAM_WINDOW, { max: MAX_WINDOW_SIZE })
    const connectionWindow = integerOption('connectionWindow', options.connectionWindow, DEFAULT_CONNECTION_WINDOW, { max: MAX_WINDOW_SIZE })
    this.#decoder = new HpackDecoder({ maxHeaderListSize, maxHeaderCount: options.maxHeaderCount ?? DEFAULT_MAX_HEADER_COUNT })
    // A stream window never grows past half the connection window, so that one paused
    // consumer can never hold all of the connection's credit.
    this.#bdp = new BdpEstimator({ initialWindow: this.#localWindow, maxWindow: Math.max(this.#localWindow, Math.floor(connectionWindow / 2)) })
    this.#connRecv = new ReceiveWindow(DEFAULT_INITIAL_WINDOW_SIZE, 0)
    this.remoteAddress = socket.remoteAddress
    this.remotePort = socket.remotePort
    this.#reader = new FrameReader(this.#frameHandler)
    this.#writer = new BatchWriter(socket, this.#afterFlush)
    this.#closePromise = new Promise<void>((resolve) => this.once('close', () => resolve()))

    socket.allowHalfOpen = false
    socket.on('data', this.#onData)
    socket.on('end', this.#onEnd)
    socket.on('error', this.#onError)
    socket.on('close', this.#onClose)
    socket.on('drain', this.#onDrain)
    if (socket.destroyed) {
      this.#teardown(new SocketClosedError('socket was already closed', { origin: this.#origin, responseStarted: false }), false)
      process.nextTick(this.#emitClose)
      return
    }

    // RFC 9113 §3.4: the preface, then our SETTINGS; requests may follow at once.
    this.#writer.push(CLIENT_PREFACE)
    this.#sendSettings(localSettings({ initialWindowSize: this.#localWindow, maxHeaderListSize }))
    // §6.9.2: the connection window only grows by WINDOW_UPDATE; open it wide from the start.
    const increment = this.#connRecv.setTarget(connectionWindow)
    if (increment > 0) this.#writer.push(encodeWindowUpdate(0, increment))
    if (this.#pingInterval > 0) {
      this.#keepAliveTimer = setInterval(this.#keepAlive, this.#pingInterval)
      this.#keepAliveTimer.unref()
    }
  }

  // ── PoolConnection ──────────────────────────────────────────────────────────────────

  get capacity(): number {
    const state = this.#state
    if (!acceptsStreams(state)) return 0
    const peer = state.kind === 'open' ? this.#peer.maxConcurrentStreams : ASSUMED_PEER_CONCURRENCY
    const free = Math.min(peer, this.#maxConcurrent, this.#calmLimit) - this.#streams.size
    return free > 0 ? free : 0
  }

  /** Round trip of the newest answered PING (BDP probe, keep-alive or ping()), ms. */
  get rttMs(): number | undefined {
    return this.#pings.lastRtt
  }

  /** False until the peer's SETTINGS arrive: `capacity` is then only the assumed 100 (§6.5.2). */
  get capacityKnown(): boolean {
    return settingsKnown(this.#state)
  }

  get inFlight(): number {
    return this.#streams.size - this.#resetQueue.length
  }

  /** Streams open on the wire, including ones whose cancel waits for the pacer. */
  get streamsOpen(): number {
    return this.#streams.size
  }

  get requestsServed(): number {
    return this.#served
  }

  get retired(): boolean {
    return !acceptsStreams(this.#state)
  }

  /** The peer's settings in force (read-only view for diagnostics and tests). */
  get peerSettings(): Readonly<PeerSettings> {
    return this.#peer
  }

  /**
   * The peer sent SETTINGS_ENABLE_CONNECT_PROTOCOL=1 (RFC 8441 §3): requests with `upgrade`
   * may go as extended CONNECT streams. False until the peer's SETTINGS arrive.
   */
  get extendedConnect(): boolean {
    return this.#peer.enableConnectProtocol === 1
  }

  /** Our SETTINGS_INITIAL_WINDOW_SIZE now (grows with the BDP estimate). */
  get localStreamWindow(): number {
    return this.#localWindow
  }

  /**
   * Open a stream for the request. Throws InvalidArgumentError, without touching the handler,
   * when the connection cannot take it (no capacity, retired) or the request cannot be sent
   * over HTTP/2 (CONNECT, an upgrade the peer did not enable, a body that does not match its length).
   * A request with `upgrade` goes as an RFC 8441 extended CONNECT (see DispatchRequest.upgrade).
   */
  dispatch(request: DispatchRequest, handler: DispatchHandler): void {
    if (!acceptsStreams(this.#state)) throw new InvalidArgumentError(`connection ${this.id} is ${this.#state.kind} and takes no requests`)
    if (this.capacity <= 0) throw new InvalidArgumentError(`connection ${this.id} has no free capacity`)
    const upgrade = request.upgrade
    if (upgrade !== undefined) {
      // RFC 8441 §4: "A client MUST NOT send a CONNECT request with the :protocol pseudo-header
      // unless the server has sent SETTINGS_ENABLE_CONNECT_PROTOCOL = 1"; HTTP/1.1 Upgrade
      // itself does not exist in HTTP/2 (RFC 9113 §8.6).
      if (!this.extendedConnect) throw new InvalidArgumentError(`connection ${this.id}: the peer did not enable extended CONNECT (RFC 8441 §3), so upgrade ${upgrade} cannot go over HTTP/2`)
      if (request.body !== null && request.body !== undefined) throw new InvalidArgumentError('an upgrade request carries no content: the tunnel is the content')
    }
    const body = request.body
    const contentLength = body === null || body === undefined ? 0 : request.bodyLength < 0 ? -1 : request.bodyLength
    let bytes: Uint8Array | null = null
    if (typeof body === 'string') {
      bytes = Buffer.from(body, 'utf8')
      if (bytes.byteLength !== contentLength) throw new InvalidArgumentError('bodyLength does not match the string body')
    } else if (body instanceof Uint8Array) {
      if (body.byteLength !== contentLength) throw new InvalidArgumentError('bodyLength does not match the body')
      bytes = body
    } else if (body !== null && body !== undefined && !isAsyncIterable(body)) {
      throw new InvalidArgumentError('body must be a string, Uint8Array, Readable or AsyncIterable<Uint8Array>')
    }
    const fields = upgrade === undefined ? requestFields(request, this.#scheme, contentLength) : extendedConnectFields(request, upgrade, this.#scheme)

    const id = this.#nextStreamId
    this.#nextStreamId += 2
    // A tunnel's handler is wrapped: its 2xx becomes onUpgrade with a Duplex over the stream.
    // (`stream` is assigned below, before any of these operations can run.)
    let tunnelStream: H2Stream
    const streamHandler =
      upgrade === undefined
        ? handler
        : new TunnelHandler(handler, {
            write: (chunk, done) => this.#tunnelWrite(tunnelStream, chunk, done),
            end: (done) => this.#tunnelEnd(tunnelStream, done),
            resume: () => this.#resume(tunnelStream),
            abort: (reason) => this.#abort(tunnelStream, reason),
          })
    const stream = new H2Stream(
      request,
      streamHandler,
      new SendWindow(this.#peer.initialWindowSize, id),
      new ReceiveWindow(this.#localWindow, id),
      contentLength,
      this.#resume,
      this.#abort,
    )
    stream.id = id
    tunnelStream = stream
    this.#streams.set(id, stream)
    const reused = this.#dispatched > 0
    this.#dispatched++
    // A Readable's 'error' reaches us through iteration; until then (and after) this sink keeps
    // it from being an unhandled 'error' event.
    if (body !== null && body !== undefined && isReadable(body)) body.on('error', noop)
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
        handler.onConnect(stream.abort, info)
      } catch (err) {
        this.#abort(stream, err instanceof Error ? err : new Error(String(err)))
      }
      if (stream.done) return
    }

    // RFC 8441 §4 / RFC 9113 §8.5: a CONNECT's HEADERS carry no END_STREAM — the stream stays
    // open for the tunnel's bytes.
    const endStream = contentLength === 0 && upgrade === undefined
    this.#writeHeaders(id, this.#encoder.encode(fields), endStream)
    if (!this.#apply(stream, StreamEvent.SEND_HEADERS)) return
    if (upgrade !== undefined) {
      this.#armDeadline(stream, request.headersTimeout)
    } else if (endStream) {
      stream.bodyEnded = true
      if (!this.#apply(stream, StreamEvent.SEND_END_STREAM)) return
      this.#armDeadline(stream, request.headersTimeout)
    } else if (request.expectContinue) {
      // RFC 9110 §10.1.1: hold the content until 100 (Continue), a final response, or our
      // patience ends — the deadline scan releases it after expectContinueTimeout.
      stream.heldBody = bytes ?? HELD_STREAM
      const wait = this.#continueTimeout
      stream.deadline = performance.now() + wait
      this.#deadlines.armBy(stream.deadline)
    } else {
      this.#startBody(stream, bytes)
    }
    // §5.1.1: stream ids cannot be reused; when they run out the connection must be replaced.
    if (this.#nextStreamId > MAX_WINDOW_SIZE) this.#retire('stream identifiers exhausted', true)
  }

  /** Send a PING and resolve with the round trip in ms (RFC 9113 §6.7). */
  ping(): Promise<number> {
    if (this.#state.kind === 'closed') {
      return Promise.reject(new SocketClosedError('connection is closed', { origin: this.#origin, responseStarted: false }))
    }
    return new Promise<number>((resolve, reject) => {
      this.#writer.push(encodePing(this.#pings.user(performance.now(), resolve, reject)))
    })
  }

  /**
   * Graceful: GOAWAY(NO_ERROR) tells the peer we open no more streams (RFC 9113 §6.8; we
   * accept none, so last-stream-id is 0); in-flight streams finish, then the socket ends.
   */
  close(): Promise<void> {
    if (acceptsStreams(this.#state)) this.#retire('close() called', true)
    else if (this.#state.kind === 'draining') this.#maybeFinishDrain()
    return this.#closePromise
  }

  /** Fail every unfinished request with `err` (or a SocketClosedError each) and close the socket now. */
  destroy(err?: WirepoolError): void {
    if (this.#state.kind === 'closed') return
    if (err !== undefined && err.origin === undefined) err.origin = this.#origin
    this.#teardown(err, false)
  }

  // ── writing ─────────────────────────────────────────────────────────────────────────

  /** HEADERS, then CONTINUATION frames when the block exceeds the peer's MAX_FRAME_SIZE (§4.3, §6.10). */
  #writeHeaders(id: number, block: Buffer, endStream: boolean): void {
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

  #sendSettings(entries: readonly SettingsEntry[]): void {
    this.#writer.push(encodeSettings(entries))
    this.#settingsUnacked++
    if (this.#settingsTimer === undefined && this.#settingsTimeout > 0 && Number.isFinite(this.#settingsTimeout)) {
      this.#settingsTimer = setTimeout(this.#onSettingsTimeout, this.#settingsTimeout)
      this.#settingsTimer.unref()
    }
  }

  /** Start sending the request content: in-memory bytes are queued at once, a stream is pumped. */
  #startBody(stream: H2Stream, bytes: Uint8Array | null): void {
    if (bytes !== null) {
      stream.queue(bytes)
      stream.bodyEnded = true
      this.#scheduler.add(stream)
      this.#pumpData()
    } else {
      void this.#pumpBody(stream)
    }
  }

  /** 100 (Continue) arrived or the wait is over: send the held content. */
  #releaseHeldBody(stream: H2Stream): void {
    const held = stream.heldBody
    if (held === null) return
    stream.heldBody = null
    stream.deadline = Infinity
    this.#startBody(stream, held === HELD_STREAM ? null : held)
  }

  /**
   * Read a streamed body (Readable / AsyncIterable) into the stream's send queue with the
   * shared copy loop (body-source.ts), staying at most BODY_HIGH_WATER ahead of what the
   * windows let us send (StreamBodySink).
   */
  async #pumpBody(stream: H2Stream): Promise<void> {
    let complete: boolean
    try {
      const iterator = (stream.request.body as AsyncIterable<unknown>)[Symbol.asyncIterator]()
      stream.iterator = iterator
      complete = await copyBody(iterator, stream.declaredLength, new StreamBodySink(stream, this.#queued))
    } catch (err) {
      if (stream.done) return
      stream.iterator = undefined
      this.#cancel(stream, H2ErrorCode.CANCEL, bodyStreamError(err, this.#origin))
      return
    }
    if (!complete) return
    stream.iterator = undefined
    stream.bodyEnded = true
    this.#queued(stream)
  }

  /** The stream has something new to send (DATA, or END_STREAM): its turn in the round robin, and pump. */
  readonly #queued = (stream: H2Stream): void => {
    this.#scheduler.add(stream)
    this.#pumpData()
  }

  /**
   * Turn queued request body bytes into DATA frames, one frame per stream per turn (fair
   * round robin), within the stream and connection send windows (RFC 9113 §6.9.1) and while
   * the socket keeps up.
   */
  #pumpData(): void {
    if (this.#state.kind === 'closed') return
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
      if (!this.#apply(stream, StreamEvent.SEND_END_STREAM)) return
      if (stream.phase === ResponsePhase.HEAD) this.#armDeadline(stream, stream.request.headersTimeout)
      const tunnel = establishedTunnel(stream)
      if (tunnel !== null) {
        if (stream.state.kind === 'closed') this.#finishTunnel(stream)
        tunnel.endWritten()
      }
    }
  }

  // ── RFC 8441 tunnels ────────────────────────────────────────────────────────────────

  /** The tunnel's Duplex wrote `chunk`: queue it as DATA; `done` once the queue has room (backpressure). */
  #tunnelWrite(stream: H2Stream, chunk: Uint8Array, done: (err?: Error | null) => void): void {
    if (stream.done || !canSend(stream.state) || this.#state.kind === 'closed') {
      done(new SocketClosedError('the tunnel stream is closed', { origin: this.#origin }))
      return
    }
    if (chunk.byteLength === 0) {
      done()
      return
    }
    stream.queue(chunk)
    this.#queued(stream)
    // The same read-ahead bound as a streamed request body: #pumpData wakes it below the mark.
    if (stream.queuedBytes < BODY_HIGH_WATER || stream.done) done()
    else stream.wakeBody = () => done()
  }

  /** The tunnel's Duplex ended: END_STREAM once the queued DATA is out (a half-close, RFC 9113 §8.5). */
  #tunnelEnd(stream: H2Stream, done: (err?: Error | null) => void): void {
    if (stream.done || !canSend(stream.state) || this.#state.kind === 'closed') {
      done()
      return
    }
    ;(stream.handler as TunnelHandler).awaitEnd(done)
    stream.bodyEnded = true
    this.#scheduler.add(stream)
    this.#pumpData()
  }

  /** Both directions of a tunnel ended with END_STREAM: the stream is closed and served. */
  #finishTunnel(stream: H2Stream): void {
    stream.phase = ResponsePhase.DONE
    stream.deadline = Infinity
    this.#served++
    this.#remove(stream)
  }

  #afterFlush = (): void => {
    // The socket caught up with our acknowledgements: the flood counter starts over.
    if (this.#socket.writableLength < WRITE_HIGH_WATER) this.#pendingAcks = 0
    if (this.#scheduler.size > 0) this.#pumpData()
  }

  #onDrain = (): void => {
    this.#pendingAcks = 0
    this.#pumpData()
  }

  // ── reading ─────────────────────────────────────────────────────────────────────────

  #onData = (chunk: Buffer): void => {
    if (this.#state.kind === 'closed') return
    try {
      this.#reader.push(chunk)
    } catch (err) {
      // A bug of ours under test: let it fail the test run (transition-bug.ts).
      if (err instanceof TransitionBug) throw err
      // (#state may have changed inside the reader's callbacks.)
      if (err === UNWIND || this.#isClosed()) return
      if (err instanceof H2ProtocolError) this.#connectionError(err)
      else this.#connectionError(h2Error(H2ErrorCode.INTERNAL_ERROR, 0, 'internal failure while reading frames', err))
    }
  }

  /** One object, allocated once per connection: the FrameReader calls into the session through it. */
  readonly #frameHandler: FrameHandler = {
    onData: (streamId: number, flags: number, data: Uint8Array, flowControlledLength: number) => {
      this.#checkLive()
      this.#onDataFrame(streamId, flags, data, flowControlledLength)
    },
    onHeaders: (streamId: number, flags: number, fragment: Uint8Array, _priority: Priority | undefined) => {
      this.#checkLive()
      this.#onHeadersFrame(streamId, flags, fragment, false)
    },
    onPriority: () => {
      this.#checkLive()
      this.#countUselessFrame()
    },
    onRstStream: (streamId: number, errorCode: number) => {
      this.#checkLive()
      this.#onRstStream(streamId, errorCode)
    },
    onSettings: (ack: boolean, settings: readonly SettingsEntry[]) => {
      this.#checkLive(!ack)
      this.#onSettings(ack, settings)
    },
    onPushPromise: (streamId: number, flags: number, _promised: number, fragment: Uint8Array) => {
      this.#checkLive()
      this.#onHeadersFrame(streamId, flags, fragment, true)
    },
    onPing: (ack: boolean, opaque: Uint8Array) => {
      this.#checkLive()
      this.#onPing(ack, opaque)
    },
    onGoaway: (lastStreamId: number, errorCode: number) => {
      this.#checkLive()
      this.#onGoaway(lastStreamId, errorCode)
    },
    onWindowUpdate: (streamId: number, increment: number) => {
      this.#checkLive()
      this.#onWindowUpdate(streamId, increment)
    },
    onContinuation: (streamId: number, flags: number, fragment: Uint8Array) => {
      this.#checkLive()
      this.#onContinuation(streamId, flags, fragment)
    },
    onUnknown: () => {
      this.#checkLive()
      this.#countUselessFrame()
    },
    onStreamError: (error: H2ProtocolError) => {
      this.#checkLive()
      this.#onReaderStreamError(error)
    },
  }

  /**
   * A handler callback may have closed the connection in the middle of a chunk: unwind out of
   * the frame reader so that no later frame of the chunk is acted on.
   */
  #checkLive(serverPreface = false): void {
    if (this.#state.kind === 'closed') throw UNWIND
    // RFC 9113 §3.4: the server connection preface is a SETTINGS frame, and it "MUST be the
    // first frame the server sends"; anything else first is an invalid preface, a connection
    // error of type PROTOCOL_ERROR.
    if (!serverPreface && this.#awaitingPreface()) {
      throw h2Error(H2ErrorCode.PROTOCOL_ERROR, 0, 'the server preface must start with a SETTINGS frame (RFC 9113 §3.4)')
    }
  }

  /** No SETTINGS from the peer yet: awaiting-settings, or draining before the server preface came. */
  #awaitingPreface(): boolean {
    const state = this.#state
    return state.kind === 'awaiting-settings' || (state.kind === 'draining' && !state.settingsReceived)
  }

  #isClosed(): boolean {
    return this.#state.kind === 'closed'
  }

  /** A frame that did no work: many in a row is abuse (RFC 9113 §10.5). */
  #countUselessFrame(): void {
    if (++this.#uselessFrames > MAX_USELESS_FRAMES) {
      throw h2Error(H2ErrorCode.ENHANCE_YOUR_CALM, 0, `more than ${MAX_USELESS_FRAMES} frames in a row that did nothing`)
    }
  }

  /** §5.1.1: an odd id we never used yet is idle; an even id could only be a (refused) push. */
  #isIdle(streamId: number): boolean {
    return streamId % 2 === 0 || streamId >= this.#nextStreamId
  }

  #onDataFrame(streamId: number, flags: number, data: Uint8Array, flowLength: number): void {
    // §6.9.1: DATA counts against the connection window whatever becomes of the stream.
    this.#connRecv.onDataReceived(flowLength)
    const stream = this.#streams.get(streamId)
    if (stream === undefined || stream.done) {
      if (stream === undefined && this.#isIdle(streamId)) {
        throw h2Error(H2ErrorCode.PROTOCOL_ERROR, 0, `DATA on idle stream ${streamId} (RFC 9113 §5.1)`)
      }
      this.#creditConnection(flowLength)
      if (stream === undefined && !this.#resetIds.has(streamId)) {
        // §5.1 closed: frames after the peer's END_STREAM are a STREAM_CLOSED error.
        throw h2Error(H2ErrorCode.STREAM_CLOSED, 0, `DATA on closed stream ${streamId} (RFC 9113 §5.1)`)
      }
      // DATA still in flight for a stream we reset is normal (bounded by that stream's window,
      // which is never replenished); only empty frames are free for the peer to repeat.
      if (flowLength === 0) this.#countUselessFrame()
      return
    }
    try {
      stream.recvWindow.onDataReceived(flowLength)
    } catch (err) {
      this.#creditConnection(flowLength)
      this.#streamError(stream, err as H2ProtocolError)
      return
    }
    if (!canReceive(stream.state)) {
      this.#creditConnection(flowLength)
      this.#streamError(stream, h2Error(H2ErrorCode.STREAM_CLOSED, streamId, `DATA after END_STREAM on stream ${streamId} (RFC 9113 §5.1)`))
      return
    }
    if (stream.phase !== ResponsePhase.BODY) {
      this.#creditConnection(flowLength)
      this.#streamError(stream, h2Error(H2ErrorCode.PROTOCOL_ERROR, streamId, `DATA before the response head on stream ${streamId} (RFC 9113 §8.1)`))
      return
    }
    const length = data.byteLength
    if (length > 0) {
      this.#uselessFrames = 0
      stream.receivedLength += length
      // §8.1.1: content-length must equal the DATA total; a response without content has none.
      if (stream.noContent || (stream.expectedLength >= 0 && stream.receivedLength > stream.expectedLength)) {
        this.#creditConnection(flowLength)
        this.#streamError(stream, this.#lengthError(stream))
        return
      }
      if (this.#pings.bdpInFlight) this.#bdpBytes += flowLength
      else this.#maybeStartBdpPing(flowLength)
      if (stream.deadline !== Infinity) this.#armDeadline(stream, stream.request.bodyTimeout)
    } else if ((flags & Flag.END_STREAM) === 0) {
      this.#countUselessFrame()
    }
    // Padding is consumed on arrival (§6.1: it carries nothing for the application).
    const padding = flowLength - length
    if (padding > 0) this.#consumed(stream, padding)
    if (length > 0) {
      if (stream.paused || stream.recvBuffer.length > 0) stream.recvBuffer.push(data)
      else this.#deliver(stream, data)
    }
    if ((flags & Flag.END_STREAM) !== 0 && !stream.done) {
      if (stream.recvBuffer.length > 0) stream.endPending = true
      else this.#complete(stream, null)
    }
  }

  /** Hand one chunk to the handler; its octets count as consumed (credited at once unless paused). */
  #deliver(stream: H2Stream, chunk: Uint8Array): void {
    stream.resumeEarly = false
    let goOn: boolean | void
    try {
      goOn = stream.handler.onData(chunk)
    } catch (err) {
      this.#handlerThrew(stream, err)
      return
    }
    if (stream.done) return
    if (goOn === false) this.#pause(stream)
    this.#consumed(stream, chunk.byteLength)
  }

  /**
   * The application took `n` flow-controlled octets of the stream. While it is paused the
   * credit is held back (per-stream backpressure: the peer can send at most one window more,
   * which is what bounds the memory a slow consumer costs); otherwise both windows get it.
   */
  #consumed(stream: H2Stream, n: number): void {
    if (stream.paused) {
      stream.unacked += n
      return
    }
    const increment = stream.recvWindow.onConsumed(n)
    if (increment > 0 && !stream.endPending && canReceive(stream.state)) this.#writer.push(encodeWindowUpdate(stream.id, increment))
    this.#creditConnection(n)
  }

  /**
   * The stream is finished with while it still holds connection credit: octets a paused
   * handler took (`unacked`) or never got (`recvBuffer`, dropped on an error). They count
   * against the connection window until credited (RFC 9113 §6.9.1), and no later resume will
   * do it, so it is done here. Left out, every response that ends while its reader is paused
   * (undici's fetch pauses on each chunk) leaks its share, until the connection window is
   * gone and every stream on it stalls.
   */
  #releaseHeld(stream: H2Stream): void {
    let n = stream.unacked
    stream.unacked = 0
    for (const chunk of stream.recvBuffer) n += chunk.byteLength
    stream.recvBuffer.length = 0
    if (n > 0 && this.#state.kind !== 'closed') this.#creditConnection(n)
  }

  #creditConnection(n: number): void {
    if (n === 0) return
    const increment = this.#connRecv.onConsumed(n)
    if (increment > 0) this.#writer.push(encodeWindowUpdate(0, increment))
  }

  #pause(stream: H2Stream): void {
    if (stream.resumeEarly) {
      stream.resumeEarly = false
      return
    }
    stream.paused = true
    // A slow consumer is not a silent server: no body timeout while paused.
    stream.deadline = Infinity
  }

  #resume = (stream: H2Stream): void => {
    if (stream.done || this.#state.kind === 'closed') return
    if (!stream.paused) {
      stream.resumeEarly = true
      return
    }
    stream.paused = false
    const unacked = stream.unacked
    stream.unacked = 0
    if (unacked > 0) this.#consumed(stream, unacked)
    const buffer = stream.recvBuffer
    while (buffer.length > 0 && !stream.paused && !stream.done) this.#deliver(stream, buffer.shift() as Uint8Array)
    if (stream.done || stream.paused) return
    if (stream.endPending) {
      const trailers = stream.pendingTrailers
      stream.pendingTrailers = null
      this.#complete(stream, trailers)
      return
    }
    if (establishedTunnel(stream) === null) this.#armDeadline(stream, stream.request.bodyTimeout)
  }

  #onHeadersFrame(streamId: number, flags: number, fragment: Uint8Array, push: boolean): void {
    // §8.4 / §6.6: we sent ENABLE_PUSH=0, so a PUSH_PROMISE is a connection PROTOCOL_ERROR.
    if (push) throw h2Error(H2ErrorCode.PROTOCOL_ERROR, 0, `PUSH_PROMISE on stream ${streamId} although SETTINGS_ENABLE_PUSH is 0 (RFC 9113 §6.6)`)
    // §5.1.1 / §5.1: a server cannot open streams, and HEADERS on an idle stream of ours is an error.
    if (this.#isIdle(streamId)) throw h2Error(H2ErrorCode.PROTOCOL_ERROR, 0, `HEADERS on idle stream ${streamId} (RFC 9113 §5.1)`)
    const block = this.#fieldBlock.headers(streamId, flags, fragment)
    if (block !== null) this.#onFieldBlock(streamId, (flags & Flag.END_STREAM) !== 0, block)
  }

  #onContinuation(streamId: number, flags: number, fragment: Uint8Array): void {
    const block = this.#fieldBlock.continuation(streamId, flags, fragment)
    if (block !== null) this.#onFieldBlock(streamId, (this.#fieldBlock.flags & Flag.END_STREAM) !== 0, block)
  }

  /** A complete field block: decode it first (always, to keep HPACK in step, §4.3), then route it. */
  #onFieldBlock(streamId: number, endStream: boolean, block: Uint8Array): void {
    let decoded: string[]
    try {
      decoded = this.#decoder.decode(block, streamId)
    } catch (err) {
      const error = err as H2ProtocolError
      if (error.streamId === 0) throw error
      const stream = this.#streams.get(streamId)
      if (stream !== undefined && !stream.done) this.#streamError(stream, error)
      else this.#countUselessFrame()
      return
    }
    const stream = this.#streams.get(streamId)
    if (stream === undefined || stream.done) {
      if (stream === undefined && !this.#resetIds.has(streamId)) {
        throw h2Error(H2ErrorCode.STREAM_CLOSED, 0, `HEADERS on closed stream ${streamId} (RFC 9113 §5.1)`)
      }
      this.#countUselessFrame()
      return
    }
    // §5.1 half-closed (remote): HEADERS after the peer's END_STREAM is a stream error STREAM_CLOSED.
    if (!canReceive(stream.state)) {
      this.#streamError(stream, h2Error(H2ErrorCode.STREAM_CLOSED, streamId, `HEADERS after END_STREAM on stream ${streamId} (RFC 9113 §5.1)`))
      return
    }
    if (!this.#apply(stream, StreamEvent.RECV_HEADERS)) return
    this.#uselessFrames = 0
    if (stream.phase === ResponsePhase.HEAD) this.#onResponseHead(stream, decoded, endStream)
    else this.#onTrailers(stream, decoded, endStream)
  }

  #onResponseHead(stream: H2Stream, decoded: string[], endStream: boolean): void {
    const section = parseResponseSection(decoded, false)
    if (typeof section === 'string') {
      this.#streamError(stream, this.#malformed(stream, section))
      return
    }
    const status = section.status
    // RFC 9110 §10.1.1: a final status means the server will not wait for the held content.
    if (status >= 200) stream.heldBody = null
    if (status < 200) {
      // §8.1: interim responses carry no END_STREAM; §8.6: 101 does not exist in HTTP/2.
      if (endStream) return this.#streamError(stream, this.#malformed(stream, `interim response ${status} with END_STREAM (RFC 9113 §8.1)`))
      if (status === 101) return this.#streamError(stream, this.#malformed(stream, '101 Switching Protocols (RFC 9113 §8.6)'))
      const onInformational = stream.handler.onInformational
      if (onInformational !== undefined) {
        try {
          onInformational.call(stream.handler, status, rawHeadersToRecord(section.fields))
        } catch (err) {
          this.#handlerThrew(stream, err)
          return
        }
      }
      if (status === 100) this.#releaseHeldBody(stream)
      return
    }
    stream.phase = ResponsePhase.BODY
    stream.expectedLength = section.contentLength
    stream.noContent = stream.request.method === 'HEAD' || status === 204 || status === 304
    stream.resumeEarly = false
    let goOn: boolean | void
    try {
      goOn = stream.handler.onHeaders(status, rawHeadersToRecord(section.fields), stream.resume, '')
    } catch (err) {
      this.#handlerThrew(stream, err)
      return
    }
    if (stream.done) return
    if (establishedTunnel(stream) !== null) {
      // RFC 9110 §9.3.6: a 2xx to CONNECT has no content-length; the tunnel's bytes are not
      // a body, and an idle tunnel (a quiet WebSocket) is not a stalled response.
      stream.expectedLength = -1
      stream.deadline = Infinity
      if (goOn === false) this.#pause(stream)
    } else if (goOn === false) this.#pause(stream)
    else this.#armDeadline(stream, stream.request.bodyTimeout)
    if (endStream) this.#complete(stream, null)
  }

  #onTrailers(stream: H2Stream, decoded: string[], endStream: boolean): void {
    // §8.1: a HEADERS frame after the final head starts the trailer section and ends the stream.
    if (!endStream) return this.#streamError(stream, this.#malformed(stream, 'trailer section without END_STREAM (RFC 9113 §8.1)'))
    const section = parseResponseSection(decoded, true)
    if (typeof section === 'string') return this.#streamError(stream, this.#malformed(stream, section))
    if (stream.recvBuffer.length > 0) {
      stream.endPending = true
      stream.pendingTrailers = section.fields
      return
    }
    this.#complete(stream, section.fields)
  }

  /** END_STREAM reached the handler's side: trailers, onComplete, and the stream leaves the table. */
  #complete(stream: H2Stream, trailers: string[] | null): void {
    if (establishedTunnel(stream) !== null) {
      this.#tunnelReadEnd(stream)
      return
    }
    // §8.1.1: "malformed if the value of a content-length header field does not equal the sum of the DATA frame payload lengths".
    if (!stream.noContent && stream.expectedLength >= 0 && stream.receivedLength !== stream.expectedLength) {
      this.#streamError(stream, this.#lengthError(stream))
      return
    }
    stream.endPending = false
    if (!this.#apply(stream, StreamEvent.RECV_END_STREAM)) return
    if (trailers !== null && stream.handler.onTrailers !== undefined) {
      try {
        stream.handler.onTrailers(rawHeadersToRecord(trailers))
      } catch (err) {
        this.#handlerThrew(stream, err)
        return
      }
      if (stream.done) return
    }
    stream.phase = ResponsePhase.DONE
    stream.deadline = Infinity
    detachBodyErrorSink(stream)
    this.#served++
    if (stream.state.kind === 'closed') {
      this.#remove(stream)
    } else {
      // The response is complete but our body is not (§8.1 lets a server answer early): stop
      // sending it; RST_STREAM(CANCEL) closes our half.
      this.#abandonBody(stream)
      this.#queueReset(stream, H2ErrorCode.CANCEL)
    }
    try {
      stream.handler.onComplete()
    } catch {
      // The request is over; a handler failing in its last callback has nobody to tell.
    }
  }

  /**
   * The peer's END_STREAM on a tunnel: only its direction ended (RFC 9113 §8.5), ours stays
   * open until the Duplex ends; the stream leaves the table when both have.
   */
  #tunnelReadEnd(stream: H2Stream): void {
    stream.endPending = false
    stream.pendingTrailers = null
    if (!this.#apply(stream, StreamEvent.RECV_END_STREAM)) return
    try {
      stream.handler.onComplete()
    } catch (err) {
      this.#handlerThrew(stream, err)
      return
    }
    if (stream.state.kind === 'closed' && !stream.done) this.#finishTunnel(stream)
  }

  /**
   * Apply a §5.1 event to the stream (H2Stream.apply is the one writer of its state). The
   * session checks the peer's frames against the state before, so an unlisted move here is
   * our bug: it throws under test; in production the connection fails with INTERNAL_ERROR
   * and this returns false, for the caller to stop.
   */
  #apply(stream: H2Stream, event: StreamEvent, errorCode = 0): boolean {
    const bug = stream.apply(event, errorCode)
    if (bug === null) return true
    this.#connectionError(bug)
    return false
  }

  #lengthError(stream: H2Stream): H2ProtocolError {
    return this.#malformed(stream, `content-length ${stream.expectedLength} but DATA carried ${stream.receivedLength} octets (RFC 9113 §8.1.1)`)
  }

  #malformed(stream: H2Stream, reason: string): H2ProtocolError {
    return h2Error(H2ErrorCode.PROTOCOL_ERROR, stream.id, `malformed response on stream ${stream.id}: ${reason}`)
  }

  #onRstStream(streamId: number, errorCode: number): void {
    const stream = this.#streams.get(streamId)
    if (stream === undefined) {
      if (this.#isIdle(streamId)) throw h2Error(H2ErrorCode.PROTOCOL_ERROR, 0, `RST_STREAM on idle stream ${streamId} (RFC 9113 §6.4)`)
      this.#countUselessFrame()
      return
    }
    if (!this.#apply(stream, StreamEvent.RECV_RESET, errorCode)) return
    this.#abandonBody(stream)
    // Whatever reset we meant to send is moot now: the stream is closed on both sides.
    this.#remove(stream)
    const unanswered = stream.phase === ResponsePhase.HEAD
    const calm = errorCode === H2ErrorCode.ENHANCE_YOUR_CALM && unanswered
    if (calm) this.#calmLimit = Math.min(this.#calmLimit, Math.max(1, this.#streams.size))
    if (stream.done) return
    // Turned away before any answer for being one stream too many: an idempotent request may
    // go again (RFC 9110 §9.2.2; the pool checks idempotency), on a connection with room.
    this.#fail(
      stream,
      new H2StreamResetError(errorCode, h2ErrorName(errorCode), streamId, { origin: this.#origin, responseStarted: !unanswered, retryable: calm }),
    )
  }

  #onSettings(ack: boolean, entries: readonly SettingsEntry[]): void {
    if (ack) {
      // §6.5.3: the ACK confirms our oldest unacknowledged SETTINGS.
      if (this.#settingsUnacked > 0) this.#settingsUnacked--
      if (this.#settingsTimer !== undefined) {
        if (this.#settingsUnacked === 0) {
          clearTimeout(this.#settingsTimer)
          this.#settingsTimer = undefined
        } else {
          this.#settingsTimer.refresh()
        }
      }
      return
    }
    this.#countAck()
    for (const [id, value] of entries) {
      // §6.5.2: "A client MUST treat receipt of a SETTINGS frame with SETTINGS_ENABLE_PUSH set
      // to 1 as a connection error of type PROTOCOL_ERROR."
      if (id === SettingsId.ENABLE_PUSH && value === 1) throw h2Error(H2ErrorCode.PROTOCOL_ERROR, 0, 'server sent SETTINGS_ENABLE_PUSH=1 (RFC 9113 §6.5.2)')
      // RFC 8441 §3: "A sender MUST NOT send a SETTINGS_ENABLE_CONNECT_PROTOCOL parameter with
      // the value of 0 after previously sending a value of 1" — tunnels may be open on it.
      if (id === SettingsId.ENABLE_CONNECT_PROTOCOL && value === 0 && this.#peer.enableConnectProtocol === 1) {
        throw h2Error(H2ErrorCode.PROTOCOL_ERROR, 0, 'server withdrew SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 §3)')
      }
    }
    const capacityBefore = this.capacity
    const first = this.#awaitingPreface()
    const change = this.#peer.apply(entries)
    if (first) this.#transition(ConnectionEvent.SETTINGS)
    if (change.windowDelta !== 0) {
      // §6.9.2: every stream window moves by the difference, possibly below zero.
      for (const stream of this.#streams.values()) {
        stream.sendWindow.applyInitialWindowDelta(change.windowDelta)
        if (change.windowDelta > 0 && (stream.queuedBytes > 0 || (stream.bodyEnded && canSend(stream.state)))) this.#scheduler.add(stream)
      }
    }
    if (change.headerTableSize >= 0) this.#encoder.setMaxTableSize(change.headerTableSize)
    this.#writer.push(encodeSettingsAck())
    this.#pumpData()
    // The first SETTINGS replaces the assumed limit with the real one: the pool waits for
    // this `free` before it counts on the connection.
    if (first || this.capacity > capacityBefore) this.#scheduleFree()
  }

  #onPing(ack: boolean, opaque: Uint8Array): void {
    if (!ack) {
      // §6.7: "Receivers of a PING frame that does not include an ACK flag MUST send a PING frame with the ACK flag set … with an identical payload."
      this.#countAck()
      this.#writer.push(encodePing(opaque, true))
      return
    }
    const now = performance.now()
    const kind = this.#pings.ack(opaque, now)
    if (kind === PingAck.BDP) {
      const window = this.#bdp.sample(this.#bdpBytes, this.#pings.bdpRtt)
      this.#bdpNext = now + this.#bdp.pingDelayMs
      if (window > this.#localWindow) this.#growStreamWindows(window)
    } else if (kind === PingAck.UNKNOWN) {
      this.#countUselessFrame()
    }
  }

  #onGoaway(lastStreamId: number, errorCode: number): void {
    // §6.8: a second GOAWAY may lower last-stream-id further, never raise it.
    const last = this.#goawayReceived === -1 ? lastStreamId : Math.min(lastStreamId, this.#goawayReceived)
    this.#goawayReceived = last
    const name = h2ErrorName(errorCode)
    this.#transition(ConnectionEvent.RETIRE, `GOAWAY received (${name})`)
    // §6.8: streams above last-stream-id were not processed and can be retried elsewhere.
    for (const stream of [...this.#streams.values()]) {
      if (stream.id <= last) continue
      this.#abandonBody(stream)
      this.#remove(stream)
      if (!stream.done) this.#fail(stream, new H2GoawayError(last, errorCode, name, { origin: this.#origin }))
    }
    this.#maybeFinishDrain()
  }

  #onWindowUpdate(streamId: number, increment: number): void {
    if (streamId === 0) {
      this.#connSend.increase(increment)
      this.#pumpData()
      return
    }
    const stream = this.#streams.get(streamId)
    if (stream === undefined) {
      if (this.#isIdle(streamId)) throw h2Error(H2ErrorCode.PROTOCOL_ERROR, 0, `WINDOW_UPDATE on idle stream ${streamId} (RFC 9113 §5.1)`)
      this.#countUselessFrame()
      return
    }
    try {
      stream.sendWindow.increase(increment)
    } catch (err) {
      this.#streamError(stream, err as H2ProtocolError)
      return
    }
    if (stream.queuedBytes > 0 && !stream.done) {
      this.#scheduler.add(stream)
      this.#pumpData()
    }
  }

  #onReaderStreamError(error: H2ProtocolError): void {
    const stream = this.#streams.get(error.streamId)
    if (stream !== undefined && !stream.done) this.#streamError(stream, error)
    else if (stream === undefined && this.#isIdle(error.streamId)) {
      // A broken frame on a stream that was never opened: reset it all the same (§5.4.2).
      this.#writer.push(encodeRstStream(error.streamId, error.h2Code))
    }
  }

  /** Count an acknowledgement we are about to queue; a flood of them is ENHANCE_YOUR_CALM. */
  #countAck(): void {
    if (++this.#pendingAcks > MAX_PENDING_ACKS) {
      throw h2Error(H2ErrorCode.ENHANCE_YOUR_CALM, 0, `more than ${MAX_PENDING_ACKS} PING/SETTINGS frames to acknowledge while the peer does not read`)
    }
  }

  // ── flow-control growth (BDP) ───────────────────────────────────────────────────────

  #maybeStartBdpPing(bytes: number): void {
    const now = performance.now()
    if (now < this.#bdpNext || this.#state.kind === 'closed') return
    this.#bdpBytes = bytes
    this.#writer.push(encodePing(this.#pings.bdp(now)))
  }

  /**
   * The estimator wants larger stream windows: announce the new INITIAL_WINDOW_SIZE (it
   * applies to open streams too, §6.9.2) and move our receive windows by the same delta. Doing
   * it before the peer's ACK is safe because it only grows: until the peer applies it, it is
   * bound by the smaller window it already had.
   */
  #growStreamWindows(window: number): void {
    const delta = window - this.#localWindow
    this.#localWindow = window
    this.#sendSettings([[SettingsId.INITIAL_WINDOW_SIZE, window]])
    for (const stream of this.#streams.values()) stream.recvWindow.applyInitialWindowDelta(delta)
  }

  // ── stream endings ──────────────────────────────────────────────────────────────────

  /** A stream error (§5.4.2): RST_STREAM with its code, the request fails, the connection lives on. */
  #streamError(stream: H2Stream, error: H2ProtocolError): void {
    if (error.origin === undefined) error.origin = this.#origin
    this.#cancel(stream, error.h2Code, error)
  }

  #abort = (stream: H2Stream, reason?: Error): void => {
    if (stream.done || this.#state.kind === 'closed') return
    this.#cancel(stream, H2ErrorCode.CANCEL, new AbortedError(reason?.message ?? 'request aborted', { origin: this.#origin, ...(reason === undefined ? {} : { cause: reason }) }))
  }

  #handlerThrew(stream: H2Stream, err: unknown): void {
    if (err instanceof TransitionBug) throw err
    this.#cancel(stream, H2ErrorCode.CANCEL, new AbortedError('request handler threw', { cause: err, origin: this.#origin }))
  }

  /** Fail the request now and reset its stream (paced); a stream never opened just goes away. */
  #cancel(stream: H2Stream, code: number, error: WirepoolError): void {
    if (stream.done) return
    this.#abandonBody(stream)
    if (stream.state.kind === 'idle') this.#remove(stream)
    else if (stream.state.kind !== 'closed') this.#queueReset(stream, code)
    this.#fail(stream, error)
  }

  /** Send RST_STREAM now if the pacer allows, else queue it; the stream stays open on the wire meanwhile. */
  #queueReset(stream: H2Stream, code: number): void {
    if (stream.cancelQueued) return
    stream.cancelQueued = true
    this.#resetIds.add(stream.id)
    if (this.#resetIds.size > MAX_REMEMBERED_RESETS) this.#resetIds.delete(this.#resetIds.values().next().value as number)
    if (this.#resetQueue.length === 0 && this.#pacer.tryTake(performance.now())) {
      this.#sendReset(stream, code)
      return
    }
    this.#resetQueue.push([stream, code])
    this.#armResetTimer()
  }

  #sendReset(stream: H2Stream, code: number): void {
    if (!this.#apply(stream, StreamEvent.SEND_RESET, code)) return
    this.#writer.push(encodeRstStream(stream.id, code))
    stream.cancelQueued = false // sent: it is no longer in (or about to enter) #resetQueue
    this.#remove(stream)
  }

  #armResetTimer(): void {
    if (this.#resetTimer !== undefined || this.#resetQueue.length === 0) return
    this.#resetTimer = setTimeout(this.#onResetTimer, Math.max(1, this.#pacer.waitMs(performance.now())))
    this.#resetTimer.unref()
  }

  #onResetTimer = (): void => {
    this.#resetTimer = undefined
    if (this.#state.kind === 'closed') return
    const now = performance.now()
    while (this.#resetQueue.length > 0 && this.#pacer.tryTake(now)) {
      const [stream, code] = this.#resetQueue.shift() as [H2Stream, number]
      if (this.#streams.get(stream.id) === stream) this.#sendReset(stream, code)
    }
    this.#armResetTimer()
    this.#maybeFinishDrain()
  }

  #abandonBody(stream: H2Stream): void {
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
  #remove(stream: H2Stream): void {
    if (this.#streams.get(stream.id) !== stream) return
    this.#streams.delete(stream.id)
    this.#releaseHeld(stream)
    if (stream.cancelQueued) {
      // Closed by the peer (RST_STREAM, GOAWAY) before the pacer let our reset out: it is moot.
      stream.cancelQueued = false
      this.#resetQueue = this.#resetQueue.filter(([queued]) => queued !== stream)
    }
    // No deadline left to watch: an idle connection keeps no timer for it.
    if (this.#streams.size === 0) this.#deadlines.cancel()
    this.#scheduleFree()
    this.#maybeFinishDrain()
  }

  /** Deliver the one final error of a stream to its handler. */
  #fail(stream: H2Stream, err: WirepoolError): void {
    if (stream.done) return
    stream.phase = ResponsePhase.DONE
    stream.deadline = Infinity
    this.#releaseHeld(stream)
    detachBodyErrorSink(stream)
    try {
      stream.handler.onError(err)
    } catch {
      // The handler failed while being told of its own failure; there is nobody left to tell.
    }
  }

  #scheduleFree(): void {
    if (this.#freeScheduled) return
    this.#freeScheduled = true
    process.nextTick(this.#emitFree)
  }

  #emitFree = (): void => {
    this.#freeScheduled = false
    if (this.capacity > 0) this.emit('free')
  }

  // ── lifecycle ───────────────────────────────────────────────────────────────────────

  /**
   * The one writer of `#state` (connection-state.ts has the table). Entering draining emits
   * `draining` once. An unlisted move is our bug (transition-bug.ts): it throws under test;
   * in production the connection fails with INTERNAL_ERROR.
   */
  #transition(event: ConnectionEvent, reason?: string): void {
    const from = this.#state
    const to = connectionTransition(from, event)
    if (to === null) {
      const bug = unlistedTransition('the connection', from.kind, event)
      if (event !== ConnectionEvent.CLOSE) this.#connectionError(bug)
      return
    }
    this.#state = to
    if (to.kind === 'draining' && from.kind !== 'draining') this.emit('draining', reason ?? 'draining')
  }

  /** No new requests; with `goaway`, tell the peer (§6.8) — last-stream-id 0: we accept no streams. */
  #retire(reason: string, goaway: boolean): void {
    if (!acceptsStreams(this.#state)) return
    if (goaway) this.#writer.push(encodeGoaway(0, H2ErrorCode.NO_ERROR))
    this.#transition(ConnectionEvent.RETIRE, reason)
    this.#maybeFinishDrain()
  }

  #maybeFinishDrain(): boolean {
    if (this.#state.kind !== 'draining' || this.#streams.size > 0) return false
    this.#teardown(undefined, true)
    return true
  }

  /** A connection error (§5.4.1): GOAWAY with the code, every stream fails, the socket closes. */
  #connectionError(error: H2ProtocolError): void {
    if (this.#state.kind === 'closed') return
    if (error.origin === undefined) error.origin = this.#origin
    const lastPeerStream = 0 // we never accept peer-initiated streams
    this.#writer.push(encodeGoaway(lastPeerStream, error.h2Code, Buffer.from(error.message.slice(0, 256), 'utf8')))
    this.#teardown(error, true)
  }

  #onSettingsTimeout = (): void => {
    this.#settingsTimer = undefined
    if (this.#state.kind === 'closed' || this.#settingsUnacked === 0) return
    // §6.5.3: "If the sender of a SETTINGS frame does not receive an acknowledgment within a
    // reasonable amount of time, it MAY issue a connection error of type SETTINGS_TIMEOUT."
    this.#connectionError(h2Error(H2ErrorCode.SETTINGS_TIMEOUT, 0, `SETTINGS not acknowledged within ${this.#settingsTimeout} ms (RFC 9113 §6.5.3)`))
  }

  #keepAlive = (): void => {
    if (this.#state.kind === 'closed') return
    if (this.#pings.keepAliveOutstanding) {
      this.destroy(new SocketClosedError(`no PING acknowledgement within ${this.#pingInterval} ms`, { origin: this.#origin }))
      return
    }
    this.#writer.push(encodePing(this.#pings.keepAlive(performance.now())))
  }

  #onEnd = (): void => {
    if (this.#state.kind === 'closed') return
    this.#teardown(this.#streams.size === 0 ? undefined : new SocketClosedError('connection closed by the peer', { origin: this.#origin }), false)
  }

  #onError = (err: Error): void => {
    if (this.#state.kind === 'closed') return
    this.#teardown(new SocketClosedError(err.message, { cause: err, origin: this.#origin }), false)
  }

  #onClose = (): void => {
    if (this.#state.kind !== 'closed') {
      this.#teardown(this.#streams.size === 0 ? undefined : new SocketClosedError('socket closed', { origin: this.#origin }), false)
    }
    this.#emitClose()
  }

  #emitClose = (): void => {
    if (this.#closeEmitted) return
    this.#closeEmitted = true
    this.emit('close', this.#closeErr)
  }

  /**
   * Close the connection and settle every unfinished stream exactly once: with `closeErr` when
   * it is an H2 protocol error or an explicit destroy() error, else with a SocketClosedError
   * that says whether its response had started.
   */
  #teardown(closeErr: WirepoolError | undefined, graceful: boolean): void {
    if (this.#state.kind === 'closed') return
    this.#transition(ConnectionEvent.CLOSE)
    this.#closeErr = closeErr
    for (const timer of [this.#settingsTimer, this.#resetTimer]) if (timer !== undefined) clearTimeout(timer)
    if (this.#keepAliveTimer !== undefined) clearInterval(this.#keepAliveTimer)
    this.#settingsTimer = this.#resetTimer = this.#keepAliveTimer = undefined
    this.#deadlines.cancel()
    this.#scheduler.clear()
    this.#resetQueue = []
    const streams = [...this.#streams.values()]
    this.#streams.clear()
    const socket = this.#socket
    if (graceful && !socket.destroyed) {
      this.#writer.flushNow()
      this.#writer.close()
      socket.end()
      if (socket.writableFinished) socket.destroy()
      else socket.once('finish', () => socket.destroy())
    } else {
      this.#writer.close()
      socket.destroy()
    }
    const shared = closeErr instanceof H2ProtocolError || (closeErr !== undefined && !(closeErr instanceof SocketClosedError))
    const cause = closeErr instanceof SocketClosedError && closeErr.cause !== undefined ? closeErr.cause : closeErr
    for (const stream of streams) {
      this.#abandonBody(stream)
      if (stream.done) continue
      const err =
        shared && closeErr !== undefined
          ? closeErr
          : new SocketClosedError(closeErr === undefined ? 'connection closed before the response completed' : `connection failed: ${closeErr.message}`, {
              origin: this.#origin,
              responseStarted: stream.phase !== ResponsePhase.HEAD,
              ...(cause === undefined ? {} : { cause }),
            })
      this.#fail(stream, err)
    }
    this.#pings.rejectAll(new SocketClosedError('connection closed before the PING was acknowledged', { origin: this.#origin, responseStarted: false }))
  }

  // ── header / body deadlines: one timer for the connection ───────────────────────────

  /** Set the stream's deadline `ms` from now (non-finite or ≤ 0: none), moving the one timer earlier if needed. */
  #armDeadline(stream: H2Stream, ms: number): void {
    if (!(ms > 0) || !Number.isFinite(ms) || stream.paused) {
      stream.deadline = Infinity
      return
    }
    const deadline = performance.now() + ms
    stream.deadline = deadline
    this.#deadlines.armBy(deadline)
  }

  /** The deadline timer fired: handle every stream that is due; returns the next deadline. */
  #onDeadlines(now: number): number {
    if (this.#state.kind === 'closed') return Infinity
    let next = Infinity
    for (const stream of [...this.#streams.values()]) {
      if (stream.done || stream.deadline === Infinity) continue
      if (stream.deadline > now) {
        if (stream.deadline < next) next = stream.deadline
        continue
      }
      if (stream.heldBody !== null) {
        this.#releaseHeldBody(stream)
        continue
      }
      const request = stream.request
      const error =
        stream.phase === ResponsePhase.HEAD
          ? new HeadersTimeoutError(request.headersTimeout, { origin: this.#origin })
          : new BodyTimeoutError(request.bodyTimeout, { origin: this.#origin })
      this.#cancel(stream, H2ErrorCode.CANCEL, error)
    }
    return next
  }
}

const EMPTY = new Uint8Array(0)

function noop(): void {}

/**
 * Where copyBody puts a streamed request body: the stream's send queue. A write returns a
 * promise (backpressure) while BODY_HIGH_WATER or more waits to go out; #pumpData resolves it
 * (`wakeBody`) once the queue drained below the mark, and #abandonBody when the body is dropped.
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

/** The stream's tunnel once a 2xx established it (RFC 8441), else null. */
function establishedTunnel(stream: H2Stream): TunnelHandler | null {
  const handler = stream.handler
  return handler instanceof TunnelHandler && handler.established ? handler : null
}

function detachBodyErrorSink(stream: H2Stream): void {
  const body = stream.request.body
  if (body !== null && body !== undefined && isReadable(body)) body.off('error', noop)
}
