/**
 * H2Connection against servers that attack it or break down (RFC 9113 §10.5 "Denial-of-Service
 * Considerations"): decompression bombs, CONTINUATION floods, flow-control violations, floods
 * of frames that demand an answer, servers that reset everything, push when push is off, a
 * server that stops reading, a server that never says SETTINGS. In every case the client must
 * end up with the right error code on the right request or connection, keep its memory and
 * write buffer bounded, and never crash or hang. Every subtest has its own time bound.
 */
import t from 'tap'
import type { H2ProtocolError, H2StreamResetError, WirepoolError } from '../../src/errors.js'
import { DEFAULT_INITIAL_WINDOW_SIZE, Flag, H2ErrorCode, MAX_WINDOW_SIZE, SettingsId } from '../../src/h2/frame.js'
import { encodeContinuation, encodeData, encodeHeaders, encodePing, encodeSettings } from '../../src/h2/frame-writer.js'
import type { SettingsEntry } from '../../src/h2/frame.js'
import { openH2, send, within } from '../h2/peer/client.js'
import type { H2Client, H2ConnectionOptions } from '../h2/peer/client.js'
import { rawFrame } from '../support/h2-frames.js'
import { FakeH2Server } from '../h2/peer/fake-server.js'
import type { H2Peer, PeerOptions } from '../h2/peer/fake-server.js'

const { PROTOCOL_ERROR, FLOW_CONTROL_ERROR, SETTINGS_TIMEOUT, REFUSED_STREAM, CANCEL, ENHANCE_YOUR_CALM } = H2ErrorCode

/** Bound on each wait. */
const WAIT_MS = 3000
/** Bound on each subtest (tap fails it with a timeout: a hang is a failure, never a stuck run). */
const SUBTEST = { timeout: 30_000 }

interface Setup {
  client: H2Client
  peer: H2Client['peer']
}

interface Teardown {
  teardown(fn: () => unknown): void
}

async function setup(
  t: Teardown,
  options: { client?: Partial<H2ConnectionOptions>; peer?: PeerOptions; settings?: readonly SettingsEntry[]; handshake?: boolean } = {},
): Promise<Setup> {
  const server = await FakeH2Server.start(t, { timeoutMs: WAIT_MS, ...options.peer })
  const client = await openH2(t, server, options.client)
  if (options.handshake !== false) await client.peer.handshake(options.settings)
  return { client, peer: client.peer }
}

/**
 * The end of a flood from a peer that stopped reading: a sentinel PING, then reading again.
 * True when the client acknowledged the sentinel within 20 s (it answered the whole flood),
 * false when it did not (it refused the flood and is closing).
 */
function sentinelAcked(peer: H2Peer): Promise<boolean> {
  const sentinel = Buffer.from('sentinel')
  peer.writeFrame(encodePing(sentinel))
  peer.resumeReading()
  return peer.expectPingAck(sentinel, 20_000).then(
    () => true,
    () => false,
  )
}

function h2Code(err: WirepoolError | undefined): number | undefined {
  return (err as Partial<H2ProtocolError> | undefined)?.h2Code
}

/** One event-loop turn: pending I/O callbacks run before it resolves (not a timed wait). */
function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

/** RFC 7541 §5.1 integer with an N-bit prefix; `flags` are the bits above the prefix. */
function hpackInt(value: number, prefixBits: number, flags: number): Buffer {
  const max = (1 << prefixBits) - 1
  if (value < max) return Buffer.from([flags | value])
  const out = [flags | max]
  let rest = value - max
  while (rest >= 128) {
    out.push((rest % 128) + 128)
    rest = Math.floor(rest / 128)
  }
  out.push(rest)
  return Buffer.from(out)
}

/** RFC 7541 §6.2.1 literal field with incremental indexing and a new (literal) name, no Huffman. */
function literalIndexed(name: string, value: string): Buffer {
  return Buffer.concat([Buffer.from([0x40]), hpackInt(name.length, 7, 0), Buffer.from(name, 'latin1'), hpackInt(value.length, 7, 0), Buffer.from(value, 'latin1')])
}

