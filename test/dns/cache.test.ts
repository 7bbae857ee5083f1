import dns from 'node:dns'
import net from 'node:net'
import t, { type Test } from 'tap'
import { DnsCache, isLocalhostName } from '../../src/dns/cache.js'
import { DnsError, ErrorCode } from '../../src/errors.js'
import { connectTcp } from '../../src/tcp/connect.js'
import { startDnsServer, type DnsServer, type ZoneEntry } from '../support/dns-server.js'

async function dnsServer(t: Test, zone: Record<string, ZoneEntry>): Promise<DnsServer> {
  const server = await startDnsServer(zone)
  t.teardown(() => server.close())
  return server
}

function resolverFor(server: DnsServer, timeout = 2000): dns.promises.Resolver {
  const resolver = new dns.promises.Resolver({ timeout, tries: 1 })
  resolver.setServers([server.address])
  return resolver
}

/** A lookup fallback that knows nothing, at once (the system's would ask real DNS). */
const noHosts: net.LookupFunction = (hostname, _options, callback) => {
  callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), '', 0)
}

function clock(start = 1_000_000): { now: () => number; advance(ms: number): void } {
  let time = start
  return { now: () => time, advance: (ms) => void (time += ms) }
}

t.test('answers come from DNS with their TTL and are served from the cache until it runs out', async (t) => {
  const server = await dnsServer(t, { 'svc.test': { a: ['127.0.0.1', '127.0.0.3'], aaaa: ['::1'], ttl: 30 } })
  const time = clock()
  const cache = new DnsCache({ resolver: resolverFor(server), lookup: noHosts, now: time.now })
  t.same(await cache.resolveFamily('svc.test', 4), ['127.0.0.1', '127.0.0.3'])
  t.same(await cache.resolveFamily('svc.test', 6), ['::1'])
  t.equal(server.count('A', 'svc.test'), 1)

  time.advance(29_999)
  const hit = cache.resolveFamily('svc.test', 4)
  t.ok(Array.isArray(hit), 'a fresh entry is the array itself, no promise')
  t.same(hit, ['127.0.0.1', '127.0.0.3'])
  const both = cache.resolve('svc.test')
  t.equal(both.cached, true, 'both families from the cache')
  t.equal(server.count('A', 'svc.test'), 1, 'no query while the TTL runs')

  time.advance(2)
  const expired = cache.resolveFamily('svc.test', 4)
  t.notOk(Array.isArray(expired), 'expired: asked again')
  t.same(await expired, ['127.0.0.1', '127.0.0.3'])
  t.equal(server.count('A', 'svc.test'), 2)
  t.match(cache.stats(), { hits: 3, misses: 3, failures: 0 })
})

t.test('the smallest TTL of the set counts, maxTtl caps it, TTL 0 is not kept', async (t) => {
  const server = await dnsServer(t, { 'zero.test': { a: ['127.0.0.1'], ttl: 0 }, 'long.test': { a: ['127.0.0.1'], ttl: 86_400 } })
  const time = clock()
  const cache = new DnsCache({ resolver: resolverFor(server), lookup: noHosts, now: time.now, maxTtl: 10_000 })
  await cache.resolveFamily('zero.test', 4)
  await cache.resolveFamily('zero.test', 4)
  t.equal(server.count('A', 'zero.test'), 2, 'TTL 0: used for one transaction only (RFC 1035 §3.2.1)')
  await cache.resolveFamily('long.test', 4)
  time.advance(9_999)
  t.ok(Array.isArray(cache.resolveFamily('long.test', 4)))
  time.advance(2)
  const again = cache.resolveFamily('long.test', 4)
  t.notOk(Array.isArray(again), 'a day-long TTL is kept maxTtl only')
  await again
})

t.test('concurrent lookups of one name share one query', async (t) => {
  const server = await dnsServer(t, { 'busy.test': { a: ['127.0.0.1'] } })
  const cache = new DnsCache({ resolver: resolverFor(server), lookup: noHosts })
  const all = await Promise.all(Array.from({ length: 20 }, () => cache.resolveFamily('busy.test', 4)))
  t.equal(all.length, 20)
  for (const answer of all) t.same(answer, ['127.0.0.1'])
  t.equal(server.count('A', 'busy.test'), 1)
  t.match(cache.stats(), { misses: 1, coalesced: 19 })
})

t.test('size is bounded: the least recently used name goes first', async (t) => {
  const server = await dnsServer(t, { 'a.test': { a: ['127.0.0.1'] }, 'b.test': { a: ['127.0.0.2'] }, 'c.test': { a: ['127.0.0.3'] } })
  const cache = new DnsCache({ resolver: resolverFor(server), lookup: noHosts, maxEntries: 2 })
  await cache.resolveFamily('a.test', 4)
  await cache.resolveFamily('b.test', 4)
  t.ok(Array.isArray(cache.resolveFamily('a.test', 4)), 'a used again: b is now the oldest')
  await cache.resolveFamily('c.test', 4)
  t.equal(cache.stats().entries, 2)
  t.ok(Array.isArray(cache.resolveFamily('a.test', 4)), 'a kept')
  const b = cache.resolveFamily('b.test', 4)
  t.notOk(Array.isArray(b), 'b evicted')
  t.same(await b, ['127.0.0.2'])
})

t.test('NODATA for one family is an empty answer, kept negativeTtl', async (t) => {
  const server = await dnsServer(t, { 'v4only.test': { a: ['127.0.0.1'] } })
  const time = clock()
  const cache = new DnsCache({ resolver: resolverFor(server), lookup: noHosts, now: time.now, negativeTtl: 1000 })
  t.same(await cache.resolveFamily('v4only.test', 6), [])
  t.same(cache.resolveFamily('v4only.test', 6), [], 'kept')
  time.advance(1001)
  await cache.resolveFamily('v4only.test', 6)
  t.equal(server.count('AAAA', 'v4only.test'), 2)
})

