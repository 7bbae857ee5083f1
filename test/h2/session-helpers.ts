/**
 * Test-local helpers for H2Connection: node:http2 servers (h2c and TLS) as peers (the
 * WebSocket-over-HTTP/2 tests' peer is one of them too), a raw peer (the scripted peer of
 * peer/fake-server.ts) that records the frames we send and writes hand-made ones, an H2Connection
 * over a fresh socket, and a handler that collects a response.
 */
import { once } from 'node:events'
import * as http2 from 'node:http2'
import * as net from 'node:net'
import * as tls from 'node:tls'
import type { DispatchHandler, DispatchRequest, HeaderRecord } from '../../src/dispatch.js'
import type { WirepoolError } from '../../src/errors.js'
import { H2Connection, type H2ConnectionOptions } from '../../src/h2/session.js'
import type { FrameRecord } from './frame-recorder.js'
import { FakeH2Server, type H2Peer as ScriptedPeer } from './peer/fake-server.js'
import { dispatchRequest } from '../support/requests.js'
import { listenLoopback } from '../support/servers.js'

export interface Teardown {
  teardown(fn: () => unknown): void
}

export interface H2Peer<S> {
  server: S
  port: number
  origin: string
  /** Sessions the server accepted (one per connection). */
  sessions: () => number
  /** Server-side sessions currently open. */
  live: Set<http2.ServerHttp2Session>
}

async function listen<S extends http2.Http2Server | http2.Http2SecureServer>(t: Teardown, server: S, scheme: string): Promise<H2Peer<S>> {
  let count = 0
  const live = new Set<http2.ServerHttp2Session>()
  server.on('session', (session: http2.ServerHttp2Session) => {
    count++
    live.add(session)
    session.on('close', () => live.delete(session))
    session.on('error', () => {})
  })
  server.on('sessionError', () => {})
  // Raw TCP sockets too: one still in its TLS handshake when a test ends would otherwise keep
  // server.close() from ever calling back.
  const raw = new Set<net.Socket>()
  server.on('connection', (socket: net.Socket) => {
    raw.add(socket)
    socket.on('close', () => raw.delete(socket))
  })
  const port = await listenLoopback(t, server, () => [...live, ...raw])
  return { server, port, origin: `${scheme}://127.0.0.1:${port}`, sessions: () => count, live }
}

