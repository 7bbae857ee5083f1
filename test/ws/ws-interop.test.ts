/**
 * Interop: our encoder's frames against a real `ws` WebSocketServer on loopback, and our
 * decoder on what it sends back. The opening handshake is written by hand here (the
 * handshake layer is not part of the codec) over a raw node:net socket.
 */
import t from 'tap'
import { once } from 'node:events'
import { createHash, randomBytes } from 'node:crypto'
import * as net from 'node:net'
import type { AddressInfo } from 'node:net'
import { WebSocketServer } from 'ws'
import { FrameDecoder, Opcode, PayloadCollector } from '../../src/ws/frame.js'
import { encodeClose, encodeFrame } from '../../src/ws/frame-encode.js'

type Received =
  | { kind: 'message'; opcode: number; data: Buffer; pieces: number }
  | { kind: 'ping' | 'pong'; data: Buffer }
  | { kind: 'close'; code: number; reason: string }

/** Decoded events in arrival order; `next()` waits for the next one. */
class Inbox {
  readonly #queue: Received[] = []
  #waiter: ((r: Received) => void) | undefined
  #opcode = 0
  #pieces = 0
  readonly #collector = new PayloadCollector()
  readonly decoder = new FrameDecoder({
    onMessageStart: (opcode) => {
      this.#opcode = opcode
      this.#pieces = 0
    },
    onMessageData: (piece) => {
      this.#pieces++
      this.#collector.append(piece)
    },
    onMessageEnd: () => this.#deliver({ kind: 'message', opcode: this.#opcode, data: Buffer.from(this.#collector.take()), pieces: this.#pieces }),
    onPing: (data) => this.#deliver({ kind: 'ping', data: Buffer.from(data) }),
    onPong: (data) => this.#deliver({ kind: 'pong', data: Buffer.from(data) }),
    onClose: (code, reason) => this.#deliver({ kind: 'close', code, reason }),
  })

  #deliver(r: Received): void {
    const waiter = this.#waiter
    this.#waiter = undefined
    if (waiter) waiter(r)
    else this.#queue.push(r)
  }

  next(): Promise<Received> {
    const queued = this.#queue.shift()
    if (queued) return Promise.resolve(queued)
    return new Promise((resolve) => (this.#waiter = resolve))
  }
}

async function startEchoServer(t: { teardown(fn: () => unknown): void }): Promise<{ port: number; errors: Error[] }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  await once(wss, 'listening')
  const errors: Error[] = []
  wss.on('connection', (ws) => {
    ws.on('error', (err) => errors.push(err))
    ws.on('pong', (data) => ws.send(`pong:${data.toString()}`))
    ws.on('message', (data, isBinary) => {
      const buf = Buffer.isBuffer(data) ? data : Buffer.concat(data as Buffer[])
      if (!isBinary && buf.toString() === 'fragment please') {
        ws.send('frag', { fin: false })
        ws.send('men', { fin: false })
        ws.send('ted', { fin: true })
      } else if (!isBinary && buf.toString() === 'ping me') {
        ws.ping('srv')
      } else {
        ws.send(buf, { binary: isBinary })
      }
    })
  })
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate()
        wss.close(() => resolve())
      }),
  )
  return { port: (wss.address() as AddressInfo).port, errors }
}

