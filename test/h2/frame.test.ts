import t from 'tap'
import fc from 'fast-check'
import { H2ProtocolError, InvalidArgumentError, WirepoolError } from '../../src/errors.js'
import { CLIENT_PREFACE, DEFAULT_MAX_FRAME_SIZE, Flag, FrameType, H2ErrorCode, SettingsId, h2Error, h2ErrorName } from '../../src/h2/frame.js'
import { FrameReader } from '../../src/h2/frame-reader.js'
import { dataFrameHeader, encodeContinuation, encodeData, encodeGoaway, encodeHeaders, encodePing, encodePriority, encodePushPromise, encodeRstStream, encodeSettings, encodeSettingsAck, encodeWindowUpdate, writeFrameHeader } from '../../src/h2/frame-writer.js'
import { rawFrame } from '../support/h2-frames.js'
import { FrameRecorder, feed } from './frame-recorder.js'

function u32(n: number): number[] {
  return [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]
}

function setting(id: number, value: number): number[] {
  return [id >>> 8, id & 0xff, ...u32(value)]
}

/** The subtest object tap passes to a `t.test` callback. */
type Tap = Parameters<Parameters<typeof t.test>[0]>[0]

/** Feeding `bytes` must throw a connection error with this code, and deliver no frame after the bad one. */
function connectionError(t: Tap, bytes: Uint8Array, code: number, message: string): void {
  const { error } = feed(bytes)
  t.type(error, H2ProtocolError, `${message}: throws H2ProtocolError`)
  if (error instanceof H2ProtocolError) {
    t.equal(error.h2CodeName, h2ErrorName(code), `${message}: ${h2ErrorName(code)}`)
    t.equal(error.h2Code, code)
    t.equal(error.streamId, 0, `${message}: connection error`)
    t.equal(error.code, 'WP_H2_PROTOCOL')
  }
}

function accepted(t: Tap, bytes: Uint8Array, message: string) {
  const result = feed(bytes)
  t.equal(result.error, undefined, `${message}: accepted`)
  return result.records
}

