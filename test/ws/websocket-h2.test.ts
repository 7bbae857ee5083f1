/**
 * WebSocket over HTTP/2 (RFC 8441 extended CONNECT) through the pool, against node:http2
 * servers running a server-side `ws` over the stream: echo of every kind and size, ping/pong,
 * close codes both ways, several WebSockets and ordinary requests on ONE connection,
 * negotiation, refusals, the raw tunnel Duplex, and the fallback to HTTP/1.1 when the origin's
 * HTTP/2 does not enable extended CONNECT.
 */
import t from 'tap'
import { once } from 'node:events'
import * as http2 from 'node:http2'
import * as https from 'node:https'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import { WebSocketServer } from 'ws'
import type { HeaderRecord } from '../../src/dispatch.js'
import { InvalidArgumentError, WsHandshakeError, type WirepoolError } from '../../src/errors.js'
import { Agent } from '../../src/pool/agent.js'
import { WebSocket, type WebSocketOptions } from '../../src/ws/websocket.js'
import { makeCertificates } from '../support/certs.js'
import { h2cServer, connectH2c } from '../h2/session-helpers.js'
import { dispatchRequest } from '../support/requests.js'
import { Recorder } from './client-helpers.js'
import { fallbackServer, h2WsServer, type Teardown } from './h2-peer.js'

const certs = await makeCertificates()
const secure = { key: certs.key, cert: certs.cert }

function agentFor(t: Teardown, options: ConstructorParameters<typeof Agent>[0] = {}): Agent {
  const agent = new Agent({ tls: { ca: certs.ca }, ...options })
  t.teardown(() => agent.destroy())
  return agent
}

function open(t: Teardown, url: string, options: WebSocketOptions): { ws: WebSocket; rec: Recorder } {
  const ws = new WebSocket(url, options)
  t.teardown(() => {
    if (ws.readyState < 2) ws.close()
  })
  return { ws, rec: new Recorder(ws) }
}

function wssUrl(origin: string, path: string): string {
  return origin.replace(/^http/, 'ws') + path
}

t.test('wss over h2: the handshake is an extended CONNECT, text and binary echo, clean close from us', async (t) => {
  const peer = await h2WsServer(t, { secure, protocols: ['chat'] })
  const agent = agentFor(t)
  const { ws, rec } = open(t, wssUrl(peer.origin, '/chat?room=1'), { agent, protocols: ['superchat', 'chat'], headers: { 'x-client': 'wirepool' } })
  ws.binaryType = 'nodebuffer'
  await rec.wait('open')
  t.equal(ws.transport, 'h2', 'carried as an HTTP/2 stream')
  t.equal(ws.protocol, 'chat', 'subprotocol negotiated as over HTTP/1.1')
  t.equal(ws.extensions, '')
  const connect = peer.connects[0] as http2.IncomingHttpHeaders
  t.equal(connect[':method'], 'CONNECT')
  t.equal(connect[':protocol'], 'websocket')
  t.equal(connect[':scheme'], 'https')
  t.equal(connect[':path'], '/chat?room=1')
  t.match(connect[':authority'], /^127\.0\.0\.1:\d+$/)
  t.equal(connect['sec-websocket-version'], '13')
  t.equal(connect['sec-websocket-protocol'], 'superchat, chat')
  t.equal(connect['x-client'], 'wirepool')
  t.equal(connect['sec-websocket-key'], undefined, 'RFC 8441 §5: no Sec-WebSocket-Key')
  t.equal(connect['upgrade'], undefined)

  ws.send('héllo')
  t.equal(await rec.message(0), 'héllo')
  ws.send(new Uint8Array([0, 1, 2, 255]))
  t.same(await rec.message(1), Buffer.from([0, 1, 2, 255]))
  const server = await peer.next()
  const serverClosed = once(server.ws, 'close')
  ws.close(1000, 'bye')
  const close = await rec.wait('close')
  t.same(close, { type: 'close', code: 1000, reason: 'bye', wasClean: true })
  const [code, reason] = (await serverClosed) as [number, Buffer]
  t.equal(code, 1000)
  t.equal(reason.toString(), 'bye')
  t.notOk(rec.events.some((e) => e.type === 'error'), 'no error event')
  // Closing the WebSocket ended the stream, not the connection: the next request reuses it.
  const res = await agent.request({ url: `${peer.origin}/after` })
  t.equal(await res.body.text(), 'hello /after')
  t.equal(res.protocol, 'h2')
  t.equal(res.connection.reused, true)
  t.equal(peer.sessions(), 1, 'one HTTP/2 connection throughout')
  t.equal(peer.live.size, 1, 'and it is still open')
})

