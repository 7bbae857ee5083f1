/**
 * Through real proxies: squid (forward proxy + CONNECT, Basic auth via basic_ncsa_auth) and
 * microsocks (SOCKS5 with username/password). Through each: h1 and h2 over TLS with ALPN,
 * plain http, a wss WebSocket, a 64 MiB download checked by sha256, 1,000 requests reusing
 * tunnelled connections, NO_PROXY bypass, a wrong password, and a proxy that is down.
 *
 * The HTTPS-proxy case (TLS to the proxy, then TLS to the origin inside) runs against the
 * in-test node:tls CONNECT proxy of test/proxy/support.ts: Debian's squid is built without
 * `--enable-ssl` (`squid -v`: no https_port) and squid-openssl, which has it, conflicts
 * with squid (`apt-cache show squid-openssl`: Conflicts: squid).
 */
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import http from 'node:http'
import http2 from 'node:http2'
import https from 'node:https'
import type { AddressInfo, Socket } from 'node:net'
import t, { type Test } from 'tap'
import { WebSocketServer } from 'ws'
import { Agent, WebSocket, type MessageData, type ProxyOption } from '../src/index.js'
import { startConnectProxy } from '../test/proxy/support.js'
import { ProxyAuthError, ProxyConnectError } from '../src/errors.js'
import { makeCertificates } from '../test/support/certs.js'
import { fileBytes, freePorts } from './support/nginx.js'
import { which } from './support/which.js'
import { basicNcsaAuth, startMicrosocks, startSquid, type RunningProxy } from './proxy-servers.js'

const USER = 'wire'
const PASSWORD = 'p@ss:w0rd'
const BIG = 64 * 1024 * 1024
const certs = await makeCertificates()

interface Origins {
  h1: string
  h2: string
  plain: string
  wss: string
  ws: string
  bigSha: string
}

