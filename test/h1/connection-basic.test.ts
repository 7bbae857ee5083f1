/**
 * H1Connection: requests and responses on a kept-alive connection, exact request bytes,
 * retirement rules (RFC 9112 §9), the PoolConnection surface (capacity, ping, close, destroy).
 */
import { once } from 'node:events'
import type * as net from 'node:net'
import * as tls from 'node:tls'
import t, { type Test } from 'tap'
import { InvalidArgumentError, SocketClosedError, WirepoolError } from '../../src/errors.js'
import { H1Connection } from '../../src/h1/connection.js'
import { makeCertificates } from '../support/certs.js'
import { httpServer, httpsServer, onRequestHeads, rawServer } from '../support/servers.js'
import { collect, connect, deferred, readUntil, req } from './connection-helpers.js'

t.test('GET against node:http', async (t) => {
  const srv = await httpServer(t, (rq, res) => {
    res.setHeader('x-path', rq.url ?? '')
    res.setHeader('set-cookie', 'a=1')
    res.end('hello')
  })
  const { conn } = await connect(t, srv.port)
  const c = collect()
  conn.dispatch(req({ path: '/a?b=1' }), c.handler)
  const r = await c.done
  t.equal(r.status, 200)
  t.equal(r.statusText, 'OK')
  t.equal(r.body.toString(), 'hello')
  t.equal(r.headers?.['x-path'], '/a?b=1')
  t.same(r.headers?.['set-cookie'], ['a=1'])
  t.same(r.events, ['connect', 'headers', 'complete'])
  t.same(r.info, { id: 1, reused: false, tlsResumed: null, remoteAddress: '127.0.0.1', remotePort: srv.port, protocol: 'http/1.1' })
})

t.test('exact request bytes on the wire', async (t) => {
  const wire = deferred<string[]>()
  const srv = await rawServer(t, (socket) => {
    void (async () => {
      const get = await readUntil(socket, (d) => d.endsWith('\r\n\r\n'))
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n')
      const post = await readUntil(socket, (d) => d.endsWith('h\u00c3\u00a9llo'))
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n')
      wire.resolve([get, post])
    })()
  })
  const { conn } = await connect(t, srv.port)
  const get = collect()
  conn.dispatch(req({ path: '/x?y=%20', authority: `127.0.0.1:${srv.port}`, headers: ['Accept', '*/*', 'x-b', 'caf\u00e9'] }), get.handler)
  await get.done
  const post = collect()
  conn.dispatch(req({ method: 'POST', authority: 'h', idempotent: false, body: 'h\u00e9llo', bodyLength: 6 }), post.handler)
  await post.done
  const [getBytes, postBytes] = await wire.promise
  t.equal(getBytes, `GET /x?y=%20 HTTP/1.1\r\nhost: 127.0.0.1:${srv.port}\r\nAccept: */*\r\nx-b: caf\u00e9\r\n\r\n`, 'GET bytes, header value latin1')
  t.equal(postBytes, 'POST / HTTP/1.1\r\nhost: h\r\ncontent-length: 6\r\n\r\nh\u00c3\u00a9llo', 'POST bytes, body UTF-8')
})

t.test('keep-alive: sequential requests reuse the connection; reused, requestsServed, free', async (t) => {
  let n = 0
  const srv = await httpServer(t, (_rq, res) => res.end(String(++n)))
  const { conn, events } = await connect(t, srv.port)
  for (let i = 1; i <= 3; i++) {
    t.equal(conn.capacity, 1)
    const c = collect()
    conn.dispatch(req(), c.handler)
    t.equal(conn.inFlight, 1)
    t.equal(conn.capacity, 0)
    const r = await c.done
    t.equal(r.body.toString(), String(i))
    t.equal(r.info?.reused, i > 1, `reused on request ${i}`)
    t.equal(conn.requestsServed, i)
  }
  t.equal(srv.connections(), 1, 'one TCP connection')
  t.same(events, ['free', 'free', 'free'])
  t.equal(conn.retired, false)
})

t.test('HEAD: no body is read whatever the framing says; the connection stays usable', async (t) => {
  const srv = await rawServer(t, (socket) => {
    onRequestHeads(socket, (head) => {
      if (head.startsWith('HEAD /cl')) socket.write('HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n')
      else if (head.startsWith('HEAD /none')) socket.write('HTTP/1.1 200 OK\r\n\r\n')
      else socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok')
    })
  })
  const { conn, events } = await connect(t, srv.port)
  for (const path of ['/cl', '/none']) {
    const c = collect()
    conn.dispatch(req({ method: 'HEAD', path }), c.handler)
    const r = await c.done
    t.equal(r.status, 200)
    t.equal(r.bytes, 0, `${path}: no body`)
    t.equal(conn.retired, false, `${path}: not retired`)
  }
  const c = collect()
  conn.dispatch(req(), c.handler)
  t.equal((await c.done).body.toString(), 'ok')
  t.equal(srv.connections(), 1)
  t.notOk(events.some((e) => e.startsWith('draining')))
})

