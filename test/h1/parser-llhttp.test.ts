/**
 * Every RESPONSE case of llhttp's markdown suite (../shared/corpus/llhttp, see its
 * SOURCE.md for the format), fed whole, at every 2-split and one byte at a time.
 * Cases where we differ from llhttp on purpose are listed in DELIBERATE with the reason;
 * for those the test asserts our behaviour instead.
 */
import t from 'tap'
import type { Test } from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { corpusDir, run, runAllSplits, trimOws } from './parser-harness.js'
import type { Outcome } from './parser-harness.js'
import { corpusMissing } from '../support/corpus.js'

interface ExpectedMessage {
  status: number
  headers: string[]
  trailers: string[]
  /** latin1 view of the UTF-8 bytes */
  body: string
  complete: boolean
}

interface Expected {
  messages: ExpectedMessage[]
  end: 'ok' | 'error' | 'upgrade'
  /** For 'upgrade': where the new protocol starts. */
  upgradeAt: number
}

interface Case {
  id: string
  type: string
  meta: { type: string; noScan?: boolean; skipBody?: boolean; pause?: string; skip?: boolean }
  input: Buffer
  expected: Expected
}

/** SOURCE.md "input decoding", steps 1–4 (no case uses step 5). */
function decodeInput(block: string): Buffer {
  let s = block.endsWith('\n') ? block.slice(0, -1) : block
  s = s.replace(/\\\n/g, '')
  s = s.replace(/\n/g, '\r\n')
  s = s.replace(/\\(r|n|t|f|x[0-9a-fA-F]{2}|[0-7]{3})/g, (_m, e: string) => {
    if (e === 'r') return '\r'
    if (e === 'n') return '\n'
    if (e === 't') return '\t'
    if (e === 'f') return '\f'
    if (e[0] === 'x') return String.fromCharCode(parseInt(e.slice(1), 16))
    return String.fromCharCode(parseInt(e, 8))
  })
  return Buffer.from(s, 'utf8')
}

/** Span text: between the first `="` and the last `"`; only \t and \f are escaped. */
function spanText(line: string): string {
  const eq = line.indexOf('="')
  if (eq === -1) {
    if (line.endsWith('=lf')) return '\n'
    if (line.endsWith('=cr')) return '\r'
    throw new Error(`unreadable span: ${line}`)
  }
  return line.slice(eq + 2, line.lastIndexOf('"')).replace(/\\t/g, '\t').replace(/\\f/g, '\f')
}

const utf8AsLatin1 = (s: string): string => Buffer.from(s, 'utf8').toString('latin1')

/** Turn an expected log into messages (those that reached "headers complete") and an end. */
function readLog(lines: string[]): Expected {
  const messages: ExpectedMessage[] = []
  let msg: (ExpectedMessage & { inTrailers: boolean; headersDone: boolean }) | null = null
  let field = ''
  let valueSpans: string[] = []
  let end: Expected['end'] = 'ok'
  let upgradeAt = -1
  for (const line of lines) {
    const m = /^off=(\d+|NULL) (.*)$/.exec(line)
    if (m === null) throw new Error(`unreadable log line: ${line}`)
    const off = m[1] === 'NULL' ? -1 : Number(m[1])
    const ev = m[2]!
    if (ev === 'message begin') {
      msg = { status: 0, headers: [], trailers: [], body: '', complete: false, inTrailers: false, headersDone: false }
      field = ''
      valueSpans = []
    } else if (ev.startsWith('len=')) {
      const name = /span\[(\w+)\]/.exec(ev)![1]!
      const text = spanText(ev)
      if (msg === null) throw new Error('span outside a message')
      if (name === 'header_field') field += text
      else if (name === 'header_value') valueSpans.push(text)
      else if (name === 'body') msg.body += utf8AsLatin1(text)
    } else if (ev === 'header_value complete') {
      // obs-fold: the pieces of a folded value are joined by one SP (RFC 9112 §5.2)
      const value = valueSpans.map(trimOws).filter((v) => v !== '').join(' ')
      msg![msg!.inTrailers ? 'trailers' : 'headers'].push(utf8AsLatin1(field), utf8AsLatin1(value))
      field = ''
      valueSpans = []
    } else if (ev.startsWith('headers complete')) {
      msg!.status = Number(/status=(\d+)/.exec(ev)![1])
      msg!.headersDone = true
      messages.push(msg!)
    } else if (ev === 'chunk header len=0') {
      msg!.inTrailers = true
    } else if (ev === 'message complete') {
      msg!.complete = true
    } else if (ev.startsWith('finish=')) {
      // llhttp_finish(): 1 = "safe with callback" (the close completes the message), 2 = unsafe
      const f = Number(ev.slice('finish='.length))
      const last = messages[messages.length - 1]
      if (f === 1 && last !== undefined) last.complete = true
      if (f === 2) end = 'error'
    } else if (ev.startsWith('error')) {
      const code = Number(/code=(\d+)/.exec(ev)![1])
      if (code === 22) {
        end = 'upgrade'
        upgradeAt = off
      } else {
        end = 'error'
      }
    }
  }
  return {
    messages: messages.map(({ status, headers, trailers, body, complete }) => ({ status, headers, trailers, body, complete })),
    end,
    upgradeAt,
  }
}

