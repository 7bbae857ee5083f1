import t from 'tap'
import { readFileSync } from 'node:fs'
import { isUtf8 } from 'node:buffer'
import fc from 'fast-check'
import { Utf8Validator, isValidUtf8 } from '../../src/ws/utf8.js'
import { corpusMissing, corpusUrl } from '../support/corpus.js'

const CORPUS = corpusUrl('autobahn-testsuite/utf8-sequences.json')

interface Sequence {
  case: string
  valid: boolean
  hex: string
}

// ---- an independent reference --------------------------------------------------------
// A byte string is a valid prefix when it is complete code points followed by a proper
// prefix of one more. Proper prefixes of every encoded scalar value are enumerated from
// code points whose low 6 bits are 0 (the last byte never belongs to a proper prefix);
// complete code points are recognised by a lossless round trip through Node's decoder.

const properPrefixes = new Set<string>()
for (let cp = 0x80; cp <= 0x10ffff; cp += 64) {
  if (cp >= 0xd800 && cp <= 0xdfff) continue
  const encoded = Buffer.from(String.fromCodePoint(cp), 'utf8')
  for (let n = 1; n < encoded.length; n++) properPrefixes.add(encoded.subarray(0, n).toString('hex'))
}

function isOneScalar(bytes: Uint8Array): boolean {
  const text = Buffer.from(bytes).toString('utf8')
  return [...text].length === 1 && Buffer.from(text, 'utf8').equals(bytes)
}

/** Index of the first byte no valid message could contain, or -1; and whether it stops inside a sequence. */
function reference(bytes: Uint8Array): { firstInvalid: number; incomplete: boolean } {
  let start = 0
  for (let k = 0; k < bytes.length; k++) {
    const current = bytes.subarray(start, k + 1)
    if (isOneScalar(current)) start = k + 1
    else if (!properPrefixes.has(Buffer.from(current).toString('hex'))) return { firstInvalid: k, incomplete: false }
  }
  return { firstInvalid: -1, incomplete: start < bytes.length }
}

/** What errorOffset must be after the whole input and end(): -1 when valid. */
function expectedOffset(bytes: Uint8Array): number {
  const ref = reference(bytes)
  return ref.firstInvalid !== -1 ? ref.firstInvalid : ref.incomplete ? bytes.length : -1
}

/** Push pieces split at `cuts`, then end(): validity and errorOffset. */
function validate(bytes: Uint8Array, cuts: number[]): { valid: boolean; offset: number } {
  const v = new Utf8Validator()
  let at = 0
  for (const cut of [...cuts, bytes.length]) {
    v.push(bytes.subarray(at, cut))
    at = cut
  }
  const valid = v.end()
  return { valid, offset: v.errorOffset }
}

t.test('the reference agrees with buffer.isUtf8 on hand-picked inputs', async (t) => {
  const samples = ['', 'ascii', 'ce', 'cebae1bd', 'c080', 'eda080', 'f48fbfbf', 'f4908080', 'ff', 'e282ac', 'e28241']
  for (const hex of samples) {
    const bytes = Buffer.from(hex, 'hex')
    t.equal(expectedOffset(bytes) === -1, isUtf8(bytes), hex)
  }
})

t.test('hand-written rules: overlongs, surrogates, range, stray bytes', async (t) => {
  const cases: [string, number][] = [
    ['', -1],
    ['41', -1],
    ['c2a2', -1],
    ['e282ac', -1],
    ['f09f9880', -1],
    ['f48fbfbf', -1], // U+10FFFF, the last scalar value
    ['ed9fbf', -1], // U+D7FF, just below the surrogates
    ['ee8080', -1], // U+E000, just above them
    ['c080', 0], // overlong NUL: C0 is never a lead
    ['c1bf', 0],
    ['e08080', 1], // overlong 3-byte form: E0 needs A0..BF next
    ['e09fbf', 1],
    ['f08f bfbf'.replace(' ', ''), 1], // overlong 4-byte form: F0 needs 90..BF next
    ['eda080', 1], // U+D800 surrogate: ED needs 80..9F next
    ['edbfbf', 1],
    ['f4908080', 1], // U+110000: F4 needs 80..8F next
    ['f5808080', 0],
    ['ff', 0],
    ['80', 0], // continuation without a lead
    ['41bf', 1],
    ['c241', 1], // lead followed by ASCII
    ['e282', 2], // incomplete at the end: offset = length
    ['f09f98', 3],
    ['414243e2', 4],
  ]
  for (const [hex, offset] of cases) {
    const bytes = Buffer.from(hex, 'hex')
    t.equal(expectedOffset(bytes), offset, `reference ${hex}`)
    t.same(validate(bytes, []), { valid: offset === -1, offset }, `whole ${hex}`)
    t.equal(isValidUtf8(bytes), offset === -1, `isValidUtf8 ${hex}`)
  }
})

t.test('fails fast: the first push containing the invalid byte returns false', async (t) => {
  const bytes = Buffer.from('68656c6c6fe282ac' + 'eda080' + '776f726c64', 'hex')
  const v = new Utf8Validator()
  const results: boolean[] = []
  for (const b of bytes) results.push(v.push(Uint8Array.of(b)))
  t.same(results.indexOf(false), 9, 'byte 9 (A0 after ED) is the first rejected')
  t.equal(v.errorOffset, 9)
  t.equal(v.valid, false)
  t.equal(v.push(Buffer.from('a')), false, 'stays failed')
  t.equal(v.end(), false)
  t.equal(v.errorOffset, 9, 'end() keeps the error')
  v.reset()
  t.equal(v.valid, true, 'reset() clears it')
  t.equal(v.errorOffset, -1)
  t.equal(v.push(Buffer.from('ok')), true)
  t.equal(v.end(), true)
})

