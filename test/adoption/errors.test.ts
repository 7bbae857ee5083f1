/**
 * Errors a user can act on (issue #13), each through the public API against a real peer on
 * loopback: WP_TLS_HANDSHAKE (curl 35), WP_BODY_INCOMPLETE (curl 18) with the byte counts,
 * a connect timeout that names where it was going, a verification failure that says what to
 * do, unknown per-request options refused, the overall `timeout`, decoded responses without
 * the wire's framing fields, WP_ABORTED carrying `signal.reason`, and every error class
 * exported from the package root.
 */
import t, { type Test } from 'tap'
import * as net from 'node:net'
import { gzipSync } from 'node:zlib'
import * as root from '../../src/index.js'
import * as errorsModule from '../../src/errors.js'
import { Agent, ErrorCode, WirepoolError, type Response } from '../../src/index.js'
import { connectTcp } from '../../src/tcp/connect.js'
import { ExitCode, exitCodeFor } from '../../src/cli/exit-codes.js'
import { makeCertificates } from '../support/certs.js'
import { httpServer, httpsServer, onRequestHeads, rawServer } from '../support/servers.js'

t.setTimeout(60_000)

function agentFor(t: Test, options: ConstructorParameters<typeof Agent>[0] = {}): Agent {
  const agent = new Agent({ retry: false, ...options })
  t.teardown(() => agent.destroy())
  return agent
}

async function failure(promise: Promise<unknown>): Promise<WirepoolError> {
  const outcome = await promise.then(
    () => undefined,
    (err: unknown) => err,
  )
  if (!(outcome instanceof WirepoolError)) throw new Error(`expected a WirepoolError, got ${String(outcome)}`)
  return outcome
}

t.test('every error class is exported from the package root', async (t) => {
  const exported = root as unknown as Record<string, unknown>
  let classes = 0
  for (const [name, value] of Object.entries(errorsModule)) {
    if (typeof value !== 'function' || !(value.prototype instanceof Error)) continue
    classes++
    t.equal(exported[name], value, `${name} is exported from src/index.ts`)
  }
  t.ok(classes >= 20, `${classes} error classes checked`)
  for (const code of Object.values(errorsModule.ErrorCode)) t.match(code, /^WP_[A-Z0-9_]+$/)
})

t.test('TLS to a port that speaks plain HTTP: WP_TLS_HANDSHAKE, curl exit 35', async (t) => {
  const srv = await httpServer(t, (_req, res) => res.end('plain'))
  const err = await failure(agentFor(t).request({ url: `https://127.0.0.1:${srv.port}/` }))
  t.equal(err.code, ErrorCode.TLS_HANDSHAKE)
  t.type(err, root.TlsHandshakeError)
  t.match(err, { reason: /^ERR_SSL_/, message: /TLS handshake with 127\.0\.0\.1:\d+ failed/ })
  t.equal(exitCodeFor(err), ExitCode.TLS_HANDSHAKE)
  t.equal(ExitCode.TLS_HANDSHAKE, 35)
})

t.test('a certificate that fails verification: WP_TLS_VERIFY suggests tls.ca and --cacert', async (t) => {
  const certs = await makeCertificates()
  const srv = await httpsServer(t, { key: certs.key, cert: certs.cert }, (_req, res) => res.end('x'))
  const err = await failure(agentFor(t).request({ url: `${srv.origin}/` }))
  t.equal(err.code, ErrorCode.TLS_VERIFY)
  t.match(err.message, /tls\.ca option/)
  t.match(err.message, /--cacert/)
  // …and following the advice works.
  const res = await agentFor(t, { tls: { ca: certs.ca } }).request({ url: `${srv.origin}/` })
  t.equal(await res.body.text(), 'x')
})

