/**
 * Requests through a real CONNECT proxy on loopback (test/proxy/support.ts): https origins
 * (h1 and h2 by ALPN) inside a tunnel with TLS end to end, plain-http origins forwarded in
 * absolute-form or tunnelled, credentials only on the CONNECT / forwarded head, an HTTPS
 * proxy with its own CA, route keys, stats, events and metrics naming the proxy.
 */
import http2 from 'node:http2'
import t, { type Test } from 'tap'
import { Agent, Pool, type ConnectionEvent } from '../../src/index.js'
import { ProxyAuthError, ProxyConnectError } from '../../src/errors.js'
import { makeCertificates, spkiPin } from '../support/certs.js'
import { closedPort, httpServer, httpsServer, listenLoopback, onRequestHeads, rawServer } from '../support/servers.js'
import { startConnectProxy } from './support.js'
import { parseExposition, valueOf } from '../support/prometheus.js'

const certs = await makeCertificates()

async function h2Origin(t: Test): Promise<{ origin: string }> {
  const server = http2.createSecureServer({ key: certs.key, cert: certs.cert, allowHTTP1: true }, (req, res) => {
    res.setHeader('x-version', req.httpVersion)
    res.end(`h2 ${req.url}`)
  })
  const sessions = new Set<{ destroy(): void }>()
  server.on('session', (s) => {
    sessions.add(s)
    s.on('close', () => sessions.delete(s))
  })
  const port = await listenLoopback(t, server, () => sessions)
  return { origin: `https://localhost:${port}` }
}

t.test('https origin through CONNECT: h1, TLS end to end, credentials only on the CONNECT', async (t) => {
  const origin = await httpsServer(t, { key: certs.key, cert: certs.cert }, (req, res) => res.end(JSON.stringify(req.headers)))
  const proxy = await startConnectProxy(t, { credentials: 'alice:s3cret' })
  const agent = new Agent({ proxy: `http://alice:s3cret@127.0.0.1:${proxy.port}`, tls: { ca: certs.ca, pins: [spkiPin(certs.cert)] }, allowH2: false })
  t.teardown(() => agent.destroy())
  const events: ConnectionEvent[] = []
  agent.on('connection', (e) => events.push(e))
  const url = `https://localhost:${origin.port}/x`
  for (let i = 0; i < 3; i++) {
    const res = await agent.request({ url })
    const seen = JSON.parse(await res.body.text()) as Record<string, string>
    t.equal(res.status, 200)
    t.equal(seen['proxy-authorization'], undefined, 'the origin never sees the proxy credentials')
    t.equal(res.connection.reused, i > 0)
  }
  t.equal(proxy.tunnels(), 1, 'one tunnel, reused')
  t.match(proxy.heads[0], /^CONNECT localhost:\d+ HTTP\/1\.1\r\nhost: localhost:\d+\r\nproxy-authorization: Basic YWxpY2U6czNjcmV0$/)
  t.notOk(proxy.tunnelled[0]?.includes('YWxpY2U6czNjcmV0'), 'no credentials inside the tunnel')
  t.notOk(proxy.tunnelled[0]?.includes('GET /x'), 'the tunnel carries TLS, not cleartext requests')
  const stats = agent.stats().origins[`https://localhost:${origin.port}`]
  t.equal(stats?.proxy, `http://127.0.0.1:${proxy.port}`)
  t.ok(events.length > 0 && events.every((e) => e.proxy === `http://127.0.0.1:${proxy.port}`), 'events name the proxy')
  const metrics = agent.metrics()
  t.match(metrics, `wirepool_proxy_route{origin="https://localhost:${origin.port}",proxy="http://127.0.0.1:${proxy.port}"} 1`)
  // The whole exposition stays valid with the extra family (a strict 0.0.4 parser reads it).
  const families = parseExposition(metrics)
  t.equal(valueOf(families, 'wirepool_proxy_route', { origin: `https://localhost:${origin.port}`, proxy: `http://127.0.0.1:${proxy.port}` }), 1)
  t.equal(parseExposition(new Agent().metrics()).has('wirepool_proxy_route'), false, 'no family when nothing is proxied')
  t.notOk(metrics.includes('s3cret') || JSON.stringify(agent.stats()).includes('s3cret') || JSON.stringify(events).includes('s3cret'))
})

