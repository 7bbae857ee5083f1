/**
 * The WebSocket client (RFC 6455) with the WHATWG `WebSocket` shape, opened through the pool
 * (so `wss:` gets the pool's TLS: CA, pins, session resumption). The pool picks the transport:
 * an HTTP/2 connection whose peer enabled extended CONNECT carries it as one stream (RFC 8441:
 * the handshake is the 2xx to CONNECT, other requests share the connection), otherwise an
 * HTTP/1.1 Upgrade (after the 101 the socket is ours alone). Either way we get a Duplex and
 * the frames are the same.
 *
 * This file is the WHATWG surface (attributes, events, the send/close entry points) and the
 * lifecycle: one `#state` (state.ts: the union, its RFC 6455 §7.1 diagram and its transition
 * function), written only by `#transition`, which does what entering each state entails.
 * The parts live beside it, as `ws` splits them: opening.ts (the opening handshake's
 * request), sender.ts (frames out, write batching, bufferedAmount), receiver.ts (frames in,
 * fragments, inflate, UTF-8), heartbeat.ts (Pings and Pongs), iterator.ts (`for await`).
 *
 * The close handshake (§7.1.2–§7.1.4): the side that starts sends a Close frame; the other
 * echoes it. A client then waits for the server to close the TCP connection (§7.1.1), ending
 * its own side, and destroys the socket if that takes longer than `closeTimeout`: a
 * socket is never leaked to a silent peer.
 */
import type { Duplex } from 'node:stream'
import { getDefaultAgent, type Agent } from '../pool/agent.js'
import type { WebSocketFigures } from '../pool/stats.js'
import { poolInternals } from '../pool/internals.js'
import { strictStates } from '../state-machine.js'
import type { Protocol } from '../dispatch.js'
import { IllegalTransitionError, InvalidArgumentError, SocketClosedError, WirepoolError, WsHandshakeError, WsProtocolError, toWirepoolError } from '../errors.js'
import { PerMessageDeflate } from './deflate.js'
import { CloseEvent, ErrorEvent } from './events.js'
import { CloseCode, Opcode, isValidCloseCode } from './frame.js'
import { encodeClose, encodeFrame } from './frame-encode.js'
import { normalizeProtocols, parseWsUrl, type HandshakeResult } from './handshake.js'
import { Heartbeat } from './heartbeat.js'
import { messageIterator } from './iterator.js'
import { Opening } from './opening.js'
import { resolveWebSocketOptions, webSocketOptions, type ResolvedWebSocketOptions, type WebSocketOptions } from './options.js'
import { Receiver } from './receiver.js'
import { Sender, noop, type SendOptions } from './sender.js'
import { CONNECTING, OPEN, READY_STATE, nextWsState, type Closed, type Closing, type WsEvent, type WsState } from './state.js'

export type { PerMessageDeflateOptions } from './handshake.js'
export type { WebSocketOptions } from './options.js'
export type { SendOptions } from './sender.js'

export type BinaryType = 'blob' | 'arraybuffer' | 'nodebuffer'

/** What `message` events carry (and the async iterator yields): text as a string, binary per `binaryType`. */
export type MessageData = string | Blob | ArrayBuffer | Buffer

/**
 * The `message` event as this WebSocket dispatches it (a MessageEvent, WHATWG HTML §9.3.4):
 * its `data` is a MessageData per `binaryType`, its `origin` the server's.
 */
export interface WebSocketMessageEvent extends Event {
  readonly data: MessageData
  readonly origin: string
}

/** Event name → event type, so that `addEventListener('message', e => e.data)` is typed. */
export interface WebSocketEventMap {
  open: Event
  message: WebSocketMessageEvent
  close: CloseEvent
  error: ErrorEvent
}

// EventTarget's own parameter types (@types/node does not export their names globally).
type AnyListener = Parameters<EventTarget['addEventListener']>[1]
type AddOptions = Parameters<EventTarget['addEventListener']>[2]
type RemoveOptions = Parameters<EventTarget['removeEventListener']>[2]

type WebSocketListener<E> = ((this: WebSocket, event: E) => void) | { handleEvent(event: E): void }

