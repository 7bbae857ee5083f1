/**
 * H1Connection bodies: request bodies of every kind with their framing and length checks,
 * backpressure both ways, and bounded memory for a large response read slowly.
 */
import { createHash, randomBytes } from 'node:crypto'
import type * as http from 'node:http'
import { Readable } from 'node:stream'
import t, { type Test } from 'tap'
import { AbortedError, InvalidArgumentError, SocketClosedError } from '../../src/errors.js'
import { httpServer, onRequestHeads, rawServer } from '../support/servers.js'
import { collect, connect, deferred, req } from './connection-helpers.js'

interface Echo {
  method: string
  headers: http.IncomingHttpHeaders
  body: string
}

/** node:http server that answers with a JSON description of the request it got. */
async function echoServer(t: Test): Promise<number> {
  const srv = await httpServer(t, (rq, res) => {
    const parts: Buffer[] = []
    rq.on('data', (d: Buffer) => parts.push(d))
    rq.on('end', () => {
      const echo: Echo = { method: rq.method ?? '', headers: rq.headers, body: Buffer.concat(parts).toString('latin1') }
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify(echo))
    })
  })
  return srv.port
}

async function* generate(parts: Array<string | Uint8Array>): AsyncGenerator<string | Uint8Array> {
  for (const p of parts) {
    await Promise.resolve()
    yield p
  }
}

t.test('string and Uint8Array bodies: content-length, exact bytes, connection reused', async (t) => {
  const port = await echoServer(t)
  const { conn, events } = await connect(t, port)
  const bodies: Array<[string | Uint8Array, string]> = [
    ['h\u00e9llo w\u00f6rld', Buffer.from('h\u00e9llo w\u00f6rld').toString('latin1')],
    [new Uint8Array([0, 1, 2, 255]), '\u0000\u0001\u0002\u00ff'],
  ]
  for (const [body, expected] of bodies) {
    const c = collect()
    const bodyLength = typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength
    conn.dispatch(req({ method: 'POST', idempotent: false, body, bodyLength }), c.handler)
    const echo = JSON.parse((await c.done).body.toString()) as Echo
    t.equal(echo.body, expected)
    t.equal(echo.headers['content-length'], String(bodyLength))
    t.equal(echo.headers['transfer-encoding'], undefined)
  }
  t.same(events, ['free', 'free'])
})

t.test('Readable of unknown length goes chunked; Readable with declared length goes raw', async (t) => {
  const port = await echoServer(t)
  const { conn } = await connect(t, port)
  const chunked = collect()
  conn.dispatch(req({ method: 'PUT', body: Readable.from([Buffer.from('ab'), Buffer.alloc(0), 'cd', Buffer.from('e')]), bodyLength: -1 }), chunked.handler)
  const e1 = JSON.parse((await chunked.done).body.toString()) as Echo
  t.equal(e1.body, 'abcde', 'empty chunks do not end the body')
  t.equal(e1.headers['transfer-encoding'], 'chunked')
  t.equal(e1.headers['content-length'], undefined)

  const exact = collect()
  conn.dispatch(req({ method: 'PUT', body: Readable.from([Buffer.from('xyz'), Buffer.from('w')]), bodyLength: 4 }), exact.handler)
  const e2 = JSON.parse((await exact.done).body.toString()) as Echo
  t.equal(e2.body, 'xyzw')
  t.equal(e2.headers['content-length'], '4')
  t.equal(e2.headers['transfer-encoding'], undefined)
})

t.test('AsyncIterable bodies (generators), chunked and exact', async (t) => {
  const port = await echoServer(t)
  const { conn } = await connect(t, port)
  const a = collect()
  conn.dispatch(req({ method: 'POST', idempotent: false, body: generate(['one', Buffer.from('two')]) as AsyncIterable<Uint8Array>, bodyLength: -1 }), a.handler)
  t.equal((JSON.parse((await a.done).body.toString()) as Echo).body, 'onetwo')
  const b = collect()
  conn.dispatch(req({ method: 'POST', idempotent: false, body: generate([Buffer.from('12345')]) as AsyncIterable<Uint8Array>, bodyLength: 5 }), b.handler)
  const echo = JSON.parse((await b.done).body.toString()) as Echo
  t.equal(echo.body, '12345')
  t.equal(echo.headers['content-length'], '5')
  const empty = collect()
  conn.dispatch(req({ method: 'POST', idempotent: false, body: generate([]) as AsyncIterable<Uint8Array>, bodyLength: 0 }), empty.handler)
  const e3 = JSON.parse((await empty.done).body.toString()) as Echo
  t.equal(e3.body, '')
  t.equal(e3.headers['content-length'], '0')
})

