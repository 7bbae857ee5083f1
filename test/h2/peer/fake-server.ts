/**
 * A scripted HTTP/2 server for hostile and broken-peer tests, in the style of golang's
 * `testClientConn` and h2spec's client mode: a raw node:net listener on loopback whose
 * connections are driven frame by frame by the test. The peer reads the client connection
 * preface (RFC 9113 §3.4), decodes every frame the client sends with our own FrameReader (so a
 * malformed client frame fails the test) and every header block with an HpackDecoder, and
 * writes whatever the script asks — well-formed frames through the frame.ts encoders, or any
 * bytes at all through `writeRaw` / `rawFrame` (test/support/h2-frames.ts) for the frames those
 * encoders refuse to build.
 *
 * Every wait is bounded: it settles on the awaited frame, or rejects when the connection
 * closes or `timeoutMs` passes, with a message listing what arrived instead. Nothing here
 * sleeps: timers only bound a wait that an event normally ends.
 */
import * as net from 'node:net'
import { CLIENT_PREFACE, FRAME_HEADER_LENGTH, Flag, h2ErrorName } from '../../../src/h2/frame.js'
import { FrameReader } from '../../../src/h2/frame-reader.js'
import { encodeContinuation, encodeData, encodeGoaway, encodeHeaders, encodePing, encodePriority, encodePushPromise, encodeRstStream, encodeSettings, encodeSettingsAck, encodeWindowUpdate } from '../../../src/h2/frame-writer.js'
import type { SettingsEntry } from '../../../src/h2/frame.js'
import type { Priority } from '../../../src/h2/frame-reader.js'
import type { DataOptions, HeadersOptions } from '../../../src/h2/frame-writer.js'
import { HpackDecoder, HpackEncoder } from '../../../src/h2/hpack.js'
import { listenLoopback } from '../../support/servers.js'
import { FrameRecorder } from '../frame-recorder.js'
import type { FrameRecord } from '../frame-recorder.js'

interface Teardown {
  teardown(fn: () => unknown): void
}

/** A frame the client sent. The frame that ends a header block carries the decoded `fields`. */
export type PeerFrame = FrameRecord & { fields?: string[] }
export type FrameKind = PeerFrame['kind']
export type FrameOf<K extends FrameKind> = Extract<PeerFrame, { kind: K }>

const EMPTY = Buffer.alloc(0)

/** Default bound on every wait: generous for a 2-core machine shared by parallel test runs. */
export const DEFAULT_TIMEOUT_MS = 3000

export interface PeerOptions {
  /** Bound on each wait of this peer (default DEFAULT_TIMEOUT_MS). */
  timeoutMs?: number
  /** Limit for decoding the client's header blocks (default 1 MiB: the peer is not under test). */
  maxHeaderListSize?: number
  /**
   * Keep DATA payloads in the recorded frames (default true). Large uploads turn it off: the
   * frames keep `flowControlledLength` and an empty `data`.
   */
  recordData?: boolean
  /** Keep every frame in `received` (default true); floods turn it off to bound the test's memory. */
  recordHistory?: boolean
}

/** Describe a frame in one short line, for failure messages. */
export function describeFrame(frame: PeerFrame): string {
  switch (frame.kind) {
    case 'goaway':
      return `GOAWAY(last=${frame.lastStreamId}, ${h2ErrorName(frame.errorCode)}, "${frame.debugData.toString('utf8')}")`
    case 'rst_stream':
      return `RST_STREAM(${frame.streamId}, ${h2ErrorName(frame.errorCode)})`
    case 'settings':
      return frame.ack ? 'SETTINGS(ACK)' : `SETTINGS(${frame.settings.map(([id, v]) => `${id}=${v}`).join(',')})`
    case 'ping':
      return `PING(${frame.ack ? 'ACK ' : ''}${frame.opaque.toString('hex')})`
    case 'window_update':
      return `WINDOW_UPDATE(${frame.streamId}, +${frame.increment})`
    case 'headers':
      return `HEADERS(${frame.streamId}, flags=0x${frame.flags.toString(16)})`
    case 'data':
      return `DATA(${frame.streamId}, ${frame.data.length}B, flags=0x${frame.flags.toString(16)})`
    default:
      return frame.kind.toUpperCase()
  }
}

interface Waiter {
  /** Offered each new frame; true when it settles the wait. */
  take(frame: PeerFrame): boolean
  /** The connection closed (or the reader failed) before the wait was settled. */
  closed(reason: string): void
}

