import t from 'tap'
import fc from 'fast-check'
import { InvalidArgumentError, WsProtocolError } from '../../src/errors.js'
import {
  CloseCode,
  DecoderState,
  FrameDecoder,
  Opcode,
  PayloadCollector,
  isValidCloseCode,
  type FrameDecoderOptions,
  type FrameHandler,
} from '../../src/ws/frame.js'
import { encodeClose, encodeFrame, mask, unmask } from '../../src/ws/frame-encode.js'

/** A tap subtest, as the helpers below receive it. */
type Checks = Parameters<Parameters<typeof t.test>[0]>[0]

// ---- test-side builders and oracles (written independently of the code under test) ----

interface RawFrame {
  opcode: number
  payload?: Uint8Array | string
  fin?: boolean
  rsv?: number // 3 bits, RSV1 = 4
  maskKey?: Uint8Array
  /** Force a length form: 7, 16 or 64 bits (may be non-minimal). */
  form?: 7 | 16 | 64
  /** Override the length field (for lengths with no payload behind them). */
  length?: bigint
}

/** A server frame, byte by byte, the naive way. */
function raw(f: RawFrame): Buffer {
  const payload = typeof f.payload === 'string' ? Buffer.from(f.payload) : Buffer.from(f.payload ?? [])
  const length = f.length ?? BigInt(payload.length)
  const form = f.form ?? (length < 126n ? 7 : length < 65536n ? 16 : 64)
  const head: number[] = [((f.fin ?? true) ? 0x80 : 0) | ((f.rsv ?? 0) << 4) | f.opcode]
  const maskBit = f.maskKey ? 0x80 : 0
  if (form === 7) head.push(maskBit | Number(length))
  else if (form === 16) head.push(maskBit | 126, Number(length >> 8n) & 0xff, Number(length) & 0xff)
  else {
    head.push(maskBit | 127)
    for (let i = 7; i >= 0; i--) head.push(Number((length >> BigInt(i * 8)) & 0xffn))
  }
  let body = payload
  if (f.maskKey) {
    head.push(...f.maskKey)
    body = Buffer.from(payload.map((b, i) => b ^ (f.maskKey as Uint8Array)[i % 4]!))
  }
  return Buffer.concat([Buffer.from(head), body])
}

type Event =
  | ['start', number, boolean]
  | ['data', string]
  | ['end']
  | ['ping', string]
  | ['pong', string]
  | ['close', number, string]

class Recorder implements FrameHandler {
  events: Event[] = []
  onMessageStart(opcode: 1 | 2, compressed: boolean): void {
    this.events.push(['start', opcode, compressed])
  }
  onMessageData(piece: Uint8Array): void {
    if (piece.length === 0) throw new Error('empty piece delivered')
    // Pieces may be cut anywhere: merge consecutive ones so splits compare equal.
    const last = this.events.at(-1)
    const hex = Buffer.from(piece).toString('hex')
    if (last?.[0] === 'data') last[1] += hex
    else this.events.push(['data', hex])
  }
  onMessageEnd(): void {
    this.events.push(['end'])
  }
  onPing(payload: Uint8Array): void {
    this.events.push(['ping', Buffer.from(payload).toString('hex')])
  }
  onPong(payload: Uint8Array): void {
    this.events.push(['pong', Buffer.from(payload).toString('hex')])
  }
  onClose(code: number, reason: string): void {
    this.events.push(['close', code, reason])
  }
}

interface Outcome {
  events: Event[]
  error: WsProtocolError | undefined
  state: string
}

/** Decode `bytes` pushed in pieces cut at `cuts` (sorted). */
function decode(bytes: Uint8Array, cuts: number[] = [], options?: FrameDecoderOptions): Outcome {
  const rec = new Recorder()
  const dec = new FrameDecoder(rec, options)
  let error: WsProtocolError | undefined
  let at = 0
  try {
    for (const cut of [...cuts, bytes.length]) {
      dec.push(bytes.subarray(at, cut))
      at = cut
    }
  } catch (err) {
    if (!(err instanceof WsProtocolError)) throw err
    error = err
  }
  return { events: rec.events, error, state: dec.state }
}

/** Decode whole, at every single split point, and byte by byte: all must agree. Returns the whole-input outcome. */
function decodeEverySplit(t: Checks, bytes: Uint8Array, options?: FrameDecoderOptions, label = ''): Outcome {
  const whole = decode(bytes, [], options)
  const expected = JSON.stringify([whole.events, whole.error?.closeCode, whole.state])
  let mismatches = 0
  const variants: number[][] = [[...Array(bytes.length).keys()].slice(1)]
  for (let cut = 0; cut <= bytes.length; cut++) variants.push([cut])
  for (const cuts of variants) {
    const got = decode(bytes, cuts, options)
    if (JSON.stringify([got.events, got.error?.closeCode, got.state]) !== expected) mismatches++
  }
  t.equal(mismatches, 0, `${label} same outcome at every split point (${variants.length} ways)`)
  return whole
}

function hex(s: string | Uint8Array): string {
  return Buffer.from(s).toString('hex')
}

