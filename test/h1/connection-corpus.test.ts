/**
 * The response_side vectors of ../shared/corpus/http1-client-robustness (transcribed from
 * undici's and Node's tests): a raw loopback server replays each vector's bytes, with its
 * pauses, and H1Connection must do what the reference clients do — reject, complete, and
 * never reuse a socket that carried something wrong. Where we deliberately differ, the
 * vector's entry in DEVIATIONS says how and why.
 */
import { readFileSync } from 'node:fs'
import type * as net from 'node:net'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import {
  BodyTimeoutError,
  BodyIncompleteError,
  H1ParseError,
  HeadersTimeoutError,
  WirepoolError,
} from '../../src/errors.js'
import { onRequestHeads, rawServer } from '../support/servers.js'
import { type Connected, type Recording, collect, connect, req } from './connection-helpers.js'
import { prng } from '../support/prng.js'
import { corpusMissing, corpusUrl } from '../support/corpus.js'

interface Vector {
  id: string
  request: { method: string; path: string; pipelining?: number; requests?: number }
  server_writes: Array<string | { delay_ms: number }>
  server_ends_after_writes: boolean
  expect: {
    outcome: string
    node_code?: string
    undici_error?: string
    status?: number
    headers?: Record<string, string>
    body?: string
    keep_alive?: boolean
  }
}

const corpusPath = fileURLToPath(corpusUrl('http1-client-robustness/vectors.json'))
const skip = corpusMissing('http1-client-robustness/vectors.json') ?? false

/** Pauses in the vectors are scaled down: they only need to split reads, not to take seconds. */
const DELAY_SCALE = 0.2
/** Per-request timeouts: long enough for every scaled pause, short enough that nothing hangs. */
const TIMEOUT_MS = 300

/**
 * Vectors checked by hand rather than by their generic outcome.
 *
 * Where wirepool deliberately does something else than the reference client:
 * - unexpected-100-continue: RFC 9110 §15.2 says a client MUST be able to parse 1xx it did
 *   not expect, so a stray 100 is delivered to onInformational and we keep waiting for the
 *   final response (undici fails the socket instead). Here none comes: the headers timeout.
 * - cl-and-te-chunked: Content-Length + Transfer-Encoding is read by Transfer-Encoding and the
 *   connection is retired, never reused (RFC 9112 §6.3 rule 3; node rejects outright). The
 *   vector sends no chunk, so the request ends by body timeout.
 * - garbage-after-complete-response: the vector's own alternative: the 302 (Content-Length: 0)
 *   completes, then the trailing bytes are a malformed unsolicited response that drops the
 *   connection.
 *
 * Where the vector's outcome needs reading:
 * - slow-chunked-heartbeat: the body never ends (no last chunk, no close), so the request
 *   ends by body timeout; the point is that the headers timeout, shorter than the whole
 *   exchange, never fires once the head is in.
 */
const SPECIAL: Record<string, (t: Test, r: Recording[], c: Connected) => Promise<void> | void> = {
  'unexpected-100-continue'(t, [r]) {
    t.same(r?.informational.map(([status]) => status), [100], '100 delivered as interim')
    t.type(r?.error, HeadersTimeoutError)
  },
  'cl-and-te-chunked'(t, [r], c) {
    t.equal(r?.status, 200, 'head delivered')
    t.type(r?.error, BodyTimeoutError, 'body framed by chunked: still waiting for the first chunk')
    t.ok(c.events.includes('draining:response had both Content-Length and Transfer-Encoding'), 'retired')
  },
  async 'garbage-after-complete-response'(t, [r], c) {
    t.equal(r?.status, 302)
    t.equal(r?.error, undefined)
    t.type(await c.closed, H1ParseError, 'connection dropped, never reused')
  },
  'slow-chunked-heartbeat'(t, [r]) {
    t.equal(r?.status, 200)
    t.equal(r?.body.toString(), '\n\n', 'both heartbeat chunks delivered')
    t.type(r?.error, BodyTimeoutError, 'not HeadersTimeoutError')
  },
}

async function play(socket: net.Socket, writes: Vector['server_writes'], end: boolean): Promise<void> {
  for (const item of writes) {
    if (socket.destroyed) return
    if (typeof item === 'string') socket.write(Buffer.from(item, 'latin1'))
    else await new Promise((resolve) => setTimeout(resolve, item.delay_ms * DELAY_SCALE))
  }
  if (end && !socket.destroyed) socket.end()
}

/** Serve `writes` once `requests` request heads arrived; run the requests; wait for every outcome. */
async function run(
  t: Test,
  writes: Vector['server_writes'],
  end: boolean,
  options: { requests?: number; pipelining?: number; method?: string; before?: string } = {},
): Promise<{ results: Recording[]; c: Connected }> {
  const requests = options.requests ?? 1
  const srv = await rawServer(t, (socket) => {
    onRequestHeads(socket, (_head, i) => {
      if (i === 0 && options.before !== undefined) {
        // A normal exchange first (the vector's bytes come after it, with nothing in flight).
        socket.write(options.before, () => setTimeout(() => void play(socket, writes, end), 10))
        return
      }
      if (i + 1 === requests) void play(socket, writes, end)
    })
  })
  const c = await connect(t, srv.port, { pipelining: options.pipelining ?? 1 })
  const calls = []
  for (let i = 0; i < requests; i++) {
    const call = collect()
    c.conn.dispatch(req({ method: options.method ?? 'GET', headersTimeout: TIMEOUT_MS, bodyTimeout: TIMEOUT_MS }), call.handler)
    calls.push(call)
  }
  const results = await Promise.all(calls.map((call) => call.done))
  for (const r of results) {
    t.equal(r.events.filter((e) => e === 'complete' || e === 'error').length, 1, 'exactly one terminal callback')
    t.notOk(r.events.some((e) => e.startsWith('late:')), 'nothing after it')
  }
  return { results, c }
}

