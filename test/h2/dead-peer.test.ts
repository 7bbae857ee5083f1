/**
 * Issue #18: a dead HTTP/2 connection (the peer completes the preface and SETTINGS, then stops
 * reading and sends nothing) must not hang requests or the origin. A raw node:net listener plays
 * the dead peer on the connections the test names and hands every other connection to a real
 * node:http2 server, so the pool has somewhere healthy to go.
 */
import t from 'tap'
import http2 from 'node:http2'
import * as net from 'node:net'
import { Pool, type ConnectionEvent } from '../../src/index.js'
import { encodeSettings, encodeSettingsAck } from '../../src/h2/frame-writer.js'
import { listenLoopback } from '../support/servers.js'
import type { Teardown } from './session-helpers.js'

interface Origin {
  origin: string
  /** Connections accepted, dead or alive. */
  accepted: () => number
  /** PING frames the healthy server received. */
  pings: () => number
}

/**
 * `dead(i)`: connection i (0-based) is a dead peer; the others are served by node:http2 with
 * `handler`. The dead peer waits for the client preface, sends an empty SETTINGS and a SETTINGS
 * ACK (RFC 9113 §3.4), then stops reading and never writes again.
 */
async function deadOrAlive(t: Teardown, dead: (i: number) => boolean, handler: (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => void): Promise<Origin> {
  const h2 = http2.createServer()
  const sessions = new Set<http2.ServerHttp2Session>()
  let pings = 0
  h2.on('session', (s) => {
    sessions.add(s)
    s.on('close', () => sessions.delete(s))
    s.on('ping', () => pings++)
  })
  h2.on('stream', (stream, headers) => {
    stream.on('error', () => {})
    handler(stream, headers)
  })
  const sockets = new Set<net.Socket>()
  let accepted = 0
  const server = net.createServer((socket) => {
    const i = accepted++
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    if (!dead(i)) {
      h2.emit('connection', socket)
      return
    }
    socket.once('data', () => {
      socket.write(Buffer.concat([encodeSettings([]), encodeSettingsAck()]))
      // From here on: read nothing, send nothing.
      socket.pause()
    })
  })
  const port = await listenLoopback(t, server, () => [...sockets, ...sessions])
  return { origin: `http://127.0.0.1:${port}`, accepted: () => accepted, pings: () => pings }
}

/** The outcome of `p`, or a failure of the test when it has not settled within `ms`. */
function settleWithin<T>(p: Promise<T>, ms: number, what: string): Promise<{ ok: T } | { err: { code?: string; name?: string } }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms)
    p.then(
      (ok) => {
        clearTimeout(timer)
        resolve({ ok })
      },
      (err: { code?: string; name?: string }) => {
        clearTimeout(timer)
        resolve({ err })
      },
    )
  })
}


t.test('a dead peer with default liveness options: stalled sends fail with WP_SEND_TIMEOUT, later GETs go to a new connection, close() resolves', async (t) => {
  const srv = await deadOrAlive(t, (i) => i === 0, (stream) => {
    stream.respond({ ':status': 200 })
    stream.end('alive')
  })
  // Only the timeouts are set (scaled down from the 2.5 s); liveness is left at its defaults.
  const pool = new Pool(srv.origin, { h2c: true, connections: 2, headersTimeout: 500, bodyTimeout: 500 })
  const events: ConnectionEvent[] = []
  pool.on('connection', (e) => events.push(e))
  t.teardown(() => pool.destroy())

  const started = performance.now()
  // The 1 MiB body takes the whole 65,535-octet connection window of the peer (RFC 9113
  // §6.9.2 default) and then waits; the 10-byte body then finds no connection window at all.
  const big = settleWithin(pool.request({ path: '/big', method: 'POST', body: Buffer.alloc(1024 * 1024, 7) }), 5000, 'the 1 MiB POST')
  const small = settleWithin(pool.request({ path: '/small', method: 'POST', body: Buffer.from('0123456789') }), 5000, 'the 10-byte POST')
  const [bigOut, smallOut] = await Promise.all([big, small])
  const elapsed = performance.now() - started
  t.equal('err' in bigOut && bigOut.err.code, 'WP_SEND_TIMEOUT', 'the 1 MiB POST fails with the send timeout')
  t.equal('err' in bigOut && bigOut.err.name, 'SendTimeoutError')
  t.equal('err' in smallOut && smallOut.err.code, 'WP_SEND_TIMEOUT', 'the 10-byte POST blocked on the connection window fails too')
  t.ok(elapsed >= 450 && elapsed < 3000, `settled after the body timeout (${elapsed.toFixed(0)} ms)`)
  t.equal(srv.accepted(), 1, 'both POSTs went on the one connection')

  // The connection that timed out is suspect: GETs are not sent into it.
  const gets = await Promise.all(
    [1, 2, 3].map((n) => settleWithin(pool.request({ path: `/get${n}` }).then((res) => res.body.text()), 5000, `GET ${n}`)),
  )
  for (const out of gets) t.same(out, { ok: 'alive' }, 'a GET after the timeouts is answered')
  t.equal(srv.accepted(), 2, 'the pool opened a second connection for them')

  const closed = await settleWithin(pool.close(), 5000, 'pool.close()')
  t.ok('ok' in closed, 'close() resolves')
  t.equal(pool.connections().length, 0, 'no connection left after close()')
  t.ok(events.some((e) => e.to === 'closed'), 'the lifecycle events report the closes')
})

