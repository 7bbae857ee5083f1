/**
 * The fake server checked against a client we trust: node:http2's. If the harness mis-framed,
 * mis-decoded or mis-waited, every hostile-peer and h2spec verdict built on it would be noise.
 */
import { once } from 'node:events'
import * as http2 from 'node:http2'
import * as net from 'node:net'
import t from 'tap'
import { CLIENT_PREFACE, FrameType, H2ErrorCode, SettingsId } from '../../../src/h2/frame.js'
import { rawFrame } from '../../support/h2-frames.js'
import { FakeH2Server, describeFrame } from './fake-server.js'

interface Teardown {
  teardown(fn: () => unknown): void
}

function nodeClient(t: Teardown, server: FakeH2Server, settings: http2.Settings = {}): http2.ClientHttp2Session {
  const session = http2.connect(server.origin, { settings })
  // A hostile script makes node's client fail; the test looks at what arrived, not at this.
  session.on('error', () => {})
  t.teardown(() => session.destroy())
  return session
}

t.test('handshake, request decoding, response, PING and GOAWAY with node:http2 as the client', async (t) => {
  const server = await FakeH2Server.start(t, { timeoutMs: 2000 })
  const session = nodeClient(t, server, { initialWindowSize: 1 << 20 })
  const peer = await server.accept()
  await peer.handshake([[SettingsId.MAX_CONCURRENT_STREAMS, 10]])
  t.equal(peer.clientSetting(SettingsId.INITIAL_WINDOW_SIZE, 65_535), 1 << 20, "the client's SETTINGS were read")
  t.equal(peer.clientSetting(0xfe, 7), 7, 'an absent setting gives the fallback')

  const req = session.request({ ':method': 'GET', ':path': '/hello', 'x-test': 'yes' })
  req.end()
  const head = await peer.expectHeaders(1)
  const fields = new Map<string, string>()
  for (let i = 0; i < head.fields.length; i += 2) fields.set(head.fields[i]!, head.fields[i + 1]!)
  t.equal(fields.get(':path'), '/hello', 'the request header block was decoded')
  t.equal(fields.get('x-test'), 'yes')
  t.ok((head.flags & 0x1) !== 0, 'END_STREAM of a GET is reported')

  const response = once(req, 'response')
  const chunks: Buffer[] = []
  req.on('data', (c: Buffer) => chunks.push(c))
  peer.respond(1, 201, ['x-reply', 'r'], 'body!')
  const [headers] = (await response) as [http2.IncomingHttpHeaders]
  await once(req, 'end')
  t.equal(headers[':status'], 201, 'node read our HEADERS')
  t.equal(headers['x-reply'], 'r')
  t.equal(Buffer.concat(chunks).toString(), 'body!', 'and our DATA')

  // node answers a PING with the same payload.
  peer.ping('pingpong')
  const ack = await peer.expectPingAck(Buffer.from('pingpong'))
  t.ok(ack.ack)

  // A connection-level error: node's client answers a PING on stream 1 with a GOAWAY (whose
  // code node reports as INTERNAL_ERROR, its translation of nghttp2's failure), then closes.
  peer.writeRaw(rawFrame(FrameType.PING, 0, 1, new Uint8Array(8)))
  const goaway = await peer.expectGoaway([H2ErrorCode.PROTOCOL_ERROR, H2ErrorCode.INTERNAL_ERROR])
  t.equal(goaway.lastStreamId, 0, 'node accepted no stream from us')
  await peer.expectClosed()
  t.ok(peer.closed, 'the peer saw the close')
  await t.rejects(peer.readFrame(), /connection closed/, 'waiting on a closed connection fails at once')
})

