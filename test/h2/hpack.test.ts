import t from 'tap'
import { H2ProtocolError, InvalidArgumentError } from '../../src/errors.js'
import { H2ErrorCode } from '../../src/h2/frame.js'
import { DEFAULT_MAX_HEADER_COUNT, DEFAULT_MAX_HEADER_LIST_SIZE, HpackDecoder, HpackEncoder } from '../../src/h2/hpack.js'
import { integer } from '../support/hpack-wire.js'

/** The subtest object tap passes to a `t.test` callback. */
type Tap = Parameters<Parameters<typeof t.test>[0]>[0]

/** RFC 7541 §6.2.1: literal with incremental indexing, new name, no Huffman. */
function literalIndexed(name: string, value: string): number[] {
  return [0x40, name.length, ...Buffer.from(name, 'latin1'), value.length, ...Buffer.from(value, 'latin1')]
}


/** A literal with incremental indexing whose value length needs a multi-octet integer. */
function bigLiteral(name: string, value: string): number[] {
  return [0x40, name.length, ...Buffer.from(name, 'latin1'), ...integer(value.length, 7, 0), ...Buffer.from(value, 'latin1')]
}

function sizeUpdate(size: number): number[] {
  return integer(size, 5, 0x20)
}

function compressionError(t: Tap, decoder: HpackDecoder, block: number[], message: string): H2ProtocolError | undefined {
  try {
    decoder.decode(new Uint8Array(block))
  } catch (err) {
    t.type(err, H2ProtocolError, `${message}: H2ProtocolError`)
    if (err instanceof H2ProtocolError) {
      t.equal(err.h2CodeName, 'COMPRESSION_ERROR', `${message}: COMPRESSION_ERROR`)
      t.equal(err.h2Code, H2ErrorCode.COMPRESSION_ERROR)
      t.equal(err.streamId, 0, `${message}: connection error`)
      return err
    }
    return undefined
  }
  t.fail(`${message}: expected COMPRESSION_ERROR, decoded fine`)
  return undefined
}

const REQUEST: Array<[string, string]> = [
  [':method', 'GET'],
  [':scheme', 'https'],
  [':authority', 'example.com'],
  [':path', '/index.html'],
  ['user-agent', 'wirepool'],
  ['accept', '*/*'],
  ['accept-encoding', 'gzip, br'],
]

t.test('encode and decode are synchronous and round-trip', async (t) => {
  const encoder = new HpackEncoder()
  const decoder = new HpackDecoder()
  const first = encoder.encode(REQUEST)
  t.ok(Buffer.isBuffer(first), 'encode returns a Buffer in the same tick')
  t.same(decoder.decode(first), REQUEST.flat(), 'decode returns the flattened list in the same tick')
  const second = encoder.encode(REQUEST)
  t.ok(second.length < first.length, 'the dynamic table makes the repeat smaller')
  t.equal(second.length, REQUEST.length, 'one octet per field once everything is indexed')
  t.same(decoder.decode(second), REQUEST.flat())
  t.same(decoder.decode(new Uint8Array(second)), REQUEST.flat(), 'a plain Uint8Array works as well as a Buffer')
})

t.test('flattened and paired inputs encode alike', async (t) => {
  t.same(new HpackEncoder().encode(REQUEST.flat()), new HpackEncoder().encode(REQUEST))
  t.same(new HpackEncoder().encode([]), Buffer.alloc(0), 'an empty list is an empty block')
  t.same(new HpackDecoder().decode(new Uint8Array(0)), [], 'an empty block is an empty list')
  t.throws(() => new HpackEncoder().encode(['a', 'b', 'c']), InvalidArgumentError, 'odd flattened length')
  const resized = new HpackEncoder()
  resized.setMaxTableSize(0)
  t.throws(() => resized.encode(['a']), InvalidArgumentError)
  t.same([...resized.encode([])], [0x20], 'a refused call leaves the pending update for the next block, once')
})

