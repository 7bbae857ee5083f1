/**
 * H2Connection against a raw node:net peer writing hand-made frames: malformed responses,
 * protocol violations and floods, each answered with the right RST_STREAM or GOAWAY code.
 */
import type * as net from 'node:net'
import t, { type Test } from 'tap'
import { H2ProtocolError, H2StreamResetError } from '../../src/errors.js'
import { Flag, FrameType, H2ErrorCode, SettingsId } from '../../src/h2/frame.js'
import { dataFrameHeader, encodeContinuation, encodeData, encodeGoaway, encodeHeaders, encodePing, encodePushPromise, encodeRstStream, encodeSettings, encodeSettingsAck, encodeWindowUpdate } from '../../src/h2/frame-writer.js'
import { HpackEncoder } from '../../src/h2/hpack.js'
import { rawFrame } from '../support/h2-frames.js'
import type { FrameRecord } from '../h2/frame-recorder.js'
import { Collector, closeOf, connectH2c, makeRequest, rawPeer, send, type RawPeer } from '../h2/session-helpers.js'

interface Script {
  socket: net.Socket
  peer: RawPeer
  hpack: HpackEncoder
  headers(streamId: number, fields: string[], endStream?: boolean): void
}

/** A raw peer that greets with SETTINGS (+ACK) and then runs `onHeaders` for each request HEADERS. */
async function scripted(t: Test, onRequest: (s: Script, streamId: number) => void, settings: Array<readonly [number, number]> = []): Promise<RawPeer> {
  let seen = 0
  const peer = await rawPeer(t, (socket, peer) => {
    const hpack = new HpackEncoder()
    const script: Script = {
      socket,
      peer,
      hpack,
      headers(streamId, fields, endStream = false) {
        socket.write(encodeHeaders(streamId, hpack.encode(fields), { endStream }))
      },
    }
    socket.write(Buffer.concat([encodeSettings(settings), encodeSettingsAck()]))
    const poll = (): void => {
      void peer.waitFor((f) => f.kind === 'headers' && f.streamId > seen).then((f) => {
        seen = (f as { streamId: number }).streamId
        onRequest(script, seen)
        poll()
      })
    }
    poll()
  })
  return peer
}


const isRst = (id: number) => (f: FrameRecord) => f.kind === 'rst_stream' && f.streamId === id
const isGoaway = (f: FrameRecord) => f.kind === 'goaway'

t.test('malformed responses are stream errors: RST_STREAM(PROTOCOL_ERROR), the connection lives on', async (t) => {
  const cases: Record<string, (s: Script, id: number) => void> = {
    '/missing-status': (s, id) => s.headers(id, ['content-type', 'x'], true),
    '/duplicate-status': (s, id) => s.headers(id, [':status', '200', ':status', '204'], true),
    '/pseudo-after-regular': (s, id) => s.headers(id, ['x-a', '1', ':status', '200'], true),
    '/request-pseudo': (s, id) => s.headers(id, [':status', '200', ':path', '/'], true),
    '/uppercase': (s, id) => s.headers(id, [':status', '200', 'X-Upper', '1'], true),
    '/connection-header': (s, id) => s.headers(id, [':status', '200', 'connection', 'close'], true),
    '/bad-status': (s, id) => s.headers(id, [':status', '2x0'], true),
    '/te': (s, id) => s.headers(id, [':status', '200', 'te', 'gzip'], true),
    '/bad-value': (s, id) => s.headers(id, [':status', '200', 'x', ' padded'], true),
    '/short-body': (s, id) => {
      s.headers(id, [':status', '200', 'content-length', '10'])
      s.socket.write(encodeData(id, Buffer.from('12345'), { endStream: true }))
    },
    '/long-body': (s, id) => {
      s.headers(id, [':status', '200', 'content-length', '3'])
      s.socket.write(encodeData(id, Buffer.from('12345'), { endStream: true }))
    },
    '/data-first': (s, id) => s.socket.write(encodeData(id, Buffer.from('x'), { endStream: true })),
    '/trailers-no-end': (s, id) => {
      s.headers(id, [':status', '200'])
      s.headers(id, ['x-t', '1'], false)
    },
    '/trailer-pseudo': (s, id) => {
      s.headers(id, [':status', '200'])
      s.headers(id, [':status', '200'], true)
    },
    '/interim-end': (s, id) => s.headers(id, [':status', '100'], true),
    '/101': (s, id) => s.headers(id, [':status', '101']),
    '/head-with-data': (s, id) => {
      s.headers(id, [':status', '204'])
      s.socket.write(encodeData(id, Buffer.from('x'), { endStream: true }))
    },
  }
  const paths = Object.keys(cases)
  const peer = await scripted(t, (s, id) => {
    const path = paths[(id - 1) / 2]
    if (path !== undefined) cases[path]!(s, id)
    else s.headers(id, [':status', '200'], true)
  })
  const conn = await connectH2c(t, peer.port)
  for (let i = 0; i < paths.length; i++) {
    const id = 1 + 2 * i
    const err = await send(conn, { path: paths[i]! }).done.then(
      () => undefined,
      (e: unknown) => e,
    )
    t.ok(err instanceof H2ProtocolError, `${paths[i]} fails with H2ProtocolError`)
    t.match(err, { code: 'WP_H2_PROTOCOL', h2CodeName: 'PROTOCOL_ERROR', streamId: id }, paths[i]!)
    const rst = (await peer.waitFor(isRst(id))) as { errorCode: number }
    t.equal(rst.errorCode, H2ErrorCode.PROTOCOL_ERROR, `${paths[i]}: RST_STREAM PROTOCOL_ERROR`)
  }
  const ok = await send(conn, { path: '/fine' }).done
  t.equal(ok.status, 200)
  t.equal(conn.retired, false)
})

