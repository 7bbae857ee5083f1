import { createHash, randomBytes } from 'node:crypto'
import { once } from 'node:events'
import type { ServerHttp2Stream } from 'node:http2'
import { Readable } from 'node:stream'
import t from 'tap'
import { Collector, connectH2c, h2cServer, makeRequest, send } from './session-helpers.js'

const MiB = 1024 * 1024

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex')
}

/** The server side of an upload: read the whole body, then answer 200 with `<prefix><octets> <sha256 hex>`. */
function answerWithDigest(stream: ServerHttp2Stream, prefix = ''): void {
  const hash = createHash('sha256')
  let n = 0
  stream.on('data', (c: Buffer) => {
    n += c.length
    hash.update(c)
  })
  stream.on('end', () => {
    stream.respond({ ':status': 200 })
    stream.end(`${prefix}${n} ${hash.digest('hex')}`)
  })
}

t.test('16 MiB download arrives intact', async (t) => {
  const payload = randomBytes(16 * MiB)
  const peer = await h2cServer(t, (stream) => {
    stream.respond({ ':status': 200, 'content-length': String(payload.length) })
    stream.end(payload)
  })
  const conn = await connectH2c(t, peer.port)
  const res = await send(conn).done
  t.equal(res.body.length, payload.length)
  t.equal(sha256(res.body), sha256(payload))
})

t.test('16 MiB upload (Uint8Array) arrives intact', async (t) => {
  const payload = randomBytes(16 * MiB)
  const peer = await h2cServer(t, (stream) => answerWithDigest(stream))
  const conn = await connectH2c(t, peer.port)
  const res = await send(conn, { method: 'PUT', body: payload, bodyLength: payload.length }).done
  t.equal(res.body.toString(), `${payload.length} ${sha256(payload)}`)
})

t.test('16 MiB streamed upload (Readable, unknown length) and two uploads interleave fairly', async (t) => {
  const a = randomBytes(16 * MiB)
  const b = randomBytes(4 * MiB)
  const peer = await h2cServer(t, (stream, headers) => answerWithDigest(stream, `${String(headers['content-length'])} `))
  const conn = await connectH2c(t, peer.port)
  function chunks(buf: Buffer, size: number): Readable {
    let at = 0
    return new Readable({
      read() {
        if (at >= buf.length) this.push(null)
        else {
          this.push(buf.subarray(at, at + size))
          at += size
        }
      },
    })
  }
  const order: string[] = []
  const ca = send(conn, { method: 'POST', body: chunks(a, 100_000), bodyLength: -1, idempotent: false })
  const cb = send(conn, { method: 'POST', body: chunks(b, 7_000), bodyLength: b.length, idempotent: false })
  const ra = ca.done.then((r) => (order.push('a'), r))
  const rb = cb.done.then((r) => (order.push('b'), r))
  const [resA, resB] = await Promise.all([ra, rb])
  t.equal(resA.body.toString(), `undefined ${a.length} ${sha256(a)}`)
  t.equal(resB.body.toString(), `${b.length} ${b.length} ${sha256(b)}`)
  t.same(order, ['b', 'a'], 'the small upload is not stuck behind the large one')
})

t.test('async iterable body and a body error fail the request only', async (t) => {
  const peer = await h2cServer(t, (stream) => {
    const parts: Buffer[] = []
    stream.on('data', (c: Buffer) => parts.push(c))
    stream.on('end', () => {
      // A stream the client reset may still see 'end'; answering it would throw.
      if (stream.destroyed || stream.closed) return
      stream.respond({ ':status': 200 })
      stream.end(Buffer.concat(parts))
    })
  })
  const conn = await connectH2c(t, peer.port)
  async function* gen(): AsyncGenerator<Uint8Array | string> {
    yield 'ab'
    yield new Uint8Array([99])
  }
  const ok = await send(conn, { method: "POST", body: gen() as AsyncIterable<Uint8Array>, bodyLength: 3 }).done
  t.equal(ok.body.toString(), 'abc')
  async function* failing(): AsyncGenerator<Uint8Array> {
    yield Buffer.from('x')
    throw new Error('source broke')
  }
  await t.rejects(send(conn, { method: 'POST', body: failing(), bodyLength: -1 }).done, { code: 'WP_ABORTED', message: 'request body stream failed' })
  async function* short(): AsyncGenerator<Uint8Array> {
    yield Buffer.from('x')
  }
  await t.rejects(send(conn, { method: 'POST', body: short(), bodyLength: 5 }).done, { code: 'WP_INVALID_ARG' })
  async function* long(): AsyncGenerator<Uint8Array> {
    yield Buffer.from('xxxxxx')
  }
  await t.rejects(send(conn, { method: 'POST', body: long(), bodyLength: 5 }).done, { code: 'WP_INVALID_ARG' })
  t.throws(() => conn.dispatch(makeRequest({ method: 'POST', body: 'abc', bodyLength: 2 }), new Collector()), { code: 'WP_INVALID_ARG' })
  t.throws(() => conn.dispatch(makeRequest({ method: 'POST', body: 42 as unknown as string, bodyLength: 2 }), new Collector()), { code: 'WP_INVALID_ARG' })
  t.throws(() => conn.dispatch(makeRequest({ upgrade: 'websocket' }), new Collector()), { code: 'WP_INVALID_ARG' })
  t.throws(() => conn.dispatch(makeRequest({ method: 'CONNECT' }), new Collector()), { code: 'WP_INVALID_ARG' })
  const after = await send(conn, { method: 'POST', body: 'still', bodyLength: 5 }).done
  t.equal(after.body.toString(), 'still', 'the connection lives on')
})