t.test('response_side vectors', { skip }, async (t) => {
  const corpus = JSON.parse(readFileSync(corpusPath, 'utf8')) as { response_side: Vector[] }
  const vectors = corpus.response_side.filter((v) => !v.id.startsWith('fuzz-'))
  t.ok(vectors.length >= 20, `${vectors.length} vectors`)
  for (const v of vectors) {
    await t.test(v.id, async (t) => {
      const parserError = v.expect.node_code?.startsWith('HPE_') === true || v.expect.undici_error === 'HTTPParserError'
      const options = {
        requests: v.request.requests ?? 1,
        pipelining: v.request.pipelining ?? 1,
        method: v.request.method,
        ...(v.id === 'unsolicited-response-on-idle-socket' ? { before: 'HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n' } : {}),
      }
      const { results, c } = await run(t, v.server_writes, v.server_ends_after_writes, options)
      const [first] = results
      const special = SPECIAL[v.id]
      if (special !== undefined) {
        await special(t, results, c)
        return
      }
      switch (v.expect.outcome) {
        case 'error': {
          if (v.id === 'body-longer-than-content-length-keepalive') {
            // The surplus after Content-Length: 1 must not become request 2's response.
            t.equal(first?.body.toString(), '1')
            t.type(results[1]?.error, H1ParseError)
            t.equal(results[1]?.status, undefined)
          } else {
            t.type(first?.error, WirepoolError)
            if (parserError || v.expect.undici_error === 'SocketError') t.type(first?.error, H1ParseError)
          }
          t.ok((await c.closed) instanceof WirepoolError, 'connection closed with the error')
          break
        }
        case 'response': {
          t.equal(first?.error, undefined, 'no error')
          if (v.expect.status !== undefined) t.equal(first?.status, v.expect.status)
          for (const [name, value] of Object.entries(v.expect.headers ?? {})) t.equal(first?.headers?.[name], value, name)
          if (v.expect.body !== undefined) t.equal(first?.body.toString('latin1'), v.expect.body)
          if (v.id === 'extra-response-after-complete-response') {
            t.type(await c.closed, H1ParseError, 'the unsolicited second response drops the connection')
          }
          if (v.id === 'keep-alive-timeout-hint') t.equal(c.conn.idleTimeoutHint, 2000, 'timeout=2s read as 2000 ms')
          if (v.expect.keep_alive === true) t.equal(c.conn.retired, false, 'kept alive')
          break
        }
        case 'headers-then-body-error': {
          if (v.expect.status !== undefined) t.equal(first?.status, v.expect.status)
          t.ok(first?.events.includes('headers'), 'headers delivered')
          // A malformed body is a parse error; one cut short by the close an incomplete body (RFC 9112 §8).
          t.ok(first?.error instanceof H1ParseError || first?.error instanceof BodyIncompleteError, 'the body errors, never ends cleanly')
          break
        }
        case 'response-then-error': {
          t.equal(first?.error, undefined)
          t.equal(first?.body.toString('latin1'), v.expect.body)
          t.type(await c.closed, H1ParseError, 'then the connection fails')
          break
        }
        case 'client-disconnects': {
          t.equal(first?.status, 200, 'the real response')
          t.equal(first?.headers?.['poison-free-socket'], undefined)
          t.type(await c.closed, H1ParseError, 'the poisoned socket is dropped')
          t.throws(() => c.conn.dispatch(req(), collect().handler), 'and takes no further request')
          break
        }
        default:
          t.fail(`unknown outcome ${v.expect.outcome}`)
      }
    })
  }
})

function randomLatin1(rand: () => number, length: number): string {
  let s = ''
  for (let i = 0; i < length; i++) {
    // Bias towards the bytes that matter to an HTTP parser.
    const r = rand()
    s += r < 0.3 ? ('\r\n: \t0;'[Math.floor(rand() * 7)] as string) : String.fromCharCode(Math.floor(rand() * 256))
  }
  return s
}

t.test('fuzz-append: random tails after the status line never crash or hang', { skip }, async (t) => {
  const rand = prng(0x5eed)
  for (let i = 0; i < 25; i++) {
    const tail = randomLatin1(rand, Math.floor(rand() * 80))
    await t.test(`seed case ${i}`, async (t) => {
      const { results } = await run(t, [`HTTP/1.1 200 OK${tail}`], true)
      const r = results[0]
      t.ok(r?.error === undefined || r.error instanceof WirepoolError, `outcome: ${r?.error?.code ?? 'response'}`)
    })
  }
})

t.test('fuzz-split: a close-delimited body split at random points arrives intact', { skip }, async (t) => {
  const rand = prng(0xc0ffee)
  const head = 'HTTP/1.1 200 OK\r\nDate: Sat, 09 Oct 2010 14:28:02 GMT\r\nConnection: close\r\n\r\n'
  for (let i = 0; i < 25; i++) {
    const body = randomLatin1(rand, 1 + Math.floor(rand() * 200))
    const writes: Vector['server_writes'] = [head]
    let at = 0
    while (at < body.length) {
      const n = 1 + Math.floor(rand() * 40)
      writes.push(body.slice(at, at + n), { delay_ms: 1 })
      at += n
    }
    await t.test(`seed case ${i}`, async (t) => {
      const { results, c } = await run(t, writes, true)
      t.equal(results[0]?.error, undefined)
      t.equal(results[0]?.body.toString('latin1'), body)
      t.equal(await c.closed, undefined)
    })
  }
})