t.test('204 and 304 have no body (RFC 9112 §6.3 rule 1)', async (t) => {
  const srv = await rawServer(t, (socket) => {
    onRequestHeads(socket, (head) => {
      if (head.startsWith('GET /204')) socket.write('HTTP/1.1 204 No Content\r\n\r\n')
      else socket.write('HTTP/1.1 304 Not Modified\r\netag: "x"\r\n\r\n')
    })
  })
  const { conn } = await connect(t, srv.port)
  for (const status of [204, 304]) {
    const c = collect()
    conn.dispatch(req({ path: `/${status}` }), c.handler)
    const r = await c.done
    t.equal(r.status, status)
    t.equal(r.bytes, 0)
  }
  t.equal(conn.retired, false)
})

t.test('trailers reach onTrailers (node:http addTrailers)', async (t) => {
  const srv = await httpServer(t, (_rq, res) => {
    res.writeHead(200, { 'transfer-encoding': 'chunked', trailer: 'x-checksum' })
    res.write('abc')
    res.addTrailers({ 'X-Checksum': '900150983cd24fb0', 'Set-Cookie': 'late=1' })
    res.end()
  })
  const { conn } = await connect(t, srv.port)
  const c = collect()
  conn.dispatch(req(), c.handler)
  const r = await c.done
  t.equal(r.body.toString(), 'abc')
  t.same(r.trailers, { 'x-checksum': '900150983cd24fb0', 'set-cookie': ['late=1'] })
  t.same(r.events, ['connect', 'headers', 'trailers', 'complete'])
  t.equal(conn.retired, false)
})

t.test('Keep-Alive: timeout=N becomes idleTimeoutHint (ms), from the last response only', async (t) => {
  const answers = [
    'HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5, max=100\r\ncontent-length: 0\r\n\r\n',
    'HTTP/1.1 200 OK\r\nkeep-alive: max=3, timeout=2\r\ncontent-length: 0\r\n\r\n',
    'HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n',
    // The same value again after none, then twice in a row (the connection remembers the
    // last value it parsed): each response still decides.
    'HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5, max=100\r\ncontent-length: 0\r\n\r\n',
    'HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5, max=100\r\ncontent-length: 0\r\n\r\n',
    'HTTP/1.1 200 OK\r\nKeep-Alive: max=100\r\ncontent-length: 0\r\n\r\n',
  ]
  const srv = await rawServer(t, (socket) => onRequestHeads(socket, (_h, i) => socket.write(answers[i] ?? '')))
  const { conn } = await connect(t, srv.port)
  t.equal(conn.idleTimeoutHint, undefined)
  for (const expected of [5000, 2000, undefined, 5000, 5000, undefined]) {
    const c = collect()
    conn.dispatch(req(), c.handler)
    await c.done
    t.equal(conn.idleTimeoutHint, expected)
  }
})

/** Serve one response, then report whether and why the connection retired and how it closed. */
async function retirement(
  t: Test,
  response: string,
  options: { closeAfter?: boolean; method?: string } = {},
): Promise<{ events: string[]; body: string; closeErr: WirepoolError | undefined; status: number | undefined }> {
  const srv = await rawServer(t, (socket) => {
    onRequestHeads(socket, () => {
      socket.write(response)
      if (options.closeAfter === true) socket.end()
    })
  })
  const { conn, events, closed } = await connect(t, srv.port)
  const c = collect()
  conn.dispatch(req({ method: options.method ?? 'GET' }), c.handler)
  const r = await c.done
  t.equal(r.error, undefined, 'response delivered')
  t.equal(conn.capacity, 0, 'no capacity once retired')
  t.equal(conn.retired, true)
  const closeErr = await closed
  return { events, body: r.body.toString('latin1'), closeErr, status: r.status }
}

t.test('Connection: close retires and closes after the response', async (t) => {
  const r = await retirement(t, 'HTTP/1.1 200 OK\r\nConnection: close\r\ncontent-length: 2\r\n\r\nok')
  t.same(r.events, ['draining:peer sent Connection: close', 'close'])
  t.equal(r.body, 'ok')
  t.equal(r.closeErr, undefined, 'an orderly close')
})