t.test('a slow consumer is paused with bounded buffering, then resumes to the end', async (t) => {
  const payload = randomBytes(8 * MiB)
  let serverDone = false
  const peer = await h2cServer(t, (stream) => {
    stream.respond({ ':status': 200 })
    stream.end(payload, () => (serverDone = true))
  })
  const initialStreamWindow = 256 * 1024
  // Connection window 1 MiB: the peer can never be more than 1 MiB ahead of what we delivered.
  const conn = await connectH2c(t, peer.port, { initialStreamWindow, connectionWindow: MiB })
  const c = new Collector()
  let paused = false
  c.onChunk = (received) => {
    if (received >= MiB && !paused) {
      paused = true
      return false
    }
  }
  conn.dispatch(makeRequest(), c)
  await c.headersSeen
  // Let the server push as much as flow control allows while we do not read.
  const pausedAt = await new Promise<number>((resolve) => {
    const started = c.received
    let last = -1
    const check = (): void => {
      if (paused && c.received === last) resolve(c.received)
      else {
        last = c.received
        setImmediate(check)
      }
    }
    void started
    check()
  })
  // Give the peer several round trips to (wrongly) keep sending.
  for (let i = 0; i < 5; i++) await conn.ping()
  t.equal(c.received, pausedAt, 'nothing more is delivered while paused')
  t.notOk(serverDone, 'the server is held back by flow control')
  t.ok(pausedAt >= MiB && pausedAt < MiB + 16_384, `paused right after the chunk that crossed 1 MiB (${pausedAt})`)
  c.onChunk = undefined
  c.resume!()
  const res = await c.done
  t.equal(sha256(res.body), sha256(payload))
})

t.test('resume() inside onData before returning false does not stall', async (t) => {
  const peer = await h2cServer(t, (stream) => {
    stream.respond({ ':status': 200 })
    stream.write(Buffer.alloc(1000, 1))
    setImmediate(() => stream.end(Buffer.alloc(1000, 2)))
  })
  const conn = await connectH2c(t, peer.port)
  const c = new Collector()
  c.onChunk = () => {
    c.resume!()
    return false
  }
  conn.dispatch(makeRequest(), c)
  const res = await c.done
  t.equal(res.body.length, 2000)
})

t.test('onHeaders returning false pauses the body until resume()', async (t) => {
  const peer = await h2cServer(t, (stream) => {
    stream.respond({ ':status': 200, 'content-length': '6' })
    stream.end('abcdef')
  })
  const conn = await connectH2c(t, peer.port)
  const c = new Collector()
  let resumeFn: (() => void) | undefined
  c.onHeaders = (status, headers, resume) => {
    c.status = status
    resumeFn = resume
    return false
  }
  conn.dispatch(makeRequest(), c)
  await conn.ping()
  await conn.ping()
  t.equal(c.received, 0, 'no data while paused from onHeaders')
  resumeFn!()
  const res = await c.done
  t.equal(res.body.toString(), 'abcdef')
})

t.test('peer shrinks INITIAL_WINDOW_SIZE mid-upload: negative window recovers (RFC 9113 §6.9.2)', async (t) => {
  const payload = randomBytes(2 * MiB)
  let resolveStream!: (s: import('node:http2').ServerHttp2Stream) => void
  const streamSeen = new Promise<import('node:http2').ServerHttp2Stream>((r) => (resolveStream = r))
  const peer = await h2cServer(
    t,
    (stream) => {
      resolveStream(stream)
    },
    { settings: { initialWindowSize: 100_000 } },
  )
  const conn = await connectH2c(t, peer.port)
  await conn.ping()
  t.equal(conn.peerSettings.initialWindowSize, 100_000)
  const c = send(conn, { method: 'POST', body: payload, bodyLength: payload.length })
  const stream = await streamSeen
  // The client has sent up to 100,000 octets; the server has not read (paused stream).
  stream.pause()
  const session = stream.session!
  const acked = once(session, 'localSettings')
  session.settings({ initialWindowSize: 1000 })
  await acked
  t.equal(conn.peerSettings.initialWindowSize, 1000)
  // Now read everything: node's WINDOW_UPDATEs bring the window back above zero.
  answerWithDigest(stream)
  stream.resume()
  const res = await c.done
  t.equal(res.body.toString(), `${payload.length} ${sha256(payload)}`)
})

