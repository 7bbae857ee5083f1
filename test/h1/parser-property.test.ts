/**
 * Property tests (fast-check, seeded, bounded runs):
 * - any generated valid response sequence (random fields, interim 1xx heads, Content-Length,
 *   chunked with extensions and trailers, close-delimited bodies, obs-folds, random OWS)
 *   parses to exactly the model, and identically when cut at arbitrary points;
 * - random bytes and random mutations of valid responses never throw anything but
 *   H1ParseError, and give the same outcome however they are cut.
 */
import t from 'tap'
import fc from 'fast-check'
import { canonical, run } from './parser-harness.js'

const TCHARS = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".split('')
const RESERVED = new Set(['content-length', 'transfer-encoding', 'connection'])

const token = fc.array(fc.constantFrom(...TCHARS), { minLength: 1, maxLength: 12 }).map((a) => a.join(''))
const fieldName = token.filter((n) => !RESERVED.has(n.toLowerCase()))
/** field-vchar / SP / HTAB, as a latin1 string without surrounding OWS (the parsed form). */
const fieldValue = fc
  .array(fc.oneof(fc.integer({ min: 0x21, max: 0x7e }), fc.integer({ min: 0x80, max: 0xff }), fc.constantFrom(0x20, 0x09)), {
    maxLength: 24,
  })
  .map((codes) => String.fromCharCode(...codes).replace(/^[ \t]+|[ \t]+$/g, ''))
const ows = fc.constantFrom('', ' ', '\t', '  ', ' \t ')
const field = fc.record({ name: fieldName, value: fieldValue, before: ows, after: ows, fold: fc.boolean() })
type Field = { name: string; value: string; before: string; after: string; fold: boolean }

const chunkExt = fc.constantFrom('', ';a', ';a=b', ' ; name = "quoted \\" value"', ';x;y=z')

const response = fc.record({
  interim: fc.array(fc.record({ status: fc.constantFrom(100, 102, 103), fields: fc.array(field, { maxLength: 3 }) }), { maxLength: 2 }),
  minor: fc.constantFrom(0, 1, 1, 1),
  status: fc.oneof(fc.integer({ min: 200, max: 599 }), fc.constantFrom(204, 304)),
  reason: fc.constantFrom('', ' OK', ' Not Found', ' x\ty', ' caf\xe9'),
  fields: fc.array(field, { maxLength: 6 }),
  framing: fc.constantFrom('length', 'chunked', 'close'),
  body: fc.uint8Array({ maxLength: 200 }),
  cuts: fc.array(fc.nat(), { maxLength: 5 }),
  exts: fc.array(chunkExt, { maxLength: 6 }),
  upperHex: fc.boolean(),
  trailers: fc.array(field, { maxLength: 3 }),
})
type Response = typeof response extends fc.Arbitrary<infer R> ? R : never

interface Expected {
  heads: { statusCode: number; rawHeaders: string[] }[]
  body: Buffer
  trailers: string[] | null
  untilClose: boolean
}

/** obs-fold a value at one of its inner single spaces, if it has one (RFC 9112 §5.2). */
function fold(value: string): string | null {
  const m = /[^ \t] [^ \t]/.exec(value)
  if (m === null) return null
  return value.slice(0, m.index + 1) + '\r\n ' + value.slice(m.index + 2)
}

function fieldLines(fields: Field[]): string {
  return fields
    .map((f) => {
      const folded = f.fold ? fold(f.value) : null
      return `${f.name}:${f.before}${folded ?? f.value}${f.value === '' ? '' : f.after}\r\n`
    })
    .join('')
}

const flat = (fields: Field[]): string[] => fields.flatMap((f) => [f.name, f.value])

