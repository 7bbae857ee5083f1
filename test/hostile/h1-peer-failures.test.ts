/**
 * H1Connection failures: timeouts, aborts, malformed and unsolicited responses, peers that
 * go away, and handlers that throw. Every affected handler hears exactly one terminal call.
 */
import t, { type Test } from 'tap'
import {
  AbortedError,
  BodyTimeoutError,
  H1ParseError,
  HeadersTimeoutError,
  SocketClosedError,
} from '../../src/errors.js'
import { httpServer, onRequestHeads, rawServer } from '../support/servers.js'
import { collect, connect, deferred, req } from '../h1/connection-helpers.js'

t.test('headersTimeout: no response head in time', async (t) => {
  const srv = await rawServer(t, () => {})
  const { conn, socket, closed } = await connect(t, srv.port)
  const c = collect()
  conn.dispatch(req({ headersTimeout: 40 }), c.handler)
  const r = await c.done
  t.type(r.error, HeadersTimeoutError)
  t.equal(r.error?.code, 'WP_HEADERS_TIMEOUT')
  t.equal(r.error?.origin, `http://127.0.0.1:${srv.port}`)
  t.equal(await closed, r.error)
  t.equal(socket.destroyed, true)
  t.same(r.events, ['connect', 'error'])
})

t.test('headersTimeout does not fire once the head arrived (slow chunked heartbeat)', async (t) => {
  const srv = await rawServer(t, (socket) => {
    onRequestHeads(socket, () => {
      socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n')
      setTimeout(() => socket.write('1\r\n\n\r\n'), 80)
      setTimeout(() => socket.write('1\r\n\n\r\n0\r\n\r\n'), 160)
    })
  })
  const { conn } = await connect(t, srv.port)
  const c = collect()
  conn.dispatch(req({ headersTimeout: 50, bodyTimeout: 1000 }), c.handler)
  const r = await c.done
  t.equal(r.error, undefined)
  t.equal(r.body.toString(), '\n\n')
})

