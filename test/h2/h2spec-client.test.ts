/**
 * h2spec's client conformance cases (../shared/corpus/h2spec-client-cases/cases.json, RFC 7540
 * section numbers as h2spec has them), played by the scripted fake server against H2Connection.
 * Each case: handshake, one GET on stream 1, then the peer does what `desc` says and the test
 * checks what `requirement` says — on the wire (GOAWAY / RST_STREAM with the code, PING ACK,
 * SETTINGS ACK, connection closed) and at the handler (the request fails with that code).
 *
 * The verdicts follow h2spec's verifiers (spec/verifier.go), made stricter where our engine can
 * afford it: a connection error must show as GOAWAY with the code *and* a closed connection (h2spec
 * also accepts a bare close); a stream error as RST_STREAM with the code on that stream, or a
 * connection error with that code, as h2spec accepts.
 *
 * The cases run a few at a time, each on its own server and connection, and the subtests report
 * their outcomes, so that a hanging case costs one wait bound, not the whole file.
 */
import { existsSync, readFileSync } from 'node:fs'
import t from 'tap'
import type { H2ProtocolError, WirepoolError } from '../../src/errors.js'
import { Flag, FrameType, H2ErrorCode, SettingsId, h2ErrorName } from '../../src/h2/frame.js'
import { openExchange, within } from './peer/client.js'
import type { Exchange } from './peer/client.js'
import { rawFrame } from '../support/h2-frames.js'
import { corpusMissing, corpusUrl } from '../support/corpus.js'
import { FakeH2Server, describeFrame } from './peer/fake-server.js'
import type { PeerFrame } from './peer/fake-server.js'

const CASES = corpusUrl('h2spec-client-cases/cases.json')

interface Case {
  id: string
  section: string
  desc: string
  requirement: string
}

/** Cases the engine fails today: bugs for the session (kept visible as tap todos, see the report). */
const KNOWN_BUGS: Record<string, string> = {}

/** Bound on every wait in a case. */
const WAIT_MS = 2000
/** Cases run at once. */
const CONCURRENCY = 6

const { PROTOCOL_ERROR, FRAME_SIZE_ERROR, COMPRESSION_ERROR, STREAM_CLOSED, FLOW_CONTROL_ERROR, CANCEL } = H2ErrorCode

class CaseFailure extends Error {}

function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new CaseFailure(message)
}

function describeError(err: WirepoolError | undefined): string {
  if (err === undefined) return 'no error'
  const h2 = err as Partial<H2ProtocolError>
  return `${err.code}${h2.h2CodeName === undefined ? '' : ` ${h2.h2CodeName}`}: ${err.message}`
}

function hasH2Code(err: WirepoolError | undefined, codes: readonly number[]): boolean {
  const code = (err as Partial<H2ProtocolError> | undefined)?.h2Code
  return code !== undefined && codes.includes(code)
}

// ── verdicts ────────────────────────────────────────────────────────────────────────────

/**
 * RFC 9113 §5.4.1: GOAWAY with one of `codes`, then the TCP connection closed; the connection's
 * 'close' event and the in-flight request carry an H2ProtocolError with that code.
 */
async function connectionError(x: Exchange, codes: readonly number[], requestInFlight = true): Promise<void> {
  await x.peer.expectGoaway(codes, WAIT_MS)
  await x.peer.expectClosed(WAIT_MS)
  const err = await within(x.closed, WAIT_MS, "the connection's close event")
  check(err?.code === 'WP_H2_PROTOCOL' && hasH2Code(err, codes), `close event carries ${describeError(err)}`)
  const rec = await within(x.request.done, WAIT_MS, 'the request to end')
  if (requestInFlight) {
    check(rec.error?.code === 'WP_H2_PROTOCOL' && hasH2Code(rec.error, codes), `request ended with ${describeError(rec.error)} (events ${rec.events.join(',')})`)
  } else {
    check(rec.events.at(-1) === 'complete', `the completed request was disturbed: ${rec.events.join(',')}`)
  }
}

