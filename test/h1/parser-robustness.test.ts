/**
 * The response-side vectors of ../shared/corpus/http1-client-robustness (undici and Node.js
 * smuggling / desync / splitting tests), at the parser level: the server's writes are fed
 * as the pieces they were written in (delays dropped), finish() is called when the server
 * ends, and the outcome is checked. What needs a connection (which request a response
 * belongs to, timers, reuse) is not decidable here; those parts are named in CONNECTION.
 */
import t from 'tap'
import type { Test } from 'tap'
import { readFileSync } from 'node:fs'
import { canonical, corpusDir, run } from './parser-harness.js'
import type { Outcome } from './parser-harness.js'
import { corpusMissing } from '../support/corpus.js'
import { prng } from '../support/prng.js'

interface Vector {
  id: string
  server_writes: (string | { delay_ms: number })[]
  server_ends_after_writes: boolean
  expect: { outcome: string; status?: number; body?: string }
}

function randomBytes(rand: () => number, n: number): Buffer {
  const b = Buffer.alloc(n)
  for (let i = 0; i < n; i++) b[i] = Math.floor(rand() * 256)
  return b
}

const header = (o: Outcome, i: number, name: string): string | undefined => {
  const raw = o.messages[i]?.head.rawHeaders ?? []
  for (let k = 0; k < raw.length; k += 2) if (raw[k]!.toLowerCase() === name) return raw[k + 1]
  return undefined
}

/**
 * Parts of vectors that only a connection can check. Not asserted here; they are listed
 * in the report for the H1Connection tests.
 */
const CONNECTION: Record<string, string> = {
  'extra-response-after-complete-response': 'an unsolicited second response must not be handed to a later request; the socket is dropped',
  'body-longer-than-content-length-keepalive': 'with pipelining, the surplus bytes fail the socket, not the next request',
  'unsolicited-response-on-idle-socket': 'bytes on an idle socket: the connection drops it and the next request uses a new one',
  'slow-chunked-heartbeat': 'headersTimeout must stop once the head arrived; bodyTimeout is per chunk',
  'unexpected-100-continue': 'policy for a 100 to a request without Expect: 100-continue (the parser reports it as an interim head)',
  'keep-alive-timeout-hint': 'the Keep-Alive: timeout= hint shortens the idle timeout',
}

type Check = (t: Test, o: Outcome) => void

