import { once } from 'node:events'
import * as http2 from 'node:http2'
import t from 'tap'
import { H2GoawayError, H2StreamResetError } from '../../src/errors.js'
import { Collector, connectH2c, h2cServer, makeRequest, send } from './session-helpers.js'

const { NGHTTP2_CANCEL, NGHTTP2_REFUSED_STREAM, NGHTTP2_INTERNAL_ERROR } = http2.constants

t.test('RST_STREAM from the server fails that request only (WP_H2_STREAM_RESET)', async (t) => {
  const peer = await h2cServer(t, (stream, headers) => {
    if (headers[':path'] === '/reset') stream.close(NGHTTP2_INTERNAL_ERROR)
    else if (headers[':path'] === '/refuse') stream.close(NGHTTP2_REFUSED_STREAM)
    else {
      stream.respond({ ':status': 200 })
      stream.end('fine')
    }
  })
  const conn = await connectH2c(t, peer.port)
  const err = (await send(conn, { path: '/reset' }).done.catch((e: unknown) => e)) as H2StreamResetError
  t.ok(err instanceof H2StreamResetError)
  t.match(err, { code: 'WP_H2_STREAM_RESET', h2Code: NGHTTP2_INTERNAL_ERROR, h2CodeName: 'INTERNAL_ERROR', retryable: false, streamId: 1 })
  const refused = (await send(conn, { path: '/refuse' }).done.catch((e: unknown) => e)) as H2StreamResetError
  t.match(refused, { code: 'WP_H2_STREAM_RESET', h2CodeName: 'REFUSED_STREAM', retryable: true, responseStarted: false })
  const ok = await send(conn).done
  t.equal(ok.body.toString(), 'fine', 'the connection lives on')
  t.equal(conn.retired, false)
})

t.test('GOAWAY mid-load: streams above last-stream-id fail with processed:false, the rest finish', async (t) => {
  const held: http2.ServerHttp2Stream[] = []
  let resolveAll!: () => void
  const allSeen = new Promise<void>((r) => (resolveAll = r))
  const peer = await h2cServer(t, (stream) => {
    held.push(stream)
    if (held.length === 10) resolveAll()
  })
  const conn = await connectH2c(t, peer.port)
  const collectors: Collector[] = []
  for (let i = 0; i < 10; i++) collectors.push(send(conn, { path: `/${i}` }))
  await allSeen
  const draining = once(conn, 'draining')
  const closed = once(conn, 'close')
  const session = held[0]!.session!
  // Streams 1, 3, 5, 7, 9 were processed; 11 … 19 were not.
  session.goaway(0, 9)
  const [reason] = await draining
  t.match(reason, /GOAWAY/)
  t.equal(conn.retired, true)
  t.equal(conn.capacity, 0)
  for (const stream of held) {
    if ((stream.id ?? 0) <= 9 && !stream.destroyed) {
      stream.respond({ ':status': 200 })
      stream.end(`done ${stream.id}`)
    }
  }
  const outcomes = await Promise.all(collectors.map((c) => c.done.then((r) => r.body.toString(), (e: unknown) => e)))
  for (let i = 0; i < 10; i++) {
    const id = 1 + 2 * i
    if (id <= 9) t.equal(outcomes[i], `done ${id}`)
    else {
      t.ok(outcomes[i] instanceof H2GoawayError, `stream ${id} failed with H2GoawayError`)
      t.match(outcomes[i], { code: 'WP_H2_GOAWAY', lastStreamId: 9, processed: false, retryable: true, h2CodeName: 'NO_ERROR' })
    }
  }
  const [closeErr] = await closed
  t.equal(closeErr, undefined, 'the connection closed in order once the processed streams finished')
})

t.test('abort sends RST_STREAM(CANCEL), fails with AbortedError, connection lives on', async (t) => {
  let resolveCode!: (code: number) => void
  const codeSeen = new Promise<number>((r) => (resolveCode = r))
  const peer = await h2cServer(t, (stream, headers) => {
    if (headers[':path'] === '/hang') {
      stream.on('close', () => resolveCode(stream.rstCode))
      return
    }
    stream.respond({ ':status': 200 })
    stream.end('ok')
  })
  const conn = await connectH2c(t, peer.port)
  const c = send(conn, { path: '/hang' })
  await once(peer.server, 'stream')
  c.abort!(new Error('user gave up'))
  await t.rejects(c.done, { code: 'WP_ABORTED', message: 'user gave up' })
  t.equal(await codeSeen, NGHTTP2_CANCEL, 'server saw RST_STREAM CANCEL')
  t.equal((await send(conn).done).body.toString(), 'ok')
  // Abort inside onConnect: nothing reaches the wire.
  const early = new Collector()
  early.onConnect = (abort) => abort()
  conn.dispatch(makeRequest(), early)
  await t.rejects(early.done, { code: 'WP_ABORTED' })
  t.equal(conn.inFlight, 0)
  // Abort after completion is a no-op.
  const done = send(conn)
  await done.done
  done.abort!()
  t.equal(conn.retired, false)
})