t.test('reset() forgets a pending sequence and an error', async (t) => {
  const v = new Utf8Validator()
  t.equal(v.push(Uint8Array.of(0xe2, 0x82)), true)
  v.reset()
  t.equal(v.push(Uint8Array.of(0x41)), true, 'A is not read as a continuation after reset')
  t.equal(v.end(), true)
  v.push(Uint8Array.of(0xff))
  t.equal(v.valid, false)
  v.reset()
  t.equal(v.valid, true)
})

t.test('long inputs go through the native path and still report the exact byte', async (t) => {
  const prefix = 'x'.repeat(100) + 'é€😀'
  for (const [bad, at] of [
    ['\xff', 0],
    ['\xc0\x80', 0],
    ['\xed\xa0\x80', 1],
    ['\xf4\x90\x80\x80', 1],
  ] as const) {
    const bytes = Buffer.concat([Buffer.from(prefix), Buffer.from(bad, 'latin1'), Buffer.from('y'.repeat(80))])
    const where = Buffer.byteLength(prefix) + at
    const v = new Utf8Validator()
    t.equal(v.push(bytes), false)
    t.equal(v.errorOffset, where, `offset of ${Buffer.from(bad, 'latin1').toString('hex')}`)
    // The same after a valid first piece, so the offset counts earlier pushes.
    const w = new Utf8Validator()
    t.equal(w.push(bytes.subarray(0, 10)), true)
    t.equal(w.push(bytes.subarray(10)), false)
    t.equal(w.errorOffset, where)
  }
  // A long chunk ending inside a sequence: the tail is held for the next push.
  const text = Buffer.from('a'.repeat(70) + '😀' + 'b'.repeat(70) + '€')
  for (let cut = 60; cut < text.length; cut++) {
    const v = new Utf8Validator()
    t.equal(v.push(text.subarray(0, cut)) && v.push(text.subarray(cut)) && v.end(), true, `split at ${cut}`)
  }
  const long = Buffer.from('a'.repeat(100) + '€')
  const v = new Utf8Validator()
  t.equal(v.push(long.subarray(0, long.length - 1)), true, 'incomplete tail is not an error yet')
  t.equal(v.end(), false, 'but is at the end of the message')
  t.equal(v.errorOffset, long.length - 1, 'at the message length')
  t.equal(v.valid, false)
})

t.test('property: any bytes, any split: same verdict and offset as the reference', async (t) => {
  // Bias toward UTF-8: valid text, with random bytes spliced in.
  const piece = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 8 }).map((s) => Buffer.from(s, 'utf8')),
    fc.uint8Array({ maxLength: 4 }),
    fc.constantFrom(...['e0', 'ed', 'f0', 'f4', '80', 'bf', 'c2', 'a0', '8f', '90'].map((h) => Buffer.from(h, 'hex'))),
  )
  let runs = 0
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 30 }), fc.array(fc.nat(), { maxLength: 4 }), (pieces, rawCuts) => {
      const bytes = Buffer.concat(pieces)
      const cuts = [...new Set(rawCuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)
      const offset = expectedOffset(bytes)
      const got = validate(bytes, cuts)
      runs++
      return got.valid === (offset === -1) && got.offset === offset && isUtf8(bytes) === (offset === -1)
    }),
    { numRuns: 400 },
  )
  t.equal(runs >= 400, true, 'ran the property')
})

t.test('Autobahn 6.5–6.23 UTF-8 sequences, whole and at every split point', { skip: corpusMissing('autobahn-testsuite/utf8-sequences.json') ?? false }, async (t) => {
  const corpus = JSON.parse(readFileSync(CORPUS, 'utf8')) as { subcategories: { id: string; cases: Sequence[] }[] }
  const sequences = corpus.subcategories.flatMap((s) => s.cases)
  t.equal(sequences.length, 132, 'all 132 sequences')
  // Also behind 70 ASCII bytes, so the native path sees each one.
  const pad = Buffer.from('p'.repeat(70))
  for (const seq of sequences) {
    const bytes = Buffer.from(seq.hex, 'hex')
    const offset = expectedOffset(bytes)
    t.equal(offset === -1, seq.valid, `${seq.case}: reference agrees with Autobahn`)
    t.equal(isValidUtf8(bytes), seq.valid, `${seq.case}: isValidUtf8`)
    const padded = Buffer.concat([pad, bytes])
    const paddedOffset = offset === -1 ? -1 : offset + pad.length
    let mismatches = 0
    for (let cut = 0; cut <= bytes.length; cut++) {
      const got = validate(bytes, [cut])
      if (got.valid !== seq.valid || got.offset !== offset) mismatches++
    }
    for (let cut = 0; cut <= padded.length; cut++) {
      const got = validate(padded, [cut])
      if (got.valid !== seq.valid || got.offset !== paddedOffset) mismatches++
    }
    const bytewise = validate(bytes, [...bytes.keys()])
    if (bytewise.valid !== seq.valid || bytewise.offset !== offset) mismatches++
    t.equal(mismatches, 0, `${seq.case} (${seq.valid ? 'valid' : 'invalid'}) at every split point`)
  }
})