t.test('a body the server cuts short: WP_BODY_INCOMPLETE with bytes received of expected, curl exit 18', async (t) => {
  const srv = await rawServer(t, (socket) => {
    onRequestHeads(socket, () => socket.end('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc'))
  })
  const res = await agentFor(t).request({ url: `${srv.origin}/` })
  t.equal(res.status, 200)
  const err = await failure(res.body.text())
  t.type(err, root.BodyIncompleteError)
  t.match(err, { code: ErrorCode.BODY_INCOMPLETE, received: 3, expected: 10, message: /3 of 10 bytes/ })
  t.equal(exitCodeFor(err), 18)

  const chunked = await rawServer(t, (socket) => {
    onRequestHeads(socket, () => socket.end('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n'))
  })
  const res2 = await agentFor(t).request({ url: `${chunked.origin}/` })
  t.match(await failure(res2.body.text()), { code: ErrorCode.BODY_INCOMPLETE, received: 5, expected: undefined })
})

t.test('a connect timeout names the host, the port and what was tried', async (t) => {
  const err = await failure(connectTcp({ host: 'hang.test', port: 8080, connectTimeout: 30, lookup: () => {} }))
  t.equal(err.code, ErrorCode.CONNECT_TIMEOUT)
  t.match(err, { target: 'hang.test:8080', addresses: [] })
  t.match(err.message, /connect timed out after 30 ms to hang\.test:8080 \(no address tried\)/)
})

t.test('unknown or misspelt per-request options are WP_INVALID_ARG naming them', async (t) => {
  const srv = await httpServer(t, (_req, res) => res.end('ok'))
  const agent = agentFor(t)
  const misspelt = await failure(agent.request({ url: `${srv.origin}/`, timout: 100 } as never))
  t.equal(misspelt.code, ErrorCode.INVALID_ARG)
  t.match(misspelt.message, /unknown request option timout \(did you mean timeout\?\)/)
  const other = await failure(agent.request({ url: `${srv.origin}/`, headerTimeout: 5 } as never))
  t.match(other.message, /unknown request option headerTimeout \(did you mean headersTimeout\?\)/)
  const unrelated = await failure(agent.request({ url: `${srv.origin}/`, dispatcher: {} } as never))
  t.equal(unrelated.message, 'unknown request option dispatcher')
  t.match(await failure(agent.request({ url: `${srv.origin}/`, timeout: -1 })), { code: ErrorCode.INVALID_ARG, message: /option timeout/ })
  t.equal(await (await agent.request({ url: `${srv.origin}/` })).body.text(), 'ok', 'valid options still work')
})

t.test('the overall timeout covers the head and the body', async (t) => {
  const sockets = new Set<net.Socket>()
  const srv = await rawServer(t, (socket) => {
    sockets.add(socket)
    onRequestHeads(socket, (head) => {
      // /silent: never answers; /slow-body: the head, then a body that never ends.
      if (head.startsWith('GET /slow-body')) socket.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nabc')
      if (head.startsWith('GET /fast')) socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok')
    })
  })
  const agent = agentFor(t)
  const started = performance.now()
  const silent = await failure(agent.request({ url: `${srv.origin}/silent`, timeout: 100 }))
  const elapsed = performance.now() - started
  t.type(silent, root.RequestTimeoutError)
  t.match(silent, { code: ErrorCode.REQUEST_TIMEOUT, timeoutMs: 100, message: /within 100 ms/ })
  t.ok(elapsed >= 95 && elapsed < 5000, `fired after ${elapsed.toFixed(0)} ms (timeout 100)`)
  t.equal(exitCodeFor(silent), ExitCode.TIMEOUT)

  const res: Response = await agent.request({ url: `${srv.origin}/slow-body`, timeout: 150 })
  t.equal(res.status, 200, 'the head arrived in time')
  t.match(await failure(res.body.text()), { code: ErrorCode.REQUEST_TIMEOUT }, 'the body did not: the same deadline ends it')

  const fast = await agent.request({ url: `${srv.origin}/fast`, timeout: 10_000 })
  t.equal(await fast.body.text(), 'ok', 'a request that completes in time is unaffected')
  for (const s of sockets) s.destroy()
})

