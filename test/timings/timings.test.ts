// res.timings (src/timings.ts) against real loopback servers: HTTP/1.1 and HTTP/2, cleartext
// and TLS, a name looked up, a reused connection, a streamed body, a retry, a CONNECT proxy,
// the `wirepool:request` channel, dispatch()'s ConnectionInfo and onRequestSent, the mock.
import diagnosticsChannel from 'node:diagnostics_channel'
import type { LookupFunction } from 'node:net'
import t from 'tap'
import type { Test } from 'tap'
import { Agent, DelegatingHandler, Pool, type ConnectionInfo, type Interceptor, type RequestEvent, type RequestTimings, type WirepoolError } from '../../src/index.js'
import { MockAgent } from '../../src/mock/index.js'
import { createTestServer, type TestServer } from '../../src/testing/index.js'
import { httpServer } from '../support/servers.js'
import { startConnectProxy } from '../proxy/support.js'

/** `localhost` always answers 127.0.0.1 (where the servers listen): a real lookup call, deterministic. */
const lookup: LookupFunction = ((_host: string, _options: unknown, callback: (err: null, addresses: Array<{ address: string; family: number }>) => void) => {
  setImmediate(() => callback(null, [{ address: '127.0.0.1', family: 4 }]))
}) as unknown as LookupFunction

/** Every edge that is set comes after the ones before it. */
function assertOrdered(t: Test, timings: RequestTimings, edges: ReadonlyArray<keyof RequestTimings>): void {
  let previous = -Infinity
  let previousName = 'start'
  for (const name of edges) {
    const at = timings[name] as number | undefined
    if (at === undefined) continue
    t.ok(at >= previous, `${name} (${at}) is not earlier than ${previousName} (${previous})`)
    previous = at
    previousName = name
  }
}

const ALL_EDGES = ['connect', 'dns', 'tcp', 'proxy', 'tls', 'dispatched', 'sent', 'firstByte', 'end'] as const

/** The phases of a request whose connection was opened for it add up to its total. */
function assertPhasesAddUp(t: Test, timings: RequestTimings): void {
  const p = timings.phases
  const sum = p.wait + (p.dns ?? 0) + (p.tcp ?? 0) + (p.proxy ?? 0) + (p.tls ?? 0) + (p.request ?? 0) + (p.firstByte ?? 0) + (p.download ?? 0)
  // (the gap between the request's start and the dial's start counts as wait too)
  t.ok(Math.abs(sum - (p.total as number)) < 1e-6, `phases add up to the total: ${sum} vs ${p.total}`)
}

async function testServer(t: Test, protocols: Array<'http/1.1' | 'h2' | 'h2c'>, tls: boolean): Promise<TestServer> {
  const server = await createTestServer({ protocols, tls })
  t.teardown(() => server.close())
  return server
}

for (const protocol of ['http/1.1', 'h2'] as const) {
  t.test(`${protocol} over TLS, by name: every connect phase, then none on the reused connection`, async (t) => {
    const server = await testServer(t, [protocol], true)
    server.route('GET', '/a', { body: 'a'.repeat(1000) })
    const agent = new Agent({ tls: { ca: server.ca as string }, lookup, allowH2: protocol === 'h2' })
    t.teardown(() => agent.destroy())
    const url = `${server.origin.replace('127.0.0.1', 'localhost')}/a`

    const first = await agent.request({ url })
    await first.body.text()
    t.equal(first.protocol, protocol)
    const a = first.timings as RequestTimings
    t.ok(a.start > 0 && a.start <= performance.now(), 'start is a performance.now() time')
    for (const edge of ['connect', 'dns', 'tcp', 'tls', 'sent', 'firstByte', 'end'] as const) t.type(a[edge], 'number', `${edge} is set on a new connection`)
    t.equal(a.proxy, undefined, 'direct: no proxy edge')
    assertOrdered(t, a, ALL_EDGES)
    t.ok((a.connect as number) >= 0, 'the connection was opened for this request, after its start')
    t.ok((a.phases.tls as number) > 0, 'a full TLS handshake takes time')
    t.ok((a.phases.tcp as number) > 0)
    t.ok((a.phases.dns as number) > 0, 'the lookup answered on a later turn')
    t.ok((a.tls as number) <= a.dispatched, 'a request is dispatched once its connection is ready')
    assertPhasesAddUp(t, a)
    t.same(Object.keys(JSON.parse(JSON.stringify(a)) as object).sort(), ['connect', 'dispatched', 'dns', 'end', 'firstByte', 'phases', 'sent', 'start', 'tcp', 'tls'])

    const second = await agent.request({ url })
    await second.body.text()
    t.equal(second.connection.reused, true)
    const b = second.timings as RequestTimings
    t.ok(b.start > a.start)
    for (const edge of ['connect', 'dns', 'tcp', 'proxy', 'tls'] as const) t.equal(b[edge], undefined, `no ${edge} on a reused connection`)
    for (const phase of ['dns', 'tcp', 'proxy', 'tls'] as const) t.equal(b.phases[phase], undefined, `no ${phase} phase on a reused connection`)
    assertOrdered(t, b, ALL_EDGES)
    t.equal(b.phases.wait, b.dispatched, 'nothing was opened for it: all of the time before dispatch is wait')
    assertPhasesAddUp(t, b)
  })
}

