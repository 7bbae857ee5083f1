/**
 * The HTTP/1.1 engine against a real nginx (one worker) on loopback: keep-alive reuse,
 * large bodies intact, uploads, HEAD, chunked responses, TLS with a custom CA and session
 * resumption, and a pipelined burst.
 */
import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import t from 'tap'
import { Agent, Pool, type WirepoolError } from '../src/index.js'
import { fileBytes, HELLO_BODY, startNginx, type NginxServer } from './support/nginx.js'
import { which } from './support/which.js'

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

if (which('nginx') === null) {
  t.plan(0, 'nginx not installed: interop suite skipped (apt-get install nginx)')
} else {
  const MIB = 1024 * 1024
  let nginx: NginxServer
  t.before(async () => {
    nginx = await startNginx({
      tls: true,
      files: { '/1m': MIB, '/16m': 16 * MIB },
      serverConfig: `
    location = /chunked { default_type text/plain; return 200 "chunked body"; chunked_transfer_encoding on; }
    location = /upload { client_max_body_size 64m; client_body_buffer_size 64m; return 201 "stored"; }
    location = /close { keepalive_timeout 0; return 200 "bye"; }
`,
    })
  })
  t.teardown(() => nginx?.stop())

  t.test('GET keeps one connection alive across 200 requests', async (t) => {
    const pool = new Pool(`http://127.0.0.1:${nginx.port}`, { connections: 1 })
    t.teardown(() => pool.destroy())
    for (let i = 0; i < 200; i++) {
      const res = await pool.request({ path: '/hello' })
      t.equal(res.status, 200)
      if ((await res.body.text()) !== HELLO_BODY) t.fail(`request ${i} body`)
    }
    const stats = pool.stats()
    t.equal(stats.connectionsCreated, 1)
    t.equal(stats.reused, 199)
    t.match(String((await (await pool.request({ path: '/hello' })).headers)['server']), /nginx/)
  })

  t.test('1 MiB and 16 MiB bodies arrive intact (sha256)', async (t) => {
    const pool = new Pool(`http://127.0.0.1:${nginx.port}`)
    t.teardown(() => pool.destroy())
    for (const [path, size] of [['/1m', MIB], ['/16m', 16 * MIB]] as const) {
      const res = await pool.request({ path })
      t.equal(res.headers['content-length'], String(size))
      const body = await res.body.bytes()
      t.equal(body.length, size)
      t.equal(sha256(body), sha256(fileBytes(size)), `${path} sha256`)
    }
  })

  t.test('HEAD has no body and the connection stays usable', async (t) => {
    const pool = new Pool(`http://127.0.0.1:${nginx.port}`, { connections: 1 })
    t.teardown(() => pool.destroy())
    const head = await pool.request({ path: '/1m', method: 'HEAD' })
    t.equal(head.headers['content-length'], String(MIB))
    t.equal((await head.body.bytes()).length, 0)
    const next = await pool.request({ path: '/hello' })
    t.equal(await next.body.text(), HELLO_BODY)
    t.equal(next.connection.reused, true)
  })

  t.test('uploads: fixed length and chunked streams', async (t) => {
    const pool = new Pool(`http://127.0.0.1:${nginx.port}`, { connections: 1 })
    t.teardown(() => pool.destroy())
    const fixed = await pool.request({ path: '/upload', method: 'POST', body: Buffer.alloc(4 * MIB, 7) })
    t.equal(fixed.status, 201)
    t.equal(await fixed.body.text(), 'stored')
    const streamed = await pool.request({
      path: '/upload',
      method: 'PUT',
      body: Readable.from((function* () {
        for (let i = 0; i < 64; i++) yield Buffer.alloc(64 * 1024, i)
      })()),
    })
    t.equal(streamed.status, 201)
    t.equal(await streamed.body.text(), 'stored')
    t.equal(streamed.connection.reused, true, 'framing was right: the socket stayed in sync')
  })

  t.test('Connection: close from nginx retires the socket', async (t) => {
    const pool = new Pool(`http://127.0.0.1:${nginx.port}`, { connections: 1 })
    t.teardown(() => pool.destroy())
    const res = await pool.request({ path: '/close' })
    t.equal(res.headers['connection'], 'close')
    t.equal(await res.body.text(), 'bye')
    const next = await pool.request({ path: '/hello' })
    t.equal(await next.body.text(), HELLO_BODY)
    t.equal(next.connection.reused, false)
  })

  t.test('pipelining 10 deep against nginx keeps order', async (t) => {
    const pool = new Pool(`http://127.0.0.1:${nginx.port}`, { connections: 1, pipelining: 10 })
    t.teardown(() => pool.destroy())
    const paths = Array.from({ length: 100 }, (_, i) => (i % 3 === 0 ? '/1m' : '/hello'))
    const sizes = await Promise.all(paths.map(async (path) => (await (await pool.request({ path })).body.bytes()).length))
    t.same(sizes, paths.map((p) => (p === '/1m' ? MIB : HELLO_BODY.length)))
    t.equal(pool.stats().connectionsCreated, 1)
  })

  t.test('TLS: custom CA, verification by default, session resumption', async (t) => {
    const origin = `https://127.0.0.1:${nginx.tlsPort}`
    const rejecting = new Agent()
    t.teardown(() => rejecting.destroy())
    const err = (await rejecting.request({ url: `${origin}/hello` }).catch((e: unknown) => e)) as WirepoolError
    t.equal(err.code, 'WP_TLS_VERIFY', 'an unknown CA is rejected by default')

    const agent = new Agent({ tls: { ca: nginx.ca as string }, keepAliveTimeout: 60_000, connections: 1, maxRequestsPerConnection: 1 })
    t.teardown(() => agent.destroy())
    const resumed: Array<boolean | null> = []
    for (let i = 0; i < 10; i++) {
      const res = await agent.request({ url: `${origin}/hello` })
      t.equal(await res.body.text(), HELLO_BODY)
      t.equal(res.protocol, 'http/1.1')
      resumed.push(res.connection.tlsResumed)
    }
    t.equal(resumed[0], false, 'the first handshake is a full one')
    t.same(resumed.slice(1), Array(9).fill(true), 'every later connection resumed its TLS session')
    const stats = agent.stats().origins[origin]
    t.equal(stats?.tlsHandshakes, 10)
    t.equal(stats?.tlsResumed, 9)
  })
}
