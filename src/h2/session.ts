/**
 * H2Connection: one HTTP/2 connection (RFC 9113) driven for the pool through the
 * PoolConnection contract. This file is the connection itself — the PoolConnection surface,
 * the stream table, the connection's life — and it wires up the parts that do the work, each
 * calling back only through the one SessionContext (context.ts) built here:
 *
 *   send.ts          Sender: HEADERS, request bodies and tunnel bytes as DATA within windows
 *   recv.ts          Receiver: every frame in, checked against §3.4, §5.1 and §10.5
 *   response.ts      Responder: a stream's response to its handler
 *   recv-flow.ts     ReceiveFlow: receive windows, WINDOW_UPDATE credit, BDP window growth
 *   endings.ts       StreamEndings: a stream's failure, reset, abandoned content, removal
 *   reset-pacer.ts   PacedResets: our RST_STREAM frames, paced
 *   deadlines.ts     StreamDeadlines: header/body/send/100-continue deadlines on one timer
 *   liveness.ts      LivenessWatch: PING a silent connection, suspect one that timed out a request
 *   settings-ack.ts  SettingsAcks: our SETTINGS and their acknowledgement timeout
 *   options.ts       the options, their defaults and checks
 *   stream.ts, connection-state.ts: the two state machines (one writer each)
 *
 * Life of the connection (connection-state.ts; `#state` is written only by `#transition`):
 *
 *   awaiting-settings ──► open ──► draining ──► closed
 *
 * Hot-path notes: frames produced in one tick leave in one socket write (BatchWriter); one
 * closure pair per stream (resume/abort, the handler contract needs functions); no timer per
 * stream — header/body deadlines share one DeadlineTimer; the parts are built once per
 * connection and nothing on the per-frame path allocates.
 */
