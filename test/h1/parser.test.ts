/**
 * Unit tests for ResponseParser: one group per rule of RFC 9112 it enforces, every error
 * reason with its offset (whole input and every 2-split must agree), limits, upgrade,
 * HEAD, 1xx, obs-fold, Content-Length lists, overflow, trailers and state names.
 */
import t from 'tap'
import type { Test } from 'tap'
import { H1ParseError, InvalidArgumentError } from '../../src/errors.js'
import { MAX_CHUNK_LINE, ParseReason, ParserState, ResponseParser } from '../../src/h1/parser.js'
import { Framing } from '../../src/h1/parser-events.js'
import type { ResponseHead, ResponseParserHandler } from '../../src/h1/parser-events.js'
import { bytewise, run, runAllSplits } from './parser-harness.js'
import type { Outcome, RunOptions } from './parser-harness.js'

const bytes = (s: string): Buffer => Buffer.from(s, 'latin1')
const parse = (input: string | string[], options?: RunOptions): Outcome =>
  run((Array.isArray(input) ? input : [input]).map(bytes), options)

/** Whole input and every 2-split and byte-at-a-time feeding give the same outcome. */
function consistent(tt: Test, input: string, options: RunOptions = {}): Outcome {
  const { whole, mismatches } = runAllSplits(bytes(input), { ...options, bytewise: true })
  tt.same(mismatches, [], 'same outcome at every split')
  return whole
}

function rejects(tt: Test, input: string, reason: string, offset: number, options: RunOptions = {}): Outcome {
  const o = consistent(tt, input, options)
  tt.equal(o.error?.reason, reason, `refused: ${reason}`)
  tt.equal(o.error?.offset, offset, `at byte ${offset}`)
  return o
}

const only = (o: Outcome): ResponseHead => {
  if (o.messages.length !== 1) throw new Error(`expected one message, got ${o.messages.length}: ${o.error?.message}`)
  return o.messages[0]!.head
}

const OK = 'HTTP/1.1 200 OK\r\n'

t.test('status line (RFC 9112 §4)', async (t) => {
  t.test('version, code and reason', (tt) => {
    const h = only(consistent(tt, 'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n'))
    tt.equal(h.statusCode, 404)
    tt.equal(h.statusText, 'Not Found')
    tt.equal(h.versionMinor, 1)
    const h0 = only(consistent(tt, 'HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n'))
    tt.equal(h0.versionMinor, 0)
    tt.end()
  })
  t.test('a higher HTTP/1 minor version is processed as 1.1 (RFC 9110 §6.2)', (tt) => {
    tt.equal(only(consistent(tt, 'HTTP/1.7 200 OK\r\nContent-Length: 0\r\n\r\n')).versionMinor, 1)
    tt.end()
  })
  t.test('missing reason, empty reason, reason with SP/HTAB/obs-text kept as sent', (tt) => {
    tt.equal(only(consistent(tt, 'HTTP/1.1 301\r\nContent-Length: 0\r\n\r\n')).statusText, '')
    tt.equal(only(consistent(tt, 'HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n')).statusText, '')
    tt.equal(only(consistent(tt, 'HTTP/1.1 200  a\tb \xe9 \r\nContent-Length: 0\r\n\r\n')).statusText, ' a\tb \xe9 ')
    tt.end()
  })
  t.test('status codes 100–999 are accepted', (tt) => {
    tt.equal(only(consistent(tt, 'HTTP/1.1 599 X\r\nContent-Length: 0\r\n\r\n')).statusCode, 599)
    tt.equal(only(consistent(tt, 'HTTP/1.1 999 X\r\nContent-Length: 0\r\n\r\n')).statusCode, 999)
    tt.end()
  })
  t.test('refused', (tt) => {
    rejects(tt, 'HTTPS/1.1 200 OK\r\n\r\n', ParseReason.INVALID_STATUS_LINE, 4)
    rejects(tt, 'http/1.1 200 OK\r\n\r\n', ParseReason.INVALID_STATUS_LINE, 0)
    rejects(tt, 'HTTP/1\r\n\r\n', ParseReason.INVALID_STATUS_LINE, 5)
    rejects(tt, 'HTTP/1.x 200 OK\r\n\r\n', ParseReason.INVALID_STATUS_LINE, 5)
    rejects(tt, 'HTTP/1.1\r\n\r\n', ParseReason.INVALID_STATUS_LINE, 8)
    rejects(tt, 'HTTP/1.1\t200 OK\r\n\r\n', ParseReason.INVALID_STATUS_LINE, 8)
    rejects(tt, 'HTTP/2.0 200 OK\r\n\r\n', ParseReason.UNSUPPORTED_VERSION, 5)
    rejects(tt, 'HTTP/0.9 200 OK\r\n\r\n', ParseReason.UNSUPPORTED_VERSION, 5)
    rejects(tt, 'HTTP/1.1  200 OK\r\n\r\n', ParseReason.INVALID_STATUS_CODE, 9)
    rejects(tt, 'HTTP/1.1 20 OK\r\n\r\n', ParseReason.INVALID_STATUS_CODE, 11)
    rejects(tt, 'HTTP/1.1 20\r\n\r\n', ParseReason.INVALID_STATUS_CODE, 11)
    rejects(tt, 'HTTP/1.1 2000 OK\r\n\r\n', ParseReason.INVALID_STATUS_CODE, 12)
    rejects(tt, 'HTTP/1.1 099 OK\r\n\r\n', ParseReason.INVALID_STATUS_CODE, 9)
    rejects(tt, 'HTTP/1.1 200 O\x01K\r\n\r\n', ParseReason.INVALID_REASON_PHRASE, 14)
    rejects(tt, 'HTTP/1.1 200 O\x7fK\r\n\r\n', ParseReason.INVALID_REASON_PHRASE, 14)
    rejects(tt, 'HTTP/1.1 200 O\x00K\r\n\r\n', ParseReason.INVALID_REASON_PHRASE, 14)
    rejects(tt, 'HTTP/1.1 200 OK\rX: y\r\n\r\n', ParseReason.BARE_CR, 15)
    rejects(tt, 'HTTP/1.1 200 OK\n\r\n', ParseReason.BARE_LF, 15)
    rejects(tt, '\nHTTP/1.1 200 OK\r\n\r\n', ParseReason.BARE_LF, 0)
    rejects(tt, '\rHTTP/1.1 200 OK\r\n\r\n', ParseReason.INVALID_STATUS_LINE, 0)
    tt.end()
  })
  t.test('garbage is refused before its line ends (trickled bytes)', (tt) => {
    const o = parse(['HT', 'X'])
    tt.equal(o.error?.reason, ParseReason.INVALID_STATUS_LINE)
    tt.equal(o.error?.offset, 2)
    tt.equal(parse(['HTTP/1.1 2']).error, null, 'a good prefix waits for more')
    tt.end()
  })
})

