import t, { type Test } from 'tap'
import { Agent, CloseEvent, ErrorEvent, WebSocket } from '../../src/index.js'
import { createTestServer, type TestServer } from '../../src/testing/index.js'

function closeAfter(t: Test, server: TestServer, agent: Agent): void {
  t.teardown(async () => {
    await agent.destroy()
    await server.close()
  })
}


const cases = [
  { name: 'h1 over TLS', options: { protocols: ['http/1.1'] as const, tls: true }, agent: { allowH2: false }, protocol: 'http/1.1' },
  { name: 'h2 over TLS', options: { protocols: ['http/1.1', 'h2'] as const, tls: true }, agent: {}, protocol: 'h2' },
  { name: 'h1 cleartext', options: { protocols: ['http/1.1'] as const, tls: false }, agent: {}, protocol: 'http/1.1' },
  { name: 'h2c (prior knowledge, sniffed beside h1)', options: { protocols: ['http/1.1', 'h2c'] as const, tls: false }, agent: { h2c: true }, protocol: 'h2' },
  { name: 'h1 beside h2c', options: { protocols: ['http/1.1', 'h2c'] as const, tls: false }, agent: {}, protocol: 'http/1.1' },
] as const

for (const c of cases) {
  t.test(`routes, bodies, trailers, recording: ${c.name}`, async (t) => {
    const server = await createTestServer({ protocols: [...c.options.protocols], tls: c.options.tls })
    const agent = new Agent({ ...c.agent, ...(server.ca === undefined ? {} : { tls: { ca: server.ca } }) })
    closeAfter(t, server, agent)
    server.route('GET', '/hello', { status: 200, headers: { 'x-a': '1' }, body: 'hello' })
    server.route('POST', '/orders', async (req) => ({ status: 201, body: `got ${req.body.toString()}` }))
    server.route('GET', '/trailers', { body: 'with trailers', trailers: { 'x-checksum': 'abc' } })

    const a = await agent.request({ url: `${server.origin}/hello?x=1`, headers: { 'x-test': 'yes' } })
    t.equal(a.status, 200)
    t.equal(a.protocol, c.protocol)
    t.equal(a.headers['x-a'], '1')
    t.equal(await a.body.text(), 'hello')

    const b = await agent.request({ url: `${server.origin}/orders`, method: 'POST', body: 'one' })
    t.equal(b.status, 201)
    t.equal(await b.body.text(), 'got one')

    const tr = await agent.request({ url: `${server.origin}/trailers` })
    t.equal(await tr.body.text(), 'with trailers')
    t.same(await tr.trailers, { 'x-checksum': 'abc' })

    const missing = await agent.request({ url: `${server.origin}/nope` })
    t.equal(missing.status, 404)
    await missing.body.text()

    t.equal(server.requests.length, 4)
    const [first, second] = server.requests
    t.match(first, { method: 'GET', path: '/hello?x=1', protocol: c.protocol, connectionId: 1, headers: { 'x-test': 'yes' } })
    t.match(second, { method: 'POST', path: '/orders', protocol: c.protocol, connectionId: 1 })
    t.equal(second?.body.toString(), 'one')
    t.equal(server.connections, 1, 'all requests shared one connection')
  })
}

t.test('websocket: echo, ping/pong, close', async (t) => {
  const server = await createTestServer({ protocols: ['http/1.1'], tls: true, websocket: true })
  const agent = new Agent({ allowH2: false, tls: { ca: server.ca as string } })
  closeAfter(t, server, agent)
  const url = server.origin.replace('https', 'wss') + '/chat'
  const ws = new WebSocket(url, { agent })
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener('open', () => resolve())
    ws.addEventListener('error', (e) => reject((e as ErrorEvent).error ?? new Error('ws error')))
  })
  const echoed = new Promise<unknown>((resolve) => ws.addEventListener('message', (e) => resolve((e as MessageEvent).data)))
  ws.send('ping me')
  t.equal(await echoed, 'ping me')
  const closed = new Promise<number>((resolve) => ws.addEventListener('close', (e) => resolve((e as CloseEvent).code)))
  ws.close(1000)
  t.equal(await closed, 1000)
  t.equal(server.requests[0]?.headers.upgrade, 'websocket')
})

t.test('h1: expect 100-continue is answered; a handler that throws is a 500; drip and delay over h2c', async (t) => {
  const server = await createTestServer({ protocols: ['http/1.1', 'h2c'], tls: false })
  const agent = new Agent({ expectContinueTimeout: 60_000 })
  const h2c = new Agent({ h2c: true })
  t.teardown(() => h2c.destroy())
  closeAfter(t, server, agent)
  server.route('PUT', '/upload', async (req) => ({ status: 200, body: `stored ${req.body.length}` }))
  server.route('GET', '/boom', () => {
    throw new Error('handler bug')
  })
  server.route('GET', '/drip', { body: 'abcdefghij', fault: { kind: 'drip', chunkSize: 3, intervalMs: 5 } })
  const up = await agent.request({ url: `${server.origin}/upload`, method: 'PUT', headers: { expect: '100-continue' }, body: 'x'.repeat(100) })
  t.equal(await up.body.text(), 'stored 100')
  const boom = await agent.request({ url: `${server.origin}/boom` })
  t.equal(boom.status, 500)
  t.match(await boom.body.text(), /handler bug/)
  const drip = await h2c.request({ url: `${server.origin}/drip` })
  t.equal(drip.protocol, 'h2')
  t.equal(await drip.body.text(), 'abcdefghij')
  t.same(server.requests.map((r) => [r.path, r.protocol, r.fault]), [
    ['/upload', 'http/1.1', undefined],
    ['/boom', 'http/1.1', undefined],
    ['/drip', 'h2', 'drip'],
  ])
})

t.test('recording tells how requests shared connections', async (t) => {
  const server = await createTestServer({ protocols: ['h2'], tls: true })
  const agent = new Agent({ tls: { ca: server.ca as string } })
  closeAfter(t, server, agent)
  server.route('GET', /^\/n\//, (req) => ({ body: req.path }))
  const bodies = await Promise.all(Array.from({ length: 10 }, async (_, i) => (await agent.request({ url: `${server.origin}/n/${i}` })).body.text()))
  t.same(bodies.sort(), Array.from({ length: 10 }, (_, i) => `/n/${i}`).sort())
  t.equal(server.requests.length, 10)
  t.same(new Set(server.requests.map((r) => r.connectionId)), new Set([1]), '10 requests shared 1 connection')
  t.same(server.requests.map((r) => r.sequence).sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
})

t.test('connection faults need TLS', async (t) => {
  const server = await createTestServer({ tls: false })
  t.teardown(() => server.close())
  t.throws(() => server.connectionFault({ kind: 'tls-fail' }), /needs a TLS server/)
})