t.test('a 1 MiB message each way, ping/pong both ways, server-initiated close with a code', async (t) => {
  const peer = await h2WsServer(t, { secure })
  const agent = agentFor(t)
  const { ws, rec } = open(t, wssUrl(peer.origin, '/big'), { agent })
  ws.binaryType = 'arraybuffer'
  await rec.wait('open')
  const big = Buffer.alloc(1024 * 1024)
  for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff
  await ws.sendAsync(big)
  const echoed = (await rec.message(0)) as ArrayBuffer
  t.equal(echoed.byteLength, big.length)
  t.ok(Buffer.from(echoed).equals(big), '1 MiB echoed byte for byte (DATA frames within flow control)')
  t.equal(ws.bufferedAmount, 0)

  const rtt = await ws.ping('are you there')
  t.type(rtt, 'number')
  t.ok(rtt >= 0)
  const server = await peer.next()
  const pong = once(server.ws, 'pong')
  server.ws.ping(Buffer.from('server ping'))
  const [payload] = (await pong) as [Buffer]
  t.equal(payload.toString(), 'server ping', 'we answered the server Ping with its payload')

  server.ws.close(4001, 'server says bye')
  const close = await rec.wait('close')
  t.same(close, { type: 'close', code: 4001, reason: 'server says bye', wasClean: true })
  t.equal(peer.live.size, 1, 'the connection outlives the WebSocket')
  t.equal(agent.stats().origins[peer.origin]?.streamsOpen, 0, 'the stream left the connection')
})

t.test('several WebSockets and ordinary requests multiplexed on one connection', async (t) => {
  const peer = await h2WsServer(t, { secure })
  const agent = agentFor(t)
  const sockets = [0, 1, 2].map((i) => open(t, wssUrl(peer.origin, `/ws${i}`), { agent }))
  const requests = [0, 1, 2, 3, 4, 5].map((i) => agent.request({ url: `${peer.origin}/r${i}` }).then((res) => res.body.text()))
  await Promise.all(sockets.map(({ rec }) => rec.wait('open')))
  for (const [i, { ws }] of sockets.entries()) {
    t.equal(ws.transport, 'h2')
    for (let m = 0; m < 5; m++) ws.send(`ws${i} message ${m}`)
  }
  t.same(await Promise.all(requests), [0, 1, 2, 3, 4, 5].map((i) => `hello /r${i}`))
  for (const [i, { rec }] of sockets.entries()) {
    for (let m = 0; m < 5; m++) t.equal(await rec.message(m), `ws${i} message ${m}`, `ws${i} got its own messages in order`)
  }
  const stats = agent.stats().origins[peer.origin]
  t.equal(stats?.streamsOpen, 3, 'three tunnels open as streams')
  t.equal(stats?.connections.total, 1)
  // A request while the WebSockets are open goes on the same connection.
  const res = await agent.request({ url: `${peer.origin}/during` })
  t.equal(await res.body.text(), 'hello /during')
  for (const { ws } of sockets) ws.close(1000)
  const closes = await Promise.all(sockets.map(({ rec }) => rec.wait('close')))
  for (const close of closes) t.equal(close.wasClean, true)
  t.equal(peer.sessions(), 1, 'the server saw one HTTP/2 session for all of it')
  t.equal(peer.connects.length, 3)
})