const PARSER: Record<string, { request?: { method: string; upgrade: boolean }; check: Check }> = {
  'cl-and-te-chunked': {
    // Deliberate: RFC 9112 §6.3 rule 3 — TE overrides CL; we read chunked and never reuse
    // the connection. Node refuses the response instead (HPE_UNEXPECTED_CONTENT_LENGTH).
    check: (tt, o) => {
      tt.equal(o.error, null, 'deliberate: not an error, RFC 9112 §6.3 rule 3 lets TE win')
      const h = o.messages[0]?.head
      tt.equal(h?.chunked, true)
      tt.equal(h?.conflictingFraming, true, 'flagged: the connection is never reused')
      tt.equal(h?.keepAlive, false)
      tt.equal(h?.contentLength, -1)
      tt.equal(o.state, 'chunk-size', 'reading the chunked body')
    },
  },
  'cl-and-te-chunked-mixed-case': {
    check: (tt, o) => {
      tt.equal(o.messages[0]?.head.chunked, true, '"Chunked" matches case-insensitively')
      tt.equal(o.messages[0]?.head.conflictingFraming, true)
      tt.equal(o.messages[0]?.body.toString(), 'foobar')
      tt.equal(o.error?.reason, 'missing CRLF after chunk data', 'the bytes after the chunk are refused')
    },
  },
  'cr-without-lf-in-header': {
    check: (tt, o) => {
      tt.equal(o.messages.length, 0)
      tt.equal(o.error?.reason, 'bare CR')
      tt.equal(o.error?.offset, 'HTTP/1.1 200 OK\r\nFoo: Bar'.length, 'at the CR')
    },
  },
  'duplicate-content-length-different-values': {
    check: (tt, o) => {
      tt.equal(o.messages.length, 0)
      tt.equal(o.error?.reason, 'conflicting content-length')
    },
  },
  'extra-response-after-complete-response': {
    check: (tt, o) => {
      tt.equal(o.error, null)
      tt.equal(o.messages.length, 2, 'the parser sees two responses; the connection decides the second is unsolicited')
      tt.equal(o.messages[0]?.head.statusCode, 500)
      tt.equal(o.messages[0]?.body.toString(), 'hello world\r\n')
      tt.equal(o.messages[0]?.complete, true)
    },
  },
  'garbage-after-complete-response': {
    check: (tt, o) => {
      tt.equal(o.messages[0]?.head.statusCode, 302)
      tt.equal(o.messages[0]?.complete, true)
      tt.equal(o.error?.reason, 'invalid status line')
      // (offsets count from the start of the response: the garbage is the next one, issue #18)
      tt.equal(o.error?.offset, 0, 'at the first garbage byte')
    },
  },
  'not-http': {
    check: (tt, o) => {
      tt.equal(o.error?.reason, 'invalid status line')
      tt.equal(o.error?.offset, 0)
    },
  },
  'body-longer-than-content-length-keepalive': {
    check: (tt, o) => {
      tt.equal(o.messages[0]?.body.toString(), '1')
      tt.equal(o.messages[0]?.complete, true)
      tt.equal(o.error?.reason, 'invalid status line', 'the surplus is not taken as a next response')
    },
  },
  'body-longer-than-content-length-no-pipelining': {
    check: (tt, o) => {
      tt.equal(o.messages[0]?.body.toString(), '1')
      tt.equal(o.messages[0]?.complete, true)
      tt.equal(o.error?.reason, 'invalid status line')
    },
  },
  'unsolicited-response-on-idle-socket': {
    check: (tt, o) => {
      tt.equal(o.error, null)
      tt.equal(o.messages[0]?.complete, true, 'a well-formed response; rejecting it is the connection\'s job')
      tt.equal(header(o, 0, 'poison-free-socket'), 'true')
    },
  },
  'invalid-status-line-protocol': {
    check: (tt, o) => {
      tt.equal(o.error?.reason, 'invalid status line')
      tt.equal(o.error?.offset, 3, 'at "/" where "P" was due')
    },
  },
  'header-name-split-across-reads': {
    check: (tt, o) => {
      tt.equal(o.error, null)
      tt.equal(header(o, 0, 'asd'), 'asd,asd')
      tt.equal(o.messages[0]?.complete, true)
    },
  },
  'header-value-split-across-reads': {
    check: (tt, o) => {
      tt.equal(o.error, null)
      tt.equal(header(o, 0, 'asd'), 'asd,asd')
      tt.equal(o.messages[0]?.complete, true)
    },
  },
  'truncated-chunked-then-eof': {
    check: (tt, o) => {
      tt.equal(o.messages[0]?.head.statusCode, 200)
      tt.equal(o.messages[0]?.body.toString(), 'hel')
      tt.equal(o.messages[0]?.complete, false, 'never ends cleanly')
      tt.equal(o.error?.reason, 'unexpected eof')
    },
  },
  'slow-chunked-heartbeat': {
    check: (tt, o) => {
      tt.equal(o.error, null)
      tt.equal(o.messages[0]?.body.toString(), '\n\n')
      tt.equal(o.messages[0]?.bodyCalls, 2, 'each one-byte chunk delivered as it came')
      tt.equal(o.state, 'chunk-size', 'waiting for the next chunk')
    },
  },
  'content-length-larger-than-body-then-close': {
    check: (tt, o) => {
      tt.equal(o.messages[0]?.body.toString(), '123')
      tt.equal(o.messages[0]?.complete, false)
      tt.equal(o.error?.reason, 'unexpected eof')
    },
  },
  '1xx-with-body': {
    check: (tt, o) => {
      tt.equal(o.messages[0]?.head.statusCode, 103)
      tt.equal(o.messages.length, 1)
      tt.equal(o.error?.reason, 'invalid status line', 'what follows a 1xx head must be a status line')
    },
  },
  'unexpected-100-continue': {
    check: (tt, o) => {
      tt.equal(o.error, null)
      tt.equal(o.messages[0]?.head.statusCode, 100, 'reported as an interim head')
      tt.equal(o.state, 'idle', 'waiting for the final response')
    },
  },
  'unexpected-101-upgrade': {
    request: { method: 'GET', upgrade: false },
    check: (tt, o) => {
      tt.equal(o.messages[0]?.head.statusCode, 101)
      tt.equal(o.error?.reason, 'unexpected 101')
      tt.equal(o.error?.offset, 0, 'the offset of that head')
    },
  },
  'keep-alive-timeout-hint': {
    check: (tt, o) => {
      tt.equal(o.error, null)
      tt.equal(o.messages[0]?.complete, true)
      tt.equal(o.messages[0]?.head.keepAlive, true)
      tt.equal(header(o, 0, 'keep-alive'), 'timeout=2s')
      tt.equal(o.state, 'idle', 'the extra CRLF is ignored (RFC 9112 §2.2)')
    },
  },
  'connection-header-split': {
    check: (tt, o) => {
      tt.equal(o.error, null)
      tt.equal(header(o, 0, 'connection'), 'keep-alive')
      tt.equal(o.messages[0]?.head.keepAlive, true)
    },
  },
}