// ---- the decoder ---------------------------------------------------------------------

t.test('constants', async (t) => {
  t.same(Opcode, { CONTINUATION: 0, TEXT: 1, BINARY: 2, CLOSE: 8, PING: 9, PONG: 10 })
  t.equal(CloseCode.PROTOCOL_ERROR, 1002)
  t.equal(CloseCode.INVALID_PAYLOAD, 1007)
  t.equal(CloseCode.MESSAGE_TOO_BIG, 1009)
  const valid: number[] = []
  for (let code = 0; code < 70000; code++) if (isValidCloseCode(code)) valid.push(code)
  t.equal(valid.length, 4 + 8 + 2000)
  for (const code of [1000, 1003, 1007, 1014, 3000, 4999]) t.ok(isValidCloseCode(code), `${code} valid`)
  for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535]) t.notOk(isValidCloseCode(code), `${code} invalid`)
})

t.test('single-frame messages of every length form', async (t) => {
  for (const size of [0, 1, 125, 126, 127, 65535, 65536, 70000]) {
    const payload = Buffer.alloc(size, 'a')
    const bytes = Buffer.concat([raw({ opcode: Opcode.TEXT, payload }), raw({ opcode: Opcode.BINARY, payload })])
    const out = decode(bytes)
    const data: Event[] = size === 0 ? [] : [['data', hex(payload)]]
    t.same(out.events, [['start', 1, false], ...data, ['end'], ['start', 2, false], ...data, ['end']], `${size} bytes`)
    t.equal(out.error, undefined)
    // The header in every possible pair of pieces, then the payload.
    const headerSize = size < 126 ? 2 : size < 65536 ? 4 : 10
    for (let cut = 1; cut <= headerSize; cut++) {
      t.same(decode(bytes, [cut]).events, out.events, `${size} bytes, split at ${cut}`)
    }
  }
})

t.test('payload pieces are zero-copy views of the pushed chunk', async (t) => {
  const bytes = Buffer.concat([raw({ opcode: Opcode.BINARY, payload: 'hello world' }), raw({ opcode: Opcode.PING, payload: 'p' })])
  const seen: Uint8Array[] = []
  const handler: FrameHandler = {
    onMessageStart() {},
    onMessageData: (piece) => seen.push(piece),
    onMessageEnd() {},
    onPing: (payload) => seen.push(payload),
    onPong() {},
    onClose() {},
  }
  new FrameDecoder(handler).push(bytes)
  t.equal(seen.length, 2)
  t.equal(seen[0]!.buffer, bytes.buffer, 'data piece shares the chunk memory')
  t.equal(seen[0]!.byteOffset, bytes.byteOffset + 2)
  t.equal(seen[1]!.buffer, bytes.buffer, 'whole control payload shares it too')
  // A control payload straddling chunks is gathered into its own buffer.
  const split: Uint8Array[] = []
  const dec = new FrameDecoder({ ...handler, onPing: (p) => split.push(p) })
  const ping = raw({ opcode: Opcode.PING, payload: 'abcdef' })
  dec.push(ping.subarray(0, 4))
  dec.push(ping.subarray(4))
  t.equal(hex(split[0]!), hex('abcdef'))
  t.not(split[0]!.buffer, ping.buffer)
})

t.test('fragmented messages with control frames in between, at every split point', async (t) => {
  const bytes = Buffer.concat([
    raw({ opcode: Opcode.TEXT, payload: 'Hel', fin: false }),
    raw({ opcode: Opcode.PING, payload: 'ping!' }),
    raw({ opcode: Opcode.CONTINUATION, payload: '', fin: false }),
    raw({ opcode: Opcode.CONTINUATION, payload: 'lo ' + '€'.slice(0), fin: false }),
    raw({ opcode: Opcode.PONG, payload: '' }),
    raw({ opcode: Opcode.CONTINUATION, payload: 'x'.repeat(130) }),
    raw({ opcode: Opcode.BINARY, payload: Buffer.from([0, 255]), fin: false }),
    raw({ opcode: Opcode.CONTINUATION, payload: Buffer.from([0xc3]) }),
    raw({ opcode: Opcode.CLOSE, payload: Buffer.concat([Buffer.from([0x03, 0xe8]), Buffer.from('bye ✓')]) }),
    raw({ opcode: Opcode.TEXT, payload: 'ignored after close' }),
  ])
  const out = decodeEverySplit(t, bytes)
  t.same(out.events, [
    ['start', 1, false],
    ['data', hex('Hel')],
    ['ping', hex('ping!')],
    ['data', hex('lo €')],
    ['pong', ''],
    ['data', hex('x'.repeat(130))],
    ['end'],
    ['start', 2, false],
    ['data', '00ffc3'],
    ['end'],
    ['close', 1000, 'bye ✓'],
  ])
  t.equal(out.state, DecoderState.CLOSED)
  t.equal(out.error, undefined)
})

