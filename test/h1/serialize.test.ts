import { Readable, Writable } from 'node:stream'
import t from 'tap'
import type { DispatchRequest } from '../../src/dispatch.js'
import { InvalidArgumentError } from '../../src/errors.js'
import { LAST_CHUNK, contentLengthOf, sendsExpectContinue, serializeHead, writeChunk, writeHead } from '../../src/h1/serialize.js'
import { dispatchRequest } from '../support/requests.js'

function req(overrides: Partial<DispatchRequest> = {}): DispatchRequest {
  return dispatchRequest({ authority: 'example.com:8080', ...overrides })
}

/** A Writable that records each write (as the socket would receive it) and each cork level change. */
class Recorder extends Writable {
  writes: Array<{ data: Buffer; encoding: string }> = []
  writevCalls = 0
  constructor(highWaterMark = 16 * 1024) {
    super({ highWaterMark, decodeStrings: false })
  }
  override _write(chunk: Buffer | string, encoding: BufferEncoding, cb: () => void): void {
    this.writes.push({ data: typeof chunk === 'string' ? Buffer.from(chunk, encoding) : chunk, encoding })
    cb()
  }
  override _writev(chunks: Array<{ chunk: Buffer | string; encoding: BufferEncoding }>, cb: () => void): void {
    this.writevCalls++
    for (const { chunk, encoding } of chunks) {
      this.writes.push({ data: typeof chunk === 'string' ? Buffer.from(chunk, encoding) : chunk, encoding })
    }
    cb()
  }
  get bytes(): string {
    return Buffer.concat(this.writes.map((w) => w.data)).toString('latin1')
  }
}

t.test('request line, host first, caller headers in order, final CRLF', async (t) => {
  const head = serializeHead(req({ path: '/a/b?c=d', headers: ['X-One', '1', 'accept', '*/*', 'x-one', '2'] }))
  t.equal(head, 'GET /a/b?c=d HTTP/1.1\r\nhost: example.com:8080\r\nX-One: 1\r\naccept: */*\r\nx-one: 2\r\n\r\n')
})

t.test('framing: content-length for known bodies, 0 for POST/PUT/PATCH without one (RFC 9110 §8.6)', async (t) => {
  t.equal(serializeHead(req({ method: 'POST', body: 'abc', bodyLength: 3 })), 'POST / HTTP/1.1\r\nhost: example.com:8080\r\ncontent-length: 3\r\n\r\n')
  for (const method of ['POST', 'PUT', 'PATCH']) {
    t.match(serializeHead(req({ method })), /\r\ncontent-length: 0\r\n\r\n$/, `${method} without body sends CL 0`)
  }
  for (const method of ['GET', 'HEAD', 'DELETE', 'OPTIONS']) {
    t.notMatch(serializeHead(req({ method })), /content-length/, `${method} without body sends no CL`)
  }
  // An empty body is no content: GET with '' sends nothing, POST with '' sends CL 0.
  t.notMatch(serializeHead(req({ body: '', bodyLength: 0 })), /content-length/)
  t.match(serializeHead(req({ method: 'POST', body: new Uint8Array(0), bodyLength: 0 })), /content-length: 0/)
  // A stale bodyLength without a body must not promise bytes.
  t.equal(contentLengthOf(req({ method: 'POST', body: null, bodyLength: 7 })), 0)
  t.match(serializeHead(req({ method: 'POST', body: null, bodyLength: 7 })), /content-length: 0\r\n/)
})

t.test('framing: chunked for streams of unknown length, content-length for declared ones', async (t) => {
  const stream = Readable.from([Buffer.from('x')])
  const chunked = serializeHead(req({ method: 'POST', body: stream, bodyLength: -1 }))
  t.match(chunked, /\r\ntransfer-encoding: chunked\r\n\r\n$/)
  t.notMatch(chunked, /content-length/)
  t.equal(contentLengthOf(req({ body: stream, bodyLength: -1 })), -1)
  t.match(serializeHead(req({ method: 'PUT', body: stream, bodyLength: 1 })), /\r\ncontent-length: 1\r\n\r\n$/)
  stream.destroy()
})

t.test('expect: 100-continue only with content (RFC 9110 §10.1.1)', async (t) => {
  const withBody = req({ method: 'PUT', body: 'abc', bodyLength: 3, expectContinue: true })
  t.equal(sendsExpectContinue(withBody), true)
  t.equal(serializeHead(withBody), 'PUT / HTTP/1.1\r\nhost: example.com:8080\r\ncontent-length: 3\r\nexpect: 100-continue\r\n\r\n')
  const empty = req({ method: 'PUT', expectContinue: true })
  t.equal(sendsExpectContinue(empty), false)
  t.notMatch(serializeHead(empty), /expect/)
})

