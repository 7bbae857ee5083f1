/**
 * One conformance suite for every transport (as hono runs one `common.case.test.ts` against
 * every router): request/response behaviours written once, as data plus small functions
 * (their shape is in case.ts), and run by `run.ts` against HTTP/1.1, HTTP/2 over TLS (ALPN
 * h2), h2c and the pool over both.
 *
 * A case has a server side (`serve`, written against the request/response API that
 * `node:http` and `node:http2`'s compatibility layer share) and a client side (`request`
 * options, or `run` when the case must act mid-exchange), and says exactly what the client
 * must see: status, headers, body bytes, trailers and 1xx responses, or the error class and
 * its `code` and the stage (before or after the response head) it arrived at.
 *
 * Where HTTP/1.1 and HTTP/2 legitimately differ, `expect` is a `{ 'http/1.1', h2 }` pair and
 * `differs` says why: the difference is data, never a skipped case.
 *
 * Synchronisation is by rendezvous (`ctx.reach(name)` on one side, `await ctx.reached(name)`
 * on the other), never by sleeping. The only clocks are the timeouts under test.
 */
import type { OutgoingHttpHeaders } from 'node:http'
import { Readable } from 'node:stream'
import { brotliCompressSync, gzipSync } from 'node:zlib'
import {
  AbortedError,
  BodyIncompleteError,
  BodyTimeoutError,
  ErrorCode,
  H1ParseError,
  H2ProtocolError,
  H2StreamResetError,
  HeadersTimeoutError,
  type DispatchHandler,
  type HeaderRecord,
  type PoolRequestOptions,
} from '../../src/index.js'
import { prng } from '../support/prng.js'
import {
  requestOutcome,
  sha256,
  type Case,
  type Client,
  type ExpectResponse,
  type Outcome,
  type ServerReply,
  type ServerRequest,
} from './case.js'

// ── fixtures ─────────────────────────────────────────────────────────────────────────────

const MiB = 1024 * 1024

function randomBytes(length: number, seed: number): Buffer {
  const next = prng(seed)
  const out = Buffer.allocUnsafe(length)
  for (let i = 0; i < length; i++) out[i] = (next() * 256) | 0
  return out
}

/** 1 MiB from a fixed seed. Its hash is written out, not computed, so the check stands on its own. */
const ONE_MIB = randomBytes(MiB, 12)
const ONE_MIB_SHA256 = 'ef26de5e821f55ce8b977c47cf38594ac2715d17bd798723d86bebff6d5d97ca'

const GZIP_TEXT = 'gzip: the same line again. '.repeat(200)
const BR_TEXT = 'br: the same line again. '.repeat(200)

/** Read a request body whole. */
async function readBody(req: ServerRequest): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk)
  return Buffer.concat(chunks)
}

/**
 * The server's report of a request body: its framing fields as received (`none` when
 * absent) and its bytes echoed back.
 */
async function echo(req: ServerRequest, res: ServerReply): Promise<void> {
  const body = await readBody(req)
  res.writeHead(200, {
    'x-method': req.method ?? '',
    'x-content-length': req.headers['content-length'] ?? 'none',
    'x-transfer-encoding': req.headers['transfer-encoding'] ?? 'none',
    'content-length': body.length,
  })
  res.end(body)
}

/** The echo's response head for `body` sent with `contentLength` / `transferEncoding` framing. */
function echoed(method: string, body: string, contentLength: string, transferEncoding: string): ExpectResponse {
  return {
    status: 200,
    headers: {
      'x-method': method,
      'x-content-length': contentLength,
      'x-transfer-encoding': transferEncoding,
      'content-length': String(Buffer.byteLength(body)),
    },
    body,
  }
}

const STREAMED_CHUNKS = ['stre', 'amed ', 'requ', 'est body']
const STREAMED = STREAMED_CHUNKS.join('')

async function* asyncChunks(): AsyncGenerator<Uint8Array> {
  for (const chunk of STREAMED_CHUNKS) yield Buffer.from(chunk)
}