t.test('a UTF-8 sequence may be split across fragments', async (t) => {
  const euro = Buffer.from('€')
  const bytes = Buffer.concat([
    raw({ opcode: Opcode.TEXT, payload: euro.subarray(0, 1), fin: false }),
    raw({ opcode: Opcode.CONTINUATION, payload: euro.subarray(1, 2), fin: false }),
    raw({ opcode: Opcode.CONTINUATION, payload: euro.subarray(2) }),
  ])
  const out = decodeEverySplit(t, bytes)
  t.same(out.events, [['start', 1, false], ['data', hex(euro)], ['end']])
})

/** Expect `bytes` to fail with closeCode at every split point, after exactly `before` events. */
function expectFailure(t: Checks, label: string, bytes: Uint8Array, closeCode: number, options?: FrameDecoderOptions, before: Event[] = []): void {
  const out = decodeEverySplit(t, bytes, options, label)
  t.equal(out.error?.closeCode, closeCode, `${label}: close code ${closeCode}`)
  t.equal(out.error?.code, 'WP_WS_PROTOCOL')
  t.equal(out.error?.initiator, 'remote')
  t.equal(out.state, DecoderState.FAILED)
  t.same(out.events, before, `${label}: events before the error`)
}

t.test('fragmentation rules (RFC 6455 §5.4) → 1002', async (t) => {
  expectFailure(t, 'continuation without a message', raw({ opcode: Opcode.CONTINUATION, payload: 'x' }), 1002)
  expectFailure(
    t,
    'continuation after a finished message',
    Buffer.concat([raw({ opcode: Opcode.BINARY, payload: 'a' }), raw({ opcode: Opcode.CONTINUATION, payload: 'b' })]),
    1002,
    undefined,
    [['start', 2, false], ['data', hex('a')], ['end']],
  )
  for (const opcode of [Opcode.TEXT, Opcode.BINARY]) {
    expectFailure(
      t,
      `data frame ${opcode} inside a fragmented message`,
      Buffer.concat([raw({ opcode: Opcode.TEXT, payload: 'a', fin: false }), raw({ opcode, payload: 'b' })]),
      1002,
      undefined,
      [['start', 1, false], ['data', hex('a')]],
    )
  }
})

t.test('control frame rules (§5.5) → 1002', async (t) => {
  for (const opcode of [Opcode.CLOSE, Opcode.PING, Opcode.PONG]) {
    expectFailure(t, `fragmented control ${opcode}`, raw({ opcode, payload: 'a', fin: false }), 1002)
    expectFailure(t, `control ${opcode} of 126 bytes`, raw({ opcode, payload: Buffer.alloc(126) }), 1002)
    expectFailure(t, `control ${opcode} with a 64-bit length`, raw({ opcode, payload: Buffer.alloc(1), form: 64 }), 1002)
  }
  // 125 is the largest allowed.
  const out = decode(raw({ opcode: Opcode.PING, payload: Buffer.alloc(125, 1) }))
  t.same(out.events, [['ping', '01'.repeat(125)]])
})

t.test('reserved opcodes (§5.2) → 1002', async (t) => {
  for (const opcode of [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]) {
    expectFailure(t, `opcode ${opcode}`, raw({ opcode, payload: 'x' }), 1002)
  }
})

t.test('RSV bits (§5.2, RFC 7692 §6.1)', async (t) => {
  for (const rsv of [4, 2, 1, 7]) {
    expectFailure(t, `rsv ${rsv} without extension`, raw({ opcode: Opcode.TEXT, payload: 'x', rsv }), 1002)
  }
  const allow = { allowRsv1: true }
  expectFailure(t, 'rsv2 with allowRsv1', raw({ opcode: Opcode.BINARY, payload: 'x', rsv: 2 }), 1002, allow)
  expectFailure(t, 'rsv3 with allowRsv1', raw({ opcode: Opcode.BINARY, payload: 'x', rsv: 1 }), 1002, allow)
  expectFailure(t, 'rsv1 on a ping', raw({ opcode: Opcode.PING, rsv: 4 }), 1002, allow)
  expectFailure(
    t,
    'rsv1 on a continuation',
    Buffer.concat([raw({ opcode: Opcode.TEXT, payload: 'a', rsv: 4, fin: false }), raw({ opcode: Opcode.CONTINUATION, payload: 'b', rsv: 4 })]),
    1002,
    allow,
    [['start', 1, true], ['data', hex('a')]],
  )
  // Compressed text is not UTF-8-checked here: the inflating layer does it.
  const out = decodeEverySplit(
    t,
    Buffer.concat([raw({ opcode: Opcode.TEXT, payload: Buffer.from([0xff, 0xfe]), rsv: 4, fin: false }), raw({ opcode: Opcode.CONTINUATION, payload: Buffer.from([0xc0]) })]),
    allow,
  )
  t.same(out.events, [['start', 1, true], ['data', 'fffec0'], ['end']])
})

t.test('a masked frame from the server (§5.1) → 1002', async (t) => {
  expectFailure(t, 'masked text', raw({ opcode: Opcode.TEXT, payload: 'hi', maskKey: Uint8Array.of(1, 2, 3, 4) }), 1002)
  expectFailure(t, 'masked ping', raw({ opcode: Opcode.PING, maskKey: Uint8Array.of(0, 0, 0, 0) }), 1002)
})