t.test('empty lines before a status line are skipped (RFC 9112 §2.2)', (tt) => {
  const o = consistent(tt, '\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n')
  tt.equal(o.messages.length, 2)
  tt.equal(o.error, null)
  const p = new ResponseParser(noopHandler())
  p.execute(bytes('\r'))
  tt.equal(p.state, ParserState.STATUS_LINE, 'a lone CR is buffered')
  tt.equal(p.idle, false)
  p.execute(bytes('\n'))
  tt.equal(p.state, ParserState.IDLE, 'and forgotten with its LF')
  tt.equal(p.idle, true)
  tt.end()
})

t.test('field lines (RFC 9112 §5)', async (t) => {
  t.test('names keep their case, values lose surrounding OWS', (tt) => {
    const h = only(consistent(tt, OK + 'X-Mixed-Case: \t a  b \t\r\nEmpty:\r\nEmpty2: \t \r\nContent-Length: 0\r\n\r\n'))
    tt.same(h.rawHeaders, ['X-Mixed-Case', 'a  b', 'Empty', '', 'Empty2', '', 'Content-Length', '0'])
    tt.end()
  })
  t.test('obs-text is kept as latin1, tchar names', (tt) => {
    const h = only(consistent(tt, OK + "x!#$%&'*+-.^_`|~09AZaz: caf\xe9 \xff\r\nContent-Length: 0\r\n\r\n"))
    tt.same(h.rawHeaders.slice(0, 2), ["x!#$%&'*+-.^_`|~09AZaz", 'caf\xe9 \xff'])
    tt.end()
  })
  t.test('obs-fold is replaced by one SP (RFC 9112 §5.2)', (tt) => {
    const h = only(
      consistent(
        tt,
        OK + 'A: one \r\n two\r\n\t three \r\nB:\r\n  folded-into-empty\r\nC: x\r\n   \r\nContent-Length: 0\r\n\r\n',
      ),
    )
    tt.same(h.rawHeaders, ['A', 'one two three', 'B', 'folded-into-empty', 'C', 'x', 'Content-Length', '0'])
    tt.end()
  })
  t.test('a folded Content-Length is read after unfolding', (tt) => {
    const h = only(consistent(tt, OK + 'Content-Length:\r\n 3\r\n\r\nabc'))
    tt.equal(h.contentLength, 3)
    tt.end()
  })
  t.test('refused', (tt) => {
    const at = OK.length
    rejects(tt, OK + 'Foo : bar\r\n\r\n', ParseReason.INVALID_HEADER_NAME, at + 3)
    rejects(tt, OK + ': bar\r\n\r\n', ParseReason.INVALID_HEADER_NAME, at)
    rejects(tt, OK + 'Foo\r\n\r\n', ParseReason.INVALID_HEADER_NAME, at + 3)
    rejects(tt, OK + 'Fo(o: bar\r\n\r\n', ParseReason.INVALID_HEADER_NAME, at + 2)
    rejects(tt, OK + 'Fo\ro: bar\r\n\r\n', ParseReason.INVALID_HEADER_NAME, at + 2)
    rejects(tt, OK + '\rFoo: bar\r\n\r\n', ParseReason.INVALID_HEADER_NAME, at)
    rejects(tt, OK + 'Foo: b\x00r\r\n\r\n', ParseReason.INVALID_HEADER_VALUE, at + 6)
    rejects(tt, OK + 'Foo: b\x01r\r\n\r\n', ParseReason.INVALID_HEADER_VALUE, at + 6)
    rejects(tt, OK + 'Foo: b\x7fr\r\n\r\n', ParseReason.INVALID_HEADER_VALUE, at + 6)
    rejects(tt, OK + 'Foo: b\rr\r\n\r\n', ParseReason.BARE_CR, at + 6)
    rejects(tt, OK + 'Foo: bar\nBaz: 1\r\n\r\n', ParseReason.BARE_LF, at + 8)
    rejects(tt, OK + 'Foo: bar\r\n\n', ParseReason.BARE_LF, at + 10)
    rejects(tt, OK + 'Foo: bar\r\n x\x0by\r\n\r\n', ParseReason.INVALID_HEADER_VALUE, at + 12)
    rejects(tt, OK + 'Foo: bar\r\n x\ry\r\n\r\n', ParseReason.BARE_CR, at + 12)
    rejects(tt, OK + ' Foo: bar\r\n\r\n', ParseReason.WHITESPACE_BEFORE_FIRST_FIELD, at)
    rejects(tt, OK + '\tFoo: bar\r\n\r\n', ParseReason.WHITESPACE_BEFORE_FIRST_FIELD, at)
    tt.end()
  })
})