t.test('upgrade adds connection: upgrade and upgrade (RFC 9110 §7.8)', async (t) => {
  t.equal(
    serializeHead(req({ upgrade: 'websocket', headers: ['sec-websocket-version', '13'] })),
    'GET / HTTP/1.1\r\nhost: example.com:8080\r\nsec-websocket-version: 13\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n',
  )
})

t.test('never emits CR, LF, NUL or a code unit above 0xFF', async (t) => {
  const bad: Array<[string, Partial<DispatchRequest>]> = [
    ['header value CRLF', { headers: ['x', 'a\r\nInjected: 1'] }],
    ['header value lone LF', { headers: ['x', 'a\nb'] }],
    ['header value lone CR', { headers: ['x', 'a\rb'] }],
    ['header value NUL', { headers: ['x', 'a\0b'] }],
    ['header value U+010A (latin1 would write LF)', { headers: ['x', 'a\u010Ab'] }],
    ['header name CRLF', { headers: ['x\r\ny', 'v'] }],
    ['host CRLF', { authority: '12 \r\n\r\naaa:aaa' }],
    ['path with SP', { path: '/a b' }],
    ['path CRLF', { path: '/a\r\nb' }],
    ['empty path', { path: '' }],
    ['method with SP', { method: 'GET /x' }],
    ['empty method', { method: '' }],
    ['upgrade CRLF', { upgrade: 'websocket\r\n\r\nSET pwned true' }],
    ['upgrade lone CR', { upgrade: 'websocket\rinjected' }],
    ['upgrade lone LF', { upgrade: 'websocket\ninjected' }],
    ['upgrade NUL', { upgrade: 'websocket\0injected' }],
    ['empty upgrade', { upgrade: '' }],
  ]
  for (const [name, overrides] of bad) {
    t.throws(() => serializeHead(req(overrides)), InvalidArgumentError, name)
  }
  // obs-text (0x80-0xFF) and HTAB are legal field content and pass through as latin1.
  t.match(serializeHead(req({ headers: ['x', 'caf\u00e9\tok'] })), /x: caf\u00e9\tok\r\n/)
})

t.test('writeHead: head alone, or head + in-memory body in one corked writev', async (t) => {
  const alone = new Recorder()
  t.equal(writeHead(alone, 'GET / HTTP/1.1\r\n\r\n'), true)
  t.equal(alone.writes.length, 1)
  t.equal(alone.bytes, 'GET / HTTP/1.1\r\n\r\n')

  const empty = new Recorder()
  writeHead(empty, 'H\r\n\r\n', '')
  t.equal(empty.writes.length, 1, 'an empty body adds no write')

  const withString = new Recorder()
  writeHead(withString, 'POST / HTTP/1.1\r\n\r\n', 'h\u00e9llo')
  t.equal(withString.writevCalls, 1, 'one writev for head + body')
  t.equal(withString.writes.length, 2)
  t.same(withString.writes[1]?.data, Buffer.from('h\u00e9llo', 'utf8'), 'string body goes as UTF-8')

  const payload = Buffer.from('binary')
  const withBytes = new Recorder()
  writeHead(withBytes, 'POST / HTTP/1.1\r\n\r\n', payload)
  t.equal(withBytes.writevCalls, 1)
  t.equal(withBytes.writes[1]?.data, payload, 'the payload buffer itself is written, not a copy')
})

t.test('writeChunk: size CRLF data CRLF, payload uncopied, empty chunks skipped', async (t) => {
  const out = new Recorder()
  const payload = Buffer.alloc(300, 0x61)
  t.equal(writeChunk(out, payload), true)
  t.equal(writeChunk(out, new Uint8Array(0)), true)
  out.write(LAST_CHUNK)
  t.equal(out.bytes, `12c\r\n${'a'.repeat(300)}\r\n0\r\n\r\n`)
  t.equal(out.writes[1]?.data, payload, 'payload written as its own buffer')
  t.equal(out.writevCalls, 1, 'the three pieces of a chunk are one writev')
  t.equal(LAST_CHUNK, '0\r\n\r\n')
})

t.test('writeChunk reports backpressure', async (t) => {
  const out = new Recorder(4)
  out.cork() // hold everything in the buffer
  t.equal(writeChunk(out, Buffer.alloc(64)), false)
})