t.test('bodyTimeout: body bytes stop coming', async (t) => {
  const srv = await rawServer(t, (socket) => {
    onRequestHeads(socket, () => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc'))
  })
  const { conn, closed } = await connect(t, srv.port)
  const c = collect()
  conn.dispatch(req({ bodyTimeout: 40 }), c.handler)
  const r = await c.done
  t.type(r.error, BodyTimeoutError)
  t.equal(r.body.toString(), 'abc')
  t.same(r.events, ['connect', 'headers', 'error'])
  t.equal(await closed, r.error)
})

t.test('bodyTimeout measures the server, not a paused consumer', async (t) => {
  const srv = await rawServer(t, (socket) => {
    onRequestHeads(socket, () => {
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nabc')
      setTimeout(() => socket.write('def'), 20)
    })
  })
  const { conn } = await connect(t, srv.port)
  let first = true
  const c = collect({
    onData(_chunk, rec) {
      if (!first) return true
      first = false
      setTimeout(() => rec.resume?.(), 150) // paused for several bodyTimeouts
      return false
    },
  })
  conn.dispatch(req({ bodyTimeout: 50 }), c.handler)
  const r = await c.done
  t.equal(r.error, undefined)
  t.equal(r.body.toString(), 'abcdef')
})

t.test('timeouts of 0 are disabled', async (t) => {
  const srv = await rawServer(t, (socket) => {
    onRequestHeads(socket, () => setTimeout(() => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nx'), 30))
  })
  const { conn } = await connect(t, srv.port)
  const c = collect()
  conn.dispatch(req({ headersTimeout: 0, bodyTimeout: 0 }), c.handler)
  t.equal((await c.done).status, 200)
})

t.test('pipelined requests: the headers timer restarts for each response in turn', async (t) => {
  const srv = await rawServer(t, (socket) => {
    onRequestHeads(socket, (_h, i) => {
      if (i === 1) {
        socket.write('HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\na')
        setTimeout(() => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nb'), 30)
      }
    })
  })
  const { conn } = await connect(t, srv.port, { pipelining: 2 })
  const [a, b] = [collect(), collect()]
  conn.dispatch(req({ headersTimeout: 1000 }), a.handler)
  conn.dispatch(req({ headersTimeout: 1000 }), b.handler)
  t.equal((await a.done).body.toString(), 'a')
  t.equal((await b.done).body.toString(), 'b')
})

t.test('abort inside onConnect, before anything was written: the connection is unaffected', async (t) => {
  const seen: string[] = []
  const srv = await rawServer(t, (socket) => {
    onRequestHeads(socket, (head) => {
      seen.push(head.split('\r\n')[0] ?? '')
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n')
    })
  })
  const { conn, events } = await connect(t, srv.port)
  const reason = new Error('user changed their mind')
  const c = collect({ onConnect: (abort) => abort(reason) })
  conn.dispatch(req({ path: '/aborted' }), c.handler)
  const r = await c.done
  t.type(r.error, AbortedError)
  t.equal(r.error?.cause, reason)
  t.equal(r.error?.message, 'user changed their mind')
  t.equal(conn.inFlight, 0)
  t.equal(conn.retired, false)
  await new Promise<void>((resolve) => conn.once('free', () => resolve()))
  t.same(events, ['free'], 'capacity came back')
  const ok = collect()
  conn.dispatch(req({ path: '/next' }), ok.handler)
  t.equal((await ok.done).status, 200)
  t.same(seen, ['GET /next HTTP/1.1'], 'the aborted request never reached the server')
  t.same(r.events, ['connect', 'error'])
})

t.test('onConnect throwing fails that request alone', async (t) => {
  const srv = await httpServer(t, (_rq, res) => res.end())
  const { conn } = await connect(t, srv.port)
  const boom = new Error('bad handler')
  const c = collect({
    onConnect: () => {
      throw boom
    },
  })
  conn.dispatch(req(), c.handler)
  const r = await c.done
  t.type(r.error, AbortedError)
  t.equal(r.error?.cause, boom)
  t.equal(conn.retired, false)
})

t.test('abort while waiting for the response: AbortedError, socket destroyed, others SocketClosedError', async (t) => {
  const srv = await rawServer(t, () => {})
  const { conn, socket, closed } = await connect(t, srv.port, { pipelining: 2 })
  const a = collect()
  const b = collect()
  conn.dispatch(req(), a.handler)
  conn.dispatch(req(), b.handler)
  a.rec.abort?.()
  const ra = await a.done
  t.type(ra.error, AbortedError)
  t.equal(ra.error?.message, 'request aborted')
  t.equal(ra.error?.cause, undefined)
  const rb = await b.done
  t.type(rb.error, SocketClosedError)
  t.equal((rb.error as SocketClosedError).responseStarted, false)
  t.equal(await closed, ra.error)
  t.equal(socket.destroyed, true)
  a.rec.abort?.() // after the fact: no-op
  t.same(ra.events, ['connect', 'error'])
  t.same(rb.events, ['connect', 'error'])
})

t.test('abort from inside onData: no more data, AbortedError, socket destroyed', async (t) => {
  const srv = await rawServer(t, (socket) => {
    onRequestHeads(socket, () => {
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nfirst')
      setImmediate(() => socket.write('second'))
    })
  })
  const { conn, closed } = await connect(t, srv.port)
  const c = collect({
    onData(_chunk, rec) {
      rec.abort?.(new Error('enough'))
    },
  })
  conn.dispatch(req(), c.handler)
  const r = await c.done
  t.type(r.error, AbortedError)
  t.equal(r.chunks, 1, 'no onData after the abort')
  t.same(r.events, ['connect', 'headers', 'error'])
  t.type(await closed, AbortedError)
})

t.test('abort after completion is a no-op', async (t) => {
  const srv = await httpServer(t, (_rq, res) => res.end('x'))
  const { conn, events } = await connect(t, srv.port)
  const c = collect()
  conn.dispatch(req(), c.handler)
  await c.done
  c.rec.abort?.()
  t.equal(conn.retired, false)
  t.same(events, ['free'])
})

t.test('a malformed response: H1ParseError with origin, socket destroyed', async (t) => {
  const srv = await rawServer(t, (socket) => {
    onRequestHeads(socket, () => socket.write('HTTP/1.1 200 OK\r\nFoo: Bar\rContent-Length: 1\r\n\r\n'))
  })
  const { conn, socket, closed } = await connect(t, srv.port)
  const c = collect()
  conn.dispatch(req(), c.handler)
  const r = await c.done
  t.type(r.error, H1ParseError)
  t.equal(r.error?.origin, `http://127.0.0.1:${srv.port}`)
  t.equal(await closed, r.error)
  t.equal(socket.destroyed, true)
})

t.test('peer closes before any response byte: responseStarted false (retryable)', async (t) => {
  const srv = await rawServer(t, (socket) => onRequestHeads(socket, () => socket.end()))
  const { conn, closed } = await connect(t, srv.port)
  const c = collect()
  conn.dispatch(req(), c.handler)
  const r = await c.done
  t.type(r.error, SocketClosedError)
  t.equal((r.error as SocketClosedError).responseStarted, false)
  t.type(await closed, SocketClosedError)
})

t.test('peer resets before any response byte: SocketClosedError with the reset as cause', async (t) => {
  const srv = await rawServer(t, (socket) => onRequestHeads(socket, () => socket.resetAndDestroy()))
  const { conn } = await connect(t, srv.port)
  const c = collect()
  conn.dispatch(req(), c.handler)
  const r = await c.done
  t.type(r.error, SocketClosedError)
  t.equal((r.error as SocketClosedError).responseStarted, false)
  t.match((r.error?.cause as NodeJS.ErrnoException | undefined)?.code, /ECONNRESET|EPIPE/)
})

t.test('peer closes after part of the head: responseStarted true', async (t) => {
  const srv = await rawServer(t, (socket) => onRequestHeads(socket, () => socket.end('HTTP/1.1 200 OK\r\nX-Partial')))
  const { conn } = await connect(t, srv.port)
  const c = collect()
  conn.dispatch(req(), c.handler)
  const r = await c.done
  t.equal(r.error?.code, 'WP_H1_PARSE', 'a head cut by EOF is an incomplete message')
  t.same(r.events, ['connect', 'error'])
})

t.test('connection destroyed after the head arrived: SocketClosedError with responseStarted true', async (t) => {
  const srv = await rawServer(t, (socket) => onRequestHeads(socket, () => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nab')))
  const { conn } = await connect(t, srv.port)
  const c = collect({ onData: () => void setImmediate(() => conn.destroy()) })
  conn.dispatch(req(), c.handler)
  const r = await c.done
  t.type(r.error, SocketClosedError)
  t.equal((r.error as SocketClosedError).responseStarted, true)
  t.match(r.error?.message, /before the response completed/)
})

t.test('socket destroyed underneath the connection: in-flight requests get SocketClosedError', async (t) => {
  const srv = await rawServer(t, () => {})
  const { conn, socket, closed } = await connect(t, srv.port)
  const c = collect()
  conn.dispatch(req(), c.handler)
  socket.destroy()
  const r = await c.done
  t.type(r.error, SocketClosedError)
  t.equal((r.error as SocketClosedError).responseStarted, false)
  t.type(await closed, SocketClosedError)
})

t.test('a throwing free listener fails the connection instead of escaping the socket callback', async (t) => {
  const srv = await rawServer(t, (socket) => onRequestHeads(socket, () => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n')))
  const { conn, closed } = await connect(t, srv.port)
  const boom = new Error('pool bug')
  conn.on('free', () => {
    throw boom
  })
  const c = collect()
  conn.dispatch(req(), c.handler)
  t.equal((await c.done).status, 200)
  const err = await closed
  t.type(err, SocketClosedError)
  t.equal(err?.cause, boom)
})

t.test('unsolicited response on an idle connection: close with H1ParseError (response queue poisoning)', async (t) => {
  const srv = await rawServer(t, (socket) => {
    onRequestHeads(socket, () => {
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n', () =>
        setTimeout(() => socket.write('HTTP/1.1 200 OK\r\nPoison: true\r\nContent-Length: 0\r\n\r\n'), 20),
      )
    })
  })
  const { conn, closed } = await connect(t, srv.port)
  const c = collect()
  conn.dispatch(req(), c.handler)
  t.equal((await c.done).status, 200)
  const err = await closed
  t.type(err, H1ParseError)
  t.match(err?.message, /no request in flight/)
  t.equal(conn.capacity, 0)
  t.same(c.rec.events, ['connect', 'headers', 'complete'])
})

t.test('a partial unsolicited response on an idle connection also closes it', async (t) => {
  const srv = await rawServer(t, (socket) => {
    onRequestHeads(socket, () => {
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n', () => setTimeout(() => socket.write('HTTP/1.1 2'), 20))
    })
  })
  const { conn, closed } = await connect(t, srv.port)
  const c = collect()
  conn.dispatch(req(), c.handler)
  await c.done
  t.type(await closed, H1ParseError)
})

t.test('stale socket: a peer FIN on an idle connection emits close promptly, without error', async (t) => {
  const srv = await rawServer(t, (socket) => {
    onRequestHeads(socket, () => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n', () => setImmediate(() => socket.end())))
  })
  const { conn, closed, events } = await connect(t, srv.port)
  const c = collect()
  conn.dispatch(req(), c.handler)
  await c.done
  t.equal(await closed, undefined)
  t.same(events, ['free', 'close'])
  t.equal(conn.capacity, 0)
  t.equal(conn.retired, true)
  t.throws(() => conn.dispatch(req(), collect().handler))
})

t.test('stale socket: a peer RST on an idle connection emits close', async (t) => {
  const srv = await rawServer(t, (socket) => {
    onRequestHeads(socket, () => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n', () => setImmediate(() => socket.resetAndDestroy())))
  })
  const { conn, closed } = await connect(t, srv.port)
  const c = collect()
  conn.dispatch(req(), c.handler)
  await c.done
  const err = await closed
  // Linux may report the reset of an idle socket as a plain EOF: either way the pool hears
  // 'close' at once, with no request to fail.
  t.ok(err === undefined || err instanceof SocketClosedError, 'closed, no other error kind')
  t.equal(conn.capacity, 0)
})

/** A server that answers every request with a chunked body + trailers, in one write. */
async function fullServer(t: Test, withInterim = false): Promise<number> {
  const srv = await rawServer(t, (socket) => {
    onRequestHeads(socket, () =>
      socket.write(
        (withInterim ? 'HTTP/1.1 103 Early Hints\r\n\r\n' : '') +
          'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nx-t: 1\r\n\r\n',
      ),
    )
  })
  return srv.port
}

for (const callback of ['onInformational', 'onHeaders', 'onData', 'onTrailers'] as const) {
  t.test(`${callback} throwing: AbortedError with the cause, once, and the socket is destroyed`, async (t) => {
    const port = await fullServer(t, callback === 'onInformational')
    const { conn, socket, closed } = await connect(t, port)
    const boom = new Error(`${callback} bug`)
    const c = collect()
    const original = c.handler[callback] as (...args: unknown[]) => unknown
    c.handler[callback] = ((...args: unknown[]) => {
      original.apply(c.handler, args)
      throw boom
    }) as never
    conn.dispatch(req(), c.handler)
    const r = await c.done
    t.type(r.error, AbortedError)
    t.equal(r.error?.cause, boom)
    t.equal(r.events.filter((e) => e === 'error').length, 1)
    t.notOk(r.events.some((e) => e.startsWith('late:')), 'nothing after the error')
    t.equal(await closed, r.error)
    t.equal(socket.destroyed, true)
  })
}

t.test('onComplete throwing: the request stays completed, the connection closes', async (t) => {
  const port = await fullServer(t)
  const { conn, closed } = await connect(t, port)
  const boom = new Error('complete bug')
  const c = collect({
    onComplete: () => {
      throw boom
    },
  })
  conn.dispatch(req(), c.handler)
  const r = await c.done
  t.equal(r.error, undefined)
  const err = await closed
  t.type(err, AbortedError)
  t.equal(err?.cause, boom)
  t.same(r.events, ['connect', 'headers', 'trailers', 'complete'])
})

t.test('onError throwing is contained', async (t) => {
  const srv = await rawServer(t, () => {})
  const { conn, closed } = await connect(t, srv.port, { pipelining: 2 })
  const a = collect()
  const original = a.handler.onError.bind(a.handler)
  a.handler.onError = (err) => {
    original(err)
    throw new Error('onError bug')
  }
  const b = collect()
  conn.dispatch(req(), a.handler)
  conn.dispatch(req(), b.handler)
  conn.destroy()
  t.type((await a.done).error, SocketClosedError)
  t.type((await b.done).error, SocketClosedError, 'the next handler still hears of it')
  await closed
})

t.test('a draining listener that destroys the connection mid-response is safe', async (t) => {
  const srv = await rawServer(t, (socket) => {
    onRequestHeads(socket, () => socket.write('HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 1\r\n\r\nx'))
  })
  const { conn, closed } = await connect(t, srv.port)
  conn.on('draining', () => conn.destroy())
  const c = collect()
  conn.dispatch(req(), c.handler)
  const r = await c.done
  t.type(r.error, SocketClosedError)
  t.same(r.events, ['connect', 'error'])
  await closed
})

t.test('a request dispatched from inside onComplete is written after the chunk is parsed', async (t) => {
  const gate = deferred<void>()
  let served = 0
  const srv = await rawServer(t, (socket) => {
    onRequestHeads(socket, () => {
      served++
      socket.write(`HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\n${served}`)
      if (served === 2) gate.resolve()
    })
  })
  const { conn } = await connect(t, srv.port)
  const second = collect()
  const first = collect({ onComplete: () => conn.dispatch(req(), second.handler) })
  conn.dispatch(req(), first.handler)
  t.equal((await first.done).body.toString(), '1')
  t.equal((await second.done).body.toString(), '2')
  await gate.promise
})
