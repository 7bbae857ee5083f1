import { once } from 'node:events'
import t from 'tap'
import { makeCertificates } from '../support/certs.js'
import { Collector, closeOf, connectH2c, connectH2s, h2cServer, h2sServer, makeRequest, send } from './session-helpers.js'

t.test('GET over h2c: status, headers, body, pseudo-headers and lowercased names', async (t) => {
  let seen: Record<string, unknown> = {}
  const peer = await h2cServer(t, (stream, headers) => {
    seen = { ...headers }
    stream.respond({ ':status': 200, 'content-type': 'text/plain', 'x-multi': ['a', 'b'] })
    stream.end('hello h2')
  })
  const conn = await connectH2c(t, peer.port)
  t.equal(conn.protocol, 'h2')
  const res = await send(conn, {
    path: '/some/path?q=1',
    authority: `127.0.0.1:${peer.port}`,
    headers: ['X-Custom', 'Value', 'Connection', 'keep-alive', 'Keep-Alive', 'timeout=5', 'Transfer-Encoding', 'chunked', 'TE', 'gzip', 'Upgrade', 'x'],
  }).done
  t.equal(res.status, 200)
  t.equal(res.headers['content-type'], 'text/plain')
  t.same(res.headers['x-multi'], ['a', 'b'])
  t.equal(res.body.toString(), 'hello h2')
  t.equal(seen[':method'], 'GET')
  t.equal(seen[':scheme'], 'http')
  t.equal(seen[':authority'], `127.0.0.1:${peer.port}`)
  t.equal(seen[':path'], '/some/path?q=1')
  t.equal(seen['x-custom'], 'Value')
  for (const name of ['connection', 'keep-alive', 'transfer-encoding', 'te', 'upgrade', 'host']) t.notOk(name in seen, `${name} not sent (RFC 9113 §8.2.2)`)
  t.equal(conn.requestsServed, 1)
  t.equal(conn.inFlight, 0)
})

t.test('POST with string and Uint8Array bodies carries content-length and the bytes', async (t) => {
  const peer = await h2cServer(t, (stream, headers) => {
    const parts: Buffer[] = []
    stream.on('data', (c: Buffer) => parts.push(c))
    stream.on('end', () => {
      stream.respond({ ':status': 201 })
      stream.end(JSON.stringify({ length: headers['content-length'], body: Buffer.concat(parts).toString() }))
    })
  })
  const conn = await connectH2c(t, peer.port)
  const a = await send(conn, { method: 'POST', body: 'héllo', bodyLength: Buffer.byteLength('héllo'), idempotent: false }).done
  t.equal(a.status, 201)
  t.same(JSON.parse(a.body.toString()), { length: '6', body: 'héllo' })
  const bytes = new Uint8Array([104, 105])
  const b = await send(conn, { method: 'PUT', body: bytes, bodyLength: 2 }).done
  t.same(JSON.parse(b.body.toString()), { length: '2', body: 'hi' })
  const c = await send(conn, { method: 'POST', body: null, bodyLength: 0 }).done
  t.same(JSON.parse(c.body.toString()), { length: '0', body: '' })
})

t.test('150 concurrent streams share one connection and one server session', async (t) => {
  const peer = await h2cServer(
    t,
    (stream, headers) => {
      stream.respond({ ':status': 200 })
      stream.end(String(headers[':path']))
    },
    { settings: { maxConcurrentStreams: 200 } },
  )
  const conn = await connectH2c(t, peer.port)
  // Wait for the server's SETTINGS so that capacity reflects its 200.
  await conn.ping()
  t.equal(conn.peerSettings.maxConcurrentStreams, 200)
  t.equal(conn.capacity, 200)
  const collectors: Collector[] = []
  for (let i = 0; i < 150; i++) collectors.push(send(conn, { path: `/r${i}` }))
  t.equal(conn.inFlight, 150)
  t.equal(conn.capacity, 50)
  const results = await Promise.all(collectors.map((c) => c.done))
  for (let i = 0; i < 150; i++) t.equal(results[i]!.body.toString(), `/r${i}`)
  t.equal(peer.sessions(), 1, 'the server saw one session')
  t.equal(conn.requestsServed, 150)
})

t.test('capacity follows the peer MAX_CONCURRENT_STREAMS and our own cap; free is emitted', async (t) => {
  const waiting: Array<() => void> = []
  const peer = await h2cServer(
    t,
    (stream) => {
      waiting.push(() => {
        stream.respond({ ':status': 204 })
        stream.end()
      })
    },
    { settings: { maxConcurrentStreams: 3 } },
  )
  const conn = await connectH2c(t, peer.port, { maxConcurrentStreams: 10 })
  t.equal(conn.capacity, 10, 'before the server SETTINGS: our cap (≤ the assumed 100)')
  await conn.ping()
  t.equal(conn.capacity, 3)
  const cs = [send(conn), send(conn), send(conn)]
  t.equal(conn.capacity, 0)
  t.throws(() => send(conn), { code: 'WP_INVALID_ARG' })
  while (waiting.length < 3) await once(peer.server, 'stream')
  const free = once(conn, 'free')
  waiting.shift()!()
  await cs[0]!.done
  await free
  t.equal(conn.capacity, 1)
  for (const w of waiting) w()
  await Promise.all(cs.map((c) => c.done))
  const capped = await connectH2c(t, peer.port, { maxConcurrentStreams: 2 })
  await capped.ping()
  t.equal(capped.capacity, 2)
})