t.test('RFC 7541 §7.1.3: sensitive fields are never indexed', async (t) => {
  const cases: Array<[string, string, boolean]> = [
    ['authorization', 'Bearer abc', true],
    ['proxy-authorization', 'Basic Zm9v', true],
    ['set-cookie', 'id=1; Secure', true],
    ['cookie', 'sid=1234567890', true], // under 20 octets: guessable
    ['cookie', 'sid=0123456789abcdef0123', false], // 24 octets
    ['x-custom', 'value', false],
  ]
  for (const [name, value, sensitive] of cases) {
    const encoder = new HpackEncoder()
    const decoder = new HpackDecoder()
    const block = encoder.encode([[name, value]])
    // §6.2.3 never indexed starts 0001xxxx; §6.2.1 incremental indexing starts 01xxxxxx.
    const kind = sensitive ? (block[0]! & 0xf0) === 0x10 : (block[0]! & 0xc0) === 0x40
    t.ok(kind, `${name}: ${sensitive ? 'never indexed' : 'indexed'} (first octet 0x${block[0]!.toString(16)})`)
    t.same(decoder.decode(block), [name, value])
    t.equal(decoder.dynamicTable().length, sensitive ? 0 : 1, `${name}: ${sensitive ? 'stays out of' : 'enters'} the peer's table`)
    const again = encoder.encode([[name, value]])
    t.equal(again.length > 1, sensitive, `${name}: the repeat is ${sensitive ? 'a literal again' : 'one index octet'}`)
  }
})

t.test('a field larger than 3/4 of the table is sent without indexing', async (t) => {
  const encoder = new HpackEncoder()
  const decoder = new HpackDecoder()
  const big = 'v'.repeat(3100) // 3100 + 1 + 32 > 3072
  const block = encoder.encode([['x', big]])
  t.equal(block[0]! & 0xf0, 0x00, 'literal without indexing (§6.2.2)')
  t.same(decoder.decode(block), ['x', big])
  t.equal(decoder.dynamicTable().length, 0)
  const fits = 'v'.repeat(3000)
  encoder.encode([['y', fits]])
  t.same(decoder.decode(encoder.encode([['x', 'small']])), ['x', 'small'])
})

t.test('encoder: dynamic table size updates (RFC 7541 §4.2, §6.3)', async (t) => {
  t.test('no change, no update', async (t) => {
    const encoder = new HpackEncoder()
    encoder.setMaxTableSize(4096)
    encoder.setMaxTableSize(65536) // capped at our 4096: still no change
    t.equal(encoder.tableSize, 4096)
    t.equal(encoder.encode([[':method', 'GET']])[0], 0x82, 'block starts with the field')
  })

  t.test('the peer shrinks the table to 0', async (t) => {
    const encoder = new HpackEncoder()
    const decoder = new HpackDecoder()
    t.same(decoder.decode(encoder.encode([['x-a', '1']])), ['x-a', '1'])
    encoder.setMaxTableSize(0)
    decoder.setMaxTableSize(0)
    t.equal(encoder.tableSize, 0)
    const block = encoder.encode([['x-b', '2']])
    t.equal(block[0], 0x20, 'starts with an update to 0')
    t.same(decoder.decode(block), ['x-b', '2'])
    t.equal(decoder.tableSize, 0)
    t.same(decoder.dynamicTable(), [], 'everything evicted, and nothing added')
    t.equal(encoder.encode([['x-b', '2']])[0]! & 0xf0, 0, 'no further update, literals without indexing')
  })

  t.test('several changes between blocks: the smallest, then the last', async (t) => {
    const encoder = new HpackEncoder()
    const decoder = new HpackDecoder()
    encoder.setMaxTableSize(1000)
    encoder.setMaxTableSize(2000)
    encoder.setMaxTableSize(8000) // capped at 4096
    decoder.setMaxTableSize(1000)
    decoder.setMaxTableSize(4096)
    const block = encoder.encode([[':method', 'GET']])
    t.same([...block], [...sizeUpdate(1000), ...sizeUpdate(4096), 0x82])
    t.same(decoder.decode(block), [':method', 'GET'])
    t.equal(decoder.tableSize, 4096)
  })

  t.test('a cap below 4096 is signalled in the first block', async (t) => {
    const encoder = new HpackEncoder({ maxTableSize: 256 })
    t.equal(encoder.tableSize, 256)
    const block = encoder.encode([])
    t.same([...block], sizeUpdate(256))
    encoder.setMaxTableSize(100)
    t.same([...encoder.encode([])], sizeUpdate(100))
    encoder.setMaxTableSize(4096)
    t.same([...encoder.encode([])], sizeUpdate(256), 'back up to the cap, not beyond')
  })

  t.test('invalid sizes', async (t) => {
    t.throws(() => new HpackEncoder({ maxTableSize: -1 }), InvalidArgumentError)
    t.throws(() => new HpackEncoder().setMaxTableSize(2 ** 32), InvalidArgumentError)
    t.throws(() => new HpackEncoder().setMaxTableSize(1.5), InvalidArgumentError)
  })
})