t.test('decoded responses drop content-encoding and content-length; rawHeaders keeps them', async (t) => {
  const gz = gzipSync('hello, decoded world')
  const srv = await httpServer(t, (_req, res) => {
    res.writeHead(200, { 'content-encoding': 'gzip', 'content-length': gz.length, 'x-kept': '1' })
    res.end(gz)
  })
  const decoded = await agentFor(t).request({ url: `${srv.origin}/` })
  t.equal(await decoded.body.text(), 'hello, decoded world')
  t.equal(decoded.headers['content-encoding'], undefined)
  t.equal(decoded.headers['content-length'], undefined)
  t.equal(decoded.headers['x-kept'], '1')
  t.equal(decoded.rawHeaders['content-encoding'], 'gzip')
  t.equal(decoded.rawHeaders['content-length'], String(gz.length))

  const raw = await agentFor(t, { decompress: false }).request({ url: `${srv.origin}/` })
  await raw.body.bytes()
  t.equal(raw.headers['content-encoding'], 'gzip', 'not decoded: the fields describe the body')
  t.equal(raw.rawHeaders, raw.headers, 'one object when nothing was removed')
})

t.test('an aborted request rejects with WP_ABORTED whose cause is signal.reason', async (t) => {
  const sockets = new Set<net.Socket>()
  const srv = await rawServer(t, (socket) => {
    sockets.add(socket)
    onRequestHeads(socket, (head) => {
      if (head.startsWith('GET /body')) socket.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nabc')
    })
  })
  t.teardown(() => {
    for (const s of sockets) s.destroy()
  })
  const agent = agentFor(t)

  const before = new AbortController()
  const reason0 = new Error('changed my mind')
  before.abort(reason0)
  const err0 = await failure(agent.request({ url: `${srv.origin}/`, signal: before.signal }))
  t.match(err0, { code: ErrorCode.ABORTED })
  t.equal(err0.cause, reason0, 'already aborted: cause is signal.reason')

  const waiting = new AbortController()
  const reason1 = { why: 'user pressed cancel' }
  const pending = agent.request({ url: `${srv.origin}/never`, signal: waiting.signal })
  setImmediate(() => waiting.abort(reason1))
  const err1 = await failure(pending)
  t.equal(err1.code, ErrorCode.ABORTED)
  t.equal(err1.cause, reason1, 'in flight: cause is signal.reason itself')

  const reading = new AbortController()
  const res = await agent.request({ url: `${srv.origin}/body`, signal: reading.signal })
  const reason2 = new DOMException('stop', 'AbortError')
  reading.abort(reason2)
  const err2 = await failure(res.body.text())
  t.equal(err2.code, ErrorCode.ABORTED)
  t.equal(err2.cause, reason2, 'mid-body: cause is signal.reason itself')
})

t.test('over HTTP/2 too: the overall timeout and signal.reason reach the caller as they are', async (t) => {
  const { createServer } = await import('node:http2')
  const server = createServer()
  const sessions = new Set<{ destroy(): void }>()
  server.on('session', (s) => sessions.add(s))
  server.on('stream', (stream, headers) => {
    // /slow-body: the head and a first chunk, then nothing; anything else: no answer at all.
    if (headers[':path'] === '/slow-body') {
      stream.respond({ ':status': 200 })
      stream.write('abc')
    }
  })
  const { listenLoopback } = await import('../support/servers.js')
  const port = await listenLoopback(t, server, () => sessions)
  const agent = agentFor(t, { h2c: true })
  const origin = `http://127.0.0.1:${port}`

  const timedOut = await failure(agent.request({ url: `${origin}/silent`, timeout: 100 }))
  t.match(timedOut, { code: ErrorCode.REQUEST_TIMEOUT, timeoutMs: 100 })
  const res = await agent.request({ url: `${origin}/slow-body`, timeout: 150 })
  t.equal(res.protocol, 'h2')
  t.match(await failure(res.body.text()), { code: ErrorCode.REQUEST_TIMEOUT })

  const controller = new AbortController()
  const reason = { why: 'h2 cancel' }
  const pending = agent.request({ url: `${origin}/silent`, signal: controller.signal })
  setImmediate(() => controller.abort(reason))
  const aborted = await failure(pending)
  t.equal(aborted.code, ErrorCode.ABORTED)
  t.equal(aborted.cause, reason, 'cause is signal.reason itself')
  t.equal(agent.stats().origins[origin]?.connections.total, 1, 'the connection lives on (streams were reset, RFC 9113 §8.7)')
})
