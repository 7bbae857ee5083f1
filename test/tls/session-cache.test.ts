import type net from 'node:net'
import t, { type Test } from 'tap'
import { connectTls, type TlsConnectOptions } from '../../src/tls/connect.js'
import { TlsSessionCache } from '../../src/tls/session-cache.js'
import { ErrorCode, InvalidArgumentError } from '../../src/errors.js'
import { makeCertificates } from '../support/certs.js'
import { rawServer, tlsServer } from './servers.js'


const certs = await makeCertificates()
const serverCert = { key: certs.key, cert: certs.cert }

/** A cache that counts what the connector stores, so tests wait for that, not for time. */
class WatchedCache extends TlsSessionCache {
  sets = 0
  #waiters: Array<{ count: number; wake: () => void }> = []
  override set(key: string, session: Buffer): void {
    super.set(key, session)
    this.sets++
    this.#waiters = this.#waiters.filter((w) => (this.sets >= w.count ? (w.wake(), false) : true))
  }
  /** Resolves once `count` sessions in total have been stored. */
  stored(count = 1): Promise<void> {
    if (this.sets >= count) return Promise.resolve()
    return new Promise((wake) => this.#waiters.push({ count, wake }))
  }
}

function options(port: number, sessionCache: TlsSessionCache | null, extra: Partial<TlsConnectOptions> = {}): TlsConnectOptions {
  return { host: 'localhost', port, connectTimeout: 5000, alpnProtocols: ['http/1.1'], ca: certs.ca, sessionCache, ...extra }
}

async function connect(t: Test, opts: TlsConnectOptions) {
  const conn = await connectTls(opts)
  t.teardown(() => {
    conn.socket.destroy()
  })
  return conn
}

t.test('LRU behaviour', async (t) => {
  const cache = new TlsSessionCache(2)
  const a = Buffer.from('a')
  const b = Buffer.from('b')
  const c = Buffer.from('c')
  cache.set('a', a)
  cache.set('b', b)
  t.equal(cache.size, 2)
  t.equal(cache.get('a'), a, 'hit refreshes a')
  cache.set('c', c)
  t.equal(cache.size, 2)
  t.equal(cache.get('b'), undefined, 'least recently used entry evicted')
  t.equal(cache.get('a'), a)
  t.equal(cache.get('c'), c)
  cache.set('a', c)
  t.equal(cache.get('a'), c, 'set replaces')
  t.equal(cache.size, 2)
  t.equal(cache.delete('a'), true)
  t.equal(cache.delete('a'), false)
  t.equal(cache.size, 1)
  cache.clear()
  t.equal(cache.size, 0)
  t.equal(new TlsSessionCache().maxEntries, 100, 'default capacity')
  for (const bad of [0, -1, 1.5, Number.NaN]) {
    t.throws(() => new TlsSessionCache(bad), InvalidArgumentError, `maxEntries ${bad}`)
  }
})

for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
  t.test(`${version}: second connect resumes the session`, async (t) => {
    const server = await tlsServer(t, { ...serverCert, minVersion: version, maxVersion: version })
    const cache = new WatchedCache()
    const first = await connect(t, options(server.port, cache))
    t.equal(first.socket.getProtocol(), version)
    t.equal(first.resumed, false, 'first handshake is a full one')
    // TLS 1.3 tickets arrive after the handshake (RFC 8446 §4.6.1); TLS 1.2 before it ends.
    await cache.stored()
    t.equal(cache.size, 1)
    const accepted = server.next()
    const second = await connect(t, options(server.port, cache))
    t.equal(second.resumed, true, 'abbreviated handshake')
    t.equal((await accepted).isSessionReused(), true, 'server agrees')
    t.equal(second.socket.authorized, true)
  })
}

t.test('no cache: no resumption, nothing kept', async (t) => {
  const server = await tlsServer(t, { ...serverCert, maxVersion: 'TLSv1.2' })
  await connect(t, options(server.port, null))
  const second = await connect(t, options(server.port, null))
  t.equal(second.resumed, false)
  t.equal(second.socket.listenerCount('session'), 0)
})