/** §6.1 indexed field; 0x88 is static entry 8, `:status: 200`. */
const STATUS_200 = 0x88
/** §2.3.3: index 62 is the newest dynamic table entry. */
const NEWEST_DYNAMIC = 0xbe

t.test('HPACK bomb: repeated indexed references decode past the header list limit', SUBTEST, async (t) => {
  const { client, peer } = await setup(t)
  const first = send(client)
  await peer.expectHeaders(1)

  // One 4000-octet entry enters the client's dynamic table, then 20 000 one-octet references
  // to it: about 24 KB on the wire, 80 MB of header list once decoded (RFC 9113 §10.5.1).
  const value = 'v'.repeat(4000)
  const block = Buffer.concat([Buffer.from([STATUS_200]), literalIndexed('x-bomb', value), Buffer.alloc(20_000, NEWEST_DYNAMIC)])
  peer.writeFrame(encodeHeaders(1, block.subarray(0, 16_384), { endStream: true, endHeaders: false }))
  peer.writeFrame(encodeContinuation(1, block.subarray(16_384), true))

  await peer.expectRstStream(1, ENHANCE_YOUR_CALM)
  const rec = await within(first.done, WAIT_MS, 'the request to fail')
  t.equal(rec.error?.code, 'WP_H2_PROTOCOL', 'the request fails with a protocol error')
  t.equal(h2Code(rec.error), ENHANCE_YOUR_CALM, '… ENHANCE_YOUR_CALM, the limit the block broke')
  t.equal(rec.status, undefined, 'no response head reached the handler')

  // The block was still decoded to its end, so the client's dynamic table holds x-bomb: a
  // response that refers to it by index decodes to the same value (tables in step, RFC 9113 §4.3).
  const second = send(client)
  await peer.expectHeaders(3)
  peer.writeFrame(encodeHeaders(3, Buffer.from([STATUS_200, NEWEST_DYNAMIC]), { endStream: true }))
  const ok = await within(second.done, WAIT_MS, 'the second response')
  t.equal(ok.error, undefined, 'the connection serves the next request')
  t.equal(ok.status, 200)
  t.equal(ok.headers?.['x-bomb'], value, 'the dynamic table survived the bomb in step with the server')
})

t.test('CONTINUATION flood: endless large fragments without END_HEADERS', SUBTEST, async (t) => {
  const { client, peer } = await setup(t)
  const request = send(client)
  await peer.expectHeaders(1)
  const goaway = peer.expectGoaway(ENHANCE_YOUR_CALM, 20_000)
  goaway.catch(() => {})

  peer.writeFrame(encodeHeaders(1, Buffer.from([STATUS_200]), { endHeaders: false }))
  const fragment = encodeContinuation(1, Buffer.alloc(16_384), false)
  const MAX_FRAMES = 4096 // 64 MiB: far past any sane limit, still a bounded loop
  let written = 0
  while (written < MAX_FRAMES && !peer.closed) {
    written++
    if (!peer.writeFrame(fragment)) await peer.drained()
  }
  await goaway
  await peer.expectClosed()
  t.ok(written < MAX_FRAMES, `the client cut the flood short (after ${written} frames written)`)
  t.ok(client.socket.bytesRead < 8 * 1024 * 1024, `the client read ${client.socket.bytesRead} octets, not the whole flood`)
  const rec = await within(request.done, WAIT_MS, 'the request to fail')
  t.equal(rec.error?.code, 'WP_H2_PROTOCOL')
  t.equal(h2Code(rec.error), ENHANCE_YOUR_CALM)
  const closeErr = await within(client.closed, WAIT_MS, 'close')
  t.equal(h2Code(closeErr), ENHANCE_YOUR_CALM, 'the connection closes with the same error')
})

