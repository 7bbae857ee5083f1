/**
 * Loopback TLS and raw TCP servers for the connector tests, closed at teardown.
 */
import { once } from 'node:events'
import net from 'node:net'
import tls from 'node:tls'
import type { Test } from 'tap'


export interface TestServer<S extends net.Socket> {
  server: net.Server
  port: number
  /** Resolves with the next connection the server completes (TLS: after its handshake). */
  next(): Promise<S>
}

function holdSockets(t: Test, server: net.Server): void {
  const sockets: net.Socket[] = []
  server.on('connection', (socket: net.Socket) => {
    socket.on('error', () => {})
    sockets.push(socket)
  })
  t.teardown(() => {
    for (const socket of sockets) socket.destroy()
    server.close()
  })
}

async function start<S extends net.Socket>(t: Test, server: net.Server, event: string, host: string): Promise<TestServer<S>> {
  holdSockets(t, server)
  server.listen(0, host)
  await once(server, 'listening')
  return {
    server,
    port: (server.address() as net.AddressInfo).port,
    next: async () => ((await once(server, event)) as [S])[0],
  }
}

/** A TLS server; every accepted socket gets an error listener so client aborts stay quiet. */
export function tlsServer(t: Test, options: tls.TlsOptions, host = '127.0.0.1'): Promise<TestServer<tls.TLSSocket>> {
  const server = tls.createServer(options, (socket) => socket.on('error', () => {}))
  // Handshake failures are what many tests provoke; they are asserted on the client side.
  server.on('tlsClientError', () => {})
  return start(t, server, 'secureConnection', host)
}

/**
 * A TCP server that runs `onConnection` for each accepted socket (reset, proxying…). The
 * default reads and discards, never answering: a peer that stalls a TLS handshake but
 * still sees the client's FIN.
 */
export function rawServer(
  t: Test,
  onConnection: (socket: net.Socket) => void = (socket) => socket.resume(),
): Promise<TestServer<net.Socket>> {
  const server = net.createServer(onConnection)
  return start(t, server, 'connection', '127.0.0.1')
}
