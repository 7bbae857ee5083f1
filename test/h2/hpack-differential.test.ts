/**
 * Our HPACK codec against hpack.js 2.1.6 (hpack-oracle.ts), the library it replaced:
 * - our encoder's blocks decode the same with hpack.js's Decompressor and with our decoder,
 *   and both decoders end each block with the same dynamic table;
 * - hpack.js Compressor blocks (Huffman or raw, indexed, never indexed, size updates) decode
 *   the same with ours, and our table follows the compressor's;
 * - whatever our decoder accepts, hpack.js accepts with the same result;
 * - the Huffman code: table, round trip of every octet, EOS and padding rules (RFC 7541 §5.2).
 * Properties are seeded and bounded (fast-check).
 */
import t from 'tap'
import fc from 'fast-check'
import { deepStrictEqual } from 'node:assert/strict'
import { H2ProtocolError } from '../../src/errors.js'
import { HpackDecoder, HpackEncoder } from '../../src/h2/hpack.js'
import { huffmanDecode, huffmanEncode, huffmanLength } from '../../src/h2/hpack-huffman.js'
import { HUFFMAN_CODES, HUFFMAN_EOS, HUFFMAN_LENGTHS, STATIC_NAMES, STATIC_VALUES } from '../../src/h2/hpack-tables.js'
import { OracleDecoder, OracleEncoder, hpackJs, type OracleField } from './hpack-oracle.js'
import { integer } from '../support/hpack-wire.js'

/** Limits high enough that no generated list trips ENHANCE_YOUR_CALM. */
const ROOMY = { maxHeaderListSize: 1 << 24, maxHeaderCount: 10_000 }

const latin1Char = fc.integer({ min: 0, max: 255 }).map((code) => String.fromCharCode(code))
const latin1 = (maxLength: number) => fc.string({ unit: latin1Char, maxLength })
const token = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-'), minLength: 1, maxLength: 16 })
/** Long values, built cheaply by repetition: they cross the 3/4-of-the-table rule and need multi-octet lengths. */
const long = fc.tuple(latin1(6), fc.integer({ min: 20, max: 700 })).map(([piece, times]) => (piece === '' ? 'x' : piece).repeat(times))

const nameArb = fc.oneof(
  // Static names include the sensitive ones: authorization, cookie, proxy-authorization, set-cookie.
  { weight: 3, arbitrary: fc.constantFrom(...STATIC_NAMES.slice(1)) },
  { weight: 3, arbitrary: token },
  // A few names shared by many values: entries of one name get evicted while newer ones stay.
  { weight: 3, arbitrary: fc.constantFrom('x-a', 'x-b', 'x-c') },
  { weight: 1, arbitrary: latin1(12) },
)
const valueArb = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom(...STATIC_VALUES) },
  { weight: 4, arbitrary: latin1(40) },
  { weight: 1, arbitrary: long },
)
const fieldArb = fc.tuple(nameArb, valueArb)

/**
 * A connection's worth of blocks drawn from a small pool of fields, so that fields repeat and
 * hit the dynamic table; `resize` is a table size to signal before that block (or null).
 */
function blocksOf<F>(field: fc.Arbitrary<F>) {
  return fc
    .record({
      pool: fc.array(field, { minLength: 1, maxLength: 16 }),
      blocks: fc.array(
        fc.record({ picks: fc.array(fc.nat(), { maxLength: 20 }), resize: fc.option(fc.integer({ min: 0, max: 4096 }), { freq: 6 }) }),
        { minLength: 1, maxLength: 6 },
      ),
    })
    .map(({ pool, blocks }) => blocks.map(({ picks, resize }) => ({ fields: picks.map((p) => pool[p % pool.length]!), resize })))
}

t.test('property: our encoder → hpack.js and our decoder agree, tables included', async (t) => {
  const capArb = fc.constantFrom(4096, 1024, 256, 64, 0)
  let blocks = 0
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(capArb, blocksOf(fieldArb), (cap, sequence) => {
        const encoder = new HpackEncoder({ maxTableSize: cap })
        const ours = new HpackDecoder(ROOMY)
        const oracle = new OracleDecoder()
        for (const { fields, resize } of sequence) {
          if (resize !== null) encoder.setMaxTableSize(resize)
          const block = encoder.encode(fields)
          const flat = fields.flat()
          deepStrictEqual(ours.decode(block), flat)
          deepStrictEqual(oracle.decode(block), flat)
          deepStrictEqual(ours.dynamicTable(), oracle.dynamicTable())
          deepStrictEqual(ours.tableSize, encoder.tableSize)
          blocks++
        }
      }),
      { seed: 0x4b9ac, numRuns: 250 },
    ),
  )
  t.ok(blocks > 250, `${blocks} blocks compared`)
})