t.test('NXDOMAIN → the connector fails with WP_DNS naming the host, counted as failures', async (t) => {
  const server = await dnsServer(t, {})
  const cache = new DnsCache({ resolver: resolverFor(server), lookup: noHosts })
  const err = await connectTcp({ host: 'nope.test', port: 80, connectTimeout: 5000, resolver: cache }).then(
    () => t.fail('connected'),
    (e: unknown) => e,
  )
  t.type(err, DnsError)
  t.match(err, { code: ErrorCode.DNS, hostname: 'nope.test', dnsCode: 'ENOTFOUND', message: 'cannot resolve nope.test: ENOTFOUND' })
  t.equal(server.count('A', 'nope.test'), 1)
  t.equal(server.count('AAAA', 'nope.test'), 1)
  t.match(cache.stats(), { notFound: 2, failures: 0 }, 'one per family; the name does not exist, nothing failed')
})

t.test('a DNS server that never answers: the resolver times out → WP_DNS with ETIMEOUT', async (t) => {
  const server = await dnsServer(t, { 'slow.test': { silent: true } })
  const cache = new DnsCache({ resolver: resolverFor(server, 100), lookup: noHosts })
  const err = await connectTcp({ host: 'slow.test', port: 80, connectTimeout: 5000, resolver: cache }).then(
    () => t.fail('connected'),
    (e: unknown) => e,
  )
  t.match(err, { code: ErrorCode.DNS, dnsCode: 'ETIMEOUT', hostname: 'slow.test' })
  t.equal(cache.stats().failures, 2, 'a resolver that does not answer is a failure')
  t.ok(server.count('A', 'slow.test') >= 1)
})

t.test('names DNS does not know fall back to lookup (/etc/hosts); localhost never goes to DNS', async (t) => {
  const server = await dnsServer(t, {})
  const looked: string[] = []
  const hosts: net.LookupFunction = (hostname, options, callback) => {
    looked.push(`${hostname}/${String((options as dns.LookupAllOptions).family)}`)
    if (hostname === 'intranet' && (options as dns.LookupAllOptions).family === 4) {
      ;(callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, [{ address: '127.0.0.1', family: 4 }])
    } else noHosts(hostname, options, callback)
  }
  const time = clock()
  const cache = new DnsCache({ resolver: resolverFor(server), lookup: hosts, now: time.now, hostsTtl: 500 })
  t.same(await cache.resolveFamily('intranet', 4), ['127.0.0.1'])
  t.equal(server.count('A', 'intranet'), 1, 'DNS was asked first')
  t.ok(Array.isArray(cache.resolveFamily('intranet', 4)), 'kept hostsTtl')
  time.advance(501)
  const again = cache.resolveFamily('intranet', 4)
  t.notOk(Array.isArray(again), 'then asked again')
  t.same(await again, ['127.0.0.1'])

  const real = new DnsCache({ resolver: resolverFor(server) })
  const v4 = await real.resolveFamily('localhost', 4)
  t.ok(v4.includes('127.0.0.1'), 'localhost from the system lookup')
  t.equal(server.count('A', 'localhost') + server.count('AAAA', 'localhost'), 0, 'RFC 6761 §6.3: not sent to DNS')
  t.ok(isLocalhostName('api.LOCALHOST.'))
  t.notOk(isLocalhostName('localhost.example'))
})

t.test('cache.lookup has the dns.lookup signature and node:net connects with it', async (t) => {
  const server = await dnsServer(t, { 'svc.test': { a: ['127.0.0.1'] } })
  const cache = new DnsCache({ resolver: resolverFor(server), lookup: noHosts })
  const listener = net.createServer((s) => s.end())
  listener.listen(0, '127.0.0.1')
  await new Promise((r) => listener.once('listening', r))
  t.teardown(() => listener.close())
  const port = (listener.address() as net.AddressInfo).port
  const socket = net.connect({ host: 'svc.test', port, lookup: cache.lookup, autoSelectFamily: false })
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  t.equal(socket.remoteAddress, '127.0.0.1')
  socket.destroy()
  const missing = await new Promise<NodeJS.ErrnoException | null>((resolve) => cache.lookup('gone.test', { all: true }, (err) => resolve(err)))
  t.equal(missing?.code, 'ENOTFOUND')
})

t.test('options are checked', async (t) => {
  t.throws(() => new DnsCache({ maxEntries: 0 }), { code: ErrorCode.INVALID_ARG })
  t.throws(() => new DnsCache({ maxTtl: -1 }), { code: ErrorCode.INVALID_ARG })
})

t.test('SERVFAIL from DNS and nothing from lookup → WP_DNS with ESERVFAIL; EAI_AGAIN from a lookup → WP_DNS', async (t) => {
  const server = await dnsServer(t, { 'broken.test': { servfail: true } })
  const cache = new DnsCache({ resolver: resolverFor(server), lookup: noHosts })
  await t.rejects(connectTcp({ host: 'broken.test', port: 80, connectTimeout: 5000, resolver: cache }), { code: ErrorCode.DNS, dnsCode: 'ESERVFAIL', hostname: 'broken.test' })
  const again: net.LookupFunction = (hostname, _o, cb) => cb(Object.assign(new Error(`getaddrinfo EAI_AGAIN ${hostname}`), { code: 'EAI_AGAIN' }), '', 0)
  await t.rejects(connectTcp({ host: 'flaky.test', port: 80, connectTimeout: 5000, lookup: again }), { code: ErrorCode.DNS, dnsCode: 'EAI_AGAIN', hostname: 'flaky.test' })
})
