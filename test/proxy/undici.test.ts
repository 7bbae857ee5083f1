/** undici users' ProxyAgent options through `wirepool/undici`'s proxyDispatcher. */
import t from 'tap'
import { request } from 'undici'
import { proxyAgentOptions, proxyDispatcher } from '../../src/adapters/undici.js'
import { makeCertificates } from '../support/certs.js'
import { httpsServer } from '../support/servers.js'
import { startConnectProxy } from './support.js'

t.test('undici.request through proxyDispatcher({ uri, token, requestTls })', async (t) => {
  const certs = await makeCertificates()
  const origin = await httpsServer(t, { key: certs.key, cert: certs.cert }, (req, res) => res.end(`auth=${req.headers['proxy-authorization'] ?? 'none'}`))
  const proxy = await startConnectProxy(t, { credentials: 'u:p w' })
  const dispatcher = proxyDispatcher({ uri: proxy.url, token: `Basic ${Buffer.from('u:p w').toString('base64')}`, requestTls: { ca: certs.ca } })
  t.teardown(() => dispatcher.close())
  const res = await request(`https://localhost:${origin.port}/`, { dispatcher })
  t.equal(res.statusCode, 200)
  t.equal(await res.body.text(), 'auth=none')
  t.equal(proxy.tunnels(), 1)
  t.equal(dispatcher.agent.stats().origins[`https://localhost:${origin.port}`]?.proxy, proxy.url)
})

t.test('proxyAgentOptions: mapping and loud refusals', async (t) => {
  t.match(proxyAgentOptions('http://p:1'), { proxy: { tunnel: false } })
  t.match(proxyAgentOptions({ uri: 'http://p:1', proxyTunnel: true, connections: 3, proxyTls: { ca: 'x' } }), { connections: 3, proxy: { tunnel: true, tls: { ca: 'x' } } })
  t.throws(() => proxyAgentOptions({ uri: 'http://p:1', token: 'Bearer abc' }), { code: 'WP_INVALID_ARG' })
  t.throws(() => proxyAgentOptions({ uri: 'http://p:1', headers: { 'x-a': '1' } }), { code: 'WP_INVALID_ARG' })
  t.throws(() => proxyAgentOptions({ uri: 'http://p:1', clientFactory: () => null }), { code: 'WP_INVALID_ARG' })
})