t.test('property: hpack.js encoder → our decoder, our table follows the compressor', async (t) => {
  const oracleField = fc.record({
    name: nameArb,
    value: valueArb,
    neverIndex: fc.boolean(),
    incremental: fc.boolean(),
    huffman: fc.boolean(),
  })
  let blocks = 0
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(blocksOf(oracleField), (sequence) => {
        const encoder = new OracleEncoder()
        const ours = new HpackDecoder(ROOMY)
        for (const { fields, resize } of sequence) {
          if (resize !== null) encoder.setTableSize(resize)
          const block = encoder.encode(fields.map((f): OracleField => ({ ...f })))
          deepStrictEqual(ours.decode(block), fields.flatMap((f) => [f.name, f.value]))
          deepStrictEqual(ours.dynamicTable(), encoder.dynamicTable())
          blocks++
        }
      }),
      { seed: 0x1d0c, numRuns: 250 },
    ),
  )
  t.ok(blocks > 250, `${blocks} blocks compared`)
})


t.test('property: representation soup — what we accept, hpack.js accepts alike; we only fail with H2ProtocolError', async (t) => {
  const stringArb = fc.oneof(
    latin1(12).map((s) => [...integer(s.length, 7, 0), ...Buffer.from(s, 'latin1')]),
    // Random octets flagged as Huffman: mostly invalid, sometimes valid.
    fc.uint8Array({ maxLength: 6 }).map((b) => [...integer(b.length, 7, 0x80), ...b]),
  )
  const representation = fc.oneof(
    fc.integer({ min: 0, max: 80 }).map((i) => integer(i, 7, 0x80)),
    fc.tuple(fc.constantFrom(0x40, 0x00, 0x10), fc.integer({ min: 0, max: 70 }), stringArb, stringArb).map(([pattern, index, name, value]) => [
      ...integer(index, pattern === 0x40 ? 6 : 4, pattern),
      ...(index === 0 ? name : []),
      ...value,
    ]),
    fc.integer({ min: 0, max: 5000 }).map((size) => integer(size, 5, 0x20)),
  )
  let accepted = 0
  let rejected = 0
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(fc.array(fc.array(representation, { maxLength: 8 }), { minLength: 1, maxLength: 3 }), fc.nat(3), (blocks, cut) => {
        const ours = new HpackDecoder(ROOMY)
        const oracle = new OracleDecoder()
        for (const [i, representations] of blocks.entries()) {
          let bytes = Uint8Array.from(representations.flat())
          // Sometimes cut the last block short.
          if (i === blocks.length - 1 && cut > 0) bytes = bytes.subarray(0, Math.max(0, bytes.length - cut))
          let fields: string[]
          try {
            fields = ours.decode(bytes)
          } catch (err) {
            if (!(err instanceof H2ProtocolError) || err.h2CodeName !== 'COMPRESSION_ERROR') throw err
            rejected++
            return
          }
          accepted++
          deepStrictEqual(oracle.decode(bytes), fields)
          deepStrictEqual(oracle.dynamicTable(), ours.dynamicTable())
        }
      }),
      { seed: 0x50e9, numRuns: 500 },
    ),
  )
  t.ok(accepted > 50 && rejected > 50, `both outcomes exercised: ${accepted} blocks accepted, ${rejected} rejected`)
})

t.test('a block over 64 KiB: the scratch buffer grows, then shrinks back', async (t) => {
  const encoder = new HpackEncoder()
  const big: Array<[string, string]> = Array.from({ length: 40 }, (_, i) => [`x-big-${i}`, String.fromCharCode(65 + (i % 26)).repeat(3000)])
  const block = encoder.encode(big)
  t.ok(block.length > 64 * 1024, `${block.length} octets`)
  t.same(new OracleDecoder().decode(block), big.flat(), 'hpack.js decodes it')
  t.same(new HpackDecoder(ROOMY).decode(block), big.flat(), 'and so do we')
  const small = encoder.encode([[':method', 'GET']])
  t.same([...small], [0x82], 'the next block is written as usual')
})

// ---- Huffman code (RFC 7541 §5.2, Appendix B) --------------------------------------------------

