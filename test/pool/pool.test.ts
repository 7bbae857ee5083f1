import t from 'tap'
import { once } from 'node:events'
import diagnosticsChannel from 'node:diagnostics_channel'
import { Readable } from 'node:stream'
import { Agent, Pool, WirepoolError, type ConnectionEvent } from '../../src/index.js'
import { closedPort, httpServer, onRequestHeads, rawServer } from '../support/servers.js'

t.test('sequential requests reuse one keep-alive connection', async (t) => {
  const srv = await httpServer(t, (req, res) => res.end(`path=${req.url}`))
  const pool = new Pool(srv.origin)
  t.teardown(() => pool.destroy())
  const ids = new Set<number>()
  for (let i = 0; i < 10; i++) {
    const res = await pool.request({ path: `/r${i}` })
    t.equal(res.status, 200)
    t.equal(res.protocol, 'http/1.1')
    t.equal(await res.body.text(), `path=/r${i}`)
    t.equal(res.connection.reused, i > 0, `request ${i} reused flag`)
    t.equal(res.connection.tlsResumed, null)
    t.equal(res.connection.remoteAddress, '127.0.0.1')
    ids.add(res.connection.id)
  }
  t.equal(ids.size, 1)
  t.equal(srv.connections(), 1, 'server accepted one connection')
  const stats = pool.stats()
  t.equal(stats.requests, 10)
  t.equal(stats.reused, 9)
  t.equal(stats.reuseRate, 0.9)
  t.equal(stats.connectionsCreated, 1)
  t.same(stats.connections, { connecting: 0, idle: 1, busy: 0, draining: 0, total: 1 })
  t.equal(stats.protocols['http/1.1'], 1)
})

t.test('concurrent requests never exceed `connections`, queue FIFO, and all complete', async (t) => {
  let maxConcurrent = 0
  let concurrent = 0
  const order: string[] = []
  const srv = await httpServer(t, (req, res) => {
    concurrent++
    maxConcurrent = Math.max(maxConcurrent, concurrent)
    order.push(req.url as string)
    setImmediate(() => {
      concurrent--
      res.end(req.url)
    })
  })
  const pool = new Pool(srv.origin, { connections: 3 })
  t.teardown(() => pool.destroy())
  const results = await Promise.all(
    Array.from({ length: 60 }, async (_, i) => {
      const res = await pool.request({ path: `/${i}` })
      return res.body.text()
    }),
  )
  t.same(results, Array.from({ length: 60 }, (_, i) => `/${i}`))
  t.equal(srv.connections(), 3, 'three sockets opened for 60 requests')
  t.ok(maxConcurrent <= 3, `server saw at most 3 concurrent requests (${maxConcurrent})`)
  const stats = pool.stats()
  t.equal(stats.requests, 60)
  t.equal(stats.reused, 57)
  t.equal(stats.requestsQueued, 0)
  t.ok(stats.waitMs.max > 0, 'queued requests recorded a wait')
})

t.test('one connection serves requests in FIFO order', async (t) => {
  const seen: string[] = []
  const srv = await httpServer(t, (req, res) => {
    seen.push(req.url as string)
    res.end()
  })
  const pool = new Pool(srv.origin, { connections: 1 })
  t.teardown(() => pool.destroy())
  await Promise.all(Array.from({ length: 20 }, (_, i) => pool.request({ path: `/${i}` }).then((r) => r.body.text())))
  t.same(seen, Array.from({ length: 20 }, (_, i) => `/${i}`))
})