/** Raw server that records everything it receives until the client closes. */
async function sink(t: Test): Promise<{ port: number; received: Promise<string> }> {
  const received = deferred<string>()
  const srv = await rawServer(t, (socket) => {
    let all = ''
    socket.on('data', (d: Buffer) => (all += d.toString('latin1')))
    socket.on('close', () => received.resolve(all))
  })
  return { port: srv.port, received: received.promise }
}

t.test('a stream longer than its declared length fails the request and the socket', async (t) => {
  const { port, received } = await sink(t)
  const { conn, closed } = await connect(t, port)
  const c = collect()
  conn.dispatch(req({ method: 'PUT', body: generate(['abc', 'def']) as AsyncIterable<Uint8Array>, bodyLength: 4 }), c.handler)
  const r = await c.done
  t.type(r.error, InvalidArgumentError)
  t.match(r.error?.message, /longer than its declared 4 bytes/)
  t.equal(await closed, r.error)
  t.equal(await received, 'PUT / HTTP/1.1\r\nhost: localhost\r\ncontent-length: 4\r\n\r\nabc', 'the surplus chunk never went out')
})

t.test('a stream shorter than its declared length fails the request and the socket', async (t) => {
  const { port, received } = await sink(t)
  const { conn, closed } = await connect(t, port)
  const c = collect()
  conn.dispatch(req({ method: 'PUT', body: generate(['abc']) as AsyncIterable<Uint8Array>, bodyLength: 10 }), c.handler)
  const r = await c.done
  t.type(r.error, InvalidArgumentError)
  t.match(r.error?.message, /ended after 3 of its declared 10 bytes/)
  t.equal(await closed, r.error)
  t.match(await received, /\r\n\r\nabc$/)
})

t.test('a stream that yields something other than bytes fails the request', async (t) => {
  const { port } = await sink(t)
  const { conn } = await connect(t, port)
  const c = collect()
  conn.dispatch(req({ method: 'PUT', body: generate([42 as unknown as string]) as AsyncIterable<Uint8Array>, bodyLength: -1 }), c.handler)
  t.type((await c.done).error, InvalidArgumentError)
})

t.test('a body stream that errors fails the request (AbortedError with cause) and destroys the socket', async (t) => {
  const { port, received } = await sink(t)
  const { conn, closed } = await connect(t, port)
  const boom = new Error('disk on fire')
  const body = new Readable({ read() {} })
  const c = collect()
  conn.dispatch(req({ method: 'PUT', body, bodyLength: -1 }), c.handler)
  body.push(Buffer.from('partial'))
  setImmediate(() => body.destroy(boom))
  const r = await c.done
  t.type(r.error, AbortedError)
  t.equal(r.error?.cause, boom)
  t.equal(await closed, r.error)
  t.match(await received, /\r\n\r\n7\r\npartial\r\n$/, 'no last-chunk was sent: the server cannot mistake it for a complete body')
})

