/**
 * Our WebSocket client against a scripted raw peer: every way a server can break RFC 6455
 * or RFC 7692 must end in the right close code (or handshake error), an 'error' and a
 * 'close' event, and a closed socket: never a crash or a hang. Also the timers: close
 * timeout, heartbeat timeout, handshake timeout.
 */
import t, { type Test } from 'tap'
import { WebSocket, type WebSocketOptions } from '../../src/ws/websocket.js'
import { encodeClose, encodeFrame } from '../../src/ws/frame-encode.js'
import { Opcode } from '../../src/ws/frame.js'
import { WsHandshakeError } from '../../src/errors.js'
import type { PeerConnection } from '../ws/raw-peer.js'
import { connectToRawPeer, type Recorder } from '../ws/client-helpers.js'

interface Teardown {
  teardown(fn: () => unknown): void
}

const server = (opcode: number, payload: Uint8Array | string, options: { fin?: boolean; rsv1?: boolean } = {}): Buffer =>
  encodeFrame(opcode as Opcode, payload, { ...options, mask: false })

/** A raw frame with any header bits (for what encodeFrame refuses to build). */
function rawFrame(b0: number, payload: Uint8Array, maskKey?: Uint8Array): Buffer {
  const head = Buffer.from([b0, payload.length | (maskKey ? 0x80 : 0)])
  if (maskKey === undefined) return Buffer.concat([head, payload])
  const masked = Buffer.from(payload.map((b, i) => b ^ (maskKey[i & 3] as number)))
  return Buffer.concat([head, maskKey, masked])
}

async function connect(
  t: Teardown,
  options: WebSocketOptions = {},
  answer: ((conn: PeerConnection) => void) | null = (conn) => conn.accept(),
): Promise<{ ws: WebSocket; rec: Recorder; conn: PeerConnection }> {
  const { ws, rec, conn } = await connectToRawPeer(t, '/raw', options)
  if (answer !== null) answer(conn)
  return { ws, rec, conn }
}

/** After a violation: the client sends Close(code), reports error then close(code, unclean), and ends TCP. */
async function expectFailure(
  t: Test,
  setup: { rec: Recorder; conn: PeerConnection },
  code: number,
  message: RegExp,
): Promise<void> {
  const { rec, conn } = setup
  const frame = await conn.nextMessage()
  t.equal(frame?.opcode, Opcode.CLOSE, 'client sent a Close')
  t.equal(frame?.payload.readUInt16BE(0), code, `with ${code}`)
  const err = await rec.wait('error')
  t.equal(err.error.code, 'WP_WS_PROTOCOL')
  t.match(err.error.message, message)
  await conn.ended
  conn.socket.end()
  const close = await rec.wait('close')
  t.equal(close.code, code)
  t.equal(close.wasClean, false)
  t.equal(rec.types().filter((x) => x === 'close').length, 1)
}

