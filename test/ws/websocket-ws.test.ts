/**
 * Our WebSocket client against a real `ws` WebSocketServer on loopback (ws: and wss:):
 * messages of every kind and size, fragmentation both ways, ping/pong, close codes both
 * ways, subprotocols, permessage-deflate with its parameters, the WHATWG surface.
 */
import t from 'tap'
import { once } from 'node:events'
import * as https from 'node:https'
import type { AddressInfo } from 'node:net'
import { WebSocketServer, type WebSocket as WsSocket, type ServerOptions } from 'ws'
import { Agent } from '../../src/pool/agent.js'
import { WebSocket, type WebSocketOptions } from '../../src/ws/websocket.js'
import { WsHandshakeError } from '../../src/errors.js'
import { makeCertificates } from '../support/certs.js'
import { Recorder } from './client-helpers.js'

interface Teardown {
  teardown(fn: () => unknown): void
}

interface Server {
  wss: WebSocketServer
  url: string
  /** Server-side sockets in connection order. */
  next(): Promise<{ socket: WsSocket; headers: Record<string, string | string[] | undefined> }>
}

/** A `ws` server; by default every connection echoes each message with its type. */
async function wsServer(t: Teardown, options: ServerOptions = {}, echo = true): Promise<Server> {
  const wss = new WebSocketServer(options.server !== undefined ? options : { host: '127.0.0.1', port: 0, ...options })
  if (options.server === undefined) await once(wss, 'listening')
  const queue: { socket: WsSocket; headers: Record<string, string | string[] | undefined> }[] = []
  let waiter: ((c: { socket: WsSocket; headers: Record<string, string | string[] | undefined> }) => void) | undefined
  wss.on('connection', (socket, req) => {
    socket.on('error', () => {})
    if (echo) socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }))
    const c = { socket, headers: req.headers }
    const w = waiter
    waiter = undefined
    if (w !== undefined) w(c)
    else queue.push(c)
  })
  t.teardown(async () => {
    for (const c of wss.clients) c.terminate()
    await new Promise<void>((resolve) => wss.close(() => resolve()))
  })
  const address = (options.server ?? wss).address() as AddressInfo
  const scheme = options.server !== undefined ? 'wss' : 'ws'
  return {
    wss,
    url: `${scheme}://127.0.0.1:${address.port}`,
    next() {
      const c = queue.shift()
      if (c !== undefined) return Promise.resolve(c)
      return new Promise((resolve) => (waiter = resolve))
    },
  }
}