// Typed overloads merged into the class (types only: EventTarget's methods run unchanged),
// as lib.dom types its WebSocket.
export interface WebSocket {
  addEventListener<K extends keyof WebSocketEventMap>(type: K, listener: WebSocketListener<WebSocketEventMap[K]> | null, options?: AddOptions): void
  addEventListener(type: string, listener: AnyListener | null, options?: AddOptions): void
  removeEventListener<K extends keyof WebSocketEventMap>(type: K, listener: WebSocketListener<WebSocketEventMap[K]> | null, options?: RemoveOptions): void
  removeEventListener(type: string, listener: AnyListener | null, options?: RemoveOptions): void
}

const textDecoder = new TextDecoder()
let pingCounter = 0

// The events without data, made once.
const OPENED: WsEvent = { type: 'opened' }
const SENT_CLOSE: WsEvent = { type: 'sent-close' }
const SOCKET_CLOSED: WsEvent = { type: 'socket-closed' }

export class WebSocket extends EventTarget {
  static readonly CONNECTING = 0
  static readonly OPEN = 1
  static readonly CLOSING = 2
  static readonly CLOSED = 3
  readonly CONNECTING = 0
  readonly OPEN = 1
  readonly CLOSING = 2
  readonly CLOSED = 3

  readonly url: string
  /** `ws://host:port` for MessageEvent.origin (WHATWG: the URL's origin, serialised). */
  readonly #origin: string
  /** The lifecycle (state.ts); `#transition` is its only writer. */
  #state: WsState = CONNECTING
  #binaryType: BinaryType = 'blob'
  #protocol = ''
  #extensions = ''

  readonly #agent: Agent
  readonly #figures: WebSocketFigures
  /** The handshake's http(s): URL. */
  readonly #httpUrl: URL
  readonly #protocols: string[]
  readonly #options: ResolvedWebSocketOptions
  readonly #opening: Opening
  #closeTimer: NodeJS.Timeout | undefined
  readonly #heartbeat: Heartbeat

  /** Set once open: the connection and its two halves. */
  #socket: Duplex | undefined
  #deflate: PerMessageDeflate | null = null
  #sender: Sender | undefined
  #receiver: Receiver | undefined
  #pausedByIterator = false

  readonly #handlers = new Map<string, (event: Event) => void>()