import { EventEmitter } from 'node:events'
import type { Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import { BatchWriter } from '../batch-writer.js'
import { announceConnection, type ConnectionEvents, type DispatchHandler, type DispatchRequest, type PoolConnection, type Protocol } from '../dispatch.js'
import {
  H2GoawayError,
  H2ProtocolError,
  InvalidArgumentError,
  PingTimeoutError,
  SocketClosedError,
  type WirepoolError,
  IllegalTransitionError,
} from '../errors.js'
import { ConnectionEvent, INITIAL_CONNECTION_STATE, acceptsStreams, nextConnectionState, settingsKnown, type ConnectionState } from './connection-state.js'
import type { SessionContext } from './context.js'
import { StreamDeadlines } from './deadlines.js'
import { StreamEndings } from './endings.js'
import { extendedConnectFields, requestFields } from './fields.js'
import { ReceiveWindow, SendWindow } from './flow.js'
import { CLIENT_PREFACE, H2ErrorCode, MAX_WINDOW_SIZE, h2Error, h2ErrorName, type SettingsEntry } from './frame.js'
import { FrameReader } from './frame-reader.js'
import { encodeGoaway, encodePing, encodeRstStream, encodeSettingsAck } from './frame-writer.js'
import { HpackEncoder } from './hpack.js'
import { resolveH2Options, type H2ConnectionOptions } from './options.js'
import { PingTracker } from './pings.js'
import { LivenessWatch } from './liveness.js'
import { Receiver, type ReceiverHooks } from './recv.js'
import { ReceiveFlow } from './recv-flow.js'
import { PacedResets, type ResetWire } from './reset-pacer.js'
import { Responder } from './response.js'
import { Sender, WRITE_HIGH_WATER, contentBytes } from './send.js'
import { PeerSettings, localSettings } from './settings.js'
import { SettingsAcks } from './settings-ack.js'
import { H2Stream, ResponsePhase, StreamEvent, attachBodyErrorSink, canSend } from './stream.js'
import { illegalTransition } from '../state-machine.js'
import { TunnelHandler } from './tunnel.js'

export type { H2ConnectionOptions } from './options.js'

/**
 * RFC 9113 §6.5.2 recommends peers allow at least 100 concurrent streams: until the server's
 * SETTINGS arrive we assume that many, so a cold burst does not overshoot a smaller limit by much.
 */
const ASSUMED_PEER_CONCURRENCY = 100

/** Thrown from frame callbacks once the connection is closed, to stop the reader mid-chunk. */
const UNWIND: unique symbol = Symbol('unwind')

function noop(): void {}

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
  readonly #reader: FrameReader
  readonly #writer: BatchWriter
  readonly #encoder = new HpackEncoder()
  readonly #peer = new PeerSettings()
  readonly #pings = new PingTracker()
  readonly #ctx: SessionContext
  readonly #sender: Sender
  readonly #flow: ReceiveFlow
  readonly #responder: Responder
  readonly #receiver: Receiver
  readonly #resets: PacedResets
  readonly #liveness: LivenessWatch

  /** Written only by `#transition` (connection-state.ts). */
  #state: ConnectionState = INITIAL_CONNECTION_STATE
  readonly #streams = new Map<number, H2Stream>()
  #nextStreamId = 1
  #dispatched = 0
  #served = 0

  readonly #settingsAcks: SettingsAcks

  #keepAliveTimer: NodeJS.Timeout | undefined = undefined
  /** Header / body / 100-continue deadlines: one timer for every stream. */
  readonly #deadlines: StreamDeadlines
  readonly #endings: StreamEndings

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
    const { maxHeaderListSize, maxHeaderCount, initialStreamWindow, connectionWindow, ...resolved } = resolveH2Options(options)
    this.#maxConcurrent = resolved.maxConcurrentStreams
    this.#settingsTimeout = resolved.settingsTimeout
    this.#pingInterval = resolved.pingInterval
    this.#continueTimeout = resolved.expectContinueTimeout
    this.remoteAddress = socket.remoteAddress
    this.remotePort = socket.remotePort
    this.#writer = new BatchWriter(socket, this.#afterFlush)
    this.#settingsAcks = new SettingsAcks(this.#writer, this.#settingsTimeout, this.#onSettingsTimeout)
    this.#ctx = this.#context()
    this.#sender = new Sender(this.#ctx)
    this.#flow = new ReceiveFlow(this.#ctx, this.#pings, initialStreamWindow, connectionWindow)
    this.#responder = new Responder(this.#ctx, this.#flow, this.#sender)
    this.#resets = new PacedResets(this.#resetWire())
    this.#endings = new StreamEndings(this.#ctx, this.#flow, this.#resets, this.#afterRemove)
    this.#deadlines = new StreamDeadlines(this.#ctx, this.#sender)
    this.#receiver = new Receiver(
      this.#ctx,
      this.#receiverHooks(),
      { sender: this.#sender, flow: this.#flow, responder: this.#responder, resets: this.#resets, pings: this.#pings },
      { maxHeaderListSize, maxHeaderCount },
    )
    this.#reader = new FrameReader(this.#receiver)
    this.#liveness = new LivenessWatch(resolved.readIdleTimeout, resolved.pingTimeout, {
      hasStreams: () => this.#streams.size > 0,
      sendProbe: (onAck) => this.#writer.push(encodePing(this.#pings.user(performance.now(), onAck, noop))),
      dead: (ms) => this.#livenessFailed(ms),
      cleared: () => this.#scheduleFree(),
    })
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
    this.#settingsAcks.send(localSettings({ initialWindowSize: initialStreamWindow, maxHeaderListSize }))
    this.#flow.openConnectionWindow(connectionWindow)
    if (this.#pingInterval > 0) {
      this.#keepAliveTimer = setInterval(this.#keepAlive, this.#pingInterval)
      this.#keepAliveTimer.unref()
    }
  }

  /** The one SessionContext of this connection (context.ts): built once, its members close over it. */
  #context(): SessionContext {
    return {
      origin: this.#origin,
      streams: this.#streams,
      writer: this.#writer,
      peer: this.#peer,
      closed: () => this.#state.kind === 'closed',
      transitionStream: (stream, event, errorCode) => this.#transitionStream(stream, event, errorCode),
      armDeadline: (stream, ms) => this.#deadlines.arm(stream, ms),
      armSendDeadline: (stream, at) => this.#deadlines.armSendAt(stream, at),
      requestTimedOut: () => this.#liveness.requestTimedOut(),
      cancel: (stream, code, error) => this.#endings.cancel(stream, code, error),
      streamError: (stream, error) => this.#endings.streamError(stream, error),
      handlerThrew: (stream, err) => this.#endings.handlerThrew(stream, err),
      fail: (stream, error) => this.#endings.fail(stream, error),
      remove: (stream) => this.#endings.remove(stream),
      abandonBody: (stream) => this.#endings.abandonBody(stream),
      queueReset: (stream, code) => this.#resets.reset(stream, code),
      countServed: () => {
        this.#served++
      },
      sendSettings: (entries) => this.#settingsAcks.send(entries),
    }
  }

  #receiverHooks(): ReceiverHooks {
    return {
      checkLive: (serverPreface) => this.#checkLive(serverPreface),
      isIdle: (streamId) => this.#isIdle(streamId),
      settingsAcked: () => this.#settingsAcks.acked(),
      applyPeerSettings: (entries) => this.#applyPeerSettings(entries),
      goaway: (lastStreamId, errorCode) => this.#onGoaway(lastStreamId, errorCode),
      lowerCalmLimit: () => {
        this.#calmLimit = Math.min(this.#calmLimit, Math.max(1, this.#streams.size))
      },
    }
  }

  #resetWire(): ResetWire {
    return {
      sendReset: (stream, code) => {
        if (!this.#transitionStream(stream, StreamEvent.SEND_RESET, code)) return
        this.#writer.push(encodeRstStream(stream.id, code))
        this.#endings.remove(stream)
      },
      isCurrent: (stream) => this.#streams.get(stream.id) === stream,
      afterPacedBatch: () => void this.#maybeFinishDrain(),
      closed: () => this.#state.kind === 'closed',
    }
  }

  // ── PoolConnection ──────────────────────────────────────────────────────────────────

  get capacity(): number {
    const state = this.#state
    if (!acceptsStreams(state)) return 0
    // A request timed out here and no PING proved the peer alive since (liveness.ts): send
    // nothing more into what may be a dead connection; the pool uses or opens another.
    if (this.#liveness.suspect) return 0
    const peer = state.kind === 'open' ? this.#peer.maxConcurrentStreams : ASSUMED_PEER_CONCURRENCY
    // RFC 9113 §5.1.2: streams that are open or half-closed count toward the PEER's limit, and
    // "Endpoints MUST NOT exceed the limit set by their peer": a cancelled stream whose
    // RST_STREAM still waits in the pacer is open on the wire, so it keeps its slot there
    // (and under the ENHANCE_YOUR_CALM limit, the peer's too). Our own cap is ours to count:
    // a cancelled stream no longer takes one of its slots (issue #18: an abort storm must not
    // wait for the pacer), but streams on the wire stay under twice our cap, so a storm of
    // cancels against a peer with a huge limit cannot grow the table without bound.
    const wire = this.#streams.size
    const live = wire - this.#resets.waiting
    const free = Math.min(Math.min(peer, this.#calmLimit) - wire, this.#maxConcurrent - live, 2 * this.#maxConcurrent - wire)
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
    return this.#streams.size - this.#resets.waiting
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
  /** The pool's ref/unref of the socket (PoolConnection#setKeepsProcessAlive). */
  setKeepsProcessAlive(flag: boolean): void {
    if (flag) this.#socket.ref()
    else this.#socket.unref()
  }

  get extendedConnect(): boolean {
    return this.#peer.enableConnectProtocol === 1
  }

  /** Our SETTINGS_INITIAL_WINDOW_SIZE now (grows with the BDP estimate). */
  get localStreamWindow(): number {
    return this.#flow.localWindow
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
    const bytes = contentBytes(body, contentLength)
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
            write: (chunk, done) => this.#sender.tunnelWrite(tunnelStream, chunk, done),
            end: (done) => this.#sender.tunnelEnd(tunnelStream, done),
            resume: () => this.#responder.resume(tunnelStream),
            abort: (reason) => this.#endings.abort(tunnelStream, reason),
          })
    const stream = new H2Stream(
      request,
      streamHandler,
      new SendWindow(this.#peer.initialWindowSize, id),
      new ReceiveWindow(this.#flow.localWindow, id),
      contentLength,
      this.#responder.resume,
      this.#endings.abort,
    )
    stream.id = id
    tunnelStream = stream
    this.#streams.set(id, stream)
    this.#liveness.streamOpened()
    const reused = this.#dispatched > 0
    this.#dispatched++
    attachBodyErrorSink(stream)
    if (handler.onConnect !== undefined) {
      const thrown = announceConnection(handler, stream.abort, this, reused)
      if (thrown !== undefined) this.#endings.abort(stream, thrown)
      if (stream.done) return
    }

    // RFC 8441 §4 / RFC 9113 §8.5: a CONNECT's HEADERS carry no END_STREAM — the stream stays
    // open for the tunnel's bytes.
    const endStream = contentLength === 0 && upgrade === undefined
    this.#sender.writeHeaders(id, this.#encoder.encode(fields), endStream)
    if (!this.#transitionStream(stream, StreamEvent.SEND_HEADERS)) return
    if (upgrade !== undefined) {
      this.#deadlines.arm(stream, request.headersTimeout)
    } else if (endStream) {
      stream.bodyEnded = true
      if (!this.#transitionStream(stream, StreamEvent.SEND_END_STREAM)) return
      handler.onRequestSent?.()
      this.#deadlines.arm(stream, request.headersTimeout)
    } else if (request.expectContinue) {
      // RFC 9110 §10.1.1: hold the content until 100 (Continue), a final response, or our
      // patience ends — the deadline scan releases it after expectContinueTimeout.
      this.#sender.holdBody(stream, bytes)
      this.#deadlines.armAt(stream, performance.now() + this.#continueTimeout)
    } else {
      this.#sender.startBody(stream, bytes)
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

  // ── socket ──────────────────────────────────────────────────────────────────────────

  #afterFlush = (): void => {
    // The socket caught up with our acknowledgements: the flood counter starts over.
    if (this.#socket.writableLength < WRITE_HIGH_WATER) this.#receiver.acksFlushed()
    if (this.#sender.pending) this.#sender.pumpData()
  }

  #onDrain = (): void => {
    this.#receiver.acksFlushed()
    this.#sender.pumpData()
  }

  #onData = (chunk: Buffer): void => {
    if (this.#state.kind === 'closed') return
    this.#liveness.lastRead = performance.now()
    try {
      this.#reader.push(chunk)
    } catch (err) {
      // A bug of ours under test: let it fail the test run (src/state-machine.ts).
      if (err instanceof IllegalTransitionError) throw err
      // (#state may have changed inside the reader's callbacks.)
      if (err === UNWIND || this.#isClosed()) return
      if (err instanceof H2ProtocolError) this.#connectionError(err)
      else this.#connectionError(h2Error(H2ErrorCode.INTERNAL_ERROR, 0, 'internal failure while reading frames', err))
    }
  }

  /**
   * Before every frame the Receiver acts on. A handler callback may have closed the
   * connection in the middle of a chunk: unwind out of the frame reader so that no later
   * frame of the chunk is acted on.
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

  /** §5.1.1: an odd id we never used yet is idle; an even id could only be a (refused) push. */
  #isIdle(streamId: number): boolean {
    return streamId % 2 === 0 || streamId >= this.#nextStreamId
  }

  // ── SETTINGS (§6.5) and GOAWAY (§6.8) ───────────────────────────────────────────────

  #onSettingsTimeout = (): void => {
    if (this.#state.kind === 'closed') return
    // §6.5.3: "If the sender of a SETTINGS frame does not receive an acknowledgment within a
    // reasonable amount of time, it MAY issue a connection error of type SETTINGS_TIMEOUT."
    this.#connectionError(h2Error(H2ErrorCode.SETTINGS_TIMEOUT, 0, `SETTINGS not acknowledged within ${this.#settingsTimeout} ms (RFC 9113 §6.5.3)`))
  }

  /** The peer's SETTINGS (checked by the Receiver): apply them in order, acknowledge, and let the pool know. */
  #applyPeerSettings(entries: readonly SettingsEntry[]): void {
    const capacityBefore = this.capacity
    const first = this.#awaitingPreface()
    const change = this.#peer.apply(entries)
    if (first) this.#transition(ConnectionEvent.SETTINGS)
    if (change.windowDelta !== 0) {
      // §6.9.2: every stream window moves by the difference, possibly below zero.
      for (const stream of this.#streams.values()) {
        stream.sendWindow.applyInitialWindowDelta(change.windowDelta)
        if (change.windowDelta > 0 && (stream.queuedBytes > 0 || (stream.bodyEnded && canSend(stream.state)))) this.#sender.schedule(stream)
      }
    }
    if (change.headerTableSize >= 0) this.#encoder.setMaxTableSize(change.headerTableSize)
    this.#writer.push(encodeSettingsAck())
    this.#sender.pumpData()
    // The first SETTINGS replaces the assumed limit with the real one: the pool waits for
    // this `free` before it counts on the connection.
    if (first || this.capacity > capacityBefore) this.#scheduleFree()
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
      this.#endings.abandonBody(stream)
      this.#endings.remove(stream)
      if (!stream.done) this.#endings.fail(stream, new H2GoawayError(last, errorCode, name, { origin: this.#origin }))
    }
    this.#maybeFinishDrain()
  }

  // ── streams ─────────────────────────────────────────────────────────────────────────

  /**
   * Apply a §5.1 event to the stream (H2Stream.transition is the one writer of its state). The
   * peer's frames are checked against the state before, so an unlisted move here is our bug:
   * it throws under test; in production the connection fails with INTERNAL_ERROR and this
   * returns false, for the caller to stop.
   */
  #transitionStream(stream: H2Stream, event: StreamEvent, errorCode = 0): boolean {
    const bug = stream.transition(event, errorCode)
    if (bug === null) return true
    this.#connectionError(bug)
    return false
  }

  /** A stream left the table: no deadline to watch when none is left, capacity is free, a drain may be done. */
  readonly #afterRemove = (): void => {
    // An idle connection keeps no timer for deadlines.
    if (this.#streams.size === 0) this.#deadlines.cancel()
    this.#scheduleFree()
    this.#maybeFinishDrain()
  }

  #scheduleFree(): void {
    if (this.#freeScheduled) return
    this.#freeScheduled = true
    process.nextTick(this.#emitFree)
  }

  #emitFree = (): void => {
    this.#freeScheduled = false
    // (A suspect connection shows no capacity but must still tell the pool that its load
    // went to nothing: the pool reads idle/busy from it.)
    if (this.capacity > 0 || this.#streams.size === 0) this.emit('free')
  }

  // ── lifecycle ───────────────────────────────────────────────────────────────────────

  /**
   * The one writer of `#state` (connection-state.ts has the table). Entering draining emits
   * `draining` once. An unlisted move is our bug (src/state-machine.ts): it throws under
   * test; in production the connection fails with it (GOAWAY INTERNAL_ERROR).
   */
  #transition(event: ConnectionEvent, reason?: string): void {
    const from = this.#state
    const to = nextConnectionState(from, event)
    if (to === null) {
      const bug = illegalTransition('HTTP/2 connection', from.kind, event, { origin: this.#origin })
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
  /** A connection error (§5.4.1): GOAWAY with its code — INTERNAL_ERROR for a bug of ours — then teardown. */
  #connectionError(error: H2ProtocolError | IllegalTransitionError): void {
    if (this.#state.kind === 'closed') return
    if (error.origin === undefined) error.origin = this.#origin
    const lastPeerStream = 0 // we never accept peer-initiated streams
    const code = error instanceof H2ProtocolError ? error.h2Code : H2ErrorCode.INTERNAL_ERROR
    this.#writer.push(encodeGoaway(lastPeerStream, code, Buffer.from(error.message.slice(0, 256), 'utf8')))
    this.#teardown(error, true)
  }

  #keepAlive = (): void => {
    if (this.#state.kind === 'closed') return
    if (this.#pings.keepAliveOutstanding) {
      this.destroy(new SocketClosedError(`no PING acknowledgement within ${this.#pingInterval} ms`, { origin: this.#origin }))
      return
    }
    this.#writer.push(encodePing(this.#pings.keepAlive(performance.now())))
  }

  /**
   * A liveness PING went unanswered (liveness.ts): the peer is gone or its bytes no longer
   * arrive. The connection retires with the reason (the pool's lifecycle events and figures
   * show it), every stream fails with PingTimeoutError — retryable when no byte of its
   * response arrived, so an idempotent request goes again on another connection (RFC 9110
   * §9.2.2) — and the socket is destroyed (a graceful end could wait forever on a dead peer).
   */
  #livenessFailed(ms: number): void {
    if (this.#state.kind === 'closed') return
    const origin = this.#origin
    if (acceptsStreams(this.#state)) this.#transition(ConnectionEvent.RETIRE, `ping-timeout: no PING acknowledgement within ${ms} ms`)
    for (const stream of [...this.#streams.values()]) {
      if (stream.done) continue
      this.#endings.abandonBody(stream)
      this.#endings.fail(stream, new PingTimeoutError(ms, { origin, responseStarted: stream.phase !== ResponsePhase.HEAD }))
    }
    this.destroy(new PingTimeoutError(ms, { origin, responseStarted: false }))
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

  /** Close the connection: timers stop, the socket ends (graceful) or is destroyed, every unfinished stream fails once. */
  #teardown(closeErr: WirepoolError | undefined, graceful: boolean): void {
    if (this.#state.kind === 'closed') return
    this.#transition(ConnectionEvent.CLOSE)
    this.#closeErr = closeErr
    this.#settingsAcks.stop()
    if (this.#keepAliveTimer !== undefined) clearInterval(this.#keepAliveTimer)
    this.#keepAliveTimer = undefined
    this.#deadlines.cancel()
    this.#liveness.stop()
    this.#resets.clear()
    this.#sender.clear()
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
    this.#endings.failAll(streams, closeErr)
    this.#pings.rejectAll(new SocketClosedError('connection closed before the PING was acknowledged', { origin: this.#origin, responseStarted: false }))
  }
}