t.test('many aborts are paced: all requests fail at once, resets trickle within the bucket', async (t) => {
  const resets: number[] = []
  const peer = await h2cServer(
    t,
    (stream) => {
      stream.on('close', () => resets.push(stream.rstCode))
    },
    { settings: { maxConcurrentStreams: 1000 } },
  )
  const conn = await connectH2c(t, peer.port, { maxConcurrentStreams: 300 })
  await conn.ping()
  const collectors: Collector[] = []
  for (let i = 0; i < 210; i++) collectors.push(send(conn))
  while (peer.live.size === 0) await once(peer.server, 'session')
  await conn.ping() // all HEADERS are on the server now
  for (const c of collectors) c.abort!()
  const outcomes = await Promise.all(collectors.map((c) => c.done.then(() => 'ok', (e: { code: string }) => e.code)))
  t.ok(outcomes.every((o) => o === 'WP_ABORTED'), 'every request failed right away')
  t.ok(conn.streamsOpen > 0 && conn.streamsOpen <= 10, `${conn.streamsOpen} resets wait for the pacer`)
  t.equal(conn.inFlight, 0, 'none of them counts as in flight')
  while (conn.streamsOpen > 0) await once(conn, 'free')
  await conn.ping()
  t.equal(resets.filter((c) => c === NGHTTP2_CANCEL).length, 210, 'every stream was eventually reset')
})

t.test('headersTimeout and bodyTimeout fail the stream with RST_STREAM(CANCEL)', async (t) => {
  const codes: number[] = []
  const peer = await h2cServer(t, (stream, headers) => {
    stream.on('close', () => codes.push(stream.rstCode))
    if (headers[':path'] === '/slow-body') {
      stream.respond({ ':status': 200 })
      stream.write('first')
    }
  })
  const conn = await connectH2c(t, peer.port)
  await t.rejects(send(conn, { path: '/silent', headersTimeout: 50 }).done, { code: 'WP_HEADERS_TIMEOUT' })
  // Issue #18: a timed-out request makes the connection suspect (no capacity) until its PING is answered.
  t.equal(conn.capacity, 0, 'suspect after the timeout')
  while (conn.capacity === 0) await once(conn, 'free')
  const c = send(conn, { path: '/slow-body', bodyTimeout: 50 })
  await c.headersSeen
  await t.rejects(c.done, { code: 'WP_BODY_TIMEOUT' })
  t.equal(c.received, 5)
  await conn.ping()
  t.same(codes, [NGHTTP2_CANCEL, NGHTTP2_CANCEL])
  t.equal(conn.retired, false)
})

t.test('a handler that throws fails its request only', async (t) => {
  const peer = await h2cServer(t, (stream) => {
    stream.additionalHeaders({ ':status': 103 })
    stream.respond({ ':status': 200 }, { waitForTrailers: true })
    stream.on('wantTrailers', () => stream.sendTrailers({ x: '1' }))
    stream.end('data')
  })
  const conn = await connectH2c(t, peer.port)
  for (const where of ['onInformational', 'onHeaders', 'onData', 'onTrailers'] as const) {
    const c = new Collector()
    ;(c as unknown as Record<string, () => void>)[where] = () => {
      throw new Error(`boom in ${where}`)
    }
    conn.dispatch(makeRequest(), c)
    await t.rejects(c.done, { code: 'WP_ABORTED', message: 'request handler threw' }, where)
  }
  const c = new Collector()
  c.onConnect = () => {
    throw new Error('boom in onConnect')
  }
  conn.dispatch(makeRequest(), c)
  await t.rejects(c.done, { code: 'WP_ABORTED' })
  const ok = await send(conn).done
  t.equal(ok.body.toString(), 'data')
})
