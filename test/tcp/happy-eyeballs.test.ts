/**
 * Happy Eyeballs v2 (RFC 8305) on loopback: `::1` and 127.0.0.x addresses that either
 * accept, refuse, or black-hole SYNs (blackhole.ts), reached through the `lookup` option,
 * a custom resolver, or the DNS cache over a real UDP DNS server.
 */
import dns from 'node:dns'
import { once } from 'node:events'
import net from 'node:net'
import t, { type Test } from 'tap'
import { connectTcp, connectTcpDetailed } from '../../src/tcp/connect.js'
import { ConnectRefusedError, ConnectTimeoutError, ErrorCode } from '../../src/errors.js'
import { DnsCache } from '../../src/dns/cache.js'
import type { HostResolver } from '../../src/dns/resolution.js'
import { blackHoles, havePython } from './blackhole.js'
import { startDnsServer } from '../support/dns-server.js'
import { makeCertificates } from '../support/certs.js'
import { Pool } from '../../src/index.js'
import https from 'node:https'

if (!(await havePython())) {
  t.comment('python3 is missing: no black-hole listeners, Happy Eyeballs race tests skipped')
  process.exit(0)
}

/** A live listener on `host:port` (port 0: any); accepted sockets are closed at teardown. */
async function live(t: Test, host: string, port = 0): Promise<number> {
  const accepted: net.Socket[] = []
  const server = net.createServer((s) => {
    s.on('error', () => {})
    accepted.push(s)
  })
  server.listen(port, host)
  await once(server, 'listening')
  t.teardown(() => {
    for (const s of accepted) s.destroy()
    server.close()
  })
  return (server.address() as net.AddressInfo).port
}

/** A lookup (dns.lookup signature) answering this list, as --resolve / /etc/hosts would. */
function fixed(addresses: string[]): net.LookupFunction {
  return ((_host: string, _opts: unknown, cb: (e: null, a: dns.LookupAddress[]) => void) =>
    cb(null, addresses.map((address) => ({ address, family: net.isIP(address) })))) as unknown as net.LookupFunction
}

function sockets(calls: object[]): net.Socket[] {
  return calls.map((c) => (c as { returned: net.Socket }).returned)
}

t.test('::1 black-holed, 127.0.0.1 live: IPv4 wins after one Connection Attempt Delay, the IPv6 attempt is destroyed', async (t) => {
  const { port } = await blackHoles(t, ['::1'])
  await live(t, '127.0.0.1', port)
  const connects = t.capture(net, 'connect', net.connect)
  const started = performance.now()
  const { socket } = await connectTcpDetailed({ host: 'dual.test', port, connectTimeout: 5000, lookup: fixed(['::1', '127.0.0.1']), connectionAttemptDelay: 100 })
  const elapsed = performance.now() - started
  t.teardown(() => socket.destroy())
  t.equal(socket.remoteAddress, '127.0.0.1')
  t.ok(elapsed >= 95, `waited the attempt delay before IPv4 (${elapsed.toFixed(0)} ms)`)
  t.ok(elapsed < 1000, 'and not the SYN retransmit (1 s)')
  const made = sockets(connects())
  t.equal(made.length, 2)
  t.equal(made[0]?.destroyed, true, 'the losing IPv6 attempt is closed')
  t.equal(made[1], socket)
})

t.test('§4: families alternate, IPv6 first, each attempt started while the earlier ones still run', async (t) => {
  const { port } = await blackHoles(t, ['::1', '127.0.0.2'])
  await live(t, '127.0.0.1', port)
  const connects = t.capture(net, 'connect', net.connect)
  const { socket } = await connectTcpDetailed({
    host: 'many.test',
    port,
    connectTimeout: 5000,
    // getaddrinfo order (all IPv6 first); the race must interleave it.
    lookup: fixed(['::1', '::1', '127.0.0.2', '127.0.0.1']),
    connectionAttemptDelay: 20,
  })
  t.teardown(() => socket.destroy())
  t.equal(socket.remoteAddress, '127.0.0.1')
  const calls = connects()
  const made = sockets(calls)
  t.same(calls.map((c) => (c as unknown as { args: [{ host: string }] }).args[0].host), ['::1', '127.0.0.2', '::1', '127.0.0.1'], 'v6, v4, v6, v4')
  t.same(made.map((s) => s.destroyed), [true, true, true, false], 'losers destroyed, winner kept')
})

