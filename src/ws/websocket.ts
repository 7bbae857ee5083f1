/**
 * The WebSocket client (RFC 6455) with the WHATWG `WebSocket` shape, opened through the pool
 * (so `wss:` gets the pool's TLS: CA, pins, session resumption). The pool picks the transport:
 * an HTTP/2 connection whose peer enabled extended CONNECT carries it as one stream (RFC 8441:
 * the handshake is the 2xx to CONNECT, other requests share the connection), otherwise an
 * HTTP/1.1 Upgrade (after the 101 the socket is ours alone). Either way we get a Duplex and
 * the frames are the same.
 *
 * Lifecycle (one `#state` field, changed only by `#enter`):
 *
 *   connecting ──101 ok──► open ──close()/Close frame/failure──► closing ──socket closed──► closed
 *        └──────────── handshake failure / close() / timeout ──────────────────────────────┘
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
import type { DispatchHandler, HeaderRecord, Protocol } from '../dispatch.js'
import { InvalidArgumentError, SocketClosedError, WirepoolError, WsHandshakeError, WsProtocolError, toWirepoolError } from '../errors.js'
import { PerMessageDeflate } from './deflate.js'
import { CloseEvent, ErrorEvent } from './events.js'
import { CloseCode, DEFAULT_MAX_PAYLOAD, FrameDecoder, Opcode, PayloadCollector, isValidCloseCode } from './frame.js'
import type { DataOpcode, FrameHandler } from './frame.js'
import { encodeClose, encodeFrame, frameLength, writeDataFrame } from './frame-encode.js'
import {
  checkExtendedConnectResponse,
  checkHandshakeResponse,
  deflateOffer,
  generateKey,
  normalizeProtocols,
  resolveDeflateOptions,
  type PerMessageDeflateOptions,
  type ResolvedDeflateOptions,
} from './handshake.js'
import { isValidUtf8 } from './utf8.js'

export type { PerMessageDeflateOptions } from './handshake.js'

export type BinaryType = 'blob' | 'arraybuffer' | 'nodebuffer'

/** What `message` events carry (and the async iterator yields): text as a string, binary per `binaryType`. */
export type MessageData = string | Blob | ArrayBuffer | Buffer

export interface WebSocketOptions {
  /** The pool the handshake goes through. Default: the process-wide Agent. */
  agent?: Agent
  /** Subprotocols to offer (Sec-WebSocket-Protocol, RFC 6455 §4.1), in preference order. */
  protocols?: string | readonly string[]
  /** Offer permessage-deflate (RFC 7692). Default false. */
  perMessageDeflate?: boolean | PerMessageDeflateOptions
  /** Extra request headers for the handshake (not the Sec-WebSocket-* ones, which are ours). */
  headers?: Record<string, string> | Iterable<readonly [string, string]>
  /** Max bytes of one received message (inflated size with permessage-deflate); more → close 1009. Default 100 MiB. */
  maxPayload?: number
  /** Send a Ping this often (ms) while open; 0 (default) turns the heartbeat off. */
  pingInterval?: number
  /** With pingInterval: a Pong must arrive within this many ms of a heartbeat Ping. Default: pingInterval. */
  pongTimeout?: number
  /** After our Close frame (sent or echoed), ms to wait for the server to close TCP before destroying the socket. Default 30000. */
  closeTimeout?: number
  /** ms from construction to a valid 101 (connect, TLS and the HTTP exchange). Default 30000. */
  handshakeTimeout?: number
  /** Send messages longer than this many bytes as fragments of this size (RFC 6455 §5.4). Default: never fragment. */
  fragmentSize?: number
}

/** Per-message options of send() and sendAsync(). */
export interface SendOptions {
  /** Send text as a binary message (and binary data as text: the caller vouches it is UTF-8). */
  binary?: boolean
}

const State = {
  CONNECTING: 'connecting',
  OPEN: 'open',
  CLOSING: 'closing',
  CLOSED: 'closed',
} as const
type State = (typeof State)[keyof typeof State]

const READY_STATE = { connecting: 0, open: 1, closing: 2, closed: 3 } as const satisfies Record<State, number>

/** Engine-owned handshake headers a caller may not set (RFC 6455 §4.1). */
const OWNED_HEADERS = new Set(['sec-websocket-key', 'sec-websocket-version', 'sec-websocket-protocol', 'sec-websocket-extensions'])

/** A message (or our Close) waiting to be written: ready once its frames exist (Blob read, compressed). */
interface Outgoing {
  kind: 'data' | 'close'
  opcode: DataOpcode
  /** Application bytes, counted in bufferedAmount until flushed. */
  size: number
  frames: Buffer[] | undefined
  resolve: () => void
  reject: (err: Error) => void
}

/** encodeFrame options of a compressed single-frame message (RFC 7692 §6: RSV1 on its first frame). */
const COMPRESSED = { rsv1: true } as const

/** Below this many bytes, one tick's frames are concatenated into a single write. */
const BATCH_CONCAT_LIMIT = 64 * 1024
/** A burst's batch buffer (#writeNow): its first size, doubled as it fills, up to the max. */
const BATCH_BUFFER_FIRST = 4 * 1024
const BATCH_BUFFER_MAX = 64 * 1024

interface PendingPing {
  payload: Buffer
  sentAt: number
  resolve: (rtt: number) => void
  reject: (err: Error) => void
}