t.test('HTTP/1.0 without keep-alive retires; with keep-alive it is reused', async (t) => {
  const r = await retirement(t, 'HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nok')
  t.same(r.events, ['draining:HTTP/1.0 response without keep-alive', 'close'])

  const srv = await rawServer(t, (socket) =>
    onRequestHeads(socket, () => socket.write('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\ncontent-length: 1\r\n\r\nk')),
  )
  const { conn, events } = await connect(t, srv.port)
  for (let i = 0; i < 2; i++) {
    const c = collect()
    conn.dispatch(req(), c.handler)
    t.equal((await c.done).body.toString(), 'k')
  }
  t.same(events, ['free', 'free'])
})

t.test('Content-Length with Transfer-Encoding: read by chunked, never reused (RFC 9112 §6.3 rule 3)', async (t) => {
  const r = await retirement(t, 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n')
  t.equal(r.body, 'ok')
  t.same(r.events, ['draining:response had both Content-Length and Transfer-Encoding', 'close'])
})

t.test('a close-delimited body completes at EOF and retires the connection', async (t) => {
  const r = await retirement(t, 'HTTP/1.1 200 OK\r\n\r\nuntil the end', { closeAfter: true })
  t.equal(r.body, 'until the end')
  t.same(r.events, ['draining:response body is delimited by connection close', 'close'])
  t.equal(r.closeErr, undefined)
})

t.test('HEAD without Content-Length but with Connection: close still retires', async (t) => {
  const r = await retirement(t, 'HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n', { method: 'HEAD' })
  t.same(r.events, ['draining:peer sent Connection: close', 'close'])
})

t.test('maxRequestsPerConnection: draining at the last dispatch, closed after its response', async (t) => {
  const srv = await httpServer(t, (_rq, res) => res.end('x'))
  const { conn, events, closed } = await connect(t, srv.port, { maxRequestsPerConnection: 2 })
  const a = collect()
  conn.dispatch(req(), a.handler)
  await a.done
  const b = collect()
  conn.dispatch(req(), b.handler)
  t.equal(conn.retired, true, 'retired as soon as the last allowed request is dispatched')
  t.equal(conn.capacity, 0)
  t.throws(() => conn.dispatch(req(), collect().handler), InvalidArgumentError)
  t.equal((await b.done).body.toString(), 'x')
  t.equal(await closed, undefined)
  t.same(events, ['free', 'draining:maximum requests per connection reached', 'close'])
  t.equal(conn.requestsServed, 2)
})

t.test('dispatch refuses what the connection cannot take', async (t) => {
  const srv = await rawServer(t, () => {})
  const { conn } = await connect(t, srv.port, { pipelining: 3 })
  t.throws(() => conn.dispatch(req({ body: 'abc', bodyLength: 2 }), collect().handler), InvalidArgumentError, 'string length mismatch')
  t.throws(() => conn.dispatch(req({ body: Buffer.from('abc'), bodyLength: 4 }), collect().handler), InvalidArgumentError, 'bytes length mismatch')
  t.throws(() => conn.dispatch(req({ body: 42 as unknown as string, bodyLength: 2 }), collect().handler), InvalidArgumentError, 'unknown body type')
  t.throws(() => conn.dispatch(req({ headers: ['x', 'a\r\nb'] }), collect().handler), InvalidArgumentError, 'unframeable header')
  t.equal(conn.inFlight, 0, 'nothing was queued')
  conn.dispatch(req(), collect().handler)
  t.throws(() => conn.dispatch(req({ method: 'POST', idempotent: false }), collect().handler), {
    code: 'WP_INVALID_ARG',
    message: /non-idempotent/,
  })
  t.throws(() => conn.dispatch(req({ upgrade: 'websocket' }), collect().handler), { message: /upgrade request/ })
  conn.dispatch(req(), collect().handler)
  conn.dispatch(req(), collect().handler)
  t.equal(conn.capacity, 0)
  t.throws(() => conn.dispatch(req(), collect().handler), { message: /no free capacity/ })
  t.throws(() => new H1Connection(conn as unknown as net.Socket, { id: 2, origin: 'x', pipelining: 0, maxHeaderSize: 1, maxHeaderCount: 1, tlsResumed: null }), InvalidArgumentError)
})

t.test('an upgrade request holds the connection alone', async (t) => {
  const srv = await rawServer(t, () => {})
  const { conn } = await connect(t, srv.port, { pipelining: 4 })
  conn.dispatch(req({ upgrade: 'websocket' }), collect().handler)
  t.equal(conn.capacity, 0)
  t.throws(() => conn.dispatch(req(), collect().handler), InvalidArgumentError)
})

t.test('ping: 0 while open, SocketClosedError once closed', async (t) => {
  const srv = await httpServer(t, (_rq, res) => res.end())
  const { conn, closed } = await connect(t, srv.port)
  t.equal(await conn.ping(), 0)
  conn.destroy()
  await closed
  await t.rejects(conn.ping(), SocketClosedError)
})

t.test('close(): graceful, in-flight requests finish first', async (t) => {
  const srv = await rawServer(t, (socket) => {
    onRequestHeads(socket, () => setImmediate(() => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\ndone')))
  })
  const { conn, events } = await connect(t, srv.port)
  const c = collect()
  conn.dispatch(req(), c.handler)
  const closing = conn.close()
  t.equal(conn.retired, true)
  t.throws(() => conn.dispatch(req(), collect().handler), InvalidArgumentError)
  const r = await c.done
  t.equal(r.body.toString(), 'done')
  await closing
  t.same(events, ['draining:close() called', 'close'])
  await conn.close() // already closed: resolves at once
  t.pass('second close resolved')
})

t.test('close() on an idle connection closes the socket', async (t) => {
  const srv = await httpServer(t, (_rq, res) => res.end())
  const { conn, socket } = await connect(t, srv.port)
  await conn.close()
  t.equal(socket.destroyed, true)
})

t.test('destroy(err): in-flight requests get err, close carries it', async (t) => {
  const srv = await rawServer(t, () => {})
  const { conn, closed } = await connect(t, srv.port, { pipelining: 2 })
  const a = collect()
  const b = collect()
  conn.dispatch(req(), a.handler)
  conn.dispatch(req(), b.handler)
  const err = new SocketClosedError('pool shutting down')
  conn.destroy(err)
  t.equal((await a.done).error, err)
  t.equal((await b.done).error, err)
  t.equal(err.origin, `http://127.0.0.1:${srv.port}`, 'origin stamped')
  t.equal(await closed, err)
  conn.destroy() // idempotent
  t.same(a.rec.events, ['connect', 'error'])
})

t.test('destroy() without an error: each request gets a SocketClosedError saying whether it was sent', async (t) => {
  const srv = await rawServer(t, () => {})
  const { conn, closed } = await connect(t, srv.port)
  const a = collect()
  conn.dispatch(req(), a.handler)
  conn.destroy()
  const r = await a.done
  t.type(r.error, SocketClosedError)
  t.equal((r.error as SocketClosedError).responseStarted, false)
  t.match(r.error?.message, /before the response completed/)
  t.equal(await closed, undefined)
})

t.test('a socket that is already destroyed yields a closed connection', async (t) => {
  const srv = await httpServer(t, (_rq, res) => res.end())
  const { socket } = await connect(t, srv.port)
  socket.destroy()
  await once(socket, 'close')
  const conn = new H1Connection(socket, { id: 9, origin: 'http://x', pipelining: 1, maxHeaderSize: 1024, maxHeaderCount: 10, tlsResumed: null })
  t.equal(conn.capacity, 0)
  const [err] = (await once(conn, 'close')) as [WirepoolError | undefined]
  t.type(err, SocketClosedError)
})

t.test('over TLS: tlsResumed is reported in ConnectionInfo', async (t) => {
  const certs = await makeCertificates()
  const srv = await httpsServer(t, { key: certs.key, cert: certs.cert }, (_rq, res) => res.end('secure'))
  const socket = tls.connect({ port: srv.port, host: '127.0.0.1', ca: certs.ca, servername: 'localhost', ALPNProtocols: ['http/1.1'] })
  await once(socket, 'secureConnect')
  const conn = new H1Connection(socket, { id: 5, origin: srv.origin, pipelining: 1, maxHeaderSize: 16384, maxHeaderCount: 100, tlsResumed: false })
  t.teardown(() => conn.destroy())
  const c = collect()
  conn.dispatch(req(), c.handler)
  const r = await c.done
  t.equal(r.body.toString(), 'secure')
  t.equal(r.info?.tlsResumed, false)
  t.equal(r.info?.id, 5)
  t.equal(conn.tlsResumed, false)
  await conn.close()
})

t.test('the server sees exactly one request per dispatch (raw read)', async (t) => {
  const seen: string[] = []
  const srv = await rawServer(t, (socket) => {
    void readUntil(socket, (d) => d.includes('\r\n\r\n')).then((d) => {
      seen.push(d)
      socket.end('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n')
    })
  })
  const { conn } = await connect(t, srv.port)
  const c = collect()
  conn.dispatch(req({ method: 'DELETE', path: '/item/1' }), c.handler)
  await c.done
  t.same(seen, ['DELETE /item/1 HTTP/1.1\r\nhost: localhost\r\n\r\n'])
})