t.test('payload length encodings (§5.2)', async (t) => {
  expectFailure(t, '16-bit length 125', raw({ opcode: Opcode.BINARY, payload: Buffer.alloc(125), form: 16 }), 1002)
  expectFailure(t, '16-bit length 0', raw({ opcode: Opcode.BINARY, form: 16 }), 1002)
  expectFailure(t, '64-bit length 65535', raw({ opcode: Opcode.BINARY, length: 65535n, form: 64 }), 1002)
  expectFailure(t, '64-bit length 5', raw({ opcode: Opcode.BINARY, payload: 'abcde', form: 64 }), 1002)
  expectFailure(t, '64-bit length with the MSB set', raw({ opcode: Opcode.BINARY, length: 1n << 63n }), 1002)
  expectFailure(t, '64-bit all ones', raw({ opcode: Opcode.BINARY, length: (1n << 64n) - 1n }), 1002)
  const infinite = { maxPayload: Infinity }
  expectFailure(t, '2^53 with no limit', raw({ opcode: Opcode.BINARY, length: 1n << 53n }), 1009, infinite, [])
  expectFailure(t, '2^63 - 1 with no limit', raw({ opcode: Opcode.BINARY, length: (1n << 63n) - 1n }), 1009, infinite, [])
  // 2^53 - 1 is representable: the frame starts and waits for its payload.
  const out = decode(raw({ opcode: Opcode.BINARY, length: (1n << 53n) - 1n }), [], infinite)
  t.same(out.events, [['start', 2, false]])
  t.equal(out.state, DecoderState.PAYLOAD)
  // 126 and 65536 are the smallest lengths of their forms.
  t.same(decode(raw({ opcode: Opcode.BINARY, payload: Buffer.alloc(126) })).error, undefined)
  t.same(decode(raw({ opcode: Opcode.BINARY, payload: Buffer.alloc(65536) })).error, undefined)
})

t.test('maxPayload (§10.4) → 1009, per message across fragments', async (t) => {
  const max = { maxPayload: 10 }
  t.same(decode(raw({ opcode: Opcode.BINARY, payload: Buffer.alloc(10) }), [], max).error, undefined, 'exactly the limit')
  expectFailure(t, 'one frame over', raw({ opcode: Opcode.BINARY, payload: Buffer.alloc(11) }), 1009, max)
  expectFailure(
    t,
    'fragments over',
    Buffer.concat([raw({ opcode: Opcode.TEXT, payload: '123456', fin: false }), raw({ opcode: Opcode.CONTINUATION, payload: '12345' })]),
    1009,
    max,
    [['start', 1, false], ['data', hex('123456')]],
  )
  // Control frames do not count, and the count restarts with each message.
  const ok = Buffer.concat([
    raw({ opcode: Opcode.TEXT, payload: '12345', fin: false }),
    raw({ opcode: Opcode.PING, payload: 'x'.repeat(100) }),
    raw({ opcode: Opcode.CONTINUATION, payload: '12345' }),
    raw({ opcode: Opcode.TEXT, payload: '1234567890' }),
  ])
  t.equal(decodeEverySplit(t, ok, max).error, undefined)
  t.equal(decode(Buffer.alloc(0), [], { maxPayload: 0 }).error, undefined)
  expectFailure(t, 'maxPayload 0', raw({ opcode: Opcode.BINARY, payload: 'a' }), 1009, { maxPayload: 0 })
  t.same(decode(raw({ opcode: Opcode.BINARY }), [], { maxPayload: 0 }).events, [['start', 2, false], ['end']], 'empty message fits in 0')
  for (const bad of [-1, 1.5, NaN, Number.MAX_SAFE_INTEGER + 2]) {
    t.throws(() => new FrameDecoder(new Recorder(), { maxPayload: bad }), InvalidArgumentError, `maxPayload ${bad}`)
  }
  t.equal(new FrameDecoder(new Recorder(), { maxPayload: Infinity }).state, DecoderState.HEADER)
})