export function h2cServer(t: Teardown, onStream: (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => void, options: http2.ServerOptions = {}): Promise<H2Peer<http2.Http2Server>> {
  const server = http2.createServer(options)
  server.on('stream', (stream, headers) => {
    stream.on('error', () => {})
    onStream(stream, headers)
  })
  return listen(t, server, 'http')
}

export function h2sServer(
  t: Teardown,
  secure: { key: string; cert: string },
  onStream: (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => void,
  options: http2.SecureServerOptions = {},
): Promise<H2Peer<http2.Http2SecureServer>> {
  const server = http2.createSecureServer({ ...options, key: secure.key, cert: secure.cert, allowHTTP1: false })
  server.on('stream', (stream, headers) => {
    stream.on('error', () => {})
    onStream(stream, headers)
  })
  return listen(t, server, 'https')
}

/** An H2Connection over a new cleartext socket (prior knowledge, RFC 9113 §3.3). */
export async function connectH2c(t: Teardown, port: number, options: Partial<H2ConnectionOptions> = {}): Promise<H2Connection> {
  const socket = net.connect({ port, host: '127.0.0.1', noDelay: true })
  await once(socket, 'connect')
  const conn = new H2Connection(socket, { id: 1, origin: `http://127.0.0.1:${port}`, tlsResumed: null, ...options })
  t.teardown(() => conn.destroy())
  return conn
}

export async function connectH2s(t: Teardown, port: number, ca: string, options: Partial<H2ConnectionOptions> = {}): Promise<H2Connection> {
  const socket = tls.connect({ port, host: '127.0.0.1', servername: 'localhost', ca, ALPNProtocols: ['h2'] })
  await once(socket, 'secureConnect')
  if (socket.alpnProtocol !== 'h2') throw new Error(`ALPN chose ${String(socket.alpnProtocol)}`)
  const conn = new H2Connection(socket, { id: 1, origin: `https://localhost:${port}`, tlsResumed: socket.isSessionReused(), ...options })
  t.teardown(() => conn.destroy())
  return conn
}

/** A GET / without a body (null) and without timeouts; override what the test is about. */
export function makeRequest(overrides: Partial<DispatchRequest> = {}): DispatchRequest {
  return dispatchRequest({ body: null, ...overrides })
}

export interface Collected {
  status: number
  headers: HeaderRecord
  body: Buffer
  trailers: HeaderRecord | undefined
  informational: Array<[number, HeaderRecord]>
}

/** A handler that gathers the whole response; `pauseAfter` > 0 pauses once that many bytes arrived. */
export class Collector implements DispatchHandler {
  status = 0
  headers: HeaderRecord = {}
  chunks: Buffer[] = []
  received = 0
  trailers: HeaderRecord | undefined = undefined
  informational: Array<[number, HeaderRecord]> = []
  abort: ((reason?: Error) => void) | undefined = undefined
  resume: (() => void) | undefined = undefined
  pauseEvery: number
  /** Resolves at the end; rejects with the request's error. */
  readonly done: Promise<Collected>
  #resolve!: (value: Collected) => void
  #reject!: (err: WirepoolError) => void
  /** Called on every onData with the running total; return false to pause. */
  onChunk: ((received: number) => boolean | void) | undefined = undefined
  headersSeen: Promise<void>
  #headersResolve!: () => void
  keep = true

  constructor(pauseEvery = 0) {
    this.pauseEvery = pauseEvery
    this.done = new Promise((resolve, reject) => {
      this.#resolve = resolve
      this.#reject = reject
    })
    this.done.catch(() => {})
    this.headersSeen = new Promise((resolve) => (this.#headersResolve = resolve))
  }

  onConnect(abort: (reason?: Error) => void): void {
    this.abort = abort
  }
  onInformational(status: number, headers: HeaderRecord): void {
    this.informational.push([status, headers])
  }
  onHeaders(status: number, headers: HeaderRecord, resume: () => void): boolean | void {
    this.status = status
    this.headers = headers
    this.resume = resume
    this.#headersResolve()
  }
  onData(chunk: Uint8Array): boolean | void {
    this.received += chunk.byteLength
    if (this.keep) this.chunks.push(Buffer.from(chunk))
    if (this.onChunk !== undefined) return this.onChunk(this.received)
  }
  onTrailers(trailers: HeaderRecord): void {
    this.trailers = trailers
  }
  onComplete(): void {
    this.#resolve({ status: this.status, headers: this.headers, body: Buffer.concat(this.chunks), trailers: this.trailers, informational: this.informational })
  }
  onError(err: WirepoolError): void {
    this.#reject(err)
  }
}

export function send(conn: H2Connection, request: Partial<DispatchRequest> = {}): Collector {
  const collector = new Collector()
  conn.dispatch(makeRequest(request), collector)
  return collector
}

/**
 * A raw HTTP/2 peer for tests that script it by hand: the scripted peer (peer/fake-server.ts)
 * seen through a smaller surface — the socket to write any bytes to, every frame the client
 * sent, and `waitFor` (H2Peer.watch). `onConnection` runs for each connection; `socket`,
 * `frames` and `waitFor` are the latest one's.
 */
export interface RawPeer {
  port: number
  readonly frames: FrameRecord[]
  socket: () => net.Socket
  /** Resolves once a recorded frame matches (checked on every new frame). */
  waitFor(match: (frame: FrameRecord) => boolean): Promise<FrameRecord>
  /** Resolves when the client's socket closed. */
  closed: Promise<void>
}

export async function rawPeer(t: Teardown, onConnection: (socket: net.Socket, peer: RawPeer) => void): Promise<RawPeer> {
  const server = await FakeH2Server.start(t)
  let current: ScriptedPeer | undefined
  let closedResolve!: () => void
  const peer: RawPeer = {
    port: server.port,
    get frames(): FrameRecord[] {
      return current?.received ?? []
    },
    socket: () => (current as ScriptedPeer).socket,
    waitFor: (match) => (current as ScriptedPeer).watch(match),
    closed: new Promise((resolve) => (closedResolve = resolve)),
  }
  server.onConnection((connection) => {
    current = connection
    connection.socket.on('close', () => closedResolve())
    onConnection(connection.socket, peer)
  })
  return peer
}

export function closeOf(conn: H2Connection): Promise<WirepoolError | undefined> {
  return new Promise((resolve) => conn.once('close', (err) => resolve(err)))
}
