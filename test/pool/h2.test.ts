/**
 * HTTP/2 through the pool: ALPN selection, h2c, multiplexing (one connection for a cold
 * burst), stream limits, GOAWAY and REFUSED_STREAM retries, against node:http2 servers.
 */
import t from 'tap'
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import http2 from 'node:http2'
import { Agent, Pool } from '../../src/index.js'
import { makeCertificates } from '../support/certs.js'
import { listenLoopback } from '../support/servers.js'

interface H2Server {
  server: http2.Http2Server | http2.Http2SecureServer
  origin: string
  sessions: () => number
  maxConcurrent: number
}

async function listen(t: { teardown(fn: () => unknown): void }, server: http2.Http2Server | http2.Http2SecureServer, scheme: string): Promise<H2Server> {
  const sessions = new Set<http2.ServerHttp2Session>()
  let total = 0
  let maxConcurrent = 0
  let concurrent = 0
  server.on('session', (s) => {
    total++
    sessions.add(s)
    s.on('close', () => sessions.delete(s))
  })
  server.on('stream', (stream) => {
    // Streams the server refuses or resets (GOAWAY, RST_STREAM) error on its side too.
    stream.on('error', () => {})
    concurrent++
    maxConcurrent = Math.max(maxConcurrent, concurrent)
    stream.on('close', () => concurrent--)
  })
  const port = await listenLoopback(t, server, () => sessions)
  const result = { server, origin: `${scheme}://127.0.0.1:${port}`, sessions: () => total, maxConcurrent: 0 }
  Object.defineProperty(result, 'maxConcurrent', { get: () => maxConcurrent })
  return result
}

function respond(stream: http2.ServerHttp2Stream, body: string | Buffer, headers: http2.OutgoingHttpHeaders = {}): void {
  if (stream.destroyed) return
  stream.respond({ ':status': 200, ...headers })
  stream.end(body)
}

t.test('TLS: ALPN picks h2 by default, http/1.1 with allowH2:false', async (t) => {
  const certs = await makeCertificates()
  const srv = await listen(
    t,
    http2.createSecureServer({ key: certs.key, cert: certs.cert, allowHTTP1: true }, (req, res) => {
      res.end(`${req.httpVersion}`)
    }),
    'https',
  )
  const h2 = new Agent({ tls: { ca: certs.ca } })
  t.teardown(() => h2.destroy())
  const res = await h2.request({ url: `${srv.origin}/` })
  t.equal(res.protocol, 'h2')
  t.equal(await res.body.text(), '2.0')
  t.equal(res.connection.protocol, 'h2')
  const h1 = new Agent({ tls: { ca: certs.ca }, allowH2: false })
  t.teardown(() => h1.destroy())
  const r1 = await h1.request({ url: `${srv.origin}/` })
  t.equal(r1.protocol, 'http/1.1')
  t.equal(await r1.body.text(), '1.1')
  t.equal(h2.stats().origins[srv.origin]?.protocols['h2'], 1)
})

t.test('a cold burst of 1000 requests opens one h2c connection and multiplexes it', async (t) => {
  const srv = await listen(t, http2.createServer(), 'http')
  srv.server.on('stream', (stream, headers) => setImmediate(() => respond(stream, String(headers[':path']))))
  const pool = new Pool(srv.origin, { h2c: true, connections: 4 })
  t.teardown(() => pool.destroy())
  const bodies = await Promise.all(
    Array.from({ length: 1000 }, async (_, i) => (await pool.request({ path: `/${i}` })).body.text()),
  )
  t.same(bodies, Array.from({ length: 1000 }, (_, i) => `/${i}`))
  t.equal(srv.sessions(), 1, 'one HTTP/2 session for the whole burst')
  t.ok(srv.maxConcurrent >= 100, `server saw ${srv.maxConcurrent} concurrent streams`)
  const stats = pool.stats()
  t.equal(stats.connectionsCreated, 1)
  t.equal(stats.protocols['h2'], 1)
  t.equal(stats.requests, 1000)
})

t.test('a new connection opens only when every one is at its stream limit', async (t) => {
  const srv = await listen(t, http2.createServer({ settings: { maxConcurrentStreams: 10 } }), 'http')
  const held: Array<() => void> = []
  let holding = true
  srv.server.on('stream', (stream) => {
    if (holding) held.push(() => respond(stream, 'x'))
    else respond(stream, 'x')
  })
  const pool = new Pool(srv.origin, { h2c: true, connections: 3 })
  t.teardown(() => pool.destroy())
  const pending = Array.from({ length: 35 }, () => pool.request({ path: '/' }).then((r) => r.body.text()))
  while (held.length < 30) await once(srv.server, 'stream')
  t.equal(srv.sessions(), 3, '3 connections × 10 streams')
  t.equal(pool.stats().requestsQueued, 5, 'the rest wait for a free stream')
  t.equal(pool.stats().streamsOpen, 30)
  t.equal(pool.stats().retries, 0, 'no stream was refused: the real limit was known before dispatch')
  holding = false
  for (const release of held.splice(0)) release()
  t.same(await Promise.all(pending), Array(35).fill('x'))
  t.equal(srv.sessions(), 3)
})

