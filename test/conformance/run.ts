/**
 * Runs every case of cases.ts against one transport: a loopback server (node:http, or
 * node:http2 over TLS or cleartext) serving all cases at `/<index>`, and a fresh pool per
 * case, so one case's failure (a reset, an abort) never leaks into the next.
 */
import * as http from 'node:http'
import http2 from 'node:http2'
import type * as net from 'node:net'
import type { Test } from 'tap'
import { Agent, Pool, WirepoolError, type PoolOptions, type Protocol } from '../../src/index.js'
import { makeCertificates } from '../support/certs.js'
import { httpServer, listenLoopback } from '../support/servers.js'
import {
  bodyMatches,
  HOP_BY_HOP,
  isPerProtocol,
  Rendezvous,
  requestOutcome,
  type Case,
  type Client,
  type Expectation,
  type Outcome,
  type ServerReply,
  type ServerTunnel,
  type ServerRequest,
} from './case.js'
import { cases } from './cases.js'

/**
 * - `h1`: node:http, cleartext.
 * - `h2`: node:http2 over TLS, ALPN h2 only.
 * - `h2c`: node:http2 cleartext, prior knowledge (RFC 9113 §3.3).
 * - `alpn-h2` / `alpn-http1`: one node:http2 TLS server that also speaks HTTP/1.1, reached
 *   through an Agent's pool with `allowH2` on / off: ALPN decides the protocol.
 */
export type Transport = 'h1' | 'h2' | 'h2c' | 'alpn-h2' | 'alpn-http1'

const PROTOCOL: Record<Transport, Protocol> = { h1: 'http/1.1', h2: 'h2', h2c: 'h2', 'alpn-h2': 'h2', 'alpn-http1': 'http/1.1' }

interface Served {
  /** A pool to the server with the case's options on top of the transport's, its requests going to `path`. */
  client(t: Test, options: PoolOptions | undefined, path: string): Client
}

/** Which case and rendezvous a request belongs to: the path is `/<case index>`. */
type Route = (path: string) => { kase: Case; ctx: Rendezvous } | undefined

function adapt(res: http.ServerResponse | http2.Http2ServerResponse): ServerReply {
  const reply = res as unknown as ServerReply
  reply.reset =
    res instanceof http2.Http2ServerResponse
      ? () => res.stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR)
      : () => res.socket?.destroy()
  return reply
}

/** The server end of a granted HTTP/1.1 upgrade: the socket itself, after the 101. */
function socketTunnel(socket: net.Socket): ServerTunnel {
  return {
    onData: (listener) => socket.on('data', listener),
    onEnd: (listener) => socket.on('end', listener),
    write: (chunk) => socket.write(chunk),
    end: () => socket.end(),
  }
}

/** The server end of a granted extended CONNECT: the stream, read through the request and written through the response. */
function streamTunnel(req: http2.Http2ServerRequest, res: http2.Http2ServerResponse): ServerTunnel {
  return {
    onData: (listener) => req.on('data', listener),
    onEnd: (listener) => req.on('end', listener),
    write: (chunk) => res.write(chunk),
    end: () => res.end(),
  }
}