t.test('decoder: a malformed block is a COMPRESSION_ERROR connection error, and final', async (t) => {
  // [name, block, whether hpack.js finds it (else our structural walk does, before hpack.js runs)]
  const bad: Array<[string, number[], boolean]> = [
    ['index 0 (§6.1)', [0x80], true],
    ['index past the tables', [0xff, 0x00], true],
    ['Huffman padding that is not EOS (§5.2)', [0x40, 0x81, 0x00, 0x01, 0x61], true],
    ['Huffman padding longer than 7 bits (§5.2)', [0x40, 0x81, 0xff, 0x01, 0x61], true],
    ['string cut short', [0x40, 0x05, 0x61], false],
    ['integer cut short', [0x7f], false],
    ['multi-octet integer cut short', [0xff, 0x80], false],
    ['integer beyond 4 continuation octets', [0xff, 0xff, 0xff, 0xff, 0xff, 0x7f], false],
  ]
  for (const [name, block, byLibrary] of bad) {
    const decoder = new HpackDecoder()
    const err = compressionError(t, decoder, block, name)
    t.equal(err?.cause instanceof Error, byLibrary, `${name}: ${byLibrary ? "hpack.js's error kept as cause" : 'found by the structural walk'}`)
    let again: unknown
    try {
      decoder.decode(new Uint8Array([0x82]))
    } catch (e) {
      again = e
    }
    t.equal(again, err, `${name}: the decoder stays failed (its table can no longer be trusted)`)
  }
})

t.test('decoder: dynamic table size updates (RFC 7541 §4.2, §6.3)', async (t) => {
  compressionError(t, new HpackDecoder(), sizeUpdate(4097), 'an update above our limit')
  compressionError(t, new HpackDecoder(), [0x82, ...sizeUpdate(100)], 'an update after a field')
  compressionError(t, new HpackDecoder(), [0x82, ...sizeUpdate(4096)], 'even to the same size')
  compressionError(t, new HpackDecoder(), [0x3f], 'an update cut short')
  compressionError(t, new HpackDecoder(), [0x3f, 0xff, 0xff, 0xff, 0xff, 0x01], 'an update too long')
  compressionError(t, new HpackDecoder(), [0x00, 0x01], 'a literal name cut short')
  compressionError(t, new HpackDecoder(), [0x04, 0x03, 0x61], 'a literal value cut short')
  compressionError(t, new HpackDecoder(), [0x10], 'a never-indexed literal without its name')
  compressionError(t, new HpackDecoder(), [0x44], 'an indexed-name literal without its value')
  compressionError(t, new HpackDecoder(), [0x7f, 0x80], 'a literal index cut short')

  const lowered = new HpackDecoder()
  lowered.setMaxTableSize(100)
  compressionError(t, lowered, [0x82], 'no update after our limit went below the table size')

  const lowerThenRaise = new HpackDecoder()
  lowerThenRaise.setMaxTableSize(100)
  lowerThenRaise.setMaxTableSize(4096)
  compressionError(t, lowerThenRaise, [...sizeUpdate(4096), 0x82], 'the update must reach the smallest limit of the interval')

  const twice = new HpackDecoder()
  twice.setMaxTableSize(100)
  twice.setMaxTableSize(50)
  compressionError(t, twice, [...sizeUpdate(100), 0x82], 'two reductions: the update must reach the lower one')

  const both = new HpackDecoder()
  both.setMaxTableSize(100)
  both.setMaxTableSize(4096)
  t.same(both.decode(new Uint8Array([...sizeUpdate(50), ...sizeUpdate(4096), 0x82])), [':method', 'GET'], 'smallest then final')
  t.equal(both.tableSize, 4096)
  t.same(both.decode(new Uint8Array([0x82])), [':method', 'GET'], 'and later blocks need no update')

  const shrink = new HpackDecoder()
  shrink.decode(new Uint8Array(literalIndexed('x-a', 'a'.repeat(60))))
  t.equal(shrink.tableOccupancy, 95)
  shrink.setMaxTableSize(64)
  t.same(shrink.decode(new Uint8Array([...sizeUpdate(64), 0x82])), [':method', 'GET'])
  t.equal(shrink.tableSize, 64)
  t.same(shrink.dynamicTable(), [], 'the entry that no longer fits is evicted')

  const raised = new HpackDecoder()
  raised.setMaxTableSize(8192)
  t.same(raised.decode(new Uint8Array([0x82])), [':method', 'GET'], 'a raised limit needs no update')
  t.equal(raised.tableSize, 4096, 'the table stays at 4096 until the encoder says otherwise')
  t.same(raised.decode(new Uint8Array([...sizeUpdate(8192), 0x82])), [':method', 'GET'])
  t.equal(raised.tableSize, 8192)

  t.throws(() => new HpackDecoder().setMaxTableSize(-1), InvalidArgumentError)
})