function agentFor(t: Teardown, options: ConstructorParameters<typeof Agent>[0] = {}): Agent {
  const agent = new Agent(options)
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

t.test('text and binary echo with every binaryType, then a clean close from us', async (t) => {
  const server = await wsServer(t)
  const agent = agentFor(t)
  const { ws, rec } = open(t, `${server.url}/echo?x=1`, { agent })
  t.equal(ws.readyState, WebSocket.CONNECTING)
  t.equal(ws.url, `${server.url}/echo?x=1`)
  t.throws(() => ws.send('too early'), { code: 'WP_INVALID_ARG' })
  await rec.wait('open')
  t.equal(ws.readyState, WebSocket.OPEN)
  t.equal(ws.protocol, '')
  t.equal(ws.extensions, '')

  ws.send('héllo ✓')
  t.equal(await rec.message(0), 'héllo ✓')

  t.equal(ws.binaryType, 'blob')
  ws.send(new Uint8Array([1, 2, 3]))
  const blob = (await rec.message(1)) as Blob
  t.ok(blob instanceof Blob)
  t.same([...new Uint8Array(await blob.arrayBuffer())], [1, 2, 3])

  ws.binaryType = 'arraybuffer'
  ws.send(new Uint8Array([4, 5]).buffer)
  const ab = (await rec.message(2)) as ArrayBuffer
  t.ok(ab instanceof ArrayBuffer)
  t.same([...new Uint8Array(ab)], [4, 5])

  ws.binaryType = 'nodebuffer'
  ws.send(new Blob([Buffer.from('blob!')]))
  const buf = (await rec.message(3)) as Buffer
  t.ok(Buffer.isBuffer(buf))
  t.equal(buf.toString(), 'blob!')

  // A view of part of a larger buffer sends only its own bytes.
  const big = Buffer.from('0123456789')
  ws.send(big.subarray(2, 5))
  t.equal(((await rec.message(4)) as Buffer).toString(), '234')
  ws.send('', { binary: true })
  t.equal(((await rec.message(5)) as Buffer).length, 0)
  t.throws(() => ws.send(42 as unknown as string), { code: 'WP_INVALID_ARG' })

  t.throws(() => {
    ws.binaryType = 'string' as 'blob'
  }, { code: 'WP_INVALID_ARG' })

  ws.close(1000, 'done')
  t.equal(ws.readyState, WebSocket.CLOSING)
  const close = await rec.wait('close')
  t.same(close, { type: 'close', code: 1000, reason: 'done', wasClean: true })
  t.equal(ws.readyState, WebSocket.CLOSED)
  t.notOk(rec.types().includes('error'))
  // After close, send discards (WHATWG) and sendAsync rejects.
  ws.send('ignored')
  await t.rejects(ws.sendAsync('x'), { code: 'WP_SOCKET_CLOSED' })
})

t.test('on<event> attributes and WHATWG constants', async (t) => {
  const server = await wsServer(t)
  const ws = new WebSocket(server.url, { agent: agentFor(t) })
  t.equal(WebSocket.OPEN, 1)
  t.equal(ws.CLOSED, 3)
  const seen: string[] = []
  ws.onopen = () => {
    seen.push('open')
    ws.send('a')
  }
  ws.onmessage = (e) => {
    seen.push(`message:${String(e.data)}`)
    seen.push(`origin:${e.origin === server.url}`)
    ws.close()
  }
  ws.onerror = () => seen.push('error')
  const closed = new Promise<void>((resolve) => {
    ws.onclose = (e) => {
      seen.push(`close:${e.code}:${e.wasClean}`)
      resolve()
    }
  })
  t.equal(typeof ws.onopen, 'function')
  await closed
  // close() with no code: the server sees no status and echoes an empty Close → 1005.
  t.same(seen, ['open', 'message:a', 'origin:true', 'close:1005:true'])
  t.equal(typeof ws.onmessage, 'function')
  t.equal(typeof ws.onclose, 'function')
  t.equal(typeof ws.onerror, 'function')
  ws.onopen = null
  ws.onmessage = null
  ws.onclose = null
  ws.onerror = null
  t.equal(ws.onopen, null)
  t.equal(ws.onmessage, null)
  t.equal(ws.onclose, null)
  t.equal(ws.onerror, null)
})

t.test('16 MiB messages both ways, text and binary', async (t) => {
  const server = await wsServer(t, { maxPayload: 32 * 1024 * 1024 })
  const { ws, rec } = open(t, server.url, { agent: agentFor(t) })
  ws.binaryType = 'nodebuffer'
  await rec.wait('open')
  const bin = Buffer.alloc(16 * 1024 * 1024)
  for (let i = 0; i < bin.length; i += 4096) bin[i] = i & 0xff
  const text = 'é'.repeat(8 * 1024 * 1024)
  const sent = ws.sendAsync(bin)
  t.ok(ws.bufferedAmount >= bin.length, 'bufferedAmount counts the queued bytes')
  ws.send(text)
  await sent
  const got = (await rec.message(0)) as Buffer
  t.equal(got.length, bin.length)
  t.ok(got.equals(bin))
  t.equal(await rec.message(1), text)
  t.equal(ws.bufferedAmount, 0)
  ws.close()
  await rec.wait('close')
})

t.test('fragmentation both ways', async (t) => {
  const server = await wsServer(t, {}, false)
  const { ws, rec } = open(t, server.url, { agent: agentFor(t), fragmentSize: 1000 })
  const { socket } = await server.next()
  await rec.wait('open')
  const received = new Promise<{ data: Buffer; binary: boolean }>((resolve) =>
    socket.once('message', (data, binary) => resolve({ data: data as Buffer, binary })),
  )
  const payload = 'x'.repeat(4500) + '€'
  ws.send(payload)
  const got = await received
  t.equal(got.binary, false)
  t.equal(got.data.toString(), payload)

  // ws fragments on our behalf when told fin: false.
  socket.send('first-', { fin: false })
  socket.send('second-', { fin: false })
  socket.send('last', { fin: true })
  t.equal(await rec.message(0), 'first-second-last')
  ws.close(4000, 'x')
  const close = await rec.wait('close')
  t.equal(close.code, 4000)
})

t.test('ping/pong: we answer the server, the server answers us', async (t) => {
  const server = await wsServer(t, {}, false)
  const { ws, rec } = open(t, server.url, { agent: agentFor(t) })
  const { socket } = await server.next()
  await rec.wait('open')
  const pong = once(socket, 'pong')
  socket.ping(Buffer.from('are you there'))
  const [data] = (await pong) as [Buffer]
  t.equal(data.toString(), 'are you there')

  const rtt = await ws.ping('abc')
  t.type(rtt, 'number')
  t.ok(rtt >= 0)
  // Several pings in flight each resolve.
  const all = await Promise.all([ws.ping(), ws.ping(new Uint8Array([1, 2]))])
  t.equal(all.length, 2)
  await t.rejects(ws.ping('x'.repeat(126)), { code: 'WP_INVALID_ARG' })
  const pending = ws.ping()
  ws.close()
  // A close that beats the pong rejects it, or the pong wins: either is fine, never a hang.
  await pending.catch(() => 0)
  await rec.wait('close')
  await t.rejects(ws.ping(), { code: 'WP_INVALID_ARG' })
})

t.test('close codes and reasons from the server', async (t) => {
  for (const [code, reason] of [
    [1000, ''],
    [1001, 'going away'],
    [1011, 'oops'],
    [4999, 'private ✓'],
  ] as const) {
    const server = await wsServer(t, {}, false)
    const { rec } = open(t, server.url, { agent: agentFor(t) })
    const { socket } = await server.next()
    await rec.wait('open')
    socket.close(code, reason)
    const close = await rec.wait('close')
    t.same(close, { type: 'close', code, reason, wasClean: true }, `close ${code}`)
  }
})

t.test('close codes and reasons from us; validation', async (t) => {
  const server = await wsServer(t, {}, false)
  const { ws, rec } = open(t, server.url, { agent: agentFor(t) })
  const { socket } = await server.next()
  await rec.wait('open')
  for (const bad of [999, 1004, 1005, 1006, 1015, 2000, 5000, 1000.5]) {
    t.throws(() => ws.close(bad), { code: 'WP_INVALID_ARG' }, `code ${bad}`)
  }
  t.throws(() => ws.close(1000, 'x'.repeat(124)), { code: 'WP_INVALID_ARG' })
  t.throws(() => ws.close(undefined, 'reason'), { code: 'WP_INVALID_ARG' })
  const serverClose = once(socket, 'close')
  ws.close(3001, 'app reason')
  const [code, reason] = (await serverClose) as [number, Buffer]
  t.equal(code, 3001)
  t.equal(reason.toString(), 'app reason')
  t.same(await rec.wait('close'), { type: 'close', code: 3001, reason: 'app reason', wasClean: true })
  ws.close() // no-op once closed
})

t.test('subprotocols', async (t) => {
  const server = await wsServer(t, {
    handleProtocols: (protocols) => (protocols.has('chat.v2') ? 'chat.v2' : false),
  })
  const agent = agentFor(t)
  const { ws, rec } = open(t, server.url, { agent, protocols: ['chat.v1', 'chat.v2'] })
  const { headers } = await server.next()
  t.equal(headers['sec-websocket-protocol'], 'chat.v1, chat.v2')
  await rec.wait('open')
  t.equal(ws.protocol, 'chat.v2')
  ws.close()
  await rec.wait('close')

  // The WHATWG second-argument form, and a server that declines every protocol.
  const declined = new WebSocket(server.url, 'other')
  const rec2 = new Recorder(declined)
  t.teardown(() => declined.close())
  await rec2.wait('open')
  t.equal(declined.protocol, '')
  declined.close()
  await rec2.wait('close')

  t.throws(() => new WebSocket(server.url, { agent, protocols: ['a b'] }), { code: 'WP_INVALID_ARG' })
  t.throws(() => new WebSocket(server.url, { agent, protocols: ['a', 'a'] }), { code: 'WP_INVALID_ARG' })
})

t.test('permessage-deflate with ws, both directions, each parameter set', async (t) => {
  const sets: { name: string; server: ServerOptions['perMessageDeflate']; client: NonNullable<WebSocketOptions['perMessageDeflate']>; expect: RegExp }[] = [
    { name: 'defaults', server: { threshold: 0 }, client: { threshold: 0 }, expect: /^permessage-deflate/ },
    {
      name: 'no context takeover both ways',
      server: { threshold: 0 },
      client: { threshold: 0, serverNoContextTakeover: true, clientNoContextTakeover: true },
      expect: /server_no_context_takeover/,
    },
    {
      name: 'small windows',
      server: { threshold: 0 },
      client: { threshold: 0, serverMaxWindowBits: 10, clientMaxWindowBits: 9 },
      expect: /server_max_window_bits=10/,
    },
    {
      name: 'server imposes client_no_context_takeover and a client window',
      server: { threshold: 0, clientNoContextTakeover: true, clientMaxWindowBits: 11 },
      client: true,
      expect: /client_max_window_bits=11/,
    },
  ]
  for (const set of sets) {
    const server = await wsServer(t, { perMessageDeflate: set.server })
    const { ws, rec } = open(t, server.url, { agent: agentFor(t), perMessageDeflate: set.client })
    ws.binaryType = 'nodebuffer'
    const { socket } = await server.next()
    await rec.wait('open')
    t.match(ws.extensions, set.expect, `${set.name}: ${ws.extensions}`)
    // Repetitive data over several messages exercises context takeover; order must hold.
    const msgs = ['a'.repeat(5000), 'hello '.repeat(300), 'a'.repeat(5000), '', 'short', 'ü'.repeat(20000)]
    for (const m of msgs) ws.send(m)
    const bin = Buffer.alloc(200_000, 0x61)
    ws.send(bin)
    for (let i = 0; i < msgs.length; i++) t.equal(await rec.message(i), msgs[i], `${set.name}: message ${i}`)
    t.ok(((await rec.message(msgs.length)) as Buffer).equals(bin), `${set.name}: binary`)
    t.ok((socket as unknown as { _extensions: Record<string, unknown> })._extensions['permessage-deflate'] !== undefined)
    ws.close()
    t.equal((await rec.wait('close')).wasClean, true)
  }
})

t.test('permessage-deflate: compressed messages over maxPayload close with 1009', async (t) => {
  const server = await wsServer(t, { perMessageDeflate: { threshold: 0 } }, false)
  const { ws, rec } = open(t, server.url, { agent: agentFor(t), perMessageDeflate: true, maxPayload: 64 * 1024 })
  const { socket } = await server.next()
  await rec.wait('open')
  t.match(ws.extensions, /permessage-deflate/)
  const serverClose = once(socket, 'close')
  // 1 MiB of zeros deflates to about 1 KiB: under maxPayload on the wire, over it inflated.
  socket.send(Buffer.alloc(1024 * 1024))
  const [code] = (await serverClose) as [number]
  t.equal(code, 1009)
  const err = await rec.wait('error')
  t.equal(err.error.code, 'WP_WS_PROTOCOL')
  const close = await rec.wait('close')
  t.equal(close.code, 1009)
  t.equal(close.wasClean, false)
})

t.test('permessage-deflate off: no offer, the server does not compress', async (t) => {
  const server = await wsServer(t, { perMessageDeflate: { threshold: 0 } })
  const { ws, rec } = open(t, server.url, { agent: agentFor(t) })
  const { headers } = await server.next()
  t.equal(headers['sec-websocket-extensions'], undefined)
  await rec.wait('open')
  t.equal(ws.extensions, '')
  ws.send('plain')
  t.equal(await rec.message(0), 'plain')
  ws.close()
  await rec.wait('close')
})

t.test('custom headers reach the server; handshake-owned ones are refused', async (t) => {
  const server = await wsServer(t)
  const agent = agentFor(t)
  const { rec } = open(t, server.url, { agent, headers: { authorization: 'Bearer x', 'x-trace': '7' } })
  const { headers } = await server.next()
  t.equal(headers.authorization, 'Bearer x')
  t.equal(headers['x-trace'], '7')
  t.equal(headers['sec-websocket-version'], '13')
  t.match(headers['sec-websocket-key'], /^[A-Za-z0-9+/]{22}==$/)
  await rec.wait('open')
  t.throws(() => new WebSocket(server.url, { agent, headers: { 'Sec-WebSocket-Key': 'x' } }), { code: 'WP_INVALID_ARG' })
  t.throws(() => new WebSocket('ftp://127.0.0.1/', { agent }), { code: 'WP_INVALID_ARG' })
  t.throws(() => new WebSocket(`${server.url}/#frag`, { agent }), { code: 'WP_INVALID_ARG' })
  t.throws(() => new WebSocket('not a url', { agent }), { code: 'WP_INVALID_ARG' })
  t.throws(() => new WebSocket(server.url, { agent, maxPayload: -1 }), { code: 'WP_INVALID_ARG' })
  t.throws(() => new WebSocket(server.url, { agent, pingInterval: -5 }), { code: 'WP_INVALID_ARG' })
  t.throws(() => new WebSocket(server.url, { agent, fragmentSize: 0 }), { code: 'WP_INVALID_ARG' })
  t.throws(() => new WebSocket(server.url, { agent, perMessageDeflate: { clientMaxWindowBits: 8 } }), { code: 'WP_INVALID_ARG' })
})

t.test('a non-101 answer fails the handshake with its status', async (t) => {
  const server = await wsServer(t, {
    verifyClient: (_info: unknown, cb: (ok: boolean, code?: number) => void) => cb(false, 403),
  } as ServerOptions)
  const { ws, rec } = open(t, server.url, { agent: agentFor(t) })
  const err = await rec.wait('error')
  t.ok(err.error instanceof WsHandshakeError)
  t.equal(err.error.code, 'WP_WS_HANDSHAKE')
  t.equal((err.error as WsHandshakeError).status, 403)
  const close = await rec.wait('close')
  t.same(close, { type: 'close', code: 1006, reason: '', wasClean: false })
  t.equal(ws.readyState, WebSocket.CLOSED)
  t.same(rec.types(), ['error', 'close'])
})

t.test('a refused connection reports the connect error, then close 1006', async (t) => {
  const server = await wsServer(t)
  const port = Number(new URL(server.url).port)
  await new Promise<void>((resolve) => server.wss.close(() => resolve()))
  const { rec } = open(t, `ws://127.0.0.1:${port}/`, { agent: agentFor(t, { retry: { attempts: 0 } }) })
  const err = await rec.wait('error')
  t.equal(err.error.code, 'WP_CONNECT_REFUSED')
  t.equal((await rec.wait('close')).code, 1006)
})

t.test('close() while connecting fails the connection', async (t) => {
  const server = await wsServer(t)
  const { ws, rec } = open(t, server.url, { agent: agentFor(t) })
  ws.close()
  const err = await rec.wait('error')
  t.equal(err.error.code, 'WP_WS_HANDSHAKE')
  t.equal((await rec.wait('close')).code, 1006)
  t.same(rec.types(), ['error', 'close'])
})

t.test('async iteration yields messages in order and ends on close', async (t) => {
  const server = await wsServer(t, {}, false)
  const { ws, rec } = open(t, server.url, { agent: agentFor(t) })
  ws.binaryType = 'nodebuffer'
  const { socket } = await server.next()
  await rec.wait('open')
  const got: unknown[] = []
  const loop = (async () => {
    for await (const data of ws) got.push(Buffer.isBuffer(data) ? `bin:${data.toString()}` : data)
  })()
  // Enough messages to pass the iterator's high-water mark: reading pauses and resumes.
  for (let i = 0; i < 100; i++) socket.send(String(i))
  socket.send(Buffer.from('end'))
  socket.close(1000)
  await loop
  t.equal(got.length, 101)
  t.equal(got[0], '0')
  t.equal(got[99], '99')
  t.equal(got[100], 'bin:end')

  // Breaking out of the loop closes the WebSocket with 1000.
  const second = open(t, server.url, { agent: agentFor(t) })
  const { socket: s2 } = await server.next()
  await second.rec.wait('open')
  const serverClose = once(s2, 'close')
  s2.send('one')
  for await (const data of second.ws) {
    t.equal(data, 'one')
    break
  }
  const [code] = (await serverClose) as [number]
  t.equal(code, 1000)
  t.equal((await second.rec.wait('close')).wasClean, true)
})

t.test('async iteration throws the error of an unclean close', async (t) => {
  const server = await wsServer(t, {}, false)
  const { ws, rec } = open(t, server.url, { agent: agentFor(t) })
  const { socket } = await server.next()
  await rec.wait('open')
  const loop = (async () => {
    for await (const _ of ws) {
      // nothing arrives
    }
  })()
  socket.terminate()
  await t.rejects(loop, { code: 'WP_SOCKET_CLOSED' })
  t.same(await rec.wait('close'), { type: 'close', code: 1006, reason: '', wasClean: false })

  // An iterator that was not waiting when the close came: the error first, then done.
  const second = open(t, server.url, { agent: agentFor(t) })
  const { socket: s2 } = await server.next()
  await second.rec.wait('open')
  const iterator = second.ws[Symbol.asyncIterator]()
  t.equal(iterator[Symbol.asyncIterator](), iterator)
  s2.terminate()
  await second.rec.wait('close')
  await t.rejects(iterator.next(), { code: 'WP_SOCKET_CLOSED' })
  t.same(await iterator.next(), { value: undefined, done: true })
})

t.test('heartbeat: pings keep a live connection open', async (t) => {
  const server = await wsServer(t, {}, false)
  const { ws, rec } = open(t, server.url, { agent: agentFor(t), pingInterval: 20, pongTimeout: 1000 })
  const { socket } = await server.next()
  await rec.wait('open')
  // Three heartbeat pings seen by the server (each answered automatically by ws).
  for (let i = 0; i < 3; i++) await once(socket, 'ping')
  t.equal(ws.readyState, WebSocket.OPEN)
  ws.close()
  await rec.wait('close')
  t.notOk(rec.types().includes('error'))
})

t.test('wss: through the pool TLS with a custom CA', async (t) => {
  const certs = await makeCertificates()
  const httpsServer = https.createServer({ key: certs.key, cert: certs.cert })
  httpsServer.listen(0, '127.0.0.1')
  await once(httpsServer, 'listening')
  t.teardown(() => {
    httpsServer.closeAllConnections()
    return new Promise<void>((resolve) => httpsServer.close(() => resolve()))
  })
  const server = await wsServer(t, { server: httpsServer, perMessageDeflate: { threshold: 0 } })
  const agent = agentFor(t, { tls: { ca: certs.ca } })
  const { ws, rec } = open(t, `${server.url}/secure`, { agent, perMessageDeflate: true })
  await rec.wait('open')
  t.match(ws.url, /^wss:/)
  ws.send('secret '.repeat(500))
  t.equal(await rec.message(0), 'secret '.repeat(500))
  ws.close()
  t.equal((await rec.wait('close')).wasClean, true)

  // https: URLs are taken as wss:, and a second connection resumes the TLS session.
  const again = open(t, server.url.replace('wss:', 'https:'), { agent })
  await again.rec.wait('open')
  t.match(again.ws.url, /^wss:/)
  again.ws.close()
  await again.rec.wait('close')
  t.ok((agent.stats().origins[server.url.replace('wss:', 'https:')]?.tlsResumed ?? 0) >= 1, 'TLS session resumed')

  // Without the CA the handshake fails on verification.
  const untrusted = open(t, server.url, { agent: agentFor(t, { retry: { attempts: 0 } }) })
  const err = await untrusted.rec.wait('error')
  t.equal(err.error.code, 'WP_TLS_VERIFY')
  t.equal((await untrusted.rec.wait('close')).code, 1006)
})