t.test('Huffman table: Appendix B as hpack.js has it, canonical and complete', async (t) => {
  const theirs = hpackJs.huffman.encode
  t.equal(theirs.length, 257)
  let mismatches = 0
  for (let symbol = 0; symbol <= HUFFMAN_EOS; symbol++) {
    if (theirs[symbol]![0] !== HUFFMAN_LENGTHS[symbol] || theirs[symbol]![1] !== HUFFMAN_CODES[symbol]) mismatches++
  }
  t.equal(mismatches, 0, 'every code and length equals the oracle table')

  // Canonical: sorted by (length, symbol), each code is the previous one plus 1, shifted to its length.
  const order = Array.from({ length: 257 }, (_, s) => s).sort((a, b) => HUFFMAN_LENGTHS[a]! - HUFFMAN_LENGTHS[b]! || a - b)
  let next = 0
  let length = HUFFMAN_LENGTHS[order[0]!]!
  let canonical = true
  let kraft = 0
  for (const symbol of order) {
    next *= 2 ** (HUFFMAN_LENGTHS[symbol]! - length)
    length = HUFFMAN_LENGTHS[symbol]!
    if (HUFFMAN_CODES[symbol] !== next) canonical = false
    next++
    kraft += 2 ** -length
  }
  t.ok(canonical, 'canonical code')
  t.equal(kraft, 1, 'complete: the Kraft sum is exactly 1')
  t.equal(HUFFMAN_CODES[HUFFMAN_EOS], 0x3fffffff, 'EOS is 30 one bits')
  t.equal(HUFFMAN_LENGTHS[HUFFMAN_EOS], 30)
})

/** `str` Huffman-coded by our encoder, which must fill exactly the length it announced. */
function huffmanBytes(str: string): Buffer {
  const out = Buffer.alloc(huffmanLength(str))
  const end = huffmanEncode(str, out, 0)
  if (end !== out.length) throw new Error(`huffmanEncode wrote ${end} octets, huffmanLength said ${out.length}`)
  return out
}

t.test('Huffman round trip of every octet value', async (t) => {
  let failures = 0
  for (let octet = 0; octet < 256; octet++) {
    const one = String.fromCharCode(octet)
    const bytes = huffmanBytes(one)
    if (bytes.length !== Math.ceil(HUFFMAN_LENGTHS[octet]! / 8) || huffmanDecode(bytes, 0, bytes.length) !== one) failures++
    // Behind a 5-bit symbol and before another, so every bit alignment is seen across octets.
    const framed = `a${one}${one}0`
    const framedBytes = huffmanBytes(framed)
    if (huffmanDecode(framedBytes, 0, framedBytes.length) !== framed) failures++
  }
  t.equal(failures, 0, 'all 256 octets, alone and between others')
  const all = Array.from({ length: 256 }, (_, i) => String.fromCharCode(i)).join('')
  const bytes = huffmanBytes(all)
  t.equal(huffmanDecode(bytes, 0, bytes.length), all, 'the 256 octets in one string')
  t.equal(huffmanDecode(bytes, 0, 0), '', 'an empty string')
  t.same(huffmanBytes('www.example.com'), Buffer.from('f1e3c2e5f23a6ba0ab90f4ff', 'hex'), 'RFC 7541 C.4.1')
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(latin1(64), (s) => {
        const encoded = huffmanBytes(s)
        return huffmanDecode(encoded, 0, encoded.length) === s
      }),
      { seed: 0x4a11, numRuns: 300 },
    ),
  )
})

/** Bits (strings of 0/1) to octets; the length must be a multiple of 8. */
function bitsToBytes(bits: string): number[] {
  const out: number[] = []
  for (let i = 0; i < bits.length; i += 8) out.push(parseInt(bits.slice(i, i + 8), 2))
  return out
}

function codeBits(symbol: number): string {
  return HUFFMAN_CODES[symbol]!.toString(2).padStart(HUFFMAN_LENGTHS[symbol]!, '0')
}

/** Decode `huffman` as the Huffman-coded name of a literal: the field, or the COMPRESSION_ERROR's cause message. */
function decodeName(huffman: number[]): string[] | string {
  try {
    return new HpackDecoder().decode(Uint8Array.from([0x40, ...integer(huffman.length, 7, 0x80), ...huffman, 0x00]))
  } catch (err) {
    if (err instanceof H2ProtocolError && err.h2CodeName === 'COMPRESSION_ERROR' && err.streamId === 0 && err.cause instanceof RangeError) {
      return err.cause.message
    }
    throw err
  }
}