t.test('Content-Length (RFC 9110 §8.6, RFC 9112 §6.3)', async (t) => {
  t.test('body of exactly that length, then the next response', (tt) => {
    const o = consistent(tt, OK + 'Content-Length: 5\r\n\r\nhello' + OK + 'Content-Length: 0\r\n\r\n')
    tt.equal(o.messages.length, 2)
    tt.equal(o.messages[0]?.body.toString(), 'hello')
    tt.equal(o.messages[0]?.head.contentLength, 5)
    tt.equal(o.messages[1]?.complete, true)
    tt.equal(o.state, ParserState.IDLE)
    tt.end()
  })
  t.test('identical lists and repeated identical fields are one value', (tt) => {
    tt.equal(only(consistent(tt, OK + 'Content-Length: 3, 3,3\r\n\r\nabc')).contentLength, 3)
    tt.equal(only(consistent(tt, OK + 'Content-Length: 3\r\ncontent-length: 003\r\n\r\nabc')).contentLength, 3)
    tt.equal(only(consistent(tt, OK + 'Content-Length:\t3\t\r\n\r\nabc')).contentLength, 3)
    tt.end()
  })
  t.test('up to Number.MAX_SAFE_INTEGER', (tt) => {
    const o = parse(OK + 'Content-Length: 9007199254740991\r\n\r\n')
    tt.equal(o.messages[0]?.head.contentLength, Number.MAX_SAFE_INTEGER)
    tt.equal(o.state, ParserState.BODY_LENGTH)
    tt.end()
  })
  t.test('refused', (tt) => {
    const at = OK.length
    for (const bad of ['', 'abc', '-1', '+1', '1 2', '0x10', '1.0', '1,', ',1', '1,,1', '١']) {
      rejects(tt, OK + `Content-Length: ${bad}\r\n\r\n`, ParseReason.INVALID_CONTENT_LENGTH, at)
    }
    rejects(tt, OK + 'Content-Length: 9007199254740992\r\n\r\n', ParseReason.CONTENT_LENGTH_OVERFLOW, at)
    rejects(tt, OK + 'Content-Length: 99999999999999999999\r\n\r\n', ParseReason.CONTENT_LENGTH_OVERFLOW, at)
    rejects(tt, OK + 'Content-Length: 1, 2\r\n\r\n', ParseReason.CONFLICTING_CONTENT_LENGTH, at)
    rejects(tt, OK + 'X: y\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n', ParseReason.CONFLICTING_CONTENT_LENGTH, at + 25)
    tt.end()
  })
})