/**
 * One accepted connection. Frames are queued as they arrive; `readFrame` takes the next one,
 * `expectFrame` skips to the next one that matches (the skipped ones stay in `received`).
 */
export class H2Peer {
  readonly socket: net.Socket
  readonly timeoutMs: number
  /** Every frame the client sent, in order. */
  readonly received: PeerFrame[] = []
  /** The client's connection preface arrived and was correct. */
  readonly preface: Promise<void>
  /** Resolves when the socket is closed (after the client closed or reset it, or we did). */
  readonly closedPromise: Promise<void>
  readonly encoder = new HpackEncoder()
  readonly decoder: HpackDecoder
  /** The client's SETTINGS, once `handshake()` has read them. */
  clientSettings: SettingsEntry[] = []
  /** The client's opening WINDOW_UPDATE increments on stream 0 read during `handshake()`. */
  clientConnectionWindowIncrement = 0
  /** Frames received so far, by kind (`ping_ack` and `settings_ack` counted apart). */
  readonly tally = new Map<string, number>()
  /**
   * Frames for which this returns true are only counted in `tally`: not queued for the waits
   * nor kept in `received`. Floods set it to drop the thousands of acknowledgements they cause.
   */
  ignore: ((frame: PeerFrame) => boolean) | undefined = undefined
  /** Errors of the server socket (EPIPE, ECONNRESET after the client hung up), for inspection. */
  readonly socketErrors: Error[] = []

  readonly #recordData: boolean
  readonly #recordHistory: boolean
  readonly #recorder = new FrameRecorder()
  readonly #reader: FrameReader
  /** Frames not yet taken by readFrame/expectFrame. */
  readonly #queue: PeerFrame[] = []
  readonly #waiters = new Set<Waiter>()
  /** `watch` calls not yet matched: they look at every frame and take none. */
  readonly #watchers: Array<{ match: (frame: PeerFrame) => boolean; resolve: (frame: PeerFrame) => void }> = []
  #prefaceBytes = Buffer.alloc(0)
  #prefaceDone = false
  #resolvePreface!: () => void
  #rejectPreface!: (err: Error) => void
  /** Why the frame stream ended: 'closed', or the reader's failure. */
  #endReason: string | undefined = undefined
  #blockStream = 0
  #blockParts: Buffer[] = []