/**
 * RFC 9113 §5.4.2: RST_STREAM with one of `codes` on `streamId` and the connection still
 * answering PINGs — or a connection error with one of `codes`, which h2spec accepts too.
 */
async function streamError(x: Exchange, streamId: number, codes: readonly number[]): Promise<PeerFrame> {
  const frame = await x.peer.expect(`RST_STREAM(${streamId}) or GOAWAY`, (f) => (f.kind === 'rst_stream' && f.streamId === streamId) || f.kind === 'goaway', WAIT_MS)
  const code = frame.kind === 'rst_stream' || frame.kind === 'goaway' ? frame.errorCode : -1
  check(codes.includes(code), `expected error code ${codes.map(h2ErrorName).join('|')}, got ${describeFrame(frame)}`)
  if (frame.kind === 'goaway') {
    await x.peer.expectClosed(WAIT_MS)
    return frame
  }
  await alive(x, 'after the stream error')
  return frame
}

/** The connection still works: a PING is answered (RFC 9113 §6.7). */
async function alive(x: Exchange, when: string): Promise<void> {
  const opaque = Buffer.from('alive?!!')
  x.peer.ping(opaque)
  await x.peer.expectPingAck(opaque, WAIT_MS).catch((err: Error) => {
    throw new CaseFailure(`connection not alive ${when}: ${err.message}`)
  })
}

/** h2spec's WriteSuccessResponse + our check that the response reached the handler intact. */
async function succeeds(x: Exchange): Promise<void> {
  x.peer.respond(x.streamId, 200, ['content-type', 'text/plain'], 'ok')
  const rec = await within(x.request.done, WAIT_MS, 'the response')
  check(rec.error === undefined, `request failed: ${describeError(rec.error)}`)
  check(rec.status === 200 && rec.body.toString() === 'ok', `response was ${rec.status} ${JSON.stringify(rec.body.toString())}`)
}

/** The request failed because the peer reset its stream with `code` (RFC 9113 §6.4). */
async function requestReset(x: Exchange, code: number): Promise<void> {
  const rec = await within(x.request.done, WAIT_MS, 'the request to end')
  check(rec.error?.code === 'WP_H2_STREAM_RESET' && hasH2Code(rec.error, [code]), `request ended with ${describeError(rec.error)}`)
}

// ── the cases ───────────────────────────────────────────────────────────────────────────

const RESPONSE = [':status', '200']
const dummy = (n: number): string[] => Array.from({ length: n }, (_, i) => [`x-dummy${i}`, 'dummy'.repeat(4)]).flat()

/** A HEADERS frame for the response on the request stream, with explicit flags. */
function responseHeaders(x: Exchange, endStream: boolean, endHeaders: boolean): void {
  x.peer.headers(x.streamId, RESPONSE, { endStream, endHeaders })
}

const PING_PAYLOAD = Buffer.from('h2spec\0\0', 'latin1')

async function pingAnswered(x: Exchange): Promise<void> {
  x.peer.ping(PING_PAYLOAD)
  await x.peer.expectPingAck(PING_PAYLOAD, WAIT_MS)
}