const violations: { name: string; bytes: () => Buffer[]; code: number; message: RegExp; options?: WebSocketOptions }[] = [
  { name: 'reserved data opcode 3', bytes: () => [rawFrame(0x83, Buffer.from('x'))], code: 1002, message: /reserved opcode 0x3/ },
  { name: 'reserved control opcode 0xB', bytes: () => [rawFrame(0x8b, Buffer.alloc(0))], code: 1002, message: /reserved opcode 0xb/ },
  { name: 'RSV1 without an extension', bytes: () => [rawFrame(0xc1, Buffer.from('x'))], code: 1002, message: /RSV1/ },
  { name: 'RSV2', bytes: () => [rawFrame(0xa1, Buffer.from('x'))], code: 1002, message: /RSV2/ },
  { name: 'RSV3 on a ping', bytes: () => [rawFrame(0x99, Buffer.alloc(0))], code: 1002, message: /RSV2 or RSV3/ },
  {
    name: 'masked frame from the server',
    bytes: () => [rawFrame(0x81, Buffer.from('hi'), Buffer.from([1, 2, 3, 4]))],
    code: 1002,
    message: /masked/,
  },
  { name: 'fragmented ping', bytes: () => [rawFrame(0x09, Buffer.from('x'))], code: 1002, message: /fragmented control/ },
  {
    name: 'ping of 126 bytes',
    bytes: () => [Buffer.concat([Buffer.from([0x89, 126, 0, 126]), Buffer.alloc(126)])],
    code: 1002,
    message: /125/,
  },
  { name: 'continuation with nothing to continue', bytes: () => [server(Opcode.CONTINUATION, 'x')], code: 1002, message: /continuation/ },
  {
    name: 'new message inside a fragmented one',
    bytes: () => [server(Opcode.TEXT, 'a', { fin: false }), server(Opcode.TEXT, 'b')],
    code: 1002,
    message: /fragmented message is open/,
  },
  { name: 'invalid UTF-8 text', bytes: () => [server(Opcode.TEXT, Buffer.from([0x61, 0xc3, 0x28]))], code: 1007, message: /UTF-8/ },
  {
    name: 'invalid UTF-8 split over fragments',
    bytes: () => [server(Opcode.TEXT, Buffer.from([0xe2, 0x82]), { fin: false }), server(Opcode.CONTINUATION, Buffer.from([0x28]))],
    code: 1007,
    message: /UTF-8/,
  },
  { name: 'truncated UTF-8 at the end of a message', bytes: () => [server(Opcode.TEXT, Buffer.from([0xf0, 0x9f]))], code: 1007, message: /UTF-8/ },
  { name: 'close code 1005 on the wire', bytes: () => [rawFrame(0x88, Buffer.from([0x03, 0xed]))], code: 1002, message: /invalid close code 1005/ },
  { name: 'close code 999', bytes: () => [rawFrame(0x88, Buffer.from([0x03, 0xe7]))], code: 1002, message: /invalid close code 999/ },
  { name: 'close body of 1 byte', bytes: () => [rawFrame(0x88, Buffer.from([0x03]))], code: 1002, message: /1 byte/ },
  {
    name: 'close reason not UTF-8',
    bytes: () => [rawFrame(0x88, Buffer.from([0x03, 0xe8, 0xff]))],
    code: 1007,
    message: /reason is not valid UTF-8/,
  },
  {
    name: 'message over maxPayload',
    bytes: () => [server(Opcode.BINARY, Buffer.alloc(2000))],
    code: 1009,
    message: /maxPayload/,
    options: { maxPayload: 1000 },
  },
  {
    name: 'fragments that add up over maxPayload',
    bytes: () => [server(Opcode.BINARY, Buffer.alloc(600), { fin: false }), server(Opcode.CONTINUATION, Buffer.alloc(600))],
    code: 1009,
    message: /maxPayload/,
    options: { maxPayload: 1000 },
  },
  {
    name: 'non-minimal length encoding',
    bytes: () => [Buffer.from([0x82, 126, 0, 5, 1, 2, 3, 4, 5])],
    code: 1002,
    message: /minimal/,
  },
]

for (const v of violations) {
  t.test(`violation: ${v.name} → ${v.code}`, async (t) => {
    const setup = await connect(t, v.options)
    await setup.rec.wait('open')
    for (const b of v.bytes()) setup.conn.send(b)
    await expectFailure(t, setup, v.code, v.message)
  })
}

t.test('violation fed one byte at a time still fails with the right code', async (t) => {
  const setup = await connect(t)
  await setup.rec.wait('open')
  setup.conn.send(Buffer.concat([server(Opcode.TEXT, 'ok'), server(Opcode.TEXT, Buffer.from([0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xed, 0xa0, 0x80]))]), 1)
  t.equal(await setup.rec.message(0), 'ok')
  await expectFailure(t, setup, 1007, /UTF-8/)
})