t.test('Transfer-Encoding (RFC 9112 §6.1, §6.3, §7.1)', async (t) => {
  const TE = OK + 'Transfer-Encoding: chunked\r\n\r\n'
  t.test('chunked body with extensions, hex sizes and trailers', (tt) => {
    const o = consistent(
      tt,
      TE + 'A\r\n0123456789\r\n5;a=b;c="q \\" ;x";d ; e = f\r\nhello\r\n00 ;last\r\nExpires: never\r\n  folded\r\nX-T: 1\r\n\r\n',
    )
    const m = o.messages[0]!
    tt.equal(m.head.chunked, true)
    tt.equal(m.head.contentLength, -1)
    tt.equal(m.body.toString(), '0123456789hello')
    tt.same(m.trailers, ['Expires', 'never folded', 'X-T', '1'])
    tt.equal(m.complete, true)
    tt.equal(o.state, ParserState.IDLE)
    tt.end()
  })
  t.test('no trailers: onTrailers is not called', (tt) => {
    const m = consistent(tt, TE + '1\r\nx\r\n0\r\n\r\n').messages[0]!
    tt.equal(m.trailers, null)
    tt.equal(m.complete, true)
    tt.end()
  })
  t.test('codings: chunked must be final; several fields form one list; case-insensitive', (tt) => {
    const h1 = only(consistent(tt, OK + 'Transfer-Encoding: gzip, CHUNKED\r\n\r\n0\r\n\r\n'))
    tt.equal(h1.chunked, true)
    const h2 = only(consistent(tt, OK + 'Transfer-Encoding: gzip\r\nTransfer-Encoding: ,chunked,\r\n\r\n0\r\n\r\n'))
    tt.equal(h2.chunked, true)
    const o3 = consistent(tt, OK + 'Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n', { finish: true })
    tt.equal(o3.messages[0]?.head.chunked, false, 'chunked not final: read until close (RFC 9112 §6.3 rule 4)')
    tt.equal(o3.messages[0]?.head.keepAlive, false)
    tt.equal(o3.messages[0]?.body.toString(), '0\r\n\r\n')
    tt.equal(o3.state, ParserState.CLOSED)
    const o4 = consistent(tt, OK + 'Transfer-Encoding: \r\n\r\nabc', { finish: true })
    tt.equal(o4.messages[0]?.body.toString(), 'abc', 'an empty coding list is not chunked')
    const h5 = only(consistent(tt, OK + 'Transfer-Encoding: chunked\xa0\r\n\r\n'))
    tt.equal(h5.chunked, false, 'only SP/HTAB are trimmed: chunked\\xA0 is another coding')
    tt.end()
  })
  t.test('Content-Length and Transfer-Encoding: TE wins, conflictingFraming, no reuse', (tt) => {
    const o = consistent(tt, OK + 'Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n')
    const h = o.messages[0]!.head
    tt.equal(h.conflictingFraming, true)
    tt.equal(h.chunked, true)
    tt.equal(h.contentLength, -1)
    tt.equal(h.keepAlive, false)
    tt.equal(o.messages[0]!.body.toString(), 'hello')
    tt.equal(o.state, ParserState.CLOSED, 'nothing may follow')
    rejects(tt, OK + 'Content-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nX', ParseReason.DATA_AFTER_CLOSE, 71)
    tt.end()
  })
  t.test('HTTP/1.0 with Transfer-Encoding closes after the message (RFC 9112 §6.1)', (tt) => {
    const o = consistent(tt, 'HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n')
    tt.equal(o.messages[0]?.head.keepAlive, false)
    tt.equal(o.state, ParserState.CLOSED)
    tt.end()
  })
  t.test('chunk sizes up to Number.MAX_SAFE_INTEGER', (tt) => {
    const o = parse(TE + '1fffffffffffff\r\nabc')
    tt.equal(o.error, null)
    tt.equal(o.state, ParserState.CHUNK_DATA)
    tt.equal(o.messages[0]?.body.toString(), 'abc')
    tt.end()
  })
  t.test('refused', (tt) => {
    const at = TE.length
    rejects(tt, OK + 'Transfer-Encoding: chunked, chunked\r\n\r\n', ParseReason.CHUNKED_TWICE, OK.length)
    rejects(tt, OK + 'Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n', ParseReason.CHUNKED_TWICE, OK.length + 28)
    rejects(tt, TE + 'x\r\n', ParseReason.INVALID_CHUNK_SIZE, at)
    rejects(tt, TE + '\r\n', ParseReason.INVALID_CHUNK_SIZE, at)
    rejects(tt, TE + '-5\r\n', ParseReason.INVALID_CHUNK_SIZE, at)
    rejects(tt, TE + '5 \r\nhello\r\n', ParseReason.INVALID_CHUNK_SIZE, at + 1)
    rejects(tt, TE + '5 x\r\nhello\r\n', ParseReason.INVALID_CHUNK_SIZE, at + 2)
    rejects(tt, TE + '5\n', ParseReason.BARE_LF, at + 1)
    rejects(tt, TE + '20000000000000\r\n', ParseReason.CHUNK_SIZE_OVERFLOW, at + 13)
    rejects(tt, TE + 'ffffffffffffffffffff\r\n', ParseReason.CHUNK_SIZE_OVERFLOW, at + 13)
    rejects(tt, TE + '5;\r\n', ParseReason.INVALID_CHUNK_EXTENSION, at + 2)
    rejects(tt, TE + '5;a=\r\n', ParseReason.INVALID_CHUNK_EXTENSION, at + 4)
    rejects(tt, TE + '5;a=b c\r\n', ParseReason.INVALID_CHUNK_EXTENSION, at + 6)
    rejects(tt, TE + '5;a \r\n', ParseReason.INVALID_CHUNK_EXTENSION, at + 3)
    rejects(tt, TE + '5;a="x\r\n', ParseReason.INVALID_CHUNK_EXTENSION, at + 6)
    rejects(tt, TE + '5;a="\x01"\r\n', ParseReason.INVALID_CHUNK_EXTENSION, at + 5)
    rejects(tt, TE + '5;a="\\\x01"\r\n', ParseReason.INVALID_CHUNK_EXTENSION, at + 6)
    rejects(tt, TE + '5;a="\\\r\n', ParseReason.INVALID_CHUNK_EXTENSION, at + 6)
    rejects(tt, TE + '5\r\nhelloX', ParseReason.MISSING_CHUNK_CRLF, at + 8)
    rejects(tt, TE + '5\r\nhello\rX', ParseReason.MISSING_CHUNK_CRLF, at + 9)
    rejects(tt, TE + '5\r\nhello\n', ParseReason.MISSING_CHUNK_CRLF, at + 8)
    rejects(tt, TE + '0\r\n x: y\r\n\r\n', ParseReason.WHITESPACE_BEFORE_FIRST_FIELD, at + 3)
    rejects(tt, TE + '0\r\nx : y\r\n\r\n', ParseReason.INVALID_HEADER_NAME, at + 4)
    tt.end()
  })
  t.test('chunk-size line limit', (tt) => {
    const ext = ';e=' + 'v'.repeat(MAX_CHUNK_LINE)
    rejects(tt, TE + '5' + ext + '\r\nhello\r\n', ParseReason.CHUNK_LINE_TOO_LARGE, TE.length + MAX_CHUNK_LINE)
    const fits = ';e=' + 'v'.repeat(MAX_CHUNK_LINE - 6)
    tt.equal(parse(TE + '5' + fits + '\r\nhello\r\n0\r\n\r\n').error, null, 'a line of exactly the limit is fine')
    tt.end()
  })
})

t.test('bodies delimited by the close (RFC 9112 §6.3 rule 8)', (tt) => {
  const o = consistent(tt, OK + 'X: y\r\n\r\nsome bytes\r\n\r\nHTTP/1.1 200 OK', { finish: true })
  const m = o.messages[0]!
  tt.equal(m.head.keepAlive, false, 'keepAlive is false for them')
  tt.equal(m.head.contentLength, -1)
  tt.equal(m.body.toString(), 'some bytes\r\n\r\nHTTP/1.1 200 OK')
  tt.equal(m.complete, true, 'finish() completes it')
  tt.equal(o.state, ParserState.CLOSED)
  const open = parse(OK + '\r\nabc')
  tt.equal(open.messages[0]?.complete, false, 'not complete before the close')
  tt.equal(open.state, ParserState.BODY_UNTIL_CLOSE)
  tt.end()
})

