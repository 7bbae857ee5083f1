/**
 * Retries after a stale-socket failure (issue #18): a request whose connection closed under
 * it before any byte of its response goes again only on a connection that cannot be of the
 * same stale generation — and it must always find one. Real sockets: a node:http2 server over
 * TLS behind a small TCP proxy that cuts a connection (FIN both ways) the moment a given
 * request reaches the server, before any byte of its response, or refuses new connections.
 */
import t from 'tap'
import http2 from 'node:http2'
import net from 'node:net'
import { Pool, type RetryEvent, type WirepoolError } from '../../src/index.js'
import { makeCertificates } from '../support/certs.js'
import { listenLoopback } from '../support/servers.js'

interface Teardown {
  teardown(fn: () => unknown): void
}

interface ServerOptions {
  settings?: http2.Settings
  /** The first answers wait until this many streams are open (default 1: none wait). */
  holdUntil?: number
  /** The first request for each of these paths is not answered: the proxy cuts its connection instead. */
  cut?: { paths: Set<string>; proxy: CutProxy }
}

/** An HTTP/2 TLS server answering `ok <path>`. */
async function h2Server(t: Teardown, certs: { key: string; cert: string }, options: ServerOptions = {}): Promise<number> {
  const server = http2.createSecureServer({ key: certs.key, cert: certs.cert, settings: options.settings ?? {} })
  const sessions = new Set<http2.ServerHttp2Session>()
  server.on('session', (s) => {
    sessions.add(s)
    s.on('close', () => sessions.delete(s))
  })
  const holdUntil = options.holdUntil ?? 1
  const held: Array<() => void> = []
  let holding = holdUntil > 1
  server.on('stream', (stream, headers) => {
    stream.on('error', () => {})
    const path = String(headers[':path'])
    const cut = options.cut
    if (cut !== undefined && cut.paths.delete(path)) {
      // The request arrived; the peer goes away before answering it (a FIN, both ways).
      cut.proxy.cut(stream.session?.socket.remotePort)
      return
    }
    const answer = (): void => {
      if (stream.destroyed) return
      stream.respond({ ':status': 200 })
      stream.end(`ok ${path}`)
    }
    if (!holding) return answer()
    held.push(answer)
    if (held.length < holdUntil) return
    holding = false
    for (const f of held.splice(0)) f()
  })
  return listenLoopback(t, server, () => sessions)
}

/**
 * A TCP proxy: `cut(port)` ends (FIN) both sides of the connection whose upstream socket has
 * that local port (the server's view of it); with `refuse`, new connections are reset at once.
 */
class CutProxy {
  readonly server: net.Server
  upstreamPort = 0
  accepted = 0
  refused = 0
  refuse = false
  readonly #byUpstreamPort = new Map<number, () => void>()
  readonly #sockets = new Set<net.Socket>()

  constructor() {
    this.server = net.createServer({ allowHalfOpen: false }, (client) => {
      this.#track(client)
      if (this.refuse) {
        this.refused++
        client.resetAndDestroy()
        return
      }
      this.accepted++
      const upstream = net.connect(this.upstreamPort, '127.0.0.1')
      this.#track(upstream)
      let cut = false
      upstream.on('connect', () => {
        const port = upstream.localPort as number
        this.#byUpstreamPort.set(port, () => {
          cut = true
          client.end()
          upstream.end()
        })
        upstream.on('close', () => this.#byUpstreamPort.delete(port))
      })
      client.on('close', () => upstream.destroy())
      upstream.on('close', () => client.destroy())
      upstream.on('data', (chunk: Buffer) => {
        if (!cut) client.write(chunk)
      })
      client.on('data', (chunk: Buffer) => {
        if (!cut) upstream.write(chunk)
      })
    })
  }

  cut(upstreamLocalPort: number | undefined): void {
    if (upstreamLocalPort !== undefined) this.#byUpstreamPort.get(upstreamLocalPort)?.()
  }

  async listen(t: Teardown): Promise<number> {
    return listenLoopback(t, this.server, () => this.#sockets)
  }

  #track(socket: net.Socket): void {
    this.#sockets.add(socket)
    socket.on('error', () => {})
    socket.on('close', () => this.#sockets.delete(socket))
  }
}