t.test('h2 over TLS through CONNECT: ALPN with the origin, session resumption in the tunnel', async (t) => {
  const { origin } = await h2Origin(t)
  const proxy = await startConnectProxy(t)
  const agent = new Agent({ proxy: proxy.url, tls: { ca: certs.ca }, keepAliveTimeout: 60_000 })
  t.teardown(() => agent.destroy())
  const res = await agent.request({ url: `${origin}/h2` })
  t.equal(res.protocol, 'h2')
  t.equal(await res.body.text(), 'h2 /h2')
  t.equal(res.connection.tlsResumed, false)
  const again = await Promise.all([1, 2, 3].map((i) => agent.request({ url: `${origin}/${i}` })))
  t.same(await Promise.all(again.map((r) => r.body.text())), ['h2 /1', 'h2 /2', 'h2 /3'])
  t.equal(proxy.tunnels(), 1, 'one tunnel carries every stream')
  t.equal(agent.stats().origins[origin]?.protocols['h2'], 1)
})

t.test('TLS session resumption works end to end through the tunnel', async (t) => {
  const origin = await httpsServer(t, { key: certs.key, cert: certs.cert }, (req, res) => {
    // The first response closes its connection: the next request needs a new tunnel.
    if (req.url === '/close') res.setHeader('connection', 'close')
    res.end('ok')
  })
  const proxy = await startConnectProxy(t)
  const pool = new Pool(`https://localhost:${origin.port}`, { proxy: proxy.url, tls: { ca: certs.ca }, allowH2: false, connections: 1 })
  t.teardown(() => pool.destroy())
  const a = await pool.request({ path: '/close' })
  await a.body.text()
  t.equal(a.connection.tlsResumed, false)
  const c = await pool.request({ path: '/' })
  await c.body.text()
  t.equal(c.connection.tlsResumed, true, 'the second tunnel resumed the TLS session with the origin')
  t.equal(proxy.tunnels(), 2)
  t.equal(pool.stats().tlsResumed, 1)
})

t.test('plain http origin: absolute-form to the proxy with Proxy-Authorization', async (t) => {
  const heads: string[] = []
  const fake = await rawServer(t, (socket) => {
    onRequestHeads(socket, (head) => {
      heads.push(head)
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok')
    })
  })
  const agent = new Agent({ proxy: `http://bob:pw@127.0.0.1:${fake.port}` })
  t.teardown(() => agent.destroy())
  const res = await agent.request({ url: 'http://example.test:8080/p?q=1' })
  t.equal(await res.body.text(), 'ok')
  const res2 = await agent.request({ url: 'http://example.test:8080/two' })
  await res2.body.text()
  t.match(heads[0], /^GET http:\/\/example\.test:8080\/p\?q=1 HTTP\/1\.1\r\nhost: example\.test:8080\r\nproxy-authorization: Basic Ym9iOnB3\r\n/)
  t.match(heads[1], /^GET http:\/\/example\.test:8080\/two HTTP\/1\.1\r\n/)
  t.equal(res2.connection.reused, true)
})