t.test('h2 over TLS with ALPN', async (t) => {
  const certs = await makeCertificates()
  let scheme: unknown
  const peer = await h2sServer(t, certs, (stream, headers) => {
    scheme = headers[':scheme']
    stream.respond({ ':status': 200 })
    stream.end('secure')
  })
  const conn = await connectH2s(t, peer.port, certs.ca)
  const res = await send(conn, { authority: `localhost:${peer.port}` }).done
  t.equal(res.body.toString(), 'secure')
  t.equal(scheme, 'https')
  t.equal(conn.tlsResumed, false)
})

t.test('response trailers and informational responses', async (t) => {
  const peer = await h2cServer(t, (stream) => {
    stream.additionalHeaders({ ':status': 103, link: '</a.css>; rel=preload' })
    stream.respond({ ':status': 200 }, { waitForTrailers: true })
    stream.on('wantTrailers', () => stream.sendTrailers({ 'x-checksum': 'abc', 'grpc-status': '0' }))
    stream.end('body')
  })
  const conn = await connectH2c(t, peer.port)
  const res = await send(conn).done
  t.equal(res.body.toString(), 'body')
  t.same(res.trailers, { 'x-checksum': 'abc', 'grpc-status': '0' })
  t.equal(res.informational.length, 1)
  t.equal(res.informational[0]![0], 103)
  t.equal(res.informational[0]![1]['link'], '</a.css>; rel=preload')
})

t.test('HEAD and 204 responses complete without DATA', async (t) => {
  const peer = await h2cServer(t, (stream, headers) => {
    if (headers[':method'] === 'HEAD') {
      stream.respond({ ':status': 200, 'content-length': '1234' }, { endStream: true })
    } else {
      stream.respond({ ':status': 204 }, { endStream: true })
    }
  })
  const conn = await connectH2c(t, peer.port)
  const head = await send(conn, { method: 'HEAD' }).done
  t.equal(head.status, 200)
  t.equal(head.headers['content-length'], '1234')
  t.equal(head.body.length, 0)
  const noContent = await send(conn).done
  t.equal(noContent.status, 204)
})

t.test('ping() resolves with a round-trip time', async (t) => {
  const peer = await h2cServer(t, () => {})
  const conn = await connectH2c(t, peer.port)
  const rtts = await Promise.all([conn.ping(), conn.ping(), conn.ping()])
  for (const rtt of rtts) {
    t.type(rtt, 'number')
    t.ok(rtt >= 0 && rtt < 5000, `rtt ${rtt} ms`)
  }
})

t.test('close() drains in-flight streams, sends GOAWAY, then closes', async (t) => {
  let release: (() => void) | undefined
  let goaway: Promise<unknown> | undefined
  const peer = await h2cServer(t, (stream) => {
    goaway = once(stream.session as NonNullable<typeof stream.session>, 'goaway')
    release = () => {
      stream.respond({ ':status': 200 })
      stream.end('late')
    }
  })
  const conn = await connectH2c(t, peer.port)
  const c = send(conn)
  await once(peer.server, 'stream')
  const draining = once(conn, 'draining')
  const closed = conn.close()
  t.equal(conn.retired, true)
  t.equal(conn.capacity, 0)
  await draining
  t.throws(() => send(conn), { code: 'WP_INVALID_ARG' })
  const [code] = (await goaway) as [number]
  t.equal(code, 0, 'GOAWAY NO_ERROR seen by the server')
  release!()
  const res = await c.done
  t.equal(res.body.toString(), 'late')
  await closed
  t.equal(conn.inFlight, 0)
  await conn.close()
  t.pass('close() again resolves')
})

t.test('destroy(err) fails in-flight requests with that error and closes', async (t) => {
  const peer = await h2cServer(t, () => {})
  const conn = await connectH2c(t, peer.port)
  const c = send(conn)
  await once(peer.server, 'stream')
  const closing = closeOf(conn)
  const { AbortedError } = await import('../../src/errors.js')
  conn.destroy(new AbortedError('gone'))
  await t.rejects(c.done, { code: 'WP_ABORTED', message: 'gone' })
  const err = await closing
  t.equal(err?.code, 'WP_ABORTED')
  await t.rejects(conn.ping(), { code: 'WP_SOCKET_CLOSED' })
  t.throws(() => conn.dispatch(makeRequest(), new Collector()), { code: 'WP_INVALID_ARG' })
})