t.test('h2c (prior knowledge): ws: over a cleartext HTTP/2 connection', async (t) => {
  const peer = await h2WsServer(t, {})
  const agent = agentFor(t, { h2c: true })
  const { ws, rec } = open(t, wssUrl(peer.origin, '/plain'), { agent })
  await rec.wait('open')
  t.equal(ws.url.startsWith('ws://'), true)
  t.equal(ws.transport, 'h2')
  t.equal((peer.connects[0] as http2.IncomingHttpHeaders)[':scheme'], 'http')
  ws.send('over h2c')
  t.equal(await rec.message(0), 'over h2c')
  ws.close(1000)
  t.equal((await rec.wait('close')).wasClean, true)
  t.equal(peer.sessions(), 1)
})

t.test('permessage-deflate is negotiated over h2 as over HTTP/1.1', async (t) => {
  const peer = await h2WsServer(t, { secure, deflate: true })
  const agent = agentFor(t)
  const { ws, rec } = open(t, wssUrl(peer.origin, '/deflate'), { agent, perMessageDeflate: { threshold: 0 } })
  await rec.wait('open')
  t.match(ws.extensions, /^permessage-deflate/)
  const text = 'compress me '.repeat(2000)
  ws.send(text)
  t.equal(await rec.message(0), text)
  const server = await peer.next()
  t.match(String(server.headers['sec-websocket-extensions']), /permessage-deflate/)
  ws.close(1000)
  t.equal((await rec.wait('close')).wasClean, true)
})

t.test('a refused extended CONNECT fails the handshake with its status; the connection lives on', async (t) => {
  const peer = await h2WsServer(t, { secure, refuse: 403 })
  const agent = agentFor(t)
  const { ws, rec } = open(t, wssUrl(peer.origin, '/nope'), { agent })
  const error = await rec.wait('error')
  t.type(error.error, WsHandshakeError)
  t.equal((error.error as WsHandshakeError).status, 403)
  t.match(error.error.message, /403 instead of 2xx/)
  t.equal((await rec.wait('close')).code, 1006)
  t.equal(ws.readyState, WebSocket.CLOSED)
  const res = await agent.request({ url: `${peer.origin}/still-there` })
  t.equal(await res.body.text(), 'hello /still-there')
  t.equal(peer.sessions(), 1)
})

t.test('a subprotocol we did not offer in the 2xx fails the handshake (status 200)', async (t) => {
  const peer = await h2WsServer(t, { secure, extraResponse: { 'sec-websocket-protocol': 'other' } })
  const agent = agentFor(t)
  const { rec } = open(t, wssUrl(peer.origin, '/p'), { agent, protocols: ['chat'] })
  const error = await rec.wait('error')
  t.type(error.error, WsHandshakeError)
  t.equal((error.error as WsHandshakeError).status, 200)
  t.match(error.error.message, /did not offer/)
  t.equal((await rec.wait('close')).wasClean, false)
})

t.test('fallback: an h2 origin without SETTINGS_ENABLE_CONNECT_PROTOCOL gets an HTTP/1.1 connection for the WebSocket', async (t) => {
  for (const tlsOn of [true, false]) {
    await t.test(tlsOn ? 'TLS (ALPN http/1.1 only for the fallback)' : 'h2c (cleartext HTTP/1.1 for the fallback)', async (t) => {
      const peer = await fallbackServer(t, tlsOn ? secure : undefined)
      const agent = agentFor(t, tlsOn ? {} : { h2c: true })
      const first = await agent.request({ url: `${peer.origin}/first` })
      t.equal(await first.body.text(), 'h2 /first', 'the origin speaks HTTP/2')
      const { ws, rec } = open(t, wssUrl(peer.origin, '/ws'), { agent })
      await rec.wait('open')
      t.equal(ws.transport, 'http/1.1', 'the WebSocket fell back to an HTTP/1.1 Upgrade')
      ws.send('via h1')
      t.equal(await rec.message(0), 'via h1')
      t.equal(peer.wsConnections(), 1)
      t.equal(peer.h1Connections(), 1)
      // Ordinary requests still go over the HTTP/2 connection.
      const res = await agent.request({ url: `${peer.origin}/second` })
      t.equal(await res.body.text(), 'h2 /second')
      t.equal(res.protocol, 'h2')
      t.equal(peer.h2Sessions(), 1)
      const protocols = agent.stats().origins[peer.origin]?.protocols
      t.equal(protocols?.h2, 1)
      ws.close(1000)
      t.equal((await rec.wait('close')).wasClean, true)
    })
  }
})

