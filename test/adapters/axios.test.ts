/**
 * A third-party client built on node:http, driven through the http-agent adapter: axios takes
 * `httpAgent` / `httpsAgent`, and its traffic then shows in the wirepool agents' stats().
 */
import t from 'tap'
import axios from 'axios'
import { WirepoolHttpAgent, WirepoolHttpsAgent } from '../../src/adapters/http-agent.js'
import { makeCertificates } from '../support/certs.js'
import { httpServer, httpsServer } from '../support/servers.js'

t.test('axios over WirepoolHttpAgent and WirepoolHttpsAgent', async (t) => {
  const srv = await httpServer(t, (req, res) => {
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify({ path: req.url, method: req.method }))
  })
  const httpAgent = new WirepoolHttpAgent({ keepAlive: true })
  t.teardown(() => httpAgent.destroy())
  const client = axios.create({ httpAgent, proxy: false })
  for (let i = 0; i < 3; i++) {
    const res = await client.get(`${srv.origin}/items/${i}`)
    t.same(res.data, { path: `/items/${i}`, method: 'GET' })
  }
  const posted = await client.post(`${srv.origin}/items`, { name: 'x' })
  t.same(posted.data, { path: '/items', method: 'POST' })
  const stats = httpAgent.stats().origins[srv.origin]
  t.equal(stats?.requests, 4, 'every axios request went through a wirepool socket')
  t.equal(stats?.connectionsCreated, 1, 'kept alive: one connection')
  t.equal(srv.connections(), 1)

  const certs = await makeCertificates()
  const secure = await httpsServer(t, { key: certs.key, cert: certs.cert }, (_req, res) => res.end('secure'))
  const httpsAgent = new WirepoolHttpsAgent({ keepAlive: true, tls: { ca: certs.ca } })
  t.teardown(() => httpsAgent.destroy())
  const res = await axios.get(`${secure.origin}/`, { httpsAgent, proxy: false, responseType: 'text' })
  t.equal(res.data, 'secure')
  t.equal(httpsAgent.stats().origins[secure.origin]?.tlsHandshakes, 1, 'the TLS handshake was wirepool’s')
})