/** Code (as a string of bits) → symbol. */
const SYMBOLS = new Map<string, number>(Array.from({ length: HUFFMAN_EOS + 1 }, (_, symbol) => [codeBits(symbol), symbol]))

/** Bit-at-a-time reference decoder (RFC 7541 §5.2), slow and obvious: the decoded string, or which rule broke. */
function referenceDecode(bits: string): { value: string } | { error: 'EOS' | 'padding' } {
  let value = ''
  let pending = ''
  for (const bit of bits) {
    pending += bit
    const symbol = SYMBOLS.get(pending)
    if (symbol === undefined) continue
    if (symbol === HUFFMAN_EOS) return { error: 'EOS' }
    value += String.fromCharCode(symbol)
    pending = ''
  }
  return pending.length <= 7 && !pending.includes('0') ? { value } : { error: 'padding' }
}

t.test('Huffman padding (RFC 7541 §5.2): fewer than 8 bits, all ones', async (t) => {
  const a = codeBits('a'.charCodeAt(0)) // 5 bits
  let checked = 0
  let wrong = 0
  let accepted = 0
  for (let n = 1; n <= 8; n++) {
    const code = a.repeat(n)
    const pad = (8 - (code.length % 8)) % 8
    // Every tail of `pad` bits, and of `pad + 8` bits: some hold a symbol ('00000' is '0'),
    // the rest must be 0-7 one bits; the reference decoder says which.
    for (const tail of [pad, pad + 8]) {
      for (let pattern = 0; pattern < 2 ** tail; pattern++) {
        const bits = code + pattern.toString(2).padStart(tail, '0')
        const want = referenceDecode(bits)
        const bytes = Uint8Array.from(bitsToBytes(bits))
        let got: string
        try {
          got = huffmanDecode(bytes, 0, bytes.length)
        } catch (err) {
          got = err instanceof RangeError ? `error: ${err.message}` : 'not a RangeError'
        }
        const ok = 'value' in want ? got === want.value : got.startsWith('error: ') && got.includes(want.error === 'EOS' ? 'contains EOS' : 'padding')
        if (!ok) wrong++
        if ('value' in want) accepted++
        checked++
      }
    }
  }
  t.equal(wrong, 0, `${checked} strings (${accepted} valid) decode as the reference decoder says`)
  t.same(decodeName(bitsToBytes(`${a.repeat(5)}1111111`)), ['aaaaa', ''], '7 bits of padding is the most allowed')
  t.match(decodeName([0xff]), /padding/, '8 one bits alone')
  t.match(decodeName(bitsToBytes(`${a}${'1'.repeat(11)}`)), /padding/, '11 one bits after a symbol')
  t.match(decodeName(bitsToBytes(`${a}000`)), /padding/, 'zeros are not padding')
  t.match(decodeName(bitsToBytes(`${a}101`)), /padding/, 'neither is a mix')
})

t.test('Huffman: EOS inside a string is a decoding error (RFC 7541 §5.2)', async (t) => {
  const eos = codeBits(HUFFMAN_EOS)
  const a = codeBits('a'.charCodeAt(0))
  t.match(decodeName(bitsToBytes(`${eos}11`)), /EOS/, 'EOS alone')
  t.match(decodeName(bitsToBytes(`${a}${eos}11111`)), /contains EOS/, 'EOS after a symbol')
  t.match(decodeName(bitsToBytes(`${eos}${a}${a}`)), /contains EOS/, 'EOS before symbols')
  t.match(decodeName([0xff, 0xff, 0xff, 0xff]), /contains EOS/, '32 one bits hold EOS')
})

// ---- rules hpack.js does not enforce, so no oracle can judge them ------------------------------

t.test('decoder: a block of size updates only, after our limit went down (RFC 7541 §4.2)', async (t) => {
  const none = new HpackDecoder()
  none.setMaxTableSize(100)
  let error: unknown
  try {
    none.decode(new Uint8Array(0))
  } catch (err) {
    error = err
  }
  t.match(error, { h2CodeName: 'COMPRESSION_ERROR', streamId: 0 }, 'an empty block lacks the update')
  const only = new HpackDecoder()
  only.setMaxTableSize(100)
  t.same(only.decode(Uint8Array.from(integer(100, 5, 0x20))), [], 'a block holding just the update is enough')
  t.equal(only.tableSize, 100)
  t.same(only.decode(new Uint8Array([0x82])), [':method', 'GET'], 'and the next block needs none')
})