t.test('CONTINUATION flood: many empty fragments (the count is bounded, not only the size)', SUBTEST, async (t) => {
  const { client, peer } = await setup(t)
  const request = send(client)
  await peer.expectHeaders(1)
  peer.writeFrame(encodeHeaders(1, Buffer.from([STATUS_200]), { endHeaders: false }))
  const empty = encodeContinuation(1, Buffer.alloc(0), false)
  const batch = Buffer.concat(Array.from({ length: 1000 }, () => empty))
  for (let i = 0; i < 100 && !peer.closed; i++) if (!peer.writeRaw(batch)) await peer.drained()
  await peer.expectGoaway(ENHANCE_YOUR_CALM)
  await peer.expectClosed()
  const rec = await within(request.done, WAIT_MS, 'the request to fail')
  t.equal(h2Code(rec.error), ENHANCE_YOUR_CALM, 'the request fails with ENHANCE_YOUR_CALM')
})

t.test('DATA beyond the stream window is a stream FLOW_CONTROL_ERROR', SUBTEST, async (t) => {
  // Our stream window is the RFC default; the handler pauses at the head, so no byte is
  // consumed and no window is given back: the server may send 65 535 octets and no more.
  const { client, peer } = await setup(t, { client: { initialStreamWindow: DEFAULT_INITIAL_WINDOW_SIZE } })
  t.equal(peer.clientSetting(SettingsId.INITIAL_WINDOW_SIZE, DEFAULT_INITIAL_WINDOW_SIZE), DEFAULT_INITIAL_WINDOW_SIZE)
  const request = send(client, {}, { onHeaders: () => false })
  await peer.expectHeaders(1)
  peer.headers(1, [':status', '200'])
  // Five full frames in one write (81 920 octets): the fourth crosses the window.
  const frame = encodeData(1, Buffer.alloc(16_384, 0x61))
  peer.writeRaw(Buffer.concat([frame, frame, frame, frame, frame]))

  await peer.expectRstStream(1, FLOW_CONTROL_ERROR)
  const rec = await within(request.done, WAIT_MS, 'the request to fail')
  t.equal(rec.error?.code, 'WP_H2_PROTOCOL')
  t.equal(h2Code(rec.error), FLOW_CONTROL_ERROR, 'the request fails with FLOW_CONTROL_ERROR')
  t.ok(rec.bytes <= DEFAULT_INITIAL_WINDOW_SIZE, `no more than the window reached the handler (${rec.bytes})`)
  // A stream error: the connection lives on.
  peer.ping('stillok?')
  await peer.expectPingAck(Buffer.from('stillok?'))
  t.equal(client.conn.retired, false, 'the connection still takes requests')
})

t.test('DATA beyond the connection window is a connection FLOW_CONTROL_ERROR', SUBTEST, async (t) => {
  const { client, peer } = await setup(t, { client: { connectionWindow: DEFAULT_INITIAL_WINDOW_SIZE, initialStreamWindow: 1 << 20 } })
  t.equal(peer.clientConnectionWindowIncrement, 0, 'the client kept the default connection window')
  const request = send(client, {}, { onHeaders: () => false })
  await peer.expectHeaders(1)
  peer.headers(1, [':status', '200'])
  const frame = encodeData(1, Buffer.alloc(16_384, 0x61))
  peer.writeRaw(Buffer.concat([frame, frame, frame, frame, frame]))

  await peer.expectGoaway(FLOW_CONTROL_ERROR)
  await peer.expectClosed()
  const rec = await within(request.done, WAIT_MS, 'the request to fail')
  t.equal(h2Code(rec.error), FLOW_CONTROL_ERROR, 'the request fails with FLOW_CONTROL_ERROR')
  t.equal(h2Code(await within(client.closed, WAIT_MS, 'close')), FLOW_CONTROL_ERROR, 'and so does the connection')
})

