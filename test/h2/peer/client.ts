/**
 * The client side of a fake-peer test: an H2Connection on a loopback socket to a FakeH2Server,
 * the matching server-side H2Peer, and a request driven with the recording handler the H1
 * connection tests use. Everything is closed by the test's teardown.
 */
import { once } from 'node:events'
import * as net from 'node:net'
import type { DispatchRequest } from '../../../src/dispatch.js'
import { H2Connection } from '../../../src/h2/session.js'
import type { SettingsEntry } from '../../../src/h2/frame.js'
import { watchConnection, type Watched } from '../../support/lifecycle.js'
import { collect, req } from '../../h1/connection-helpers.js'
import type { CollectOptions, Collected } from '../../h1/connection-helpers.js'
import type { FakeH2Server, H2Peer } from './fake-server.js'

interface Teardown {
  teardown(fn: () => unknown): void
}

export type H2ConnectionOptions = ConstructorParameters<typeof H2Connection>[1]

export interface H2Client extends Watched {
  conn: H2Connection
  /** The client's socket (to watch `writableLength`, `bytesRead`, `destroyed`). */
  socket: net.Socket
  /** The server side of the same connection. */
  peer: H2Peer
}

/** Connect to `server`, wrap the socket in an H2Connection, and pair it with its H2Peer. */
export async function openH2(t: Teardown, server: FakeH2Server, options: Partial<H2ConnectionOptions> = {}): Promise<H2Client> {
  const socket = net.connect({ port: server.port, host: '127.0.0.1', noDelay: true })
  const [peer] = await Promise.all([server.accept(), once(socket, 'connect')])
  const conn = new H2Connection(socket, { id: 1, origin: server.origin, tlsResumed: null, ...options } as H2ConnectionOptions)
  return { conn, socket, peer, ...watchConnection(t, conn, socket) }
}

/** Dispatch a request (a GET / by default) with a recording handler. */
export function send(client: H2Client, overrides: Partial<DispatchRequest> = {}, options: CollectOptions = {}): Collected {
  const collected = collect(options)
  client.conn.dispatch(req({ authority: `127.0.0.1`, ...overrides }), collected.handler)
  return collected
}

export interface Exchange extends H2Client {
  /** The request dispatched on stream 1, its HEADERS already read by the peer. */
  request: Collected
  streamId: number
  /** The decoded request header block. */
  requestFields: string[]
}

/**
 * The opening every h2spec client case shares: connection preface and SETTINGS exchange
 * (RFC 9113 §3.4, §6.5.3), then one request whose HEADERS the peer has read.
 */
export async function openExchange(
  t: Teardown,
  server: FakeH2Server,
  settings: readonly SettingsEntry[] = [],
  overrides: Partial<DispatchRequest> = {},
  collectOptions: CollectOptions = {},
): Promise<Exchange> {
  const client = await openH2(t, server)
  await client.peer.handshake(settings)
  const request = send(client, overrides, collectOptions)
  const head = await client.peer.expectHeaders(1)
  return { ...client, request, streamId: head.streamId, requestFields: head.fields }
}

/** Resolve with `promise`, or reject after `ms` naming `what` (bounds waits on the client side). */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}
