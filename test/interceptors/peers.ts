// The two servers the interceptor tests run against: HTTP/1.1 in cleartext and HTTP/2 over
// TLS, each with an Agent that trusts it; both closed when the test ends.
import type { Test } from 'tap'
import { Agent } from '../../src/index.js'
import { createTestServer, type TestServer } from '../../src/testing/index.js'

export interface Peer {
  label: 'h1' | 'h2'
  server: TestServer
  agent: Agent
}

export async function peers(t: Test): Promise<[h1: Peer, h2: Peer]> {
  const h1 = await createTestServer({ tls: false })
  const h2 = await createTestServer({ protocols: ['h2'], tls: true })
  const a1 = new Agent()
  const a2 = new Agent({ tls: { ca: h2.ca as string } })
  t.teardown(async () => {
    await Promise.all([a1.destroy(), a2.destroy()])
    await Promise.all([h1.close(), h2.close()])
  })
  return [
    { label: 'h1', server: h1, agent: a1 },
    { label: 'h2', server: h2, agent: a2 },
  ]
}