t.test('pipelining sends idempotent requests back to back on one connection', async (t) => {
  let heads = 0
  let maxBuffered = 0
  const srv = await rawServer(t, (socket) => {
    const pending: string[] = []
    onRequestHeads(socket, (head) => {
      heads++
      pending.push(head.split(' ')[1] as string)
      maxBuffered = Math.max(maxBuffered, pending.length)
      // Answer only once ten requests are waiting: proves they were pipelined.
      if (pending.length === 10 || heads === 30) {
        for (const path of pending.splice(0)) {
          socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${path.length}\r\n\r\n${path}`)
        }
      }
    })
  })
  const pool = new Pool(srv.origin, { connections: 1, pipelining: 10 })
  t.teardown(() => pool.destroy())
  const bodies = await Promise.all(Array.from({ length: 30 }, (_, i) => pool.request({ path: `/${i}` }).then((r) => r.body.text())))
  t.same(bodies, Array.from({ length: 30 }, (_, i) => `/${i}`))
  t.equal(srv.connections(), 1)
  t.equal(maxBuffered, 10, 'ten requests were in flight at once')
})

t.test('keepAliveTimeout evicts idle connections; a server Keep-Alive hint lowers it', async (t) => {
  const srv = await httpServer(t, (_req, res) => res.end('x'))
  const pool = new Pool(srv.origin, { keepAliveTimeout: 30 })
  t.teardown(() => pool.destroy())
  const events: ConnectionEvent[] = []
  pool.on('connection', (e) => events.push(e))
  const res = await pool.request({ path: '/' })
  await res.body.text()
  while (!events.some((e) => e.to === 'closed')) await once(pool, 'connection', { signal: AbortSignal.timeout(5000) })
  const closing = events.find((e) => e.reason === 'idle-timeout')
  t.equal(closing?.from, 'idle', 'an idle connection was retired by the idle timeout')
  t.equal(closing?.to, 'draining')
  t.same(pool.stats().closedByReason, { 'idle-timeout': 1 }, 'closes are counted by what retired them')
  t.match(pool.metrics(), `wirepool_connections_closed_by_reason_total{origin="${srv.origin}",reason="idle-timeout"} 1`)
  t.same(
    events.map((e) => `${e.from ?? '-'}>${e.to}`),
    ['->connecting', 'connecting>idle', 'idle>busy', 'busy>idle', 'idle>draining', 'draining>closed'],
  )

  // Keep-Alive: timeout=1 → the pool closes after max(1000 - 1000, 500) = 500 ms, well before 60 s.
  const hinted = await httpServer(t, (_req, res) => {
    res.setHeader('keep-alive', 'timeout=1')
    res.end('y')
  })
  const pool2 = new Pool(hinted.origin, { keepAliveTimeout: 60_000 })
  t.teardown(() => pool2.destroy())
  const r2 = await pool2.request({ path: '/' })
  await r2.body.text()
  const start = Date.now()
  let reason = ''
  while (reason !== 'idle-timeout') {
    const [e] = (await once(pool2, 'connection', { signal: AbortSignal.timeout(10_000) })) as [ConnectionEvent]
    reason = e.reason
  }
  t.ok(Date.now() - start < 10_000, 'evicted by the hint, not by the 60 s option')
})

t.test('retries an idempotent request once on a new connection when a reused socket dies before answering', async (t) => {
  let connections = 0
  const methods: string[] = []
  const srv = await rawServer(t, (socket) => {
    connections++
    onRequestHeads(socket, (head, index) => {
      methods.push(head.split(' ')[0] as string)
      // Answer the first request of each connection, then drop the socket on the second
      // one without a byte of response: the stale keep-alive race.
      if (index === 0) socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok')
      else socket.destroy()
    })
  })
  const pool = new Pool(srv.origin, { connections: 1 })
  t.teardown(() => pool.destroy())
  t.equal(await (await pool.request({ path: '/a' })).body.text(), 'ok')
  const second = await pool.request({ path: '/b' })
  t.equal(await second.body.text(), 'ok', 'GET retried transparently')
  t.equal(second.connection.reused, false, 'the retry went on a fresh connection')
  t.equal(pool.stats().retries, 1)
  t.equal(connections, 2)

  // A POST in the same situation is never sent twice.
  methods.length = 0
  const err = await pool.request({ path: '/c', method: 'POST', body: 'x' }).then(
    () => undefined,
    (e: unknown) => e,
  )
  t.type(err, WirepoolError)
  t.equal((err as WirepoolError).code, 'WP_SOCKET_CLOSED')
  t.same(methods, ['POST'], 'the POST reached the server exactly once')
  t.equal(pool.stats().retries, 1)
})

t.test('abort: a queued request leaves the queue; an in-flight one kills its socket', async (t) => {
  let release: (() => void) | undefined
  const srv = await httpServer(t, (req, res) => {
    if (req.url === '/hang') {
      release = () => res.end('late')
      return
    }
    res.end('ok')
  })
  const pool = new Pool(srv.origin, { connections: 1 })
  t.teardown(() => pool.destroy())
  const inflight = new AbortController()
  const queued = new AbortController()
  const p1 = pool.request({ path: '/hang', signal: inflight.signal })
  const p2 = pool.request({ path: '/queued', signal: queued.signal })
  while (release === undefined) await new Promise((r) => setImmediate(r))
  t.equal(pool.stats().requestsQueued, 1)
  queued.abort(new Error('changed my mind'))
  const e2 = (await p2.catch((e: unknown) => e)) as WirepoolError
  t.equal(e2.code, 'WP_ABORTED')
  t.equal((e2.cause as Error).message, 'changed my mind')
  t.equal(pool.stats().requestsQueued, 0)
  inflight.abort()
  const e1 = (await p1.catch((e: unknown) => e)) as WirepoolError
  t.equal(e1.code, 'WP_ABORTED')
  // The aborted socket is gone; the next request opens a new connection.
  const res = await pool.request({ path: '/' })
  t.equal(await res.body.text(), 'ok')
  t.equal(res.connection.reused, false)
  t.equal(srv.connections(), 2)
  release?.()

  const already = AbortSignal.abort()
  const e3 = (await pool.request({ path: '/', signal: already }).catch((e: unknown) => e)) as WirepoolError
  t.equal(e3.code, 'WP_ABORTED')
})

t.test('destroying a response body mid-stream releases the connection without reuse', async (t) => {
  const srv = await httpServer(t, (req, res) => {
    if (req.url === '/big') {
      res.write(Buffer.alloc(1024 * 1024))
      return // never ends
    }
    res.end('small')
  })
  const pool = new Pool(srv.origin, { connections: 1 })
  t.teardown(() => pool.destroy())
  const big = await pool.request({ path: '/big' })
  const [first] = (await once(big.body, 'data')) as [Buffer]
  t.ok(first.length > 0)
  big.body.destroy()
  const res = await pool.request({ path: '/small' })
  t.equal(await res.body.text(), 'small')
  t.equal(res.connection.reused, false, 'a socket with an unread body is never reused')
})

t.test('connect failures reject queued requests with WP_CONNECT_REFUSED', async (t) => {
  const port = await closedPort()
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 2 })
  t.teardown(() => pool.destroy())
  const results = await Promise.allSettled(Array.from({ length: 5 }, () => pool.request({ path: '/' })))
  for (const r of results) {
    t.equal(r.status, 'rejected')
    if (r.status === 'rejected') t.equal((r.reason as WirepoolError).code, 'WP_CONNECT_REFUSED')
  }
  // Issue #18's policy (README "Reliability"): up to 5 rounds of connects with backoff, each
  // round at most `connections` connects — never one connect per queued request.
  while (pool.stats().connections.total > 0) await once(pool, 'connection')
  const created = pool.stats().connectionsCreated
  t.ok(created >= 5 && created <= 10, `at most connections × 5 connects (${created}), not one per request`)
  t.equal(pool.stats().errors['connect_error:WP_CONNECT_REFUSED'], created)
})

t.test('invalid requests fail with WP_INVALID_ARG and write nothing', async (t) => {
  const srv = await rawServer(t, (socket) => socket.destroy())
  const pool = new Pool(srv.origin)
  t.teardown(() => pool.destroy())
  const bad = [
    { headers: { 'x-a': 'a\r\nx-injected: 1' } },
    { headers: { 'bad name': 'x' } },
    { headers: { 'transfer-encoding': 'chunked' } },
    { headers: { connection: 'close' } },
    { path: '/a b' },
    { path: 'http://evil/' },
    { method: 'GE T' },
    { method: 'POST', body: 'abc', headers: { 'content-length': '5' } },
    { method: 'GET', body: 'x' },
    { body: 42 as unknown as string, method: 'POST' },
  ]
  for (const options of bad) {
    const err = (await pool.request(options).catch((e: unknown) => e)) as WirepoolError
    t.equal(err.code, 'WP_INVALID_ARG', JSON.stringify(options))
  }
  t.equal(srv.connections(), 0, 'no connection was opened')
  t.throws(() => new Pool(srv.origin, { connections: 0 }), { code: 'WP_INVALID_ARG' })
  t.throws(() => new Pool(srv.origin, { tls: { minVersion: 'TLSv1.1' as 'TLSv1.2' } }), { code: 'WP_INVALID_ARG' })
  t.throws(() => new Pool(srv.origin, { bogus: 1 } as never), { code: 'WP_INVALID_ARG' })
  t.throws(() => new Pool('ftp://127.0.0.1'), { code: 'WP_INVALID_ARG' })
  t.throws(() => new Pool('https://127.0.0.1:1', { h2c: true }), { code: 'WP_INVALID_ARG' }, 'h2c is for http: origins')
})

t.test('request bodies: string, bytes, Readable and async iterable reach the server intact', async (t) => {
  const srv = await httpServer(t, async (req, res) => {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    res.end(`${req.headers['content-length'] ?? 'chunked'}:${Buffer.concat(chunks).toString()}`)
  })
  const pool = new Pool(srv.origin)
  t.teardown(() => pool.destroy())
  const send = async (body: unknown) => (await pool.request({ method: 'POST', path: '/', body: body as string })).body.text()
  t.equal(await send('hello'), '5:hello')
  t.equal(await send(new TextEncoder().encode('bytes')), '5:bytes')
  t.equal(await send(Readable.from([Buffer.from('a'), Buffer.from('bc')])), 'chunked:abc')
  t.equal(
    await send((async function* () {
      yield new TextEncoder().encode('it')
      yield new TextEncoder().encode('er')
    })()),
    'chunked:iter',
  )
  t.equal(await send(undefined), '0:')
})

t.test('close() lets queued and in-flight requests finish, then closes every socket', async (t) => {
  const srv = await httpServer(t, (req, res) => setImmediate(() => res.end(req.url)))
  const pool = new Pool(srv.origin, { connections: 2 })
  const pending = Array.from({ length: 6 }, (_, i) => pool.request({ path: `/${i}` }).then((r) => r.body.text()))
  const closed = pool.close()
  const err = (await pool.request({ path: '/late' }).catch((e: unknown) => e)) as WirepoolError
  t.equal(err.code, 'WP_POOL_CLOSED')
  t.same(await Promise.all(pending), ['/0', '/1', '/2', '/3', '/4', '/5'])
  await closed
  t.equal(pool.stats().connections.total, 0)
  while (srv.sockets.size > 0) await once([...srv.sockets][0]!, 'close')
  t.equal(srv.sockets.size, 0, 'server sees every socket closed')
})

t.test('destroy() fails in-flight requests', async (t) => {
  const srv = await httpServer(t, () => {})
  const pool = new Pool(srv.origin)
  const p = pool.request({ path: '/' }).catch((e: unknown) => e)
  while (srv.connections() === 0) await new Promise((r) => setImmediate(r))
  await pool.destroy(new Error('shutting down'))
  const err = (await p) as WirepoolError
  t.type(err, WirepoolError)
  t.equal(pool.stats().connections.total, 0)
})

t.test('maxRequestsPerConnection retires a connection after N requests', async (t) => {
  const srv = await httpServer(t, (_req, res) => res.end('x'))
  const pool = new Pool(srv.origin, { maxRequestsPerConnection: 3, connections: 1 })
  t.teardown(() => pool.destroy())
  const ids: number[] = []
  for (let i = 0; i < 7; i++) {
    const res = await pool.request({ path: '/' })
    await res.body.text()
    ids.push(res.connection.id)
  }
  t.equal(new Set(ids).size, 3, '7 requests at 3 per connection need 3 connections')
  t.equal(ids[0], ids[2])
  t.not(ids[2], ids[3])
})

t.test('diagnostics_channel publishes connection and request events; metrics are Prometheus text', async (t) => {
  const srv = await httpServer(t, (_req, res) => res.end('x'))
  const conn: unknown[] = []
  const reqs: Array<{ event: string }> = []
  const onConn = (m: unknown) => conn.push(m)
  const onReq = (m: unknown) => {
    if ((m as { origin: string }).origin === srv.origin) reqs.push(m as { event: string })
  }
  diagnosticsChannel.subscribe('wirepool:connection', onConn)
  diagnosticsChannel.subscribe('wirepool:request', onReq)
  t.teardown(() => {
    diagnosticsChannel.unsubscribe('wirepool:connection', onConn)
    diagnosticsChannel.unsubscribe('wirepool:request', onReq)
  })
  const agent = new Agent()
  t.teardown(() => agent.destroy())
  for (let i = 0; i < 3; i++) await (await agent.request({ url: `${srv.origin}/m` })).body.text()
  t.ok(conn.length >= 2, 'connection events published')
  t.same(reqs.map((r) => r.event), ['dispatched', 'completed', 'dispatched', 'completed', 'dispatched', 'completed'])
  const text = agent.metrics()
  const o = `origin="${srv.origin}"`
  t.match(text, `wirepool_requests_total{${o},protocol="http/1.1"} 3`)
  t.match(text, `wirepool_requests_reused_total{${o}} 2`)
  t.match(text, `wirepool_connections{${o},state="idle"} 1`)
  t.match(text, `wirepool_acquire_seconds_count{${o}} 3`)
  // Every line is a comment or `name{labels} value` (text format 0.0.4).
  for (const line of text.trimEnd().split('\n')) {
    t.match(line, /^(# (HELP|TYPE) \w+ .+|\w+(\{(\w+="(?:[^"\\]|\\.)*",?)*\})? (-?[\d.e+-]+|NaN|\+Inf))$/, line)
  }
  const stats = agent.stats()
  t.same(Object.keys(stats.origins), [srv.origin])
  t.equal(stats.origins[srv.origin]?.requests, 3)
})

t.test('Agent routes by origin and validates its input', async (t) => {
  const a = await httpServer(t, (_req, res) => res.end('a'))
  const b = await httpServer(t, (_req, res) => res.end('b'))
  const agent = new Agent()
  t.teardown(() => agent.destroy())
  t.equal(await (await agent.request({ url: `${a.origin}/x?y=1` })).body.text(), 'a')
  t.equal(await (await agent.request({ origin: b.origin, path: '/' })).body.text(), 'b')
  t.equal(Object.keys(agent.stats().origins).length, 2)
  const e1 = (await agent.request({} as never).catch((e: unknown) => e)) as WirepoolError
  t.equal(e1.code, 'WP_INVALID_ARG')
  const e2 = (await agent.request({ url: 'not a url' }).catch((e: unknown) => e)) as WirepoolError
  t.equal(e2.code, 'WP_INVALID_ARG')
  await agent.close()
  const e3 = (await agent.request({ url: `${a.origin}/` }).catch((e: unknown) => e)) as WirepoolError
  t.equal(e3.code, 'WP_POOL_CLOSED')
})

t.test('keepAliveTimeout 0 disables idle eviction', async (t) => {
  const srv = await httpServer(t, (_req, res) => res.end('x'))
  const pool = new Pool(srv.origin, { keepAliveTimeout: 0 })
  t.teardown(() => pool.destroy())
  const events: ConnectionEvent[] = []
  pool.on('connection', (e) => events.push(e))
  await (await pool.request({ path: '/' })).body.text()
  // A second request after a full turn of the event loop still finds the socket.
  await new Promise((r) => setImmediate(r))
  const res = await pool.request({ path: '/' })
  await res.body.text()
  t.equal(res.connection.reused, true)
  t.notOk(events.some((e) => e.reason === 'idle-timeout'))
})