t.test('GOAWAY mid-load: streams above last-stream-id are retried on a new connection, none lost', async (t) => {
  const srv = await listen(t, http2.createServer(), 'http')
  let seen = 0
  srv.server.on('stream', (stream, headers) => {
    seen++
    if (seen === 5) {
      // Process streams 1..9 (ids of the first five), refuse the rest of this connection.
      stream.session?.goaway(http2.constants.NGHTTP2_NO_ERROR, 9)
    }
    setImmediate(() => respond(stream, String(headers[':path'])))
  })
  const pool = new Pool(srv.origin, { h2c: true })
  t.teardown(() => pool.destroy())
  const bodies = await Promise.all(Array.from({ length: 50 }, async (_, i) => (await pool.request({ path: `/${i}` })).body.text()))
  t.same(bodies, Array.from({ length: 50 }, (_, i) => `/${i}`), 'every request answered')
  t.ok(srv.sessions() >= 2, 'a second connection carried the retried streams')
  t.ok(pool.stats().retries > 0, `${pool.stats().retries} retries`)
})

t.test('16 MiB up and down intact, trailers', async (t) => {
  const srv = await listen(t, http2.createServer(), 'http')
  const big = Buffer.alloc(16 * 1024 * 1024)
  for (let i = 0; i < big.length; i += 4096) big.writeUInt32BE(i, i)
  srv.server.on('stream', (stream, headers) => {
    if (headers[':path'] === '/up') {
      const hash = createHash('sha256')
      stream.on('data', (c: Buffer) => hash.update(c))
      stream.on('end', () => respond(stream, hash.digest('hex')))
      return
    }
    stream.respond({ ':status': 200 }, { waitForTrailers: true })
    stream.on('wantTrailers', () => stream.sendTrailers({ 'x-checksum': createHash('sha256').update(big).digest('hex') }))
    stream.end(big)
  })
  const pool = new Pool(srv.origin, { h2c: true })
  t.teardown(() => pool.destroy())
  const sum = createHash('sha256').update(big).digest('hex')
  const up = await pool.request({ path: '/up', method: 'POST', body: big })
  t.equal(await up.body.text(), sum)
  const down = await pool.request({ path: '/down' })
  const got = await down.body.bytes()
  t.equal(createHash('sha256').update(got).digest('hex'), sum)
  t.same(await down.trailers, { 'x-checksum': sum })
})

t.test('pool.connect(n) resolves once HTTP/2 connections are ready to take streams', async (t) => {
  const srv = await listen(t, http2.createServer(), 'http')
  srv.server.on('stream', (stream) => respond(stream, 'x'))
  const pool = new Pool(srv.origin, { h2c: true })
  t.teardown(() => pool.destroy())
  await pool.connect(1)
  const [record] = pool.connections()
  t.equal(record?.state, 'idle', 'ready: the peer SETTINGS arrived')
  t.equal(record?.protocol, 'h2')
})

t.test('HTTP/2 PING round trips show in stats() and metrics()', async (t) => {
  const srv = await listen(t, http2.createServer(), 'http')
  srv.server.on('stream', (stream) => respond(stream, 'x'))
  // The interval is also how long a PING may go unanswered before the connection is dropped:
  // 200 ms, so that a loaded machine's event-loop lag does not kill the connection first.
  const pool = new Pool(srv.origin, { h2c: true, pingInterval: 200 })
  t.teardown(() => pool.destroy())
  await pool.connect(1)
  t.equal(pool.stats().pingRttMs, null, 'no PING answered yet')
  // Wait (bounded) for the first keep-alive PING's answer to be measured.
  for (let i = 0; i < 500 && pool.stats().pingRttMs === null; i++) await new Promise((r) => setTimeout(r, 10))
  const rtt = pool.stats().pingRttMs
  t.ok(rtt !== null && rtt >= 0 && rtt < 1000, `measured ${rtt} ms`)
  t.match(pool.metrics(), /wirepool_ping_rtt_seconds\{origin="[^"]+"\} [\d.e-]+/)
})
