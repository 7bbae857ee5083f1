// The "Testing your code" examples of README.md, run as written (apart from tap's asserts).
import t from 'tap'
import { Agent, request, setDefaultAgent, type WirepoolError } from '../../src/index.js'
import { MockAgent } from '../../src/mock/index.js'
import { createTestServer } from '../../src/testing/index.js'

t.test('README: mock example', async (t) => {
  const mock = new MockAgent()
  mock.disableNetConnect()
  mock.get('https://api.test').intercept({ path: '/users/1' }).reply(200, { id: 1, name: 'Ada' })
  const previous = setDefaultAgent(mock)
  t.teardown(() => {
    setDefaultAgent(previous)
    return mock.destroy()
  })

  const res = await request('https://api.test/users/1')
  t.same(await res.body.json(), { id: 1, name: 'Ada' })
  mock.assertNoPendingInterceptors()
})

t.test('README: fault example — a GET is retried after a reset, a POST is not', async (t) => {
  const server = await createTestServer({ protocols: ['http/1.1', 'h2'], tls: true })
  const agent = new Agent({ tls: { ca: server.ca as string } })
  t.teardown(async () => {
    await agent.destroy()
    await server.close()
  })
  server.route('GET', '/warm', { body: 'ok' })
  const resetFirst = (): (() => { status?: number; body?: string; fault?: { kind: 'reset' } }) => {
    let first = true
    return () => (first ? ((first = false), { fault: { kind: 'reset' } }) : { status: 200, body: 'done' })
  }
  server.route('GET', '/report', resetFirst())
  server.route('POST', '/orders', resetFirst())

  await (await agent.request({ url: `${server.origin}/warm` })).body.text() // a kept-alive connection

  const res = await agent.request({ url: `${server.origin}/report` }) // reset, then retried
  t.equal(await res.body.text(), 'done')
  t.equal(server.requests.filter((r) => r.path === '/report').length, 2)

  const err = await agent.request({ url: `${server.origin}/orders`, method: 'POST', body: '{}' }).catch((e: WirepoolError) => e)
  t.equal((err as WirepoolError).code, 'WP_SOCKET_CLOSED') // not retried: POST is not idempotent
  t.equal(server.requests.filter((r) => r.path === '/orders').length, 1)
})