t.test('constants follow RFC 9113', async (t) => {
  t.equal(CLIENT_PREFACE.toString('latin1'), 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')
  t.equal(CLIENT_PREFACE.toString('hex'), '505249202a20485454502f322e300d0a0d0a534d0d0a0d0a')
  t.same(Object.values(FrameType), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
  t.equal(h2ErrorName(0), 'NO_ERROR')
  t.equal(h2ErrorName(0x9), 'COMPRESSION_ERROR')
  t.equal(h2ErrorName(0xd), 'HTTP_1_1_REQUIRED')
  t.equal(h2ErrorName(0xe), 'UNKNOWN_ERROR_0xe')
  const err = h2Error(H2ErrorCode.CANCEL, 3, 'gone')
  t.type(err, WirepoolError)
  t.match(err, { code: 'WP_H2_PROTOCOL', h2Code: 8, h2CodeName: 'CANCEL', streamId: 3, initiator: 'remote' })
  t.equal(err.message, 'CANCEL: gone')
  t.equal(err.name, 'H2ProtocolError')
})

t.test('writers produce the RFC 9113 wire format', async (t) => {
  t.equal(dataFrameHeader(5, Flag.END_STREAM, 1).toString('hex'), '000005000100000001')
  t.equal(encodeData(3, Buffer.from('hi')).toString('hex'), '000002000000000003' + '6869')
  t.equal(encodeData(3, Buffer.from('hi'), { endStream: true, padLength: 2 }).toString('hex'), '000005000900000003' + '02' + '6869' + '0000')
  t.equal(encodeHeaders(1, Buffer.from([0x82])).toString('hex'), '000001010400000001' + '82')
  t.equal(encodeHeaders(1, Buffer.from([0x82]), { endStream: true, endHeaders: false }).toString('hex'), '000001010100000001' + '82')
  t.equal(
    encodeHeaders(5, Buffer.from([0x82]), { priority: { streamDependency: 3, weight: 256, exclusive: true }, padLength: 1 }).toString('hex'),
    '000008012c00000005' + '01' + '80000003' + 'ff' + '82' + '00',
  )
  t.equal(encodeContinuation(7, Buffer.from([1, 2])).toString('hex'), '000002090400000007' + '0102')
  t.equal(encodeContinuation(7, Buffer.from([1]), false).toString('hex'), '000001090000000007' + '01')
  t.equal(
    encodeSettings([
      [SettingsId.ENABLE_PUSH, 0],
      [SettingsId.INITIAL_WINDOW_SIZE, 2 ** 31 - 1],
    ]).toString('hex'),
    '00000c040000000000' + '000200000000' + '00047fffffff',
  )
  t.equal(encodeSettings([]).toString('hex'), '000000040000000000')
  t.equal(encodeSettingsAck().toString('hex'), '000000040100000000')
  t.equal(encodeSettingsAck(), encodeSettingsAck(), 'the ACK frame is preallocated once')
  t.equal(encodePing(Buffer.from('12345678'), true).toString('hex'), '000008060100000000' + Buffer.from('12345678').toString('hex'))
  t.equal(encodeGoaway(7, H2ErrorCode.ENHANCE_YOUR_CALM).toString('hex'), '000008070000000000' + '00000007' + '0000000b')
  t.equal(encodeGoaway(0, 0, Buffer.from('x')).toString('hex'), '000009070000000000' + '00000000' + '00000000' + '78')
  t.equal(encodeRstStream(9, H2ErrorCode.CANCEL).toString('hex'), '000004030000000009' + '00000008')
  t.equal(encodeWindowUpdate(0, 2 ** 31 - 1).toString('hex'), '000004080000000000' + '7fffffff')
  t.equal(encodePriority(11, { streamDependency: 0, weight: 1, exclusive: false }).toString('hex'), '00000502000000000b' + '00000000' + '00')
  t.equal(encodePushPromise(1, 2, Buffer.from([0x82])).toString('hex'), '000005050400000001' + '00000002' + '82')
  t.equal(
    encodePushPromise(1, 4, Buffer.from([0x82]), { endHeaders: false, padLength: 0 }).toString('hex'),
    '000006050800000001' + '00' + '00000004' + '82',
  )
  const target = Buffer.alloc(12, 0xee)
  writeFrameHeader(target, 2, 0x010203, 0xaa, 0xbb, 0x7fffffff)
  t.equal(target.toString('hex'), 'eeee' + '010203aabb7fffffff' + 'ee')
})

t.test('writers reject arguments that would make an invalid frame', async (t) => {
  const bad: Array<[string, () => unknown]> = [
    ['DATA on stream 0', () => encodeData(0, Buffer.alloc(1))],
    ['negative stream', () => encodeRstStream(-1, 0)],
    ['stream id 2^31', () => encodeHeaders(2 ** 31, Buffer.alloc(0))],
    ['fractional stream', () => dataFrameHeader(1, 0, 1.5)],
    ['payload over 2^24-1', () => dataFrameHeader(2 ** 24, 0, 1)],
    ['flags over 255', () => dataFrameHeader(1, 256, 1)],
    ['padLength 256', () => encodeData(1, Buffer.alloc(1), { padLength: 256 })],
    ['weight 0', () => encodePriority(1, { streamDependency: 0, weight: 0, exclusive: false })],
    ['weight 257', () => encodeHeaders(1, Buffer.alloc(0), { priority: { streamDependency: 0, weight: 257, exclusive: false } })],
    ['PING of 7 octets', () => encodePing(Buffer.alloc(7))],
    ['WINDOW_UPDATE 0', () => encodeWindowUpdate(1, 0)],
    ['WINDOW_UPDATE 2^31', () => encodeWindowUpdate(1, 2 ** 31)],
    ['RST_STREAM code 2^32', () => encodeRstStream(1, 2 ** 32)],
    ['GOAWAY last stream 2^31', () => encodeGoaway(2 ** 31, 0)],
    ['SETTINGS id 2^16', () => encodeSettings([[0x10000, 0]])],
    ['SETTINGS value 2^32', () => encodeSettings([[SettingsId.HEADER_TABLE_SIZE, 2 ** 32]])],
    ['ENABLE_PUSH 2', () => encodeSettings([[SettingsId.ENABLE_PUSH, 2]])],
    ['INITIAL_WINDOW_SIZE 2^31', () => encodeSettings([[SettingsId.INITIAL_WINDOW_SIZE, 2 ** 31]])],
    ['MAX_FRAME_SIZE 16383', () => encodeSettings([[SettingsId.MAX_FRAME_SIZE, 16383]])],
    ['promised stream 0', () => encodePushPromise(1, 0, Buffer.alloc(0))],
  ]
  for (const [name, fn] of bad) t.throws(fn, InvalidArgumentError, name)
  t.throws(() => new FrameReader(new FrameRecorder(), { maxFrameSize: 16383 }), InvalidArgumentError)
  t.throws(() => new FrameReader(new FrameRecorder()).setMaxFrameSize(2 ** 24), InvalidArgumentError)
})

/** One of each frame type, with the options that change the layout. */
function sampleFrames(): Buffer[] {
  return [
    encodeSettings([
      [SettingsId.MAX_CONCURRENT_STREAMS, 100],
      [SettingsId.INITIAL_WINDOW_SIZE, 1 << 20],
      [SettingsId.MAX_FRAME_SIZE, 16384],
    ]),
    encodeSettingsAck(),
    encodeHeaders(1, Buffer.from('header-block'), { endHeaders: false, priority: { streamDependency: 0, weight: 16, exclusive: true } }),
    encodeContinuation(1, Buffer.from('more'), false),
    encodeContinuation(1, Buffer.from('end')),
    encodeData(1, Buffer.alloc(3000, 0x61)),
    encodeData(1, Buffer.from('padded'), { padLength: 10 }),
    encodeData(1, new Uint8Array(0), { endStream: true }),
    encodeHeaders(3, Buffer.from('x'), { padLength: 4, endStream: true }),
    encodePriority(3, { streamDependency: 1, weight: 200, exclusive: false }),
    encodeRstStream(3, H2ErrorCode.CANCEL),
    encodePushPromise(1, 2, Buffer.from('promise'), { padLength: 3 }),
    encodePing(Buffer.from('pingpong')),
    encodePing(Buffer.from('pongping'), true),
    encodeWindowUpdate(0, 1000),
    encodeWindowUpdate(1, 2 ** 31 - 1),
    rawFrame(0xfa, 0xff, 5, [1, 2, 3]),
    encodeGoaway(3, H2ErrorCode.NO_ERROR, Buffer.from('bye')),
  ]
}

t.test('round trip: every frame type decodes to what was encoded', async (t) => {
  const records = accepted(t, Buffer.concat(sampleFrames()), 'sample')
  t.same(records, [
    { kind: 'settings', ack: false, settings: [[3, 100], [4, 1 << 20], [5, 16384]] },
    { kind: 'settings', ack: true, settings: [] },
    {
      kind: 'headers',
      streamId: 1,
      flags: Flag.PRIORITY,
      fragment: Buffer.from('header-block'),
      priority: { streamDependency: 0, weight: 16, exclusive: true },
    },
    { kind: 'continuation', streamId: 1, flags: 0, fragment: Buffer.from('more') },
    { kind: 'continuation', streamId: 1, flags: Flag.END_HEADERS, fragment: Buffer.from('end') },
    { kind: 'data', streamId: 1, flags: 0, data: Buffer.alloc(3000, 0x61), flowControlledLength: 3000 },
    { kind: 'data', streamId: 1, flags: Flag.PADDED, data: Buffer.from('padded'), flowControlledLength: 17 },
    { kind: 'data', streamId: 1, flags: Flag.END_STREAM, data: Buffer.alloc(0), flowControlledLength: 0 },
    { kind: 'headers', streamId: 3, flags: Flag.END_HEADERS | Flag.END_STREAM | Flag.PADDED, fragment: Buffer.from('x'), priority: undefined },
    { kind: 'priority', streamId: 3, priority: { streamDependency: 1, weight: 200, exclusive: false } },
    { kind: 'rst_stream', streamId: 3, errorCode: H2ErrorCode.CANCEL },
    { kind: 'push_promise', streamId: 1, flags: Flag.END_HEADERS | Flag.PADDED, promisedStreamId: 2, fragment: Buffer.from('promise') },
    { kind: 'ping', ack: false, opaque: Buffer.from('pingpong') },
    { kind: 'ping', ack: true, opaque: Buffer.from('pongping') },
    { kind: 'window_update', streamId: 0, increment: 1000 },
    { kind: 'window_update', streamId: 1, increment: 2 ** 31 - 1 },
    { kind: 'unknown', type: 0xfa, flags: 0xff, streamId: 5, payload: Buffer.from([1, 2, 3]) },
    { kind: 'goaway', lastStreamId: 3, errorCode: 0, debugData: Buffer.from('bye') },
  ])
})

t.test('split at every point, and byte by byte, gives the same frames', async (t) => {
  const bytes = Buffer.concat(sampleFrames())
  const whole = feed(bytes)
  t.equal(whole.error, undefined)
  let mismatches = 0
  for (let cut = 0; cut <= bytes.length; cut++) {
    const split = feed(bytes, [cut])
    if (split.error !== undefined || !sameRecords(split.records, whole.records)) mismatches++
  }
  t.equal(mismatches, 0, `all ${bytes.length + 1} two-piece splits agree`)
  const cuts = Array.from({ length: bytes.length - 1 }, (_, i) => i + 1)
  const bytewise = feed(bytes, cuts)
  t.equal(bytewise.error, undefined)
  t.same(bytewise.records, whole.records, 'one byte per push')
})

function sameRecords(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b)
}

t.test('payloads are views: into the chunk when inside it, into one frame buffer when split', async (t) => {
  const frame = encodeData(1, Buffer.from('hello'))
  const chunk = Buffer.concat([encodePing(Buffer.from('12345678')), frame])
  const inside = feed(chunk)
  const data = inside.recorder.views[1]!
  t.equal(data.buffer, chunk.buffer, 'same memory as the chunk')
  t.equal(data.byteOffset, chunk.byteOffset + 17 + 9, 'at the payload offset')
  t.equal(Buffer.from(data).toString(), 'hello')

  // Cut inside the payload: only this frame's payload is gathered, in a buffer of its length.
  const split = feed(chunk, [17 + 9 + 2])
  const gathered = split.recorder.views[1]!
  t.not(gathered.buffer, chunk.buffer)
  t.equal(gathered.byteLength, 5)
  t.equal(gathered.buffer.byteLength, 5, 'a buffer exactly the payload length')

  // Cut inside the header only: the payload is still a view of the second chunk.
  const recorder = new FrameRecorder()
  const reader = new FrameReader(recorder)
  const second = frame.subarray(4)
  reader.push(frame.subarray(0, 4))
  t.equal(reader.bufferedBytes, 4)
  reader.push(second)
  t.equal(recorder.views[0]!.buffer, second.buffer)
  t.equal(reader.bufferedBytes, 0)
})

t.test('buffering is bounded by the frame being read', async (t) => {
  const recorder = new FrameRecorder()
  const reader = new FrameReader(recorder)
  const big = encodeData(1, Buffer.alloc(DEFAULT_MAX_FRAME_SIZE, 1))
  reader.push(big.subarray(0, 100))
  t.equal(reader.state, 'payload')
  t.equal(reader.bufferedBytes, 100)
  reader.push(big.subarray(100, big.length - 1))
  t.equal(reader.bufferedBytes, big.length - 1)
  reader.push(big.subarray(big.length - 1))
  t.equal(reader.state, 'head')
  t.equal(reader.bufferedBytes, 0)
  t.equal(recorder.records.length, 1)
  t.equal(reader.maxFrameSize, DEFAULT_MAX_FRAME_SIZE)
})

t.test('§4.2 frame size: a frame over our SETTINGS_MAX_FRAME_SIZE fails from its header alone', async (t) => {
  const header = rawFrame(FrameType.DATA, 0, 1, [], DEFAULT_MAX_FRAME_SIZE + 1)
  connectionError(t, header, H2ErrorCode.FRAME_SIZE_ERROR, 'DATA 16385 octets')
  connectionError(t, rawFrame(FrameType.DATA, 0, 1, [], 0xffffff).subarray(0, 9), H2ErrorCode.FRAME_SIZE_ERROR, 'DATA 2^24-1 octets')
  connectionError(t, rawFrame(0xee, 0, 0, [], DEFAULT_MAX_FRAME_SIZE + 1), H2ErrorCode.FRAME_SIZE_ERROR, 'unknown type too')
  accepted(t, encodeData(1, Buffer.alloc(DEFAULT_MAX_FRAME_SIZE)), 'exactly 16384')
  const larger = feed(encodeData(1, Buffer.alloc(DEFAULT_MAX_FRAME_SIZE + 1)), [], { maxFrameSize: 32768 })
  t.equal(larger.error, undefined, 'a larger limit from the constructor')
  const recorder = new FrameRecorder()
  const reader = new FrameReader(recorder)
  reader.setMaxFrameSize(20000)
  reader.push(encodeData(1, Buffer.alloc(20000)))
  t.equal(recorder.records.length, 1, 'setMaxFrameSize raises it')
})

t.test('§6.1 DATA', async (t) => {
  connectionError(t, rawFrame(FrameType.DATA, 0, 0, [1]), H2ErrorCode.PROTOCOL_ERROR, 'stream 0')
  connectionError(t, rawFrame(FrameType.DATA, Flag.PADDED, 1, []), H2ErrorCode.FRAME_SIZE_ERROR, 'PADDED without a Pad Length octet')
  connectionError(t, rawFrame(FrameType.DATA, Flag.PADDED, 1, [3, 0, 0]), H2ErrorCode.PROTOCOL_ERROR, 'padding longer than the rest')
  connectionError(t, rawFrame(FrameType.DATA, Flag.PADDED, 1, [1]), H2ErrorCode.PROTOCOL_ERROR, 'padding of 1 with nothing left')
  const [only] = accepted(t, rawFrame(FrameType.DATA, Flag.PADDED, 1, [2, 0, 0]), 'padding filling the frame')
  t.same(only, { kind: 'data', streamId: 1, flags: Flag.PADDED, data: Buffer.alloc(0), flowControlledLength: 3 })
  const [undefinedFlags] = accepted(t, rawFrame(FrameType.DATA, 0xf6, 1, [7]), 'undefined flags')
  t.same(undefinedFlags, { kind: 'data', streamId: 1, flags: 0xf6, data: Buffer.from([7]), flowControlledLength: 1 }, 'passed through untouched')
  const [reserved] = accepted(t, rawFrame(FrameType.DATA, 0, 0x80000003, [7]), 'reserved bit set')
  t.match(reserved, { streamId: 3 }, '§4.1 reserved bit ignored')
})

t.test('§6.2 HEADERS', async (t) => {
  const eh = Flag.END_HEADERS
  connectionError(t, rawFrame(FrameType.HEADERS, eh, 0, [0x82]), H2ErrorCode.PROTOCOL_ERROR, 'stream 0')
  connectionError(t, rawFrame(FrameType.HEADERS, eh | Flag.PADDED, 1, []), H2ErrorCode.FRAME_SIZE_ERROR, 'PADDED, empty')
  connectionError(t, rawFrame(FrameType.HEADERS, eh | Flag.PADDED, 1, [2, 0]), H2ErrorCode.PROTOCOL_ERROR, 'padding too long')
  connectionError(t, rawFrame(FrameType.HEADERS, eh | Flag.PRIORITY, 1, [0, 0, 0, 0]), H2ErrorCode.FRAME_SIZE_ERROR, 'PRIORITY fields cut')
  connectionError(
    t,
    rawFrame(FrameType.HEADERS, eh | Flag.PRIORITY | Flag.PADDED, 1, [1, 0, 0, 0, 0, 0]),
    H2ErrorCode.PROTOCOL_ERROR,
    'padding eating the priority fields',
  )
  connectionError(t, rawFrame(FrameType.HEADERS, eh | Flag.PRIORITY | Flag.PADDED, 1, [0, 0, 0, 0]), H2ErrorCode.FRAME_SIZE_ERROR, 'PADDED+PRIORITY too short')
  const [withPriority] = accepted(t, rawFrame(FrameType.HEADERS, eh | Flag.PRIORITY | Flag.PADDED, 1, [1, 0x80, 0, 0, 3, 9, 0x82, 0]), 'both')
  t.same(withPriority, {
    kind: 'headers',
    streamId: 1,
    flags: eh | Flag.PRIORITY | Flag.PADDED,
    fragment: Buffer.from([0x82]),
    priority: { streamDependency: 3, weight: 10, exclusive: true },
  })
  const [empty] = accepted(t, rawFrame(FrameType.HEADERS, eh, 1, []), 'empty fragment')
  t.match(empty, { kind: 'headers', fragment: Buffer.alloc(0) })
})

t.test('§6.3 PRIORITY: stream 0 is a connection error, a wrong length a stream error', async (t) => {
  connectionError(t, rawFrame(FrameType.PRIORITY, 0, 0, [0, 0, 0, 1, 0]), H2ErrorCode.PROTOCOL_ERROR, 'stream 0')
  const records = accepted(t, Buffer.concat([rawFrame(FrameType.PRIORITY, 0, 5, [0, 0, 0, 1]), encodePing(Buffer.alloc(8))]), 'length 4')
  t.same(records, [
    { kind: 'stream_error', streamId: 5, h2Code: H2ErrorCode.FRAME_SIZE_ERROR, h2CodeName: 'FRAME_SIZE_ERROR' },
    { kind: 'ping', ack: false, opaque: Buffer.alloc(8) },
  ], 'reported on stream 5, and reading goes on')
  const [long] = accepted(t, rawFrame(FrameType.PRIORITY, 0, 5, [0, 0, 0, 1, 0, 0]), 'length 6')
  t.match(long, { kind: 'stream_error', streamId: 5 })
})

t.test('§6.4 RST_STREAM', async (t) => {
  connectionError(t, rawFrame(FrameType.RST_STREAM, 0, 0, u32(8)), H2ErrorCode.PROTOCOL_ERROR, 'stream 0')
  connectionError(t, rawFrame(FrameType.RST_STREAM, 0, 1, [0, 0, 8]), H2ErrorCode.FRAME_SIZE_ERROR, 'length 3')
  connectionError(t, rawFrame(FrameType.RST_STREAM, 0, 1, [0, 0, 0, 8, 0]), H2ErrorCode.FRAME_SIZE_ERROR, 'length 5')
  const [rst] = accepted(t, rawFrame(FrameType.RST_STREAM, 0, 1, u32(0xffffffff)), 'unknown error code')
  t.same(rst, { kind: 'rst_stream', streamId: 1, errorCode: 0xffffffff }, '§7: unknown codes are passed on')
})

t.test('§6.5 SETTINGS', async (t) => {
  connectionError(t, rawFrame(FrameType.SETTINGS, 0, 1, []), H2ErrorCode.PROTOCOL_ERROR, 'stream 1')
  connectionError(t, rawFrame(FrameType.SETTINGS, Flag.ACK, 0, setting(1, 0)), H2ErrorCode.FRAME_SIZE_ERROR, 'ACK with payload')
  connectionError(t, rawFrame(FrameType.SETTINGS, 0, 0, [0, 1, 0, 0, 0]), H2ErrorCode.FRAME_SIZE_ERROR, 'length 5')
  connectionError(t, rawFrame(FrameType.SETTINGS, 0, 0, [...setting(1, 0), 0]), H2ErrorCode.FRAME_SIZE_ERROR, 'length 7')
  connectionError(t, rawFrame(FrameType.SETTINGS, 0, 0, setting(SettingsId.ENABLE_PUSH, 2)), H2ErrorCode.PROTOCOL_ERROR, 'ENABLE_PUSH 2')
  connectionError(
    t,
    rawFrame(FrameType.SETTINGS, 0, 0, setting(SettingsId.INITIAL_WINDOW_SIZE, 2 ** 31)),
    H2ErrorCode.FLOW_CONTROL_ERROR,
    'INITIAL_WINDOW_SIZE 2^31',
  )
  connectionError(t, rawFrame(FrameType.SETTINGS, 0, 0, setting(SettingsId.MAX_FRAME_SIZE, 16383)), H2ErrorCode.PROTOCOL_ERROR, 'MAX_FRAME_SIZE 16383')
  connectionError(t, rawFrame(FrameType.SETTINGS, 0, 0, setting(SettingsId.MAX_FRAME_SIZE, 2 ** 24)), H2ErrorCode.PROTOCOL_ERROR, 'MAX_FRAME_SIZE 2^24')
  connectionError(
    t,
    rawFrame(FrameType.SETTINGS, 0, 0, setting(SettingsId.ENABLE_CONNECT_PROTOCOL, 2)),
    H2ErrorCode.PROTOCOL_ERROR,
    'ENABLE_CONNECT_PROTOCOL 2 (RFC 8441 §3)',
  )
  connectionError(
    t,
    rawFrame(FrameType.SETTINGS, 0, 0, setting(SettingsId.NO_RFC7540_PRIORITIES, 2)),
    H2ErrorCode.PROTOCOL_ERROR,
    'NO_RFC7540_PRIORITIES 2 (RFC 9218 §2.1)',
  )
  const [limits] = accepted(
    t,
    rawFrame(FrameType.SETTINGS, 0, 0, [
      ...setting(SettingsId.ENABLE_PUSH, 1),
      ...setting(0x7, 99), // unassigned: ignored
      ...setting(SettingsId.INITIAL_WINDOW_SIZE, 2 ** 31 - 1),
      ...setting(SettingsId.MAX_FRAME_SIZE, 16384),
      ...setting(0xfeed, 0xffffffff), // unknown: ignored, whatever its value
      ...setting(SettingsId.MAX_FRAME_SIZE, 2 ** 24 - 1),
      ...setting(SettingsId.HEADER_TABLE_SIZE, 0xffffffff),
    ]),
    'values at their limits',
  )
  t.same(limits, {
    kind: 'settings',
    ack: false,
    settings: [
      [2, 1],
      [4, 2 ** 31 - 1],
      [5, 16384],
      [5, 2 ** 24 - 1],
      [1, 0xffffffff],
    ],
  }, 'known settings in wire order, unknown ones dropped')
})

t.test('§6.6 PUSH_PROMISE', async (t) => {
  const eh = Flag.END_HEADERS
  connectionError(t, rawFrame(FrameType.PUSH_PROMISE, eh, 0, u32(2)), H2ErrorCode.PROTOCOL_ERROR, 'stream 0')
  connectionError(t, rawFrame(FrameType.PUSH_PROMISE, eh, 1, [0, 0, 2]), H2ErrorCode.FRAME_SIZE_ERROR, 'promised id cut')
  connectionError(t, rawFrame(FrameType.PUSH_PROMISE, eh | Flag.PADDED, 1, [0, 0, 0, 2]), H2ErrorCode.FRAME_SIZE_ERROR, 'PADDED, too short')
  connectionError(t, rawFrame(FrameType.PUSH_PROMISE, eh | Flag.PADDED, 1, [1, ...u32(2)]), H2ErrorCode.PROTOCOL_ERROR, 'padding too long')
  connectionError(t, rawFrame(FrameType.PUSH_PROMISE, eh, 1, u32(0)), H2ErrorCode.PROTOCOL_ERROR, 'promised stream 0')
  connectionError(t, rawFrame(FrameType.PUSH_PROMISE, eh, 1, u32(3)), H2ErrorCode.PROTOCOL_ERROR, 'promised odd stream')
  const [pp] = accepted(t, rawFrame(FrameType.PUSH_PROMISE, eh, 1, [...u32(0x80000004), 0x82]), 'reserved bit on the promised id')
  t.same(pp, { kind: 'push_promise', streamId: 1, flags: eh, promisedStreamId: 4, fragment: Buffer.from([0x82]) })
})

t.test('§6.7 PING', async (t) => {
  connectionError(t, rawFrame(FrameType.PING, 0, 1, Buffer.alloc(8)), H2ErrorCode.PROTOCOL_ERROR, 'stream 1')
  connectionError(t, rawFrame(FrameType.PING, 0, 0, Buffer.alloc(7)), H2ErrorCode.FRAME_SIZE_ERROR, 'length 7')
  connectionError(t, rawFrame(FrameType.PING, Flag.ACK, 0, Buffer.alloc(9)), H2ErrorCode.FRAME_SIZE_ERROR, 'length 9')
})

t.test('§6.8 GOAWAY', async (t) => {
  connectionError(t, rawFrame(FrameType.GOAWAY, 0, 1, Buffer.alloc(8)), H2ErrorCode.PROTOCOL_ERROR, 'stream 1')
  connectionError(t, rawFrame(FrameType.GOAWAY, 0, 0, Buffer.alloc(7)), H2ErrorCode.FRAME_SIZE_ERROR, 'length 7')
  const [goaway] = accepted(t, rawFrame(FrameType.GOAWAY, 0, 0, [...u32(0x80000009), ...u32(2)]), 'reserved bit on last stream id')
  t.same(goaway, { kind: 'goaway', lastStreamId: 9, errorCode: 2, debugData: Buffer.alloc(0) })
})

t.test('§6.9 WINDOW_UPDATE', async (t) => {
  connectionError(t, rawFrame(FrameType.WINDOW_UPDATE, 0, 0, [0, 0, 1]), H2ErrorCode.FRAME_SIZE_ERROR, 'length 3 on the connection')
  connectionError(t, rawFrame(FrameType.WINDOW_UPDATE, 0, 7, [0, 0, 0, 1, 0]), H2ErrorCode.FRAME_SIZE_ERROR, 'length 5 on a stream')
  connectionError(t, rawFrame(FrameType.WINDOW_UPDATE, 0, 0, u32(0)), H2ErrorCode.PROTOCOL_ERROR, 'increment 0 on the connection')
  connectionError(t, rawFrame(FrameType.WINDOW_UPDATE, 0, 0, u32(0x80000000)), H2ErrorCode.PROTOCOL_ERROR, 'only the reserved bit set')
  const records = accepted(t, Buffer.concat([rawFrame(FrameType.WINDOW_UPDATE, 0, 7, u32(0)), encodeWindowUpdate(7, 5)]), 'increment 0 on a stream')
  t.same(records, [
    { kind: 'stream_error', streamId: 7, h2Code: H2ErrorCode.PROTOCOL_ERROR, h2CodeName: 'PROTOCOL_ERROR' },
    { kind: 'window_update', streamId: 7, increment: 5 },
  ], 'a stream error on stream 7, then reading goes on')
  const [reserved] = accepted(t, rawFrame(FrameType.WINDOW_UPDATE, 0, 0, u32(0x80000001)), 'reserved bit')
  t.same(reserved, { kind: 'window_update', streamId: 0, increment: 1 })
})

t.test('§6.10 CONTINUATION sequencing', async (t) => {
  const open = encodeHeaders(1, Buffer.from('a'), { endHeaders: false })
  connectionError(t, encodeContinuation(1, Buffer.from('a')), H2ErrorCode.PROTOCOL_ERROR, 'CONTINUATION with no field block open')
  connectionError(
    t,
    Buffer.concat([encodeHeaders(1, Buffer.from('a')), encodeContinuation(1, Buffer.from('b'))]),
    H2ErrorCode.PROTOCOL_ERROR,
    'after END_HEADERS',
  )
  connectionError(
    t,
    Buffer.concat([open, encodeContinuation(1, Buffer.from('b')), encodeContinuation(1, Buffer.from('c'))]),
    H2ErrorCode.PROTOCOL_ERROR,
    'after a CONTINUATION with END_HEADERS',
  )
  connectionError(t, Buffer.concat([open, encodeContinuation(3, Buffer.from('b'))]), H2ErrorCode.PROTOCOL_ERROR, 'on another stream')
  connectionError(t, Buffer.concat([open, encodePing(Buffer.alloc(8))]), H2ErrorCode.PROTOCOL_ERROR, 'a PING inside the block')
  connectionError(t, Buffer.concat([open, encodePriority(1, { streamDependency: 0, weight: 1, exclusive: false })]), H2ErrorCode.PROTOCOL_ERROR, 'PRIORITY inside')
  connectionError(t, Buffer.concat([open, rawFrame(0xbb, 0, 1, [])]), H2ErrorCode.PROTOCOL_ERROR, 'an unknown frame inside')
  connectionError(t, Buffer.concat([encodeData(1, Buffer.alloc(1)), encodeContinuation(1, Buffer.from('b'))]), H2ErrorCode.PROTOCOL_ERROR, 'after DATA')
  connectionError(
    t,
    Buffer.concat([encodePushPromise(1, 2, Buffer.from('p'), { endHeaders: false }), encodeData(1, Buffer.alloc(1))]),
    H2ErrorCode.PROTOCOL_ERROR,
    'PUSH_PROMISE opens a field block too',
  )
  const records = accepted(
    t,
    Buffer.concat([open, encodeContinuation(1, Buffer.from('b'), false), encodeContinuation(1, Buffer.from('c')), encodeData(1, Buffer.from('d'))]),
    'HEADERS, CONTINUATION, CONTINUATION+END_HEADERS, DATA',
  )
  t.same(
    records.map((r) => r.kind),
    ['headers', 'continuation', 'continuation', 'data'],
  )
})

t.test('§4.1 unknown frame types are passed to onUnknown and otherwise ignored', async (t) => {
  const records = accepted(t, Buffer.concat([rawFrame(0x0a, 0, 0, []), rawFrame(0xff, 0x5a, 0x80000009, [9, 9]), encodePing(Buffer.alloc(8))]), 'unknown types')
  t.same(records, [
    { kind: 'unknown', type: 0x0a, flags: 0, streamId: 0, payload: Buffer.alloc(0) },
    { kind: 'unknown', type: 0xff, flags: 0x5a, streamId: 9, payload: Buffer.from([9, 9]) },
    { kind: 'ping', ack: false, opaque: Buffer.alloc(8) },
  ])
})

t.test('after a connection error the reader stays failed', async (t) => {
  const recorder = new FrameRecorder()
  const reader = new FrameReader(recorder)
  const bad = Buffer.concat([rawFrame(FrameType.PING, 0, 0, Buffer.alloc(7)), encodePing(Buffer.alloc(8))])
  let first: unknown
  try {
    reader.push(bad)
  } catch (err) {
    first = err
  }
  t.type(first, H2ProtocolError)
  t.equal(reader.state, 'failed')
  t.equal(recorder.records.length, 0, 'the PING after the bad frame is not delivered')
  t.throws(() => reader.push(encodePing(Buffer.alloc(8))), first as Error)
  let again: unknown
  try {
    reader.push(new Uint8Array(0))
  } catch (err) {
    again = err
  }
  t.equal(again, first, 'the same error object every time')
})

t.test('a throwing handler fails the reader too', async (t) => {
  const recorder = new FrameRecorder()
  const boom = new Error('handler bug')
  recorder.onPing = () => {
    throw boom
  }
  const reader = new FrameReader(recorder)
  t.throws(() => reader.push(encodePing(Buffer.alloc(8))), boom)
  t.equal(reader.state, 'failed')
  t.throws(() => reader.push(encodeWindowUpdate(0, 1)), boom)
})

// ---- properties -------------------------------------------------------------------------

const frameArb = fc.record({
  type: fc.integer({ min: 0, max: 11 }),
  flags: fc.integer({ min: 0, max: 255 }),
  streamId: fc.oneof(fc.constant(0), fc.constant(1), fc.constant(2), fc.integer({ min: 0, max: 2 ** 32 - 1 })),
  payload: fc.uint8Array({ maxLength: 24 }),
})

function serialize(frames: Array<{ type: number; flags: number; streamId: number; payload: Uint8Array }>): Buffer {
  return Buffer.concat(frames.map((f) => rawFrame(f.type, f.flags, f.streamId, f.payload)))
}

function onlyProtocolErrors(error: unknown): boolean {
  return error === undefined || error instanceof H2ProtocolError
}

t.test('property: random bytes only ever fail with H2ProtocolError', async (t) => {
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.array(fc.nat(200), { maxLength: 4 }), (bytes, rawCuts) => {
        const cuts = [...new Set(rawCuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)
        return onlyProtocolErrors(feed(bytes, cuts).error)
      }),
      { seed: 0x5eed, numRuns: 400 },
    ),
  )
})

t.test('property: frame-shaped input gives the same outcome however it is cut', async (t) => {
  t.doesNotThrow(() =>
  fc.assert(
    fc.property(fc.array(frameArb, { maxLength: 8 }), fc.array(fc.nat(400), { maxLength: 5 }), (frames, rawCuts) => {
      const bytes = serialize(frames)
      const cuts = [...new Set(rawCuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)
      const whole = feed(bytes)
      const split = feed(bytes, cuts)
      if (!onlyProtocolErrors(whole.error) || !onlyProtocolErrors(split.error)) return false
      const wholeCode = (whole.error as H2ProtocolError | undefined)?.h2Code
      const splitCode = (split.error as H2ProtocolError | undefined)?.h2Code
      return wholeCode === splitCode && sameRecords(whole.records, split.records)
    }),
    { seed: 0xf4a3e, numRuns: 400 },
  ),
  )
})