t.test('HTTP/2: every stream retried after the peer closed the connection goes on the one new connection', async (t) => {
  const certs = await makeCertificates()
  const proxy = new CutProxy()
  const port = await proxy.listen(t)
  // The first time /b or /c arrives, its connection is cut.
  proxy.upstreamPort = await h2Server(t, certs, { cut: { paths: new Set(['/b', '/c']), proxy } })
  // One connection allowed and a long keep-alive: before the fix, the first retry took the new
  // connection and the second waited for a connection that had never carried a request — one
  // only an idle timeout (60 s here, never with keepAliveTimeout 0) could make room for.
  const pool = new Pool(`https://127.0.0.1:${port}`, { connections: 1, keepAliveTimeout: 60_000, tls: { ca: certs.ca } })
  t.teardown(() => pool.destroy())
  const retries: RetryEvent[] = []
  pool.on('retry', (e) => retries.push(e))
  t.equal(await (await pool.request({ path: '/a' })).body.text(), 'ok /a')

  // Both requests go on the used connection; the peer closes it as they arrive.
  const settle = (path: string): Promise<string> =>
    pool.request({ path, timeout: 5000 }).then(
      async (res) => `${await res.body.text()} reused=${res.connection.reused}`,
      (err: WirepoolError) => `failed ${err.code}: ${err.message}`,
    )
  const outcomes = await Promise.all([settle('/b'), settle('/c')])
  // Retries go back to the front of the queue (/c before /b): which of the two is the new
  // connection's first request does not matter, that both are served on it does.
  t.same(
    outcomes.map((o) => o.replace(/ reused=.*/, '')),
    ['ok /b', 'ok /c'],
    'both retries served, neither waiting for another connection',
  )
  t.same(outcomes.map((o) => o.endsWith('reused=true')).sort(), [false, true], 'on one new connection (RFC 9113 §9.1)')
  t.same(retries.map((e) => [e.path, e.reason]).sort(), [['/b', 'WP_SOCKET_CLOSED'], ['/c', 'WP_SOCKET_CLOSED']])
  t.equal(proxy.accepted, 2, 'one new connection for both retries')
})

t.test('a stale-socket retry takes an established connection once no new one can be made', async (t) => {
  const certs = await makeCertificates()
  // One stream per connection, and the first two requests answered only once both are open:
  // the pool has two connections, each of which carried a request.
  const proxy = new CutProxy()
  const port = await proxy.listen(t)
  proxy.upstreamPort = await h2Server(t, certs, { settings: { maxConcurrentStreams: 1 }, holdUntil: 2, cut: { paths: new Set(['/b']), proxy } })
  const pool = new Pool(`https://127.0.0.1:${port}`, { connections: 2, keepAliveTimeout: 60_000, tls: { ca: certs.ca } })
  t.teardown(() => pool.destroy())
  const first = await Promise.all([pool.request({ path: '/a1' }), pool.request({ path: '/a2' })])
  t.same(await Promise.all(first.map((r) => r.body.text())), ['ok /a1', 'ok /a2'])
  t.equal(proxy.accepted, 2)

  // The next request's connection is cut as it arrives, and the origin refuses every new
  // connection: the retry cannot have a fresh one. After the connect attempts run out it goes
  // on the other established connection rather than connecting again forever.
  proxy.refuse = true
  const out = await pool.request({ path: '/b', timeout: 8000 }).then(
    async (res) => `${await res.body.text()} reused=${res.connection.reused}`,
    (err: WirepoolError) => `failed ${err.code}: ${err.message}`,
  )
  t.equal(out, 'ok /b reused=true', 'served by the established connection')
  t.equal(proxy.refused, 5, 'after five refused connects (the connect-retry rounds)')
  t.equal(pool.stats().retries, 1)
})
