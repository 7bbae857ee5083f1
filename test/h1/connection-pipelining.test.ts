/**
 * H1Connection pipelining: requests written back to back, responses matched FIFO
 * (RFC 9112 §9.3.2), and what pipelined requests learn when the connection fails.
 */
import { Readable } from 'node:stream'
import t from 'tap'
import { BodyIncompleteError, H1ParseError, SocketClosedError } from '../../src/errors.js'
import { onRequestHeads, rawServer } from '../support/servers.js'
import { collect, connect, deferred, req } from './connection-helpers.js'

t.test('10 requests in flight are seen pipelined by the server; responses matched FIFO', async (t) => {
  const allHeads = deferred<string[]>()
  const srv = await rawServer(t, (socket) => {
    const heads: string[] = []
    onRequestHeads(socket, (head) => {
      heads.push(head)
      // Answer only once all ten are in: proves they were sent without waiting for responses.
      if (heads.length === 10) {
        allHeads.resolve(heads)
        let out = ''
        for (const h of heads) {
          const path = h.split(' ')[1] ?? ''
          out += `HTTP/1.1 200 OK\r\ncontent-length: ${path.length}\r\n\r\n${path}`
        }
        socket.write(out) // all ten responses in one segment
      }
    })
  })
  const { conn, events } = await connect(t, srv.port, { pipelining: 10 })
  const calls = []
  for (let i = 0; i < 10; i++) {
    const c = collect()
    conn.dispatch(req({ path: `/r${i}` }), c.handler)
    t.equal(conn.capacity, 10 - i - 1)
    calls.push(c)
  }
  t.equal(conn.inFlight, 10)
  const heads = await allHeads.promise
  t.same(
    heads.map((h) => h.split('\r\n')[0]),
    Array.from({ length: 10 }, (_, i) => `GET /r${i} HTTP/1.1`),
    'written in dispatch order',
  )
  const results = await Promise.all(calls.map((c) => c.done))
  results.forEach((r, i) => {
    t.equal(r.body.toString(), `/r${i}`, `response ${i} went to request ${i}`)
    t.equal(r.info?.reused, i > 0)
  })
  t.equal(conn.requestsServed, 10)
  t.equal(conn.inFlight, 0)
  t.same(events, ['free'], 'one free event for the whole chunk of completions')
  t.equal(srv.connections(), 1)
})

t.test('a request head waits until the previous request body is fully written', async (t) => {
  const order = deferred<string>()
  const srv = await rawServer(t, (socket) => {
    let all = ''
    socket.on('data', (d: Buffer) => {
      all += d.toString('latin1')
      if (all.includes('GET /second')) {
        order.resolve(all)
        socket.write('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n')
      }
    })
  })
  const { conn } = await connect(t, srv.port, { pipelining: 2 })
  let push!: (chunk: Buffer | null) => void
  const body = new Readable({ read() {} })
  push = (chunk) => body.push(chunk)
  const a = collect()
  conn.dispatch(req({ method: 'PUT', path: '/first', body, bodyLength: -1 }), a.handler)
  const b = collect()
  conn.dispatch(req({ path: '/second' }), b.handler)
  push(Buffer.from('part1'))
  setImmediate(() => {
    push(Buffer.from('part2'))
    push(null)
  })
  const wire = await order.promise
  t.equal(
    wire,
    'PUT /first HTTP/1.1\r\nhost: localhost\r\ntransfer-encoding: chunked\r\n\r\n5\r\npart1\r\n5\r\npart2\r\n0\r\n\r\n' +
      'GET /second HTTP/1.1\r\nhost: localhost\r\n\r\n',
  )
  await Promise.all([a.done, b.done])
  t.equal(a.rec.status, 200)
  t.equal(b.rec.status, 200)
})

t.test('failure with requests pipelined: responseStarted tells which ones may be retried', async (t) => {
  const srv = await rawServer(t, (socket) => {
    onRequestHeads(socket, (_head, i) => {
      // First response complete, second one cut in its body, third never started.
      if (i === 2) socket.end('HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\naHTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc')
    })
  })
  const { conn, closed } = await connect(t, srv.port, { pipelining: 3 })
  const [a, b, c] = [collect(), collect(), collect()]
  conn.dispatch(req(), a.handler)
  conn.dispatch(req(), b.handler)
  conn.dispatch(req(), c.handler)
  t.equal((await a.done).body.toString(), 'a')
  const rb = await b.done
  t.type(rb.error, BodyIncompleteError, 'the truncated response is an incomplete body (RFC 9112 §8), not a parse error')
  t.match(rb.error, { code: 'WP_BODY_INCOMPLETE', received: 3, expected: 10, message: /3 of 10 bytes/ })
  t.same(rb.events, ['connect', 'headers', 'error'])
  const rc = await c.done
  t.type(rc.error, SocketClosedError)
  t.equal((rc.error as SocketClosedError).responseStarted, false, 'no byte of the third response: retryable')
  t.equal(rc.error?.cause, rb.error, 'cause is the connection failure')
  t.equal(await closed, rb.error)
})

t.test('pipelined requests behind Connection: close are not answered: they fail as not started', async (t) => {
  const srv = await rawServer(t, (socket) => {
    onRequestHeads(socket, (_h, i) => {
      if (i === 0) socket.write('HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok')
    })
  })
  const { conn, events, closed } = await connect(t, srv.port, { pipelining: 3 })
  const [a, b, c] = [collect(), collect(), collect()]
  conn.dispatch(req(), a.handler)
  conn.dispatch(req(), b.handler)
  conn.dispatch(req(), c.handler)
  t.equal((await a.done).body.toString(), 'ok')
  for (const x of [b, c]) {
    const r = await x.done
    t.type(r.error, SocketClosedError)
    t.equal((r.error as SocketClosedError).responseStarted, false)
  }
  await closed
  t.same(events, ['draining:peer sent Connection: close', 'close'])
})

t.test('body longer than Content-Length is never parsed as the next pipelined response', async (t) => {
  const srv = await rawServer(t, (socket) => {
    onRequestHeads(socket, (_h, i) => {
      if (i === 1) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n11111\r\n')
    })
  })
  const { conn, closed } = await connect(t, srv.port, { pipelining: 2 })
  const [a, b] = [collect(), collect()]
  conn.dispatch(req(), a.handler)
  conn.dispatch(req(), b.handler)
  const ra = await a.done
  t.equal(ra.body.toString(), '1', 'the first response is exactly its declared length')
  const rb = await b.done
  t.type(rb.error, H1ParseError, 'the surplus is a malformed second response')
  t.equal(rb.status, undefined, 'never delivered as a response')
  t.type(await closed, H1ParseError)
})