/** Listen on 127.0.0.1; teardown destroys the open sockets and closes the server. */
async function listen(t: Test, server: http.Server | https.Server | http2.Http2SecureServer): Promise<number> {
  const sockets = new Set<Socket>()
  server.on('connection', (s: Socket) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(async () => {
    for (const s of sockets) s.destroy()
    await new Promise((resolve) => server.close(resolve))
  })
  return (server.address() as AddressInfo).port
}

async function startOrigins(t: Test): Promise<Origins> {
  const big = fileBytes(BIG)
  const handler: http.RequestListener = (req, res) => {
    if (req.url === '/big') {
      res.writeHead(200, { 'content-length': BIG })
      // Written in 1 MiB slices, with backpressure.
      let offset = 0
      const next = (): void => {
        while (offset < BIG) {
          const slice = big.subarray(offset, offset + 1024 * 1024)
          offset += slice.length
          if (!res.write(slice)) return void res.once('drain', next)
        }
        res.end()
      }
      next()
      return
    }
    res.setHeader('x-saw-proxy-auth', String(req.headers['proxy-authorization'] !== undefined))
    res.end(`${req.httpVersion} ${req.url}`)
  }
  const h1 = await listen(t, https.createServer({ key: certs.key, cert: certs.cert, keepAliveTimeout: 60_000 }, handler))
  const h2server = http2.createSecureServer({ key: certs.key, cert: certs.cert, allowHTTP1: false }, handler as unknown as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void)
  const h2sessions = new Set<http2.ServerHttp2Session>()
  h2server.on('session', (s) => {
    h2sessions.add(s)
    s.on('close', () => h2sessions.delete(s))
  })
  t.teardown(() => {
    for (const s of h2sessions) s.destroy()
  })
  const h2 = await listen(t, h2server)
  const plain = await listen(t, http.createServer({ keepAliveTimeout: 60_000 }, handler))
  const wsHttps = https.createServer({ key: certs.key, cert: certs.cert })
  const wss = new WebSocketServer({ server: wsHttps })
  wss.on('connection', (ws) => ws.on('message', (data, binary) => ws.send(data, { binary })))
  t.teardown(() => {
    for (const c of wss.clients) c.terminate()
    wss.close()
  })
  const wssPort = await listen(t, wsHttps)
  const wsHttp = http.createServer()
  const wsPlain = new WebSocketServer({ server: wsHttp })
  wsPlain.on('connection', (ws) => ws.on('message', (data, binary) => ws.send(data, { binary })))
  t.teardown(() => {
    for (const c of wsPlain.clients) c.terminate()
    wsPlain.close()
  })
  const wsPort = await listen(t, wsHttp)
  return {
    ws: `ws://127.0.0.1:${wsPort}`,
    h1: `https://127.0.0.1:${h1}`,
    h2: `https://127.0.0.1:${h2}`,
    plain: `http://127.0.0.1:${plain}`,
    wss: `wss://127.0.0.1:${wssPort}`,
    bigSha: createHash('sha256').update(big).digest('hex'),
  }
}

interface Kind {
  name: string
  /** The program needed; null for the in-test proxy. */
  binary: string | null
  start: (t: Test) => Promise<RunningProxy>
  /** TLS to the proxy itself (an HTTPS proxy): its CA; also tunnels plain http (it only does CONNECT). */
  proxyCa?: string
  /** The proxy URL with the given credentials. */
  url: (proxy: RunningProxy, user: string, password: string) => string
}

const credentials = { user: USER, password: PASSWORD }
const enc = encodeURIComponent
/** The HTTPS proxy: squid-openssl (https_port) conflicts with Debian's squid, so a node:tls CONNECT proxy. */
const proxyCerts = await makeCertificates({ keyType: 'rsa' })
async function startHttpsProxy(t: Test): Promise<RunningProxy> {
  const p = await startConnectProxy(t, { tls: { key: proxyCerts.key, cert: proxyCerts.cert }, credentials: `${USER}:${PASSWORD}` })
  return { port: p.port, url: p.url, accessLog: async () => '', stop: async () => {} }
}

const kinds: Kind[] = [
  { name: 'squid', binary: 'squid', start: () => startSquid({ credentials }), url: (p, u, pw) => `http://${enc(u)}:${enc(pw)}@127.0.0.1:${p.port}` },
  { name: 'microsocks (socks5)', binary: 'microsocks', start: () => startMicrosocks({ credentials }), url: (p, u, pw) => `socks5://${enc(u)}:${enc(pw)}@127.0.0.1:${p.port}` },
  {
    name: 'an HTTPS proxy (node:tls CONNECT proxy)',
    binary: null,
    start: startHttpsProxy,
    url: (p, u, pw) => `https://${enc(u)}:${enc(pw)}@127.0.0.1:${p.port}`,
    proxyCa: proxyCerts.ca,
  },
  { name: 'microsocks (socks5h)', binary: 'microsocks', start: () => startMicrosocks({ credentials }), url: (p, u, pw) => `socks5h://${enc(u)}:${enc(pw)}@127.0.0.1:${p.port}` },
]

for (const kind of kinds) {
  t.test(`through ${kind.name}`, async (t) => {
    if ((kind.binary !== null && which(kind.binary) === null) || (kind.binary === 'squid' && basicNcsaAuth() === null)) {
      void t.skip(`${kind.binary} not installed`, () => {})
      return
    }
    const proxy = await kind.start(t)
    t.teardown(() => proxy.stop())
    const origins = await startOrigins(t)
    const proxyUrl = kind.url(proxy, USER, PASSWORD)
    const display = proxyUrl.replace(/\/\/[^@]+@/, '//')
    const proxyOption = (url: string): ProxyOption => (kind.proxyCa === undefined ? url : { url, tls: { ca: kind.proxyCa }, tunnel: true })
    const agent = new Agent({ proxy: proxyOption(proxyUrl), tls: { ca: certs.ca }, keepAliveTimeout: 60_000, connections: 4 })
    t.teardown(() => agent.destroy())

    t.test('h1 over TLS (ALPN http/1.1), credentials never reach the origin', async (t) => {
      const h1agent = new Agent({ proxy: proxyOption(proxyUrl), tls: { ca: certs.ca }, allowH2: false })
      t.teardown(() => h1agent.destroy())
      const res = await h1agent.request({ url: `${origins.h1}/one` })
      t.equal(res.protocol, 'http/1.1')
      t.equal(await res.body.text(), '1.1 /one')
      t.equal(res.headers['x-saw-proxy-auth'], 'false')
      t.equal(h1agent.stats().origins[origins.h1]?.proxy, display)
    })

    t.test('h2 over TLS, ALPN end to end', async (t) => {
      const res = await agent.request({ url: `${origins.h2}/two` })
      t.equal(res.protocol, 'h2')
      t.equal(await res.body.text(), '2.0 /two')
    })

    t.test('plain http', async (t) => {
      const res = await agent.request({ url: `${origins.plain}/plain` })
      t.equal(await res.body.text(), '1.1 /plain')
      // squid forwards absolute-form and consumes Proxy-Authorization; SOCKS tunnels.
      t.equal(res.headers['x-saw-proxy-auth'], 'false')
    })

    for (const scheme of ['wss', 'ws'] as const) t.test(`a ${scheme} WebSocket`, async (t) => {
      // ws: through squid is a forwarded absolute-form Upgrade; through SOCKS a tunnel.
      const ws = new WebSocket(`${origins[scheme]}/chat`, { agent })
      ws.binaryType = 'nodebuffer'
      const got = new Promise<MessageData>((resolve, reject) => {
        ws.addEventListener('message', (e) => resolve((e as MessageEvent).data as MessageData))
        ws.addEventListener('error', (e) => reject(new Error(String((e as { message?: string }).message))))
      })
      await new Promise<void>((resolve, reject) => {
        ws.addEventListener('open', () => resolve())
        ws.addEventListener('error', () => reject(new Error('wss did not open')))
      })
      ws.send('through the proxy')
      t.equal(String(await got), 'through the proxy')
      const closed = new Promise((resolve) => ws.addEventListener('close', resolve))
      ws.close(1000)
      await closed
    })

    t.test('64 MiB download, sha256', async (t) => {
      const res = await agent.request({ url: `${origins.h1}/big` })
      const hash = createHash('sha256')
      let bytes = 0
      for await (const chunk of res.body) {
        hash.update(chunk as Buffer)
        bytes += (chunk as Buffer).length
      }
      t.equal(bytes, BIG)
      t.equal(hash.digest('hex'), origins.bigSha)
    })

    t.test('1,000 requests reuse tunnelled connections', async (t) => {
      const reuse = new Agent({ proxy: proxyOption(proxyUrl), tls: { ca: certs.ca }, allowH2: false, connections: 4, keepAliveTimeout: 60_000 })
      t.teardown(() => reuse.destroy())
      let next = 0
      const worker = async (): Promise<void> => {
        while (next < 1000) {
          next++
          const res = await reuse.request({ url: `${origins.h1}/r` })
          await res.body.text()
        }
      }
      await Promise.all([worker(), worker(), worker(), worker()])
      const stats = reuse.stats().origins[origins.h1]
      t.equal(stats?.requests, 1000)
      t.ok((stats?.reuseRate ?? 0) >= 0.99, `reuse rate ${stats?.reuseRate}`)
      t.ok((stats?.connectionsCreated ?? 99) <= 4)
    })

    if (kind.proxyCa === undefined) t.test('NO_PROXY bypass with proxy: env', async (t) => {
      const saved = { ...process.env }
      t.teardown(() => {
        for (const k of ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'ALL_PROXY', 'all_proxy', 'NO_PROXY', 'no_proxy']) {
          if (saved[k] === undefined) delete process.env[k]
          else process.env[k] = saved[k]
        }
      })
      for (const k of ['https_proxy', 'http_proxy', 'all_proxy', 'no_proxy']) delete process.env[k]
      process.env['HTTPS_PROXY'] = proxyUrl
      process.env['NO_PROXY'] = 'example.invalid, 127.0.0.0/8'
      const bypass = new Agent({ proxy: 'env', tls: { ca: certs.ca } })
      process.env['NO_PROXY'] = 'example.invalid'
      const proxied = new Agent({ proxy: 'env', tls: { ca: certs.ca } })
      t.teardown(() => Promise.all([bypass.destroy(), proxied.destroy()]))
      const a = await bypass.request({ url: `${origins.h1}/bypass` })
      await a.body.text()
      const b = await proxied.request({ url: `${origins.h1}/proxied` })
      await b.body.text()
      t.equal(bypass.stats().origins[origins.h1]?.proxy, null, 'NO_PROXY 127.0.0.0/8 went direct')
      t.equal(proxied.stats().origins[origins.h1]?.proxy, display)
      if (kind.binary === 'squid') {
        const log = await proxy.accessLog()
        t.notOk(log.includes('/bypass'), 'squid never saw the bypassed request')
      }
    })

    t.test('a wrong password is WP_PROXY_AUTH', async (t) => {
      const wrong = new Agent({ proxy: proxyOption(kind.url(proxy, USER, 'wrong-password')), tls: { ca: certs.ca }, retry: false })
      t.teardown(() => wrong.destroy())
      const err = await wrong.request({ url: `${origins.h1}/` }).catch((e: unknown) => e as Error)
      t.type(err, ProxyAuthError)
      t.equal((err as ProxyAuthError).code, 'WP_PROXY_AUTH')
      t.notOk((err as Error).message.includes('wrong-password'))
      // Plain http: squid answers the forwarded request itself with a 407 — the same error.
      const plain = await wrong.request({ url: `${origins.plain}/` }).catch((e: unknown) => e as Error)
      t.type(plain, ProxyAuthError)
      t.notOk((plain as Error).message.includes('wrong-password'))
    })

    t.test('the proxy down: the error names the proxy', async (t) => {
      const [port] = (await freePorts(1)) as [number]
      const downUrl = proxyUrl.replace(`:${proxy.port}`, `:${port}`)
      const down = new Agent({ proxy: proxyOption(downUrl), tls: { ca: certs.ca }, retry: false })
      t.teardown(() => down.destroy())
      const err = await down.request({ url: `${origins.h1}/` }).catch((e: unknown) => e as Error)
      t.type(err, ProxyConnectError)
      t.match((err as Error).message, `cannot reach proxy ${display.replace(`:${proxy.port}`, `:${port}`)}`)
      t.notOk((err as Error).message.includes(PASSWORD))
    })
  })
}
