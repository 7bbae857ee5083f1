import t from 'tap'
import { once } from 'node:events'
import diagnosticsChannel from 'node:diagnostics_channel'
import http from 'node:http'
import https from 'node:https'
import { WirepoolError, type ConnectionEvent } from '../../src/index.js'
import { WirepoolHttpAgent, WirepoolHttpsAgent } from '../../src/adapters/http-agent.js'
import { makeCertificates, spkiPin } from '../support/certs.js'
import { closedPort, httpServer, httpsServer } from '../support/servers.js'

interface Got {
  status: number
  headers: http.IncomingHttpHeaders
  body: string
}

/** One request through node:http, body collected. */
function send(mod: typeof http | typeof https, url: string, options: https.RequestOptions, body?: string | AsyncIterable<string>): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = mod.request(url, options, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }))
      res.on('error', reject)
    })
    req.on('error', reject)
    if (body === undefined || typeof body === 'string') {
      req.end(body)
      return
    }
    void (async () => {
      for await (const chunk of body) if (!req.write(chunk)) await once(req, 'drain')
      req.end()
    })()
  })
}

t.test('http.get over wirepool sockets: keep-alive reuse, stats and lifecycle events', async (t) => {
  const srv = await httpServer(t, (req, res) => res.end(`got ${req.url}`))
  const agent = new WirepoolHttpAgent({ keepAlive: true })
  t.teardown(() => agent.destroy())
  const events: ConnectionEvent[] = []
  agent.on('connection', (e: ConnectionEvent) => events.push(e))
  const published: unknown[] = []
  const onPublish = (e: unknown): void => {
    published.push(e)
  }
  diagnosticsChannel.subscribe('wirepool:connection', onPublish)
  t.teardown(() => diagnosticsChannel.unsubscribe('wirepool:connection', onPublish))

  for (let i = 0; i < 3; i++) {
    const got = await send(http, `${srv.origin}/r${i}`, { agent })
    t.equal(got.body, `got /r${i}`)
    // node:http returns the socket to the agent just after 'end'; wait for the 'free' state.
    while (events.at(-1)?.to !== 'idle') await once(agent, 'connection')
  }
  t.equal(srv.connections(), 1, 'one TCP connection for three requests')
  const stats = agent.stats().origins[srv.origin]
  t.equal(stats?.connectionsCreated, 1)
  t.equal(stats?.requests, 3)
  t.equal(stats?.reused, 2)
  t.same(stats?.connections, { connecting: 0, idle: 1, busy: 0, total: 1 })
  t.same(
    events.map((e) => `${e.from ?? '-'}>${e.to}`),
    ['->connecting', 'connecting>busy', 'busy>idle', 'idle>busy', 'busy>idle', 'idle>busy', 'busy>idle'],
  )
  t.ok(events.every((e) => e.protocol === 'http/1.1' && e.origin === srv.origin && e.id === events[0]?.id))
  t.equal(published.length, events.length, 'the same events on the wirepool:connection channel')

  agent.destroy()
  while (events.at(-1)?.to !== 'closed') await once(agent, 'connection')
  t.equal(agent.stats().origins[srv.origin]?.connectionsClosed, 1)
  t.equal(agent.stats().origins[srv.origin]?.connections.total, 0)
})

t.test('streaming a request body up and a response down', async (t) => {
  const srv = await httpServer(t, async (req, res) => {
    let n = 0
    for await (const chunk of req) n += (chunk as Buffer).length
    res.write(`received ${n} (${req.headers['transfer-encoding']});`)
    res.end('x'.repeat(100_000))
  })
  const agent = new WirepoolHttpAgent({ keepAlive: true })
  t.teardown(() => agent.destroy())
  async function* upload(): AsyncGenerator<string> {
    for (let i = 0; i < 100; i++) yield 'y'.repeat(1000)
  }
  const got = await send(http, `${srv.origin}/up`, { agent, method: 'POST' }, upload())
  t.ok(got.body.startsWith('received 100000 (chunked);'))
  t.equal(got.body.length, 'received 100000 (chunked);'.length + 100_000)
})