t.test('text messages must be UTF-8 (§8.1) → 1007, failing fast', async (t) => {
  // Pieces are validated as they arrive, so how much of the valid prefix is delivered
  // before the error depends on where the chunks were cut: never more than that prefix.
  for (const [label, payload, validPrefix] of [
    ['invalid byte', Buffer.from('ab\xffcd', 'latin1'), '6162'],
    ['surrogate', Buffer.from('eda080', 'hex'), 'ed'],
    ['overlong after text', Buffer.concat([Buffer.from('xyz'), Buffer.from('c0af', 'hex')]), hex('xyz')],
  ] as const) {
    const bytes = raw({ opcode: Opcode.TEXT, payload })
    let bad = 0
    for (let cut = 0; cut <= bytes.length; cut++) {
      const out = decode(bytes, [cut])
      const [first, data, ...rest] = out.events
      const delivered = data?.[0] === 'data' ? data[1] : ''
      const ok =
        out.error?.closeCode === 1007 &&
        out.state === DecoderState.FAILED &&
        JSON.stringify(first) === JSON.stringify(['start', 1, false]) &&
        validPrefix.startsWith(delivered) &&
        rest.length === 0 &&
        (data === undefined || data[0] === 'data')
      if (!ok) bad++
    }
    t.equal(bad, 0, `${label}: 1007 at every split point, only valid bytes delivered`)
    t.match(decode(bytes).error?.message ?? '', /not valid UTF-8/)
  }
  expectFailure(
    t,
    'sequence cut off by FIN',
    Buffer.concat([raw({ opcode: Opcode.TEXT, payload: 'ok', fin: false }), raw({ opcode: Opcode.CONTINUATION, payload: Buffer.from('e282', 'hex') })]),
    1007,
    undefined,
    // the valid prefix pieces are delivered; the end never is
    [['start', 1, false], ['data', hex('ok') + 'e282']],
  )
  // Fail fast: the bad fragment fails before its FIN frame arrives.
  const first = raw({ opcode: Opcode.TEXT, payload: Buffer.from('c0af', 'hex'), fin: false })
  const rec = new Recorder()
  const dec = new FrameDecoder(rec)
  t.throws(() => dec.push(first), { closeCode: 1007, message: /byte 0 of the message/ })
  t.same(rec.events, [['start', 1, false]], 'the invalid piece is never delivered')
  // Binary messages are not checked.
  t.same(decode(raw({ opcode: Opcode.BINARY, payload: Buffer.from([0xff]) })).events, [['start', 2, false], ['data', 'ff'], ['end']])
  // The validator restarts with each text message.
  const two = Buffer.concat([raw({ opcode: Opcode.TEXT, payload: 'é' }), raw({ opcode: Opcode.TEXT, payload: 'ü' })])
  t.equal(decodeEverySplit(t, two).error, undefined)
})

t.test('close frames (§5.5.1, §7.4)', async (t) => {
  const close = (body: Uint8Array) => raw({ opcode: Opcode.CLOSE, payload: body })
  const code = (c: number, reason = '') => Buffer.concat([Buffer.from([c >> 8, c & 0xff]), Buffer.from(reason)])
  t.same(decode(close(new Uint8Array(0))).events, [['close', 1005, '']], 'no body → 1005')
  expectFailure(t, '1-byte body', close(Uint8Array.of(3)), 1002)
  for (const c of [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999]) {
    const out = decode(close(code(c, 'why')))
    t.same(out.events, [['close', c, 'why']], `code ${c}`)
  }
  for (const c of [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]) {
    expectFailure(t, `code ${c}`, close(code(c)), 1002)
  }
  expectFailure(t, 'invalid UTF-8 reason', close(Buffer.concat([code(1000), Buffer.from([0xce, 0xba, 0xe1])])), 1007)
  const longest = 'é'.repeat(61) + 'x' // 123 bytes
  t.same(decode(close(code(4000, longest))).events, [['close', 4000, longest]])
  // Nothing after a Close is parsed, not even garbage.
  const after = decode(Buffer.concat([close(code(1000)), Buffer.from([0xff, 0xff, 0xff])]))
  t.same(after.events, [['close', 1000, '']])
  t.equal(after.state, DecoderState.CLOSED)
  t.equal(after.error, undefined)
})

t.test('a failed decoder rethrows; a throwing handler fails it', async (t) => {
  const dec = new FrameDecoder(new Recorder())
  let first: unknown
  try {
    dec.push(Uint8Array.of(0x83, 0x00))
  } catch (err) {
    first = err
  }
  t.type(first, WsProtocolError)
  t.throws(() => dec.push(raw({ opcode: Opcode.TEXT, payload: 'ok' })), first as Error)
  let again: unknown
  try {
    dec.push(new Uint8Array(0))
  } catch (err) {
    again = err
  }
  t.equal(again, first, 'the same error object, even for an empty chunk')

  const boom = new Error('handler bug')
  const bad = new FrameDecoder({
    onMessageStart() {},
    onMessageData() {
      throw boom
    },
    onMessageEnd() {},
    onPing() {},
    onPong() {},
    onClose() {},
  })
  t.throws(() => bad.push(raw({ opcode: Opcode.BINARY, payload: 'x' })), boom)
  t.equal(bad.state, DecoderState.FAILED)
  t.throws(() => bad.push(raw({ opcode: Opcode.BINARY, payload: 'y' })), boom)
})

t.test('state and inMessage', async (t) => {
  const dec = new FrameDecoder(new Recorder())
  t.equal(dec.state, DecoderState.HEADER)
  t.equal(dec.inMessage, false)
  const frame = raw({ opcode: Opcode.TEXT, payload: 'abc', fin: false })
  dec.push(frame.subarray(0, 1))
  t.equal(dec.state, DecoderState.HEADER)
  dec.push(frame.subarray(1, 3))
  t.equal(dec.state, DecoderState.PAYLOAD)
  t.equal(dec.inMessage, true)
  dec.push(frame.subarray(3))
  t.equal(dec.state, DecoderState.HEADER)
  t.equal(dec.inMessage, true)
  dec.push(raw({ opcode: Opcode.CONTINUATION, payload: '' }))
  t.equal(dec.inMessage, false)
})

