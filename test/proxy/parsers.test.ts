/**
 * The sans-I/O proxy cores: the CONNECT answer parser and the SOCKS5 handshake, fed bytes
 * at every split point, hostile inputs included.
 */
import t from 'tap'
import { ConnectReplyParser, connectRequestHead, type ConnectReply } from '../../src/proxy/connect-reply.js'
import { ipv6Bytes, Socks5Handshake, type Socks5Step } from '../../src/proxy/socks5.js'
import { parseProxyUrl, redactSecrets, resolveProxyOption } from '../../src/proxy/config.js'

function feedSplit(bytes: Buffer, at: number, max = 16 * 1024): ConnectReply {
  const p = new ConnectReplyParser(max)
  const first = p.push(bytes.subarray(0, at))
  // After the answer the parser takes nothing more: later bytes go straight to the next layer.
  if (first.kind === 'status') return { ...first, rest: Buffer.concat([first.rest, bytes.subarray(at)]) }
  if (first.kind !== 'more') return first
  return p.push(bytes.subarray(at))
}

t.test('CONNECT request head', async (t) => {
  t.equal(connectRequestHead({ authority: 'example.com:443', authorization: undefined }), 'CONNECT example.com:443 HTTP/1.1\r\nhost: example.com:443\r\n\r\n')
  t.equal(connectRequestHead({ authority: '[::1]:8443', authorization: 'Basic eDp5' }), 'CONNECT [::1]:8443 HTTP/1.1\r\nhost: [::1]:8443\r\nproxy-authorization: Basic eDp5\r\n\r\n')
  t.throws(() => connectRequestHead({ authority: 'a b:1', authorization: undefined }))
})

t.test('CONNECT answer: 200 at every split point, bytes after the head kept', async (t) => {
  const bytes = Buffer.from('HTTP/1.1 200 Connection established\r\nVia: 1.1 squid\r\n\r\nEARLY')
  for (let at = 0; at <= bytes.length; at++) {
    const r = feedSplit(bytes, at)
    if (r.kind !== 'status') {
      t.fail(`split ${at}: ${r.kind}`)
      continue
    }
    t.equal(r.status, 200)
    t.equal(r.statusLine, 'HTTP/1.1 200 Connection established')
    t.equal(r.headers.get('via'), '1.1 squid')
    t.equal(Buffer.from(r.rest).toString(), 'EARLY', `split ${at}`)
  }
})

t.test('CONNECT answer: interim heads skipped; 407 and 403 reported with their lines', async (t) => {
  const r = new ConnectReplyParser().push(Buffer.from('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="x"\r\n\r\n'))
  t.equal(r.kind === 'status' && r.status, 407)
  t.equal(r.kind === 'status' && r.headers.get('proxy-authenticate'), 'Basic realm="x"')
  const f = new ConnectReplyParser().push(Buffer.from('HTTP/1.0 403 Forbidden\r\n\r\n'))
  t.equal(f.kind === 'status' && f.statusLine, 'HTTP/1.0 403 Forbidden')
})

t.test('CONNECT answer: hostile inputs', async (t) => {
  t.match(new ConnectReplyParser().push(Buffer.from('SSH-2.0-OpenSSH\r\n\r\n')), { kind: 'invalid', reason: /not an HTTP\/1.x status line/ })
  t.match(new ConnectReplyParser().push(Buffer.from('HTTP/1.1 200 OK\r\nbad line\r\n\r\n')), { kind: 'invalid', reason: /malformed header/ })
  t.match(new ConnectReplyParser().push(Buffer.from('HTTP/1.1 200 OK\r\nx : y\r\n\r\n')), { kind: 'invalid' })
  // A head that never ends is cut at the bound, whatever the chunking.
  const p = new ConnectReplyParser(1024)
  let r: ConnectReply = { kind: 'more' }
  let fed = 0
  while (r.kind === 'more' && fed < 10_000) {
    r = p.push(Buffer.from('x-filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n'))
    fed += 52
  }
  t.match(r, { kind: 'invalid', reason: /exceeds 1024 bytes/ })
  t.ok(fed <= 1024 + 52, 'stopped at the bound')
  // Interim heads count against the same bound and their number is capped.
  t.match(new ConnectReplyParser().push(Buffer.from('HTTP/1.1 100 Continue\r\n\r\n'.repeat(9))), { kind: 'invalid', reason: /interim/ })
  t.match(feedSplit(Buffer.from(`HTTP/1.1 100 Continue\r\n${'a: b\r\n'.repeat(200)}\r\nHTTP/1.1 200 OK\r\n\r\n`), 5, 1000), { kind: 'invalid' })
  // Nothing is taken after the answer.
  const done = new ConnectReplyParser()
  done.push(Buffer.from('HTTP/1.1 200 OK\r\n\r\n'))
  t.match(done.push(Buffer.from('x')), { kind: 'invalid' })
})