t.test('https.get: wirepool TLS with the agent’s CA, and sessions resumed across connections', async (t) => {
  const certs = await makeCertificates()
  const srv = await httpsServer(t, { key: certs.key, cert: certs.cert }, (_req, res) => {
    res.setHeader('connection', 'close')
    res.end('secure')
  })
  const agent = new WirepoolHttpsAgent({ tls: { ca: certs.ca } })
  t.teardown(() => agent.destroy())
  for (let i = 0; i < 3; i++) t.equal((await send(https, `${srv.origin}/`, { agent })).body, 'secure')
  const stats = agent.stats().origins[srv.origin]
  t.equal(stats?.tlsHandshakes, 3)
  t.ok((stats?.tlsResumed ?? 0) >= 1, `resumed ${stats?.tlsResumed} of 3 handshakes`)
  t.equal(srv.connections(), 3)

  // A request's own TLS options win (and, through https.Agent#getName, get their own sockets).
  const viaRequestCa = new WirepoolHttpsAgent()
  t.teardown(() => viaRequestCa.destroy())
  t.equal((await send(https, `${srv.origin}/`, { agent: viaRequestCa, ca: certs.ca })).body, 'secure')
})

t.test('failures reach the request as WirepoolErrors and are counted', async (t) => {
  const certs = await makeCertificates()
  const untrusted = await httpsServer(t, { key: certs.selfSigned.key, cert: certs.selfSigned.cert }, (_req, res) => res.end())
  const tlsAgent = new WirepoolHttpsAgent()
  t.teardown(() => tlsAgent.destroy())
  const tlsErr = await send(https, `${untrusted.origin}/`, { agent: tlsAgent }).catch((e: unknown) => e as WirepoolError)
  t.ok(tlsErr instanceof WirepoolError)
  t.equal((tlsErr as WirepoolError).code, 'WP_TLS_VERIFY')
  t.same(tlsAgent.stats().origins[untrusted.origin]?.errors, { 'connect_error:WP_TLS_VERIFY': 1 })

  const port = await closedPort()
  const agent = new WirepoolHttpAgent()
  t.teardown(() => agent.destroy())
  const refused = await send(http, `http://127.0.0.1:${port}/`, { agent }).catch((e: unknown) => e as WirepoolError)
  t.equal((refused as WirepoolError).code, 'WP_CONNECT_REFUSED')
  const stats = agent.stats().origins[`http://127.0.0.1:${port}`]
  t.equal(stats?.connectionsClosed, 1)
  t.same(stats?.connections, { connecting: 0, idle: 0, busy: 0, total: 0 })

  t.throws(() => new WirepoolHttpAgent({ connectTimeout: -1 }), { code: 'WP_INVALID_ARG' })
})

t.test('https keep-alive reuses a wirepool TLS socket', async (t) => {
  const certs = await makeCertificates()
  const srv = await httpsServer(t, { key: certs.key, cert: certs.cert }, (_req, res) => res.end('ka'))
  const agent = new WirepoolHttpsAgent({ keepAlive: true, tls: { ca: certs.ca } })
  t.teardown(() => agent.destroy())
  const events: ConnectionEvent[] = []
  agent.on('connection', (e: ConnectionEvent) => events.push(e))
  for (let i = 0; i < 2; i++) {
    t.equal((await send(https, `${srv.origin}/`, { agent })).body, 'ka')
    while (events.at(-1)?.to !== 'idle') await once(agent, 'connection')
  }
  const stats = agent.stats().origins[srv.origin]
  t.equal(stats?.requests, 2)
  t.equal(stats?.reused, 1)
  t.equal(stats?.tlsHandshakes, 1)
  t.equal(srv.connections(), 1)
})

t.test('tls.pins: the agent’s SPKI pins are enforced on every connection', async (t) => {
  const certs = await makeCertificates()
  const srv = await httpsServer(t, { key: certs.key, cert: certs.cert }, (_req, res) => res.end('pinned'))
  const good = new WirepoolHttpsAgent({ tls: { ca: certs.ca, pins: [spkiPin(certs.cert)] } })
  t.teardown(() => good.destroy())
  t.equal((await send(https, `${srv.origin}/`, { agent: good })).body, 'pinned', 'the server’s own key passes')

  // The CA vouches for the server, but its key is not the pinned one: no request byte is sent.
  let requests = 0
  srv.server.on('request', () => requests++)
  const wrong = new WirepoolHttpsAgent({ tls: { ca: certs.ca, pins: [spkiPin(certs.client.cert)] } })
  t.teardown(() => wrong.destroy())
  const err = await send(https, `${srv.origin}/`, { agent: wrong }).catch((e: unknown) => e as WirepoolError)
  t.equal((err as WirepoolError).code, 'WP_TLS_PIN_MISMATCH')
  t.equal(requests, 0, 'the request never reached the server')
  t.same(wrong.stats().origins[srv.origin]?.errors, { 'connect_error:WP_TLS_PIN_MISMATCH': 1 })
})