const scenarios: Record<string, (x: Exchange) => Promise<void>> = {
  // §3.5 (h2spec "1"): the server preface is a SETTINGS frame; the handshake of openExchange
  // sent it and got its ACK. The connection then serves the request.
  'client/1/1': async (x) => {
    await succeeds(x)
  },

  // §4.1: unknown frame types are ignored (h2spec sends type 0x16 on stream 0).
  'client/4.1/1': async (x) => {
    x.peer.writeRaw(rawFrame(0x16, 0, 0, new Uint8Array(8)))
    await pingAnswered(x)
    await succeeds(x)
  },
  // §4.1: undefined flags are ignored: a PING with flags 0x16 (ACK clear) is still answered.
  'client/4.1/2': async (x) => {
    x.peer.writeRaw(rawFrame(FrameType.PING, 0x16, 0, PING_PAYLOAD))
    const ack = await x.peer.expectFrame('ping', () => true, WAIT_MS)
    check(ack.ack && ack.opaque.equals(PING_PAYLOAD), `expected PING ACK of the payload, got ${describeFrame(ack)}`)
    await succeeds(x)
  },
  // §4.1: the reserved bit of the stream identifier is ignored.
  'client/4.1/3': async (x) => {
    x.peer.writeRaw(rawFrame(FrameType.PING, 0x16, 0x80000000, PING_PAYLOAD))
    const ack = await x.peer.expectFrame('ping', () => true, WAIT_MS)
    check(ack.ack && ack.opaque.equals(PING_PAYLOAD), `expected PING ACK of the payload, got ${describeFrame(ack)}`)
    await succeeds(x)
  },

  // §4.2: a DATA frame of exactly 2^14 octets is accepted.
  'client/4.2/1': async (x) => {
    responseHeaders(x, false, true)
    x.peer.data(x.streamId, Buffer.alloc(16_384, 0x61), { endStream: true })
    await pingAnswered(x)
    const rec = await within(x.request.done, WAIT_MS, 'the response')
    check(rec.error === undefined && rec.status === 200 && rec.bytes === 16_384, `response: ${describeError(rec.error)}, ${rec.bytes} body octets`)
  },
  // §4.2: DATA above SETTINGS_MAX_FRAME_SIZE: FRAME_SIZE_ERROR (h2spec: stream or connection error).
  'client/4.2/2': async (x) => {
    responseHeaders(x, false, true)
    x.peer.data(x.streamId, Buffer.alloc(16_385, 0x61), { endStream: true })
    await streamError(x, x.streamId, [FRAME_SIZE_ERROR])
    const rec = await within(x.request.done, WAIT_MS, 'the request to end')
    check(rec.error !== undefined && hasH2Code(rec.error, [FRAME_SIZE_ERROR]), `request ended with ${describeError(rec.error)}`)
  },
  // §4.2: a HEADERS frame above SETTINGS_MAX_FRAME_SIZE is a connection error (it carries a header block).
  'client/4.2/3': async (x) => {
    const block = x.peer.encodeBlock([...RESPONSE, ...Array.from({ length: 5 }, (_, i) => [`x-big${i}`, 'x'.repeat(4000)]).flat()])
    check(block.length > 16_384, `test setup: block of ${block.length} octets is not above 16384`)
    x.peer.writeRaw(rawFrame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, x.streamId, block))
    await connectionError(x, [FRAME_SIZE_ERROR])
  },
  // §4.3: an undecodable header block is a connection error COMPRESSION_ERROR. 0xff 0x00 is
  // an indexed field with index 127, beyond the (empty) dynamic table (RFC 7541 §2.3.3).
  'client/4.3/1': async (x) => {
    x.peer.writeRaw(rawFrame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, x.streamId, Buffer.from([0xff, 0x00])))
    await connectionError(x, [COMPRESSION_ERROR])
  },

  // §5.1 idle: anything but HEADERS/PRIORITY on an idle stream is a connection PROTOCOL_ERROR.
  // Stream 2 is idle: the server never promised it (push is off).
  'client/5.1/1': async (x) => {
    x.peer.data(2, 'test', { endStream: true })
    await connectionError(x, [PROTOCOL_ERROR])
  },
  'client/5.1/2': async (x) => {
    x.peer.rstStream(2, CANCEL)
    await connectionError(x, [PROTOCOL_ERROR])
  },
  'client/5.1/3': async (x) => {
    x.peer.windowUpdate(2, 100)
    await connectionError(x, [PROTOCOL_ERROR])
  },
  'client/5.1/4': async (x) => {
    x.peer.continuation(2, RESPONSE, true)
    await connectionError(x, [PROTOCOL_ERROR])
  },
  // §5.1 closed (reset by the peer): further frames are a stream error STREAM_CLOSED.
  'client/5.1/5': async (x) => {
    responseHeaders(x, false, true)
    x.peer.rstStream(x.streamId, CANCEL)
    x.peer.data(x.streamId, 'test', { endStream: true })
    await streamError(x, x.streamId, [STREAM_CLOSED])
    await requestReset(x, CANCEL)
  },
  'client/5.1/6': async (x) => {
    responseHeaders(x, false, true)
    x.peer.rstStream(x.streamId, CANCEL)
    responseHeaders(x, true, true)
    await streamError(x, x.streamId, [STREAM_CLOSED])
    await requestReset(x, CANCEL)
  },
  'client/5.1/7': async (x) => {
    responseHeaders(x, false, true)
    x.peer.rstStream(x.streamId, CANCEL)
    x.peer.continuation(x.streamId, dummy(1), true)
    await streamError(x, x.streamId, [STREAM_CLOSED, PROTOCOL_ERROR])
    await requestReset(x, CANCEL)
  },
  // §5.1 closed (after END_STREAM): further frames are a connection error STREAM_CLOSED.
  'client/5.1/8': async (x) => {
    responseHeaders(x, true, true)
    x.peer.data(x.streamId, 'test', { endStream: true })
    await connectionError(x, [STREAM_CLOSED], false)
  },
  'client/5.1/9': async (x) => {
    responseHeaders(x, true, true)
    responseHeaders(x, true, true)
    await connectionError(x, [STREAM_CLOSED], false)
  },
  'client/5.1/10': async (x) => {
    responseHeaders(x, true, true)
    x.peer.continuation(x.streamId, dummy(1), true)
    await connectionError(x, [STREAM_CLOSED, PROTOCOL_ERROR], false)
  },
  // §5.1.1: HEADERS on a stream the client never opened (101, idle) is a connection PROTOCOL_ERROR.
  'client/5.1.1/1': async (x) => {
    x.peer.headers(101, RESPONSE, { endStream: true })
    await connectionError(x, [PROTOCOL_ERROR])
  },

  // §5.4.1: after a connection error the TCP connection is closed…
  'client/5.4.1/1': async (x) => {
    x.peer.writeRaw(rawFrame(FrameType.PING, 0, 3, new Uint8Array(8)))
    await x.peer.expectClosed(WAIT_MS)
    const err = await within(x.closed, WAIT_MS, "the connection's close event")
    check(err !== undefined, 'the connection closed without an error')
  },
  // …and first a GOAWAY is sent.
  'client/5.4.1/2': async (x) => {
    x.peer.writeRaw(rawFrame(FrameType.PING, 0, 3, new Uint8Array(8)))
    await connectionError(x, [PROTOCOL_ERROR])
  },

  // §5.5: unknown extension frames are ignored, here one on the open stream with all flags set.
  'client/5.5/1': async (x) => {
    x.peer.writeRaw(rawFrame(0xa5, 0xff, x.streamId, Buffer.from('extension payload')))
    await pingAnswered(x)
    await succeeds(x)
  },

  // §6.1
  'client/6.1/1': async (x) => {
    x.peer.writeRaw(rawFrame(FrameType.DATA, Flag.END_STREAM, 0, Buffer.from('test')))
    await connectionError(x, [PROTOCOL_ERROR])
  },
  'client/6.1/2': async (x) => {
    responseHeaders(x, true, true)
    x.peer.data(x.streamId, 'test', { endStream: true })
    await streamError(x, x.streamId, [STREAM_CLOSED])
  },
  'client/6.1/3': async (x) => {
    x.peer.headers(x.streamId, [...RESPONSE, 'content-length', '4'])
    // Length 5, Pad Length 6: padding longer than the payload.
    x.peer.writeRaw(rawFrame(FrameType.DATA, Flag.END_STREAM | Flag.PADDED, x.streamId, Buffer.from('\x06Test', 'latin1')))
    await connectionError(x, [PROTOCOL_ERROR])
  },

  // §6.2
  'client/6.2/1': async (x) => {
    responseHeaders(x, false, false)
    x.peer.priority(x.streamId, { streamDependency: 0, weight: 16, exclusive: false })
    await connectionError(x, [PROTOCOL_ERROR])
  },
  'client/6.2/2': async (x) => {
    x.peer.writeRaw(rawFrame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, 0, x.peer.encodeBlock(RESPONSE)))
    await connectionError(x, [PROTOCOL_ERROR])
  },
  'client/6.2/3': async (x) => {
    const block = x.peer.encodeBlock(RESPONSE)
    // Pad Length 255 with a payload far shorter than that.
    x.peer.writeRaw(rawFrame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM | Flag.PADDED, x.streamId, Buffer.concat([Buffer.from([255]), block])))
    await connectionError(x, [PROTOCOL_ERROR])
  },

  // §6.3
  'client/6.3/1': async (x) => {
    x.peer.writeRaw(rawFrame(FrameType.PRIORITY, 0, 0, Buffer.from([0, 0, 0, 1, 15])))
    await connectionError(x, [PROTOCOL_ERROR])
  },
  'client/6.3/2': async (x) => {
    x.peer.writeRaw(rawFrame(FrameType.PRIORITY, 0, x.streamId, Buffer.from([0, 0, 0, 0])))
    await streamError(x, x.streamId, [FRAME_SIZE_ERROR])
  },

  // §6.4
  'client/6.4/1': async (x) => {
    x.peer.writeRaw(rawFrame(FrameType.RST_STREAM, 0, 0, Buffer.from([0, 0, 0, CANCEL])))
    await connectionError(x, [PROTOCOL_ERROR])
  },
  'client/6.4/2': async (x) => {
    x.peer.rstStream(2, CANCEL)
    await connectionError(x, [PROTOCOL_ERROR])
  },
  'client/6.4/3': async (x) => {
    responseHeaders(x, true, true)
    x.peer.writeRaw(rawFrame(FrameType.RST_STREAM, 0, x.streamId, Buffer.from([0, 0, 0])))
    await streamError(x, x.streamId, [FRAME_SIZE_ERROR])
  },

  // §6.5
  'client/6.5/1': async (x) => {
    x.peer.writeRaw(rawFrame(FrameType.SETTINGS, Flag.ACK, 0, Buffer.from([0, SettingsId.ENABLE_PUSH, 0, 0, 0, 0])))
    await connectionError(x, [FRAME_SIZE_ERROR])
  },
  'client/6.5/2': async (x) => {
    x.peer.writeRaw(rawFrame(FrameType.SETTINGS, 0, 1, Buffer.from([0, SettingsId.MAX_CONCURRENT_STREAMS, 0, 0, 0, 100])))
    await connectionError(x, [PROTOCOL_ERROR])
  },
  'client/6.5/3': async (x) => {
    x.peer.writeRaw(rawFrame(FrameType.SETTINGS, 0, 0, Buffer.from([0, SettingsId.ENABLE_PUSH, 0])))
    await connectionError(x, [FRAME_SIZE_ERROR])
  },

  // §6.5.2
  'client/6.5.2/1': async (x) => {
    x.peer.writeRaw(rawFrame(FrameType.SETTINGS, 0, 0, Buffer.from([0, SettingsId.INITIAL_WINDOW_SIZE, 0x80, 0, 0, 0])))
    await connectionError(x, [FLOW_CONTROL_ERROR])
  },
  'client/6.5.2/2': async (x) => {
    x.peer.writeRaw(rawFrame(FrameType.SETTINGS, 0, 0, Buffer.from([0, SettingsId.MAX_FRAME_SIZE, 0, 0, 0x3f, 0xff])))
    await connectionError(x, [PROTOCOL_ERROR])
  },
  'client/6.5.2/3': async (x) => {
    x.peer.writeRaw(rawFrame(FrameType.SETTINGS, 0, 0, Buffer.from([0, SettingsId.MAX_FRAME_SIZE, 0x01, 0, 0, 0])))
    await connectionError(x, [PROTOCOL_ERROR])
  },
  'client/6.5.2/4': async (x) => {
    x.peer.writeRaw(rawFrame(FrameType.SETTINGS, 0, 0, Buffer.from([0, 0xff, 0, 0, 0, 1])))
    await x.peer.expectSettingsAck(WAIT_MS)
    await succeeds(x)
  },

  // §6.5.3
  'client/6.5.3/1': async (x) => {
    x.peer.settings([[SettingsId.MAX_CONCURRENT_STREAMS, 100]])
    await x.peer.expectSettingsAck(WAIT_MS)
    await succeeds(x)
  },

  // §6.7
  'client/6.7/1': async (x) => {
    await pingAnswered(x)
  },
  'client/6.7/2': async (x) => {
    x.peer.ping(Buffer.from('invalid\0', 'latin1'), true)
    x.peer.ping(PING_PAYLOAD)
    const first = await x.peer.expectFrame('ping', () => true, WAIT_MS)
    check(first.ack && first.opaque.equals(PING_PAYLOAD), `the first PING the client sent is ${describeFrame(first)}, not the ACK of the second`)
  },
  'client/6.7/3': async (x) => {
    x.peer.writeRaw(rawFrame(FrameType.PING, 0, 1, new Uint8Array(8)))
    await connectionError(x, [PROTOCOL_ERROR])
  },
  'client/6.7/4': async (x) => {
    x.peer.writeRaw(rawFrame(FrameType.PING, 0, 0, new Uint8Array(6)))
    await connectionError(x, [FRAME_SIZE_ERROR])
  },

  // §6.8
  'client/6.8/1': async (x) => {
    x.peer.writeRaw(rawFrame(FrameType.GOAWAY, 0, 1, new Uint8Array(8)))
    await connectionError(x, [PROTOCOL_ERROR])
  },

  // §6.9
  'client/6.9/1': async (x) => {
    x.peer.writeRaw(rawFrame(FrameType.WINDOW_UPDATE, 0, 0, new Uint8Array(4)))
    await connectionError(x, [PROTOCOL_ERROR])
  },
  'client/6.9/2': async (x) => {
    responseHeaders(x, false, true)
    x.peer.writeRaw(rawFrame(FrameType.WINDOW_UPDATE, 0, x.streamId, new Uint8Array(4)))
    await streamError(x, x.streamId, [PROTOCOL_ERROR])
    const rec = await within(x.request.done, WAIT_MS, 'the request to end')
    check(rec.error !== undefined && hasH2Code(rec.error, [PROTOCOL_ERROR]), `request ended with ${describeError(rec.error)}`)
  },
  'client/6.9/3': async (x) => {
    x.peer.writeRaw(Buffer.from([0, 0, 3, FrameType.WINDOW_UPDATE, 0, 0, 0, 0, 0]))
    x.peer.writeRaw(Buffer.from([0, 0, 1]))
    await connectionError(x, [FRAME_SIZE_ERROR])
  },

  // §6.9.1
  'client/6.9.1/1': async (x) => {
    x.peer.windowUpdate(0, 2 ** 31 - 1)
    x.peer.windowUpdate(0, 2 ** 31 - 1)
    await connectionError(x, [FLOW_CONTROL_ERROR])
  },
  'client/6.9.1/2': async (x) => {
    responseHeaders(x, false, true)
    x.peer.windowUpdate(x.streamId, 2 ** 31 - 1)
    x.peer.windowUpdate(x.streamId, 2 ** 31 - 1)
    await x.peer.expectRstStream(x.streamId, FLOW_CONTROL_ERROR, WAIT_MS)
    await alive(x, 'after the stream error')
    const rec = await within(x.request.done, WAIT_MS, 'the request to end')
    check(rec.error !== undefined && hasH2Code(rec.error, [FLOW_CONTROL_ERROR]), `request ended with ${describeError(rec.error)}`)
  },

  // §6.10
  'client/6.10/1': async (x) => {
    responseHeaders(x, true, false)
    x.peer.continuation(x.streamId, dummy(1), false)
    x.peer.continuation(x.streamId, dummy(1), true)
    await pingAnswered(x)
    const rec = await within(x.request.done, WAIT_MS, 'the response')
    check(rec.error === undefined && rec.status === 200, `response: ${describeError(rec.error)}, status ${rec.status}`)
    check(rec.headers?.['x-dummy0'] !== undefined, `the CONTINUATION fields are missing: ${JSON.stringify(rec.headers)}`)
  },
  'client/6.10/2': async (x) => {
    responseHeaders(x, false, false)
    x.peer.continuation(x.streamId, dummy(1), false)
    x.peer.data(x.streamId, 'test', { endStream: true })
    await connectionError(x, [PROTOCOL_ERROR])
  },
  'client/6.10/3': async (x) => {
    responseHeaders(x, true, false)
    x.peer.writeRaw(rawFrame(FrameType.CONTINUATION, Flag.END_HEADERS, 0, x.peer.encodeBlock(dummy(1))))
    await connectionError(x, [PROTOCOL_ERROR])
  },
  'client/6.10/4': async (x) => {
    responseHeaders(x, true, true)
    x.peer.continuation(x.streamId, dummy(1), true)
    await connectionError(x, [PROTOCOL_ERROR], false)
  },
  'client/6.10/5': async (x) => {
    responseHeaders(x, true, false)
    x.peer.continuation(x.streamId, dummy(1), true)
    x.peer.continuation(x.streamId, dummy(1), true)
    await connectionError(x, [PROTOCOL_ERROR], false)
  },
  'client/6.10/6': async (x) => {
    responseHeaders(x, false, false)
    x.peer.data(x.streamId, 'test', { endStream: true })
    x.peer.continuation(x.streamId, dummy(1), false)
    await connectionError(x, [PROTOCOL_ERROR])
  },
}