t.test('responses without a body', async (t) => {
  t.test('204 and 304 ignore their framing fields (RFC 9112 §6.3 rule 1)', (tt) => {
    const o = consistent(
      tt,
      'HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\nHTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n' +
        OK +
        'Content-Length: 1\r\n\r\nx',
    )
    tt.same(
      o.messages.map((m) => [m.head.statusCode, m.body.toString(), m.complete, m.head.keepAlive]),
      [
        [204, '', true, true],
        [304, '', true, true],
        [200, 'x', true, true],
      ],
    )
    tt.equal(o.messages[0]?.head.contentLength, 10, 'the declared length is still reported')
    tt.end()
  })
  t.test('HEAD: no body whatever the framing fields say', (tt) => {
    const none = { request: { method: 'HEAD', upgrade: false } }
    const o = consistent(tt, OK + 'Content-Length: 1000\r\n\r\n' + OK + 'Transfer-Encoding: chunked\r\n\r\n' + OK + 'X: y\r\n\r\n', none)
    tt.equal(o.messages.length, 3)
    tt.ok(o.messages.every((m) => m.complete && m.body.length === 0), 'three complete, empty responses')
    tt.equal(o.messages[2]?.head.keepAlive, true, 'no Content-Length does not mean close-delimited for HEAD')
    tt.equal(o.state, ParserState.IDLE)
    const closing = consistent(tt, OK + 'Connection: close\r\n\r\n', none)
    tt.equal(closing.messages[0]?.head.keepAlive, false)
    tt.equal(closing.state, ParserState.CLOSED)
    tt.end()
  })
})

t.test('1xx interim responses (RFC 9110 §15.2)', async (t) => {
  t.test('100, 102 and 103 are followed by the final response', (tt) => {
    const o = consistent(
      tt,
      'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n' +
        'HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\nConnection: close\r\n\r\n' +
        OK +
        'Content-Length: 2\r\n\r\nok',
    )
    tt.same(
      o.messages.map((m) => m.head.statusCode),
      [100, 102, 103, 200],
    )
    tt.same(o.messages[2]?.head.rawHeaders, ['Link', '</a.css>; rel=preload', 'Connection', 'close'])
    tt.equal(o.messages[3]?.body.toString(), 'ok')
    tt.equal(o.state, ParserState.IDLE, 'a close on an interim response does not end the stream')
    tt.end()
  })
  t.test('a 1xx never has a body: what follows must be a status line', (tt) => {
    // (issue #18: the offset counts from the start of the response after the interim one)
    rejects(tt, 'HTTP/1.1 100 Continue\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n\r\n', ParseReason.INVALID_STATUS_LINE, 0)
    tt.end()
  })
  t.test('the parser is idle between an interim and the final head', (tt) => {
    const p = new ResponseParser(noopHandler())
    p.execute(bytes('HTTP/1.1 100 Continue\r\n\r\n'))
    tt.equal(p.state, ParserState.IDLE)
    tt.end()
  })
})

t.test('upgrade (RFC 9110 §15.2.2, §7.8)', async (t) => {
  const head = 'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n'
  t.test('execute returns the offset after the head; the rest is the new protocol', (tt) => {
    const o = consistent(tt, head + '\x81\x05hello')
    tt.equal(o.state, ParserState.UPGRADED)
    tt.equal(o.consumed, head.length)
    tt.equal(o.upgradeRest?.toString('latin1'), '\x81\x05hello')
    tt.equal(o.messages[0]?.head.upgrade, true)
    tt.equal(o.messages[0]?.head.keepAlive, true)
    tt.end()
  })
  t.test('head split over chunks: the offset is within the last chunk', (tt) => {
    const p = new ResponseParser(handlerWith({}))
    p.expectResponse('GET', true)
    tt.equal(p.execute(bytes(head.slice(0, 20))), 20)
    tt.equal(p.execute(bytes(head.slice(20) + 'XYZ')), head.length - 20)
    tt.equal(p.execute(bytes('more')), 0, 'nothing more is consumed')
    p.finish()
    tt.equal(p.state, ParserState.UPGRADED, 'finish() is a no-op after an upgrade')
    tt.end()
  })
  t.test('a 2xx to CONNECT also stops (RFC 9112 §6.3 rule 2)', (tt) => {
    const o = consistent(tt, OK + '\r\ntunnel bytes', { request: { method: 'CONNECT', upgrade: false } })
    tt.equal(o.state, ParserState.UPGRADED)
    tt.equal(o.upgradeRest?.toString(), 'tunnel bytes')
    tt.equal(o.messages[0]?.complete, false, 'onMessageComplete is not called for an upgrade')
    tt.end()
  })
  t.test('a 101 the driver did not ask for is refused', (tt) => {
    // (an empty line before a status line is not part of the response: the offset counts from the status line)
    rejects(tt, '\r\n' + head, ParseReason.UNEXPECTED_101, 0, { request: { method: 'GET', upgrade: false } })
    rejects(tt, head, ParseReason.UNEXPECTED_101, 0, { request: { method: 'HEAD', upgrade: false } })
    tt.end()
  })
})