t.test('liveness: an unanswered PING closes the connection (reason in the events), an idempotent request goes again on a new one', async (t) => {
  const srv = await deadOrAlive(t, (i) => i === 0, (stream) => {
    stream.respond({ ':status': 200 })
    stream.end('second connection')
  })
  // No request deadline at all: only liveness can find the dead connection.
  const pool = new Pool(srv.origin, { h2c: true, headersTimeout: 0, bodyTimeout: 0, readIdleTimeout: 150, pingTimeout: 150 })
  const events: ConnectionEvent[] = []
  pool.on('connection', (e) => events.push(e))
  t.teardown(() => pool.destroy())
  const out = await settleWithin(pool.request({ path: '/' }).then((res) => res.body.text()), 5000, 'the GET')
  t.same(out, { ok: 'second connection' }, 'the GET was retried on a new connection and answered')
  t.equal(srv.accepted(), 2)
  const first = events[0]?.id
  const retired = events.find((e) => e.id === first && e.to === 'draining')
  t.match(retired?.reason, /ping-timeout/, 'the lifecycle event says why the connection was retired')
  t.equal(pool.stats().errors['retired:ping-timeout'], 1, 'stats() counts the retirement under its reason')

  // A POST is not retried: it fails with the typed error.
  const srv2 = await deadOrAlive(t, () => true, () => {})
  const pool2 = new Pool(srv2.origin, { h2c: true, headersTimeout: 0, bodyTimeout: 0, readIdleTimeout: 150, pingTimeout: 150 })
  t.teardown(() => pool2.destroy())
  const post = await settleWithin(pool2.request({ path: '/', method: 'POST', body: 'x' }), 5000, 'the POST')
  t.equal('err' in post && post.err.name, 'PingTimeoutError', 'the POST fails with PingTimeoutError')
  t.equal(srv2.accepted(), 1, 'and is not sent again')
  await pool.close()
  await pool2.close()
})

t.test('liveness: a slow but healthy response is never killed (its PINGs are answered)', async (t) => {
  const srv = await deadOrAlive(t, () => false, (stream) => {
    const timer = setTimeout(() => {
      stream.respond({ ':status': 200 })
      stream.end('slow')
    }, 1200)
    stream.on('close', () => clearTimeout(timer))
  })
  const pool = new Pool(srv.origin, { h2c: true, headersTimeout: 0, readIdleTimeout: 100, pingTimeout: 200 })
  t.teardown(() => pool.destroy())
  const out = await settleWithin(pool.request({ path: '/' }).then((res) => res.body.text()), 5000, 'the slow GET')
  t.same(out, { ok: 'slow' })
  t.equal(srv.accepted(), 1, 'one connection, never replaced')
  t.ok(srv.pings() >= 3, `the silent connection was probed (${srv.pings()} PINGs)`)
  await pool.close()
})