t.test('sessions are keyed by ALPN list, address and verification settings', async (t) => {
  const server = await tlsServer(t, { ...serverCert, maxVersion: 'TLSv1.2' })
  const cache = new WatchedCache()
  await connect(t, options(server.port, cache))
  t.equal(cache.size, 1, 'TLS 1.2 session kept at the end of the handshake')
  const otherAlpn = await connect(t, options(server.port, cache, { alpnProtocols: ['h2', 'http/1.1'] }))
  t.equal(otherAlpn.resumed, false, 'another ALPN list does not resume')
  const byIp = await connect(t, options(server.port, cache, { host: '127.0.0.1' }))
  t.equal(byIp.resumed, false, 'another verified name does not resume')
  const unverified = await connect(t, options(server.port, cache, { rejectUnauthorized: false }))
  t.equal(unverified.resumed, false, 'other verification settings do not resume')
  t.equal(cache.size, 4)
})

t.test('a session is kept only from a verified handshake', async (t) => {
  // A TLS 1.2 session exists before the certificate is checked; none may outlive a rejection.
  const server = await tlsServer(t, { ...certs.selfSigned, maxVersion: 'TLSv1.2' })
  const cache = new WatchedCache()
  await t.rejects(connectTls(options(server.port, cache)), { code: ErrorCode.TLS_VERIFY })
  t.equal(cache.size, 0)
  await connect(t, options(server.port, cache, { rejectUnauthorized: false }))
  t.equal(cache.size, 1, 'an explicitly unverified connection keeps its own session')
})

t.test('a failed handshake with a cached session deletes it', async (t) => {
  // One front port: first handed to a TLS server, then answering in plaintext, which fails
  // the handshake after the TCP connect succeeded.
  const backend = await tlsServer(t, serverCert)
  let mode: 'tls' | 'plaintext' = 'tls'
  const front = await rawServer(t, (socket: net.Socket) => {
    if (mode === 'tls') backend.server.emit('connection', socket)
    else socket.end('HTTP/1.1 400 Bad Request\r\n\r\n')
  })
  const cache = new WatchedCache()
  const first = await connect(t, options(front.port, cache))
  await cache.stored()
  // Closed so its second ticket cannot land in the cache after the deletion under test.
  first.socket.destroy()
  t.equal(cache.size, 1)
  mode = 'plaintext'
  await t.rejects(connectTls(options(front.port, cache)), {
    // plaintext where TLS was expected: a handshake failure (curl 35), not a refused connect
    code: ErrorCode.TLS_HANDSHAKE,
    message: /TLS handshake with localhost:\d+ failed/,
  })
  t.equal(cache.size, 0, 'entry deleted')
})

t.test('tickets received after the handshake keep updating the entry', async (t) => {
  const server = await tlsServer(t, serverCert)
  const cache = new WatchedCache()
  const conn = await connect(t, options(server.port, cache))
  t.equal(conn.socket.getProtocol(), 'TLSv1.3')
  // Node's TLS 1.3 server (OpenSSL) sends two tickets after the handshake; both are stored.
  await cache.stored(2)
  t.equal(cache.size, 1, 'one entry per server')
  t.equal(conn.socket.listenerCount('session'), 0, 'the session listener is gone once both tickets arrived')
})

t.test('a resumed connection reports the certificate its session was established with', async (t) => {
  const server = await tlsServer(t, serverCert)
  const cache = new WatchedCache()
  const first = await connect(t, options(server.port, cache))
  await cache.stored(2)
  t.equal(first.socket.getProtocol(), 'TLSv1.3')
  t.equal(first.resumed, false)
  t.match(first.certificate?.subjectAltName, /DNS:localhost/, 'the full handshake reports the certificate')
  const again = await connect(t, options(server.port, cache))
  t.equal(again.resumed, true, 'resumed')
  t.same(again.certificate, first.certificate, 'the certificate of the session it resumed (a TLS 1.3 resumption sends none)')
})