const dir = corpusDir('http1-client-robustness')
if (dir === null) {
  t.plan(0, corpusMissing('http1-client-robustness/'))
} else {
  const vectors = (JSON.parse(readFileSync(new URL('vectors.json', dir), 'utf8')) as { response_side: Vector[] }).response_side
  let parserLevel = 0

  for (const v of vectors) {
    if (v.id === 'fuzz-append' || v.id === 'fuzz-split') continue
    t.test(v.id, (tt) => {
      const spec = PARSER[v.id]
      if (spec === undefined) {
        tt.fail(`vector ${v.id} has no parser-level expectation`)
        return tt.end()
      }
      parserLevel++
      const pieces = v.server_writes.filter((w): w is string => typeof w === 'string').map((w) => Buffer.from(w, 'latin1'))
      const o = run(pieces, {
        finish: v.server_ends_after_writes,
        ...(spec.request === undefined ? {} : { request: spec.request }),
      })
      const whole = run([Buffer.concat(pieces)], {
        finish: v.server_ends_after_writes,
        ...(spec.request === undefined ? {} : { request: spec.request }),
      })
      tt.same(canonical(o), canonical(whole), 'the server\'s write boundaries do not change the outcome')
      if (CONNECTION[v.id] !== undefined) tt.comment(`connection-level part not tested here: ${CONNECTION[v.id]}`)
      spec.check(tt, o)
      tt.end()
    })
  }

  t.test('fuzz-append: random bytes after the status line', (tt) => {
    // undici test/fuzzing/server/server-fuzz-append-data.js: parse error or response, never a crash
    const rand = prng(0x5eed)
    let refused = 0
    for (let i = 0; i < 300; i++) {
      const tail = randomBytes(rand, 1 + Math.floor(rand() * 200))
      const input = Buffer.concat([Buffer.from('HTTP/1.1 200 OK'), tail])
      const cut = Math.floor(rand() * input.length)
      try {
        const o = run([input.subarray(0, cut), input.subarray(cut)], { finish: true })
        if (o.error !== null) refused++
      } catch (err) {
        tt.fail(`iteration ${i} threw a non-parse error: ${String(err)}`)
      }
    }
    tt.ok(refused > 250, `random tails are refused as H1ParseError (${refused}/300), nothing else is thrown`)
    tt.end()
  })

  t.test('fuzz-split: random body split at random points', (tt) => {
    // undici test/fuzzing/server/server-fuzz-split-data.js: a close-delimited body is opaque
    const rand = prng(0xb0d1)
    const head = Buffer.from('HTTP/1.1 200 OK\r\nDate: Sat, 09 Oct 2010 14:28:02 GMT\r\nConnection: close\r\n\r\n')
    const failures: string[] = []
    for (let i = 0; i < 200; i++) {
      const body = randomBytes(rand, 1 + Math.floor(rand() * 300))
      const input = Buffer.concat([head, body])
      const pieces: Buffer[] = []
      let at = 0
      while (at < input.length) {
        const n = 1 + Math.floor(rand() * 64)
        pieces.push(input.subarray(at, at + n))
        at += n
      }
      const o = run(pieces, { finish: true })
      if (o.error !== null || !o.messages[0]?.body.equals(body) || o.messages[0]?.complete !== true || o.state !== 'closed') {
        failures.push(`iteration ${i}: ${o.error?.message ?? 'body differs'}`)
      }
    }
    tt.same(failures, [], 'every random body arrives intact and ends at the close')
    tt.end()
  })

  t.test('summary', (tt) => {
    tt.comment(`robustness: ${parserLevel} vectors checked at parser level (${Object.keys(CONNECTION).length} of them also need connection tests), 2 fuzz templates`)
    tt.equal(parserLevel + 2, vectors.length, 'every response_side vector is covered')
    tt.end()
  })
}
