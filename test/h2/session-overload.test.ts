import t from 'tap'
import { Agent } from '../../src/index.js'
import { H2StreamResetError } from '../../src/errors.js'
import { H2ErrorCode } from '../../src/h2/frame.js'
import { encodeHeaders, encodeRstStream, encodeSettings, encodeSettingsAck } from '../../src/h2/frame-writer.js'
import { HpackEncoder } from '../../src/h2/hpack.js'
import { Collector, connectH2c, h2cServer, makeRequest, rawPeer, send } from './session-helpers.js'

t.test('ENHANCE_YOUR_CALM before the answer: retryable, and the connection stops taking streams', async (t) => {
  // A raw peer: it answers stream 1 and then resets it, holds 3, 5 and 7, and turns 9 away.
  const hpack = new HpackEncoder()
  let seen = 0
  const peer = await rawPeer(t, (socket, raw) => {
    socket.write(Buffer.concat([encodeSettings([]), encodeSettingsAck()]))
    const poll = (): void => {
      void raw.waitFor((f) => f.kind === 'headers' && f.streamId > seen).then((f) => {
        seen = (f as { streamId: number }).streamId
        if (seen === 1) {
          socket.write(encodeHeaders(1, hpack.encode([':status', '200']), { endStream: false }))
          socket.write(encodeRstStream(1, H2ErrorCode.ENHANCE_YOUR_CALM))
        } else if (seen === 9) {
          socket.write(encodeRstStream(9, H2ErrorCode.ENHANCE_YOUR_CALM))
        }
        poll()
      })
    }
    poll()
  })
  const conn = await connectH2c(t, peer.port)
  const late = (await send(conn).done.catch((e: unknown) => e)) as H2StreamResetError
  t.ok(late instanceof H2StreamResetError)
  t.match(late, { h2CodeName: 'ENHANCE_YOUR_CALM', retryable: false, responseStarted: true }, 'answered first: an ordinary reset')
  const before = conn.capacity
  t.ok(before > 3, `a reset after the answer began leaves the limit alone (${before})`)

  const holds = [send(conn), send(conn), send(conn)]
  const calm = (await send(conn).done.catch((e: unknown) => e)) as H2StreamResetError
  t.ok(calm instanceof H2StreamResetError)
  t.match(calm, { streamId: 9, h2CodeName: 'ENHANCE_YOUR_CALM', retryable: true, responseStarted: false })
  t.equal(conn.capacity, 0, 'the peer carries three streams: no room for a fourth')
  t.equal(conn.retired, false, 'the connection lives on')

  const socket = peer.socket()
  for (const id of [3, 5, 7]) socket.write(encodeHeaders(id, hpack.encode([':status', '204']), { endStream: true }))
  for (const h of holds) t.equal((await h.done).status, 204)
  t.equal(conn.capacity, 3, 'as many streams as the peer showed it carries, never more')
})

t.test('node:http2 out of session memory: requests spread over connections instead of failing', async (t) => {
  // node:http2 counts the response bodies a session has queued against maxSessionMemory (MB)
  // and refuses new streams with ENHANCE_YOUR_CALM past it: six 1 MiB bodies on one
  // session pass 4 MB.
  const body = Buffer.alloc(1024 * 1024, 'x')
  const peer = await h2cServer(
    t,
    (stream) => {
      stream.respond({ ':status': 200, 'content-length': String(body.length) })
      stream.end(body)
    },
    { maxSessionMemory: 4 },
  )
  const agent = new Agent({ h2c: true, connections: 8 })
  t.teardown(() => agent.destroy())
  const sizes = await Promise.all(
    Array.from({ length: 6 }, async () => {
      const res = await agent.request({ origin: peer.origin, path: '/' })
      let n = 0
      for await (const chunk of res.body) n += (chunk as Uint8Array).byteLength
      return n
    }),
  )
  t.same(sizes, Array.from({ length: 6 }, () => body.length), 'every request got its whole body')
  const stats = agent.stats().origins[peer.origin]
  t.ok((stats?.connectionsCreated ?? 0) > 1, `the pool opened more connections (${stats?.connectionsCreated})`)
  t.ok((stats?.retries ?? 0) > 0, `refused streams were sent again (${stats?.retries} retries)`)
})

t.test('responses that end while their reader is paused give their connection credit back', async (t) => {
  // undici's fetch returns false from onData on (nearly) every chunk, so the last chunk of a
  // body is usually taken paused and the END_STREAM comes with it. The credit for those
  // octets must go back to the connection window (RFC 9113 §6.9.1) or, response after
  // response, the window runs dry and every stream on the connection stalls.
  const body = Buffer.alloc(40 * 1024, 'y')
  const peer = await h2cServer(t, (stream) => {
    stream.respond({ ':status': 200, 'content-length': String(body.length) })
    stream.end(body)
  })
  // A small connection window: a leak of one chunk per response empties it within a few dozen.
  const conn = await connectH2c(t, peer.port, { connectionWindow: 128 * 1024, initialStreamWindow: 64 * 1024 })
  for (let i = 0; i < 40; i++) {
    const c = new Collector()
    c.keep = false
    // Paused by the last chunk, which the END_STREAM comes with: the stream ends paused.
    c.onChunk = (received) => (received === body.length ? false : undefined)
    // A stalled connection shows as a body timeout here, not as a hung test.
    conn.dispatch(makeRequest({ bodyTimeout: 2000 }), c)
    const res = await c.done
    t.equal(c.received, body.length, `response ${i} whole`)
    t.equal(res.status, 200)
  }
})