function readCases(dir: URL): Case[] {
  const cases: Case[] = []
  const files = readdirSync(new URL('test/response/', dir)).filter((f) => f.endsWith('.md')).sort()
  for (const file of files) {
    const lines = readFileSync(new URL(`test/response/${file}`, dir), 'utf8').split('\n')
    let heading = ''
    let meta: Case['meta'] | null = null
    let input: Buffer | null = null
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!
      const h = /^#{2,6} (.*)$/.exec(line)
      if (h !== null) {
        heading = h[1]!.trim()
        continue
      }
      const mm = /^<!-- meta=(.*) -->$/.exec(line)
      if (mm !== null) {
        meta = JSON.parse(mm[1]!) as Case['meta']
        continue
      }
      if (line === '```http' || line === '```log') {
        const body: string[] = []
        i++
        while (lines[i] !== '```') body.push(lines[i++]!)
        if (line === '```http') {
          input = decodeInput(body.map((l) => l + '\n').join(''))
        } else {
          if (meta === null || input === null) throw new Error(`${file}: log without meta/input at ${heading}`)
          if (meta.type.startsWith('response') && meta.skip !== true) {
            cases.push({ id: `${file}#${heading}`, type: meta.type, meta, input, expected: readLog(body) })
          }
          meta = null
          input = null
        }
      }
    }
  }
  return cases
}

/** Our outcome in the shape of an llhttp expectation. */
function ours(o: Outcome): Expected {
  return {
    messages: o.messages.map((m) => ({
      status: m.head.statusCode,
      headers: m.head.rawHeaders,
      trailers: m.trailers ?? [],
      body: m.body.toString('latin1'),
      complete: m.complete,
    })),
    end: o.error !== null ? 'error' : o.state === 'upgraded' ? 'upgrade' : 'ok',
    upgradeAt: o.state === 'upgraded' ? o.consumed : -1,
  }
}

interface Deliberate {
  /** Why we differ (RFC section / design decision). */
  why: string
  /** What we do instead; assertions on the whole-input outcome. */
  check: (t: Test, o: Outcome) => void
}

const rejects =
  (reason: string, offset?: number) =>
  (tt: Test, o: Outcome): void => {
    tt.equal(o.error?.reason, reason, `rejected: ${reason}`)
    if (offset !== undefined) tt.equal(o.error?.offset, offset, 'at the offending byte')
  }

/** One complete response before the refused byte: the data-after-close cases. */
const completeThenRejects =
  (status: number, body: string, offset: number) =>
  (tt: Test, o: Outcome): void => {
    tt.equal(o.messages.length, 1, 'one response')
    tt.equal(o.messages[0]?.head.statusCode, status)
    tt.equal(o.messages[0]?.head.keepAlive, false, 'it ends the connection')
    tt.equal(o.messages[0]?.body.toString('latin1'), body)
    tt.equal(o.messages[0]?.complete, true, 'and is complete')
    rejects('data after connection close', offset)(tt, o)
  }

const nothingThenRejects =
  (reason: string, offset: number) =>
  (tt: Test, o: Outcome): void => {
    tt.equal(o.messages.length, 0, 'no head delivered')
    rejects(reason, offset)(tt, o)
  }

/**
 * llhttp cases we decide differently, by id (file#heading). All but three are llhttp's
 * lenient modes, which we do not have: we parse one way, the strict one.
 */
