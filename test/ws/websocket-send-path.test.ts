/**
 * How send() reaches the socket. The first message of a tick is written inside the send()
 * call (a request/response client pays no deferral per round trip); the messages sent after
 * it in the same tick leave together in one write at the end of the tick. Order is the
 * order of the calls whatever path a message takes (queued sendAsync, a Blob being read,
 * a message being compressed or fragmented), and close() goes out after everything sent
 * before it. Writes are counted with a spy on the client socket's write().
 */
import * as net from 'node:net'
import t from 'tap'
import { encodeFrame } from '../../src/ws/frame-encode.js'
import { Opcode } from '../../src/ws/frame.js'
import { WebSocket, type WebSocketOptions } from '../../src/ws/websocket.js'
import { connectToRawPeer, type Recorder } from './client-helpers.js'
import type { PeerConnection } from './raw-peer.js'

interface Teardown {
  teardown(fn: () => unknown): void
}

interface Setup {
  ws: WebSocket
  rec: Recorder
  conn: PeerConnection
  /** Calls of write() on the client's socket so far. */
  writes: () => number
}

async function connect(t: Teardown, options: WebSocketOptions = {}, extensions: string[] = []): Promise<Setup> {
  const { peer, ws, rec, conn } = await connectToRawPeer(t, '/send', options)
  // Count only the writes of the client's end (the peer's sockets are net.Sockets too).
  let writes = 0
  const original = net.Socket.prototype.write
  net.Socket.prototype.write = function (this: net.Socket, ...args: unknown[]): boolean {
    if (this.remotePort === peer.port) writes++
    return (original as (...a: unknown[]) => boolean).apply(this, args)
  } as typeof original
  t.teardown(() => {
    net.Socket.prototype.write = original
  })
  conn.accept(extensions)
  await rec.wait('open')
  return { ws, rec, conn, writes: () => writes }
}

const nextTick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

async function payloads(conn: PeerConnection, n: number): Promise<string[]> {
  const out: string[] = []
  for (let i = 0; i < n; i++) out.push((await conn.nextMessage())?.payload.toString() ?? '<end>')
  return out
}

