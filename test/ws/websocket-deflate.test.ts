/**
 * The permessage-deflate codec (RFC 7692 §7.2) on its own: tails stripped and appended,
 * context takeover on and off, output bounded by maxPayload, order kept across zlib's
 * asynchronous callbacks.
 */
import t from 'tap'
import * as zlib from 'node:zlib'
import { PerMessageDeflate } from '../../src/ws/deflate.js'
import type { DeflateParams } from '../../src/ws/handshake.js'
import { WsProtocolError } from '../../src/errors.js'

const TAKEOVER: DeflateParams = { clientMaxWindowBits: 15, serverMaxWindowBits: 15, clientNoContextTakeover: false, serverNoContextTakeover: false }
const NO_TAKEOVER: DeflateParams = { ...TAKEOVER, clientNoContextTakeover: true, serverNoContextTakeover: true }

function compress(codec: PerMessageDeflate, data: Uint8Array): Promise<Buffer> {
  return new Promise((resolve, reject) => codec.compress(data, (err, out) => (err ? reject(err) : resolve(out))))
}
function decompress(codec: PerMessageDeflate, pieces: Uint8Array[]): Promise<Buffer> {
  return new Promise((resolve, reject) => codec.decompress(pieces, (err, out) => (err ? reject(err) : resolve(out))))
}

/** What a peer would do: one raw deflate stream, sync flush per message, tail stripped. */
function peerCompressor(): (data: Buffer) => Promise<Buffer> {
  const deflate = zlib.createDeflateRaw()
  return (data) =>
    new Promise((resolve) => {
      const chunks: Buffer[] = []
      const onData = (c: Buffer): void => {
        chunks.push(c)
      }
      deflate.on('data', onData)
      deflate.write(data)
      deflate.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        deflate.off('data', onData)
        const out = Buffer.concat(chunks)
        resolve(out.subarray(0, out.length - 4))
      })
    })
}

t.test('compress: the tail is stripped and a raw inflater reads every message in turn', async (t) => {
  const codec = new PerMessageDeflate(TAKEOVER, { maxPayload: Infinity })
  t.teardown(() => codec.close())
  const inflate = zlib.createInflateRaw()
  const msgs = ['hello hello hello', 'hello hello hello', '', 'x'.repeat(100_000)]
  const sizes: number[] = []
  for (const m of msgs) {
    const out = await compress(codec, Buffer.from(m))
    sizes.push(out.length)
    t.notSame([...out.subarray(-4)], [0, 0, 0xff, 0xff], 'tail removed')
    const back = await new Promise<Buffer>((resolve) => {
      const chunks: Buffer[] = []
      const onData = (c: Buffer): void => {
        chunks.push(c)
      }
      inflate.on('data', onData)
      inflate.write(Buffer.concat([out, Buffer.from([0, 0, 0xff, 0xff])]))
      inflate.flush(() => {
        inflate.off('data', onData)
        resolve(Buffer.concat(chunks))
      })
    })
    t.equal(back.toString(), m)
  }
  // Context takeover: the repeated message refers back to the first one and is smaller.
  t.ok((sizes[1] as number) < (sizes[0] as number), `second copy smaller (${sizes[0]} → ${sizes[1]})`)
  inflate.close()
})

t.test('no context takeover: the same message compresses to the same bytes every time', async (t) => {
  const codec = new PerMessageDeflate(NO_TAKEOVER, { maxPayload: Infinity })
  t.teardown(() => codec.close())
  const a = await compress(codec, Buffer.from('abcabcabc abcabcabc'))
  const b = await compress(codec, Buffer.from('abcabcabc abcabcabc'))
  t.ok(a.equals(b))
  // And decompression resets too: a peer that restarts its window each message is understood.
  const peer = (data: Buffer) => peerCompressor()(data)
  t.equal((await decompress(codec, [await peer(Buffer.from('one one one'))])).toString(), 'one one one')
  t.equal((await decompress(codec, [await peer(Buffer.from('one one one'))])).toString(), 'one one one')
})

t.test('decompress a context-takeover stream, split into pieces, in order', async (t) => {
  const codec = new PerMessageDeflate(TAKEOVER, { maxPayload: Infinity })
  t.teardown(() => codec.close())
  const peer = peerCompressor()
  const msgs = Array.from({ length: 20 }, (_, i) => `message ${i} `.repeat(i * 50))
  const compressed: Buffer[] = []
  for (const m of msgs) compressed.push(await peer(Buffer.from(m)))
  // Submit them all at once: zlib calls back later, the results must come in order.
  const order: number[] = []
  const results = await Promise.all(
    compressed.map((c, i) => {
      const mid = c.length >> 1
      return decompress(codec, [c.subarray(0, mid), c.subarray(mid)]).then((out) => {
        order.push(i)
        return out.toString()
      })
    }),
  )
  t.same(results, msgs)
  t.same(order, msgs.map((_, i) => i))
})

t.test('inflated size over maxPayload fails with 1009; the codec keeps working after', async (t) => {
  const codec = new PerMessageDeflate(NO_TAKEOVER, { maxPayload: 10_000 })
  t.teardown(() => codec.close())
  const bomb = await peerCompressor()(Buffer.alloc(10_000_000))
  t.ok(bomb.length < 20_000, `a small input (${bomb.length} bytes)`)
  const err = await decompress(codec, [bomb]).catch((e: unknown) => e)
  t.ok(err instanceof WsProtocolError)
  t.equal((err as WsProtocolError).closeCode, 1009)
  // Exactly at the limit is fine.
  const exact = await peerCompressor()(Buffer.alloc(10_000, 1))
  t.equal((await decompress(codec, [exact])).length, 10_000)
})

t.test('invalid DEFLATE data fails with 1007', async (t) => {
  const codec = new PerMessageDeflate(TAKEOVER, { maxPayload: Infinity })
  t.teardown(() => codec.close())
  const err = await decompress(codec, [Buffer.from([0xff, 0xfe, 0xfd])]).catch((e: unknown) => e)
  t.ok(err instanceof WsProtocolError)
  t.equal((err as WsProtocolError).closeCode, 1007)
})

t.test('close drops pending work without calling back', async (t) => {
  const codec = new PerMessageDeflate(TAKEOVER, { maxPayload: Infinity })
  let called = 0
  codec.compress(Buffer.alloc(1_000_000, 3), () => called++)
  codec.compress(Buffer.alloc(10), () => called++)
  codec.close()
  codec.compress(Buffer.alloc(10), () => called++)
  codec.decompress([Buffer.alloc(1)], () => called++)
  await new Promise<void>((resolve) => setImmediate(resolve))
  await new Promise<void>((resolve) => setImmediate(resolve))
  t.equal(called, 0)
})
