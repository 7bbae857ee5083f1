import t, { type Test } from 'tap'
import { Agent, CloseEvent, ErrorEvent, WebSocket } from '../../src/index.js'
import { createTestServer, type TestServer } from '../../src/testing/index.js'
import { BODY, BODY_TIMEOUT, CONNECTION_FAULT_CASES, FAULT_CASES, HEADERS_TIMEOUT, type Proto } from './fault-cases.js'

const DISCOVER = process.env.WP_FAULT_DISCOVER === '1'

async function outcomeOf(run: () => Promise<string>): Promise<string> {
  try {
    return await run()
  } catch (err) {
    return (err as { code?: string }).code ?? String(err)
  }
}

async function attempt(agent: Agent, server: TestServer, method: 'GET' | 'POST', path: string): Promise<string> {
  return outcomeOf(async () => {
    const res = await agent.request({ url: `${server.origin}${path}`, method, ...(method === 'POST' ? { body: 'order' } : {}) })
    const body = await res.body.bytes()
    return res.status === 200 && body.equals(BODY) ? 'ok' : `status ${res.status}, ${body.length} bytes`
  })
}

/** How each transport is set up: h2c is cleartext HTTP/2 with prior knowledge, and expects what h2 does. */
const TRANSPORTS = [
  { name: 'http/1.1', proto: 'http/1.1', server: { protocols: ['http/1.1'], tls: true }, agent: {} },
  { name: 'h2', proto: 'h2', server: { protocols: ['h2'], tls: true }, agent: {} },
  { name: 'h2c', proto: 'h2', server: { protocols: ['h2c'], tls: false }, agent: { h2c: true } },
] as const satisfies ReadonlyArray<{ name: string; proto: Proto; server: object; agent: object }>

for (const { name, proto, server: serverOptions, agent: agentOptions } of TRANSPORTS) {
  for (const c of FAULT_CASES) {
    const expected = c.expect[proto]
    if (expected === undefined && !DISCOVER) continue
    for (const method of ['GET', 'POST'] as const) {
      t.test(`${name} ${c.name} ${method}`, async (t) => {
        const server = await createTestServer({ protocols: [...serverOptions.protocols], tls: serverOptions.tls })
        const tls = server.ca === undefined ? {} : { tls: { ca: server.ca } }
        const agent = new Agent({ ...agentOptions, ...tls, connections: 1, headersTimeout: HEADERS_TIMEOUT, bodyTimeout: BODY_TIMEOUT })
        t.teardown(async () => {
          await agent.destroy()
          await server.close()
        })
        server.route('GET', '/warm', { body: BODY })
        let served = 0
        server.route('*', '/faulty', () => (served++ === 0 ? { body: BODY, fault: c.fault } : { body: BODY }))
        if (c.warm === true) t.equal(await attempt(agent, server, 'GET', '/warm'), 'ok', 'warm-up request')
        const outcome = await attempt(agent, server, method, '/faulty')
        const requests = server.requests.filter((r) => r.path === '/faulty')
        t.ok(requests.every((r) => r.protocol === proto), `over ${proto}`)
        if (DISCOVER) console.log(`| ${c.name} | ${name} | ${method} | ${outcome} | ${requests.length} |`)
        else {
          const want = expected?.[method]
          // A RST sent right behind the first body bytes can reach the client before those
          // bytes are read (it does on Node 24): then the head never arrived, and the connection
          // is closed rather than the body cut short. Both are the documented codes of a reset.
          const resetBehindBytes = proto === 'http/1.1' && (c.fault.kind === 'reset' || c.fault.kind === 'rst-stream') && want?.outcome === 'WP_BODY_INCOMPLETE'
          if (resetBehindBytes && outcome === 'WP_SOCKET_CLOSED') t.same({ outcome, requests: requests.length }, { ...want, outcome: 'WP_SOCKET_CLOSED' })
          else t.same({ outcome, requests: requests.length }, want)
        }
      })
    }
  }
}

for (const proto of ['http/1.1', 'h2'] as const) {
  for (const c of CONNECTION_FAULT_CASES) {
    t.test(`${proto} ${c.name}`, async (t) => {
      const server = await createTestServer({ protocols: proto === 'h2' ? ['h2'] : ['http/1.1'], tls: true })
      const agent = new Agent({ tls: { ca: server.ca as string }, connectTimeout: c.connectTimeout, retry: { attempts: 0 } })
      t.teardown(async () => {
        await agent.destroy()
        await server.close()
      })
      server.route('GET', '/', { body: BODY })
      server.connectionFault(c.fault, 1)
      const outcome = await attempt(agent, server, 'GET', '/')
      if (DISCOVER) console.log(`| ${c.name} | ${proto} | GET | ${outcome} | ${server.requests.length} |`)
      else t.equal(outcome, c.expect)
    })
  }
}

/** Open a WebSocket to `path` and report how it ended: the close code, and the error code if one was emitted. */
async function wsOutcome(server: TestServer, agent: Agent, path: string, options: { pingInterval?: number; pongTimeout?: number }): Promise<{ closeCode: number; error: string | undefined; opened: boolean }> {
  const ws = new WebSocket(server.origin.replace('https:', 'wss:') + path, { agent, ...options })
  let error: string | undefined
  let opened = false
  ws.addEventListener('open', () => {
    opened = true
  })
  ws.addEventListener('error', (e) => {
    error = ((e as ErrorEvent).error as { code?: string } | undefined)?.code
  })
  const closeCode = await new Promise<number>((resolve) => ws.addEventListener('close', (e) => resolve((e as CloseEvent).code)))
  return { closeCode, error, opened }
}

for (const proto of ['http/1.1', 'h2'] as const) {
  const setUp = async (t: Test): Promise<{ server: TestServer; agent: Agent }> => {
    const server = await createTestServer({ protocols: [proto], tls: true, websocket: true })
    const agent = new Agent({ tls: { ca: server.ca as string } })
    t.teardown(async () => {
      await agent.destroy()
      await server.close()
    })
    return { server, agent }
  }

  t.test(`${proto} ws-close: the client sees the server close code`, async (t) => {
    const { server, agent } = await setUp(t)
    server.route('GET', '/ws', { status: 101, fault: { kind: 'ws-close', code: 4001, reason: 'go away' } })
    const outcome = await wsOutcome(server, agent, '/ws', {})
    if (DISCOVER) console.log(`| ws-close 4001 | ${proto} |`, JSON.stringify(outcome))
    t.same(outcome, { closeCode: 4001, error: undefined, opened: true })
    t.equal(server.requests[0]?.protocol, proto)
  })

  t.test(`${proto} ws-no-pong: the heartbeat gives up`, async (t) => {
    const { server, agent } = await setUp(t)
    server.route('GET', '/ws', { status: 101, fault: { kind: 'ws-no-pong' } })
    const outcome = await wsOutcome(server, agent, '/ws', { pingInterval: 50, pongTimeout: 100 })
    if (DISCOVER) console.log(`| ws-no-pong | ${proto} |`, JSON.stringify(outcome))
    t.same(outcome, { closeCode: 1006, error: 'WP_WS_PROTOCOL', opened: true })
    t.equal(server.requests[0]?.protocol, proto)
  })
}