t.test('decoder: header list limits (RFC 9113 §6.5.2, §10.5.1)', async (t) => {
  t.equal(DEFAULT_MAX_HEADER_LIST_SIZE, 65536)
  t.equal(DEFAULT_MAX_HEADER_COUNT, 128)

  const count = new HpackDecoder()
  t.equal(count.decode(new Uint8Array(128).fill(0x82)).length, 256, '128 fields pass')
  try {
    count.decode(new Uint8Array(129).fill(0x82), 7)
    t.fail('129 fields must fail')
  } catch (err) {
    t.match(err, { h2CodeName: 'ENHANCE_YOUR_CALM', h2Code: H2ErrorCode.ENHANCE_YOUR_CALM, streamId: 7 }, '129 fields: a stream error')
  }
  t.same(count.decode(new Uint8Array([0x84])), [':path', '/'], 'the decoder goes on')

  // :method GET costs 7 + 3 + 32 = 42 octets.
  const size = new HpackDecoder({ maxHeaderListSize: 84 })
  t.equal(size.decode(new Uint8Array([0x82, 0x82])).length, 4, 'exactly at the limit passes')
  try {
    size.decode(new Uint8Array([0x82, 0x82, 0x82]))
    t.fail('126 octets must fail')
  } catch (err) {
    t.type(err, H2ProtocolError)
    t.match(err, { h2CodeName: 'ENHANCE_YOUR_CALM', streamId: 0 }, 'without a stream id it reads as a connection error')
  }

  const few = new HpackDecoder({ maxHeaderCount: 2 })
  try {
    few.decode(new Uint8Array([0x82, 0x84, 0x86]), 1)
    t.fail('3 fields over a limit of 2 must fail')
  } catch (err) {
    t.match(err, { h2CodeName: 'ENHANCE_YOUR_CALM', streamId: 1 }, 'maxHeaderCount option')
  }

  t.throws(() => new HpackDecoder({ maxHeaderListSize: 0 }), InvalidArgumentError)
  t.throws(() => new HpackDecoder({ maxHeaderCount: 1.5 }), InvalidArgumentError)
})

t.test('decoder: a bomb of indexed references is rejected, the table stays in step', async (t) => {
  const decoder = new HpackDecoder()
  const value = 'y'.repeat(4000)
  t.same(decoder.decode(new Uint8Array(bigLiteral('x', value))), ['x', value])
  t.equal(decoder.tableOccupancy, 4033)
  // 100 one-octet references (index 62) expand to 403,300 octets of header list.
  const bomb = [...new Array<number>(100).fill(0xbe), ...literalIndexed('late', 'entry')]
  try {
    decoder.decode(new Uint8Array(bomb), 3)
    t.fail('the bomb must be rejected')
  } catch (err) {
    t.match(err, { h2CodeName: 'ENHANCE_YOUR_CALM', streamId: 3 })
    t.match((err as Error).message, /403/, 'the message gives the decoded size')
  }
  // The whole block was decoded before rejecting it: its last field entered the table.
  t.same(
    decoder.dynamicTable().map(([name, v, size]) => [name, v.length, size]),
    [
      ['late', 5, 41],
      ['x', 4000, 4033],
    ],
    'newest first: the field the rejected block added, then the big one',
  )
  t.same(decoder.decode(new Uint8Array([0xbe])), ['late', 'entry'], 'index 62 is the field the rejected block added')
})