t.test('many streams each downloading 1 MiB complete (BDP window growth is safe mid-stream)', async (t) => {
  const payload = randomBytes(MiB)
  const digest = sha256(payload)
  const peer = await h2cServer(t, (stream) => {
    stream.respond({ ':status': 200 })
    stream.end(payload)
  })
  const conn = await connectH2c(t, peer.port, { initialStreamWindow: 65_535 })
  const all = await Promise.all(Array.from({ length: 8 }, () => send(conn).done))
  for (const res of all) t.equal(sha256(res.body), digest)
  t.ok(conn.localStreamWindow > 65_535, `the BDP estimate grew the stream window to ${conn.localStreamWindow}`)
})

t.test('expect: 100-continue holds the body until 100, until the timeout, or drops it on a final status', async (t) => {
  const peer = await h2cServer(t, (stream, headers) => {
    const path = headers[':path']
    let early = 0
    const parts: Buffer[] = []
    stream.on('data', (c: Buffer) => {
      parts.push(c)
      if (path === '/continue' && !continued) early += c.length
    })
    let continued = false
    const answer = (): void => {
      if (stream.destroyed || stream.closed) return
      stream.respond({ ':status': 200 })
      stream.end(`${String(headers['expect'])} early=${early} ${Buffer.concat(parts).toString()}`)
    }
    if (path === '/continue') {
      // One PING round trip: any DATA the client sent along with HEADERS would be here by then.
      stream.session!.ping(() => {
        continued = true
        stream.additionalHeaders({ ':status': 100 })
        stream.on('end', answer)
      })
    } else if (path === '/refuse') {
      stream.respond({ ':status': 417 }, { endStream: true })
    } else {
      stream.on('end', answer)
    }
  })
  const conn = await connectH2c(t, peer.port, { expectContinueTimeout: 30 })
  const a = await send(conn, { method: 'PUT', path: '/continue', body: 'payload', bodyLength: 7, expectContinue: true }).done
  t.equal(a.body.toString(), '100-continue early=0 payload', 'no byte before 100, all bytes after')
  t.equal(a.informational[0]?.[0], 100)
  const b = await send(conn, { method: 'PUT', path: '/timeout', body: Readable.from([Buffer.from('streamed')]), bodyLength: -1, expectContinue: true }).done
  t.equal(b.body.toString(), '100-continue early=0 streamed', 'sent after expectContinueTimeout')
  const c = await send(conn, { method: 'PUT', path: '/refuse', body: 'never', bodyLength: 5, expectContinue: true }).done
  t.equal(c.status, 417)
  const d = await send(conn, { method: 'GET', path: '/empty', expectContinue: true }).done
  t.equal(d.body.toString(), 'undefined early=0 ', 'no expectation without content')
})

t.test('trailers that arrive while the consumer is paused wait for the buffered body', async (t) => {
  const peer = await h2cServer(t, (stream) => {
    stream.respond({ ':status': 200 }, { waitForTrailers: true })
    stream.on('wantTrailers', () => stream.sendTrailers({ 'x-done': 'yes' }))
    // Two DATA frames for sure: the second is written once the first has left.
    stream.write(Buffer.alloc(1000, 1), () => stream.end(Buffer.alloc(1000, 2)))
  })
  const conn = await connectH2c(t, peer.port)
  const c = new Collector()
  c.onChunk = () => false
  let trailersAt = -1
  c.onTrailers = (trailers) => {
    c.trailers = trailers
    trailersAt = c.received
  }
  conn.dispatch(makeRequest(), c)
  await c.headersSeen
  // Wait until everything (trailers included) has reached us while paused.
  for (let i = 0; i < 3; i++) await conn.ping()
  t.equal(c.received, 1000, 'one chunk delivered, then paused')
  t.equal(c.trailers, undefined, 'trailers wait behind the buffered chunk')
  c.onChunk = undefined
  c.resume!()
  const res = await c.done
  t.equal(res.body.length, 2000)
  t.equal(trailersAt, 2000, 'trailers after the last chunk')
  t.same(res.trailers, { 'x-done': 'yes' })
})