t.test('SETTINGS churn: every frame acknowledged, HPACK table size updates stay in step', SUBTEST, async (t) => {
  const { client, peer } = await setup(t)
  // 200 frames, each changing the table size and the initial window; sent in small bursts the
  // way a (strange) server could legitimately do.
  for (let i = 0; i < 200; i++) {
    peer.settings([
      [SettingsId.HEADER_TABLE_SIZE, i % 2 === 0 ? 0 : 4096],
      [SettingsId.INITIAL_WINDOW_SIZE, 65_535 + i],
    ])
    if (i % 50 === 49) {
      peer.ping(`burst${i}`.padEnd(8, '.'))
      await peer.expectPingAck(Buffer.from(`burst${i}`.padEnd(8, '.')))
    }
  }
  t.equal(peer.tally.get('settings_ack'), 201, 'all 200 SETTINGS (and the handshake one) were acknowledged, before the PINGs behind them')
  // The table went down to 0 and back to 4096: the next block must start with a size update
  // to 0 (RFC 7541 §4.2, the minimum of the interval), which the peer's decoder now demands.
  peer.decoder.setMaxTableSize(0)
  peer.decoder.setMaxTableSize(4096)
  const request = send(client, { path: '/after-churn', headers: ['x-a', '1'] })
  const head = await peer.expectHeaders(1)
  t.ok(head.fields.includes('/after-churn'), 'the request header block decodes after the churn')
  peer.respond(1, 200)
  const rec = await within(request.done, WAIT_MS, 'the response')
  t.equal(rec.status, 200)
})

t.test('SETTINGS flood: thousands in one burst end in ENHANCE_YOUR_CALM or are all acknowledged', SUBTEST, async (t) => {
  const { client, peer } = await setup(t, { peer: { recordHistory: false } })
  peer.ignore = (f) => f.kind === 'settings' && f.ack
  const N = 10_000
  const frame = encodeSettings([[SettingsId.MAX_CONCURRENT_STREAMS, 100]])
  peer.writeRaw(Buffer.concat(Array.from({ length: N }, () => frame)))
  const sentinel = Buffer.from('sentinel')
  peer.writeFrame(encodePing(sentinel))
  let maxWritable = 0
  const outcome = await peer.expect('GOAWAY or the sentinel PING ACK', (f) => {
    maxWritable = Math.max(maxWritable, client.socket.writableLength)
    return f.kind === 'goaway' || (f.kind === 'ping' && f.ack && f.opaque.equals(sentinel))
  })
  if (outcome.kind === 'goaway') {
    t.equal(outcome.errorCode, ENHANCE_YOUR_CALM, `flood refused with GOAWAY ENHANCE_YOUR_CALM after ${peer.tally.get('settings_ack') ?? 0} ACKs`)
    await peer.expectClosed()
  } else {
    t.equal(peer.tally.get('settings_ack'), N + 1, 'every SETTINGS frame acknowledged')
  }
  t.ok(maxWritable <= 2 * 1024 * 1024, `the client's write buffer stayed bounded (max ${maxWritable})`)
})

t.test('PING flood in large bursts from a server that does not read: write buffer bounded', SUBTEST, async (t) => {
  const { client, peer } = await setup(t, { peer: { recordHistory: false } })
  peer.ignore = (f) => f.kind === 'ping' && f.ack
  peer.pauseReading()
  // 400 000 PINGs (6.8 MB) in 2000-frame writes ask for 6.8 MB of ACKs: more than loopback
  // kernel buffers hold, so a client that queued every ACK would grow its own buffer by
  // megabytes. (Ours refuses a read that asks for more than 1000 ACKs at once.)
  const batch = Buffer.concat(Array.from({ length: 2000 }, () => encodePing(Buffer.from('floodflo'))))
  let maxWritable = 0
  for (let i = 0; i < 200 && !peer.closed; i++) {
    if (!peer.writeRaw(batch)) await peer.drained()
    maxWritable = Math.max(maxWritable, client.socket.writableLength)
  }
  for (let i = 0; i < 20; i++) {
    await turn()
    maxWritable = Math.max(maxWritable, client.socket.writableLength)
  }
  t.ok(maxWritable <= 2 * 1024 * 1024, `the client's write buffer stayed bounded (max ${maxWritable} octets)`)
  // Either the client refused the flood (its GOAWAY may be lost: it closes while the server
  // still is not reading, so its socket resets), or it acknowledged every PING.
  const acked = await sentinelAcked(peer)
  if (acked) {
    t.equal(peer.tally.get('ping_ack'), 400_001, 'every PING acknowledged')
  } else {
    const err = await within(client.closed, WAIT_MS, 'close')
    t.equal(h2Code(err), ENHANCE_YOUR_CALM, `flood refused with ENHANCE_YOUR_CALM after ${peer.tally.get('ping_ack') ?? 0} ACKs`)
    t.ok(client.socket.destroyed, 'and the socket is gone')
  }
})