/** Feed a server's whole script one byte at a time; collect what the client sends. */
function runSocks(hs: Socks5Handshake, server: Buffer): { sent: Buffer[]; end: Socks5Step } {
  const sent = [Buffer.from(hs.greeting())]
  let end: Socks5Step = { kind: 'more' }
  for (let i = 0; i < server.length && end.kind === 'more'; i++) {
    let step = hs.push(server.subarray(i, i + 1))
    while (step.kind === 'send') {
      sent.push(Buffer.from(step.bytes))
      step = hs.push(new Uint8Array(0))
    }
    end = step
    if (end.kind === 'done') {
      // the rest of the server bytes after this one were not fed yet: hand them over too
      const rest = Buffer.concat([Buffer.from(end.rest), server.subarray(i + 1)])
      end = { ...end, rest }
    }
  }
  return { sent, end }
}

t.test('SOCKS5: no-auth CONNECT to a name (socks5h), bytes after the reply kept', async (t) => {
  const hs = new Socks5Handshake({ host: 'example.com', port: 443 })
  const { sent, end } = runSocks(hs, Buffer.from([5, 0, 5, 0, 0, 1, 10, 0, 0, 1, 0x1f, 0x90, 0x41, 0x42]))
  t.same(sent[0], Buffer.from([5, 1, 0]))
  t.same(sent[1], Buffer.concat([Buffer.from([5, 1, 0, 3, 11]), Buffer.from('example.com'), Buffer.from([1, 187])]))
  t.match(end, { kind: 'done', bound: '10.0.0.1:8080' })
  t.equal(end.kind === 'done' && Buffer.from(end.rest).toString(), 'AB')
})

t.test('SOCKS5: username/password (RFC 1929), IPv4 and IPv6 targets', async (t) => {
  const hs = new Socks5Handshake({ host: '127.0.0.1', port: 80 }, { username: 'user', password: 'pw' })
  const { sent, end } = runSocks(hs, Buffer.from([5, 2, 1, 0, 5, 0, 0, 4, ...Array(16).fill(0), 0, 80]))
  t.same(sent[0], Buffer.from([5, 2, 0, 2]))
  t.same(sent[1], Buffer.from([1, 4, ...Buffer.from('user'), 2, ...Buffer.from('pw')]))
  t.same(sent[2], Buffer.from([5, 1, 0, 1, 127, 0, 0, 1, 0, 80]))
  t.match(end, { kind: 'done', bound: '[0:0:0:0:0:0:0:0]:80' })
  t.same(ipv6Bytes('::1'), [...Array(15).fill(0), 1])
  t.same(ipv6Bytes('2001:db8::ff00:42:8329').slice(0, 4), [0x20, 0x01, 0x0d, 0xb8])
  t.same(ipv6Bytes('::ffff:1.2.3.4').slice(10), [0xff, 0xff, 1, 2, 3, 4])
  const v6 = new Socks5Handshake({ host: '[::1]', port: 443 })
  const r = runSocks(v6, Buffer.from([5, 0]))
  t.same(r.sent[1], Buffer.from([5, 1, 0, 4, ...Array(15).fill(0), 1, 1, 187]))
})