t.test('PayloadCollector', async (t) => {
  const c = new PayloadCollector()
  t.equal(c.take().length, 0, 'empty')
  const one = Buffer.from('single')
  c.append(one)
  t.equal(c.byteLength, 6)
  t.equal(c.take(), one, 'one piece comes back as is')
  t.equal(c.byteLength, 0)
  c.append(Buffer.from('ab'))
  c.append(Buffer.from('cde'))
  const joined = c.take()
  t.equal(Buffer.from(joined).toString(), 'abcde')
  t.equal(c.byteLength, 0)
  // Wired to the decoder: a fragmented message arriving in many chunks.
  const collector = new PayloadCollector()
  const messages: string[] = []
  const dec = new FrameDecoder({
    onMessageStart() {},
    onMessageData: (p) => collector.append(p),
    onMessageEnd: () => messages.push(Buffer.from(collector.take()).toString()),
    onPing() {},
    onPong() {},
    onClose() {},
  })
  const bytes = Buffer.concat([raw({ opcode: Opcode.TEXT, payload: 'hello ', fin: false }), raw({ opcode: Opcode.CONTINUATION, payload: 'world' })])
  for (let i = 0; i < bytes.length; i += 3) dec.push(bytes.subarray(i, i + 3))
  t.same(messages, ['hello world'])
})

t.test('property: random bytes only ever throw WsProtocolError', async (t) => {
  let runs = 0
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.array(fc.nat(), { maxLength: 5 }), fc.boolean(), (bytes, rawCuts, allowRsv1) => {
      runs++
      const cuts = [...new Set(rawCuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)
      decode(bytes, cuts, { allowRsv1, maxPayload: 1000 }) // rethrows anything that is not a WsProtocolError
    }),
    { numRuns: 500 },
  )
  // Random frames: structurally plausible headers with random bits, so deeper rules are reached.
  const frame = fc.record({
    opcode: fc.constantFrom(0, 1, 2, 8, 9, 10, 0, 1, 2, 3, 0xb),
    fin: fc.boolean(),
    rsv: fc.constantFrom(0, 0, 0, 4, 2),
    payload: fc.oneof(fc.uint8Array({ maxLength: 140 }), fc.string({ maxLength: 40 }).map((s) => Buffer.from(s))),
    form: fc.constantFrom(undefined, undefined, undefined, 16 as const, 64 as const),
    masked: fc.constantFrom(false, false, false, false, true),
  })
  fc.assert(
    fc.property(fc.array(frame, { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 5 }), fc.boolean(), (frames, rawCuts, allowRsv1) => {
      runs++
      const bytes = Buffer.concat(
        frames.map((f) =>
          raw({ opcode: f.opcode, fin: f.fin, rsv: f.rsv, payload: f.payload, ...(f.form ? { form: f.form } : {}), ...(f.masked ? { maskKey: Uint8Array.of(9, 8, 7, 6) } : {}) }),
        ),
      )
      const cuts = [...new Set(rawCuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)
      const split = decode(bytes, cuts, { allowRsv1, maxPayload: 200 })
      const whole = decode(bytes, [], { allowRsv1, maxPayload: 200 })
      // Same verdict wherever the chunks were cut. Same events too, except that before a
      // 1007 the number of valid text bytes delivered depends on the cuts.
      if (split.error?.closeCode !== whole.error?.closeCode || split.state !== whole.state) return false
      return whole.error?.closeCode === 1007 || JSON.stringify(split.events) === JSON.stringify(whole.events)
    }),
    { numRuns: 500 },
  )
  t.equal(runs, 1000)
})

// ---- the encoder ---------------------------------------------------------------------

/** The server's view of a client frame: parse, check the mask bit, unmask with the key in the frame. */
function readClientFrame(frame: Uint8Array): { fin: boolean; rsv1: boolean; opcode: number; masked: boolean; maskKey: Buffer; payload: Buffer; headerSize: number } {
  const b0 = frame[0]!
  const b1 = frame[1]!
  let length = b1 & 0x7f
  let at = 2
  if (length === 126) {
    length = (frame[2]! << 8) | frame[3]!
    at = 4
  } else if (length === 127) {
    length = Number(Buffer.from(frame).readBigUInt64BE(2))
    at = 10
  }
  const masked = (b1 & 0x80) !== 0
  const maskKey = Buffer.from(masked ? frame.subarray(at, at + 4) : [])
  if (masked) at += 4
  const body = Buffer.from(frame.subarray(at, at + length))
  if (frame.length !== at + length) throw new Error(`frame is ${frame.length} bytes, header says ${at + length}`)
  const payload = masked ? Buffer.from(body.map((b, i) => b ^ maskKey[i % 4]!)) : body
  return { fin: (b0 & 0x80) !== 0, rsv1: (b0 & 0x40) !== 0, opcode: b0 & 0x0f, masked, maskKey, payload, headerSize: at }
}