t.test('h2c and cleartext HTTP/1.1 to an IP literal: TCP only, no DNS and no TLS edge', async (t) => {
  for (const protocol of ['http/1.1', 'h2c'] as const) {
    const server = await testServer(t, [protocol], false)
    server.route('GET', '/', { body: 'x' })
    const agent = new Agent({ h2c: protocol === 'h2c' })
    t.teardown(() => agent.destroy())
    const res = await agent.request({ url: `${server.origin}/` })
    await res.body.text()
    const timings = res.timings as RequestTimings
    t.equal(res.protocol, protocol === 'h2c' ? 'h2' : 'http/1.1')
    t.equal(timings.dns, undefined, `${protocol}: nothing looked up`)
    t.equal(timings.tls, undefined)
    t.type(timings.tcp, 'number')
    t.ok((timings.phases.tcp as number) > 0)
    assertOrdered(t, timings, ALL_EDGES)
    assertPhasesAddUp(t, timings)
  }
})

t.test('end is undefined until the body has ended, then filled in on the same object', async (t) => {
  let finish: (() => void) | undefined
  const srv = await httpServer(t, (_req, res) => {
    res.writeHead(200, { 'content-length': '10' })
    res.write('hello')
    finish = () => res.end('world')
  })
  const pool = new Pool(srv.origin)
  t.teardown(() => pool.destroy())
  const res = await pool.request({ path: '/' })
  const timings = res.timings as RequestTimings
  t.type(timings.firstByte, 'number')
  t.equal(timings.end, undefined, 'the body has not ended')
  t.equal(timings.phases.download, undefined)
  t.equal(timings.phases.total, undefined)
  const releasedAt = performance.now()
  ;(finish as () => void)()
  t.equal(await res.body.text(), 'helloworld')
  t.ok((timings.end as number) + timings.start >= releasedAt, 'end was taken after the last byte was released')
  t.ok((timings.phases.download as number) > 0)
  assertOrdered(t, timings, ALL_EDGES)
})

t.test('a streamed request body: sent is taken after its last chunk went out (HTTP/1.1 and HTTP/2)', async (t) => {
  for (const protocol of ['http/1.1', 'h2'] as const) {
    const server = await testServer(t, [protocol], true)
    server.route('POST', '/up', (request) => ({ body: `got ${request.body.length}` }))
    const agent = new Agent({ tls: { ca: server.ca as string }, allowH2: protocol === 'h2' })
    t.teardown(() => agent.destroy())
    let releasedAt = 0
    async function* body(): AsyncGenerator<Uint8Array> {
      yield Buffer.from('first ')
      // (a gap the request phase must span, not a synchronisation)
      await new Promise((resolve) => setTimeout(resolve, 20))
      releasedAt = performance.now()
      yield Buffer.from('last')
    }
    const res = await agent.request({ url: `${server.origin}/up`, method: 'POST', body: body() })
    t.equal(await res.body.text(), 'got 10')
    const timings = res.timings as RequestTimings
    t.ok(timings.start + (timings.sent as number) >= releasedAt, `${protocol}: sent after the last chunk`)
    t.ok(timings.start + timings.dispatched < releasedAt, `${protocol}: the request phase spans the body's upload`)
    assertOrdered(t, timings, ALL_EDGES)
  }
})