const DELIBERATE: Record<string, Deliberate> = {
  'connection.md#HTTP/1.1 with keep-alive disabled, content-length (lenient)': {
    why: 'lenient-data-after-close: nothing after a response that closes the connection can answer one of our requests (RFC 9112 §9.6); we refuse it like strict llhttp',
    check: completeThenRejects(200, '2ad73', 70),
  },
  'connection.md#HTTP/1.1 with keep-alive disabled and 204 status (lenient)': {
    why: 'lenient-keep-alive: after "Connection: close" the next bytes are not a response (RFC 9112 §9.6); refused like strict llhttp',
    check: completeThenRejects(204, '', 46),
  },
  'invalid.md#Bare CR after response line (lenient)': {
    why: 'lenient-optional-lf-after-cr: a bare CR is a line-splitting vector (RFC 9112 §2.2), always refused',
    check: nothingThenRejects('bare CR', 15),
  },
  'invalid.md#Only LFs present and no body (lenient)': {
    why: 'lenient-all: bare LF line ends are refused (RFC 9112 §2.2 MAY accept; we follow strict llhttp so we never disagree with it about where a line ends)',
    check: nothingThenRejects('bare LF', 15),
  },
  'invalid.md#Only LFs present (lenient)': {
    why: 'lenient-all: bare LF line ends are refused (RFC 9112 §2.2)',
    check: nothingThenRejects('bare LF', 15),
  },
  'sample.md#No carriage ret (lenient)': {
    why: 'lenient-optional-cr-before-lf: bare LF line ends are refused (RFC 9112 §2.2)',
    check: nothingThenRejects('bare LF', 15),
  },
  'lenient-version.md#Invalid HTTP version (lenient)': {
    why: 'lenient-version: only HTTP/1.x is HTTP/1 (RFC 9112 §2.3); HTTP/5.6 is refused',
    check: nothingThenRejects('unsupported http version', 5),
  },
  'sample.md#HTTP version 0.9': {
    why: 'HTTP/0.9 has no status line or fields at all; a "HTTP/0.9 200" line is not HTTP/0.9 and not HTTP/1 (RFC 9112 §2.3, Appendix C.1)',
    check: nothingThenRejects('unsupported http version', 5),
  },
  'sample.md#RTSP response': {
    why: 'RTSP is not HTTP: an HTTP client must not accept another protocol\'s status line (RFC 9112 §4)',
    check: nothingThenRejects('invalid status line', 0),
  },
  'sample.md#ICE response': {
    why: 'ICE is not HTTP: an HTTP client must not accept another protocol\'s status line (RFC 9112 §4)',
    check: nothingThenRejects('invalid status line', 0),
  },
}

const dir = corpusDir('llhttp')
if (dir === null) {
  t.plan(0, corpusMissing('llhttp/'))
} else {
  const cases = readCases(dir)
  t.ok(cases.length >= 80, `read ${cases.length} response cases`)
  let matched = 0
  let deliberate = 0
  for (const c of cases) {
    const options = {
      // skipBody: llhttp's answer to a HEAD request; a 101 switches (we asked for it).
      request: { method: c.meta.skipBody === true ? 'HEAD' : 'GET', upgrade: true },
      finish: c.type.endsWith('-finish'),
      bytewise: c.input.length <= 1024,
    }
    t.test(c.id, (tt) => {
      const d = DELIBERATE[c.id]
      const { whole, mismatches } =
        c.meta.noScan === true ? { whole: run([c.input], options), mismatches: [] } : runAllSplits(c.input, options)
      tt.same(mismatches, [], 'every split parses like the whole input')
      if (d !== undefined) {
        deliberate++
        tt.comment(`deliberate difference (${c.type}): ${d.why}`)
        d.check(tt, whole)
      } else {
        const got = ours(whole)
        tt.same(got, c.expected, `matches llhttp (${c.type})`)
        if (JSON.stringify(got) === JSON.stringify(c.expected)) matched++
      }
      tt.end()
    })
  }
  t.test('summary', (tt) => {
    tt.comment(`llhttp: ${matched} match, ${deliberate} deliberate, of ${cases.length} response cases`)
    tt.equal(matched + deliberate, cases.length, 'every case is matched or deliberately different')
    tt.equal(Object.keys(DELIBERATE).filter((id) => !cases.some((c) => c.id === id)).length, 0, 'no stale DELIBERATE ids')
    tt.end()
  })
}