t.test('PING flood in small bursts from a server that does not read: write buffer bounded', SUBTEST, async (t) => {
  const { client, peer } = await setup(t, { peer: { recordHistory: false } })
  peer.ignore = (f) => f.kind === 'ping' && f.ack
  peer.pauseReading()
  // Bursts of 500 PINGs, each sent once the client has read the one before: no single read
  // carries a suspicious number, but the ACKs pile up once the kernel buffers are full. A client
  // that queued them all would hold megabytes; the bound must hold however they arrive.
  const BURST = 500
  const BURSTS = 800
  const burst = Buffer.concat(Array.from({ length: BURST }, () => encodePing(Buffer.from('burstflo'))))
  const baseline = client.socket.bytesRead
  let written = 0
  let maxWritable = 0
  let sent = 0
  for (; sent < BURSTS && !client.conn.retired && !peer.closed; sent++) {
    peer.writeRaw(burst)
    written += burst.length
    // Wait (in event-loop turns, bounded) until the client has read this burst.
    for (let i = 0; i < 10_000 && client.socket.bytesRead - baseline < written && !client.conn.retired; i++) await turn()
    maxWritable = Math.max(maxWritable, client.socket.writableLength)
  }
  t.ok(maxWritable <= 2 * 1024 * 1024, `the client's write buffer stayed bounded (max ${maxWritable} octets after ${sent} bursts)`)
  const acked = await sentinelAcked(peer)
  if (acked) {
    t.equal(peer.tally.get('ping_ack'), sent * BURST + 1, 'every PING acknowledged')
  } else {
    const err = await within(client.closed, 20_000, 'close')
    t.equal(h2Code(err), ENHANCE_YOUR_CALM, `flood refused with ENHANCE_YOUR_CALM after ${sent} bursts, ${peer.tally.get('ping_ack') ?? 0} ACKs read`)
  }
})