t.test('an in-memory body over HTTP/2 (END_STREAM on DATA): sent, then the first byte', async (t) => {
  const server = await testServer(t, ['h2'], true)
  server.route('PUT', '/p', { status: 204 })
  const agent = new Agent({ tls: { ca: server.ca as string } })
  t.teardown(() => agent.destroy())
  const res = await agent.request({ url: `${server.origin}/p`, method: 'PUT', body: 'payload' })
  await res.body.text()
  const timings = res.timings as RequestTimings
  t.type(timings.sent, 'number')
  assertOrdered(t, timings, ALL_EDGES)
})

t.test('a retry: the timings describe the last attempt, the first one counts as wait', async (t) => {
  const server = await testServer(t, ['http/1.1'], false)
  server.route('GET', '/warm', { body: 'ok' })
  let first = true
  server.route('GET', '/flaky', () => (first ? ((first = false), { fault: { kind: 'close-idle' } }) : { body: 'done' }))
  const agent = new Agent()
  t.teardown(() => agent.destroy())
  await (await agent.request({ url: `${server.origin}/warm` })).body.text()
  const retried: RequestEvent[] = []
  const onRequest = (message: unknown): void => {
    if ((message as RequestEvent).event === 'retried') retried.push(message as RequestEvent)
  }
  diagnosticsChannel.subscribe('wirepool:request', onRequest)
  t.teardown(() => diagnosticsChannel.unsubscribe('wirepool:request', onRequest))
  const res = await agent.request({ url: `${server.origin}/flaky` })
  t.equal(await res.body.text(), 'done')
  t.equal(retried.length, 1, 'the stale connection failed the first attempt')
  const timings = res.timings as RequestTimings
  t.equal(res.connection.reused, false, 'the retry went on a fresh connection')
  t.type(timings.tcp, 'number', 'whose connect phases it reports')
  t.ok((timings.connect as number) > 0, 'opened after the first attempt failed')
  t.ok(timings.phases.wait > 0)
  assertOrdered(t, timings, ALL_EDGES)
  assertPhasesAddUp(t, timings)
})

t.test('through a CONNECT proxy: TCP to the proxy, the tunnel, then TLS with the origin', async (t) => {
  const server = await testServer(t, ['http/1.1'], true)
  server.route('GET', '/', { body: 'tunnelled' })
  const proxy = await startConnectProxy(t)
  const agent = new Agent({ proxy: proxy.url, tls: { ca: server.ca as string }, allowH2: false })
  t.teardown(() => agent.destroy())
  const res = await agent.request({ url: `${server.origin}/` })
  t.equal(await res.body.text(), 'tunnelled')
  t.equal(proxy.tunnels(), 1)
  const timings = res.timings as RequestTimings
  t.equal(timings.dns, undefined, "the origin's name is the proxy's to resolve")
  for (const edge of ['tcp', 'proxy', 'tls'] as const) t.type(timings[edge], 'number', edge)
  t.ok((timings.phases.proxy as number) > 0, 'the CONNECT took a round trip')
  t.ok((timings.phases.tls as number) > 0)
  assertOrdered(t, timings, ALL_EDGES)
  assertPhasesAddUp(t, timings)
})

t.test('wirepool:request publishes the timings with completed (and failed) events', async (t) => {
  const server = await testServer(t, ['http/1.1'], false)
  server.route('GET', '/ok', { body: 'fine' })
  server.route('GET', '/broken', { fault: { kind: 'close-before-head' } })
  const agent = new Agent({ retry: { attempts: 0 } })
  t.teardown(() => agent.destroy())
  const events: RequestEvent[] = []
  const onRequest = (message: unknown): void => {
    const ev = message as RequestEvent
    if (ev.origin === server.origin) events.push(ev)
  }
  diagnosticsChannel.subscribe('wirepool:request', onRequest)
  t.teardown(() => diagnosticsChannel.unsubscribe('wirepool:request', onRequest))

  const res = await agent.request({ url: `${server.origin}/ok` })
  await res.body.text()
  const completed = events.find((e) => e.event === 'completed')
  t.ok(completed !== undefined)
  t.equal(completed?.timings, res.timings, 'the same object as res.timings')
  t.type(completed?.timings?.end, 'number', 'end is set by the time completed is published')

  const err = (await agent.request({ url: `${server.origin}/broken` }).catch((e: unknown) => e)) as WirepoolError
  t.equal(err.code, 'WP_SOCKET_CLOSED')
  const failed = events.find((e) => e.event === 'failed')
  t.ok(failed !== undefined, 'a failed event')
  t.type(failed?.timings?.dispatched, 'number', 'the timings as far as the request got')
  t.type(failed?.timings?.sent, 'number')
  t.equal(failed?.timings?.firstByte, undefined)
  t.equal(failed?.timings?.end, undefined)
})