t.test('the request a response answers decides its framing (expectResponse, RFC 9112 §6.3)', async (t) => {
  const HEAD = { request: { method: 'HEAD', upgrade: false } }
  const CONNECT = { request: { method: 'CONNECT', upgrade: false } }
  t.test('HEAD with Content-Length: no body, persistent, framing NONE', (tt) => {
    const o = consistent(tt, OK + 'Content-Length: 5\r\n\r\n' + OK + 'Content-Length: 0\r\n\r\n', HEAD)
    tt.equal(o.messages.length, 2, 'the next response starts right after the head')
    tt.equal(o.messages[0]?.head.framing, Framing.NONE)
    tt.equal(o.messages[0]?.head.contentLength, 5, 'the declared length is still reported')
    tt.equal(o.messages[0]?.body.length, 0)
    tt.equal(o.messages[0]?.head.keepAlive, true)
    tt.equal(o.state, ParserState.IDLE)
    tt.end()
  })
  t.test('HEAD without any length: not close-delimited; HTTP/1.0 still needs keep-alive', (tt) => {
    tt.equal(only(consistent(tt, OK + '\r\n', HEAD)).keepAlive, true)
    tt.equal(only(consistent(tt, 'HTTP/1.0 200 OK\r\n\r\n', HEAD)).keepAlive, false)
    tt.equal(only(consistent(tt, 'HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n', HEAD)).keepAlive, true)
    tt.end()
  })
  t.test('204 and 304: framing NONE, after GET as after HEAD', (tt) => {
    for (const request of [{ method: 'GET', upgrade: false }, HEAD.request]) {
      const o = consistent(tt, 'HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 3\r\n\r\n', { request })
      tt.same(
        o.messages.map((m) => [m.head.statusCode, m.head.framing, m.head.keepAlive, m.complete]),
        [
          [204, Framing.NONE, true, true],
          [304, Framing.NONE, true, true],
        ],
      )
    }
    tt.end()
  })
  t.test('GET: LENGTH, CHUNKED and UNTIL_CLOSE', (tt) => {
    const get = { request: { method: 'GET', upgrade: false } }
    tt.equal(only(consistent(tt, OK + 'Content-Length: 1\r\n\r\nx', get)).framing, Framing.LENGTH)
    tt.equal(only(consistent(tt, OK + 'Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n', get)).framing, Framing.CHUNKED)
    const close = only(consistent(tt, OK + '\r\nabc', get))
    tt.equal(close.framing, Framing.UNTIL_CLOSE)
    tt.equal(close.keepAlive, false)
    tt.end()
  })
  t.test('CONNECT 2xx: SWITCHED, whatever its framing fields; the rest is the tunnel', (tt) => {
    const o = consistent(tt, OK + 'Content-Length: 3\r\n\r\nabcdef', CONNECT)
    tt.equal(o.messages[0]?.head.framing, Framing.SWITCHED)
    tt.equal(o.messages[0]?.head.keepAlive, true)
    tt.equal(o.state, ParserState.UPGRADED)
    tt.equal(o.upgradeRest?.toString(), 'abcdef', 'no byte is read as a body')
    tt.end()
  })
  t.test('CONNECT answered otherwise: an ordinary response', (tt) => {
    const o = consistent(tt, 'HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 2\r\n\r\nno', CONNECT)
    tt.equal(o.messages[0]?.head.framing, Framing.LENGTH)
    tt.equal(o.messages[0]?.body.toString(), 'no')
    tt.equal(o.state, ParserState.IDLE)
    tt.end()
  })
  t.test('upgrade asked: 101 is SWITCHED; a 200 instead is read by its framing', (tt) => {
    const upgrade = { request: { method: 'GET', upgrade: true } }
    const o = consistent(tt, 'HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: x\r\n\r\nraw', upgrade)
    tt.equal(o.messages[0]?.head.framing, Framing.SWITCHED)
    tt.equal(o.state, ParserState.UPGRADED)
    tt.equal(o.upgradeRest?.toString(), 'raw')
    const declined = only(consistent(tt, OK + 'Content-Length: 2\r\n\r\nok', upgrade))
    tt.equal(declined.framing, Framing.LENGTH)
    tt.end()
  })
  t.test('the context holds per response: changed from onMessageComplete, pipelined in one chunk', (tt) => {
    const framings: number[] = []
    const methods = ['HEAD', 'GET', 'HEAD']
    const p = new ResponseParser(
      handlerWith({
        onHead: (h) => void framings.push(h.framing),
        onMessageComplete: () => {
          methods.shift()
          if (methods[0] !== undefined) p.expectResponse(methods[0], false)
        },
      }),
    )
    p.expectResponse('HEAD', false)
    const response = OK + 'Content-Length: 2\r\n\r\n'
    p.execute(bytes(response + response + 'ok' + response))
    tt.same(framings, [Framing.NONE, Framing.LENGTH, Framing.NONE])
    tt.equal(p.state, ParserState.IDLE)
    tt.end()
  })
})

t.test('persistence (RFC 9112 §9.3)', (tt) => {
  const ka = (s: string): boolean => only(consistent(tt, s + 'Content-Length: 0\r\n\r\n')).keepAlive
  tt.equal(ka(OK), true, 'HTTP/1.1 default')
  tt.equal(ka(OK + 'Connection: close\r\n'), false)
  tt.equal(ka(OK + 'Connection: Keep-Alive, CLOSE\r\n'), false, 'close wins, any case, in a list')
  tt.equal(ka(OK + 'Connection: x\r\nConnection: close\r\n'), false, 'over several fields')
  tt.equal(ka(OK + 'Proxy-Connection: close\r\n'), true, 'Proxy-Connection is not HTTP')
  tt.equal(ka('HTTP/1.0 200 OK\r\n'), false, 'HTTP/1.0 default')
  tt.equal(ka('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n'), true)
  tt.equal(ka('HTTP/1.0 200 OK\r\nConnection: foo ,\tKeep-Alive\r\n'), true)
  const up = only(consistent(tt, OK + 'Connection: keep-alive, Upgrade\r\nContent-Length: 0\r\n\r\n'))
  tt.equal(up.upgrade, true)
  tt.equal(only(consistent(tt, OK + 'Connection: upgrade\r\nContent-Length: 0\r\n\r\n')).upgrade, true)
  tt.equal(only(consistent(tt, OK + 'Connection: Upgrade\r\nContent-Length: 0\r\n\r\n')).upgrade, true)
  tt.equal(only(consistent(tt, OK + 'Upgrade: h2c\r\nContent-Length: 0\r\n\r\n')).upgrade, false, 'needs the Connection option')
  tt.end()
})