/** HTTP/1.1 `upgrade` event: grant with 101 when the case takes upgrades (RFC 9110 §7.8). */
function upgradeHandler(route: Route): (req: http.IncomingMessage, socket: net.Socket) => void {
  return (req, socket) => {
    const found = route(req.url ?? '')
    if (found?.kase.upgraded === undefined) {
      socket.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n')
      return
    }
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${String(req.headers.upgrade)}\r\n\r\n`)
    found.kase.upgraded(socketTunnel(socket), found.ctx)
  }
}

/** HTTP/2 `connect` event: grant an extended CONNECT (RFC 8441 §4) with 200 when the case takes upgrades. */
function connectHandler(route: Route): (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void {
  return (req, res) => {
    const found = route(req.url ?? '')
    if (found?.kase.upgraded === undefined || req.headers[':protocol'] === undefined) {
      res.writeHead(400)
      res.end()
      return
    }
    res.writeHead(200)
    found.kase.upgraded(streamTunnel(req, res), found.ctx)
  }
}

function handlerFor(route: Route): (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse) => void {
  return (req, res) => {
    res.sendDate = false
    const found = route(req.url ?? '')
    if (found === undefined) {
      res.writeHead(404)
      res.end()
      return
    }
    Promise.resolve(found.kase.serve(req as unknown as ServerRequest, adapt(res), found.ctx)).catch((err: unknown) => {
      // A server-side failure shows up as a wrong outcome on the client; keep the cause visible.
      console.error(`conformance server: ${found.kase.name}:`, err)
      res.destroy()
    })
  }
}

async function serve(t: Test, transport: Transport, route: Route): Promise<Served> {
  const handler = handlerFor(route)
  if (transport === 'h1') {
    const { server, origin } = await httpServer(t, handler)
    // With a checkContinue listener the server sends no 100 on its own: the case decides.
    server.on('checkContinue', handler)
    server.on('upgrade', upgradeHandler(route))
    return { client: (t, options, path) => poolClient(t, origin, path, { ...options }) }
  }
  const certs = transport === 'h2c' ? undefined : await makeCertificates()
  // RFC 8441 §3: the server takes extended CONNECT, so upgrades go as streams.
  const settings = { enableConnectProtocol: true }
  const server =
    certs === undefined
      ? http2.createServer({ settings }, handler)
      : http2.createSecureServer({ key: certs.key, cert: certs.cert, allowHTTP1: transport !== 'h2', settings }, handler)
  server.on('checkContinue', handler)
  server.on('connect', connectHandler(route))
  // The HTTP/1.1 side of an allowHTTP1 server.
  server.on('upgrade', upgradeHandler(route))
  const open = new Set<{ destroy(): void }>()
  const track = (s: { destroy(): void; on(e: 'close', f: () => void): unknown }): void => {
    open.add(s)
    s.on('close', () => open.delete(s))
  }
  server.on('session', track)
  // The HTTP/1.1 side of an allowHTTP1 server, and sockets still in their TLS handshake.
  server.on('connection', track)
  // Streams a client resets error on the server side too.
  server.on('stream', (stream) => stream.on('error', () => {}))
  const port = await listenLoopback(t, server, () => open)
  const origin = `${certs === undefined ? 'http' : 'https'}://127.0.0.1:${port}`
  const tls = certs === undefined ? {} : { tls: { ca: certs.ca } }
  if (transport === 'h2c') return { client: (t, options, path) => poolClient(t, origin, path, { h2c: true, ...options }) }
  if (transport === 'h2') return { client: (t, options, path) => poolClient(t, origin, path, { ...tls, ...options }) }
  const allowH2 = transport === 'alpn-h2'
  return {
    client(t, options, path) {
      const agent = new Agent({ ...tls, allowH2, ...options })
      t.teardown(() => agent.destroy())
      return bind(agent.pool(origin), path)
    },
  }
}

function poolClient(t: Test, origin: string, path: string, options: PoolOptions): Client {
  // Retries would hide what the case is about (a reset, a timeout): every case sees one attempt.
  const pool = new Pool(origin, { retry: false, ...options })
  t.teardown(() => pool.destroy())
  return bind(pool, path)
}

function bind(pool: Pool, path: string): Client {
  return {
    pool,
    request: (options = {}) => pool.request({ path, ...options }),
    dispatch: (options, handler) => pool.dispatch({ path, ...options }, handler),
  }
}

function normalise(headers: Record<string, string | string[]>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {}
  for (const [name, value] of Object.entries(headers)) if (!HOP_BY_HOP.includes(name)) out[name] = value
  return out
}

function check(t: Test, outcome: Outcome, expect: Expectation, protocol: Protocol): void {
  if ('error' in expect) {
    if (outcome.kind !== 'error') {
      t.fail(`expected ${expect.code} at stage ${expect.stage}, got a ${outcome.kind}`, { outcome: outcome.kind === 'response' ? { status: outcome.status, headers: outcome.headers } : outcome })
      return
    }
    t.equal(outcome.stage, expect.stage, 'stage')
    // The exact class, not a subclass or a wrapper: its name, then its identity.
    t.equal((outcome.error as object | null)?.constructor.name, expect.error.name, 'error class')
    t.type(outcome.error, expect.error, `an instance of ${expect.error.name}`)
    t.equal(outcome.error instanceof WirepoolError ? outcome.error.code : outcome.error, expect.code, 'error code')
    return
  }
  if ('trace' in expect) {
    if (outcome.kind !== 'trace') {
      t.fail(`expected a dispatch trace, got a ${outcome.kind}`, { error: outcome.kind === 'error' ? outcome.error : undefined })
      return
    }
    t.strictSame(outcome.trace, expect.trace, 'handler calls')
    return
  }
  if (outcome.kind !== 'response') {
    t.fail(`expected a ${expect.status} response, got a ${outcome.kind}`, { error: outcome.kind === 'error' ? outcome.error : outcome })
    return
  }
  t.equal(outcome.protocol, protocol, 'protocol')
  t.equal(outcome.status, expect.status, 'status')
  if (expect.statusText !== undefined) t.equal(outcome.statusText, expect.statusText, 'status text')
  t.strictSame(normalise(outcome.headers), expect.headers, 'headers')
  const body = bodyMatches(outcome.body, expect.body)
  t.strictSame(body.actual, body.wanted, 'body bytes')
  t.strictSame(outcome.trailers, expect.trailers ?? {}, 'trailers')
  t.strictSame(outcome.informational, expect.informational ?? [], 'informational responses')
}

/** Register one subtest per case, all against one server of `transport`. */
export async function runConformance(t: Test, transport: Transport): Promise<void> {
  const protocol = PROTOCOL[transport]
  let active: { kase: Case; ctx: Rendezvous; path: string } | undefined
  const served = await serve(t, transport, (path) => (active !== undefined && active.path === path ? active : undefined))
  for (const [index, kase] of cases.entries()) {
    await t.test(kase.name, async (t) => {
      const ctx = new Rendezvous()
      const path = `/${index}`
      active = { kase, ctx, path }
      const client = served.client(t, kase.pool, path)
      const request = typeof kase.request === 'function' ? kase.request(ctx) : kase.request
      const outcome = kase.run !== undefined ? await kase.run(client, ctx) : await requestOutcome(client, request)
      const expect = isPerProtocol(kase.expect) ? kase.expect[protocol] : kase.expect
      check(t, outcome, expect, protocol)
      // Destroyed here as well as in the teardown (which covers a case that threw), so no
      // socket of this case is still open when the next one starts.
      await client.pool.destroy()
      active = undefined
    })
  }
}