/** RFC 6455 §4.1–4.2.2 opening handshake, by hand. Returns the bytes after the response head. */
async function handshake(socket: net.Socket, port: number): Promise<Buffer> {
  const key = randomBytes(16).toString('base64')
  socket.write(
    `GET /chat HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  )
  let received = Buffer.alloc(0)
  let end = -1
  while (end === -1) {
    const [chunk] = (await once(socket, 'data')) as [Buffer]
    received = Buffer.concat([received, chunk])
    end = received.indexOf('\r\n\r\n')
  }
  const head = received.subarray(0, end).toString('latin1').split('\r\n')
  if (!/^HTTP\/1\.1 101 /.test(head[0] ?? '')) throw new Error(`handshake failed: ${head[0]}`)
  const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64')
  const acceptLine = head.find((line) => line.toLowerCase().startsWith('sec-websocket-accept:'))
  if (acceptLine?.slice(acceptLine.indexOf(':') + 1).trim() !== accept) throw new Error('bad Sec-WebSocket-Accept')
  if (head.some((line) => line.toLowerCase().startsWith('sec-websocket-extensions:'))) throw new Error('no extension was offered')
  return received.subarray(end + 4)
}

/** A raw client socket to a fresh echo server, past the handshake; what the server sends goes through our decoder into the inbox. */
async function openSession(t: { teardown(fn: () => unknown): void }): Promise<{ socket: net.Socket; inbox: Inbox; errors: Error[] }> {
  const { port, errors } = await startEchoServer(t)
  const socket = net.connect(port, '127.0.0.1')
  t.teardown(() => socket.destroy())
  await once(socket, 'connect')
  const rest = await handshake(socket, port)
  const inbox = new Inbox()
  socket.on('data', (chunk: Buffer) => inbox.decoder.push(chunk))
  if (rest.length > 0) inbox.decoder.push(rest)
  return { socket, inbox, errors }
}

t.test('our frames against a ws server, its echoes through our decoder', async (t) => {
  const { socket, inbox, errors } = await openSession(t)

  const send = (frame: Buffer) => socket.write(frame)

  // Text, including multi-byte UTF-8.
  for (const text of ['hello', 'héllo wörld ✓ 😀']) {
    send(encodeFrame(Opcode.TEXT, text))
    const got = await inbox.next()
    t.equal(got.kind, 'message')
    if (got.kind === 'message') {
      t.equal(got.opcode, Opcode.TEXT)
      t.equal(got.data.toString('utf8'), text)
    }
  }

  // Binary at the edges of each length encoding, both ways.
  for (const size of [0, 125, 126, 65535, 65536]) {
    const payload = randomBytes(size)
    send(encodeFrame(Opcode.BINARY, payload))
    const got = await inbox.next()
    t.ok(got.kind === 'message' && got.opcode === Opcode.BINARY && got.data.equals(payload), `${size}-byte binary echoed`)
  }

  // A fragmented message of ours, with a ping between its fragments (§5.4, §5.5.2).
  send(encodeFrame(Opcode.TEXT, 'frag-', { fin: false }))
  send(encodeFrame(Opcode.PING, 'mid'))
  send(encodeFrame(Opcode.CONTINUATION, '', { fin: false }))
  send(encodeFrame(Opcode.CONTINUATION, 'mented'))
  const pong = await inbox.next()
  t.same(pong.kind === 'pong' && pong.data.toString(), 'mid', 'pong for the interleaved ping')
  const joined = await inbox.next()
  t.same(joined.kind === 'message' && joined.data.toString(), 'frag-mented', 'fragments reassembled by ws')

  // A fragmented message from the server.
  send(encodeFrame(Opcode.TEXT, 'fragment please'))
  const fragmented = await inbox.next()
  t.equal(fragmented.kind, 'message')
  if (fragmented.kind === 'message') {
    t.equal(fragmented.data.toString(), 'fragmented')
    t.ok(fragmented.pieces >= 3, `${fragmented.pieces} pieces: one per frame at least`)
  }

  // Our ping, its pong.
  send(encodeFrame(Opcode.PING, 'abc'))
  const ourPong = await inbox.next()
  t.same(ourPong.kind === 'pong' && ourPong.data.toString(), 'abc')

  // The server's ping, our pong (the server reports it back as text).
  send(encodeFrame(Opcode.TEXT, 'ping me'))
  const ping = await inbox.next()
  t.same(ping.kind === 'ping' && ping.data.toString(), 'srv')
  if (ping.kind === 'ping') send(encodeFrame(Opcode.PONG, ping.data))
  const report = await inbox.next()
  t.same(report.kind === 'message' && report.data.toString(), 'pong:srv')

  // Close handshake (§7.1.2): ws echoes our code and reason, then ends the TCP connection.
  const ended = once(socket, 'end')
  send(encodeClose(4000, 'done ✓'))
  const close = await inbox.next()
  t.same(close, { kind: 'close', code: 4000, reason: 'done ✓' })
  await ended
  t.equal(inbox.decoder.state, 'closed')
  t.same(errors, [], 'the server saw no protocol error')
})

t.test('ws reports our empty close as 1005 and answers with an empty close', async (t) => {
  const { socket, inbox, errors } = await openSession(t)
  const ended = once(socket, 'end')
  socket.write(encodeClose())
  t.same(await inbox.next(), { kind: 'close', code: 1005, reason: '' })
  await ended
  t.same(errors, [])
})