t.test('RST_STREAM after the response head: responseStarted is true', async (t) => {
  const peer = await scripted(t, (s, id) => {
    s.headers(id, [':status', '200'])
    s.socket.write(encodeData(id, Buffer.from('part')))
    s.socket.write(encodeRstStream(id, H2ErrorCode.INTERNAL_ERROR))
  })
  const conn = await connectH2c(t, peer.port)
  const err = await send(conn).done.then(
    () => undefined,
    (e: unknown) => e,
  )
  t.ok(err instanceof H2StreamResetError)
  t.match(err, { responseStarted: true, retryable: false, h2CodeName: 'INTERNAL_ERROR' })
})

t.test('connection errors: GOAWAY with the right code, every request fails', async (t) => {
  const cases: Array<[string, (s: Script, id: number) => void, number, boolean?]> = [
    ['PUSH_PROMISE (ENABLE_PUSH=0)', (s, id) => s.socket.write(encodePushPromise(id, 2, s.hpack.encode([':method', 'GET']))), H2ErrorCode.PROTOCOL_ERROR],
    ['SETTINGS_ENABLE_PUSH=1 from the server', (s) => s.socket.write(encodeSettings([[SettingsId.ENABLE_PUSH, 1]])), H2ErrorCode.PROTOCOL_ERROR],
    ['HEADERS on an idle stream', (s) => s.headers(99, [':status', '200'], true), H2ErrorCode.PROTOCOL_ERROR],
    ['HEADERS on a server-initiated stream', (s) => s.headers(2, [':status', '200'], true), H2ErrorCode.PROTOCOL_ERROR],
    ['DATA on an idle stream', (s) => s.socket.write(encodeData(41, Buffer.from('x'))), H2ErrorCode.PROTOCOL_ERROR],
    ['RST_STREAM on an idle stream', (s) => s.socket.write(encodeRstStream(41, 0)), H2ErrorCode.PROTOCOL_ERROR],
    ['WINDOW_UPDATE on an idle stream', (s) => s.socket.write(encodeWindowUpdate(41, 1)), H2ErrorCode.PROTOCOL_ERROR],
    ['a malformed HPACK block', (s, id) => s.socket.write(encodeHeaders(id, Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]))), H2ErrorCode.COMPRESSION_ERROR],
    [
      'a frame larger than our MAX_FRAME_SIZE',
      (s, id) => s.socket.write(Buffer.concat([dataFrameHeader(20_000, 0, id), Buffer.alloc(20_000)])),
      H2ErrorCode.FRAME_SIZE_ERROR,
    ],
    [
      'a CONTINUATION flood',
      (s, id) => {
        const frames = [encodeHeaders(id, Buffer.alloc(0), { endHeaders: false })]
        for (let i = 0; i < 100; i++) frames.push(encodeContinuation(id, Buffer.alloc(0), false))
        s.socket.write(Buffer.concat(frames))
      },
      H2ErrorCode.ENHANCE_YOUR_CALM,
    ],
    [
      'a header block too large before decoding',
      (s, id) => {
        const frames = [encodeHeaders(id, Buffer.alloc(16_000, 0x80), { endHeaders: false })]
        for (let i = 0; i < 9; i++) frames.push(encodeContinuation(id, Buffer.alloc(16_000, 0x80), false))
        s.socket.write(Buffer.concat(frames))
      },
      H2ErrorCode.ENHANCE_YOUR_CALM,
    ],
    [
      'a PING flood',
      (s) => {
        const ping = encodePing(Buffer.alloc(8))
        s.socket.write(Buffer.concat(Array.from({ length: 1500 }, () => ping)))
      },
      H2ErrorCode.ENHANCE_YOUR_CALM,
    ],
    [
      'a SETTINGS flood',
      (s) => {
        const settings = encodeSettings([])
        s.socket.write(Buffer.concat(Array.from({ length: 1500 }, () => settings)))
      },
      H2ErrorCode.ENHANCE_YOUR_CALM,
    ],
    [
      'a flood of frames that do nothing',
      (s, id) => {
        const empty = encodeData(id, Buffer.alloc(0))
        s.headers(id, [':status', '200'])
        s.socket.write(Buffer.concat(Array.from({ length: 6000 }, () => empty)))
      },
      H2ErrorCode.ENHANCE_YOUR_CALM,
    ],
    [
      'DATA beyond the connection window',
      (s, id) => {
        s.headers(id, [':status', '200'])
        for (let i = 0; i < 5; i++) s.socket.write(encodeData(id, Buffer.alloc(16_000)))
      },
      H2ErrorCode.FLOW_CONTROL_ERROR,
      true,
    ],
    ['a connection WINDOW_UPDATE overflow', (s) => s.socket.write(encodeWindowUpdate(0, 0x7fffffff)), H2ErrorCode.FLOW_CONTROL_ERROR],
    [
      'INITIAL_WINDOW_SIZE change overflowing a stream window',
      (s, id) => {
        s.socket.write(encodeWindowUpdate(id, 0x7fffffff - 65_535))
        s.socket.write(encodeSettings([[SettingsId.INITIAL_WINDOW_SIZE, 70_000]]))
      },
      H2ErrorCode.FLOW_CONTROL_ERROR,
    ],
    [
      'HEADERS after END_STREAM (closed stream)',
      (s, id) => {
        s.headers(id, [':status', '200'], true)
        s.headers(id, [':status', '200'], true)
      },
      H2ErrorCode.STREAM_CLOSED,
    ],
    [
      'DATA after END_STREAM (closed stream)',
      (s, id) => {
        s.headers(id, [':status', '200'], true)
        s.socket.write(encodeData(id, Buffer.from('late')))
      },
      H2ErrorCode.STREAM_CLOSED,
    ],
  ]
  for (const [name, script, code, pause] of cases) {
    await t.test(name, async (t) => {
      const peer = await scripted(t, script)
      // Stream window larger than the connection's: the connection window is the one overrun.
      const conn = await connectH2c(t, peer.port, { connectionWindow: 65_535, initialStreamWindow: 1_000_000 })
      const closed = closeOf(conn)
      const c = new Collector()
      // A paused consumer returns no credit, so the peer's excess is a real overrun.
      if (pause === true) c.onChunk = () => false
      conn.dispatch(makeRequest({ method: 'POST', body: 'x'.repeat(10), bodyLength: 10 }), c)
      const err = await c.done.then(
        () => undefined,
        (e: unknown) => e,
      )
      const goaway = (await peer.waitFor(isGoaway)) as { errorCode: number; lastStreamId: number }
      t.equal(goaway.errorCode, code, `GOAWAY ${code}`)
      t.equal(goaway.lastStreamId, 0)
      const closeErr = await closed
      t.match(closeErr, { code: 'WP_H2_PROTOCOL', h2Code: code, streamId: 0 })
      if (name.includes('after END_STREAM')) t.equal(err, undefined, 'the completed request stayed complete')
      else t.match(err, { code: 'WP_H2_PROTOCOL', h2Code: code })
      t.equal(conn.retired, true)
    })
  }
})

