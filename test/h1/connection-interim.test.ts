/**
 * H1Connection and interim / early responses: 100-continue (both paths), final responses
 * that arrive before the request body, 1xx delivery, and 101 upgrades.
 */
import { once } from 'node:events'
import type * as net from 'node:net'
import { Readable } from 'node:stream'
import t from 'tap'
import { AbortedError, H1ParseError, InvalidArgumentError } from '../../src/errors.js'
import { httpServer, onRequestHeads, rawServer } from '../support/servers.js'
import { collect, connect, deferred, readUntil, req } from './connection-helpers.js'

t.test('expect: 100-continue: the body waits for 100 Continue (node:http checkContinue)', async (t) => {
  const srv = await httpServer(t, () => {})
  srv.server.on('checkContinue', (rq, res) => {
    res.writeContinue()
    const parts: Buffer[] = []
    rq.on('data', (d: Buffer) => parts.push(d))
    rq.on('end', () => res.end(`got:${Buffer.concat(parts).toString()}`))
  })
  const { conn } = await connect(t, srv.port, { expectContinueTimeout: 60_000 })
  const c = collect()
  conn.dispatch(req({ method: 'PUT', body: 'payload', bodyLength: 7, expectContinue: true }), c.handler)
  const r = await c.done
  t.equal(r.body.toString(), 'got:payload')
  t.same(r.events, ['connect', 'informational:100', 'headers', 'complete'])
  t.equal(conn.retired, false, 'reusable after a normal 100-continue exchange')
})

t.test('expect: 100-continue on the wire: head alone, body only after the 100', async (t) => {
  const srv = await rawServer(t, (socket) => {
    void (async () => {
      const head = await readUntil(socket, (d) => d.includes('\r\n\r\n'))
      t.equal(head, 'PUT / HTTP/1.1\r\nhost: localhost\r\ncontent-length: 4\r\nexpect: 100-continue\r\n\r\n', 'only the head so far')
      socket.write('HTTP/1.1 100 Continue\r\n\r\n')
      const body = await readUntil(socket, (d) => d.length >= 4)
      t.equal(body, 'data')
      socket.write('HTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n')
    })()
  })
  const { conn } = await connect(t, srv.port, { expectContinueTimeout: 60_000 })
  const c = collect()
  conn.dispatch(req({ method: 'PUT', body: Buffer.from('data'), bodyLength: 4, expectContinue: true }), c.handler)
  const r = await c.done
  t.equal(r.status, 201)
})

t.test('expect: 100-continue with a streamed body, server silent: body sent after expectContinueTimeout', async (t) => {
  const srv = await rawServer(t, (socket) => {
    void (async () => {
      await readUntil(socket, (d) => d.includes('\r\n\r\n'))
      // No 100: the client must give up waiting and send the body anyway (RFC 9110 §10.1.1).
      const body = await readUntil(socket, (d) => d.endsWith('0\r\n\r\n'))
      t.equal(body, '6\r\nstream\r\n0\r\n\r\n')
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok')
    })()
  })
  const { conn } = await connect(t, srv.port, { expectContinueTimeout: 30 })
  const c = collect()
  const started = Date.now()
  conn.dispatch(req({ method: 'PUT', body: Readable.from([Buffer.from('stream')]), bodyLength: -1, expectContinue: true }), c.handler)
  const r = await c.done
  t.equal(r.body.toString(), 'ok')
  t.ok(Date.now() - started >= 25, 'waited about expectContinueTimeout')
  t.same(r.events, ['connect', 'headers', 'complete'])
})