t.test('encodeFrame: header bytes, minimal lengths, masking', async (t) => {
  for (const size of [0, 1, 125, 126, 65535, 65536, 100000]) {
    const payload = Buffer.alloc(size)
    for (let i = 0; i < size; i++) payload[i] = (i * 7 + 3) & 0xff
    const copy = Buffer.from(payload)
    const frame = encodeFrame(Opcode.BINARY, payload)
    const read = readClientFrame(frame)
    t.equal(read.headerSize, (size < 126 ? 2 : size < 65536 ? 4 : 10) + 4, `${size}: header size`)
    t.equal(frame[0], 0x82)
    t.equal(frame[1]! & 0x80, 0x80, 'mask bit')
    t.equal(frame[1]! & 0x7f, size < 126 ? size : size < 65536 ? 126 : 127)
    t.ok(read.payload.equals(payload), `${size}: unmasks to the payload`)
    t.ok(payload.equals(copy), `${size}: caller's payload untouched`)
    // Unmasked (server-style) frames round-trip through our decoder.
    const plain = encodeFrame(Opcode.BINARY, payload, { mask: false })
    t.equal(plain.length, read.headerSize - 4 + size)
    const out = decode(plain)
    t.same(out.events, [['start', 2, false], ...(size ? [['data', payload.toString('hex')]] : []), ['end']], `${size}: decodes`)
  }
  const big = encodeFrame(Opcode.BINARY, Buffer.alloc(65536), { mask: false })
  t.equal(big.toString('hex', 0, 10), '827f0000000000010000', '64-bit length, MSB 0')
  t.equal(encodeFrame(Opcode.TEXT, 'abc', { mask: false }).toString('hex'), '8103616263')
  t.equal(encodeFrame(Opcode.TEXT, 'abc', { fin: false, rsv1: true, mask: false }).toString('hex'), '4103616263')
  t.equal(encodeFrame(Opcode.CONTINUATION, 'x', { mask: false }).toString('hex'), '800178')
  t.equal(encodeFrame(Opcode.PONG, '', { mask: false }).toString('hex'), '8a00')
})

t.test('encodeFrame: string payloads are written as UTF-8 and masked in place', async (t) => {
  for (const text of ['', 'h', 'héllo wörld ✓ 😀', 'ü'.repeat(40), 'long '.repeat(20000)]) {
    const read = readClientFrame(encodeFrame(Opcode.TEXT, text))
    t.equal(read.payload.toString('utf8'), text, `${Buffer.byteLength(text)} bytes`)
    t.equal(read.opcode, Opcode.TEXT)
    t.equal(read.fin, true)
    t.equal(read.rsv1, false)
  }
})

t.test('encodeFrame refuses what RFC 6455 forbids', async (t) => {
  for (const opcode of [3, 7, 0xb, 0xf, 16, -1]) {
    t.throws(() => encodeFrame(opcode as Opcode, ''), InvalidArgumentError, `opcode ${opcode}`)
  }
  t.throws(() => encodeFrame(Opcode.PING, Buffer.alloc(126)), InvalidArgumentError, 'control > 125')
  t.throws(() => encodeFrame(Opcode.PING, 'é'.repeat(63)), InvalidArgumentError, 'control > 125 bytes of UTF-8')
  t.doesNotThrow(() => encodeFrame(Opcode.PING, Buffer.alloc(125)))
  t.throws(() => encodeFrame(Opcode.CLOSE, '', { fin: false }), InvalidArgumentError, 'fragmented control')
  t.throws(() => encodeFrame(Opcode.PING, '', { rsv1: true }), InvalidArgumentError, 'rsv1 on control')
  t.throws(() => encodeFrame(Opcode.CONTINUATION, '', { rsv1: true }), InvalidArgumentError, 'rsv1 on continuation')
})

t.test('every frame gets a fresh mask key', async (t) => {
  const keys = new Set<string>()
  // 3000 frames crosses the 2048-key pool refill.
  for (let i = 0; i < 3000; i++) keys.add(readClientFrame(encodeFrame(Opcode.PING, '')).maskKey.toString('hex'))
  t.ok(keys.size >= 2990, `${keys.size} distinct keys of 3000`)
})

t.test('encodeClose', async (t) => {
  const empty = readClientFrame(encodeClose())
  t.equal(empty.opcode, Opcode.CLOSE)
  t.equal(empty.payload.length, 0)
  const withReason = readClientFrame(encodeClose(4001, 'gone ✓'))
  t.equal(withReason.payload.readUInt16BE(0), 4001)
  t.equal(withReason.payload.subarray(2).toString(), 'gone ✓')
  t.equal(encodeClose(1000, '', { mask: false }).toString('hex'), '880203e8')
  for (const code of [1000, 1001, 1003, 1007, 1011, 1014, 3000, 4999]) t.doesNotThrow(() => encodeClose(code), `${code}`)
  for (const code of [0, 999, 1004, 1005, 1006, 1015, 2000, 2999, 5000, 1000.5, NaN]) {
    t.throws(() => encodeClose(code), InvalidArgumentError, `code ${code}`)
  }
  t.throws(() => encodeClose(undefined, 'why'), InvalidArgumentError, 'reason without a code')
  t.doesNotThrow(() => encodeClose(1000, 'x'.repeat(123)))
  t.throws(() => encodeClose(1000, 'x'.repeat(124)), InvalidArgumentError, '124 bytes')
  t.throws(() => encodeClose(1000, 'é'.repeat(62)), InvalidArgumentError, '62 two-byte chars are 124 bytes')
  // Our encoder's close frames are accepted by our decoder.
  t.same(decode(encodeClose(3001, 'bye', { mask: false })).events, [['close', 3001, 'bye']])
})