t.test('data after a response that closes the connection is refused', (tt) => {
  rejects(tt, OK + 'Connection: close\r\nContent-Length: 1\r\n\r\nxy', ParseReason.DATA_AFTER_CLOSE, 58)
  rejects(tt, 'HTTP/1.0 204 No Content\r\n\r\n\r\n', ParseReason.DATA_AFTER_CLOSE, 27)
  const p = new ResponseParser(noopHandler())
  p.execute(bytes(OK + '\r\nbody'))
  p.finish()
  tt.equal(p.state, ParserState.CLOSED)
  p.finish()
  tt.equal(p.state, ParserState.CLOSED, 'a second finish() is a no-op')
  throwsParse(tt, () => p.execute(bytes('x')), ParseReason.DATA_AFTER_CLOSE, OK.length + 6)
  tt.end()
})

t.test('limits', async (t) => {
  t.test('head size, counted from the status line to the empty line', (tt) => {
    const head = OK + 'A: ' + 'a'.repeat(50) + '\r\nContent-Length: 0\r\n\r\n'
    tt.equal(parse(head, { parser: { maxHeaderSize: head.length } }).error, null, 'exactly the limit')
    rejects(tt, head, ParseReason.HEADER_TOO_LARGE, head.length - 1, { parser: { maxHeaderSize: head.length - 1 } })
    rejects(tt, OK + 'A: ' + 'a'.repeat(100), ParseReason.HEADER_TOO_LARGE, 40, { parser: { maxHeaderSize: 40 } })
    rejects(tt, 'HTTP/1.1 200 ' + 'x'.repeat(100), ParseReason.HEADER_TOO_LARGE, 40, { parser: { maxHeaderSize: 40 } })
    tt.end()
  })
  t.test('the default is 16 KiB, also for a head trickled in small pieces', (tt) => {
    const big = OK + 'A: ' + 'a'.repeat(16 * 1024) + '\r\n\r\n'
    const pieces: string[] = []
    for (let i = 0; i < big.length; i += 100) pieces.push(big.slice(i, i + 100))
    const o = parse(pieces)
    tt.equal(o.error?.reason, ParseReason.HEADER_TOO_LARGE)
    tt.equal(o.error?.offset, 16 * 1024)
    tt.end()
  })
  t.test('header count', (tt) => {
    const three = OK + 'A: 1\r\nB: 2\r\nC: 3\r\n\r\n'
    tt.equal(parse(three, { parser: { maxHeaderCount: 3 } }).error, null)
    rejects(tt, three, ParseReason.TOO_MANY_HEADERS, OK.length + 12, { parser: { maxHeaderCount: 2 } })
    rejects(tt, OK + 'A: 1\r\n\r\n', ParseReason.TOO_MANY_HEADERS, OK.length, { parser: { maxHeaderCount: 0 } })
    const folded = OK + 'A: 1\r\n 2\r\n 3\r\nContent-Length: 0\r\n\r\n'
    tt.equal(parse(folded, { parser: { maxHeaderCount: 2 } }).error, null, 'continuation lines are not fields')
    tt.end()
  })
  t.test('the same limits apply to trailers, counted separately', (tt) => {
    const TE = OK + 'A: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n'
    const opts = { parser: { maxHeaderCount: 2, maxHeaderSize: 60 } }
    tt.equal(parse(TE + 'T: 1\r\nU: 2\r\n\r\n', opts).error, null)
    rejects(tt, TE + 'T: 1\r\nU: 2\r\nV: 3\r\n\r\n', ParseReason.TOO_MANY_HEADERS, TE.length + 12, opts)
    rejects(tt, TE + 'T: ' + 'x'.repeat(80) + '\r\n\r\n', ParseReason.HEADER_TOO_LARGE, TE.length + 60, opts)
    tt.end()
  })
  t.test('options are validated', (tt) => {
    tt.throws(() => new ResponseParser(noopHandler(), { maxHeaderSize: 0 }), InvalidArgumentError)
    tt.throws(() => new ResponseParser(noopHandler(), { maxHeaderSize: 1.5 }), InvalidArgumentError)
    tt.throws(() => new ResponseParser(noopHandler(), { maxHeaderCount: -1 }), InvalidArgumentError)
    tt.throws(() => new ResponseParser(noopHandler(), { maxHeaderCount: Number.NaN }), InvalidArgumentError)
    tt.end()
  })
})

t.test('finish() (EOF)', async (t) => {
  const eof = (tt: Test, input: string, state: ParserState): void => {
    const p = new ResponseParser(noopHandler())
    p.execute(bytes(input))
    tt.equal(p.state, state)
    throwsParse(tt, () => p.finish(), ParseReason.UNEXPECTED_EOF, input.length)
    tt.equal(p.state, ParserState.DEAD)
  }
  t.test('cutting a head, a length body or a chunked body is an error', (tt) => {
    eof(tt, 'HTTP/1.1 2', ParserState.STATUS_LINE)
    eof(tt, OK + 'A: b', ParserState.HEADERS)
    eof(tt, OK + 'Content-Length: 3\r\n\r\nab', ParserState.BODY_LENGTH)
    eof(tt, OK + 'Transfer-Encoding: chunked\r\n\r\n', ParserState.CHUNK_SIZE)
    eof(tt, OK + 'Transfer-Encoding: chunked\r\n\r\n3\r\nab', ParserState.CHUNK_DATA)
    eof(tt, OK + 'Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r', ParserState.CHUNK_DATA_END)
    eof(tt, OK + 'Transfer-Encoding: chunked\r\n\r\n0\r\n', ParserState.TRAILERS)
    tt.end()
  })
  t.test('between responses it is a no-op', (tt) => {
    const p = new ResponseParser(noopHandler())
    p.finish()
    p.execute(bytes(OK + 'Content-Length: 0\r\n\r\n'))
    p.finish()
    tt.equal(p.state, ParserState.IDLE)
    tt.end()
  })
})