t.test('plain http origin: a 407 from the forwarding proxy is WP_PROXY_AUTH, the connection kept', async (t) => {
  const fake = await rawServer(t, (socket) => {
    onRequestHeads(socket, (_head, index) => {
      socket.write(index === 0 ? 'HTTP/1.1 407 Proxy Authentication Required\r\ncontent-length: 4\r\n\r\nnope' : 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok')
    })
  })
  const agent = new Agent({ proxy: `http://bob:wrong@127.0.0.1:${fake.port}`, retry: false })
  t.teardown(() => agent.destroy())
  const err = await agent.request({ url: 'http://example.test/' }).catch((e: unknown) => e as Error)
  t.type(err, ProxyAuthError)
  t.match((err as Error).message, `proxy http://127.0.0.1:${fake.port} rejected the credentials`)
  const ok = await agent.request({ url: 'http://example.test/' })
  t.equal(await ok.body.text(), 'ok')
  t.equal(ok.connection.reused, true)
})

t.test('plain http origin with proxyTunnel: CONNECT, then origin-form inside', async (t) => {
  const origin = await httpServer(t, (req, res) => res.end(`${req.url} ${req.headers['proxy-authorization'] ?? 'none'}`))
  const proxy = await startConnectProxy(t, { credentials: 'u:p' })
  const agent = new Agent({ proxy: `http://u:p@127.0.0.1:${proxy.port}`, proxyTunnel: true })
  t.teardown(() => agent.destroy())
  const res = await agent.request({ url: `${origin.origin}/in` })
  t.equal(await res.body.text(), '/in none')
  t.match(proxy.heads[0], /^CONNECT 127\.0\.0\.1:\d+ HTTP\/1\.1/)
  t.match(proxy.tunnelled[0]?.toString('latin1') ?? '', /^GET \/in HTTP\/1\.1\r\n/)
})

t.test('HTTPS proxy: TLS to the proxy with its own CA, then TLS to the origin inside', async (t) => {
  const proxyCerts = await makeCertificates({ keyType: 'rsa' })
  const origin = await httpsServer(t, { key: certs.key, cert: certs.cert }, (_req, res) => res.end('through https proxy'))
  const proxy = await startConnectProxy(t, { tls: { key: proxyCerts.key, cert: proxyCerts.cert } })
  const agent = new Agent({ proxy: { url: proxy.url, tls: { ca: proxyCerts.ca } }, tls: { ca: certs.ca } })
  t.teardown(() => agent.destroy())
  const res = await agent.request({ url: `https://localhost:${origin.port}/` })
  t.equal(await res.body.text(), 'through https proxy')
  // Without the proxy's CA the proxy's certificate fails, and the error says it was the proxy.
  const bad = new Agent({ proxy: proxy.url, tls: { ca: certs.ca }, retry: false })
  t.teardown(() => bad.destroy())
  const err = await bad.request({ url: `https://localhost:${origin.port}/` }).catch((e: unknown) => e)
  t.type(err, ProxyConnectError)
  t.match((err as Error).message, `cannot reach proxy ${proxy.url}`)
})

t.test('proxy errors: 407, other refusals, proxy down; never the password', async (t) => {
  const proxy = await startConnectProxy(t, { credentials: 'alice:right' })
  const wrong = new Agent({ proxy: `http://alice:wr0ng@127.0.0.1:${proxy.port}`, retry: false })
  t.teardown(() => wrong.destroy())
  const e407 = await wrong.request({ url: 'https://localhost:1/' }).catch((e: unknown) => e)
  t.type(e407, ProxyAuthError)
  t.equal((e407 as ProxyAuthError).code, 'WP_PROXY_AUTH')
  t.notOk(String((e407 as Error).message).includes('wr0ng'))
  t.notOk(JSON.stringify(wrong.stats()).includes('wr0ng'))

  const refusing = await rawServer(t, (s) => onRequestHeads(s, () => s.end('HTTP/1.1 403 Forbidden by policy\r\ncontent-length: 0\r\n\r\n')))
  const a = new Agent({ proxy: `http://127.0.0.1:${refusing.port}`, retry: false })
  t.teardown(() => a.destroy())
  const e403 = (await a.request({ url: 'https://localhost:1/' }).catch((e: unknown) => e)) as ProxyConnectError
  t.type(e403, ProxyConnectError)
  t.equal(e403.code, 'WP_PROXY_CONNECT')
  t.equal(e403.status, 403)
  t.equal(e403.statusLine, 'HTTP/1.1 403 Forbidden by policy')

  const port = await closedPort()
  const down = new Agent({ proxy: `http://user:hunter2@127.0.0.1:${port}`, retry: false })
  t.teardown(() => down.destroy())
  const eDown = (await down.request({ url: 'http://example.test/' }).catch((e: unknown) => e)) as ProxyConnectError
  t.type(eDown, ProxyConnectError)
  t.match(eDown.message, `cannot reach proxy http://127.0.0.1:${port}`)
  t.equal(eDown.proxy, `http://127.0.0.1:${port}`)
  t.notOk(eDown.message.includes('hunter2'))
})

t.test('route key: a proxied and a direct pool for one origin never share connections', async (t) => {
  const origin = await httpServer(t, (_req, res) => res.end('x'))
  const proxy = await startConnectProxy(t)
  const direct = new Agent()
  const viaProxy = new Agent({ proxy: proxy.url, proxyTunnel: true })
  t.teardown(() => Promise.all([direct.destroy(), viaProxy.destroy()]))
  await (await direct.request({ url: origin.origin })).body.text()
  await (await viaProxy.request({ url: origin.origin })).body.text()
  t.equal(direct.pool(origin.origin).proxy, null)
  t.equal(viaProxy.pool(origin.origin).proxy, proxy.url)
  t.not(direct.pool(origin.origin).routeKey, viaProxy.pool(origin.origin).routeKey)
  t.equal(proxy.tunnels(), 1)
})

t.test('h2c with prior knowledge goes through a CONNECT tunnel (it cannot be forwarded)', async (t) => {
  const server = http2.createServer((req, res) => res.end(`h2c ${req.url}`))
  const sessions = new Set<{ destroy(): void }>()
  server.on('session', (s) => {
    sessions.add(s)
    s.on('close', () => sessions.delete(s))
  })
  const port = await listenLoopback(t, server, () => sessions)
  const proxy = await startConnectProxy(t)
  const agent = new Agent({ proxy: proxy.url, h2c: true })
  t.teardown(() => agent.destroy())
  const res = await agent.request({ url: `http://127.0.0.1:${port}/c` })
  t.equal(res.protocol, 'h2')
  t.equal(await res.body.text(), 'h2c /c')
  t.match(proxy.heads[0], /^CONNECT 127\.0\.0\.1:\d+ /)
})

t.test("proxy: 'env' follows the environment; without the option it is ignored (opt-in)", async (t) => {
  const origin = await httpsServer(t, { key: certs.key, cert: certs.cert }, (_req, res) => res.end('env'))
  const proxy = await startConnectProxy(t)
  const saved = process.env['HTTPS_PROXY']
  t.teardown(() => {
    if (saved === undefined) delete process.env['HTTPS_PROXY']
    else process.env['HTTPS_PROXY'] = saved
  })
  process.env['HTTPS_PROXY'] = proxy.url
  const viaEnv = new Agent({ proxy: 'env', tls: { ca: certs.ca } })
  const plain = new Agent({ tls: { ca: certs.ca } })
  t.teardown(() => Promise.all([viaEnv.destroy(), plain.destroy()]))
  await (await viaEnv.request({ url: `https://localhost:${origin.port}/` })).body.text()
  await (await plain.request({ url: `https://localhost:${origin.port}/` })).body.text()
  t.equal(proxy.tunnels(), 1, 'only the env Agent used the proxy')
  t.equal(plain.pool(`https://localhost:${origin.port}`).proxy, null)
})

t.test('inside the tunnel the origin is verified as if direct: a wrong CA or pin fails', async (t) => {
  const other = await makeCertificates({ keyType: 'rsa' })
  const origin = await httpsServer(t, { key: certs.key, cert: certs.cert }, (_req, res) => res.end('never'))
  const proxy = await startConnectProxy(t)
  const wrongCa = new Agent({ proxy: proxy.url, tls: { ca: other.ca }, retry: false })
  const wrongPin = new Agent({ proxy: proxy.url, tls: { ca: certs.ca, pins: [spkiPin(other.cert)] }, retry: false })
  t.teardown(() => Promise.all([wrongCa.destroy(), wrongPin.destroy()]))
  const e1 = await wrongCa.request({ url: `https://localhost:${origin.port}/` }).catch((e: unknown) => e as Error)
  t.match(e1, { code: 'WP_TLS_VERIFY' })
  const e2 = await wrongPin.request({ url: `https://localhost:${origin.port}/` }).catch((e: unknown) => e as Error)
  t.match(e2, { code: 'WP_TLS_PIN_MISMATCH' })
  t.equal(proxy.tunnels(), 2)
  t.equal((e1 as { origin?: string }).origin, `https://localhost:${origin.port}`, 'the error is the origin\'s, not the proxy\'s')
})