t.test('round trip: encoder → unmasking test decoder → same messages', async (t) => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ opcode: fc.constantFrom(Opcode.TEXT, Opcode.BINARY, Opcode.PING), data: fc.uint8Array({ maxLength: 300 }), fin: fc.boolean() }), {
        maxLength: 10,
      }),
      (frames) => {
        for (const f of frames) {
          const control = f.opcode === Opcode.PING
          const data = control ? f.data.subarray(0, 125) : f.data
          const fin = control || f.fin
          const read = readClientFrame(encodeFrame(f.opcode, data, { fin }))
          if (!read.masked || read.opcode !== f.opcode || read.fin !== fin || !read.payload.equals(data)) return false
        }
        return true
      },
    ),
    { numRuns: 200 },
  )
  t.pass('200 random frame lists round-tripped')
})

// ---- masking -------------------------------------------------------------------------

function naiveMask(source: Uint8Array, key: Uint8Array): Uint8Array {
  return source.map((b, i) => b ^ key[i % 4]!)
}

t.test('mask matches a naive XOR at every alignment and length', async (t) => {
  const key = Uint8Array.of(0x12, 0x34, 0x56, 0x78)
  const backing = new Uint8Array(1200)
  for (let i = 0; i < backing.length; i++) backing[i] = (i * 31 + 17) & 0xff
  let mismatches = 0
  let cases = 0
  for (const length of [0, 1, 3, 4, 5, 31, 32, 33, 63, 64, 65, 100, 1000]) {
    for (let s = 0; s < 4; s++) {
      for (let d = 0; d < 4; d++) {
        const source = backing.subarray(s, s + length)
        const target = new Uint8Array(length + 8)
        mask(source, key, target, d, length)
        cases++
        if (Buffer.compare(target.subarray(d, d + length), naiveMask(source, key)) !== 0) mismatches++
        if (target.subarray(0, d).some((b) => b !== 0) || target.subarray(d + length).some((b) => b !== 0)) mismatches++
      }
    }
  }
  t.equal(mismatches, 0, `${cases} cases`)
  // sourceOffset
  const src = Uint8Array.from({ length: 50 }, (_, i) => i)
  const out = new Uint8Array(40)
  mask(src, key, out, 0, 40, 10)
  t.same([...out], [...naiveMask(src.subarray(10), key)])
})

t.test('unmask is in-place and its own inverse', async (t) => {
  for (const offset of [0, 1, 2, 3]) {
    const backing = Buffer.alloc(200 + offset)
    const buf = backing.subarray(offset)
    for (let i = 0; i < buf.length; i++) buf[i] = i & 0xff
    const original = Buffer.from(buf)
    const key = Uint8Array.of(0xde, 0xad, 0xbe, 0xef)
    unmask(buf, key)
    t.ok(Buffer.from(naiveMask(original, key)).equals(buf), `alignment ${offset}: masked`)
    unmask(buf, key)
    t.ok(original.equals(buf), `alignment ${offset}: restored`)
  }
})

t.test('mask: property against the naive implementation', async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 400 }), fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.nat(7), fc.nat(7), (data, key, s, d) => {
      const backing = new Uint8Array(data.length + 8)
      backing.set(data, s)
      const target = new Uint8Array(data.length + 8)
      mask(backing, key, target, d, data.length, s)
      return Buffer.compare(target.subarray(d, d + data.length), naiveMask(data, key)) === 0
    }),
    { numRuns: 300 },
  )
  t.pass('300 random inputs')
})

t.test('mask validates its arguments', async (t) => {
  const key = Uint8Array.of(1, 2, 3, 4)
  t.throws(() => mask(new Uint8Array(4), Uint8Array.of(1, 2, 3), new Uint8Array(4), 0, 4), InvalidArgumentError, 'short key')
  t.throws(() => mask(new Uint8Array(4), key, new Uint8Array(4), 1, 4), InvalidArgumentError, 'target too small')
  t.throws(() => mask(new Uint8Array(4), key, new Uint8Array(8), 0, 5), InvalidArgumentError, 'source too small')
  t.throws(() => mask(new Uint8Array(4), key, new Uint8Array(8), 0, 4, 1), InvalidArgumentError, 'source offset')
  t.throws(() => mask(new Uint8Array(4), key, new Uint8Array(8), -1, 1), InvalidArgumentError, 'negative offset')
  t.throws(() => mask(new Uint8Array(4), key, new Uint8Array(8), 0, -1), InvalidArgumentError, 'negative length')
})
