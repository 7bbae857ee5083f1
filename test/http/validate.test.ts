import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { InvalidArgumentError } from '../../src/errors.js'
import { assertFieldValue, assertRequestTarget, assertToken } from '../../src/http/validate.js'
import { corpusMissing, corpusUrl } from '../support/corpus.js'

const TCHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

t.test('assertToken accepts exactly the RFC 9110 §5.6.2 tchars', async (t) => {
  assertToken(TCHARS, 'header name')
  assertToken('GET', 'method')
  assertToken('M-SEARCH', 'method')
  for (let c = 0; c < 0x180; c++) {
    const ch = String.fromCharCode(c)
    if (TCHARS.includes(ch)) continue
    t.throws(() => assertToken(`a${ch}b`, 'header name'), InvalidArgumentError, `0x${c.toString(16)} is not a tchar`)
  }
  t.throws(() => assertToken('', 'method'), { code: 'WP_INVALID_ARG', message: /invalid method/ })
  t.throws(() => assertToken('x y', 'header name'), { message: /invalid header name: "x y"/ })
})

t.test('assertFieldValue: VCHAR, obs-text, SP and HTAB only (RFC 9110 §5.5)', async (t) => {
  assertFieldValue('x', '')
  assertFieldValue('x', ' a\tb ~ ')
  assertFieldValue('x', 'caf\u00e9 \u00ff')
  for (let c = 0; c < 0x20; c++) {
    if (c === 0x09) continue
    t.throws(() => assertFieldValue('x-test', `a${String.fromCharCode(c)}b`), InvalidArgumentError, `CTL 0x${c.toString(16)}`)
  }
  t.throws(() => assertFieldValue('x-test', 'a\x7fb'), InvalidArgumentError, 'DEL')
  t.throws(() => assertFieldValue('x-test', 'a\u010Ab'), InvalidArgumentError, 'U+010A (latin1 truncates it to LF)')
  t.throws(() => assertFieldValue('x-test', '\u2028'), InvalidArgumentError, 'U+2028')
  t.throws(() => assertFieldValue('content-type', 'a\r\nb'), { message: /header "content-type"/ }, 'error names the header')
  const long = `${'v'.repeat(200)}\n`
  t.throws(() => assertFieldValue('x', long), { message: /…/ }, 'long values are shortened in the message')
})

t.test('assertRequestTarget: origin-form of visible ASCII (RFC 9112 §3.2.1)', async (t) => {
  assertRequestTarget('/')
  assertRequestTarget('/a/b%20c?x=1&y=%E2%82%AC#frag')
  for (const bad of ['', 'a/b', '*', 'http://x/', '/a b', '/a\tb', '/a\r\nb', '/a\0', '/caf\u00e9', '/\u20ac', '/a\x7f']) {
    t.throws(() => assertRequestTarget(bad), InvalidArgumentError, JSON.stringify(bad))
  }
  t.throws(() => assertRequestTarget('x'), { message: /must start with "\/"/ })
  t.throws(() => assertRequestTarget('/ x'), { message: /percent-encoded/ })
})

// ── corpus: request_side_validation of http1-client-robustness ──────────────────────────

const corpusPath = fileURLToPath(corpusUrl('http1-client-robustness/vectors.json'))

interface ValidationGroup {
  id: string
  request_headers?: Record<string, string>
  upgrade_protocol_values_rejected?: string[]
  request_option_upgrade_rejected?: string
  accepted?: string
  blob_type?: string
}

t.test('corpus: request_side_validation', { skip: corpusMissing('http1-client-robustness/vectors.json') ?? false }, async (t) => {
  const corpus = JSON.parse(readFileSync(corpusPath, 'utf8')) as { request_side_validation: ValidationGroup[] }
  const groups = new Map(corpus.request_side_validation.map((g) => [g.id, g]))

  // CRLF injection in header values (host, content-type, Blob.type): refused before sending.
  for (const id of ['host-header-crlf', 'content-type-crlf']) {
    const group = groups.get(id)
    t.ok(group, `group ${id} present`)
    for (const [name, value] of Object.entries(group?.request_headers ?? {})) {
      assertToken(name, 'header name')
      t.throws(() => assertFieldValue(name, value), InvalidArgumentError, `${id}: ${name}`)
    }
  }
  const blobType = groups.get('content-type-crlf')?.blob_type
  t.type(blobType, 'string')
  t.throws(() => assertFieldValue('content-type', blobType as string), InvalidArgumentError, 'Blob.type with CRLF')

  // Upgrade protocol values: CRLF, lone CR, lone LF, NUL refused; the plain one accepted.
  const upgrade = groups.get('upgrade-crlf')
  const rejected = [...(upgrade?.upgrade_protocol_values_rejected ?? []), upgrade?.request_option_upgrade_rejected ?? '']
  t.equal(rejected.length, 5)
  for (const value of rejected) t.throws(() => assertFieldValue('upgrade', value), InvalidArgumentError, JSON.stringify(value))
  assertFieldValue('upgrade', upgrade?.accepted ?? '')
  assertToken(upgrade?.accepted ?? '', 'upgrade protocol')

  // Stringified values: what reaches validate.ts is the string, and that string is judged.
  const tricky = { toString: () => 'a\r\nInjected: 1' }
  t.throws(() => assertFieldValue('x', String(tricky)), InvalidArgumentError, 'toString() result with CRLF')
  const primitive = { [Symbol.toPrimitive]: () => 'a\nb' }
  t.throws(() => assertFieldValue('x', `${primitive as unknown as string}`), InvalidArgumentError, 'Symbol.toPrimitive result')
  assertFieldValue('x', String(123))
  assertFieldValue('x', String(true))

  // "invalid header with spaces" is a legal field value; Connection itself is engine-owned
  // and refused by request-options.ts, not by this module (its tokens are checked there).
  t.ok(groups.has('invalid-request-headers'))
  t.throws(() => assertToken('invalid header with spaces', 'connection option'), InvalidArgumentError)
})
