import t from 'tap'
import zlib from 'node:zlib'
import { Pool, type WirepoolError } from '../../src/index.js'
import { httpServer } from '../support/servers.js'

const text = 'wirepool '.repeat(5000)
const encoders: Record<string, (b: Buffer) => Buffer> = {
  gzip: (b) => zlib.gzipSync(b),
  deflate: (b) => zlib.deflateSync(b),
  'deflate-raw': (b) => zlib.deflateRawSync(b),
  br: (b) => zlib.brotliCompressSync(b),
}

t.test('gzip, deflate (zlib and raw), br and stacked codings are decoded as they stream', async (t) => {
  const seen: Array<string | undefined> = []
  const srv = await httpServer(t, (req, res) => {
    seen.push(req.headers['accept-encoding'])
    const coding = (req.url as string).slice(1)
    let body: Buffer = Buffer.from(text)
    let header = coding
    if (coding === 'gzip,br') body = encoders.br!(encoders.gzip!(body))
    else if (coding === 'deflate-raw') {
      body = encoders['deflate-raw']!(body)
      header = 'deflate'
    } else if (coding !== 'identity' && coding !== 'x-unknown') body = encoders[coding]!(body)
    res.writeHead(200, { 'content-encoding': header.replace(',', ', ') })
    res.end(body)
  })
  const pool = new Pool(srv.origin)
  t.teardown(() => pool.destroy())
  for (const coding of ['gzip', 'deflate', 'deflate-raw', 'br', 'gzip,br', 'identity']) {
    const res = await pool.request({ path: `/${coding}` })
    t.equal(await res.body.text(), text, `${coding} decoded`)
  }
  t.equal(seen[0], 'gzip, deflate, br', 'accept-encoding advertised')
  // An unknown coding is delivered as sent.
  const unknown = await pool.request({ path: '/x-unknown' })
  t.equal(unknown.headers['content-encoding'], 'x-unknown')
  t.equal(await unknown.body.text(), text)
})

t.test('the caller’s accept-encoding wins; decompress:false and dispatch() leave bodies alone', async (t) => {
  const seen: Array<string | undefined> = []
  const gz = zlib.gzipSync(Buffer.from('hello'))
  const srv = await httpServer(t, (req, res) => {
    seen.push(req.headers['accept-encoding'])
    res.writeHead(200, { 'content-encoding': 'gzip' })
    res.end(gz)
  })
  const pool = new Pool(srv.origin)
  t.teardown(() => pool.destroy())
  const custom = await pool.request({ path: '/', headers: { 'Accept-Encoding': 'gzip' } })
  t.equal(await custom.body.text(), 'hello')
  t.equal(seen[0], 'gzip')

  const raw = new Pool(srv.origin, { decompress: false })
  t.teardown(() => raw.destroy())
  const res = await raw.request({ path: '/' })
  t.same(await res.body.bytes(), gz, 'bytes as sent')
  t.equal(seen[1], undefined, 'nothing advertised')

  const chunks: Buffer[] = []
  await new Promise<void>((resolve, reject) =>
    pool.dispatch({ path: '/' }, {
      onHeaders: () => true,
      onData: (c) => {
        chunks.push(Buffer.from(c))
        return true
      },
      onComplete: () => resolve(),
      onError: reject,
    }),
  )
  t.same(Buffer.concat(chunks), gz, 'the low-level handler sees the wire bytes')
  t.equal(seen[2], undefined, 'dispatch() does not advertise codings it will not decode')
})

t.test('corrupt data and bombs fail with WP_DECOMPRESS; HEAD with content-encoding is fine', async (t) => {
  const bomb = zlib.gzipSync(Buffer.alloc(8 * 1024 * 1024))
  const srv = await httpServer(t, (req, res) => {
    if (req.url === '/corrupt') {
      res.writeHead(200, { 'content-encoding': 'gzip' })
      res.end(Buffer.from('this is not gzip at all'))
    } else if (req.url === '/bomb') {
      res.writeHead(200, { 'content-encoding': 'gzip' })
      res.end(bomb)
    } else {
      res.writeHead(200, { 'content-encoding': 'gzip', 'content-length': '20' })
      res.end()
    }
  })
  const pool = new Pool(srv.origin, { maxDecompressedSize: 1024 * 1024 })
  t.teardown(() => pool.destroy())
  const corrupt = await pool.request({ path: '/corrupt' })
  const e1 = (await corrupt.body.text().catch((e: unknown) => e)) as WirepoolError
  t.equal(e1.code, 'WP_DECOMPRESS')
  t.match(e1.message, /gzip/)
  t.equal((await corrupt.trailers.catch((e: unknown) => e) as WirepoolError).code, 'WP_DECOMPRESS')

  const bombed = await pool.request({ path: '/bomb' })
  const e2 = (await bombed.body.text().catch((e: unknown) => e)) as WirepoolError
  t.equal(e2.code, 'WP_DECOMPRESS')
  t.match(e2.message, /maxDecompressedSize/)
  t.ok(bomb.length < 1024 * 1024, 'the compressed body itself is small')

  const head = await pool.request({ path: '/head', method: 'HEAD' })
  t.equal((await head.body.bytes()).length, 0)
  t.throws(() => new Pool(srv.origin, { maxDecompressedSize: -1 }), { code: 'WP_INVALID_ARG' })
})

t.test('a slowly read compressed body keeps backpressure on the socket', async (t) => {
  const raw = Buffer.alloc(32 * 1024 * 1024, 'abcdefghij')
  const compressed = zlib.gzipSync(raw, { level: 1 })
  const srv = await httpServer(t, (_req, res) => {
    res.writeHead(200, { 'content-encoding': 'gzip' })
    res.end(compressed)
  })
  const pool = new Pool(srv.origin)
  t.teardown(() => pool.destroy())
  const res = await pool.request({ path: '/' })
  let total = 0
  let maxBuffered = 0
  for await (const chunk of res.body) {
    total += (chunk as Buffer).length
    maxBuffered = Math.max(maxBuffered, res.body.readableLength)
    await new Promise((r) => setImmediate(r))
  }
  t.equal(total, raw.length)
  t.ok(maxBuffered <= 1024 * 1024, `decoded bytes waiting in the body stay bounded (${maxBuffered})`)
})