t.test('a server that resets every stream it gets', SUBTEST, async (t) => {
  const { client, peer } = await setup(t)
  const COUNT = 100

  // (a) RST_STREAM(REFUSED_STREAM) right after each request's HEADERS: retryable failures.
  const refused = Array.from({ length: COUNT }, () => send(client))
  for (let i = 0; i < COUNT; i++) {
    const head = await peer.expectHeaders(1 + 2 * i)
    peer.rstStream(head.streamId, REFUSED_STREAM)
  }
  const refusedRecs = await within(Promise.all(refused.map((r) => r.done)), WAIT_MS, 'the refused requests')
  t.ok(
    refusedRecs.every((r) => r.events.join(',') === 'connect,error' && r.error?.code === 'WP_H2_STREAM_RESET' && h2Code(r.error) === REFUSED_STREAM),
    'every request fails with WP_H2_STREAM_RESET REFUSED_STREAM',
  )
  t.ok(
    refusedRecs.every((r) => (r.error as H2StreamResetError).retryable && !(r.error as H2StreamResetError).responseStarted),
    'and is marked retryable, nothing processed (RFC 9113 §8.7)',
  )

  // (b) a response head, then RST_STREAM(CANCEL): the handler saw the head, then the reset.
  const base = 1 + 2 * COUNT
  const cancelled = Array.from({ length: COUNT }, () => send(client))
  for (let i = 0; i < COUNT; i++) {
    const head = await peer.expectHeaders(base + 2 * i)
    peer.headers(head.streamId, [':status', '200'])
    peer.rstStream(head.streamId, CANCEL)
  }
  const cancelledRecs = await within(Promise.all(cancelled.map((r) => r.done)), WAIT_MS, 'the cancelled requests')
  t.ok(
    cancelledRecs.every((r) => r.events.join(',') === 'connect,headers,error' && r.error?.code === 'WP_H2_STREAM_RESET' && h2Code(r.error) === CANCEL),
    'every request saw its head, then failed with WP_H2_STREAM_RESET CANCEL',
  )
  t.ok(
    cancelledRecs.every((r) => (r.error as H2StreamResetError).responseStarted),
    'and is not retryable: the response had started',
  )

  // The connection is clean: no stream left over, full capacity, still serving.
  t.equal(client.conn.inFlight, 0, 'no stream is left in the table')
  const last = send(client)
  const head = await peer.expectHeaders(base + 2 * COUNT)
  peer.respond(head.streamId, 200, [], 'fine')
  const rec = await within(last.done, WAIT_MS, 'the last response')
  t.equal(rec.status, 200, 'the connection still serves requests')
  t.equal(peer.tally.get('rst_stream'), undefined, 'the client never answered a RST_STREAM with one (RFC 9113 §5.4.2)')
})

t.test('PUSH_PROMISE although we sent SETTINGS_ENABLE_PUSH=0', SUBTEST, async (t) => {
  const { client, peer } = await setup(t)
  t.equal(peer.clientSetting(SettingsId.ENABLE_PUSH, 1), 0, 'the client disabled push in its SETTINGS')
  const request = send(client)
  await peer.expectHeaders(1)
  peer.pushPromise(1, 2, [':method', 'GET', ':path', '/pushed', ':scheme', 'http', ':authority', '127.0.0.1'])
  await peer.expectGoaway(PROTOCOL_ERROR)
  await peer.expectClosed()
  const rec = await within(request.done, WAIT_MS, 'the request to fail')
  t.equal(rec.error?.code, 'WP_H2_PROTOCOL')
  t.equal(h2Code(rec.error), PROTOCOL_ERROR, 'the request fails with PROTOCOL_ERROR (RFC 9113 §6.6)')
})

t.test('a server that stops reading while we upload a large body', SUBTEST, async (t) => {
  const { client, peer } = await setup(t, {
    peer: { recordData: false, recordHistory: false },
    settings: [[SettingsId.INITIAL_WINDOW_SIZE, MAX_WINDOW_SIZE]],
  })
  // Windows wide open, so only the socket can hold the upload back; the PING makes sure the
  // client applied the WINDOW_UPDATE before the request starts.
  peer.windowUpdate(0, MAX_WINDOW_SIZE - DEFAULT_INITIAL_WINDOW_SIZE)
  peer.ping('windowok')
  await peer.expectPingAck(Buffer.from('windowok'))
  peer.pauseReading()

  const TOTAL = 32 * 1024 * 1024
  const chunk = Buffer.alloc(64 * 1024, 0x62)
  let pulled = 0
  let maxWritable = 0
  async function* body(): AsyncGenerator<Uint8Array> {
    while (pulled < TOTAL) {
      maxWritable = Math.max(maxWritable, client.socket.writableLength)
      pulled += chunk.length
      yield chunk
    }
  }
  let received = 0
  let resolveEnd!: () => void
  const ended = new Promise<void>((resolve) => (resolveEnd = resolve))
  peer.ignore = (f) => {
    if (f.kind !== 'data') return false
    received += f.flowControlledLength
    if ((f.flags & Flag.END_STREAM) !== 0) resolveEnd()
    return true
  }
  const request = send(client, { method: 'POST', body: body(), bodyLength: TOTAL, idempotent: false })

  // Wait until the upload stalls: the body is not pulled for 50 event-loop turns in a row
  // (a client that ignored backpressure would pull all 32 MiB within microtasks). Bounded.
  let quiet = 0
  for (let i = 0; i < 200_000 && quiet < 50 && pulled < TOTAL; i++) {
    const before = pulled
    await turn()
    maxWritable = Math.max(maxWritable, client.socket.writableLength)
    quiet = pulled === before ? quiet + 1 : 0
  }
  t.ok(pulled < TOTAL, `the upload stalled after ${pulled} of ${TOTAL} octets were read from the body`)
  t.ok(maxWritable <= 2 * 1024 * 1024, `the client's write buffer stayed bounded (max ${maxWritable} octets)`)
  t.ok(client.socket.writableLength > 0, 'the client holds data the server has not taken')

  // The server reads again: the rest of the body flows and the exchange completes.
  peer.resumeReading()
  await within(ended, 20_000, 'the end of the upload')
  t.equal(received, TOTAL, 'every octet of the body arrived')
  peer.respond(1, 200, [], 'got it')
  const rec = await within(request.done, WAIT_MS, 'the response')
  t.equal(rec.status, 200)
  t.equal(rec.body.toString(), 'got it')
})

