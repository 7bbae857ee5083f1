/**
 * `createTestServer()`: a real HTTP/1.1 + HTTP/2 (+ WebSocket) server on a free loopback port
 * whose responses can carry fault policies, as OkHttp's MockWebServer. For users' tests and
 * ours. Built on:
 *
 * - `node:net` for the listening socket: every accepted TCP socket is kept, so a fault can
 *   send a FIN or a RST (`resetAndDestroy`) on it even under TLS, and the connection faults
 *   (`tls-fail`, `tls-slow`) act before any TLS byte is read.
 * - `node:tls` (a `TLSSocket` per accepted socket, ALPN h2 / http/1.1) with a certificate made
 *   in memory (certificates.ts): no dependency at runtime.
 * - HTTP/1.1 and WebSocket written on the socket (h1.ts, ws.ts): faults decide every byte.
 * - `node:http2` for HTTP/2 (h2.ts): RST_STREAM, GOAWAY and PING as the faults need them.
 *
 * DESIGN.md's rule "no node:http / node:http2 inside src/" is about the client engine; this
 * module is a test server shipped to users, and the exception is deliberate.
 */
import { once } from 'node:events'
import * as net from 'node:net'
import * as tls from 'node:tls'
import { makeTestCertificates } from './certificates.js'
import type { ServerContext, TestConnection } from './context.js'
import { serveH1 } from './h1.js'
import { H2Side } from './h2.js'
import type { ConnectionFault, RecordedRequest, RouteHandler, RouteResponse, TestProtocol, TestServerOptions } from './types.js'

/** HTTP/2 connection preface (RFC 9113 §3.4): how a cleartext socket is told to be h2c. */
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')
/** A fatal TLS alert record, handshake_failure (40), TLS 1.2 record version (RFC 8446 §6, §B.2). */
const HANDSHAKE_FAILURE_ALERT = Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28])

export type PathMatcher = string | RegExp | ((path: string) => boolean)

interface Route {
  method: string
  path: PathMatcher
  handler: RouteHandler
}

export interface TestServer {
  /** `https://127.0.0.1:port` (or `http://…` without TLS). */
  readonly origin: string
  readonly port: number
  /** The CA certificate (PEM) to trust (`tls: { ca }`); undefined without TLS. */
  readonly ca: string | undefined
  /** Every request that arrived, in arrival order. */
  readonly requests: readonly RecordedRequest[]
  /** TCP connections accepted so far. */
  readonly connections: number
  /** Answer `method` (or '*') requests whose path (without the query for a string) matches. Later routes win. */
  route(method: string, path: PathMatcher, handler: RouteHandler | RouteResponse): this
  /** A fault for the next `count` (default every) accepted connections; null removes it. */
  connectionFault(fault: ConnectionFault | null, count?: number): void
  /** Stop listening and destroy every connection and timer. */
  close(): Promise<void>
}

function pathMatches(matcher: PathMatcher, target: string): boolean {
  if (typeof matcher === 'string') return matcher === target || matcher === target.split('?')[0]
  if (matcher instanceof RegExp) return matcher.test(target)
  return matcher(target)
}

class WirepoolTestServer implements TestServer, ServerContext {
  readonly #server = net.createServer()
  readonly #routes: Route[] = []
  readonly #requests: RecordedRequest[] = []
  readonly #sockets = new Set<net.Socket>()
  readonly #timers = new Set<NodeJS.Timeout>()
  readonly #protocols: readonly TestProtocol[]
  readonly #websocket: boolean
  readonly #h2: H2Side
  readonly ca: string | undefined
  /** Not listening: handed the accepted TCP sockets, it runs the handshakes. */
  readonly #tlsServer: tls.Server | undefined
  readonly #connectionsByRaw = new WeakMap<net.Socket, TestConnection>()
  #connectionFault: { fault: ConnectionFault; remaining: number } | null = null
  #accepted = 0
  #port = 0

  constructor(options: TestServerOptions) {
    const secure = options.tls ?? true
    this.#protocols = options.protocols ?? (secure ? ['http/1.1', 'h2'] : ['http/1.1'])
    this.#websocket = options.websocket ?? false
    this.#h2 = new H2Side(this, this.#websocket)
    if (secure) {
      const certs = makeTestCertificates()
      this.ca = certs.ca
      // Server preference decides ALPN: h2 first when offered.
      const ALPNProtocols = (['h2', 'http/1.1'] as const).filter((p) => this.#protocols.includes(p))
      this.#tlsServer = tls.createServer({ key: certs.key, cert: certs.cert, ALPNProtocols })
      this.#tlsServer.on('tlsClientError', (_err, socket) => socket.destroy())
      this.#tlsServer.on('secureConnection', (socket: tls.TLSSocket) => {
        const raw = (socket as unknown as { _parent?: net.Socket })._parent
        const connection = raw === undefined ? undefined : this.#connectionsByRaw.get(raw)
        if (connection === undefined) {
          socket.destroy()
          return
        }
        socket.on('error', () => raw?.destroy())
        if (socket.alpnProtocol === 'h2') this.#h2.serve(socket, connection)
        else if (this.#protocols.includes('http/1.1')) serveH1(socket, connection, this)
        else socket.destroy()
      })
    } else {
      this.ca = undefined
      this.#tlsServer = undefined
    }
    this.#server.on('connection', (socket) => this.#accept(socket))
  }

