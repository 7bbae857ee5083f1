/**
 * Loopback peers for tests: node:http(s) servers and raw node:net servers that write
 * hand-crafted bytes. Every server is closed by a tap teardown registered here.
 */
import { once } from 'node:events'
import * as http from 'node:http'
import * as https from 'node:https'
import * as net from 'node:net'
import type { AddressInfo } from 'node:net'

interface Teardown {
  teardown(fn: () => unknown): void
}

export interface Listening<S> {
  server: S
  port: number
  origin: string
  /** Server-side sockets currently open. */
  sockets: Set<net.Socket>
  /** Total connections accepted. */
  connections: () => number
}

/**
 * Listen on a free 127.0.0.1 port; resolves with the port. The test's teardown destroys what
 * `open()` lists at that time (the server-side sockets, sessions or peers a close() would wait
 * for), then closes the server.
 */
export async function listenLoopback(t: Teardown, server: net.Server, open: () => Iterable<{ destroy(): void }>): Promise<number> {
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const port = (server.address() as AddressInfo).port
  t.teardown(async () => {
    for (const item of open()) item.destroy()
    if ('closeAllConnections' in server) (server as unknown as http.Server).closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })
  return port
}

async function listen<S extends net.Server>(t: Teardown, server: S, scheme: string): Promise<Listening<S>> {
  const sockets = new Set<net.Socket>()
  let accepted = 0
  const event = scheme === 'https' ? 'secureConnection' : 'connection'
  server.on(event, (socket: net.Socket) => {
    accepted++
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  // Raw TCP sockets too: one still in its TLS handshake when a test ends would otherwise
  // keep server.close() from ever calling back.
  const raw = new Set<net.Socket>()
  if (scheme === 'https') {
    server.on('connection', (socket: net.Socket) => {
      raw.add(socket)
      socket.on('close', () => raw.delete(socket))
    })
  }
  const port = await listenLoopback(t, server, () => [...sockets, ...raw])
  return { server, port, origin: `${scheme}://127.0.0.1:${port}`, sockets, connections: () => accepted }
}

export function httpServer(t: Teardown, handler: http.RequestListener, options: http.ServerOptions = {}): Promise<Listening<http.Server>> {
  return listen(t, http.createServer({ keepAliveTimeout: 60_000, ...options }, handler), 'http')
}

export function httpsServer(t: Teardown, options: https.ServerOptions, handler: http.RequestListener): Promise<Listening<https.Server>> {
  return listen(t, https.createServer({ keepAliveTimeout: 60_000, ...options }, handler), 'https')
}

/** A raw TCP server: `onConnection` writes whatever bytes the test needs. */
export function rawServer(t: Teardown, onConnection: (socket: net.Socket) => void): Promise<Listening<net.Server>> {
  return listen(t, net.createServer({ allowHalfOpen: false }, onConnection), 'http')
}

/**
 * Split a request stream into heads as they arrive (for raw servers): calls `onRequest`
 * with each request head (no bodies: tests that need bodies parse them themselves).
 */
export function onRequestHeads(socket: net.Socket, onRequest: (head: string, index: number) => void): void {
  let buffered = ''
  let index = 0
  socket.setEncoding('latin1')
  socket.on('data', (data: string) => {
    buffered += data
    let end: number
    while ((end = buffered.indexOf('\r\n\r\n')) !== -1) {
      const head = buffered.slice(0, end)
      buffered = buffered.slice(end + 4)
      onRequest(head, index++)
    }
  })
}

/** A request body (or any byte stream read with `for await`) as UTF-8 text. */
export async function readAll(stream: AsyncIterable<Buffer>): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(chunk)
  return Buffer.concat(chunks).toString('utf8')
}

/** A port that was just bound and released: connecting to it is refused. */
export async function closedPort(): Promise<number> {
  const server = net.createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const port = (server.address() as AddressInfo).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}
