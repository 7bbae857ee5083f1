/**
 * Test peers for WebSocket over HTTP/2 (RFC 8441): the HTTP/2 tests' node:http2 peer
 * (test/h2/session-helpers.ts, TLS or h2c) set to accept extended CONNECT with `:protocol websocket` and runs a server-side `ws` WebSocket
 * over the stream (ws's setSocket takes any Duplex), answering ordinary requests too; and a
 * TLS server that speaks HTTP/2 WITHOUT extended CONNECT plus HTTP/1.1 with a `ws` server,
 * chosen by ALPN — the origin a client must fall back to HTTP/1.1 for.
 */
import { once } from 'node:events'
import * as http from 'node:http'
import * as http2 from 'node:http2'
import type { AddressInfo } from 'node:net'
import * as net from 'node:net'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import * as tls from 'node:tls'
import { WebSocket as WsSocket, WebSocketServer } from 'ws'
import { h2cServer, h2sServer, type Teardown } from '../h2/session-helpers.js'

export type { Teardown }

export interface Accepted {
  ws: WsSocket
  headers: http2.IncomingHttpHeaders
  stream: http2.ServerHttp2Stream
}

export interface H2WsPeer {
  origin: string
  /** HTTP/2 sessions the server accepted (one per client connection). */
  sessions(): number
  /** Every CONNECT request's headers, in arrival order. */
  readonly connects: http2.IncomingHttpHeaders[]
  /** Server-side WebSockets in accept order. */
  next(): Promise<Accepted>
  /** The server-side HTTP/2 sessions alive now. */
  readonly live: Set<http2.ServerHttp2Session>
}

export interface H2WsOptions {
  /** TLS key/cert: h2 over TLS; absent: h2c. */
  secure?: { key: string; cert: string }
  /** Send SETTINGS_ENABLE_CONNECT_PROTOCOL=1 (default true). */
  enableConnectProtocol?: boolean
  /** Subprotocols the server supports: it picks the first offered one it knows. */
  protocols?: string[]
  /** Accept permessage-deflate offers (with ws's own implementation). */
  deflate?: boolean
  /** Answer CONNECT with this status and no WebSocket (a refusal). */
  refuse?: number
  /** Add this to the 2xx response (to test what a client must reject). */
  extraResponse?: http2.OutgoingHttpHeaders
  /** Echo every message back with its type (default true). */
  echo?: boolean
}

// ws's permessage-deflate and header parser are internal modules (not in its exports map);
// they are loaded by path so the server side negotiates exactly as a ws server would.
const require = createRequire(import.meta.url)
const wsDir = dirname(require.resolve('ws'))
interface PmdInstance {
  accept(offers: unknown[]): Record<string, unknown>
}
const PerMessageDeflate = require(join(wsDir, 'lib/permessage-deflate.js')) as new (options: { isServer: boolean; maxPayload: number }) => PmdInstance
const extension = require(join(wsDir, 'lib/extension.js')) as { parse(header: string): Record<string, unknown[]>; format(ext: Record<string, unknown>): string }

interface WsInternals {
  _protocol: string
  _extensions: Record<string, unknown>
  setSocket(socket: unknown, head: Buffer, options: { maxPayload: number; allowSynchronousEvents: boolean }): void
}