  async listen(): Promise<void> {
    this.#server.listen(0, '127.0.0.1')
    await once(this.#server, 'listening')
    this.#port = (this.#server.address() as net.AddressInfo).port
  }

  get port(): number {
    return this.#port
  }

  get origin(): string {
    return `${this.#tlsServer === undefined ? 'http' : 'https'}://127.0.0.1:${this.#port}`
  }

  get requests(): readonly RecordedRequest[] {
    return this.#requests
  }

  get connections(): number {
    return this.#accepted
  }

  route(method: string, path: PathMatcher, handler: RouteHandler | RouteResponse): this {
    const fn: RouteHandler = typeof handler === 'function' ? handler : () => handler
    this.#routes.unshift({ method: method.toUpperCase(), path, handler: fn })
    return this
  }

  connectionFault(fault: ConnectionFault | null, count = Infinity): void {
    if (fault !== null && this.#tlsServer === undefined) throw new TypeError(`${fault.kind} needs a TLS server (tls: true)`)
    if (!(count >= 1)) throw new RangeError('count must be at least 1')
    this.#connectionFault = fault === null ? null : { fault, remaining: count }
  }

  #findRoute(request: RecordedRequest): Route | undefined {
    // An HTTP/2 WebSocket is an extended CONNECT (RFC 8441); its routes are GET routes, as over HTTP/1.1.
    const method = request.method === 'CONNECT' ? 'GET' : request.method
    return this.#routes.find((r) => (r.method === '*' || r.method === method || r.method === request.method) && pathMatches(r.path, request.path))
  }

  async answer(request: RecordedRequest): Promise<RouteResponse> {
    this.#requests.push(request)
    const route = this.#findRoute(request)
    let answer: RouteResponse
    if (route === undefined) {
      const upgrade = request.headers.upgrade !== undefined || request.method === 'CONNECT'
      answer = this.#websocket && upgrade ? { status: 101 } : { status: 404, body: 'no route' }
    } else {
      try {
        answer = await route.handler(request)
      } catch (err) {
        answer = { status: 500, body: `handler failed: ${err instanceof Error ? err.message : String(err)}` }
      }
    }
    request.fault = answer.fault?.kind
    return answer
  }

  acceptsWebSocket(_request: RecordedRequest, answer: RouteResponse): boolean {
    return answer.status === 101
  }

  setTimer(fn: () => void, ms: number): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.#timers.delete(timer)
      fn()
    }, ms)
    this.#timers.add(timer)
    return timer
  }

  clearTimer(timer: NodeJS.Timeout): void {
    clearTimeout(timer)
    this.#timers.delete(timer)
  }

  #takeConnectionFault(): ConnectionFault | undefined {
    const entry = this.#connectionFault
    if (entry === null) return undefined
    if (--entry.remaining <= 0) this.#connectionFault = null
    return entry.fault
  }

  #accept(raw: net.Socket): void {
    this.#sockets.add(raw)
    raw.on('close', () => this.#sockets.delete(raw))
    raw.on('error', () => {})
    raw.setNoDelay(true)
    const connection: TestConnection = { id: ++this.#accepted, raw, served: 0 }
    this.#connectionsByRaw.set(raw, connection)
    if (this.#tlsServer === undefined) {
      this.#serveCleartext(raw, connection)
      return
    }
    const fault = this.#takeConnectionFault()
    if (fault?.kind === 'tls-fail') {
      raw.once('data', () => {
        raw.end(HANDSHAKE_FAILURE_ALERT)
      })
      return
    }
    const start = (): void => {
      if (raw.destroyed) return
      ;(this.#tlsServer as tls.Server).emit('connection', raw)
    }
    if (fault?.kind === 'tls-slow') {
      // Hold the ClientHello: nothing is read from the socket until the delay is over.
      raw.pause()
      this.setTimer(start, fault.delayMs)
    } else {
      start()
    }
  }

  #serveCleartext(raw: net.Socket, connection: TestConnection): void {
    const h1 = this.#protocols.includes('http/1.1')
    const h2c = this.#protocols.includes('h2c') || this.#protocols.includes('h2')
    if (!h2c) {
      serveH1(raw, connection, this)
      return
    }
    if (!h1) {
      this.#h2.serve(raw, connection)
      return
    }
    // Both: the first bytes tell (RFC 9113 §3.3 prior knowledge starts with the preface).
    let seen = Buffer.alloc(0)
    const sniff = (chunk: Buffer): void => {
      seen = Buffer.concat([seen, chunk])
      const n = Math.min(seen.length, PREFACE.length)
      const isH2 = seen.subarray(0, n).equals(PREFACE.subarray(0, n))
      if (isH2 && seen.length < PREFACE.length) return
      raw.off('data', sniff)
      raw.pause()
      raw.unshift(seen)
      if (isH2) this.#h2.serve(raw, connection)
      else {
        serveH1(raw, connection, this)
        raw.resume()
      }
    }
    raw.on('data', sniff)
  }

  async close(): Promise<void> {
    for (const timer of this.#timers) clearTimeout(timer)
    this.#timers.clear()
    this.#h2.destroyAll()
    for (const socket of this.#sockets) socket.destroy()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }
}

/** Start a test server on a free 127.0.0.1 port. */
export async function createTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const server = new WirepoolTestServer(options)
  await server.listen()
  return server
}