t.test('fallback: a ws server on https with ALPN http/1.1 only', async (t) => {
  const server = https.createServer({ ...secure })
  const wss = new WebSocketServer({ server })
  wss.on('connection', (socket) => socket.on('message', (data, isBinary) => socket.send(data as Buffer, { binary: isBinary })))
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(async () => {
    for (const c of wss.clients) c.terminate()
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })
  const agent = agentFor(t)
  const { ws, rec } = open(t, `wss://127.0.0.1:${(server.address() as AddressInfo).port}/x`, { agent })
  await rec.wait('open')
  t.equal(ws.transport, 'http/1.1')
  ws.send('hi')
  t.equal(await rec.message(0), 'hi')
  ws.close(1000)
  t.equal((await rec.wait('close')).wasClean, true)
})

/** A handler for agent.dispatch that resolves with the tunnel Duplex (or rejects). */
function tunnelHandler(): { promise: Promise<{ status: number; headers: HeaderRecord; socket: Duplex }>; handler: Parameters<Agent['dispatch']>[1] } {
  let resolve!: (v: { status: number; headers: HeaderRecord; socket: Duplex }) => void
  let reject!: (e: WirepoolError) => void
  const promise = new Promise<{ status: number; headers: HeaderRecord; socket: Duplex }>((res, rej) => {
    resolve = res
    reject = rej
  })
  return {
    promise,
    handler: {
      onHeaders: (status) => reject(new WsHandshakeError(status, 'not upgraded')),
      onData: () => {},
      onComplete: () => {},
      onError: (err) => reject(err),
      onUpgrade: (status, headers, socket) => resolve({ status, headers, socket }),
    },
  }
}

async function readAll(socket: Duplex): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of socket) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

t.test('the tunnel Duplex: bytes both ways, half-close both ways, backpressure by pause/resume', async (t) => {
  let serverStream: http2.ServerHttp2Stream | undefined
  const received: Buffer[] = []
  let serverEnded!: () => void
  const serverEnd = new Promise<void>((resolve) => (serverEnded = resolve))
  const peer = await h2cServer(
    t,
    (stream, headers) => {
      if (headers[':method'] !== 'CONNECT') {
        stream.respond({ ':status': 200 })
        stream.end('plain')
        return
      }
      serverStream = stream
      stream.on('data', (c: Buffer) => received.push(c))
      stream.on('end', () => serverEnded())
      stream.respond({ ':status': 200, 'x-tunnel': 'yes' })
    },
    { settings: { enableConnectProtocol: true } },
  )
  const agent = agentFor(t, { h2c: true })
  const { promise, handler } = tunnelHandler()
  agent.dispatch({ url: `${peer.origin}/tunnel`, method: 'GET', upgrade: 'bytes' }, handler)
  const { status, headers, socket } = await promise
  t.equal(status, 200)
  t.equal(headers['x-tunnel'], 'yes')
  const stream = serverStream as http2.ServerHttp2Stream
  // Paused: 2 MiB from the server must wait in flow control until we read.
  socket.pause()
  const big = Buffer.alloc(2 * 1024 * 1024, 0x5a)
  big.writeUInt32BE(0xdeadbeef, big.length - 4)
  const written = new Promise<void>((resolve) => stream.end(big, () => resolve()))
  socket.write('client bytes')
  socket.end()
  await serverEnd
  t.equal(Buffer.concat(received).toString(), 'client bytes', 'our bytes, then END_STREAM (half-close)')
  // Paused: the Duplex holds at most its high-water mark plus one DATA frame; the rest waits
  // in the session (window credit withheld) or at the server.
  t.ok(socket.readableLength <= socket.readableHighWaterMark + 16384, `paused reader holds ${socket.readableLength} bytes`)
  const socketClosed = once(socket, 'close')
  const all = await readAll(socket)
  await written
  t.equal(all.length, big.length)
  t.ok(all.equals(big), '2 MiB arrive intact after pause/resume')
  await socketClosed
  t.equal(agent.stats().origins[peer.origin]?.streamsOpen, 0, 'both directions ended: the stream is gone')
  const res = await agent.request({ url: `${peer.origin}/x` })
  t.equal(await res.body.text(), 'plain')
  t.equal(peer.sessions(), 1)
})