t.test('stream-level violations: RST_STREAM with the right code', async (t) => {
  const cases: Array<[string, (s: Script, id: number) => void, number, boolean?]> = [
    [
      'DATA beyond the stream window',
      (s, id) => {
        s.headers(id, [':status', '200'])
        for (let i = 0; i < 5; i++) s.socket.write(encodeData(id, Buffer.alloc(16_000)))
      },
      H2ErrorCode.FLOW_CONTROL_ERROR,
      true,
    ],
    ['a stream WINDOW_UPDATE overflow', (s, id) => s.socket.write(encodeWindowUpdate(id, 0x7fffffff)), H2ErrorCode.FLOW_CONTROL_ERROR],
    [
      'a header list over our MAX_HEADER_LIST_SIZE',
      (s, id) => s.headers(id, [':status', '200', 'x-big', 'v'.repeat(2000)], true),
      H2ErrorCode.ENHANCE_YOUR_CALM,
    ],
    [
      'a PRIORITY frame of the wrong size',
      (s, id) => {
        s.socket.write(rawFrame(FrameType.PRIORITY, 0, id, new Uint8Array(4)))
      },
      H2ErrorCode.FRAME_SIZE_ERROR,
    ],
  ]
  for (const [name, script, code, pause] of cases) {
    await t.test(name, async (t) => {
      const peer = await scripted(t, (s, id) => {
        if (id === 1) script(s, id)
        else s.headers(id, [':status', '200'], true)
      })
      const conn = await connectH2c(t, peer.port, { initialStreamWindow: 65_535, maxHeaderListSize: 1024 })
      const c = new Collector()
      if (pause === true) c.onChunk = () => false
      conn.dispatch(makeRequest(), c)
      const err = await c.done.then(
        () => undefined,
        (e: unknown) => e,
      )
      t.match(err, { code: 'WP_H2_PROTOCOL', h2Code: code, streamId: 1 })
      const rst = (await peer.waitFor(isRst(1))) as { errorCode: number }
      t.equal(rst.errorCode, code)
      t.equal((await send(conn).done).status, 200, 'the connection lives on')
    })
  }
})