t.test('a server that never sends SETTINGS: SETTINGS_TIMEOUT', SUBTEST, async (t) => {
  const { client, peer } = await setup(t, { client: { settingsTimeout: 200 }, handshake: false })
  await peer.preface
  const clientSettings = await peer.expectSettings()
  t.ok(clientSettings.settings.length > 0, 'the client sent its SETTINGS')
  const request = send(client)
  await peer.expectHeaders(1)
  // The server says nothing at all. RFC 9113 §6.5.3: the client MAY end the connection with
  // SETTINGS_TIMEOUT when its SETTINGS are not acknowledged in time.
  await peer.expectGoaway(SETTINGS_TIMEOUT)
  await peer.expectClosed()
  const rec = await within(request.done, WAIT_MS, 'the request to fail')
  t.equal(rec.error?.code, 'WP_H2_PROTOCOL')
  t.equal(h2Code(rec.error), SETTINGS_TIMEOUT, 'the request fails with SETTINGS_TIMEOUT')
  t.equal(h2Code(await within(client.closed, WAIT_MS, 'close')), SETTINGS_TIMEOUT)
})

t.test(
  'a server whose first frame is not SETTINGS: invalid preface',
  SUBTEST,
  async (t) => {
  const { client, peer } = await setup(t, { handshake: false })
  await peer.preface
  await peer.expectSettings()
  // RFC 9113 §3.4: the server preface is a SETTINGS frame and "MUST be the first frame the
  // server sends"; an invalid preface is a connection error PROTOCOL_ERROR. Here the server
  // acknowledges our SETTINGS and pings, but never sends its own.
  peer.settingsAck()
  peer.ping('noprefac')
  await peer.expectGoaway(PROTOCOL_ERROR)
  await peer.expectClosed()
  t.equal(h2Code(await within(client.closed, WAIT_MS, 'close')), PROTOCOL_ERROR)
})

t.test('unknown frame types in a flood are bounded too', SUBTEST, async (t) => {
  const { client, peer } = await setup(t)
  const request = send(client)
  await peer.expectHeaders(1)
  // §5.5 says to ignore them; §10.5 lets an endpoint refuse a flood of frames that do nothing.
  const batch = Buffer.concat(Array.from({ length: 1000 }, () => rawFrame(0xee, 0, 0, Buffer.alloc(8))))
  for (let i = 0; i < 50 && !peer.closed; i++) if (!peer.writeRaw(batch)) await peer.drained()
  await peer.expectGoaway(ENHANCE_YOUR_CALM)
  await peer.expectClosed()
  const rec = await within(request.done, WAIT_MS, 'the request to fail')
  t.equal(h2Code(rec.error), ENHANCE_YOUR_CALM, 'the request fails with ENHANCE_YOUR_CALM')
})