t.test('a refused attempt lets the next start at once (§5), without waiting out the delay', async (t) => {
  // Only 127.0.0.1 listens: ::1 on that port refuses.
  const port = await live(t, '127.0.0.1')
  const started = performance.now()
  const socket = await connectTcp({ host: 'refuse6.test', port, connectTimeout: 2000, lookup: fixed(['::1', '127.0.0.1']), connectionAttemptDelay: 10_000 })
  t.teardown(() => socket.destroy())
  t.equal(socket.remoteAddress, '127.0.0.1')
  t.ok(performance.now() - started < 1000, 'did not wait 10 s')
})

t.test('both live: IPv6 is tried first and only one socket is made', async (t) => {
  const port = await live(t, '::1')
  await live(t, '127.0.0.1', port)
  const connects = t.capture(net, 'connect', net.connect)
  const socket = await connectTcp({ host: 'both.test', port, connectTimeout: 2000, lookup: fixed(['127.0.0.1', '::1']) })
  t.teardown(() => socket.destroy())
  t.equal(socket.remoteAddress, '::1')
  t.equal(connects().length, 1)
})

t.test('the connect timeout covers the whole race and names host, port and every address tried', async (t) => {
  const { port } = await blackHoles(t, ['::1', '127.0.0.2'])
  const connects = t.capture(net, 'connect', net.connect)
  const err = await connectTcp({
    host: 'hole.test',
    port,
    connectTimeout: 150,
    lookup: fixed(['::1', '127.0.0.2']),
    connectionAttemptDelay: 20,
    origin: `http://hole.test:${port}`,
  }).then(
    () => t.fail('connected'),
    (e: unknown) => e,
  )
  t.type(err, ConnectTimeoutError)
  t.equal((err as ConnectTimeoutError).message, `connect timed out after 150 ms to hole.test:${port} (tried ::1, 127.0.0.2)`)
  t.same((err as ConnectTimeoutError).addresses, ['::1', '127.0.0.2'])
  t.equal((err as ConnectTimeoutError).origin, `http://hole.test:${port}`)
  t.ok(sockets(connects()).every((s) => s.destroyed), 'every attempt destroyed')
})

t.test('every address refused → ConnectRefusedError naming them, the OS errors kept', async (t) => {
  const { port } = await (async () => {
    const server = net.createServer()
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const p = (server.address() as net.AddressInfo).port
    await new Promise((r) => server.close(r))
    return { port: p }
  })()
  const err = await connectTcp({ host: 'gone.test', port, connectTimeout: 2000, lookup: fixed(['::1', '127.0.0.1']) }).then(
    () => t.fail('connected'),
    (e: unknown) => e,
  )
  t.type(err, ConnectRefusedError)
  t.equal((err as Error).message, `cannot connect to gone.test:${port}: ECONNREFUSED (tried ::1, 127.0.0.1)`)
  t.type((err as Error).cause, AggregateError)
  t.equal(((err as Error).cause as AggregateError).errors.length, 2)
})

/** A resolver whose two answers the test releases by hand. */
function manual(): HostResolver & { v6(list: string[]): void; v4(list: string[]): void } {
  let r6!: (l: string[]) => void
  let r4!: (l: string[]) => void
  const p6 = new Promise<string[]>((r) => (r6 = r))
  const p4 = new Promise<string[]>((r) => (r4 = r))
  return { resolve: () => ({ v6: p6, v4: p4, cached: false }), v6: (l) => r6(l), v4: (l) => r4(l) }
}

t.test('§3: AAAA first → connects at once without waiting for A', async (t) => {
  const port = await live(t, '::1')
  const resolver = manual()
  const connecting = connectTcp({ host: 'aaaa.test', port, connectTimeout: 2000, resolver })
  resolver.v6(['::1'])
  const socket = await connecting
  t.teardown(() => socket.destroy())
  t.equal(socket.remoteAddress, '::1', 'A never answered')
})