t.test('destroying the tunnel resets the stream with CANCEL; the connection lives on', async (t) => {
  const codes: number[] = []
  let gotStream!: () => void
  const streamSeen = new Promise<void>((resolve) => (gotStream = resolve))
  let closed!: () => void
  const streamClosed = new Promise<void>((resolve) => (closed = resolve))
  const peer = await h2cServer(
    t,
    (stream, headers) => {
      if (headers[':method'] !== 'CONNECT') {
        stream.respond({ ':status': 200 })
        stream.end('plain')
        return
      }
      stream.on('close', () => {
        codes.push(stream.rstCode)
        closed()
      })
      stream.respond({ ':status': 200 })
      gotStream()
    },
    { settings: { enableConnectProtocol: true } },
  )
  const agent = agentFor(t, { h2c: true })
  const { promise, handler } = tunnelHandler()
  agent.dispatch({ url: `${peer.origin}/t`, method: 'CONNECT', upgrade: 'bytes' }, handler)
  const { socket } = await promise
  await streamSeen
  socket.destroy()
  await streamClosed
  t.same(codes, [8], 'RST_STREAM(CANCEL)')
  const res = await agent.request({ url: `${peer.origin}/x` })
  t.equal(await res.body.text(), 'plain')
  t.equal(peer.sessions(), 1)
})

t.test('H2Connection refuses an upgrade the peer did not enable, and an upgrade with content', async (t) => {
  const without = await h2cServer(t, (stream) => {
    stream.respond({ ':status': 200 })
    stream.end()
  })
  const conn = await connectH2c(t, without.port)
  await once(conn, 'free')
  t.equal(conn.extendedConnect, false)
  const handler = { onHeaders: () => {}, onData: () => {}, onComplete: () => {}, onError: () => {} }
  t.throws(() => conn.dispatch(dispatchRequest({ upgrade: 'websocket' }), handler), InvalidArgumentError)

  const withIt = await h2cServer(
    t,
    (stream) => {
      stream.respond({ ':status': 200 })
      stream.end()
    },
    { settings: { enableConnectProtocol: true } },
  )
  const conn2 = await connectH2c(t, withIt.port)
  await once(conn2, 'free')
  t.equal(conn2.extendedConnect, true)
  t.throws(() => conn2.dispatch(dispatchRequest({ upgrade: 'websocket', body: 'x', bodyLength: 1 }), handler), InvalidArgumentError)
  t.throws(() => conn2.dispatch(dispatchRequest({ upgrade: 'websocket', method: 'POST' }), handler), InvalidArgumentError)
  t.throws(() => conn2.dispatch(dispatchRequest({ upgrade: 'WebSocket' }), handler), InvalidArgumentError)
})

t.test('a tunnel the server resets fails its Duplex; the connection lives on', async (t) => {
  const peer = await h2cServer(
    t,
    (stream, headers) => {
      if (headers[':method'] !== 'CONNECT') {
        stream.respond({ ':status': 200 })
        stream.end('plain')
        return
      }
      stream.respond({ ':status': 200 })
      stream.once('data', () => stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR))
    },
    { settings: { enableConnectProtocol: true } },
  )
  const agent = agentFor(t, { h2c: true })
  const { promise, handler } = tunnelHandler()
  agent.dispatch({ url: `${peer.origin}/t`, method: 'GET', upgrade: 'bytes' }, handler)
  const { socket } = await promise
  const failed = once(socket, 'error')
  socket.write('trigger')
  const [err] = (await failed) as [WirepoolError]
  t.equal(err.code, 'WP_H2_STREAM_RESET')
  t.match(err.message, /INTERNAL_ERROR/)
  const late = await new Promise<Error | null | undefined>((resolve) => socket.write('late', resolve))
  t.ok(late instanceof Error, 'a write after the reset fails')
  const res = await agent.request({ url: `${peer.origin}/x` })
  t.equal(await res.body.text(), 'plain')
  t.equal(peer.sessions(), 1)
})