interface Outcome {
  ok: boolean
  message: string
}

/** Run one case on its own server and connection; everything is closed before it returns. */
async function runCase(c: Case): Promise<Outcome> {
  const scenario = scenarios[c.id]
  if (scenario === undefined) return { ok: false, message: `no scenario for ${c.id}` }
  const cleanups: Array<() => unknown> = []
  const teardown = { teardown: (fn: () => unknown) => void cleanups.push(fn) }
  try {
    const server = await FakeH2Server.start(teardown, { timeoutMs: WAIT_MS })
    const x = await openExchange(teardown, server)
    const start = x.peer.received.length
    await scenario(x)
    // What the client answered, for the record (e.g. a stream error taken as a connection error).
    const answers = x.peer.received.slice(start).map(describeFrame).join(' ')
    return { ok: true, message: `${c.requirement} (client sent: ${answers === '' ? 'nothing' : answers})` }
  } catch (err) {
    return { ok: false, message: err instanceof Error ? err.message : String(err) }
  } finally {
    for (const fn of cleanups.reverse()) await fn()
  }
}

if (!existsSync(CASES)) {
  await t.test('h2spec client cases', { skip: corpusMissing('h2spec-client-cases/cases.json') ?? false }, async () => {})
} else {
  const cases = JSON.parse(readFileSync(CASES, 'utf8')) as Case[]

  t.test('every corpus case has a scenario and every scenario a case', async (t) => {
    t.same(
      cases.map((c) => c.id).filter((id) => scenarios[id] === undefined),
      [],
      'cases without a scenario',
    )
    t.same(
      Object.keys(scenarios).filter((id) => !cases.some((c) => c.id === id)),
      [],
      'scenarios without a case',
    )
    t.equal(cases.length, 57, 'the corpus lists 57 cases')
  })

  // Run the cases a few at a time, then report each one as a subtest.
  const outcomes = new Map<string, Outcome>()
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < cases.length) {
      const c = cases[next++]!
      outcomes.set(c.id, await runCase(c))
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))

  let passed = 0
  for (const c of cases) {
    const outcome = outcomes.get(c.id)!
    if (outcome.ok) passed++
    const bug = KNOWN_BUGS[c.id]
    await t.test(`${c.id} ${c.desc}`, bug === undefined ? {} : { todo: `bug: ${bug}` }, async (t) => {
      t.ok(outcome.ok, outcome.ok ? outcome.message : `${c.requirement} — ${outcome.message}`)
    })
  }
  t.comment(`h2spec client cases: ${passed}/${cases.length} pass`)
}