t.test('a queued request whose Readable errors before it is written fails alone', async (t) => {
  const gate = deferred<void>()
  const srv = await rawServer(t, (socket) => {
    onRequestHeads(socket, (head) => {
      if (head.startsWith('PUT /a')) void gate.promise.then(() => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\na'))
    })
  })
  const { conn, events } = await connect(t, srv.port, { pipelining: 2 })
  const first = new Readable({ read() {} })
  const a = collect()
  conn.dispatch(req({ method: 'PUT', path: '/a', body: first, bodyLength: -1 }), a.handler)
  const second = new Readable({ read() {} })
  const b = collect()
  conn.dispatch(req({ method: 'PUT', path: '/b', body: second, bodyLength: -1 }), b.handler)
  const boom = new Error('source gone')
  second.destroy(boom)
  const rb = await b.done
  t.type(rb.error, AbortedError)
  t.equal(rb.error?.cause, boom)
  t.equal(conn.inFlight, 1, 'only the first request remains')
  first.push(null)
  gate.resolve()
  t.equal((await a.done).body.toString(), 'a')
  t.equal(conn.retired, false, 'the connection is unaffected')
  t.ok(events.includes('free'))
})

t.test('upload honours socket backpressure: the producer never runs far ahead of the server', async (t) => {
  const total = 32 * 1024 * 1024
  const chunk = 64 * 1024
  let produced = 0
  let received = 0
  let maxAhead = 0
  const srv = await rawServer(t, (socket) => {
    // A slow reader: one read per timer tick.
    socket.on('data', (d: Buffer) => {
      received += d.length
      maxAhead = Math.max(maxAhead, produced - received)
      socket.pause()
      setTimeout(() => socket.resume(), 1)
      if (received >= total) socket.write('HTTP/1.1 204 No Content\r\n\r\n')
    })
  })
  async function* producer(): AsyncGenerator<Uint8Array> {
    const block = Buffer.alloc(chunk, 0x78)
    while (produced < total) {
      produced += chunk
      yield block
    }
  }
  const { conn } = await connect(t, srv.port)
  const c = collect()
  conn.dispatch(req({ method: 'PUT', body: producer(), bodyLength: total }), c.handler)
  const r = await c.done
  t.equal(r.status, 204)
  t.ok(received >= total, 'everything arrived')
  t.ok(maxAhead < 8 * 1024 * 1024, `producer stayed within socket buffers of the reader (max ${(maxAhead / 1048576).toFixed(1)} MiB ahead)`)
})

t.test('64 MiB response read slowly: memory stays bounded, bytes intact', async (t) => {
  const total = 64 * 1024 * 1024
  const size = 64 * 1024
  const base = randomBytes(size)
  const serverHash = createHash('sha256')
  let written = 0
  let consumed = 0
  let maxAhead = 0
  let samples = 0
  const srv = await rawServer(t, (socket) => {
    onRequestHeads(socket, () => {
      socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${total}\r\n\r\n`)
      const pump = (): void => {
        while (written < total) {
          const piece = Buffer.from(base)
          piece.writeUInt32BE(written / size, 0) // every piece differs: reordering would show
          serverHash.update(piece)
          written += size
          samples++
          maxAhead = Math.max(maxAhead, written - consumed)
          if (!socket.write(piece)) {
            socket.once('drain', pump)
            return
          }
        }
      }
      pump()
    })
  })
  const clientHash = createHash('sha256')
  const { conn } = await connect(t, srv.port)
  const c = collect({
    keepBody: false,
    onData(chunk, rec) {
      clientHash.update(chunk)
      consumed += chunk.byteLength
      // Slow consumer: every chunk pauses the flow; a timer tick later it asks for more.
      setTimeout(() => rec.resume?.(), 1)
      return false
    },
  })
  conn.dispatch(req(), c.handler)
  const r = await c.done
  t.equal(r.error, undefined)
  t.equal(r.bytes, total)
  t.equal(clientHash.digest('hex'), serverHash.digest('hex'), 'sha256 matches')
  t.ok(samples > 100, `sampled ${samples} times`)
  t.ok(maxAhead < 8 * 1024 * 1024, `server never got more than 8 MiB ahead of the consumer (max ${(maxAhead / 1048576).toFixed(2)} MiB)`)
  t.equal(conn.retired, false, 'the connection is reusable after a fully read body')
})

t.test('onHeaders returning false pauses before the first body byte; resume() restarts', async (t) => {
  const sendBody = deferred<void>()
  const srv = await rawServer(t, (socket) => {
    onRequestHeads(socket, () => {
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n')
      void sendBody.promise.then(() => socket.write('body-bytes'))
    })
  })
  const { conn, socket } = await connect(t, srv.port)
  const headers = deferred<void>()
  const c = collect({
    onHeaders() {
      headers.resolve()
      return false
    },
  })
  conn.dispatch(req(), c.handler)
  await headers.promise
  t.equal(socket.isPaused(), true, 'socket paused by onHeaders returning false')
  sendBody.resolve()
  c.rec.resume?.()
  c.rec.resume?.() // a second call is harmless
  const r = await c.done
  t.equal(r.body.toString(), 'body-bytes')
  t.equal(socket.isPaused(), false)
})

t.test('resume() called inside the onData that returns false does not stall', async (t) => {
  const srv = await httpServer(t, (_rq, res) => {
    res.write('a')
    setImmediate(() => res.end('b'))
  })
  const { conn } = await connect(t, srv.port)
  const c = collect({
    onData(_chunk, rec) {
      rec.resume?.()
      return false
    },
  })
  conn.dispatch(req(), c.handler)
  t.equal((await c.done).body.toString(), 'ab')
})

t.test('a completed paused response leaves the socket flowing for the next one', async (t) => {
  const srv = await httpServer(t, (_rq, res) => res.end('x'))
  const { conn, socket } = await connect(t, srv.port)
  const a = collect({ onData: () => false })
  conn.dispatch(req(), a.handler)
  await a.done
  t.equal(socket.isPaused(), false)
  const b = collect()
  conn.dispatch(req(), b.handler)
  t.equal((await b.done).body.toString(), 'x')
})

t.test('a socket closed mid-body: SocketClosedError with responseStarted', async (t) => {
  const srv = await rawServer(t, (socket) => {
    onRequestHeads(socket, () => socket.end('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n'))
  })
  const { conn } = await connect(t, srv.port)
  const c = collect()
  conn.dispatch(req(), c.handler)
  const r = await c.done
  t.equal(r.body.toString(), 'abc')
  t.equal(r.error?.code, 'WP_BODY_INCOMPLETE', 'truncated chunked body at EOF is an incomplete body (RFC 9112 §8), never a clean end')
  t.match(r.error, { received: 3, expected: undefined, message: /after 3 bytes, before the chunked body ended/ })
  t.not(r.error, undefined)
  t.notOk(r.error instanceof SocketClosedError)
})