t.test('§3: A first → waits the 50 ms Resolution Delay for AAAA, then goes on IPv4', async (t) => {
  const port = await live(t, '127.0.0.1')
  const resolver = manual()
  const started = performance.now()
  const connecting = connectTcp({ host: 'a.test', port, connectTimeout: 2000, resolver })
  resolver.v4(['127.0.0.1'])
  const socket = await connecting
  t.teardown(() => socket.destroy())
  t.equal(socket.remoteAddress, '127.0.0.1')
  t.ok(performance.now() - started >= 45, 'resolution delay honoured')
})

t.test('§3: A first, AAAA within the Resolution Delay → IPv6 is still tried first', async (t) => {
  const port = await live(t, '::1')
  await live(t, '127.0.0.1', port)
  const resolver = manual()
  const connecting = connectTcp({ host: 'late6.test', port, connectTimeout: 2000, resolver })
  resolver.v4(['127.0.0.1'])
  await new Promise((r) => setImmediate(r))
  resolver.v6(['::1'])
  const socket = await connecting
  t.teardown(() => socket.destroy())
  t.equal(socket.remoteAddress, '::1')
})

t.test('autoSelectFamily: false dials one address at a time', async (t) => {
  const { port } = await blackHoles(t, ['::1'])
  await live(t, '127.0.0.1', port)
  const err = await connectTcp({ host: 'serial.test', port, connectTimeout: 300, autoSelectFamily: false, lookup: fixed(['::1', '127.0.0.1']) }).then(
    () => t.fail('connected'),
    (e: unknown) => e,
  )
  t.match(err, { code: ErrorCode.CONNECT_TIMEOUT, addresses: ['::1'] }, 'stuck on the black hole: no parallel attempt')
})

t.test('end to end over DNS: AAAA (black hole) and A from a UDP DNS server, through the DNS cache', async (t) => {
  const { port } = await blackHoles(t, ['::1'])
  await live(t, '127.0.0.1', port)
  const server = await startDnsServer({ 'svc.test': { a: ['127.0.0.1'], aaaa: ['::1'], ttl: 60 } })
  t.teardown(() => server.close())
  const resolver = new dns.promises.Resolver({ timeout: 2000, tries: 1 })
  resolver.setServers([server.address])
  const cache = new DnsCache({ resolver })
  const first = await connectTcpDetailed({ host: 'svc.test', port, connectTimeout: 3000, resolver: cache, connectionAttemptDelay: 30 })
  t.teardown(() => first.socket.destroy())
  t.equal(first.socket.remoteAddress, '127.0.0.1')
  t.equal(first.dnsCached, false)
  const second = await connectTcpDetailed({ host: 'svc.test', port, connectTimeout: 3000, resolver: cache, connectionAttemptDelay: 30 })
  t.teardown(() => second.socket.destroy())
  t.equal(second.dnsCached, true, 'second connect: both families from the cache')
  t.equal(server.count('A', 'svc.test') + server.count('AAAA', 'svc.test'), 2, 'one query per family in all')
})

t.test('connectionAttemptDelay below 10 ms is refused (RFC 8305 §5)', async (t) => {
  await t.rejects(connectTcp({ host: '127.0.0.1', port: 80, connectTimeout: 1000, connectionAttemptDelay: 5 }), { code: ErrorCode.INVALID_ARG })
})

t.test('https through a Pool: ::1 black-holed, TLS runs over the IPv4 winner (SNI and name check by the origin name)', async (t) => {
  const certs = await makeCertificates()
  const { port } = await blackHoles(t, ['::1'])
  const server = https.createServer({ key: certs.key, cert: certs.cert }, (req, res) => res.end(`tls ${String(req.socket.localAddress)}`))
  const open = new Set<net.Socket>()
  server.on('connection', (s: net.Socket) => {
    open.add(s)
    s.on('close', () => open.delete(s))
  })
  server.listen(port, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => {
    for (const s of open) s.destroy()
    server.close()
  })
  const pool = new Pool(`https://localhost:${port}`, { tls: { ca: certs.ca }, lookup: fixed(['::1', '127.0.0.1']), connectionAttemptDelay: 30, connectTimeout: 3000 })
  t.teardown(() => pool.destroy())
  const res = await pool.request({ path: '/' })
  t.equal(await res.body.text(), 'tls 127.0.0.1')
  t.equal(res.connection.remoteAddress, '127.0.0.1')
})