t.test('expect: 100-continue answered with a final response: body never sent, connection retired', async (t) => {
  const received = deferred<string>()
  const srv = await rawServer(t, (socket) => {
    let all = ''
    socket.on('data', (d: Buffer) => {
      all += d.toString('latin1')
      if (all.endsWith('\r\n\r\n')) socket.write('HTTP/1.1 417 Expectation Failed\r\ncontent-length: 4\r\n\r\nnope')
    })
    socket.on('close', () => received.resolve(all))
  })
  const { conn, events, closed } = await connect(t, srv.port, { expectContinueTimeout: 60_000 })
  const body = new Readable({ read() {} })
  const c = collect()
  conn.dispatch(req({ method: 'PUT', body, bodyLength: 5, expectContinue: true }), c.handler)
  const r = await c.done
  t.equal(r.status, 417)
  t.equal(r.body.toString(), 'nope')
  t.equal(await closed, undefined)
  t.same(events, ['draining:final response arrived before the request body was sent', 'close'])
  t.equal(await received.promise, 'PUT / HTTP/1.1\r\nhost: localhost\r\ncontent-length: 5\r\nexpect: 100-continue\r\n\r\n', 'no body byte sent')
  t.equal(body.destroyed, true, 'the unsent body stream was released')
})

t.test('a body stream that errors while held for 100-continue fails the request and the socket', async (t) => {
  const srv = await rawServer(t, () => {})
  const { conn, closed } = await connect(t, srv.port, { expectContinueTimeout: 60_000 })
  const body = new Readable({ read() {} })
  const c = collect()
  conn.dispatch(req({ method: 'PUT', body, bodyLength: -1, expectContinue: true }), c.handler)
  const boom = new Error('source failed')
  body.destroy(boom)
  const r = await c.done
  t.type(r.error, AbortedError)
  t.equal(r.error?.cause, boom)
  t.equal(await closed, r.error, 'the head promised a body: the socket cannot be reused')
})

t.test('early final response while a body is streaming: stop sending, deliver, retire', async (t) => {
  const srv = await rawServer(t, (socket) => {
    onRequestHeads(socket, () => socket.write('HTTP/1.1 413 Content Too Large\r\ncontent-length: 3\r\n\r\nbig'))
  })
  const { conn, events, closed } = await connect(t, srv.port)
  const body = new Readable({ read() {} })
  body.push(Buffer.from('first part'))
  const c = collect()
  conn.dispatch(req({ method: 'POST', idempotent: false, body, bodyLength: -1 }), c.handler)
  const r = await c.done
  t.equal(r.status, 413)
  t.equal(r.body.toString(), 'big')
  t.same(r.events, ['connect', 'headers', 'complete'])
  await closed
  t.same(events, ['draining:final response arrived before the request body was sent', 'close'])
  t.equal(body.destroyed, true)
})

t.test('103 Early Hints and other 1xx reach onInformational; the final response follows', async (t) => {
  const srv = await rawServer(t, (socket) => {
    onRequestHeads(socket, () =>
      socket.write(
        'HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n' +
          'HTTP/1.1 102 Processing\r\n\r\n' +
          'HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nx',
      ),
    )
  })
  const { conn } = await connect(t, srv.port)
  const c = collect()
  conn.dispatch(req(), c.handler)
  const r = await c.done
  t.same(r.informational, [
    [103, { link: '</style.css>; rel=preload' }],
    [102, {}],
  ])
  t.same(r.events, ['connect', 'informational:103', 'informational:102', 'headers', 'complete'])
  t.equal(conn.retired, false)
})