/** Received, in wire order; a compressed message waits for zlib before the ones behind it. */
type Inbound =
  | { kind: 'message'; binary: boolean; compressed: boolean; pieces: Uint8Array[] }
  | { kind: 'close'; code: number; reason: string }

/** The async iterator pauses the socket when this many messages wait unread, resumes below the low mark. */
const ITERATOR_HIGH_WATER = 64
const ITERATOR_LOW_WATER = 16

const textDecoder = new TextDecoder()
let pingCounter = 0
const noop = (): void => {}

function checkMs(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new InvalidArgumentError(`${name} must be a non-negative number of milliseconds`)
  }
  return value
}

/** ws:→http:, wss:→https: (the handshake is an HTTP request, RFC 6455 §3); http(s): taken as is (WHATWG allows it). */
function parseWsUrl(input: string | URL): { ws: URL; http: URL } {
  let url: URL
  try {
    url = new URL(String(input))
  } catch (cause) {
    throw new InvalidArgumentError(`invalid WebSocket URL ${String(input)}`, { cause })
  }
  // §3: "Fragment identifiers are meaningless in the context of WebSocket URIs and MUST NOT be used".
  if (url.hash !== '') throw new InvalidArgumentError(`WebSocket URL ${url.href} has a fragment`)
  const http = new URL(url.href)
  if (url.protocol === 'ws:' || url.protocol === 'http:') {
    http.protocol = 'http:'
    url.protocol = 'ws:'
  } else if (url.protocol === 'wss:' || url.protocol === 'https:') {
    http.protocol = 'https:'
    url.protocol = 'wss:'
  } else {
    throw new InvalidArgumentError(`unsupported WebSocket URL scheme ${url.protocol} (use ws: or wss:)`)
  }
  return { ws: url, http }
}

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
  #state: State = State.CONNECTING
  #binaryType: BinaryType = 'blob'
  #protocol = ''
  #extensions = ''
  #bufferedAmount = 0
  /** The HTTP version the handshake went over (not WHATWG): set once a connection took it. */
  #transport: Protocol | undefined

  readonly #agent: Agent
  readonly #figures: WebSocketFigures
  #pumpScheduled = false
  #counted = false
  readonly #httpUrl: URL
  readonly #key = generateKey()
  readonly #protocols: string[]
  readonly #deflateOptions: ResolvedDeflateOptions | null
  readonly #headers: [string, string][]
  readonly #maxPayload: number
  readonly #pingInterval: number
  readonly #pongTimeout: number
  readonly #closeTimeout: number
  readonly #handshakeTimeout: number
  readonly #fragmentSize: number

  readonly #handshakeAbort = new AbortController()
  #handshakeTimer: NodeJS.Timeout | undefined
  #heartbeatTimer: NodeJS.Timeout | undefined
  #pongTimer: NodeJS.Timeout | undefined
  #closeTimer: NodeJS.Timeout | undefined

  #socket: Duplex | undefined
  #decoder: FrameDecoder | undefined
  #deflate: PerMessageDeflate | null = null
  /** Reading stopped for good (a failure, or the decoder saw a Close). */
  #readingDone = false
  #pausedByIterator = false

  /** The message being received. */
  #inOpcode: DataOpcode = Opcode.TEXT
  #inCompressed = false
  readonly #collector = new PayloadCollector()
  readonly #inbound: Inbound[] = []
  #inboundBusy = false

  readonly #outgoing: Outgoing[] = []
  /** App bytes of each direct write (#writeNow, #flushBatch) not completed yet, in write order. */
  readonly #writtenSizes: number[] = []
  /**
   * Where the messages of a burst are encoded (see #writeNow), for this tick only: frames
   * back to back; [#batchStart, #batchEnd) holds those not written yet, whose messages carry
   * #batchSize application bytes. Bytes before #batchStart were handed to the socket and are
   * never touched again.
   */
  #batch: Buffer | undefined
  #batchStart = 0
  #batchEnd = 0
  #batchSize = 0
  readonly #pings: PendingPing[] = []

  #closeSent = false
  #closeReceived = false
  /** The close to report: what the server sent, or what we failed with. */
  #closeCode: number = CloseCode.ABNORMAL
  #closeReason = ''
  /** The error that made the close unclean, reported with the close. */
  #failure: WirepoolError | undefined
  #errorDispatched = false

  readonly #handlers = new Map<string, (event: Event) => void>()

  constructor(url: string | URL, protocolsOrOptions?: string | readonly string[] | WebSocketOptions) {
    super()
    const options: WebSocketOptions =
      typeof protocolsOrOptions === 'string' || Array.isArray(protocolsOrOptions)
        ? { protocols: protocolsOrOptions as string | readonly string[] }
        : ((protocolsOrOptions ?? {}) as WebSocketOptions)
    if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('WebSocket options must be an object')
    const { ws, http } = parseWsUrl(url)
    this.url = ws.href
    this.#origin = `${ws.protocol}//${ws.host}`
    this.#httpUrl = http
    this.#agent = options.agent ?? getDefaultAgent()
    // The origin's stats()/metrics() count this WebSocket's messages, bytes and close code.
    this.#figures = poolInternals.webSocketFigures(this.#agent.pool(this.#httpUrl.origin))
    this.#protocols = normalizeProtocols(options.protocols)
    this.#deflateOptions = resolveDeflateOptions(options.perMessageDeflate)
    this.#maxPayload = options.maxPayload ?? DEFAULT_MAX_PAYLOAD
    if (!(this.#maxPayload === Infinity || (Number.isSafeInteger(this.#maxPayload) && this.#maxPayload >= 0))) {
      throw new InvalidArgumentError('maxPayload must be a non-negative integer or Infinity')
    }
    this.#pingInterval = checkMs('pingInterval', options.pingInterval, 0)
    this.#pongTimeout = checkMs('pongTimeout', options.pongTimeout, this.#pingInterval)
    this.#closeTimeout = checkMs('closeTimeout', options.closeTimeout, 30_000)
    this.#handshakeTimeout = checkMs('handshakeTimeout', options.handshakeTimeout, 30_000)
    const fragmentSize = options.fragmentSize ?? Infinity
    if (!(fragmentSize === Infinity || (Number.isSafeInteger(fragmentSize) && fragmentSize >= 1))) {
      throw new InvalidArgumentError('fragmentSize must be a positive integer')
    }
    this.#fragmentSize = fragmentSize
    this.#headers = this.#buildHeaders(options.headers)
    // Started on the next tick: every event, even an immediate failure, reaches listeners
    // added right after the constructor (WHATWG: the constructor never fires events).
    process.nextTick(() => this.#start())
  }

  // ── WHATWG attributes ─────────────────────────────────────────────────────────────────

  get readyState(): number {
    return READY_STATE[this.#state]
  }

  /** Bytes of application data passed to send() and not yet flushed to the socket. */
  get bufferedAmount(): number {
    return this.#bufferedAmount
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
    return this.#transport
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
    this.#enqueue(data, options, noop, noop)
  }

  /** As send(), resolving once the message's frames were flushed to the socket; rejects when closing or closed. */
  sendAsync(data: string | ArrayBuffer | ArrayBufferView | Blob, options?: SendOptions): Promise<void> {
    if (this.#state === State.CONNECTING) throw new InvalidArgumentError('WebSocket is still connecting')
    if (this.#state !== State.OPEN) return Promise.reject(new SocketClosedError('WebSocket is closing or closed'))
    return new Promise<void>((resolve, reject) => this.#enqueue(data, options, resolve, reject))
  }

  #enqueue(
    data: string | ArrayBuffer | ArrayBufferView | Blob,
    options: SendOptions | undefined,
    resolve: () => void,
    reject: (err: Error) => void,
  ): void {
    if (this.#state === State.CONNECTING) throw new InvalidArgumentError('WebSocket is still connecting')
    if (this.#state !== State.OPEN) return
    let text: boolean
    let payload: Uint8Array | string | Promise<ArrayBuffer>
    let size: number
    if (typeof data === 'string') {
      text = true
      payload = data
      size = Buffer.byteLength(data)
    } else if (data instanceof ArrayBuffer) {
      text = false
      payload = new Uint8Array(data)
      size = data.byteLength
    } else if (data instanceof Uint8Array) {
      // A Buffer or Uint8Array is read as is: no view object per message.
      text = false
      payload = data
      size = data.byteLength
    } else if (ArrayBuffer.isView(data)) {
      text = false
      payload = new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
      size = data.byteLength
    } else if (data instanceof Blob) {
      text = false
      payload = data.arrayBuffer()
      size = data.size
    } else {
      throw new InvalidArgumentError('send() takes a string, ArrayBuffer, ArrayBufferView or Blob')
    }
    if (options?.binary !== undefined) text = !options.binary
    const opcode: DataOpcode = text ? Opcode.TEXT : Opcode.BINARY
    this.#figures.messagesOut++
    this.#figures.bytesOut += size
    this.#bufferedAmount += size
    // send() (not sendAsync, which waits for a queue entry's completion) may skip the queue.
    if (resolve === noop && !(payload instanceof Promise) && this.#writeNow(opcode, payload, size)) return
    const item: Outgoing = { kind: 'data', opcode, size, frames: undefined, resolve, reject }
    this.#outgoing.push(item)
    if (payload instanceof Promise) {
      payload.then(
        (buffer) => this.#prepare(item, new Uint8Array(buffer)),
        (err: unknown) => this.#fail(toWirepoolError(err), CloseCode.INTERNAL_ERROR),
      )
    } else {
      this.#prepare(item, payload)
    }
  }

  /**
   * The direct path of send(), for a message that needs no queue entry: nothing is queued
   * ahead of it (order), and it needs no compressing (asynchronous) or fragmenting.
   *
   * The first such message of a tick is written inside the caller's call: a client that
   * sends one message and waits for the answer (request/response, echo) pays no deferral on
   * its round trip, as with `ws`, which writes synchronously. That write marks the tick
   * (#schedulePump); the messages sent later in the same tick are encoded into a batch
   * buffer, back to back, and leave together in one write at the end of the tick
   * (#flushBatch); the buffer is dropped then (an idle WebSocket holds none). A burst of 100,000
   * small messages cost a queue entry, a frame Buffer and a frames array each, then a
   * concatenation; most of the sender's time went to collecting that garbage.
   */
  #writeNow(opcode: DataOpcode, payload: Uint8Array | string, size: number): boolean {
    const socket = this.#socket
    if (socket === undefined || this.#outgoing.length !== 0 || size > this.#fragmentSize) return false
    if (this.#deflate !== null && size >= (this.#deflateOptions?.threshold ?? 0)) return false
    if (!this.#pumpScheduled) {
      // The tick's first message: a frame of its own, written now.
      this.#writtenSizes.push(size)
      socket.write(encodeFrame(opcode, payload), this.#onWritten)
      this.#schedulePump()
      return true
    }
    const length = frameLength(size)
    // Too big for a batch buffer: it takes the queue, whose writes follow the batch's.
    if (length > BATCH_BUFFER_MAX) return false
    let batch = this.#batch
    if (batch === undefined || batch.length - this.#batchEnd < length) {
      // Full (or none yet this tick): what is pending leaves now, and a buffer twice the size
      // takes the rest of the burst.
      this.#flushBatch()
      const capacity = batch === undefined ? BATCH_BUFFER_FIRST : Math.min(batch.length * 2, BATCH_BUFFER_MAX)
      batch = Buffer.allocUnsafeSlow(Math.max(capacity, length))
      this.#batch = batch
      this.#batchStart = 0
      this.#batchEnd = 0
    }
    this.#batchEnd = writeDataFrame(batch, this.#batchEnd, opcode, payload, size)
    this.#batchSize += size
    return true
  }

  /** Hand the batch's pending frames to the socket in one write. */
  #flushBatch(): void {
    const socket = this.#socket
    const batch = this.#batch
    if (socket === undefined || batch === undefined || this.#batchEnd === this.#batchStart) return
    this.#writtenSizes.push(this.#batchSize)
    const frames = batch.subarray(this.#batchStart, this.#batchEnd)
    this.#batchStart = this.#batchEnd
    this.#batchSize = 0
    socket.write(frames, this.#onWritten)
  }

  /**
   * The completion of a direct write: its bytes leave bufferedAmount. Writes complete in
   * the order they were made (node:stream), so the sizes are a FIFO and no closure is made
   * per message.
   */
  #onWritten = (): void => {
    const size = this.#writtenSizes.shift()
    // #finish zeroes the count when the socket goes; a late callback must not take it below 0.
    if (size !== undefined && this.#state !== State.CLOSED) this.#bufferedAmount -= size
  }

  /** Build the frames of a message: compressed first when permessage-deflate is on and it is big enough. */
  #prepare(item: Outgoing, payload: Uint8Array | string): void {
    if (this.#state === State.CLOSED) return
    const deflate = this.#deflate
    if (deflate !== null && item.size >= (this.#deflateOptions?.threshold ?? 0)) {
      // zlib reads the bytes later: copy what the caller could change meanwhile.
      const bytes = typeof payload === 'string' ? Buffer.from(payload) : Buffer.from(payload)
      deflate.compress(bytes, (err, compressed) => {
        if (err !== null) {
          this.#fail(toWirepoolError(err), CloseCode.INTERNAL_ERROR)
          return
        }
        item.frames = this.#frames(item.opcode, compressed, true)
        this.#pump()
      })
      return
    }
    item.frames = this.#frames(item.opcode, payload, false)
    this.#schedulePump()
  }

  /** §5.4: one frame, or fragments of `fragmentSize` (RSV1 on the first only, RFC 7692 §6.1). */
  #frames(opcode: DataOpcode, payload: Uint8Array | string, compressed: boolean): Buffer[] {
    const bytesLength = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length
    if (bytesLength <= this.#fragmentSize) return [encodeFrame(opcode, payload, compressed ? COMPRESSED : undefined)]
    const bytes = typeof payload === 'string' ? Buffer.from(payload) : payload
    const frames: Buffer[] = []
    for (let at = 0; at < bytes.length; at += this.#fragmentSize) {
      const end = Math.min(at + this.#fragmentSize, bytes.length)
      const first = at === 0
      frames.push(
        encodeFrame(first ? opcode : Opcode.CONTINUATION, bytes.subarray(at, end), { fin: end === bytes.length, rsv1: first && compressed }),
      )
    }
    return frames
  }

  /**
   * Write every message whose frames are ready, in order. The frames of one call leave in a
   * single socket write (small ones concatenated, large ones as one corked writev) with one
   * completion callback for the whole batch: sending many small messages in a tick costs one
   * trip into the kernel, not one per message (as the HTTP/2 writer does).
   */
  #pump(): void {
    const socket = this.#socket
    if (socket === undefined || this.#state === State.CLOSED) return
    // Frames of the direct path were all sent before anything now queued (#writeNow takes
    // none while the queue is not empty): they go first.
    this.#flushBatch()
    const outgoing = this.#outgoing
    let count = 0
    let bytes = 0
    while (count < outgoing.length) {
      const item = outgoing[count] as Outgoing
      if (item.frames === undefined) break
      for (const frame of item.frames) bytes += frame.length
      count++
    }
    if (count === 0) return
    const batch = outgoing.splice(0, count)
    const settle = (err: Error | null | undefined): void => {
      let size = 0
      for (const item of batch) size += item.size
      // #finish zeroes the count when the socket goes; a late callback must not take it below 0.
      if (this.#state !== State.CLOSED) this.#bufferedAmount -= size
      for (const item of batch) {
        if (err) item.reject(toWirepoolError(err))
        else item.resolve()
      }
    }
    if (count === 1 && (batch[0] as Outgoing).frames?.length === 1) {
      socket.write(((batch[0] as Outgoing).frames as Buffer[])[0] as Buffer, settle)
    } else if (bytes <= BATCH_CONCAT_LIMIT) {
      const frames: Buffer[] = []
      for (const item of batch) for (const frame of item.frames as Buffer[]) frames.push(frame)
      socket.write(Buffer.concat(frames, bytes), settle)
    } else {
      socket.cork()
      for (let i = 0; i < batch.length; i++) {
        const frames = (batch[i] as Outgoing).frames as Buffer[]
        for (let j = 0; j < frames.length; j++) {
          const last = i === batch.length - 1 && j === frames.length - 1
          if (last) socket.write(frames[j] as Buffer, settle)
          else socket.write(frames[j] as Buffer)
        }
      }
      socket.uncork()
    }
    if ((batch[batch.length - 1] as Outgoing).kind === 'close') this.#afterCloseWritten()
  }

  /** Writes of one tick are gathered: the first send schedules the flush. */
  #schedulePump(): void {
    if (this.#pumpScheduled) return
    this.#pumpScheduled = true
    process.nextTick(this.#pumpNow)
  }

  #pumpNow = (): void => {
    this.#pumpScheduled = false
    this.#pump()
    // The burst is over; the next one starts a small buffer again.
    this.#dropBatch()
  }

  /** Forget the batch buffer (its written frames belong to the socket now). */
  #dropBatch(): void {
    this.#batch = undefined
    this.#batchStart = this.#batchEnd = this.#batchSize = 0
  }


  /**
   * Send a Ping (§5.5.2). Resolves with the round-trip time in ms when the matching Pong
   * arrives; a Pong answers its Ping and every earlier one (§5.5.3: a peer may answer only
   * the most recent). Rejects if the connection closes first.
   */
  ping(data?: string | Uint8Array): Promise<number> {
    if (this.#state !== State.OPEN) return Promise.reject(new InvalidArgumentError('WebSocket is not open'))
    const payload = data === undefined ? Buffer.from(`wp${++pingCounter}`) : Buffer.from(data)
    if (payload.length > 125) return Promise.reject(new InvalidArgumentError('a ping payload is at most 125 bytes'))
    return new Promise<number>((resolve, reject) => {
      this.#pings.push({ payload, sentAt: performance.now(), resolve, reject })
      this.#socket?.write(encodeFrame(Opcode.PING, payload))
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
    if (this.#state === State.CONNECTING) {
      this.#handshakeFailed(new WsHandshakeError(0, 'WebSocket was closed before the connection was established', { initiator: 'user' }))
      return
    }
    if (this.#state !== State.OPEN) return
    this.#enter(State.CLOSING)
    this.#sendClose(code, reason ?? '')
  }

  // ── connecting ────────────────────────────────────────────────────────────────────────

  #buildHeaders(init: WebSocketOptions['headers']): [string, string][] {
    const headers: [string, string][] = []
    if (init !== undefined) {
      const pairs: Iterable<readonly [string, string]> =
        Symbol.iterator in Object(init) ? (init as Iterable<readonly [string, string]>) : Object.entries(init)
      for (const [name, value] of pairs) {
        if (typeof name !== 'string' || OWNED_HEADERS.has(name.toLowerCase())) {
          throw new InvalidArgumentError(`header ${String(name)} is set by the WebSocket handshake`)
        }
        headers.push([name, value])
      }
    }
    // RFC 6455 §4.1 steps 7–10.
    headers.push(['sec-websocket-key', this.#key], ['sec-websocket-version', '13'])
    if (this.#protocols.length > 0) headers.push(['sec-websocket-protocol', this.#protocols.join(', ')])
    if (this.#deflateOptions !== null) headers.push(['sec-websocket-extensions', deflateOffer(this.#deflateOptions.offer)])
    return headers
  }

  #start(): void {
    if (this.#state !== State.CONNECTING) return
    if (this.#handshakeTimeout > 0) {
      this.#handshakeTimer = setTimeout(() => {
        this.#handshakeFailed(new WsHandshakeError(0, `WebSocket handshake timed out after ${this.#handshakeTimeout} ms`, { initiator: 'library' }))
      }, this.#handshakeTimeout)
      this.#handshakeTimer.unref()
    }
    const handler: DispatchHandler = {
      onConnect: (_abort, info) => {
        this.#transport = info.protocol
      },
      onHeaders: (status) => {
        // §4.1: "If the status code received from the server is not 101, the client handles
        // the response per HTTP procedures": for a WebSocket that is a failure (RFC 8441 §5:
        // over HTTP/2, anything but a 2xx). The request is aborted (an HTTP/1.1 connection is
        // not reused: we do not wait for its body; an HTTP/2 stream is reset).
        const expected = this.#transport === 'h2' ? '2xx to the extended CONNECT' : '101 Switching Protocols'
        this.#handshakeFailed(new WsHandshakeError(status, `server answered ${status} instead of ${expected}`))
      },
      onData: () => {},
      onComplete: () => {},
      onError: (err) => {
        this.#handshakeFailed(err)
      },
      onUpgrade: (status, headers, socket, head) => this.#onUpgrade(status, headers, socket, head),
    }
    this.#agent.dispatch(
      {
        url: this.#httpUrl,
        method: 'GET',
        headers: this.#headers,
        upgrade: 'websocket',
        signal: this.#handshakeAbort.signal,
      },
      handler,
    )
  }

  #handshakeFailed(err: WirepoolError): void {
    if (this.#state !== State.CONNECTING) return
    this.#failure = err
    this.#enter(State.CLOSED)
    // Cancels the request wherever it is (queued, connecting, awaiting the head).
    this.#handshakeAbort.abort(err)
  }

  #onUpgrade(status: number, headers: HeaderRecord, socket: Duplex, head: Uint8Array): void {
    if (this.#state !== State.CONNECTING) {
      // close() or the timeout won the race with the 101 (or 2xx).
      socket.destroy()
      return
    }
    let result
    try {
      const offer = this.#deflateOptions?.offer ?? null
      // 101: an HTTP/1.1 Upgrade (RFC 6455 §4.1); 2xx: an HTTP/2 extended CONNECT (RFC 8441 §5).
      result =
        status === 101
          ? checkHandshakeResponse(headers, this.#key, this.#protocols, offer)
          : checkExtendedConnectResponse(status, headers, this.#protocols, offer)
    } catch (err) {
      socket.destroy()
      this.#handshakeFailed(toWirepoolError(err))
      return
    }
    this.#socket = socket
    this.#protocol = result.protocol
    this.#extensions = result.extensions
    if (result.deflate !== null) {
      this.#deflate = new PerMessageDeflate(result.deflate, { maxPayload: this.#maxPayload, level: this.#deflateOptions?.level })
    }
    this.#decoder = new FrameDecoder(this.#frameHandler(), { maxPayload: this.#maxPayload, allowRsv1: result.deflate !== null })
    socket.on('data', this.#onSocketData)
    socket.on('end', this.#onSocketEnd)
    socket.on('error', this.#onSocketError)
    socket.on('close', this.#onSocketClose)
    this.#enter(State.OPEN)
    // Even when an 'open' listener called close(), the server's answer must still be read.
    if (this.#isClosed()) return
    if (head.length > 0) this.#onSocketData(head)
    if (!this.#pausedByIterator) socket.resume()
  }

  // ── receiving ─────────────────────────────────────────────────────────────────────────

  #frameHandler(): FrameHandler {
    return {
      onMessageStart: (opcode, compressed) => {
        this.#inOpcode = opcode
        this.#inCompressed = compressed
      },
      onMessageData: (piece) => this.#collector.append(piece),
      onMessageEnd: () => {
        const bytes = this.#collector.take()
        const binary = this.#inOpcode === Opcode.BINARY
        if (!this.#inCompressed && !this.#inboundBusy && this.#inbound.length === 0) {
          // Nothing waits ahead of it (no message being inflated): delivered now, no queue entry.
          this.#deliverMessage(binary, bytes)
          return
        }
        this.#queueInbound({ kind: 'message', binary, compressed: this.#inCompressed, pieces: [bytes] })
      },
      onPing: (payload) => {
        // §5.5.2: answer with a Pong carrying the same payload, unless we already sent a Close.
        if (!this.#closeSent) this.#socket?.write(encodeFrame(Opcode.PONG, payload))
      },
      onPong: (payload) => this.#onPong(payload),
      onClose: (code, reason) => {
        this.#readingDone = true
        this.#queueInbound({ kind: 'close', code, reason })
      },
    }
  }

  #onSocketData = (chunk: Uint8Array): void => {
    if (this.#readingDone) return
    try {
      ;(this.#decoder as FrameDecoder).push(chunk)
    } catch (err) {
      const error = toWirepoolError(err)
      this.#fail(error, err instanceof WsProtocolError ? err.closeCode : CloseCode.INTERNAL_ERROR)
    }
  }

  #queueInbound(item: Inbound): void {
    this.#inbound.push(item)
    this.#drainInbound()
  }

  /** Deliver received messages and the Close in order; a compressed message holds the ones behind it. */
  #drainInbound(): void {
    while (!this.#inboundBusy && this.#inbound.length > 0 && this.#state !== State.CLOSED) {
      const item = this.#inbound.shift() as Inbound
      if (item.kind === 'close') {
        this.#onCloseFrame(item.code, item.reason)
        continue
      }
      if (!item.compressed) {
        this.#deliverMessage(item.binary, item.pieces[0] as Uint8Array)
        continue
      }
      this.#inboundBusy = true
      ;(this.#deflate as PerMessageDeflate).decompress(item.pieces, (err, data) => {
        this.#inboundBusy = false
        if (err !== null) {
          this.#fail(toWirepoolError(err), err instanceof WsProtocolError ? err.closeCode : CloseCode.INVALID_PAYLOAD)
          return
        }
        // RFC 7692 §8 / RFC 6455 §8.1: a compressed text message is checked after inflating.
        if (!item.binary && !isValidUtf8(data)) {
          this.#fail(new WsProtocolError(CloseCode.INVALID_PAYLOAD, 'compressed text message is not valid UTF-8'), CloseCode.INVALID_PAYLOAD)
          return
        }
        this.#deliverMessage(item.binary, data)
        this.#drainInbound()
      })
    }
  }

  #deliverMessage(binary: boolean, bytes: Uint8Array): void {
    // After our Close (or a failure) the application gets nothing more (WHATWG: only while OPEN).
    if (this.#state !== State.OPEN) return
    let data: MessageData
    if (!binary) data = textDecoder.decode(bytes)
    else if (this.#binaryType === 'nodebuffer') data = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    else if (this.#binaryType === 'arraybuffer') data = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer
    else data = new Blob([bytes])
    this.#figures.messagesIn++
    this.#figures.bytesIn += bytes.byteLength
    this.dispatchEvent(new MessageEvent('message', { data, origin: this.#origin }))
  }

  #onPong(payload: Uint8Array): void {
    const i = this.#pings.findIndex((p) => p.payload.equals(payload))
    if (i === -1) return // unsolicited (§5.5.3: no response expected)
    const now = performance.now()
    for (const ping of this.#pings.splice(0, i + 1)) ping.resolve(now - ping.sentAt)
  }

  /** §5.5.1: a Close from the server. Echo it (if we have not sent ours) and wait for TCP to end. */
  #onCloseFrame(code: number, reason: string): void {
    this.#closeReceived = true
    if (this.#failure === undefined) {
      this.#closeCode = code
      this.#closeReason = reason
    }
    if (this.#state === State.OPEN) this.#enter(State.CLOSING)
    if (!this.#closeSent) {
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
    if (this.#closeSent) return
    this.#closeSent = true
    this.#stopHeartbeat()
    const frame = encodeClose(code, reason)
    this.#outgoing.push({ kind: 'close', opcode: Opcode.BINARY, size: 0, frames: [frame], resolve: noop, reject: noop })
    this.#pump()
    // The clock starts now even if queued data is slow to drain: a peer that stops reading
    // must not keep the socket forever.
    this.#startCloseTimer()
  }

  /**
   * Our Close is on the wire. Once the server's Close is in too, the handshake is complete:
   * end our side of TCP (the server closes first, §7.1.1, and a FIN tells it we are done).
   */
  #afterCloseWritten(): void {
    const done = this.#closeReceived || this.#failure !== undefined
    if (done && this.#closeSent && this.#outgoing.length === 0) this.#socket?.end()
  }

  #startCloseTimer(): void {
    if (this.#closeTimer !== undefined) return
    this.#closeTimer = setTimeout(() => {
      this.#closeTimer = undefined
      if (this.#failure === undefined && !this.#closeReceived) {
        this.#failure = new SocketClosedError(`no Close frame from the server within ${this.#closeTimeout} ms of ours`, { initiator: 'library' })
      }
      this.#socket?.destroy()
    }, this.#closeTimeout)
    this.#closeTimer.unref()
  }

  /**
   * _Fail the WebSocket Connection_ (§7.1.7): stop reading, send a Close with `code` when we
   * still can, report the error now and the close once the socket is gone.
   */
  #fail(err: WirepoolError, code: number): void {
    if (this.#state === State.CLOSED || this.#failure !== undefined) return
    this.#failure = err
    this.#readingDone = true
    this.#inbound.length = 0
    this.#closeCode = code
    this.#closeReason = ''
    if (this.#state === State.OPEN) this.#enter(State.CLOSING)
    // Messages sent before the failure whose frames are ready still go out (they only wait
    // for the end of the tick, to share one write); the rest (still being compressed) are
    // abandoned: the Close goes out next, nothing after it.
    this.#pump()
    for (const item of this.#outgoing.splice(0)) {
      this.#bufferedAmount -= item.size
      item.reject(err)
    }
    this.#dispatchError()
    if (!this.#closeSent && isValidCloseCode(code)) {
      // §7.1.7: send the Close if we still can; #afterCloseWritten then ends our side at
      // once (no point waiting for the Close of a peer that broke the protocol).
      this.#sendClose(code, '')
    } else {
      this.#socket?.destroy()
    }
  }

  #dispatchError(): void {
    if (this.#errorDispatched || this.#failure === undefined) return
    this.#errorDispatched = true
    this.dispatchEvent(new ErrorEvent('error', this.#failure))
  }

  #onSocketEnd = (): void => {
    // The server closed its side. After a complete close handshake this is the expected end
    // (§7.1.1); otherwise it is an abnormal closure (1006), reported when 'close' comes.
    this.#readingDone = true
    this.#socket?.end()
  }

  #onSocketError = (err: Error): void => {
    if (this.#failure === undefined && !(this.#closeSent && this.#closeReceived)) {
      this.#failure = toWirepoolError(err)
    }
  }

  #onSocketClose = (): void => {
    if (this.#state === State.CLOSED) return
    this.#enter(State.CLOSED)
  }

  // ── heartbeat ─────────────────────────────────────────────────────────────────────────

  #startHeartbeat(): void {
    if (this.#pingInterval <= 0) return
    this.#heartbeatTimer = setTimeout(() => {
      this.#heartbeatTimer = undefined
      if (this.#state !== State.OPEN) return
      this.#pongTimer = setTimeout(() => {
        this.#pongTimer = undefined
        if (this.#state !== State.OPEN) return
        // The peer is gone or stuck: no Close handshake can complete, so drop TCP (1006).
        this.#failure = new WsProtocolError(CloseCode.ABNORMAL, `no Pong within ${this.#pongTimeout} ms of a heartbeat Ping`, {
          initiator: 'library',
        })
        this.#readingDone = true
        this.#enter(State.CLOSING)
        this.#dispatchError()
        this.#socket?.destroy()
      }, this.#pongTimeout)
      this.#pongTimer.unref()
      this.ping().then(
        () => {
          clearTimeout(this.#pongTimer)
          this.#pongTimer = undefined
          if (this.#state === State.OPEN) this.#startHeartbeat()
        },
        () => {},
      )
    }, this.#pingInterval)
    this.#heartbeatTimer.unref()
  }

  #stopHeartbeat(): void {
    clearTimeout(this.#heartbeatTimer)
    clearTimeout(this.#pongTimer)
    this.#heartbeatTimer = undefined
    this.#pongTimer = undefined
  }

  // ── state ─────────────────────────────────────────────────────────────────────────────

  /** A read of the current state that type narrowing cannot see through (listeners run in between). */
  #isClosed(): boolean {
    return this.#state === State.CLOSED
  }

  /** The one place `#state` changes, with what each state entails. */
  #enter(next: State): void {
    const from = this.#state
    if (from === next || from === State.CLOSED) return
    this.#state = next
    if (from === State.CONNECTING) {
      clearTimeout(this.#handshakeTimer)
      this.#handshakeTimer = undefined
    }
    if (next === State.OPEN) {
      this.#counted = true
      this.#figures.onOpen()
      this.#startHeartbeat()
      this.dispatchEvent(new Event('open'))
      return
    }
    if (next === State.CLOSED) this.#finish()
  }

  /** Everything a closed WebSocket must release, then the error (if not told yet) and close events. */
  #finish(): void {
    this.#stopHeartbeat()
    clearTimeout(this.#closeTimer)
    this.#closeTimer = undefined
    this.#deflate?.close()
    this.#readingDone = true
    const socket = this.#socket
    if (socket !== undefined) {
      socket.off('data', this.#onSocketData)
      socket.destroy()
    }
    const clean = this.#closeSent && this.#closeReceived && this.#failure === undefined
    const closedError = this.#failure ?? new SocketClosedError('WebSocket closed')
    for (const item of this.#outgoing.splice(0)) item.reject(closedError)
    this.#bufferedAmount = 0
    this.#writtenSizes.length = 0
    this.#dropBatch()
    for (const ping of this.#pings.splice(0)) ping.reject(closedError)
    if (!clean && this.#failure === undefined && !this.#closeReceived) {
      this.#failure = new SocketClosedError('the connection closed without a Close frame (1006)')
    }
    // #closeCode is the server's code after a clean close, the code we failed the
    // connection with after a protocol error (1002/1007/1009…), and otherwise still 1006
    // (a drop, a timeout, a missed heartbeat).
    this.#figures.onClose(this.#closeCode, this.#counted)
    this.#dispatchError()
    this.dispatchEvent(new CloseEvent('close', { code: this.#closeCode, reason: clean ? this.#closeReason : '', wasClean: clean }))
  }

  // ── async iteration ───────────────────────────────────────────────────────────────────

  /**
   * The messages, in order, as `message` events carry them. Ends after a clean close; throws
   * the error of an unclean one. Too many unread messages pause reading from the socket
   * (TCP backpressure reaches the server). Leaving the loop early (break/return) closes the
   * WebSocket with 1000, as leaving a `for await` over a Node stream destroys it.
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<MessageData> {
    const queue: MessageData[] = []
    let waiter: { resolve: (r: IteratorResult<MessageData>) => void; reject: (e: Error) => void } | undefined
    let ended = false
    let error: Error | undefined
    const onMessage = (event: Event): void => {
      const data = (event as MessageEvent).data as MessageData
      if (waiter !== undefined) {
        const w = waiter
        waiter = undefined
        w.resolve({ value: data, done: false })
        return
      }
      queue.push(data)
      if (queue.length >= ITERATOR_HIGH_WATER) this.#setIteratorPause(true)
    }
    const onClose = (event: Event): void => {
      ended = true
      const close = event as CloseEvent
      if (!close.wasClean) error = this.#failure ?? new SocketClosedError(`WebSocket closed with ${close.code}`)
      cleanup()
      if (waiter !== undefined) {
        const w = waiter
        waiter = undefined
        if (error !== undefined) w.reject(error)
        else w.resolve({ value: undefined, done: true })
      }
    }
    const cleanup = (): void => {
      this.removeEventListener('message', onMessage)
      this.removeEventListener('close', onClose)
    }
    this.addEventListener('message', onMessage)
    this.addEventListener('close', onClose)
    const iterator: AsyncIterableIterator<MessageData> = {
      next: () => {
        const value = queue.shift()
        if (value !== undefined) {
          if (queue.length <= ITERATOR_LOW_WATER) this.#setIteratorPause(false)
          return Promise.resolve({ value, done: false })
        }
        if (ended) {
          if (error !== undefined) {
            const e = error
            error = undefined
            return Promise.reject(e)
          }
          return Promise.resolve({ value: undefined, done: true })
        }
        return new Promise((resolve, reject) => (waiter = { resolve, reject }))
      },
      return: () => {
        cleanup()
        ended = true
        this.#setIteratorPause(false)
        if (this.#state === State.OPEN) this.close(CloseCode.NORMAL)
        return Promise.resolve({ value: undefined, done: true })
      },
      [Symbol.asyncIterator]() {
        return iterator
      },
    }
    return iterator
  }

  #setIteratorPause(paused: boolean): void {
    if (this.#pausedByIterator === paused) return
    this.#pausedByIterator = paused
    const socket = this.#socket
    if (socket === undefined) return
    if (paused) socket.pause()
    else socket.resume()
  }
}