  constructor(url: string | URL, protocolsOrOptions?: string | readonly string[] | WebSocketOptions) {
    super()
    const options = webSocketOptions(protocolsOrOptions)
    const { ws, http } = parseWsUrl(url)
    this.url = ws.href
    this.#origin = `${ws.protocol}//${ws.host}`
    this.#httpUrl = http
    this.#agent = options.agent ?? getDefaultAgent()
    // The origin's stats()/metrics() count this WebSocket's messages, bytes and close code.
    this.#figures = poolInternals.webSocketFigures(this.#agent.pool(this.#httpUrl.origin))
    this.#protocols = normalizeProtocols(options.protocols)
    const resolved = resolveWebSocketOptions(options)
    this.#options = resolved
    const offer = resolved.deflate?.offer ?? null
    const request = { url: http, headers: options.headers, protocols: this.#protocols, offer, timeout: resolved.handshakeTimeout }
    this.#opening = new Opening(this.#agent, request, {
      waiting: () => this.#state === CONNECTING,
      failed: (err) => this.#handshakeFailed(err),
      upgraded: (socket, result, head) => this.#onUpgrade(socket, result, head),
    })
    this.#heartbeat = new Heartbeat(
      {
        ping: () => this.ping(),
        isOpen: () => this.#state === OPEN,
        missedPong: () => this.#missedPong(),
      },
      resolved.pingInterval,
      resolved.pongTimeout,
    )
    // Started on the next tick: every event, even an immediate failure, reaches listeners
    // added right after the constructor (WHATWG: the constructor never fires events).
    process.nextTick(() => {
      if (this.#state === CONNECTING) this.#opening.start()
    })
  }

  // ── WHATWG attributes ─────────────────────────────────────────────────────────────────

  get readyState(): number {
    return READY_STATE[this.#state.kind]
  }

  /** Bytes of application data passed to send() and not yet flushed to the socket. */
  get bufferedAmount(): number {
    return this.#sender?.bufferedAmount ?? 0
  }

  /** The subprotocol the server selected ('' for none). */
  get protocol(): string {
    return this.#protocol
  }

  /** The Sec-WebSocket-Extensions the server accepted ('' for none). */
  get extensions(): string {
    return this.#extensions
  }

  /**
   * How the WebSocket is carried: 'h2' for an RFC 8441 stream on a shared HTTP/2 connection,
   * 'http/1.1' for an Upgrade on a connection of its own; undefined before a connection took it.
   */
  get transport(): Protocol | undefined {
    return this.#opening.transport
  }

  get binaryType(): BinaryType {
    return this.#binaryType
  }

  set binaryType(value: BinaryType) {
    if (value !== 'blob' && value !== 'arraybuffer' && value !== 'nodebuffer') {
      throw new InvalidArgumentError(`binaryType must be 'blob', 'arraybuffer' or 'nodebuffer', got ${String(value)}`)
    }
    this.#binaryType = value
  }

  get onopen(): ((event: Event) => void) | null {
    return this.#handlers.get('open') ?? null
  }
  set onopen(fn: ((event: Event) => void) | null) {
    this.#setHandler('open', fn)
  }
  get onmessage(): ((event: MessageEvent) => void) | null {
    return (this.#handlers.get('message') as ((event: MessageEvent) => void) | undefined) ?? null
  }
  set onmessage(fn: ((event: MessageEvent) => void) | null) {
    this.#setHandler('message', fn as ((event: Event) => void) | null)
  }
  get onclose(): ((event: CloseEvent) => void) | null {
    return (this.#handlers.get('close') as ((event: CloseEvent) => void) | undefined) ?? null
  }
  set onclose(fn: ((event: CloseEvent) => void) | null) {
    this.#setHandler('close', fn as ((event: Event) => void) | null)
  }
  get onerror(): ((event: ErrorEvent) => void) | null {
    return (this.#handlers.get('error') as ((event: ErrorEvent) => void) | undefined) ?? null
  }
  set onerror(fn: ((event: ErrorEvent) => void) | null) {
    this.#setHandler('error', fn as ((event: Event) => void) | null)
  }

  #setHandler(type: string, fn: ((event: Event) => void) | null): void {
    const previous = this.#handlers.get(type)
    if (previous !== undefined) this.removeEventListener(type, previous)
    if (typeof fn === 'function') {
      this.#handlers.set(type, fn)
      this.addEventListener(type, fn)
    } else {
      this.#handlers.delete(type)
    }
  }

  // ── sending ───────────────────────────────────────────────────────────────────────────

  /**
   * Queue a message: a string is sent as text, bytes (ArrayBuffer, any view, Blob) as
   * binary. Throws while connecting (WHATWG InvalidStateError); after close() the data is
   * discarded, as WHATWG says.
   */
  send(data: string | ArrayBuffer | ArrayBufferView | Blob, options?: SendOptions): void {
    // Fire-and-forget: a message that never reaches the socket is reported by the close
    // (and error) events, so no promise is made per message.
    const state = this.#state
    if (state === OPEN) (this.#sender as Sender).send(data, options, noop, noop)
    else if (state === CONNECTING) throw new InvalidArgumentError('WebSocket is still connecting')
  }

  /** As send(), resolving once the message's frames were flushed to the socket; rejects when closing or closed. */
  sendAsync(data: string | ArrayBuffer | ArrayBufferView | Blob, options?: SendOptions): Promise<void> {
    if (this.#state === CONNECTING) throw new InvalidArgumentError('WebSocket is still connecting')
    if (this.#state !== OPEN) return Promise.reject(new SocketClosedError('WebSocket is closing or closed'))
    const sender = this.#sender as Sender
    return new Promise<void>((resolve, reject) => sender.send(data, options, resolve, reject))
  }

  /**
   * Send a Ping (§5.5.2). Resolves with the round-trip time in ms when the matching Pong
   * arrives; a Pong answers its Ping and every earlier one (§5.5.3: a peer may answer only
   * the most recent). Rejects if the connection closes first.
   */
  ping(data?: string | Uint8Array): Promise<number> {
    if (this.#state !== OPEN) return Promise.reject(new InvalidArgumentError('WebSocket is not open'))
    const payload = data === undefined ? Buffer.from(`wp${++pingCounter}`) : Buffer.from(data)
    if (payload.length > 125) return Promise.reject(new InvalidArgumentError('a ping payload is at most 125 bytes'))
    return new Promise<number>((resolve, reject) => {
      this.#heartbeat.sent(payload, resolve, reject)
      ;(this.#sender as Sender).writeControl(encodeFrame(Opcode.PING, payload))
    })
  }

  /**
   * Start the closing handshake (§7.1.2). `code` must be one a Close frame may carry
   * (1000–1003, 1007–1014, 3000–4999); `reason` at most 123 bytes of UTF-8. While
   * connecting, the handshake is abandoned and the connection fails (WHATWG).
   */
  close(code?: number, reason?: string): void {
    if (code !== undefined && (!Number.isInteger(code) || !isValidCloseCode(code))) {
      throw new InvalidArgumentError(`close code ${String(code)} cannot be sent (valid: 1000-1003, 1007-1014, 3000-4999)`)
    }
    if (reason !== undefined && Buffer.byteLength(String(reason)) > 123) {
      throw new InvalidArgumentError('close reason is longer than 123 bytes')
    }
    if (reason !== undefined && reason !== '' && code === undefined) {
      throw new InvalidArgumentError('a close reason needs a close code')
    }
    if (this.#state === CONNECTING) {
      this.#handshakeFailed(new WsHandshakeError(0, 'WebSocket was closed before the connection was established', { initiator: 'user' }))
      return
    }
    if (this.#state !== OPEN) return
    this.#sendClose(code, reason ?? '')
  }

  /**
   * The messages, in order, as `message` events carry them. Ends after a clean close; throws
   * the error of an unclean one. Too many unread messages pause reading from the socket
   * (TCP backpressure reaches the server). Leaving the loop early (break/return) closes the
   * WebSocket with 1000, as leaving a `for await` over a Node stream destroys it (iterator.ts).
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<MessageData> {
    return messageIterator<MessageData>(this, {
      pause: (paused) => this.#setIteratorPause(paused),
      closeError: () => {
        const state = this.#state
        return state.kind === 'closed' ? state.error : undefined
      },
      leave: () => {
        if (this.#state === OPEN) this.close(CloseCode.NORMAL)
      },
    })
  }

  #setIteratorPause(paused: boolean): void {
    if (this.#pausedByIterator === paused) return
    this.#pausedByIterator = paused
    const socket = this.#socket
    if (socket === undefined) return
    if (paused) socket.pause()
    else socket.resume()
  }

  // ── connecting ────────────────────────────────────────────────────────────────────────

  #handshakeFailed(err: WirepoolError): void {
    // Reports that come after the handshake ended are not failures of it: the request's own
    // onError after the abort below, a timeout that lost the race with the 101.
    if (this.#state !== CONNECTING) return
    this.#transition({ type: 'handshake-failed', error: err })
    this.#opening.abort(err)
  }

  /** A valid 101 (or 2xx): the connection and its two halves, then `open`. */
  #onUpgrade(socket: Duplex, result: HandshakeResult, head: Uint8Array): void {
    this.#socket = socket
    this.#protocol = result.protocol
    this.#extensions = result.extensions
    if (result.deflate !== null) {
      this.#deflate = new PerMessageDeflate(result.deflate, { maxPayload: this.#options.maxPayload, level: this.#options.deflate?.level })
    }
    this.#sender = new Sender(
      socket,
      this.#figures,
      { fail: (err, code) => this.#fail(err, code), closeWritten: () => this.#afterCloseWritten() },
      { deflate: this.#deflate, deflateThreshold: this.#options.deflate?.threshold ?? 0, fragmentSize: this.#options.fragmentSize },
    )
    const receiver = new Receiver(
      {
        message: (binary, bytes) => this.#deliverMessage(binary, bytes),
        closeFrame: (code, reason) => this.#onCloseFrame(code, reason),
        ping: (payload) => this.#onPing(payload),
        pong: (payload) => this.#heartbeat.pong(payload),
        fail: (err, code) => this.#fail(err, code),
      },
      this.#deflate,
      this.#options.maxPayload,
    )
    this.#receiver = receiver
    socket.on('data', receiver.onData)
    socket.on('end', this.#onSocketEnd)
    socket.on('error', this.#onSocketError)
    socket.on('close', this.#onSocketClose)
    this.#transition(OPENED)
    // Even when an 'open' listener called close(), the server's answer must still be read.
    if (this.#isClosed()) return
    if (head.length > 0) receiver.onData(head)
    if (!this.#pausedByIterator) socket.resume()
  }

  // ── receiving ─────────────────────────────────────────────────────────────────────────

  #deliverMessage(binary: boolean, bytes: Uint8Array): void {
    // After our Close (or a failure) the application gets nothing more (WHATWG: only while OPEN).
    if (this.#state !== OPEN) return
    let data: MessageData
    if (!binary) data = textDecoder.decode(bytes)
    else if (this.#binaryType === 'nodebuffer') data = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    else if (this.#binaryType === 'arraybuffer') data = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer
    else data = new Blob([bytes])
    this.#figures.messagesIn++
    this.#figures.bytesIn += bytes.byteLength
    this.dispatchEvent(new MessageEvent('message', { data, origin: this.#origin }))
  }

  #onPing(payload: Uint8Array): void {
    // §5.5.2: answer with a Pong carrying the same payload, unless we already sent a Close.
    const state = this.#state
    if (!(state.kind === 'closing' && state.sentClose)) (this.#sender as Sender).writeControl(encodeFrame(Opcode.PONG, payload))
  }

  /** §5.5.1: a Close from the server. Echo it (if we have not sent ours) and wait for TCP to end. */
  #onCloseFrame(code: number, reason: string): void {
    if (!this.#transition({ type: 'received-close', code, reason })) return
    if (!(this.#state as Closing).sentClose) {
      // §5.5.1: "the endpoint ... MUST send a Close frame in response ... typically echoing
      // the status code it received". 1005 means there was none: echo an empty Close.
      this.#sendClose(code === CloseCode.NO_STATUS ? undefined : code, '')
    } else {
      this.#afterCloseWritten()
    }
  }

  // ── closing ───────────────────────────────────────────────────────────────────────────

  /** Queue our Close behind the data already queued (§5.5.1: it is the last frame we send). */
  #sendClose(code: number | undefined, reason: string): void {
    if (!this.#transition(SENT_CLOSE)) return
    this.#heartbeat.stop()
    ;(this.#sender as Sender).sendClose(encodeClose(code, reason))
    // The clock starts now even if queued data is slow to drain: a peer that stops reading
    // must not keep the socket forever.
    this.#startCloseTimer()
  }

  /**
   * Our Close is on the wire. Once the server's Close is in too (or the connection failed),
   * the handshake is over: end our side of TCP (the server closes first, §7.1.1, and a FIN
   * tells it we are done).
   */
  #afterCloseWritten(): void {
    const state = this.#state
    if (state.kind !== 'closing' || !state.sentClose) return
    if ((state.receivedClose || state.failure !== undefined) && (this.#sender as Sender).idle) this.#socket?.end()
  }

  #startCloseTimer(): void {
    if (this.#closeTimer !== undefined) return
    this.#closeTimer = setTimeout(() => {
      this.#closeTimer = undefined
      const error = new SocketClosedError(`no Close frame from the server within ${this.#options.closeTimeout} ms of ours`, { initiator: 'library' })
      this.#transition({ type: 'transport-failed', error, reported: false })
      this.#socket?.destroy()
    }, this.#options.closeTimeout)
    this.#closeTimer.unref()
  }

  /**
   * _Fail the WebSocket Connection_ (§7.1.7): stop reading, send a Close with `code` when we
   * still can, report the error now and the close once the socket is gone.
   */
  #fail(err: WirepoolError, code: number): void {
    const state = this.#state
    // Failed once: what goes wrong afterwards is a consequence.
    if (state.kind === 'closed' || (state.kind === 'closing' && state.failure !== undefined)) return
    if (!this.#transition({ type: 'failed', error: err, code })) return
    this.#receiver?.discard()
    this.#sender?.abandonUnready(err)
    this.dispatchEvent(new ErrorEvent('error', err))
    if (!(this.#state as Closing).sentClose && isValidCloseCode(code)) {
      // §7.1.7: send the Close if we still can; #afterCloseWritten then ends our side at
      // once (no point waiting for the Close of a peer that broke the protocol).
      this.#sendClose(code, '')
    } else {
      this.#socket?.destroy()
    }
  }

  /** The heartbeat's Ping got no Pong: the peer is gone or stuck, no Close handshake can complete, so drop TCP (1006). */
  #missedPong(): void {
    const error = new WsProtocolError(CloseCode.ABNORMAL, `no Pong within ${this.#heartbeat.pongTimeout} ms of a heartbeat Ping`, {
      initiator: 'library',
    })
    if (!this.#transition({ type: 'transport-failed', error, reported: true })) return
    this.#receiver?.stop()
    this.dispatchEvent(new ErrorEvent('error', error))
    this.#socket?.destroy()
  }

  #onSocketEnd = (): void => {
    // The server closed its side. After a complete close handshake this is the expected end
    // (§7.1.1); otherwise it is an abnormal closure (1006), reported when 'close' comes.
    this.#receiver?.stop()
    this.#socket?.end()
  }

  #onSocketError = (err: Error): void => {
    // An error the socket reports while going away after the close has nothing left to fail.
    if (this.#state.kind === 'closed') return
    this.#transition({ type: 'transport-failed', error: toWirepoolError(err), reported: false })
  }

  #onSocketClose = (): void => {
    this.#transition(SOCKET_CLOSED)
  }

  // ── state ─────────────────────────────────────────────────────────────────────────────

  /** A read of the current state that type narrowing cannot see through (listeners run in between). */
  #isClosed(): boolean {
    return this.#state.kind === 'closed'
  }

  /**
   * The one writer of `#state` (state.ts draws the moves), and what entering each state
   * entails. A move the diagram does not draw is a bug of ours: it throws under tap and
   * otherwise fails the connection with 1011 (`#internalError`). Returns whether it moved.
   */
  #transition(event: WsEvent): boolean {
    const from = this.#state
    let next: WsState
    try {
      next = nextWsState(from, event)
    } catch (err) {
      // A bug of ours (src/state-machine.ts): it fails the test run where it happens.
      if (strictStates() || !(err instanceof IllegalTransitionError)) throw err
      this.#internalError(err)
      return false
    }
    this.#state = next
    if (from === CONNECTING) this.#opening.stopTimer()
    if (next === OPEN) {
      this.#figures.onOpen()
      this.#heartbeat.start()
      this.dispatchEvent(new Event('open'))
    } else if (next.kind === 'closed') {
      this.#finish(from, next)
    }
    return true
  }

  /** An unlisted move in production: fail what can still be failed, with 1011 (RFC 6455 §7.4.1). */
  #internalError(err: WirepoolError): void {
    const state = this.#state
    if (state.kind === 'connecting') this.#handshakeFailed(err)
    else if (state.kind === 'closed') process.emitWarning(err)
    else if (state.kind === 'open' || state.failure === undefined) this.#fail(err, CloseCode.INTERNAL_ERROR)
    else this.#socket?.destroy()
  }

  /** Everything a closed WebSocket must release, then the error (if not told yet) and close events. */
  #finish(from: WsState, closed: Closed): void {
    this.#heartbeat.stop()
    clearTimeout(this.#closeTimer)
    this.#closeTimer = undefined
    this.#deflate?.close()
    const receiver = this.#receiver
    receiver?.discard()
    const socket = this.#socket
    if (socket !== undefined) {
      if (receiver !== undefined) socket.off('data', receiver.onData)
      socket.destroy()
    }
    // What waited to be sent, and Pings waiting for their Pong, fail with the failure that
    // preceded the close, if any.
    const earlier = from.kind === 'closing' ? from.failure : from.kind === 'connecting' ? closed.error : undefined
    const pendingError = earlier ?? new SocketClosedError('WebSocket closed')
    this.#sender?.socketClosed(pendingError)
    this.#heartbeat.rejectPending(pendingError)
    // closed.code is the server's code after a clean close, the code we failed the
    // connection with after a protocol error (1002/1007/1009…), and otherwise 1006 (a drop,
    // a timeout, a missed heartbeat). A WebSocket that never opened was never counted open.
    this.#figures.onClose(closed.code, from !== CONNECTING)
    if (closed.error !== undefined && !(from.kind === 'closing' && from.failureReported)) {
      this.dispatchEvent(new ErrorEvent('error', closed.error))
    }
    this.dispatchEvent(new CloseEvent('close', { code: closed.code, reason: closed.reason, wasClean: closed.wasClean }))
  }
}