t.test('dispatch(): ConnectionInfo.timings, and onRequestSent before the response head', async (t) => {
  const server = await testServer(t, ['h2'], true)
  server.route('GET', '/d', { body: 'dispatched' })
  const agent = new Agent({ tls: { ca: server.ca as string } })
  t.teardown(() => agent.destroy())
  const calls: string[] = []
  let info: ConnectionInfo | undefined
  let sentSeen: number | undefined
  await new Promise<void>((resolve, reject) => {
    agent.dispatch(
      { url: `${server.origin}/d` },
      {
        onConnect(_abort, i) {
          info = i
          calls.push('connect')
        },
        onRequestSent() {
          sentSeen = info?.timings?.sent
          calls.push('sent')
        },
        onHeaders() {
          calls.push('headers')
          return true
        },
        onData() {
          return true
        },
        onComplete() {
          calls.push('complete')
          resolve()
        },
        onError: reject,
      },
    )
  })
  t.same(calls, ['connect', 'sent', 'headers', 'complete'])
  t.type(sentSeen, 'number', 'timings.sent is set before onRequestSent is called')
  const timings = info?.timings as RequestTimings
  t.type(timings.end, 'number')
  t.type(timings.tls, 'number')
  assertOrdered(t, timings, ALL_EDGES)
})

t.test('a throwing onRequestSent fails that request only', async (t) => {
  const server = await testServer(t, ['http/1.1'], false)
  server.route('GET', '/', { body: 'x' })
  const agent = new Agent()
  t.teardown(() => agent.destroy())
  const err = await new Promise<WirepoolError>((resolve) => {
    agent.dispatch(
      { url: `${server.origin}/` },
      {
        onRequestSent() {
          throw new Error('handler bug')
        },
        onHeaders: () => true,
        onData: () => true,
        onComplete: () => resolve(new Error('completed') as WirepoolError),
        onError: resolve,
      },
    )
  })
  t.match(err.message, /handler bug/)
  const res = await agent.request({ url: `${server.origin}/` })
  t.equal(await res.body.text(), 'x', 'the agent goes on')
})

t.test('MockAgent: timings without connect phases', async (t) => {
  const mock = new MockAgent()
  mock.disableNetConnect()
  t.teardown(() => mock.destroy())
  mock.get('https://api.test').intercept({ path: '/' }).reply(200, 'mocked')
  const res = await mock.request({ url: 'https://api.test/' })
  t.equal(await res.body.text(), 'mocked')
  const timings = res.timings as RequestTimings
  t.equal(timings.tcp, undefined)
  for (const edge of ['sent', 'firstByte', 'end'] as const) t.type(timings[edge], 'number', edge)
  assertOrdered(t, timings, ALL_EDGES)
})

t.test('through a composition: an interceptor wrapping the handler passes the timings on', async (t) => {
  const server = await testServer(t, ['http/1.1'], false)
  server.route('GET', '/', { body: 'composed' })
  const agent = new Agent()
  t.teardown(() => agent.destroy())
  let seen: RequestTimings | undefined
  const watch: Interceptor = (dispatch) => (options, handler) =>
    dispatch(options, new (class extends DelegatingHandler {
      override onConnect(abort: (reason?: Error) => void, info: ConnectionInfo): void {
        seen = info.timings
        super.onConnect(abort, info)
      }
    })(handler))
  const res = await agent.compose(watch).request({ url: `${server.origin}/` })
  t.equal(await res.body.text(), 'composed')
  t.ok(res.timings !== undefined)
  t.equal(seen, res.timings, 'the interceptor saw the same object')
  t.type(res.timings?.end, 'number')
})