t.test('peer PING is answered with the same payload; unknown PING ACKs and PRIORITY are ignored', async (t) => {
  const payload = Buffer.from('12345678')
  const peer = await scripted(t, (s, id) => s.headers(id, [':status', '200'], true))
  const conn = await connectH2c(t, peer.port)
  await peer.waitFor((f) => f.kind === 'settings' && f.ack)
  const socket = peer.socket()
  socket.write(encodePing(payload))
  socket.write(encodePing(Buffer.from('zzzzzzzz'), true))
  socket.write(rawFrame(FrameType.PRIORITY, 0, 1, new Uint8Array(5)))
  const ack = (await peer.waitFor((f) => f.kind === 'ping' && f.ack)) as { opaque: Buffer }
  t.same(ack.opaque, payload)
  t.equal((await send(conn).done).status, 200)
})

t.test('SETTINGS not acknowledged in time: GOAWAY SETTINGS_TIMEOUT', async (t) => {
  const peer = await rawPeer(t, (socket) => socket.write(encodeSettings([])))
  const conn = await connectH2c(t, peer.port, { settingsTimeout: 50 })
  const err = await closeOf(conn)
  t.match(err, { code: 'WP_H2_PROTOCOL', h2CodeName: 'SETTINGS_TIMEOUT' })
  const goaway = (await peer.waitFor(isGoaway)) as { errorCode: number }
  t.equal(goaway.errorCode, H2ErrorCode.SETTINGS_TIMEOUT)
})

t.test('keep-alive PING unanswered: the connection is destroyed', async (t) => {
  const peer = await rawPeer(t, (socket) => socket.write(Buffer.concat([encodeSettings([]), encodeSettingsAck()])))
  const conn = await connectH2c(t, peer.port, { pingInterval: 30 })
  const err = await closeOf(conn)
  t.match(err, { code: 'WP_SOCKET_CLOSED', message: /PING/ })
  t.ok(peer.frames.some((f) => f.kind === 'ping' && !f.ack), 'a keep-alive PING was sent')
})

t.test('keep-alive PINGs answered keep the connection open', async (t) => {
  const peer = await h2cPingPeer(t)
  const conn = await connectH2c(t, peer.port, { pingInterval: 20 })
  await peer.waitFor((f) => f.kind === 'ping' && !f.ack && peer.frames.filter((g) => g.kind === 'ping').length >= 3)
  t.equal(conn.retired, false)
})

async function h2cPingPeer(t: Test): Promise<RawPeer> {
  const peer = await rawPeer(t, (socket, peer) => {
    socket.write(Buffer.concat([encodeSettings([]), encodeSettingsAck()]))
    let answered = 0
    const loop = (): void => {
      void peer.waitFor((f) => f.kind === 'ping' && !f.ack && peer.frames.filter((g) => g.kind === 'ping').indexOf(f) >= answered).then((f) => {
        answered++
        socket.write(encodePing((f as { opaque: Buffer }).opaque, true))
        loop()
      })
    }
    loop()
  })
  return peer
}