  constructor(socket: net.Socket, options: PeerOptions = {}) {
    this.socket = socket
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
    this.#recordData = options.recordData ?? true
    this.#recordHistory = options.recordHistory ?? true
    this.decoder = new HpackDecoder({ maxHeaderListSize: options.maxHeaderListSize ?? 1 << 20, maxHeaderCount: 10_000 })
    this.#reader = new FrameReader(this.#recorder)
    this.preface = new Promise((resolve, reject) => {
      this.#resolvePreface = resolve
      this.#rejectPreface = reject
    })
    // Unobserved when a test never awaits it (the client never got that far).
    this.preface.catch(() => {})
    // Not events.once: it would reject on the socket's 'error' (EPIPE after the client hung up).
    this.closedPromise = new Promise((resolve) => socket.once('close', () => resolve()))
    socket.on('data', (chunk: Buffer) => this.#onData(chunk))
    socket.on('error', (err) => this.socketErrors.push(err))
    socket.on('close', () => this.#end('connection closed'))
  }

  get closed(): boolean {
    return this.#endReason !== undefined
  }

  // ── reading ──────────────────────────────────────────────────────────────────────────

  #onData(chunk: Buffer): void {
    if (this.#endReason !== undefined) return
    let bytes: Buffer = chunk
    if (!this.#prefaceDone) {
      this.#prefaceBytes = Buffer.concat([this.#prefaceBytes, chunk])
      const have = Math.min(this.#prefaceBytes.length, CLIENT_PREFACE.length)
      if (!this.#prefaceBytes.subarray(0, have).equals(CLIENT_PREFACE.subarray(0, have))) {
        const error = new Error(`bad client preface: ${JSON.stringify(this.#prefaceBytes.subarray(0, have).toString('latin1'))}`)
        this.#rejectPreface(error)
        this.#end(error.message)
        return
      }
      if (this.#prefaceBytes.length < CLIENT_PREFACE.length) return
      bytes = this.#prefaceBytes.subarray(CLIENT_PREFACE.length)
      this.#prefaceDone = true
      this.#resolvePreface()
    }
    const before = this.#recorder.records.length
    try {
      this.#reader.push(bytes)
    } catch (err) {
      this.#deliver(before)
      this.#end(`client sent a malformed frame: ${err instanceof Error ? err.message : String(err)}`)
      return
    }
    this.#deliver(before)
  }

  /** Hand the records the reader made since `from` to the queue and the waiters. */
  #deliver(from: number): void {
    const records = this.#recorder.records
    for (let i = from; i < records.length; i++) {
      const frame: PeerFrame = records[i]!
      if (frame.kind === 'data' && !this.#recordData) frame.data = EMPTY
      try {
        this.#decodeBlock(frame)
      } catch (err) {
        // A header block we cannot decode is the client's bug: end the frame stream with it.
        records.length = 0
        this.#offer()
        this.#end(`client sent an undecodable header block: ${err instanceof Error ? err.message : String(err)}`)
        return
      }
      const key = (frame.kind === 'ping' || frame.kind === 'settings') && frame.ack ? `${frame.kind}_ack` : frame.kind
      this.tally.set(key, (this.tally.get(key) ?? 0) + 1)
      if (this.ignore?.(frame) === true) continue
      if (this.#recordHistory) this.received.push(frame)
      this.#queue.push(frame)
      for (let w = this.#watchers.length - 1; w >= 0; w--) {
        const watcher = this.#watchers[w]!
        if (!watcher.match(frame)) continue
        this.#watchers.splice(w, 1)
        watcher.resolve(frame)
      }
    }
    // Records are kept in `received`; the recorder's own arrays need not grow for ever.
    records.length = 0
    this.#recorder.views.length = 0
    this.#offer()
  }

  /** Join HEADERS/PUSH_PROMISE + CONTINUATION fragments and decode the block at END_HEADERS. */
  #decodeBlock(frame: PeerFrame): void {
    if (frame.kind !== 'headers' && frame.kind !== 'continuation' && frame.kind !== 'push_promise') return
    if (frame.kind !== 'continuation') {
      this.#blockStream = frame.streamId
      this.#blockParts = []
    }
    this.#blockParts.push(frame.fragment)
    if ((frame.flags & Flag.END_HEADERS) === 0) return
    frame.fields = this.decoder.decode(Buffer.concat(this.#blockParts), this.#blockStream)
    this.#blockParts = []
    this.#blockStream = 0
  }

  #offer(): void {
    while (this.#queue.length > 0 && this.#waiters.size > 0) {
      const frame = this.#queue[0]!
      // Offered to each waiter until one takes it; a frame no waiter wants is skipped (each
      // waiter noted it for its failure message) — that is what expectFrame means by "next".
      for (const waiter of [...this.#waiters]) if (waiter.take(frame)) break
      this.#queue.shift()
    }
  }

  #end(reason: string): void {
    if (this.#endReason !== undefined) return
    this.#endReason = reason
    if (!this.#prefaceDone) this.#rejectPreface(new Error(`connection ended before the client preface: ${reason}`))
    for (const waiter of [...this.#waiters]) waiter.closed(reason)
  }

  /**
   * Wait until `match` accepts a frame (frames it rejects are skipped), rejecting on close or
   * after the timeout with the list of frames seen meanwhile.
   */
  #wait<T>(what: string, match: (frame: PeerFrame) => T | undefined, timeoutMs: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const seen: string[] = []
      const finish = (): void => {
        clearTimeout(timer)
        this.#waiters.delete(waiter)
      }
      const waiter: Waiter = {
        take: (frame) => {
          const result = match(frame)
          if (result === undefined) {
            seen.push(describeFrame(frame))
            return false
          }
          finish()
          resolve(result)
          return true
        },
        closed: (reason) => {
          finish()
          reject(new Error(`${what}: ${reason}; frames seen meanwhile: [${seen.join(' ')}]`))
        },
      }
      const timer = setTimeout(() => {
        finish()
        reject(new Error(`${what}: timed out after ${timeoutMs} ms; frames seen meanwhile: [${seen.join(' ')}]`))
      }, timeoutMs)
      this.#waiters.add(waiter)
      this.#offer()
      // Frames already queued were offered above; if the stream already ended, fail now.
      if (this.#waiters.has(waiter) && this.#endReason !== undefined && this.#queue.length === 0) waiter.closed(this.#endReason)
    })
  }

  /**
   * The first frame in `received` for which `match` holds, else the next such frame to arrive.
   * A watch, not a wait: it takes no frame from the queue the waits read, has no timeout, and
   * simply never settles when the connection ends first (scripts chain one watch after another).
   */
  watch(match: (frame: PeerFrame) => boolean): Promise<PeerFrame> {
    const found = this.received.find(match)
    if (found !== undefined) return Promise.resolve(found)
    return new Promise((resolve) => this.#watchers.push({ match, resolve }))
  }

  /** The next frame the client sent. */
  readFrame(timeoutMs = this.timeoutMs): Promise<PeerFrame> {
    return this.#wait('readFrame', (frame) => frame, timeoutMs)
  }

  /** Skip to the next frame of `kind` for which `predicate` holds. */
  expectFrame<K extends FrameKind>(kind: K, predicate: (frame: FrameOf<K>) => boolean = () => true, timeoutMs = this.timeoutMs): Promise<FrameOf<K>> {
    return this.#wait(
      `expected ${kind}`,
      (frame) => (frame.kind === kind && predicate(frame as FrameOf<K>) ? (frame as FrameOf<K>) : undefined),
      timeoutMs,
    )
  }

  /** Skip to the next frame `predicate` accepts, whatever its kind. */
  expect(what: string, predicate: (frame: PeerFrame) => boolean, timeoutMs = this.timeoutMs): Promise<PeerFrame> {
    return this.#wait(`expected ${what}`, (frame) => (predicate(frame) ? frame : undefined), timeoutMs)
  }

  /** The next HEADERS frame of `streamId` that ends a header block (its `fields` set). */
  async expectHeaders(streamId: number, timeoutMs = this.timeoutMs): Promise<{ streamId: number; flags: number; fields: string[] }> {
    const frame = await this.#wait(
      `expected a header block on stream ${streamId}`,
      (f) => ((f.kind === 'headers' || f.kind === 'continuation') && f.streamId === streamId && f.fields !== undefined ? f : undefined),
      timeoutMs,
    )
    // A block ended by CONTINUATION keeps the END_STREAM flag on the HEADERS frame (§6.2).
    const first = frame.kind === 'headers' ? frame : this.received.findLast((f) => f.kind === 'headers' && f.streamId === streamId)
    return { streamId, flags: first?.kind === 'headers' ? first.flags : 0, fields: frame.fields ?? [] }
  }

  expectSettings(timeoutMs = this.timeoutMs): Promise<FrameOf<'settings'>> {
    return this.expectFrame('settings', (f) => !f.ack, timeoutMs)
  }

  expectSettingsAck(timeoutMs = this.timeoutMs): Promise<FrameOf<'settings'>> {
    return this.expectFrame('settings', (f) => f.ack, timeoutMs)
  }

  /** The PING ACK echoing `opaque` (RFC 9113 §6.7). */
  expectPingAck(opaque: Uint8Array, timeoutMs = this.timeoutMs): Promise<FrameOf<'ping'>> {
    const want = Buffer.from(opaque)
    return this.expectFrame('ping', (f) => f.ack && f.opaque.equals(want), timeoutMs)
  }

  /**
   * The next GOAWAY; rejects if its error code is not `code` (or none of `code`), if the
   * connection closes first, or on timeout.
   */
  async expectGoaway(code: number | readonly number[], timeoutMs = this.timeoutMs): Promise<FrameOf<'goaway'>> {
    const codes = typeof code === 'number' ? [code] : code
    const frame = await this.expectFrame('goaway', () => true, timeoutMs)
    if (!codes.includes(frame.errorCode)) {
      throw new Error(`expected GOAWAY(${codes.map(h2ErrorName).join('|')}), got ${describeFrame(frame)}`)
    }
    return frame
  }

  /** The next RST_STREAM on `streamId`; rejects if its code is not `code` (or none of `code`). */
  async expectRstStream(streamId: number, code: number | readonly number[], timeoutMs = this.timeoutMs): Promise<FrameOf<'rst_stream'>> {
    const codes = typeof code === 'number' ? [code] : code
    const frame = await this.expectFrame('rst_stream', (f) => f.streamId === streamId, timeoutMs)
    if (!codes.includes(frame.errorCode)) {
      throw new Error(`expected RST_STREAM(${streamId}, ${codes.map(h2ErrorName).join('|')}), got ${describeFrame(frame)}`)
    }
    return frame
  }

  /**
   * Wait for the client to close the connection; resolves with the frames that arrived in the
   * meantime (and were not taken yet). Rejects on timeout.
   */
  expectClosed(timeoutMs = this.timeoutMs): Promise<PeerFrame[]> {
    const frames: PeerFrame[] = []
    return new Promise<PeerFrame[]>((resolve, reject) => {
      const finish = (): void => {
        clearTimeout(timer)
        this.#waiters.delete(waiter)
      }
      const waiter: Waiter = {
        take: (frame) => {
          frames.push(frame)
          return true
        },
        closed: () => {
          finish()
          resolve(frames)
        },
      }
      const timer = setTimeout(() => {
        finish()
        reject(new Error(`expected the connection to close: still open after ${timeoutMs} ms; frames: [${frames.map(describeFrame).join(' ')}]`))
      }, timeoutMs)
      this.#waiters.add(waiter)
      this.#offer()
      if (this.#endReason !== undefined) waiter.closed(this.#endReason)
    })
  }

  /**
   * The connection preface exchange of RFC 9113 §3.4 from the server side: send our SETTINGS,
   * read the client's SETTINGS (and any opening WINDOW_UPDATE), acknowledge them, and wait for
   * the client's ACK of ours.
   */
  async handshake(settings: readonly SettingsEntry[] = []): Promise<void> {
    this.settings(settings)
    await this.preface
    const clientSettings = await this.expectSettings()
    this.clientSettings = clientSettings.settings
    this.settingsAck()
    // The client may send WINDOW_UPDATE on stream 0 before it acknowledges our SETTINGS.
    await this.#wait(
      'expected the SETTINGS ACK of the handshake',
      (f) => {
        if (f.kind === 'window_update' && f.streamId === 0) this.clientConnectionWindowIncrement += f.increment
        return f.kind === 'settings' && f.ack ? f : undefined
      },
      this.timeoutMs,
    )
  }

  /** The client's value of a SETTINGS parameter from the handshake, or `fallback`. */
  clientSetting(id: number, fallback: number): number {
    let value = fallback
    for (const [key, v] of this.clientSettings) if (key === id) value = v
    return value
  }

  // ── writing ──────────────────────────────────────────────────────────────────────────

  /** Write any bytes; false when the socket is gone or its buffer is full (see `drained`). */
  writeRaw(bytes: Uint8Array): boolean {
    if (this.socket.destroyed || !this.socket.writable) return false
    return this.socket.write(bytes)
  }

  /** Write one complete frame (its header's length must match the bytes given). */
  writeFrame(frame: Uint8Array): boolean {
    const declared = frame.length >= FRAME_HEADER_LENGTH ? (frame[0]! << 16) | (frame[1]! << 8) | frame[2]! : -1
    if (declared !== frame.length - FRAME_HEADER_LENGTH) {
      throw new Error(`writeFrame: header says ${declared} payload octets, got ${frame.length - FRAME_HEADER_LENGTH} (use writeRaw for broken framing)`)
    }
    return this.writeRaw(frame)
  }

  /** Resolves when the socket's buffer drained, or at once when nothing waits; also on close. */
  drained(): Promise<void> {
    const socket = this.socket
    if (socket.writableLength === 0 || socket.destroyed) return Promise.resolve()
    // Not events.once: it rejects on 'error', and EPIPE after the client hung up is expected.
    return new Promise<void>((resolve) => {
      const done = (): void => {
        socket.off('drain', done)
        socket.off('close', done)
        resolve()
      }
      socket.on('drain', done)
      socket.on('close', done)
    })
  }

  /** HPACK-encode `fields` with this peer's encoder (blocks must then be sent in this order). */
  encodeBlock(fields: readonly string[] | ReadonlyArray<readonly [string, string]>): Buffer {
    return this.encoder.encode(fields)
  }

  settings(entries: readonly SettingsEntry[] = []): boolean {
    return this.writeFrame(encodeSettings(entries))
  }

  settingsAck(): boolean {
    return this.writeFrame(encodeSettingsAck())
  }

  /** A HEADERS frame carrying `fields` encoded now (END_HEADERS unless `endHeaders: false`). */
  headers(streamId: number, fields: readonly string[] | ReadonlyArray<readonly [string, string]>, options: HeadersOptions = {}): boolean {
    return this.writeFrame(encodeHeaders(streamId, this.encodeBlock(fields), options))
  }

  /** A CONTINUATION frame with `fields` encoded now, or a ready fragment. */
  continuation(streamId: number, fields: Uint8Array | readonly string[], endHeaders = true): boolean {
    const fragment = fields instanceof Uint8Array ? fields : this.encodeBlock(fields)
    return this.writeFrame(encodeContinuation(streamId, fragment, endHeaders))
  }

  data(streamId: number, payload: Uint8Array | string, options: DataOptions = {}): boolean {
    return this.writeFrame(encodeData(streamId, typeof payload === 'string' ? Buffer.from(payload) : payload, options))
  }

  goaway(lastStreamId: number, errorCode: number, debugData?: string): boolean {
    return this.writeFrame(encodeGoaway(lastStreamId, errorCode, debugData === undefined ? undefined : Buffer.from(debugData)))
  }

  rstStream(streamId: number, errorCode: number): boolean {
    return this.writeFrame(encodeRstStream(streamId, errorCode))
  }

  ping(opaque: Uint8Array | string, ack = false): boolean {
    const bytes = typeof opaque === 'string' ? Buffer.from(opaque.padEnd(8, '\0').slice(0, 8), 'latin1') : opaque
    return this.writeFrame(encodePing(bytes, ack))
  }

  windowUpdate(streamId: number, increment: number): boolean {
    return this.writeFrame(encodeWindowUpdate(streamId, increment))
  }

  priority(streamId: number, priority: Priority): boolean {
    return this.writeFrame(encodePriority(streamId, priority))
  }

  pushPromise(streamId: number, promisedStreamId: number, fields: readonly string[]): boolean {
    return this.writeFrame(encodePushPromise(streamId, promisedStreamId, this.encodeBlock(fields)))
  }

  /** A complete response: HEADERS (+ one DATA frame when `body` is given). */
  respond(streamId: number, status = 200, fields: readonly string[] = [], body?: string | Uint8Array): boolean {
    const head = [':status', String(status), ...fields]
    if (body === undefined) return this.headers(streamId, head, { endStream: true })
    this.headers(streamId, head)
    return this.data(streamId, body, { endStream: true })
  }

  /** Stop reading from the socket: the client's writes pile up in the kernel, then in its buffers. */
  pauseReading(): void {
    this.socket.pause()
  }

  resumeReading(): void {
    this.socket.resume()
  }

  /** Close our side gracefully (FIN). */
  end(): void {
    this.socket.end()
  }

  destroy(): void {
    this.socket.destroy()
  }
}

/** The listener: accepts connections and hands them out as H2Peers, in arrival order. */
export class FakeH2Server {
  readonly server: net.Server
  readonly peers: H2Peer[] = []
  readonly #options: PeerOptions
  readonly #pending: H2Peer[] = []
  readonly #acceptors: Array<(peer: H2Peer) => void> = []
  /** Set by `onConnection`: every new peer goes to it instead of `accept`. */
  #onPeer: ((peer: H2Peer) => void) | undefined = undefined
  #port = 0

  private constructor(options: PeerOptions) {
    this.#options = options
    this.server = net.createServer({ noDelay: true }, (socket) => {
      const peer = new H2Peer(socket, this.#options)
      this.peers.push(peer)
      if (this.#onPeer !== undefined) {
        this.#onPeer(peer)
        return
      }
      const acceptor = this.#acceptors.shift()
      if (acceptor === undefined) this.#pending.push(peer)
      else acceptor(peer)
    })
  }

  /** Listen on 127.0.0.1 on a free port; the test's teardown closes the server and every peer. */
  static async start(t: Teardown, options: PeerOptions = {}): Promise<FakeH2Server> {
    const fake = new FakeH2Server(options)
    fake.#port = await listenLoopback(t, fake.server, () => fake.peers)
    return fake
  }

  get port(): number {
    return this.#port
  }

  get origin(): string {
    return `http://127.0.0.1:${this.#port}`
  }

  /** Hand every connection from now on to `fn`, synchronously as it is accepted (for scripts that serve any number of them). */
  onConnection(fn: (peer: H2Peer) => void): void {
    this.#onPeer = fn
  }

  /** The next accepted connection (bounded by the peer timeout). */
  accept(timeoutMs = this.#options.timeoutMs ?? DEFAULT_TIMEOUT_MS): Promise<H2Peer> {
    const ready = this.#pending.shift()
    if (ready !== undefined) return Promise.resolve(ready)
    return new Promise<H2Peer>((resolve, reject) => {
      const acceptor = (peer: H2Peer): void => {
        clearTimeout(timer)
        resolve(peer)
      }
      const timer = setTimeout(() => {
        const at = this.#acceptors.indexOf(acceptor)
        if (at !== -1) this.#acceptors.splice(at, 1)
        reject(new Error(`no connection accepted within ${timeoutMs} ms`))
      }, timeoutMs)
      this.#acceptors.push(acceptor)
    })
  }
}