t.test('the first send of a tick is written inside the call, the rest of the tick in one write', async (t) => {
  const { ws, conn, writes } = await connect(t)
  const before = writes()
  ws.send('one')
  t.equal(writes(), before + 1, 'written before send() returned')
  t.same(await payloads(conn, 1), ['one'])
  // A burst: the first goes at once, the nine behind it are gathered into one write.
  const burst = writes()
  for (let i = 0; i < 10; i++) ws.send(`m${i}`)
  t.equal(writes(), burst + 1, 'only the first of the burst is written synchronously')
  await nextTick()
  t.equal(writes(), burst + 2, 'the other nine left in one write')
  t.same(await payloads(conn, 10), ['m0', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8', 'm9'])
  // The next tick has its immediate write again.
  const later = writes()
  ws.send(Buffer.from('bin'))
  t.equal(writes(), later + 1)
  const bin = await conn.nextMessage()
  t.same([bin?.opcode, bin?.payload.toString()], [Opcode.BINARY, 'bin'])
  t.equal(ws.bufferedAmount, 0)
})

t.test('a send behind a queued message waits its turn', async (t) => {
  const { ws, conn, writes } = await connect(t)
  // sendAsync takes the queue (its promise follows the flush): send must not overtake it.
  const before = writes()
  const flushed = ws.sendAsync('queued')
  ws.send('after-queued')
  t.equal(writes(), before, 'nothing written synchronously while a message is queued')
  await flushed
  t.same(await payloads(conn, 2), ['queued', 'after-queued'])
  // A Blob is read asynchronously: the messages sent after it stay behind it.
  ws.send(new Blob(['blob']))
  ws.send('after-blob')
  ws.send(new Uint16Array([0x6968]))
  t.same(await payloads(conn, 3), ['blob', 'after-blob', Buffer.from(new Uint16Array([0x6968]).buffer).toString()])
})

t.test('messages that need fragmenting take the queue, in order with immediate ones', async (t) => {
  const { ws, conn, writes } = await connect(t, { fragmentSize: 8 })
  await nextTick()
  const before = writes()
  ws.send('12345678')
  t.equal(writes(), before + 1, 'a message of fragmentSize bytes is one frame, written at once')
  await nextTick()
  const queued = writes()
  ws.send('123456789abc')
  t.equal(writes(), queued, 'a message to fragment is queued')
  ws.send('tail')
  const whole = await conn.next()
  t.same([whole?.fin, whole?.payload.toString()], [true, '12345678'])
  const first = await conn.next()
  t.same([first?.fin, first?.opcode, first?.payload.toString()], [false, Opcode.TEXT, '12345678'])
  const second = await conn.next()
  t.same([second?.fin, second?.opcode, second?.payload.toString()], [true, Opcode.CONTINUATION, '9abc'])
  t.same(await payloads(conn, 1), ['tail'])
})

t.test('a small message does not overtake one being compressed', async (t) => {
  const { ws, conn } = await connect(t, { perMessageDeflate: { threshold: 64 } }, ['Sec-WebSocket-Extensions: permessage-deflate'])
  const big = 'compress me '.repeat(100)
  ws.send(big)
  ws.send('small')
  const first = await conn.next()
  t.equal(first?.rsv, 4, 'the big message went compressed, first')
  const { inflateRawSync, constants } = await import('node:zlib')
  const inflated = inflateRawSync(Buffer.concat([first?.payload as Buffer, Buffer.from([0, 0, 0xff, 0xff])]), {
    finishFlush: constants.Z_SYNC_FLUSH,
  })
  t.equal(inflated.toString(), big)
  const second = await conn.next()
  t.same([second?.rsv, second?.payload.toString()], [0, 'small'])
  // Once the queue is empty again, a message under the threshold is written at once.
  await nextTick()
  ws.send('again')
  const third = await conn.next()
  t.same([third?.rsv, third?.payload.toString()], [0, 'again'])
})

t.test('close() after sends flushes every message before the Close', async (t) => {
  const { ws, rec, conn } = await connect(t)
  for (let i = 0; i < 5; i++) ws.send(`last${i}`)
  ws.close(1000, 'done')
  t.same(await payloads(conn, 5), ['last0', 'last1', 'last2', 'last3', 'last4'])
  const close = await conn.next()
  t.equal(close?.opcode, Opcode.CLOSE)
  t.equal(close?.payload.readUInt16BE(0), 1000)
  t.equal(close?.payload.subarray(2).toString(), 'done')
  ws.send('discarded')
  conn.send(encodeFrame(Opcode.CLOSE, Buffer.from([0x03, 0xe8]), { mask: false }))
  await conn.ended
  conn.socket.end()
  const closed = await rec.wait('close')
  t.same([closed.code, closed.wasClean], [1000, true])
  t.equal(ws.bufferedAmount, 0)
})

t.test('a burst bigger than the batch buffer: every message intact and in order, few writes', async (t) => {
  const { ws, conn, writes } = await connect(t)
  const before = writes()
  // 3,000 messages of varied sizes (text with multi-byte UTF-8, bytes, up to a frame with a
  // 16-bit length, and last one too big for any batch buffer, which takes the queue): ~700 KB
  // of frames in one tick.
  const sent: string[] = []
  let appBytes = 0
  for (let i = 0; i < 3000; i++) {
    const text = i % 3 === 0
    const body = i === 2999 ? 'x'.repeat(70 * 1024) : `${i}:${'é€'.repeat(i % 150)}${'z'.repeat(i % 7)}`
    sent.push(body)
    if (text) ws.send(body)
    else ws.send(Buffer.from(body))
    appBytes += Buffer.byteLength(body)
  }
  t.equal(ws.bufferedAmount, appBytes, 'every message counted until flushed')
  await nextTick()
  const used = writes() - before
  t.ok(used >= 2 && used <= 40, `the burst left in ${used} writes, not one per message`)
  const got: string[] = []
  for (let i = 0; i < sent.length; i++) {
    const frame = await conn.nextMessage()
    got.push(frame?.payload.toString() ?? '<end>')
    if (got[i] !== sent[i]) break
  }
  t.same(got, sent, 'all 3,000 arrived, in order, unaltered')
  while (ws.bufferedAmount > 0) await nextTick()
  t.equal(ws.bufferedAmount, 0, 'bufferedAmount back to 0 once written')
})

t.test('bufferedAmount counts an immediate write until the socket flushed it', async (t) => {
  const { ws, conn, writes } = await connect(t)
  conn.socket.pause()
  // Far more than the kernel buffers of both sides hold.
  const big = Buffer.alloc(32 * 1024 * 1024, 7)
  const before = writes()
  ws.send(big)
  t.equal(writes(), before + 1, 'written at once')
  t.equal(ws.bufferedAmount, big.length)
  await nextTick()
  t.equal(ws.bufferedAmount, big.length, 'still counted while the peer does not read')
  // Queued behind it, so it settles after the big one was flushed (write callbacks run in order).
  const marker = ws.sendAsync('marker')
  t.equal(ws.bufferedAmount, big.length + 6)
  conn.socket.resume()
  await marker
  t.equal(ws.bufferedAmount, 0)
  const msg = await conn.nextMessage()
  t.equal(msg?.payload.length, big.length)
  t.ok(msg?.payload.every((b) => b === 7), 'the payload arrived intact')
  t.same(await payloads(conn, 1), ['marker'])
})

t.test('a close while immediate writes are pending leaves bufferedAmount at 0', async (t) => {
  const { ws, rec, conn } = await connect(t)
  conn.socket.pause()
  ws.send(Buffer.alloc(16 * 1024 * 1024))
  t.equal(ws.bufferedAmount, 16 * 1024 * 1024)
  conn.socket.destroy()
  const closed = await rec.wait('close')
  t.equal(closed.wasClean, false)
  t.equal(ws.bufferedAmount, 0, 'zeroed when the socket went, and no late callback takes it below 0')
  await nextTick()
  t.equal(ws.bufferedAmount, 0)
})

t.test('masking of short payloads: every length and remainder, bytes and strings', async (t) => {
  for (let size = 0; size <= 40; size++) {
    const payload = Buffer.alloc(size)
    for (let i = 0; i < size; i++) payload[i] = (i * 31 + 5) & 0xff
    const text = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEF'.slice(0, size)
    for (const input of [payload, text]) {
      const frame = encodeFrame(typeof input === 'string' ? Opcode.TEXT : Opcode.BINARY, input)
      const at = 2 + 4
      const key = frame.subarray(2, 6)
      const out = Buffer.from(frame.subarray(at))
      for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) ^ (key[i & 3] as number)
      t.equal(out.toString('latin1'), Buffer.from(input).toString('latin1'), `${size} ${typeof input}`)
    }
  }
})
