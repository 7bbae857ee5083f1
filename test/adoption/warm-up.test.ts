/**
 * Warm-up that warms (issue #13): `pool.connect(n)` and `agent.preconnect(origin, n)` open
 * the first connection, wait (bounded) for its TLS 1.3 session ticket, then open the rest,
 * which resume: 1 full handshake and n − 1 resumed, against a real node:https server.
 */
import t, { type Test } from 'tap'
import { Agent, Pool } from '../../src/index.js'
import { makeCertificates } from '../support/certs.js'
import { httpsServer } from '../support/servers.js'

async function server(t: Test) {
  const certs = await makeCertificates()
  const srv = await httpsServer(t, { key: certs.key, cert: certs.cert, minVersion: 'TLSv1.3' }, (_req, res) => res.end('ok'))
  return { srv, ca: certs.ca }
}

t.test('pool.connect(10): one full handshake, nine resumed', async (t) => {
  const { srv, ca } = await server(t)
  const pool = new Pool(srv.origin, { connections: 10, allowH2: false, tls: { ca } })
  t.teardown(() => pool.destroy())
  await pool.connect(10)
  const stats = pool.stats()
  t.equal(stats.connections.idle, 10, 'ten ready connections')
  t.equal(stats.tlsHandshakes, 10)
  t.equal(stats.tlsResumed, 9, 'nine resumed the first one’s session')
})

t.test('agent.preconnect(origin, 1), then a burst: the burst’s new connections resume', async (t) => {
  const { srv, ca } = await server(t)
  const agent = new Agent({ connections: 10, allowH2: false, tls: { ca } })
  t.teardown(() => agent.destroy())
  await agent.preconnect(srv.origin, 1)
  await Promise.all(Array.from({ length: 50 }, async () => (await agent.request({ url: `${srv.origin}/` })).body.text()))
  const stats = agent.stats().origins[srv.origin]
  t.ok(stats !== undefined && stats.tlsHandshakes > 1, `the burst opened more connections (${stats?.tlsHandshakes})`)
  t.equal(stats?.tlsResumed, (stats?.tlsHandshakes ?? 0) - 1, 'every one after the first resumed')
})

t.test('http: origins and sessionCache false open all at once (nothing to wait for)', async (t) => {
  const { srv, ca } = await server(t)
  const pool = new Pool(srv.origin, { connections: 4, allowH2: false, tls: { ca, sessionCache: false } })
  t.teardown(() => pool.destroy())
  await pool.connect(4)
  t.equal(pool.stats().tlsResumed, 0)
  t.equal(pool.stats().connections.idle, 4)
})
