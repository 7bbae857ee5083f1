/**
 * `metrics()` parsed by an exact parser of the Prometheus text format 0.0.4
 * (test/support/prometheus.ts), with every figure checked against what the test did.
 */
import t from 'tap'
import { X509Certificate } from 'node:crypto'
import http2 from 'node:http2'
import { Agent } from '../../src/index.js'
import { makeCertificates } from '../support/certs.js'
import { closedPort, httpServer, listenLoopback } from '../support/servers.js'
import { ExpositionError, histogramOf, parseExposition, valueOf } from '../support/prometheus.js'

t.test('the exposition parses and its numbers are what happened', async (t) => {
  const h1 = await httpServer(t, (req, res) => res.end(req.url))
  const certs = await makeCertificates()
  const sessions = new Set<http2.ServerHttp2Session>()
  const h2 = http2.createSecureServer({ key: certs.key, cert: certs.cert }, (req, res) => res.end('h2'))
  h2.on('session', (s) => {
    sessions.add(s)
    s.on('close', () => sessions.delete(s))
  })
  const h2Port = await listenLoopback(t, h2, () => sessions)
  const deadPort = await closedPort()
  const agent = new Agent({ tls: { ca: certs.ca }, maxTotalConnections: 8, retry: false })
  t.teardown(() => agent.destroy())
  const a = h1.origin
  const b = `https://127.0.0.1:${h2Port}`
  const c = `http://127.0.0.1:${deadPort}`
  for (let i = 0; i < 5; i++) await (await agent.request({ url: `${a}/${i}` })).body.text()
  await Promise.all([1, 2, 3].map(async (i) => (await agent.request({ url: `${b}/${i}` })).body.text()))
  await t.rejects(agent.request({ url: `${c}/` }), { code: 'WP_CONNECT_REFUSED' })

  const text = agent.metrics()
  const families = parseExposition(text)
  for (const f of families.values()) {
    t.ok(f.help !== undefined && f.help.length > 0, `${f.name} has HELP`)
    t.ok(f.name.startsWith('wirepool_'), `${f.name} is prefixed`)
  }
  t.equal(families.get('wirepool_requests_total')?.type, 'counter')
  t.equal(families.get('wirepool_connections')?.type, 'gauge')
  t.equal(families.get('wirepool_acquire_seconds')?.type, 'histogram')

  t.equal(valueOf(families, 'wirepool_requests_total', { origin: a, protocol: 'http/1.1' }), 5)
  t.equal(valueOf(families, 'wirepool_requests_reused_total', { origin: a }), 4)
  t.equal(valueOf(families, 'wirepool_reuse_ratio', { origin: a }), 0.8)
  t.equal(valueOf(families, 'wirepool_connections_opened_total', { origin: a }), 1)
  t.equal(valueOf(families, 'wirepool_connections', { origin: a, state: 'idle' }), 1)
  t.equal(valueOf(families, 'wirepool_connections', { origin: a, state: 'busy' }), 0)
  t.equal(valueOf(families, 'wirepool_connections_by_protocol', { origin: a, protocol: 'http/1.1' }), 1)
  const acquireA = histogramOf(families, 'wirepool_acquire_seconds', { origin: a })
  t.equal(acquireA.count, 5, 'one acquisition per request')
  t.ok(acquireA.sum >= 0)

  t.equal(valueOf(families, 'wirepool_requests_total', { origin: b, protocol: 'h2' }), 3)
  t.equal(valueOf(families, 'wirepool_connections_opened_total', { origin: b }), 1, 'three requests multiplexed on one connection')
  t.equal(valueOf(families, 'wirepool_tls_handshakes_total', { origin: b }), 1)
  t.equal(valueOf(families, 'wirepool_tls_resumed_total', { origin: b }), 0)
  t.equal(histogramOf(families, 'wirepool_tls_handshake_seconds', { origin: b }).count, 1)
  const days = valueOf(families, 'wirepool_certificate_days_left', { origin: b })
  const expected = (new Date(new X509Certificate(certs.cert).validTo).getTime() - Date.now()) / 86_400_000
  t.ok(Math.abs(days - expected) < 0.1, `certificate days left ${days} (expected ${expected.toFixed(2)})`)

  t.equal(valueOf(families, 'wirepool_errors_total', { origin: c, kind: 'connect_error', code: 'WP_CONNECT_REFUSED' }), 1)
  t.equal(valueOf(families, 'wirepool_connections_opened_total', { origin: c }), 1)
  t.equal(valueOf(families, 'wirepool_connections_closed_by_reason_total', { origin: c, reason: 'connect-failed:WP_CONNECT_REFUSED' }), 1)

  t.equal(valueOf(families, 'wirepool_agent_connections', {}), 2)
  t.equal(valueOf(families, 'wirepool_agent_connections_max', {}), 8)
  t.equal(valueOf(families, 'wirepool_agent_evictions_total', {}), 0)
})

t.test('the parser rejects what a Prometheus server would reject', async (t) => {
  const bad: Array<[string, string]> = [
    ['x_total{a="1"} 1\nx_total{a="1"} 2\n', 'duplicate series'],
    ['# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n', 'buckets must rise'],
    ['# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n', 'no +Inf bucket'],
    ['# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 1\n', '≠ _count'],
    ['x{a="\\t"} 1\n', 'bad escape'],
    ['x 1\n# TYPE x counter\n', 'TYPE after samples'],
    ['x 1\ny 1\nx{a="2"} 1\n', 'not contiguous'],
    ['x{1a="v"} 1\n', 'bad label name'],
    ['x{a="v",a="w"} 1\n', 'label a twice'],
    ['x one\n', 'bad value'],
    ['# TYPE c counter\nc -1\n', 'counter c is -1'],
    ['x 1', 'end with a line feed'],
  ]
  for (const [input, message] of bad) {
    t.throws(() => parseExposition(input), ExpositionError, JSON.stringify(input))
    t.throws(() => parseExposition(input), { message: new RegExp(message.replace(/[+]/g, '\\+')) })
  }
  const ok = parseExposition('# HELP m a \\\\ b\\n\n# TYPE m gauge\nm{path="C:\\\\x",q="\\"y\\""} NaN\nm{path="z"} -Inf 1395066363000\n')
  t.equal(ok.get('m')?.help, 'a \\ b\n')
  t.same(ok.get('m')?.series[0]?.labels, { path: 'C:\\x', q: '"y"' })
  t.ok(Number.isNaN(ok.get('m')?.series[0]?.value))
  t.equal(ok.get('m')?.series[1]?.value, -Infinity)
})