/** Serialise one response; `last` says whether it may end the connection. */
function serialise(r: Response, last: boolean): { bytes: Buffer; expected: Expected } {
  const heads: Expected['heads'] = []
  let out = ''
  for (const i of r.interim) {
    out += `HTTP/1.1 ${i.status} Interim\r\n${fieldLines(i.fields)}\r\n`
    heads.push({ statusCode: i.status, rawHeaders: flat(i.fields) })
  }
  const bodiless = r.status === 204 || r.status === 304
  // Only the last response may be close-delimited; HTTP/1.0 has no chunked (RFC 9112 §6.1).
  const framing = bodiless ? 'none' : (r.framing === 'close' && !last) || (r.framing === 'chunked' && r.minor === 0) ? 'length' : r.framing
  const fields = [...r.fields]
  const extra: string[] = []
  // HTTP/1.0 needs keep-alive to be followed by another response
  if (r.minor === 0 && framing !== 'close') extra.push('Connection', 'keep-alive')
  if (framing === 'length') extra.push('Content-Length', String(r.body.length))
  if (framing === 'chunked') extra.push('Transfer-Encoding', 'chunked')
  let head = `HTTP/1.${r.minor} ${r.status}${r.reason}\r\n${fieldLines(fields)}`
  for (let k = 0; k < extra.length; k += 2) head += `${extra[k]}: ${extra[k + 1]}\r\n`
  out += head + '\r\n'
  heads.push({ statusCode: r.status, rawHeaders: [...flat(fields), ...extra] })
  const body = Buffer.from(r.body)
  let bodyBytes = Buffer.alloc(0)
  let trailers: string[] | null = null
  if (framing === 'length' || framing === 'close') bodyBytes = body
  if (framing === 'chunked') {
    // cut the body into chunks at the generated points
    const points = [...new Set(r.cuts.map((c) => (body.length === 0 ? 0 : c % body.length)))].filter((c) => c > 0).sort((a, b) => a - b)
    const parts: Buffer[] = []
    let at = 0
    for (const p of [...points, body.length]) {
      if (p > at) parts.push(body.subarray(at, p))
      at = p
    }
    const pieces: Buffer[] = []
    parts.forEach((part, k) => {
      const hex = part.length.toString(16)
      pieces.push(Buffer.from(`${r.upperHex ? hex.toUpperCase() : hex}${r.exts[k] ?? ''}\r\n`, 'latin1'), part, Buffer.from('\r\n'))
    })
    pieces.push(Buffer.from(`0${r.exts[parts.length] ?? ''}\r\n${fieldLines(r.trailers)}\r\n`, 'latin1'))
    bodyBytes = Buffer.concat(pieces)
    trailers = r.trailers.length > 0 ? flat(r.trailers) : null
  }
  return {
    bytes: Buffer.concat([Buffer.from(out, 'latin1'), bodyBytes]),
    expected: { heads, body: bodiless ? Buffer.alloc(0) : body, trailers, untilClose: framing === 'close' },
  }
}

/** Cut `input` at the given points (any naturals, reduced modulo the length). */
function cut(input: Buffer, points: number[]): Buffer[] {
  const at = [...new Set(points.map((p) => (input.length === 0 ? 0 : p % input.length)))].filter((p) => p > 0).sort((a, b) => a - b)
  const out: Buffer[] = []
  let prev = 0
  for (const p of at) {
    out.push(input.subarray(prev, p))
    prev = p
  }
  out.push(input.subarray(prev))
  return out
}

const sequence = fc.array(response, { minLength: 1, maxLength: 3 })
const SEED = 0x77a17
const RUNS = 300