t.test('SOCKS5: refusals and hostile replies', async (t) => {
  const target = { host: 'example.com', port: 443 }
  t.match(runSocks(new Socks5Handshake(target), Buffer.from([4, 0])).end, { kind: 'invalid', reason: /SOCKS version 4/ })
  t.match(runSocks(new Socks5Handshake(target), Buffer.from([5, 0xff])).end, { kind: 'auth-failed', reason: /needs credentials/ })
  t.match(runSocks(new Socks5Handshake(target), Buffer.from([5, 2])).end, { kind: 'invalid', reason: /did not offer/ })
  const creds = { username: 'u', password: 'bad' }
  t.match(runSocks(new Socks5Handshake(target, creds), Buffer.from([5, 2, 1, 1])).end, { kind: 'auth-failed', status: 1 })
  t.match(runSocks(new Socks5Handshake(target), Buffer.from([5, 0, 5, 5, 0, 1])).end, { kind: 'refused', reply: 5, reason: 'connection refused' })
  t.match(runSocks(new Socks5Handshake(target), Buffer.from([5, 0, 5, 2, 0, 1])).end, { kind: 'refused', reason: 'connection not allowed by ruleset' })
  t.match(runSocks(new Socks5Handshake(target), Buffer.from([5, 0, 6, 0, 0, 1])).end, { kind: 'invalid', reason: /version 6 in the CONNECT reply/ })
  t.match(runSocks(new Socks5Handshake(target), Buffer.from([5, 0, 5, 0, 0, 9, 1, 2, 3])).end, { kind: 'invalid', reason: /address type 0x9/ })
  t.match(runSocks(new Socks5Handshake(target), Buffer.from([5, 0, 5, 0, 7, 1])).end, { kind: 'invalid', reason: /reserved byte/ })
  t.throws(() => new Socks5Handshake({ host: 'x'.repeat(256), port: 1 }))
  // After the end, nothing more is taken.
  const hs = new Socks5Handshake(target)
  runSocks(hs, Buffer.from([4, 0]))
  t.match(hs.push(Buffer.from([5])), { kind: 'invalid', reason: /over/ })
})

t.test('proxy URLs: parsing, defaults, credentials, redaction', async (t) => {
  const p = parseProxyUrl('http://al%40ice:p%3Ass@proxy.corp:3128')
  t.equal(p.display, 'http://proxy.corp:3128')
  t.equal(p.username, 'al@ice')
  t.equal(p.password, 'p:ss')
  t.equal(p.authorization, `Basic ${Buffer.from('al@ice:p:ss').toString('base64')}`)
  t.equal(parseProxyUrl('proxy.corp:8080').display, 'http://proxy.corp:8080')
  t.equal(parseProxyUrl('https://p').port, 443)
  t.equal(parseProxyUrl('socks5h://[::1]').display, 'socks5h://[::1]:1080')
  t.equal(parseProxyUrl('socks5://u:p@h:1').authorization, undefined)
  t.throws(() => parseProxyUrl('ftp://p'), { code: 'WP_INVALID_ARG' })
  t.throws(() => parseProxyUrl('http://p/path'), { code: 'WP_INVALID_ARG' })
  const err = (() => {
    try {
      parseProxyUrl('http://user:topsecret@[bad')
    } catch (e) {
      return e as Error
    }
    return undefined
  })()
  t.ok(err !== undefined && !err.message.includes('topsecret') && !String((err.cause as Error).message).includes('topsecret'))
  t.equal(redactSecrets('x p:ss y p%3Ass', p), 'x *** y ***')
  t.equal(resolveProxyOption(undefined, undefined), undefined)
  t.throws(() => resolveProxyOption(undefined, true), { code: 'WP_INVALID_ARG' })
  t.match(resolveProxyOption('env', true), { kind: 'env', tunnel: true })
  t.match(resolveProxyOption({ url: 'http://p:1', tunnel: true }, undefined), { kind: 'fixed', endpoint: { tunnel: true, port: 1 } })
  t.throws(() => resolveProxyOption(42, undefined), { code: 'WP_INVALID_ARG' })
})