t.test('peer SETTINGS: MAX_FRAME_SIZE and HEADER_TABLE_SIZE shape our HEADERS; large blocks use CONTINUATION', async (t) => {
  const peer = await scripted(t, (s, id) => s.headers(id, [':status', '200'], true), [[SettingsId.HEADER_TABLE_SIZE, 0]])
  const conn = await connectH2c(t, peer.port)
  await peer.waitFor((f) => f.kind === 'settings' && f.ack)
  t.equal(conn.peerSettings.headerTableSize, 0)
  const big = 'v'.repeat(40_000)
  const res = await send(conn, { headers: ['x-big', big] }).done
  t.equal(res.status, 200)
  const first = peer.frames.find((f) => f.kind === 'headers') as { flags: number; fragment: Buffer }
  t.equal(first.flags & Flag.END_HEADERS, 0, 'HEADERS without END_HEADERS')
  t.equal(first.fragment.length, 16_384, 'split at the default MAX_FRAME_SIZE')
  const continuations = peer.frames.filter((f) => f.kind === 'continuation') as Array<{ flags: number }>
  t.ok(continuations.length >= 2)
  t.equal(continuations.at(-1)!.flags & Flag.END_HEADERS, Flag.END_HEADERS)
  // The first block after HEADER_TABLE_SIZE 0 starts with a dynamic table size update to 0 (RFC 7541 §4.2).
  t.equal(first.fragment[0], 0x20)
})

t.test('GOAWAY while idle closes the connection; a second GOAWAY lowers last-stream-id', async (t) => {
  const peer = await scripted(t, () => {})
  const conn = await connectH2c(t, peer.port)
  const a = send(conn)
  const b = send(conn)
  const c = send(conn)
  await peer.waitFor((f) => f.kind === 'headers' && f.streamId === 5)
  const closed = closeOf(conn)
  peer.socket().write(encodeGoaway(0x7fffffff, 0))
  await new Promise((resolve) => conn.once('draining', resolve))
  peer.socket().write(encodeGoaway(1, 0))
  await t.rejects(b.done, { code: 'WP_H2_GOAWAY', lastStreamId: 1 })
  await t.rejects(c.done, { code: 'WP_H2_GOAWAY', lastStreamId: 1 })
  const hpack = new HpackEncoder()
  peer.socket().write(encodeHeaders(1, hpack.encode([':status', '200']), { endStream: true }))
  t.equal((await a.done).status, 200)
  t.equal(await closed, undefined, 'an orderly close')
})

t.test('the server closing the socket fails in-flight requests with SocketClosedError', async (t) => {
  const peer = await scripted(t, (s) => s.socket.destroy())
  const conn = await connectH2c(t, peer.port)
  const closing = closeOf(conn)
  const err = await send(conn).done.then(
    () => undefined,
    (e: unknown) => e,
  )
  t.match(err, { code: 'WP_SOCKET_CLOSED', responseStarted: false })
  t.match(await closing, { code: 'WP_SOCKET_CLOSED' })
  t.equal(conn.retired, true)
})

t.test('padding counts against flow control and is credited back', async (t) => {
  const peer = await scripted(t, (s, id) => {
    s.headers(id, [':status', '200'])
    s.socket.write(encodeData(id, Buffer.from('abc'), { padLength: 200, endStream: true }))
  })
  const conn = await connectH2c(t, peer.port)
  const res = await send(conn).done
  t.equal(res.body.toString(), 'abc')
})

t.test('a bad PRIORITY frame on a stream never opened is reset; the connection lives on', async (t) => {
  const peer = await scripted(t, (s, id) => s.headers(id, [':status', '200'], true))
  const conn = await connectH2c(t, peer.port)
  await peer.waitFor((f) => f.kind === 'settings' && f.ack)
  peer.socket().write(rawFrame(FrameType.PRIORITY, 0, 41, new Uint8Array(4)))
  const rst = (await peer.waitFor(isRst(41))) as { errorCode: number }
  t.equal(rst.errorCode, H2ErrorCode.FRAME_SIZE_ERROR)
  t.equal((await send(conn).done).status, 200)
})

t.test('a response head split over HEADERS and CONTINUATION frames is reassembled', async (t) => {
  const peer = await scripted(t, (s, id) => {
    const block = s.hpack.encode([':status', '200', 'x-long', 'z'.repeat(3000), 'x-after', 'ok'])
    const a = block.subarray(0, 1000)
    const b = block.subarray(1000, 2000)
    const c = block.subarray(2000)
    s.socket.write(
      Buffer.concat([
        encodeHeaders(id, a, { endHeaders: false, endStream: true }),
        encodeContinuation(id, b, false),
        encodeContinuation(id, c, true),
      ]),
    )
  })
  const conn = await connectH2c(t, peer.port)
  const res = await send(conn).done
  t.equal(res.status, 200)
  t.equal(res.headers['x-long'], 'z'.repeat(3000))
  t.equal(res.headers['x-after'], 'ok')
  t.equal(conn.retired, false)
})