t.test('a dead parser rethrows the same error', (tt) => {
  const p = new ResponseParser(noopHandler())
  let first: unknown
  try {
    p.execute(bytes('nope\r\n'))
  } catch (err) {
    first = err
  }
  tt.type(first, H1ParseError)
  tt.equal(p.state, ParserState.DEAD)
  tt.equal(p.idle, false)
  tt.throws(() => p.execute(bytes(OK)), first as Error)
  try {
    p.execute(bytes(OK))
  } catch (err) {
    tt.equal(err, first, 'the very same object')
  }
  try {
    p.finish()
  } catch (err) {
    tt.equal(err, first, 'finish() too')
  }
  tt.end()
})

t.test('a throwing handler kills the parser with its error', (tt) => {
  const boom = new Error('handler failed')
  const p = new ResponseParser(
    handlerWith({
      onBody: () => {
        throw boom
      },
    }),
  )
  tt.throws(() => p.execute(bytes(OK + 'Content-Length: 2\r\n\r\nab')), boom)
  tt.equal(p.state, ParserState.DEAD)
  tt.throws(() => p.execute(bytes('x')), boom)
  const q = new ResponseParser(
    handlerWith({
      onMessageComplete: () => {
        throw boom
      },
    }),
  )
  q.execute(bytes(OK + '\r\nab'))
  tt.throws(() => q.finish(), boom, 'also from finish()')
  tt.equal(q.state, ParserState.DEAD)
  tt.end()
})

t.test('zero copy: body pieces are views of the input', (tt) => {
  const input = bytes(OK + 'Content-Length: 5\r\n\r\nhello' + OK + 'Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n')
  const views: Uint8Array[] = []
  const p = new ResponseParser(handlerWith({ onBody: (c) => views.push(c) }))
  p.execute(input)
  tt.equal(views.length, 2)
  tt.ok(
    views.every((v) => v.buffer === input.buffer),
    'same ArrayBuffer as the chunk',
  )
  tt.same(
    views.map((v) => Buffer.from(v).toString()),
    ['hello', 'abc'],
  )
  tt.end()
})

t.test('a chunk buffer reused by the caller is read afresh', (tt) => {
  // The parser keeps nothing from a chunk once its head is done, so a socket layer that
  // refills the same Buffer object must see the new bytes parsed.
  const a = bytes(OK + 'X-A: 1\r\nContent-Length: 1\r\n\r\na')
  const heads: string[][] = []
  const p = new ResponseParser(handlerWith({ onHead: (h) => void heads.push(h.rawHeaders) }))
  p.execute(a)
  a.write(OK + 'X-B: 2\r\nContent-Length: 1\r\n\r\nb', 'latin1')
  p.execute(a)
  tt.same(heads, [
    ['X-A', '1', 'Content-Length', '1'],
    ['X-B', '2', 'Content-Length', '1'],
  ])
  tt.end()
})

t.test('plain Uint8Array input', (tt) => {
  const u8 = new Uint8Array(bytes('xx' + OK + 'Content-Length: 2\r\n\r\nok')).subarray(2)
  const bodies: string[] = []
  const p = new ResponseParser(handlerWith({ onBody: (c) => bodies.push(Buffer.from(c).toString()) }))
  tt.equal(p.execute(u8), u8.length)
  tt.same(bodies, ['ok'])
  tt.end()
})

t.test('offsets count from the start of the response, not of the connection (errors.ts; issue #18)', (tt) => {
  const first = OK + 'Content-Length: 0\r\n\r\n'
  const o = parse([first, 'HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n'])
  tt.equal(o.error?.offset, OK.length + 3)
  tt.equal(o.error?.code, 'WP_H1_PARSE')
  tt.equal(o.error?.message, `invalid HTTP/1.1 response at byte ${OK.length + 3}: invalid header name`)
  // The same response first on the connection: the same offset.
  tt.equal(parse(['HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n']).error?.offset, OK.length + 3)
  tt.end()
})

t.test('state names along the way', (tt) => {
  const states: string[] = []
  const p = new ResponseParser(noopHandler())
  const input = OK + 'Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nT: 1\r\n\r\n' + 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok' + OK + 'Connection: close\r\n\r\nx'
  for (const b of bytewise(bytes(input))) {
    p.execute(b)
    if (states[states.length - 1] !== p.state) states.push(p.state)
  }
  p.finish()
  states.push(p.state)
  tt.same(states, [
    'status-line',
    'headers',
    'chunk-size',
    'chunk-data',
    'chunk-data-end',
    'chunk-size',
    'trailers',
    'idle',
    'status-line',
    'headers',
    'body-length',
    'idle',
    'status-line',
    'headers',
    'body-until-close',
    'closed',
  ])
  tt.same(Object.values(ParserState).sort(), [
    'body-length',
    'body-until-close',
    'chunk-data',
    'chunk-data-end',
    'chunk-size',
    'closed',
    'dead',
    'headers',
    'idle',
    'status-line',
    'trailers',
    'upgraded',
  ])
  tt.end()
})

function throwsParse(tt: Test, fn: () => unknown, reason: string, offset: number): void {
  try {
    fn()
    tt.fail(`expected H1ParseError(${reason})`)
  } catch (err) {
    tt.type(err, H1ParseError)
    tt.equal((err as H1ParseError).reason, reason)
    tt.equal((err as H1ParseError).offset, offset)
  }
}

function handlerWith(partial: Partial<ResponseParserHandler>): ResponseParserHandler {
  return { ...noopHandler(), ...partial }
}

function noopHandler(): ResponseParserHandler {
  return {
    onHead: () => undefined,
    onBody: () => undefined,
    onTrailers: () => undefined,
    onMessageComplete: () => undefined,
  }
}