export async function h2WsServer(t: Teardown, options: H2WsOptions = {}): Promise<H2WsPeer> {
  const connects: http2.IncomingHttpHeaders[] = []
  const queue: Accepted[] = []
  let waiter: ((a: Accepted) => void) | undefined
  const onStream = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void => {
    if (headers[':method'] !== 'CONNECT') {
      stream.respond({ ':status': 200, 'content-type': 'text/plain' })
      stream.end(`hello ${String(headers[':path'])}`)
      return
    }
    connects.push(headers)
    if (options.refuse !== undefined || headers[':protocol'] !== 'websocket') {
      stream.respond({ ':status': options.refuse ?? 400 }, { endStream: true })
      return
    }
    const response: http2.OutgoingHttpHeaders = { ':status': 200, ...options.extraResponse }
    const ws = new (WsSocket as unknown as new (address: null, protocols: undefined, options: object) => WsSocket)(null, undefined, { autoPong: true }) as WsSocket & WsInternals
    const offered = String(headers['sec-websocket-protocol'] ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '')
    const chosen = offered.find((p) => options.protocols?.includes(p))
    if (chosen !== undefined) {
      response['sec-websocket-protocol'] = chosen
      ws._protocol = chosen
    }
    const offer = headers['sec-websocket-extensions']
    if (options.deflate === true && typeof offer === 'string') {
      const pmd = new PerMessageDeflate({ isServer: true, maxPayload: 0 })
      const offers = extension.parse(offer)['permessage-deflate']
      if (offers !== undefined) {
        const params = pmd.accept(offers)
        response['sec-websocket-extensions'] = extension.format({ 'permessage-deflate': [params] })
        ws._extensions = { 'permessage-deflate': pmd }
      }
    }
    stream.respond(response)
    ws.setSocket(stream, Buffer.alloc(0), { maxPayload: 0, allowSynchronousEvents: true })
    ws.on('error', () => {})
    if (options.echo !== false) ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }))
    const accepted = { ws, headers, stream }
    const w = waiter
    waiter = undefined
    if (w !== undefined) w(accepted)
    else queue.push(accepted)
  }
  // The node:http2 peer of the HTTP/2 tests (session tracking, teardown), with RFC 8441 on.
  const settings = { settings: { enableConnectProtocol: options.enableConnectProtocol ?? true } }
  const peer = options.secure !== undefined ? await h2sServer(t, options.secure, onStream, settings) : await h2cServer(t, onStream, settings)
  return {
    origin: peer.origin,
    sessions: peer.sessions,
    connects,
    live: peer.live,
    next() {
      const a = queue.shift()
      if (a !== undefined) return Promise.resolve(a)
      return new Promise((resolve) => (waiter = resolve))
    },
  }
}

export interface FallbackPeer {
  origin: string
  /** Connections by protocol: HTTP/2 sessions and HTTP/1.1 sockets accepted. */
  h2Sessions(): number
  h1Connections(): number
  /** `ws` WebSockets accepted over HTTP/1.1. */
  wsConnections(): number
}

/**
 * One port, two protocols: HTTP/2 without SETTINGS_ENABLE_CONNECT_PROTOCOL and HTTP/1.1 with
 * an echoing `ws` server — by ALPN over TLS (`secure`), by the first bytes in cleartext (the
 * HTTP/2 preface starts with "PRI ", RFC 9113 §3.4).
 */
export async function fallbackServer(t: Teardown, secure: { key: string; cert: string } | undefined): Promise<FallbackPeer> {
  const h2 = http2.createServer()
  let h2Sessions = 0
  let h1Connections = 0
  let wsConnections = 0
  const sockets = new Set<net.Socket>()
  h2.on('session', (session) => {
    h2Sessions++
    session.on('error', () => {})
  })
  h2.on('stream', (stream, headers) => {
    stream.on('error', () => {})
    stream.respond({ ':status': 200 })
    stream.end(`h2 ${String(headers[':path'])}`)
  })
  const h1 = http.createServer((req, res) => res.end(`h1 ${req.url ?? ''}`))
  h1.on('connection', () => h1Connections++)
  const wss = new WebSocketServer({ server: h1 })
  wss.on('connection', (ws) => {
    wsConnections++
    ws.on('error', () => {})
    ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }))
  })
  const route = (socket: net.Socket, isH2: boolean): void => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    if (isH2) h2.emit('connection', socket)
    else h1.emit('connection', socket)
  }
  const outer =
    secure !== undefined
      ? tls.createServer({ ...secure, ALPNProtocols: ['h2', 'http/1.1'] }, (socket) => route(socket, socket.alpnProtocol === 'h2'))
      : net.createServer((socket) => {
          socket.once('data', (chunk: Buffer) => {
            if (chunk.subarray(0, 4).toString('latin1') === 'PRI ') {
              socket.pause()
              socket.unshift(chunk)
              route(socket, true)
              return
            }
            // node:http reads the socket's handle directly once it has the connection, so the
            // sniffed bytes are replayed to its 'data' listener rather than unshifted.
            route(socket, false)
            socket.emit('data', chunk)
          })
        })
  outer.listen(0, '127.0.0.1')
  await once(outer, 'listening')
  const port = (outer.address() as AddressInfo).port
  t.teardown(async () => {
    for (const c of wss.clients) c.terminate()
    for (const socket of sockets) socket.destroy()
    await new Promise<void>((resolve) => outer.close(() => resolve()))
  })
  return {
    origin: `${secure !== undefined ? 'https' : 'http'}://127.0.0.1:${port}`,
    h2Sessions: () => h2Sessions,
    h1Connections: () => h1Connections,
    wsConnections: () => wsConnections,
  }
}