t.test('waits fail with what arrived instead', async (t) => {
  const server = await FakeH2Server.start(t, { timeoutMs: 300 })
  nodeClient(t, server)
  const peer = await server.accept()
  await peer.handshake()
  peer.ping('12345678')
  await t.rejects(peer.expectGoaway(H2ErrorCode.NO_ERROR), /timed out after 300 ms; frames seen meanwhile: \[PING\(ACK 3132333435363738\)\]/)
  await t.rejects(peer.expectClosed(), /still open after 300 ms/)
  peer.ping('abcdefgh')
  await t.rejects(peer.expectRstStream(1, H2ErrorCode.CANCEL, 300), /timed out/, 'a frame of another kind does not satisfy the wait')
  await t.rejects(server.accept(100), /no connection accepted within 100 ms/)
})

t.test('a wrong error code is a failure, not a match', async (t) => {
  const server = await FakeH2Server.start(t, { timeoutMs: 2000 })
  nodeClient(t, server)
  const peer = await server.accept()
  await peer.handshake()
  peer.writeRaw(rawFrame(FrameType.PING, 0, 0, new Uint8Array(6)))
  await t.rejects(peer.expectGoaway(H2ErrorCode.PROTOCOL_ERROR), /expected GOAWAY\(PROTOCOL_ERROR\), got GOAWAY\(.*FRAME_SIZE_ERROR/)
})

t.test('a client that does not speak HTTP/2 fails the preface', async (t) => {
  const server = await FakeH2Server.start(t, { timeoutMs: 2000 })
  const socket = net.connect(server.port, '127.0.0.1')
  t.teardown(() => socket.destroy())
  const peer = await server.accept()
  socket.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n')
  await t.rejects(peer.preface, /bad client preface/)
  await t.rejects(peer.readFrame(), /bad client preface/)
})

t.test('a malformed client frame ends the frame stream with the reader error', async (t) => {
  const server = await FakeH2Server.start(t, { timeoutMs: 2000 })
  const socket = net.connect(server.port, '127.0.0.1')
  t.teardown(() => socket.destroy())
  const peer = await server.accept()
  // Preface split across writes, then a SETTINGS frame, then a PING of length 3.
  socket.write(CLIENT_PREFACE.subarray(0, 10))
  socket.write(Buffer.concat([CLIENT_PREFACE.subarray(10), rawFrame(FrameType.SETTINGS, 0, 0)]))
  const settings = await peer.expectSettings()
  t.same(settings.settings, [], 'an empty SETTINGS frame')
  socket.write(rawFrame(FrameType.PING, 0, 0, new Uint8Array(3)))
  await t.rejects(peer.readFrame(), /client sent a malformed frame: FRAME_SIZE_ERROR/)
  t.equal(describeFrame(peer.received[0]!), 'SETTINGS()')
})

t.test('an undecodable client header block ends the frame stream, after the frames before it', async (t) => {
  const server = await FakeH2Server.start(t, { timeoutMs: 2000 })
  const socket = net.connect(server.port, '127.0.0.1')
  t.teardown(() => socket.destroy())
  const peer = await server.accept()
  // Index 127 refers past the empty dynamic table (RFC 7541 §2.3.3).
  const headers = rawFrame(FrameType.HEADERS, 0x5, 1, Buffer.from([0xff, 0x00]))
  socket.write(Buffer.concat([CLIENT_PREFACE, rawFrame(FrameType.SETTINGS, 0, 0), headers]))
  await peer.expectSettings()
  await t.rejects(peer.expectHeaders(1), /client sent an undecodable header block: COMPRESSION_ERROR/)
})

t.test('writeFrame refuses bytes whose header lies about the length', async (t) => {
  const server = await FakeH2Server.start(t, { timeoutMs: 2000 })
  nodeClient(t, server)
  const peer = await server.accept()
  t.throws(() => peer.writeFrame(Buffer.from([0, 0, 5, 6, 0, 0, 0, 0, 0, 1])), /header says 5 payload octets, got 1/)
  t.ok(peer.writeFrame(rawFrame(FrameType.PING, 0, 0, new Uint8Array(8))), 'a consistent frame is written')
})