/** A handler that records its calls, for the `dispatch()` cases. */
function recordingHandler(done: (trace: string[]) => void, trace: string[] = []): DispatchHandler {
  let bytes = 0
  const flushData = (): void => {
    if (bytes > 0) trace.push(`data ${bytes}`)
    bytes = 0
  }
  return {
    onConnect(_abort, info) {
      trace.push(`connect ${info.protocol}`)
    },
    onInformational(status) {
      trace.push(`informational ${status}`)
    },
    onHeaders(status, headers) {
      trace.push(`headers ${status} ${String(headers['content-type'])}`)
    },
    onData(chunk) {
      bytes += chunk.byteLength
    },
    onTrailers(trailers) {
      flushData()
      trace.push(`trailers ${JSON.stringify(trailers)}`)
    },
    onComplete() {
      flushData()
      trace.push('complete')
      done(trace)
    },
    onError(err) {
      flushData()
      trace.push(`error ${err.code}`)
      done(trace)
    },
  }
}

function dispatchTrace(client: Client, options: PoolRequestOptions, adjust?: (handler: DispatchHandler) => void): Promise<Outcome> {
  return new Promise((resolve) => {
    const handler = recordingHandler((trace) => resolve({ kind: 'trace', trace }))
    adjust?.(handler)
    client.dispatch(options, handler)
  })
}

/** Wrap a handler method: the recording one runs, then `after` with its result, and `after`'s result is returned. */
function wrap<K extends 'onHeaders' | 'onData' | 'onConnect'>(handler: DispatchHandler, key: K, after: (result: unknown, ...args: Parameters<NonNullable<DispatchHandler[K]>>) => unknown): void {
  const inner = handler[key] as (...args: unknown[]) => unknown
  ;(handler as unknown as Record<string, unknown>)[key] = (...args: Parameters<NonNullable<DispatchHandler[K]>>) => after(inner.apply(handler, args), ...args)
}

const HUGE_VALUE = 'v'.repeat(2048)

// ── the cases ────────────────────────────────────────────────────────────────────────────

const LIMITED_HEADERS = 16

/** The protocol the upgrade case asks for (the runner grants it). */
export const UPGRADE_PROTOCOL = 'x-shout'

const HEADER_COUNT_DIFFERS =
  'the limit counts the fields of the head as received: on HTTP/1.1 the header lines (the status line is not one), on HTTP/2 the field block, :status included (RFC 9113 §8.3.2)'

/**
 * A response head of `count` fields as the client counts them. On HTTP/1.1 the case writes
 * `connection` itself, so node:http adds neither it nor Keep-Alive; on HTTP/2 `:status` is the
 * extra field. Either way the fields the client reports (hop-by-hop aside) are content-length
 * and x-h1… x-h(count - 2).
 */
function limitedHeaders(count: number, req: ServerRequest): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = { 'content-length': 0 }
  for (let i = 1; i < count - 1; i++) headers[`x-h${i}`] = String(i)
  if (req.httpVersion !== '2.0') headers['connection'] = 'keep-alive'
  return headers
}

function limitedHeaderRecord(count: number): HeaderRecord {
  const record: HeaderRecord = { 'content-length': '0' }
  for (let i = 1; i < count - 1; i++) record[`x-h${i}`] = String(i)
  return record
}