t.test('a refused CONNECT is an ordinary response: 1xx, body and trailers reach the handler', async (t) => {
  const peer = await h2cServer(
    t,
    (stream) => {
      stream.additionalHeaders({ ':status': 103, link: '</a>; rel=preload' })
      stream.respond({ ':status': 404 }, { waitForTrailers: true })
      stream.on('wantTrailers', () => stream.sendTrailers({ 'x-why': 'no such tunnel' }))
      stream.end('nope')
    },
    { settings: { enableConnectProtocol: true } },
  )
  const conn = await connectH2c(t, peer.port)
  await once(conn, 'free')
  const seen: string[] = []
  const done = new Promise<void>((resolve, reject) => {
    conn.dispatch(dispatchRequest({ upgrade: 'websocket' }), {
      onInformational: (status) => seen.push(`info ${status}`),
      onHeaders: (status) => {
        seen.push(`head ${status}`)
      },
      onData: (chunk) => {
        seen.push(`data ${Buffer.from(chunk).toString()}`)
      },
      onTrailers: (trailers) => seen.push(`trailers ${String(trailers['x-why'])}`),
      onComplete: () => resolve(),
      onError: reject,
      onUpgrade: () => reject(new Error('not an upgrade')),
    })
  })
  await done
  t.same(seen, ['info 103', 'head 404', 'data nope', 'trailers no such tunnel'])
})

t.test('extended CONNECT without onUpgrade, and without an answer (headers timeout)', async (t) => {
  let streams = 0
  const peer = await h2cServer(
    t,
    (stream, headers) => {
      streams++
      if (headers[':path'] === '/silent') return
      stream.respond({ ':status': 200 })
    },
    { settings: { enableConnectProtocol: true } },
  )
  const conn = await connectH2c(t, peer.port)
  await once(conn, 'free')
  const noUpgrade = await new Promise<WirepoolError>((resolve) => {
    conn.dispatch(dispatchRequest({ upgrade: 'websocket' }), { onHeaders: () => {}, onData: () => {}, onComplete: () => {}, onError: resolve })
  })
  t.equal(noUpgrade.code, 'WP_ABORTED')
  t.match(String((noUpgrade.cause as Error).message), /no onUpgrade/)
  const timedOut = await new Promise<WirepoolError>((resolve) => {
    conn.dispatch(dispatchRequest({ upgrade: 'websocket', path: '/silent', headersTimeout: 30 }), {
      onHeaders: () => {},
      onData: () => {},
      onComplete: () => {},
      onError: resolve,
      onUpgrade: () => {},
    })
  })
  t.equal(timedOut.code, 'WP_HEADERS_TIMEOUT')
  t.equal(streams, 2)
  t.equal(conn.retired, false, 'both were stream failures')
})

t.test('a server withdrawing SETTINGS_ENABLE_CONNECT_PROTOCOL is a connection error (RFC 8441 §3)', async (t) => {
  const peer = await h2cServer(t, () => {}, { settings: { enableConnectProtocol: true } })
  peer.server.on('session', (session: http2.ServerHttp2Session) => {
    session.once('remoteSettings', () => session.settings({ enableConnectProtocol: false }))
  })
  const conn = await connectH2c(t, peer.port)
  const [err] = (await once(conn, 'close')) as [WirepoolError | undefined]
  t.equal(err?.code, 'WP_H2_PROTOCOL')
  t.match(String(err?.message), /withdrew SETTINGS_ENABLE_CONNECT_PROTOCOL/)
})
