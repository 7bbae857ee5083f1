/**
 * http-parser's response vectors (../shared/corpus/http-parser, see its SOURCE.md):
 * responses.json fed whole, at every 2-split and as three responses back to back;
 * response-errors.json must be refused (or accepted where it says HPE_OK).
 * Deliberate differences are listed with their reason; the test asserts our behaviour.
 */
import t from 'tap'
import type { Test } from 'tap'
import { readFileSync } from 'node:fs'
import { corpusDir, run, runAllSplits, trimOws } from './parser-harness.js'
import type { Outcome } from './parser-harness.js'
import { corpusMissing } from '../support/corpus.js'

interface HpResponse {
  index: number
  name: string
  raw: string
  status_code: number
  response_status: string
  http_major: number
  http_minor: number
  should_keep_alive: boolean
  message_complete_on_eof: boolean
  content_length: number
  headers: [string, string][]
  body?: string
  body_size?: number
  upgrade: string | null
}

interface HpError {
  source: string
  prefix?: string
  input?: string
  input_repeat?: { chunk: string; times: number }
  expect: string
}

/** Compare one parsed message with a responses.json entry; returns the differences. */
function differences(r: HpResponse, o: Outcome, messageIndex = 0): string[] {
  const diffs: string[] = []
  const m = o.messages[messageIndex]
  if (m === undefined) return [`no message ${messageIndex}${o.error ? ` (${o.error.message})` : ''}`]
  const h = m.head
  const want = (what: string, got: unknown, expected: unknown): void => {
    if (JSON.stringify(got) !== JSON.stringify(expected)) diffs.push(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(expected)}`)
  }
  want('status', h.statusCode, r.status_code)
  want('reason', h.statusText, r.response_status)
  want('version', `1.${h.versionMinor}`, `${r.http_major}.${r.http_minor}`)
  want('headers', h.rawHeaders, r.headers.flatMap(([n, v]) => [n, trimOws(v)]))
  want('contentLength', h.contentLength, r.content_length)
  if (r.body !== undefined) want('body', m.body.toString('latin1'), r.body)
  else want('body size', m.body.length, r.body_size)
  want('keepAlive', h.keepAlive, r.should_keep_alive)
  want('complete', m.complete, true)
  if (r.upgrade !== null) want('upgrade remainder', o.upgradeRest?.toString('latin1'), r.upgrade)
  else want('not upgraded', o.state === 'upgraded', false)
  if (o.error !== null) diffs.push(`error: ${o.error.message}`)
  return diffs
}

const optionsFor = (r: HpResponse): { finish: boolean } => ({ finish: r.message_complete_on_eof })

/** responses.json entries we parse differently on purpose, by index. */
const DELIBERATE: Record<number, { why: string; check: (t: Test, o: Outcome) => void }> = {
  4: {
    why: 'whitespace after a chunk size is outside RFC 9112 §7.1 (BWS only precedes ";"); refused as llhttp does',
    check: (tt, o) => {
      tt.equal(o.error?.reason, 'invalid chunk size')
      tt.equal(o.error?.offset, 75, 'at the first SP after "25"')
    },
  },
  5: {
    why: 'bare LF line ends are refused (RFC 9112 §2.2 MAY accept; strict llhttp refuses)',
    check: (tt, o) => {
      tt.equal(o.error?.reason, 'bare LF')
      tt.equal(o.messages.length, 0)
    },
  },
  6: {
    why: 'Proxy-Connection is not an HTTP field (RFC 9110 §7.6.1 defines only Connection); "Proxy-Connection: close" does not end the connection',
    check: (tt, o) => {
      tt.equal(o.error, null)
      tt.equal(o.messages[0]?.head.keepAlive, true)
      tt.equal(o.messages[0]?.body.toString(), 'hello world')
    },
  },
  11: {
    why: '"HTTP/0.9 200 OK" is neither HTTP/0.9 (which has no status line) nor HTTP/1.x (RFC 9112 §2.3)',
    check: (tt, o) => tt.equal(o.error?.reason, 'unsupported http version'),
  },
  23: {
    why: 'a 101 switches protocols right after its head (RFC 9110 §15.2.2); its Content-Length describes nothing. llhttp agrees (SOURCE.md)',
    check: (tt, o) => {
      tt.equal(o.state, 'upgraded')
      tt.equal(o.upgradeRest?.toString(), 'bodyproto', 'everything after the head belongs to the new protocol')
    },
  },
  24: {
    why: 'a 101 switches protocols right after its head (RFC 9110 §15.2.2), even with Transfer-Encoding. llhttp agrees',
    check: (tt, o) => {
      tt.equal(o.state, 'upgraded')
      tt.equal(o.upgradeRest?.toString(), '2\r\nbo\r\n2\r\ndy\r\n0\r\n\r\nproto')
    },
  },
}

/** response-errors.json vectors we decide differently, by input. */
const DELIBERATE_ERRORS: Record<string, { why: string; check: (t: Test, o: Outcome) => void }> = {
  'Transfer-Encoding: anything\r\nContent-Length: 1\r\n\r\n': {
    why: 'RFC 9112 §6.3 rule 3: Transfer-Encoding overrides Content-Length; we read by TE (here: until close, chunked not final) and flag conflictingFraming so the connection is never reused',
    check: (tt, o) => {
      tt.equal(o.error, null)
      tt.equal(o.messages[0]?.head.conflictingFraming, true)
      tt.equal(o.messages[0]?.head.keepAlive, false)
      tt.equal(o.messages[0]?.head.contentLength, -1)
      tt.equal(o.state, 'body-until-close')
    },
  },
  'HTTP/1.1 200 OK\r\nContent-Length: 1844674407370955160\r\n\r\n': {
    why: 'Content-Length above Number.MAX_SAFE_INTEGER cannot be counted exactly; refused (RFC 9110 §8.6 overflow rule)',
    check: (tt, o) => tt.equal(o.error?.reason, 'content-length overflow'),
  },
  'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFE\r\n...': {
    why: 'chunk size above Number.MAX_SAFE_INTEGER cannot be counted exactly; refused (RFC 9112 §7.1 "anticipate potentially large hexadecimal numerals")',
    check: (tt, o) => tt.equal(o.error?.reason, 'chunk size overflow'),
  },
}

const dir = corpusDir('http-parser')
if (dir === null) {
  t.plan(0, corpusMissing('http-parser/'))
} else {
  const responses = JSON.parse(readFileSync(new URL('responses.json', dir), 'utf8')) as HpResponse[]
  const errors = (JSON.parse(readFileSync(new URL('response-errors.json', dir), 'utf8')) as { cases: HpError[] }).cases
  let matched = 0
  let deliberate = 0

  t.test('responses.json', async (tt) => {
    tt.equal(responses.length, 29)
    for (const r of responses) {
      tt.test(`#${r.index} ${r.name}`, (t2) => {
        const input = Buffer.from(r.raw, 'latin1')
        const { whole, mismatches } = runAllSplits(input, optionsFor(r))
        t2.same(mismatches, [], 'every 2-split parses like the whole input')
        const d = DELIBERATE[r.index]
        if (d !== undefined) {
          deliberate++
          t2.comment(`deliberate difference: ${d.why}`)
          d.check(t2, whole)
        } else {
          const diffs = differences(r, whole)
          t2.same(diffs, [], 'matches http-parser')
          if (diffs.length === 0) matched++
        }
        t2.end()
      })
    }
  })

  t.test('three responses back to back', (tt) => {
    // test_multiple3 in test.c: only responses that end by framing and keep the
    // connection can be followed by another one.
    const eligible = responses.filter(
      (r) => DELIBERATE[r.index] === undefined && !r.message_complete_on_eof && r.should_keep_alive && r.upgrade === null,
    )
    tt.ok(eligible.length >= 8, `${eligible.length} eligible responses`)
    const failures: string[] = []
    for (let i = 0; i < eligible.length; i++) {
      const trio = [eligible[i]!, eligible[(i + 1) % eligible.length]!, eligible[(i + 2) % eligible.length]!]
      const input = Buffer.from(trio.map((r) => r.raw).join(''), 'latin1')
      for (const pieces of [[input], ...[1, 2, 3].map((k) => [input.subarray(0, (input.length * k) >> 2), input.subarray((input.length * k) >> 2)])]) {
        const o = run(pieces)
        if (o.messages.length !== 3 || o.error !== null) failures.push(`${trio.map((r) => r.index).join('+')}: ${o.messages.length} messages, ${o.error?.message ?? 'no error'}`)
        for (let k = 0; k < 3 && k < o.messages.length; k++) {
          const diffs = differences(trio[k]!, { ...o, upgradeRest: null, state: 'idle', error: null }, k)
          if (diffs.length > 0) failures.push(`${trio.map((r) => r.index).join('+')} message ${k}: ${diffs.join('; ')}`)
        }
      }
    }
    tt.same(failures, [], 'every trio parses as three responses')
    tt.end()
  })

  t.test('response-errors.json', (tt) => {
    tt.equal(errors.length, 20)
    for (const e of errors) {
      const input = e.input ?? e.input_repeat!.chunk.repeat(e.input_repeat!.times)
      const label = `${e.source}: ${JSON.stringify(input.slice(0, 60))} → ${e.expect}`
      const pieces = [...(e.prefix === undefined ? [] : [Buffer.from(e.prefix, 'latin1')]), Buffer.from(input, 'latin1')]
      const o = run(pieces)
      const d = DELIBERATE_ERRORS[input]
      if (d !== undefined) {
        deliberate++
        tt.comment(`deliberate difference: ${d.why}`)
        tt.test(label, (t2) => {
          d.check(t2, o)
          t2.end()
        })
        continue
      }
      if (e.prefix !== undefined) {
        const prefixOnly = run([Buffer.from(e.prefix, 'latin1')])
        tt.equal(prefixOnly.error, null, `${label}: the prefix alone parses`)
      }
      if (e.expect === 'HPE_OK') {
        tt.equal(o.error, null, label)
        matched++
      } else {
        tt.ok(o.error !== null, `${label}: refused (${o.error?.reason ?? 'accepted'})`)
        if (o.error !== null) matched++
      }
    }
    tt.end()
  })

  t.test('summary', (tt) => {
    tt.comment(`http-parser: ${matched} match, ${deliberate} deliberate, of ${responses.length + errors.length} vectors`)
    tt.equal(matched + deliberate, responses.length + errors.length, 'every vector matched or deliberately different')
    tt.end()
  })
}