export const cases: readonly Case[] = [
  // Bodies
  {
    name: 'empty body with content-length: 0',
    rfc: 'RFC 9110 §8.6',
    serve(_req, res) {
      res.writeHead(200, { 'content-length': 0 })
      res.end()
    },
    expect: { status: 200, headers: { 'content-length': '0' }, body: '' },
  },
  {
    name: 'small body with content-length',
    rfc: 'RFC 9110 §8.6',
    serve(_req, res) {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 5 })
      res.end('hello')
    },
    expect: { status: 200, headers: { 'content-type': 'text/plain', 'content-length': '5' }, body: 'hello' },
  },
  {
    name: 'body without content-length, written in parts',
    rfc: 'RFC 9112 §7.1 (chunked) / RFC 9113 §8.1 (DATA until END_STREAM)',
    serve(_req, res) {
      res.writeHead(200, { 'content-type': 'text/plain' })
      res.write('ab', () => res.end('cd'))
    },
    expect: { status: 200, headers: { 'content-type': 'text/plain' }, body: 'abcd' },
  },
  {
    name: '1 MiB response body arrives byte for byte',
    rfc: 'RFC 9110 §6.4',
    serve(_req, res) {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': MiB })
      res.end(ONE_MIB)
    },
    expect: {
      status: 200,
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(MiB) },
      body: { length: MiB, sha256: ONE_MIB_SHA256 },
    },
  },
  {
    name: '1 MiB request body from a Buffer',
    rfc: 'RFC 9110 §8.6',
    async serve(req, res) {
      const body = await readBody(req)
      res.writeHead(200, { 'x-content-length': req.headers['content-length'] ?? 'none', 'content-length': 64 })
      res.end(sha256(body))
    },
    request: { method: 'PUT', body: ONE_MIB },
    expect: { status: 200, headers: { 'x-content-length': String(MiB), 'content-length': '64' }, body: ONE_MIB_SHA256 },
  },
  {
    name: 'string request body goes as UTF-8 with its byte length',
    rfc: 'RFC 9110 §8.6',
    serve: echo,
    request: { method: 'POST', body: 'héllo wörld ✓' },
    expect: echoed('POST', 'héllo wörld ✓', String(Buffer.byteLength('héllo wörld ✓')), 'none'),
  },
  {
    name: 'streamed request body from a Readable',
    rfc: 'RFC 9112 §6.1 / RFC 9113 §8.1',
    differs: 'HTTP/1.1 frames a body of unknown length with chunked coding (RFC 9112 §7.1); HTTP/2 has no transfer-encoding, DATA frames end at END_STREAM (RFC 9113 §8.2.2)',
    serve: echo,
    request: () => ({ method: 'POST', body: Readable.from(STREAMED_CHUNKS.map((c) => Buffer.from(c))) }),
    expect: { 'http/1.1': echoed('POST', STREAMED, 'none', 'chunked'), h2: echoed('POST', STREAMED, 'none', 'none') },
  },
  {
    name: 'streamed request body from an async iterable',
    rfc: 'RFC 9112 §6.1 / RFC 9113 §8.1',
    differs: 'as for a Readable: chunked on HTTP/1.1, DATA frames on HTTP/2',
    serve: echo,
    request: () => ({ method: 'POST', body: asyncChunks() }),
    expect: { 'http/1.1': echoed('POST', STREAMED, 'none', 'chunked'), h2: echoed('POST', STREAMED, 'none', 'none') },
  },
  {
    name: 'streamed request body with a declared content-length',
    rfc: 'RFC 9110 §8.6',
    serve: echo,
    request: () => ({ method: 'POST', headers: { 'content-length': String(STREAMED.length) }, body: asyncChunks() }),
    expect: echoed('POST', STREAMED, String(STREAMED.length), 'none'),
  },
  {
    name: 'Uint8Array request body (not a Buffer)',
    rfc: 'RFC 9110 §8.6',
    serve: echo,
    request: () => ({ method: 'POST', body: new Uint8Array([0x62, 0x79, 0x74, 0x65, 0x73]) }),
    expect: echoed('POST', 'bytes', '5', 'none'),
  },
  {
    name: 'dispatch(): a handler that pauses on every callback still gets every byte',
    rfc: 'API.md "Low-level" (backpressure: return false, then resume())',
    serve(_req, res) {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': MiB })
      res.end(ONE_MIB)
    },
    run: (client) =>
      dispatchTrace(client, {}, (handler) => {
        // Pause at the head and after every chunk; resume on the next turn of the event loop.
        let resume: () => void = () => {}
        wrap(handler, 'onHeaders', (_result, _status, _headers, r) => {
          resume = r
          setImmediate(resume)
          return false
        })
        wrap(handler, 'onData', () => {
          setImmediate(resume)
          return false
        })
      }),
    expect: {
      'http/1.1': { trace: ['connect http/1.1', 'headers 200 application/octet-stream', `data ${MiB}`, 'complete'] },
      h2: { trace: ['connect h2', 'headers 200 application/octet-stream', `data ${MiB}`, 'complete'] },
    },
    differs: 'onConnect names the protocol the request went on',
  },

  // Status line and connection reuse
  {
    name: 'the reason phrase is HTTP/1.1 only',
    rfc: 'RFC 9112 §4 / RFC 9113 §8.3.2',
    differs: 'HTTP/1.1 carries a reason phrase in the status line; HTTP/2 has only the :status pseudo-header, so statusText is empty',
    serve(_req, res) {
      res.writeHead(200, { 'content-length': 0 })
      res.end()
    },
    expect: {
      'http/1.1': { status: 200, statusText: 'OK', headers: { 'content-length': '0' }, body: '' },
      h2: { status: 200, statusText: '', headers: { 'content-length': '0' }, body: '' },
    },
  },
  {
    name: 'a second request reuses the connection of the first',
    rfc: 'RFC 9112 §9.3 (persistence) / RFC 9113 §9.1 (one connection per origin)',
    serve(_req, res) {
      res.writeHead(200, { 'content-length': 2 })
      res.end('ok')
    },
    async run(client) {
      const first = await client.request()
      await first.body.bytes()
      const second = await client.request()
      await second.body.bytes()
      return {
        kind: 'trace',
        trace: [
          `first reused=${String(first.connection.reused)}`,
          `second reused=${String(second.connection.reused)} same connection=${String(second.connection.id === first.connection.id)}`,
        ],
      }
    },
    expect: { trace: ['first reused=false', 'second reused=true same connection=true'] },
  },

  // Trailers
  {
    name: 'trailers after the body',
    rfc: 'RFC 9110 §6.5',
    differs: 'framing only: a trailer section after the last chunk (RFC 9112 §7.1.2) or a HEADERS frame with END_STREAM (RFC 9113 §8.1); what the client sees is the same',
    serve(_req, res) {
      res.writeHead(200, { 'content-type': 'text/plain', trailer: 'x-checksum' })
      res.write('body')
      res.addTrailers({ 'x-checksum': 'abc123' })
      res.end()
    },
    expect: {
      status: 200,
      headers: { 'content-type': 'text/plain', trailer: 'x-checksum' },
      body: 'body',
      trailers: { 'x-checksum': 'abc123' },
    },
  },
  {
    name: 'dispatch(): handler calls in order, trailers included',
    rfc: 'API.md "Low-level"',
    serve(_req, res) {
      res.writeHead(200, { 'content-type': 'text/plain', trailer: 'x-checksum' })
      res.write('body')
      res.addTrailers({ 'x-checksum': 'abc123' })
      res.end()
    },
    run: (client) => dispatchTrace(client, {}),
    expect: {
      'http/1.1': { trace: ['connect http/1.1', 'headers 200 text/plain', 'data 4', 'trailers {"x-checksum":"abc123"}', 'complete'] },
      h2: { trace: ['connect h2', 'headers 200 text/plain', 'data 4', 'trailers {"x-checksum":"abc123"}', 'complete'] },
    },
    differs: 'onConnect names the protocol the request went on',
  },

  // 1xx
  {
    name: 'expect: 100-continue holds the body until the 100',
    rfc: 'RFC 9110 §10.1.1, §15.2.1',
    async serve(req, res, ctx) {
      // Called from the server's checkContinue listener: the server sends no 100 on its own.
      ctx.reach('100 sent')
      res.writeContinue()
      await echo(req, res)
    },
    // The body is produced when the client first reads it, and says whether the 100 had been
    // sent by then: a client that does not wait sends 'early: no 100' instead.
    request: (ctx) => ({
      method: 'PUT',
      headers: { expect: '100-continue', 'content-length': '13' },
      body: new Readable({
        read() {
          this.push(ctx.has('100 sent') ? 'after the 100' : 'early: no 100')
          this.push(null)
        },
      }),
    }),
    expect: { ...echoed('PUT', 'after the 100', '13', 'none'), informational: [{ status: 100, headers: {} }] },
  },
  {
    name: '103 Early Hints before the response',
    rfc: 'RFC 8297',
    serve(_req, res) {
      res.writeEarlyHints({ link: '</style.css>; rel=preload; as=style' })
      res.writeHead(200, { 'content-length': 2 })
      res.end('ok')
    },
    expect: {
      status: 200,
      headers: { 'content-length': '2' },
      body: 'ok',
      informational: [{ status: 103, headers: { link: '</style.css>; rel=preload; as=style' } }],
    },
  },

  // Responses without content
  {
    name: 'HEAD: no body even with a content-length',
    rfc: 'RFC 9110 §9.3.2, RFC 9112 §6.3 rule 1',
    serve(_req, res) {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 5 })
      res.end()
    },
    request: { method: 'HEAD' },
    expect: { status: 200, headers: { 'content-type': 'text/plain', 'content-length': '5' }, body: '' },
  },
  {
    name: '204 No Content has no body',
    rfc: 'RFC 9110 §15.3.5',
    serve(_req, res) {
      res.writeHead(204, { 'x-reason': 'nothing' })
      res.end()
    },
    request: { method: 'DELETE' },
    expect: { status: 204, headers: { 'x-reason': 'nothing' }, body: '' },
  },
  {
    name: '304 Not Modified has no body',
    rfc: 'RFC 9110 §15.4.5',
    serve(req, res) {
      res.writeHead(req.headers['if-none-match'] === '"v1"' ? 304 : 200, { etag: '"v1"' })
      res.end()
    },
    request: { headers: { 'if-none-match': '"v1"' } },
    expect: { status: 304, headers: { etag: '"v1"' }, body: '' },
  },

  // Aborts
  {
    name: 'aborted before the response head',
    rfc: 'API.md "Errors" (WP_ABORTED)',
    serve(_req, _res, ctx) {
      ctx.reach('received')
    },
    async run(client, ctx) {
      const controller = new AbortController()
      const pending = requestOutcome(client, { signal: controller.signal })
      await ctx.reached('received')
      controller.abort()
      return pending
    },
    expect: { error: AbortedError, code: ErrorCode.ABORTED, stage: 'headers' },
  },
  {
    name: 'aborted mid-body',
    rfc: 'API.md "Errors" (WP_ABORTED)',
    serve(_req, res) {
      res.writeHead(200, { 'content-length': 10 })
      res.write('abc')
    },
    async run(client) {
      const controller = new AbortController()
      const res = await client.request({ signal: controller.signal })
      const iterator = res.body[Symbol.asyncIterator]()
      const first = await iterator.next()
      if (first.done === true || String(first.value) !== 'abc') throw new Error('expected the first 3 bytes')
      controller.abort()
      try {
        await iterator.next()
      } catch (error) {
        return { kind: 'error', stage: 'body', error }
      }
      throw new Error('the body went on after the abort')
    },
    expect: { error: AbortedError, code: ErrorCode.ABORTED, stage: 'body' },
  },
  {
    name: "dispatch(): onConnect's abort() before the head",
    rfc: 'API.md "Low-level" (onConnect abort)',
    serve(_req, _res, ctx) {
      ctx.reach('received')
    },
    run: (client, ctx) =>
      dispatchTrace(client, {}, (handler) => {
        wrap(handler, 'onConnect', (_result, abort) => {
          ctx.reached('received').then(() => abort(), () => {})
        })
      }),
    expect: {
      'http/1.1': { trace: ['connect http/1.1', 'error WP_ABORTED'] },
      h2: { trace: ['connect h2', 'error WP_ABORTED'] },
    },
    differs: 'onConnect names the protocol the request went on',
  },

  // Timeouts
  {
    name: 'headers timeout',
    rfc: 'API.md "Options" headersTimeout',
    serve() {
      // Never answers.
    },
    request: { headersTimeout: 40 },
    expect: { error: HeadersTimeoutError, code: ErrorCode.HEADERS_TIMEOUT, stage: 'headers' },
  },
  {
    name: 'body timeout',
    rfc: 'API.md "Options" bodyTimeout',
    serve(_req, res) {
      res.writeHead(200, { 'content-length': 10 })
      res.write('abc')
    },
    request: { bodyTimeout: 40 },
    expect: { error: BodyTimeoutError, code: ErrorCode.BODY_TIMEOUT, stage: 'body' },
  },

  // Server failures
  {
    name: 'server resets mid-body',
    rfc: 'RFC 9112 §8 (incomplete message) / RFC 9113 §6.4',
    differs:
      'HTTP/1.1 can only close the connection, which cuts the content-length body: an incomplete message (RFC 9112 §8), WP_BODY_INCOMPLETE with the bytes that arrived; HTTP/2 resets the stream (RST_STREAM, the connection lives on)',
    serve(_req, res) {
      res.writeHead(200, { 'content-length': 10 })
      res.write('abc', () => res.reset())
    },
    expect: {
      'http/1.1': { error: BodyIncompleteError, code: ErrorCode.BODY_INCOMPLETE, stage: 'body' },
      h2: { error: H2StreamResetError, code: ErrorCode.H2_STREAM_RESET, stage: 'body' },
    },
  },

  // Content codings
  {
    name: 'gzip body is decoded',
    rfc: 'RFC 9110 §8.4.1.3',
    serve(req, res) {
      const body = gzipSync(GZIP_TEXT)
      res.writeHead(200, { 'content-encoding': 'gzip', 'x-accept-encoding': req.headers['accept-encoding'] ?? 'none', 'content-length': body.length })
      res.end(body)
    },
    expect: {
      status: 200,
      // Decoded: content-encoding and content-length described the wire bytes and are removed (as fetch does).
      headers: { 'x-accept-encoding': 'gzip, deflate, br' },
      body: GZIP_TEXT,
    },
  },
  {
    name: 'br body is decoded',
    rfc: 'RFC 9110 §8.4.1, RFC 7932',
    serve(_req, res) {
      const body = brotliCompressSync(BR_TEXT)
      res.writeHead(200, { 'content-encoding': 'br', 'content-length': body.length })
      res.end(body)
    },
    expect: {
      status: 200,
      headers: {},
      body: BR_TEXT,
    },
  },

  // Header lists
  {
    name: `a response head of exactly maxHeaderCount (${LIMITED_HEADERS}) fields is accepted`,
    rfc: 'API.md "Options" maxHeaderCount',
    pool: { maxHeaderCount: LIMITED_HEADERS },
    serve(req, res) {
      res.writeHead(200, limitedHeaders(LIMITED_HEADERS, req))
      res.end()
    },
    // The count is reached differently (see limitedHeaders) but what arrives is the same.
    expect: { status: 200, headers: limitedHeaderRecord(LIMITED_HEADERS), body: '' },
  },
  {
    name: `a response head of maxHeaderCount + 1 fields fails the request`,
    rfc: 'API.md "Options" maxHeaderCount; RFC 9113 §10.5.1',
    pool: { maxHeaderCount: LIMITED_HEADERS },
    differs: `${HEADER_COUNT_DIFFERS}. Over the limit, HTTP/1.1 fails parsing the head; HTTP/2 fails the stream (ENHANCE_YOUR_CALM)`,
    serve(req, res) {
      res.writeHead(200, limitedHeaders(LIMITED_HEADERS + 1, req))
      res.end()
    },
    expect: {
      'http/1.1': { error: H1ParseError, code: ErrorCode.H1_PARSE, stage: 'headers' },
      h2: { error: H2ProtocolError, code: ErrorCode.H2_PROTOCOL, stage: 'headers' },
    },
  },
  {
    name: 'a 2 KiB header value is within the default limits',
    rfc: 'API.md "Options" maxHeaderSize (default 16 KiB)',
    serve(_req, res) {
      res.writeHead(200, { 'x-big': HUGE_VALUE, 'content-length': 0 })
      res.end()
    },
    expect: { status: 200, headers: { 'x-big': HUGE_VALUE, 'content-length': '0' }, body: '' },
  },
  {
    name: 'a response head over maxHeaderSize fails the request',
    rfc: 'API.md "Options" maxHeaderSize; RFC 9113 §6.5.2 SETTINGS_MAX_HEADER_LIST_SIZE',
    pool: { maxHeaderSize: 1024 },
    differs: 'HTTP/1.1 fails parsing the head; HTTP/2 fails the stream (ENHANCE_YOUR_CALM, the field list is over the size the client advertised)',
    serve(_req, res) {
      res.writeHead(200, { 'x-big': HUGE_VALUE, 'content-length': 0 })
      res.end()
    },
    expect: {
      'http/1.1': { error: H1ParseError, code: ErrorCode.H1_PARSE, stage: 'headers' },
      h2: { error: H2ProtocolError, code: ErrorCode.H2_PROTOCOL, stage: 'headers' },
    },
  },
  {
    name: 'response header names lowercase; repeats and set-cookie are arrays',
    rfc: 'RFC 9110 §5.1 (case-insensitive names), §5.3 (repeats), RFC 6265 §3 (set-cookie never folds)',
    serve(_req, res) {
      res.setHeader('X-Mixed-Case', 'Value Kept')
      res.setHeader('Set-Cookie', ['a=1; Path=/', 'b=2'])
      res.setHeader('X-Repeat', ['1', '2'])
      res.setHeader('X-Single-Cookie-Check', 'one')
      res.writeHead(200, { 'content-length': 0 })
      res.end()
    },
    expect: {
      status: 200,
      headers: {
        'x-mixed-case': 'Value Kept',
        'set-cookie': ['a=1; Path=/', 'b=2'],
        'x-repeat': ['1', '2'],
        'x-single-cookie-check': 'one',
        'content-length': '0',
      },
      body: '',
    },
  },
  {
    name: 'one set-cookie is still an array',
    rfc: 'src/dispatch.ts HeaderRecord: set-cookie always is an array',
    serve(_req, res) {
      res.setHeader('Set-Cookie', 'only=1')
      res.writeHead(200, { 'content-length': 0 })
      res.end()
    },
    expect: { status: 200, headers: { 'set-cookie': ['only=1'], 'content-length': '0' }, body: '' },
  },

  // Upgrades
  {
    name: 'upgrade: a tunnel after the switch',
    rfc: 'RFC 9110 §7.8, §15.2.2 / RFC 8441 §4',
    differs: 'HTTP/1.1 switches the whole connection with 101 Switching Protocols; HTTP/2 carries the tunnel on one stream, an extended CONNECT answered 200 (101 is forbidden there, RFC 9113 §8.6)',
    serve(_req, res) {
      res.writeHead(400, { 'content-length': 0 })
      res.end()
    },
    upgraded(tunnel) {
      tunnel.onData((chunk) => tunnel.write(chunk.toString('latin1').toUpperCase()))
      tunnel.onEnd(() => tunnel.end())
    },
    run: (client) =>
      new Promise((resolve) => {
        const trace: string[] = []
        const handler = recordingHandler(() => resolve({ kind: 'trace', trace }), trace)
        handler.onUpgrade = (status, headers, socket) => {
          trace.push(`upgrade ${status} ${String(headers['upgrade'] ?? '-')}`)
          let echoed = ''
          socket.setEncoding('latin1')
          socket.on('data', (text: string) => (echoed += text))
          socket.on('end', () => {
            trace.push(`tunnel ${echoed}`)
            socket.destroy()
            resolve({ kind: 'trace', trace })
          })
          socket.on('error', (err) => {
            trace.push(`tunnel error ${err.message}`)
            resolve({ kind: 'trace', trace })
          })
          // An HTTP/1.1 socket is handed over paused, so that no byte is emitted before its new
          // owner listens (src/h1/connection.ts); a 'data' listener alone does not restart it.
          socket.resume()
          socket.end('ping')
        }
        client.dispatch({ upgrade: UPGRADE_PROTOCOL }, handler)
      }),
    expect: {
      'http/1.1': { trace: ['connect http/1.1', `upgrade 101 ${UPGRADE_PROTOCOL}`, 'tunnel PING'] },
      h2: { trace: ['connect h2', 'upgrade 200 -', 'tunnel PING'] },
    },
  },
]
