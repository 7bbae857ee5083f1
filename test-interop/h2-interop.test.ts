/**
 * The HTTP/2 engine against real servers: nghttpd (h2c and TLS) and nginx (TLS, ALPN h2).
 * Multiplexing on one connection, large bodies both ways intact, trailers, HEAD.
 */
import { createHash } from 'node:crypto'
import t, { type Test } from 'tap'
import { Agent, Pool } from '../src/index.js'
import { fileBytes, HELLO_BODY, startNginx, type NginxServer } from './support/nginx.js'
import { startNghttpd, type NghttpdServer } from './support/nghttpd.js'
import { which } from './support/which.js'

const MIB = 1024 * 1024
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

async function exercise(t: Test, pool: Pool, opts: { upload: boolean; trailer: boolean; bigPath: string; hello: string }): Promise<void> {
  // 100 streams: within both servers' SETTINGS_MAX_CONCURRENT_STREAMS (nghttpd 100, nginx 128).
  const bodies = await Promise.all(Array.from({ length: 100 }, async () => (await pool.request({ path: '/hello' })).body.text()))
  t.same(new Set(bodies), new Set([opts.hello]), '100 concurrent requests answered')
  const stats = pool.stats()
  t.equal(stats.connectionsCreated, 1, 'all multiplexed on one connection')
  t.equal(stats.protocols['h2'], 1)

  const big = await pool.request({ path: opts.bigPath })
  t.equal(big.protocol, 'h2')
  const got = await big.body.bytes()
  t.equal(got.length, 16 * MIB)
  t.equal(sha256(got), sha256(fileBytes(16 * MIB)), '16 MiB download intact')
  if (opts.trailer) t.same(await big.trailers, { 'x-wirepool-trailer': 'yes' })

  if (opts.upload) {
    const payload = Buffer.alloc(16 * MIB)
    for (let i = 0; i < payload.length; i += 4) payload.writeUInt32LE(i, i)
    const echoed = await pool.request({ path: '/echo', method: 'POST', body: payload })
    t.equal(sha256(await echoed.body.bytes()), sha256(payload), '16 MiB upload echoed intact')
  }
  const head = await pool.request({ path: opts.bigPath, method: 'HEAD' })
  t.equal((await head.body.bytes()).length, 0, 'HEAD has no body')
}


if (which('nghttpd') === null) {
  t.test('nghttpd', { skip: 'nghttpd not installed (apt-get install nghttp2-server)' }, () => {})
} else {
  t.test('nghttpd h2c (prior knowledge)', async (t) => {
    const server: NghttpdServer = await startNghttpd({ files: { '/hello': 5, '/16m': 16 * MIB }, trailer: 'x-wirepool-trailer: yes' })
    t.teardown(() => server.stop())
    const pool = new Pool(server.origin, { h2c: true })
    t.teardown(() => pool.destroy())
    await exercise(t, pool, { upload: true, trailer: true, bigPath: '/16m', hello: fileBytes(5).toString() })
  })

  t.test('nghttpd over TLS negotiates h2 by ALPN', async (t) => {
    const server = await startNghttpd({ tls: true, files: { '/hello': 5 } })
    t.teardown(() => server.stop())
    const agent = new Agent({ tls: { ca: server.ca as string } })
    t.teardown(() => agent.destroy())
    const res = await agent.request({ url: `${server.origin}/hello` })
    t.equal(res.protocol, 'h2')
    t.equal((await res.body.bytes()).length, 5)
    t.equal(res.connection.tlsResumed, false)
  })
}

if (which('nginx') === null) {
  t.test('nginx', { skip: 'nginx not installed (apt-get install nginx)' }, () => {})
} else {
  t.test('nginx over TLS with ALPN h2', async (t) => {
    const nginx: NginxServer = await startNginx({ tls: true, http2: true, files: { '/16m': 16 * MIB } })
    t.teardown(() => nginx.stop())
    const origin = `https://127.0.0.1:${nginx.tlsPort}`
    const agent = new Agent({ tls: { ca: nginx.ca as string } })
    t.teardown(() => agent.destroy())
    const pool = agent.pool(origin)
    await exercise(t, pool, { upload: false, trailer: false, bigPath: '/16m', hello: HELLO_BODY })
  })
}
