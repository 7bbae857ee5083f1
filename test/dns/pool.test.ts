/**
 * Name resolution through a Pool: the `lookup` option, the `dnsCache` option over a real UDP
 * DNS server, its figures in stats() and metrics(), WP_DNS failures, and TLS run over the
 * Happy Eyeballs winner (SNI, verification and session resumption intact).
 */
import dns from 'node:dns'
import type net from 'node:net'
import t, { type Test } from 'tap'
import { DnsCache, ErrorCode, Pool } from '../../src/index.js'
import { startDnsServer, type DnsServer, type ZoneEntry } from '../support/dns-server.js'
import { httpServer, httpsServer } from '../support/servers.js'
import { makeCertificates } from '../support/certs.js'
import { parseExposition, valueOf } from '../support/prometheus.js'

async function dnsServer(t: Test, zone: Record<string, ZoneEntry>): Promise<DnsServer> {
  const server = await startDnsServer(zone)
  t.teardown(() => server.close())
  return server
}

function cacheOver(server: DnsServer): DnsCache {
  const resolver = new dns.promises.Resolver({ timeout: 2000, tries: 1 })
  resolver.setServers([server.address])
  const noHosts: net.LookupFunction = (hostname, _o, cb) => cb(Object.assign(new Error(`ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), '', 0)
  return new DnsCache({ resolver, lookup: noHosts })
}

t.test('dnsCache: one query per family for many connections; hits and misses in stats() and metrics()', async (t) => {
  const server = await httpServer(t, (_req, res) => res.end('ok'))
  const dnsd = await dnsServer(t, { 'svc.test': { a: ['127.0.0.1'], ttl: 300 } })
  const origin = `http://svc.test:${server.port}`
  // One request per connection: every request needs a new connection, hence a resolution.
  const pool = new Pool(origin, { dnsCache: cacheOver(dnsd), maxRequestsPerConnection: 1 })
  t.teardown(() => pool.destroy())
  for (let i = 0; i < 3; i++) {
    const res = await pool.request({ path: '/' })
    t.equal(await res.body.text(), 'ok')
  }
  t.equal(pool.stats().connectionsCreated, 3)
  t.same(pool.stats().dns, { hits: 2, misses: 1, failures: 0 })
  t.equal(dnsd.count('A', 'svc.test'), 1)
  t.equal(dnsd.count('AAAA', 'svc.test'), 1)
  const families = parseExposition(pool.metrics())
  t.equal(valueOf(families, 'wirepool_dns_lookups_total', { origin, result: 'hit' }), 2)
  t.equal(valueOf(families, 'wirepool_dns_lookups_total', { origin, result: 'miss' }), 1)
  t.equal(valueOf(families, 'wirepool_dns_lookups_total', { origin, result: 'failure' }), 0)
})

t.test('an unknown name → WP_DNS from request(), counted as a DNS failure', async (t) => {
  const dnsd = await dnsServer(t, {})
  const pool = new Pool('http://missing.test:8080', { dnsCache: cacheOver(dnsd), retry: false })
  t.teardown(() => pool.destroy())
  await t.rejects(pool.request({ path: '/' }), { code: ErrorCode.DNS, hostname: 'missing.test', dnsCode: 'ENOTFOUND', origin: 'http://missing.test:8080' })
  t.equal(pool.stats().dns.failures, 1)
  t.equal(pool.stats().errors['connect_error:WP_DNS'], 1)
})

t.test('the lookup option resolves the origin name (bring your own resolver)', async (t) => {
  const server = await httpServer(t, (req, res) => res.end(String(req.headers.host)))
  const asked: string[] = []
  const lookup = ((hostname: string, _o: unknown, cb: (e: null, a: dns.LookupAddress[]) => void) => {
    asked.push(hostname)
    cb(null, [{ address: '127.0.0.1', family: 4 }])
  }) as unknown as net.LookupFunction
  const pool = new Pool(`http://api.internal:${server.port}`, { lookup })
  t.teardown(() => pool.destroy())
  const res = await pool.request({ path: '/' })
  t.equal(await res.body.text(), `api.internal:${server.port}`, 'Host is the origin')
  t.same(asked, ['api.internal'])
  t.same(pool.stats().dns, { hits: 0, misses: 0, failures: 0 }, 'no cache: nothing counted')
  t.throws(() => new Pool('http://a', { lookup: 'dns' as unknown as net.LookupFunction }), { code: ErrorCode.INVALID_ARG })
})

t.test('https through the race: SNI and verification by name, TLS session resumed on the next connection', async (t) => {
  const certs = await makeCertificates()
  const server = await httpsServer(t, { key: certs.key, cert: certs.cert }, (_req, res) => res.end('secure'))
  const origin = `https://localhost:${server.port}`
  // localhost never goes to DNS (RFC 6761 §6.3): the system lookup answers, the cache keeps it.
  const pool = new Pool(origin, { dnsCache: new DnsCache(), tls: { ca: certs.ca }, maxRequestsPerConnection: 1, allowH2: false })
  t.teardown(() => pool.destroy())
  const first = await pool.request({ path: '/' })
  t.equal(await first.body.text(), 'secure')
  const second = await pool.request({ path: '/' })
  t.equal(await second.body.text(), 'secure')
  t.equal(second.connection.tlsResumed, true, 'session resumption still works over the raced socket')
  t.same(pool.stats().dns, { hits: 1, misses: 1, failures: 0 })
  t.equal(pool.stats().tlsHandshakes, 2)
})

t.test('option checks', async (t) => {
  t.throws(() => new Pool('http://a', { connectionAttemptDelay: 5 }), { code: ErrorCode.INVALID_ARG, message: /RFC 8305/ })
  t.throws(() => new Pool('http://a', { dnsCache: 'yes' as unknown as boolean }), { code: ErrorCode.INVALID_ARG })
  t.throws(() => new Pool('http://a', { dnsCache: { maxEntries: -1 } }), { code: ErrorCode.INVALID_ARG })
})

t.test('a TLS handshake that never comes: the timeout is the whole connectTimeout and names the address reached', async (t) => {
  const net = await import('node:net')
  const held = new Set<import('node:net').Socket>()
  // Accepts TCP, never answers the ClientHello.
  const server = net.createServer((s) => {
    held.add(s)
    s.on('error', () => {})
  })
  server.listen(0, '127.0.0.1')
  await new Promise((r) => server.once('listening', r))
  t.teardown(() => {
    for (const s of held) s.destroy()
    server.close()
  })
  const port = (server.address() as import('node:net').AddressInfo).port
  const pool = new Pool(`https://localhost:${port}`, { connectTimeout: 200, retry: false, lookup: ((_h: string, _o: unknown, cb: (e: null, a: dns.LookupAddress[]) => void) => cb(null, [{ address: '127.0.0.1', family: 4 }])) as unknown as net.LookupFunction })
  t.teardown(() => pool.destroy())
  await t.rejects(pool.request({ path: '/' }), {
    code: ErrorCode.CONNECT_TIMEOUT,
    message: `connect timed out after 200 ms to localhost:${port} (TLS handshake) (tried 127.0.0.1)`,
    timeoutMs: 200,
  })
})