t.test('an unexpected 100 (no expect) is an interim response like any other (RFC 9110 §15.2)', async (t) => {
  const srv = await rawServer(t, (socket) => {
    onRequestHeads(socket, () => socket.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n'))
  })
  const { conn } = await connect(t, srv.port)
  const c = collect()
  conn.dispatch(req(), c.handler)
  const r = await c.done
  t.equal(r.status, 200)
  t.same(r.events, ['connect', 'informational:100', 'headers', 'complete'])
})

t.test('a handler without onInformational is fine', async (t) => {
  const srv = await rawServer(t, (socket) => {
    onRequestHeads(socket, () => socket.write('HTTP/1.1 103 Early Hints\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n'))
  })
  const { conn } = await connect(t, srv.port)
  const c = collect()
  delete c.handler.onInformational
  conn.dispatch(req(), c.handler)
  t.equal((await c.done).status, 200)
})

t.test('101 for an upgrade request: socket handed over with the bytes after the head', async (t) => {
  const serverSide = deferred<net.Socket>()
  const srv = await rawServer(t, (socket) => {
    void readUntil(socket, (d) => d.includes('\r\n\r\n')).then((head) => {
      t.match(head, /\r\nconnection: upgrade\r\nupgrade: example\/1\r\n\r\n$/)
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: example/1\r\nConnection: Upgrade\r\n\r\nEARLY-FRAME')
      serverSide.resolve(socket)
    })
  })
  const { conn, socket, closed, events } = await connect(t, srv.port)
  const c = collect()
  conn.dispatch(req({ upgrade: 'example/1' }), c.handler)
  const r = await c.done
  t.equal(r.upgrade?.status, 101)
  t.same(r.upgrade?.headers, { upgrade: 'example/1', connection: 'Upgrade' })
  t.equal(r.upgrade?.head.toString(), 'EARLY-FRAME', 'bytes after the head are handed over')
  t.equal(r.upgrade?.socket, socket)
  t.same(r.events, ['connect', 'upgrade'])
  t.equal(await closed, undefined, 'close without error')
  t.same(events, ['close'])
  t.equal(socket.destroyed, false, 'socket not destroyed')
  t.equal(socket.isPaused(), true, 'handed over paused')
  t.equal(conn.requestsServed, 1)
  t.equal(conn.capacity, 0)
  t.equal(socket.listenerCount('data'), 0, 'our listeners are gone')
  // The new owner speaks its protocol on the socket.
  const server = await serverSide.promise
  socket.on('data', (d: Buffer) => socket.write(Buffer.from(d.toString().toUpperCase())))
  socket.resume()
  server.write('ping')
  t.equal(await readUntil(server, (d) => d === 'PING'), 'PING')
  socket.destroy()
  await once(socket, 'close')
})

t.test('101 for a request that asked no upgrade is an error', async (t) => {
  const srv = await rawServer(t, (socket) => {
    onRequestHeads(socket, () => socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: example/1\r\nConnection: Upgrade\r\n\r\n'))
  })
  const { conn, closed } = await connect(t, srv.port)
  const c = collect()
  conn.dispatch(req(), c.handler)
  const r = await c.done
  t.type(r.error, H1ParseError)
  t.match(r.error?.message, /asked for no upgrade/)
  t.equal(await closed, r.error)
})

t.test('101 with a handler lacking onUpgrade: onError, socket destroyed', async (t) => {
  const srv = await rawServer(t, (socket) => {
    onRequestHeads(socket, () => socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n'))
  })
  const { conn, socket, closed } = await connect(t, srv.port)
  const c = collect({ noUpgradeHandler: true })
  conn.dispatch(req({ upgrade: 'x' }), c.handler)
  const r = await c.done
  t.type(r.error, InvalidArgumentError)
  t.equal(await closed, r.error)
  t.equal(socket.destroyed, true)
})

t.test('101 with neither onUpgrade nor a working onError is contained', async (t) => {
  const srv = await rawServer(t, (socket) => {
    onRequestHeads(socket, () => socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n'))
  })
  const { conn, closed } = await connect(t, srv.port)
  const c = collect({ noUpgradeHandler: true })
  const original = c.handler.onError.bind(c.handler)
  c.handler.onError = (err) => {
    original(err)
    throw new Error('onError bug')
  }
  conn.dispatch(req({ upgrade: 'x' }), c.handler)
  t.type((await c.done).error, InvalidArgumentError)
  t.type(await closed, InvalidArgumentError)
})

t.test('onUpgrade throwing: onError with the cause, socket destroyed', async (t) => {
  const srv = await rawServer(t, (socket) => {
    onRequestHeads(socket, () => socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n'))
  })
  const { conn, socket, closed } = await connect(t, srv.port)
  const boom = new Error('handler bug')
  const c = collect({ noUpgradeHandler: true })
  c.handler.onUpgrade = () => {
    throw boom
  }
  conn.dispatch(req({ upgrade: 'x' }), c.handler)
  const r = await c.done
  t.type(r.error, AbortedError)
  t.equal(r.error?.cause, boom)
  t.equal(await closed, r.error)
  t.equal(socket.destroyed, true)
})

t.test('an upgrade the server declines is an ordinary response', async (t) => {
  const srv = await httpServer(t, (_rq, res) => res.end('plain'))
  const { conn } = await connect(t, srv.port)
  const c = collect()
  conn.dispatch(req({ upgrade: 'websocket' }), c.handler)
  const r = await c.done
  t.equal(r.body.toString(), 'plain')
  t.equal(conn.capacity, 1, 'the connection is free again')
})

t.test('HEAD with Content-Length: no body is read, the connection is reused (RFC 9112 §6.3 rule 1)', async (t) => {
  const srv = await rawServer(t, (socket) => {
    onRequestHeads(socket, (head) => {
      if (head.startsWith('HEAD ')) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n')
      else socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')
    })
  })
  const { conn, events } = await connect(t, srv.port)
  const head = collect()
  conn.dispatch(req({ method: 'HEAD' }), head.handler)
  const r = await head.done
  t.equal(r.status, 200)
  t.equal(r.body.length, 0, 'no body')
  t.same(r.events, ['connect', 'headers', 'complete'])
  const get = collect()
  conn.dispatch(req(), get.handler)
  t.equal((await get.done).body.toString(), 'ok', 'the next response is read from right after the HEAD head')
  t.equal(conn.requestsServed, 2)
  t.notOk(events.some((e) => e.startsWith('draining')), 'never retired')
})

t.test('HEAD without any length is not close-delimited: the connection stays', async (t) => {
  const srv = await rawServer(t, (socket) => {
    onRequestHeads(socket, () => socket.write('HTTP/1.1 200 OK\r\n\r\n'))
  })
  const { conn, events } = await connect(t, srv.port)
  const c = collect()
  conn.dispatch(req({ method: 'HEAD' }), c.handler)
  t.equal((await c.done).status, 200)
  t.equal(conn.capacity, 1)
  t.notOk(events.some((e) => e.startsWith('draining')))
})

t.test('CONNECT 2xx: the connection becomes a tunnel handed to onUpgrade (RFC 9112 §6.3 rule 2)', async (t) => {
  const srv = await rawServer(t, (socket) => {
    onRequestHeads(socket, () => socket.write('HTTP/1.1 200 Connection Established\r\nContent-Length: 3\r\n\r\nTUNNEL-BYTES'))
  })
  const { conn, socket, closed } = await connect(t, srv.port)
  const c = collect()
  conn.dispatch(req({ method: 'CONNECT', path: 'example.com:443', idempotent: false }), c.handler)
  const r = await c.done
  t.equal(r.upgrade?.status, 200)
  t.equal(r.upgrade?.head.toString(), 'TUNNEL-BYTES', 'no byte is read as a body')
  t.equal(r.upgrade?.socket, socket)
  t.equal(await closed, undefined)
  t.equal(conn.capacity, 0)
  socket.destroy()
})

t.test('CONNECT answered otherwise is an ordinary response', async (t) => {
  const srv = await rawServer(t, (socket) => {
    onRequestHeads(socket, () => socket.write('HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 2\r\n\r\nno'))
  })
  const { conn } = await connect(t, srv.port)
  const c = collect()
  conn.dispatch(req({ method: 'CONNECT', path: 'example.com:443', idempotent: false }), c.handler)
  const r = await c.done
  t.equal(r.status, 407)
  t.equal(r.body.toString(), 'no')
  t.equal(conn.capacity, 1, 'the connection is free again')
})

t.test('a CONNECT must be alone on the connection', async (t) => {
  const srv = await rawServer(t, () => {})
  const { conn } = await connect(t, srv.port, { pipelining: 2 })
  conn.dispatch(req(), collect().handler)
  t.throws(() => conn.dispatch(req({ method: 'CONNECT', path: 'example.com:443' }), collect().handler), InvalidArgumentError)
  conn.destroy()
})
