/**
 * The README's test server block, verbatim between the markers (test/adoption/load.test.ts checks
 * that it is), type-checked under --strict by `npm run typecheck`.
 */

// README ─────────────────────────────────────────────────────────────────────────────────
import { createTestServer } from 'wirepool/testing'
import { Agent } from 'wirepool'

const server = await createTestServer({ protocols: ['http/1.1', 'h2'], tls: true })
const agent = new Agent({ tls: { ca: server.ca } })
const resetFirst = () => {
  let first = true
  return () => (first ? ((first = false), { fault: { kind: 'reset' as const } }) : { status: 200, body: 'done' })
}
server.route('GET', '/warm', { body: 'ok' })
server.route('GET', '/report', resetFirst())
server.route('POST', '/orders', resetFirst())

await (await agent.request({ url: `${server.origin}/warm` })).body.text()   // a kept-alive connection
const res = await agent.request({ url: `${server.origin}/report` })          // reset, retried: 'done'
server.requests.filter((r) => r.path === '/report').length                   // 2
await agent.request({ url: `${server.origin}/orders`, method: 'POST', body: '{}' })
  .catch((err) => err.code)                                                   // 'WP_SOCKET_CLOSED', sent once
await server.close()
// ─────────────────────────────────────────────────────────────────────────────── README