t.test('generated valid responses parse to the model, whole and cut anywhere', (tt) => {
  let checked = 0
  fc.assert(
    fc.property(sequence, fc.array(fc.nat(), { maxLength: 8 }), (responses, points) => {
      const parts = responses.map((r, k) => serialise(r, k === responses.length - 1))
      const input = Buffer.concat(parts.map((p) => p.bytes))
      const endsWithClose = parts[parts.length - 1]!.expected.untilClose
      const whole = run([input], { finish: true })
      if (whole.error !== null) throw new Error(`valid input refused: ${whole.error.message}\n${input.toString('latin1')}`)
      // the model: every head (interim and final) in order, bodies and trailers of finals
      const expected = parts.flatMap((p) =>
        p.expected.heads.map((h, k) => {
          const final = k === p.expected.heads.length - 1
          return {
            statusCode: h.statusCode,
            rawHeaders: h.rawHeaders,
            body: final ? p.expected.body.toString('latin1') : '',
            trailers: final ? p.expected.trailers : null,
            complete: true,
          }
        }),
      )
      const got = whole.messages.map((m) => ({
        statusCode: m.head.statusCode,
        rawHeaders: m.head.rawHeaders,
        body: m.body.toString('latin1'),
        trailers: m.trailers,
        complete: m.complete,
      }))
      if (JSON.stringify(got) !== JSON.stringify(expected)) {
        throw new Error(`model mismatch\n got ${JSON.stringify(got)}\nwant ${JSON.stringify(expected)}`)
      }
      const lastHead = whole.messages[whole.messages.length - 1]!.head
      if (lastHead.keepAlive === endsWithClose) throw new Error('keepAlive must be false exactly for close-delimited bodies')
      const split = run(cut(input, points), { finish: true })
      if (JSON.stringify(canonical(split)) !== JSON.stringify(canonical(whole))) {
        throw new Error(`split differs at ${JSON.stringify(points)}`)
      }
      checked++
    }),
    { numRuns: RUNS, seed: SEED },
  )
  tt.equal(checked, RUNS, `${RUNS} generated response sequences`)
  tt.end()
})

t.test('random bytes: only H1ParseError, same outcome however cut', (tt) => {
  let refused = 0
  fc.assert(
    fc.property(
      fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\n'), b]))),
      fc.array(fc.nat(), { maxLength: 6 }),
      (bytes, points) => {
        const input = Buffer.from(bytes)
        // run() rethrows anything that is not an H1ParseError, which fails the property
        const whole = run([input], { finish: true })
        const split = run(cut(input, points), { finish: true })
        if (JSON.stringify(canonical(split)) !== JSON.stringify(canonical(whole))) throw new Error('split differs')
        if (whole.error !== null) refused++
      },
    ),
    { numRuns: RUNS, seed: SEED + 1 },
  )
  tt.ok(refused > RUNS / 2, `most random inputs are refused (${refused}/${RUNS}), with H1ParseError only`)
  tt.end()
})

const mutation = fc.record({
  kind: fc.constantFrom('flip', 'insert', 'delete', 'duplicate'),
  at: fc.nat(),
  byte: fc.constantFrom(0x00, 0x09, 0x0a, 0x0d, 0x20, 0x22, 0x2c, 0x3a, 0x3b, 0x30, 0x46, 0x7f, 0xff, 0x41),
  length: fc.integer({ min: 1, max: 16 }),
})

t.test('mutated valid responses: only H1ParseError, same outcome however cut', (tt) => {
  let refused = 0
  fc.assert(
    fc.property(sequence, fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.array(fc.nat(), { maxLength: 6 }), (responses, mutations, points) => {
      let input = Buffer.concat(responses.map((r, k) => serialise(r, k === responses.length - 1).bytes))
      for (const m of mutations) {
        const at = m.at % (input.length + 1)
        if (m.kind === 'flip' && at < input.length) input[at] = m.byte
        if (m.kind === 'insert') input = Buffer.concat([input.subarray(0, at), Buffer.of(m.byte), input.subarray(at)])
        if (m.kind === 'delete') input = Buffer.concat([input.subarray(0, at), input.subarray(at + m.length)])
        if (m.kind === 'duplicate') input = Buffer.concat([input.subarray(0, at + m.length), input.subarray(at)])
      }
      const whole = run([input], { finish: true })
      const split = run(cut(input, points), { finish: true })
      if (JSON.stringify(canonical(split)) !== JSON.stringify(canonical(whole))) {
        throw new Error(`split differs at ${JSON.stringify(points)}:\n${JSON.stringify(canonical(whole))}\n${JSON.stringify(canonical(split))}`)
      }
      if (whole.error !== null) refused++
    }),
    { numRuns: RUNS, seed: SEED + 2 },
  )
  tt.ok(refused > 0, `mutations are refused with H1ParseError only (${refused}/${RUNS} refused)`)
  tt.end()
})