t.test('compressed data that is not DEFLATE → 1007', async (t) => {
  const setup = await connect(t, { perMessageDeflate: true }, (conn) => conn.accept(['Sec-WebSocket-Extensions: permessage-deflate']))
  await setup.rec.wait('open')
  setup.conn.send(server(Opcode.TEXT, Buffer.from([0xff, 0xff, 0xff, 0xff]), { rsv1: true }))
  await expectFailure(t, setup, 1007, /permessage-deflate/)
})

t.test('RSV1 on a continuation frame with deflate negotiated → 1002', async (t) => {
  const setup = await connect(t, { perMessageDeflate: true }, (conn) => conn.accept(['Sec-WebSocket-Extensions: permessage-deflate']))
  await setup.rec.wait('open')
  setup.conn.send(Buffer.concat([server(Opcode.TEXT, 'a', { fin: false }), rawFrame(0xc0, Buffer.from('b'))]))
  await expectFailure(t, setup, 1002, /RSV1/)
})

const badHandshakes: { name: string; answer: (conn: PeerConnection) => void; message: RegExp; options?: WebSocketOptions }[] = [
  { name: 'wrong Sec-WebSocket-Accept', answer: (c) => c.accept([], 'dGhlIHNhbXBsZSBub25jZQ=='), message: /wrong Sec-WebSocket-Accept/ },
  {
    name: 'no Upgrade header',
    answer: (c) => c.socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n`),
    message: /Upgrade: websocket/,
  },
  {
    name: 'an extension we did not offer',
    answer: (c) => c.accept(['Sec-WebSocket-Extensions: permessage-deflate']),
    message: /did not offer/,
  },
  {
    name: 'an unknown extension',
    answer: (c) => c.accept(['Sec-WebSocket-Extensions: x-webkit-foo']),
    message: /did not offer/,
    options: { perMessageDeflate: true },
  },
  {
    name: 'an unknown permessage-deflate parameter',
    answer: (c) => c.accept(['Sec-WebSocket-Extensions: permessage-deflate; bogus=1']),
    message: /unknown permessage-deflate parameter/,
    options: { perMessageDeflate: true },
  },
  {
    name: 'client_max_window_bits when we did not offer it',
    answer: (c) => c.accept(['Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=10']),
    message: /not in our offer/,
    options: { perMessageDeflate: { clientMaxWindowBits: false } },
  },
  {
    name: 'a server window larger than we asked for',
    answer: (c) => c.accept(['Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=15']),
    message: /larger than the 10/,
    options: { perMessageDeflate: { serverMaxWindowBits: 10 } },
  },
  {
    name: 'a subprotocol we did not offer',
    answer: (c) => c.accept(['Sec-WebSocket-Protocol: evil']),
    message: /did not offer/,
    options: { protocols: ['good'] },
  },
  {
    name: 'two subprotocols',
    answer: (c) => c.accept(['Sec-WebSocket-Protocol: a, b']),
    message: /2 subprotocols/,
    options: { protocols: ['a', 'b'] },
  },
]

for (const h of badHandshakes) {
  t.test(`handshake: ${h.name} → WsHandshakeError, socket closed`, async (t) => {
    const { ws, rec, conn } = await connect(t, h.options, h.answer)
    const err = await rec.wait('error')
    t.ok(err.error instanceof WsHandshakeError)
    t.equal((err.error as WsHandshakeError).status, 101)
    t.match(err.error.message, h.message)
    t.same(await rec.wait('close'), { type: 'close', code: 1006, reason: '', wasClean: false })
    t.equal(ws.readyState, WebSocket.CLOSED)
    await conn.ended
    t.same(rec.types(), ['error', 'close'])
  })
}

t.test('request head: upgrade headers, key, version, offers', async (t) => {
  const { rec, conn } = await connect(t, { protocols: ['p1', 'p2'], perMessageDeflate: { serverNoContextTakeover: true } }, null)
  t.match(conn.requestLine, /^GET \/raw HTTP\/1\.1$/)
  t.equal(conn.headers.upgrade, 'websocket')
  t.match(conn.headers.connection, /upgrade/i)
  t.equal(conn.headers['sec-websocket-version'], '13')
  t.equal(Buffer.from(conn.headers['sec-websocket-key'] ?? '', 'base64').length, 16)
  t.equal(conn.headers['sec-websocket-protocol'], 'p1, p2')
  t.equal(conn.headers['sec-websocket-extensions'], 'permessage-deflate; server_no_context_takeover; client_max_window_bits')
  conn.accept(['Sec-WebSocket-Protocol: p2', 'Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_max_window_bits=12'])
  await rec.wait('open')
})

t.test('frames in the same packet as the 101 are delivered after open', async (t) => {
  const { rec } = await connect(t, {}, (conn) => {
    conn.accept()
    conn.send(Buffer.concat([server(Opcode.TEXT, 'early'), server(Opcode.PING, 'p')]))
  })
  t.equal(await rec.message(0), 'early')
  t.same(rec.types().slice(0, 2), ['open', 'message'])
})

t.test('server Close without a code: echoed empty, reported 1005 clean', async (t) => {
  const { rec, conn } = await connect(t)
  await rec.wait('open')
  conn.send(rawFrame(0x88, Buffer.alloc(0)))
  const echo = await conn.nextMessage()
  t.equal(echo?.opcode, Opcode.CLOSE)
  t.equal(echo?.payload.length, 0)
  t.equal(echo?.masked, true)
  await conn.ended // the client ends its side after the handshake
  conn.socket.end()
  t.same(await rec.wait('close'), { type: 'close', code: 1005, reason: '', wasClean: true })
})

t.test('ping answered with the same payload; unsolicited pong ignored; nothing after Close', async (t) => {
  const { ws, rec, conn } = await connect(t)
  await rec.wait('open')
  conn.send(Buffer.concat([server(Opcode.PONG, 'unsolicited'), server(Opcode.PING, Buffer.from([0, 1, 2]))]))
  const pong = await conn.next()
  t.equal(pong?.opcode, Opcode.PONG)
  t.same([...(pong?.payload ?? [])], [0, 1, 2])
  // Text interleaved with a ping inside a fragmented message (Autobahn 5.6).
  conn.send(Buffer.concat([server(Opcode.TEXT, 'frag', { fin: false }), server(Opcode.PING, 'mid'), server(Opcode.CONTINUATION, 'ment')]))
  const pong2 = await conn.next()
  t.equal(pong2?.payload.toString(), 'mid')
  t.equal(await rec.message(0), 'fragment')
  // A Close, then bytes the server must not send: ignored.
  conn.send(Buffer.concat([encodeClose(1000, 'bye', { mask: false }), server(Opcode.TEXT, 'after close'), server(Opcode.PING, 'x')]))
  const close = await conn.next()
  t.equal(close?.opcode, Opcode.CLOSE)
  t.equal(close?.payload.readUInt16BE(0), 1000)
  await conn.ended
  conn.socket.end()
  t.same(await rec.wait('close'), { type: 'close', code: 1000, reason: 'bye', wasClean: true })
  t.equal(rec.events.filter((e) => e.type === 'message').length, 1)
  t.equal(ws.readyState, WebSocket.CLOSED)
})

t.test('close timeout: a server that never answers our Close', async (t) => {
  const { ws, rec, conn } = await connect(t, { closeTimeout: 50 })
  await rec.wait('open')
  ws.close(1000)
  const frame = await conn.next()
  t.equal(frame?.opcode, Opcode.CLOSE)
  const err = await rec.wait('error')
  t.match(err.error.message, /no Close frame from the server within 50 ms/)
  t.same(await rec.wait('close'), { type: 'close', code: 1006, reason: '', wasClean: false })
  await conn.ended
})

t.test('close timeout: a server that echoes the Close but keeps TCP open', async (t) => {
  const { ws, rec, conn } = await connect(t, { closeTimeout: 50 })
  await rec.wait('open')
  ws.close(4001, 'x')
  const frame = await conn.next()
  t.equal(frame?.payload.readUInt16BE(0), 4001)
  conn.send(encodeClose(4001, 'x', { mask: false }))
  // The client ends its side; the server does not: the timer destroys the socket.
  await conn.ended
  t.same(await rec.wait('close'), { type: 'close', code: 4001, reason: 'x', wasClean: true })
  t.notOk(rec.types().includes('error'))
})

t.test('server drops TCP without a Close → 1006 with an error', async (t) => {
  const { rec, conn } = await connect(t)
  await rec.wait('open')
  conn.socket.end()
  const err = await rec.wait('error')
  t.equal(err.error.code, 'WP_SOCKET_CLOSED')
  t.same(await rec.wait('close'), { type: 'close', code: 1006, reason: '', wasClean: false })
})

t.test('server resets TCP while open → its error, then 1006; a Ping waiting for its Pong rejects with it', async (t) => {
  const { ws, rec, conn } = await connect(t)
  await rec.wait('open')
  const ping = ws.ping()
  t.equal((await conn.next())?.opcode, Opcode.PING)
  conn.socket.resetAndDestroy()
  const err = await rec.wait('error')
  t.equal(err.error.code, 'WP_SOCKET_CLOSED')
  t.match(err.error.message, /ECONNRESET/)
  t.same(await rec.wait('close'), { type: 'close', code: 1006, reason: '', wasClean: false })
  await t.rejects(ping, err.error, 'the Ping fails with the error that closed the connection')
  t.equal(ws.readyState, WebSocket.CLOSED)
  t.same(rec.types(), ['open', 'error', 'close'])
})

t.test('heartbeat timeout: a peer that never answers pings → 1006 and an error saying why', async (t) => {
  const { rec, conn } = await connect(t, { pingInterval: 20, pongTimeout: 40 })
  await rec.wait('open')
  const ping = await conn.next()
  t.equal(ping?.opcode, Opcode.PING)
  const err = await rec.wait('error')
  t.match(err.error.message, /no Pong within 40 ms/)
  t.same(await rec.wait('close'), { type: 'close', code: 1006, reason: '', wasClean: false })
  await conn.ended
})

t.test('handshake timeout: a server that never answers', async (t) => {
  const { rec, conn } = await connect(t, { handshakeTimeout: 50 }, null)
  const err = await rec.wait('error')
  t.ok(err.error instanceof WsHandshakeError)
  t.equal((err.error as WsHandshakeError).status, 0)
  t.match(err.error.message, /timed out after 50 ms/)
  t.equal((await rec.wait('close')).code, 1006)
  await conn.ended
})

t.test('a violation after our own Close: the socket is dropped, the error reported', async (t) => {
  const { ws, rec, conn } = await connect(t)
  await rec.wait('open')
  ws.close(1000)
  const ours = await conn.next()
  t.equal(ours?.opcode, Opcode.CLOSE)
  conn.send(rawFrame(0x83, Buffer.alloc(0)))
  const err = await rec.wait('error')
  t.match(err.error.message, /reserved opcode/)
  // Our Close was already sent, so no second one: the connection is dropped.
  t.equal(await conn.next(), null)
  t.same(await rec.wait('close'), { type: 'close', code: 1002, reason: '', wasClean: false })
})

t.test('compressed text that inflates to invalid UTF-8 → 1007', async (t) => {
  const { deflateRawSync, constants } = await import('node:zlib')
  const setup = await connect(t, { perMessageDeflate: true }, (conn) => conn.accept(['Sec-WebSocket-Extensions: permessage-deflate']))
  await setup.rec.wait('open')
  const good = deflateRawSync(Buffer.from('fine'), { finishFlush: constants.Z_SYNC_FLUSH })
  const bad = deflateRawSync(Buffer.from([0x61, 0xff, 0x62]), { finishFlush: constants.Z_SYNC_FLUSH })
  setup.conn.send(server(Opcode.TEXT, good.subarray(0, good.length - 4), { rsv1: true }))
  setup.conn.send(server(Opcode.TEXT, bad.subarray(0, bad.length - 4), { rsv1: true }))
  t.equal(await setup.rec.message(0), 'fine')
  await expectFailure(t, setup, 1007, /compressed text message is not valid UTF-8/)
})

t.test('wire format: fragmentSize splits a message; RSV1 only on the first compressed fragment', async (t) => {
  const plain = await connect(t, { fragmentSize: 4 })
  await plain.rec.wait('open')
  plain.ws.send('abcdefghij')
  const frames = [await plain.conn.next(), await plain.conn.next(), await plain.conn.next()]
  t.same(
    frames.map((f) => [f?.opcode, f?.fin, f?.rsv, f?.masked, f?.payload.toString()]),
    [
      [Opcode.TEXT, false, 0, true, 'abcd'],
      [Opcode.CONTINUATION, false, 0, true, 'efgh'],
      [Opcode.CONTINUATION, true, 0, true, 'ij'],
    ],
  )
  // A message that fits is one frame.
  plain.ws.send(new Uint8Array([1, 2, 3]))
  const one = await plain.conn.next()
  t.same([one?.opcode, one?.fin, [...(one?.payload ?? [])]], [Opcode.BINARY, true, [1, 2, 3]])

  const compressed = await connect(t, { fragmentSize: 8, perMessageDeflate: { threshold: 0 } }, (conn) =>
    conn.accept(['Sec-WebSocket-Extensions: permessage-deflate']),
  )
  await compressed.rec.wait('open')
  const text = 'The quick brown fox jumps over the lazy dog, twice: the quick brown fox.'
  compressed.ws.send(text)
  const first = await compressed.conn.next()
  t.equal(first?.rsv, 4, 'RSV1 on the first fragment')
  t.equal(first?.fin, false)
  const parts = [first?.payload as Buffer]
  for (;;) {
    const f = await compressed.conn.next()
    t.equal(f?.rsv, 0, 'no RSV1 on continuations')
    parts.push(f?.payload as Buffer)
    if (f?.fin) break
  }
  const { inflateRawSync, constants } = await import('node:zlib')
  const inflated = inflateRawSync(Buffer.concat([...parts, Buffer.from([0, 0, 0xff, 0xff])]), { finishFlush: constants.Z_SYNC_FLUSH })
  t.equal(inflated.toString(), text)
  // Below the threshold nothing is compressed.
  const small = await connect(t, { perMessageDeflate: { threshold: 100 } }, (conn) =>
    conn.accept(['Sec-WebSocket-Extensions: permessage-deflate']),
  )
  await small.rec.wait('open')
  small.ws.send('tiny')
  const tiny = await small.conn.next()
  t.same([tiny?.rsv, tiny?.payload.toString()], [0, 'tiny'])
})

t.test('bufferedAmount and sendAsync follow the socket', async (t) => {
  const { ws, rec, conn } = await connect(t)
  await rec.wait('open')
  t.equal(ws.bufferedAmount, 0)
  // Far more than the kernel buffers of both sides hold: the count stays up until flushed.
  const big = Buffer.alloc(32 * 1024 * 1024, 1)
  const flushed = ws.sendAsync(big)
  ws.send('x')
  t.equal(ws.bufferedAmount, big.length + 1)
  conn.socket.pause()
  let settled = false
  void flushed.then(() => (settled = true))
  await new Promise<void>((resolve) => setImmediate(resolve))
  t.equal(settled, false, 'not flushed while the peer does not read')
  conn.socket.resume()
  await flushed
  const msg = await conn.nextMessage()
  t.equal(msg?.payload.length, big.length)
  t.equal((await conn.nextMessage())?.payload.toString(), 'x')
  t.equal(ws.bufferedAmount, 0)
})
