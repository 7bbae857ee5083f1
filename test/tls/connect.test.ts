import { createHash } from 'node:crypto'
import { once } from 'node:events'
import net from 'node:net'
import tls from 'node:tls'
import t, { type Test } from 'tap'
import { connectTls, type TlsConnectOptions, type TlsConnection } from '../../src/tls/connect.js'
import { secureContextFor, tlsConfigHash } from '../../src/tls/secure-context.js'
import { ConnectRefusedError, ConnectTimeoutError, ErrorCode, TlsHandshakeError, TlsVerifyError } from '../../src/errors.js'
import { makeCertificates, spkiPin } from '../support/certs.js'
import { rawServer, tlsServer } from './servers.js'


const certs = await makeCertificates()
const H1 = ['http/1.1']

function options(port: number, extra: Partial<TlsConnectOptions> = {}): TlsConnectOptions {
  return { host: '127.0.0.1', port, connectTimeout: 5000, alpnProtocols: H1, ca: certs.ca, ...extra }
}

async function connect(t: Test, opts: TlsConnectOptions): Promise<TlsConnection> {
  const conn = await connectTls(opts)
  t.teardown(() => {
    conn.socket.destroy()
  })
  return conn
}

/** The rejection of a connect that must fail. */
async function failure(t: Test, opts: TlsConnectOptions): Promise<unknown> {
  return connectTls(opts).then(
    (conn) => {
      conn.socket.destroy()
      t.fail('connected')
    },
    (err: unknown) => err,
  )
}

const serverCert = { key: certs.key, cert: certs.cert }

t.test('CA-signed server: verified, ALPN, timings, SNI sent for a name', async (t) => {
  const server = await tlsServer(t, { ...serverCert, ALPNProtocols: H1 })
  const accepted = server.next()
  const conn = await connect(t, options(server.port, { host: 'localhost' }))
  const peer = await accepted
  t.equal(conn.socket.authorized, true)
  t.equal(conn.alpnProtocol, 'http/1.1')
  t.equal(conn.socket.getProtocol(), 'TLSv1.3')
  t.equal(conn.resumed, false)
  t.ok(conn.tcpMs >= 0 && conn.tcpMs < 5000, `tcpMs ${conn.tcpMs}`)
  t.ok(conn.tlsMs > 0 && conn.tlsMs < 5000, `tlsMs ${conn.tlsMs}`)
  t.equal(peer.servername, 'localhost', 'SNI carries the host name')
  t.equal(conn.socket.listenerCount('secureConnect'), 0, 'handshake listener removed')
  t.equal(conn.socket.listenerCount('error'), 0, 'error listener removed')
  conn.socket.write('hello')
  const [data] = (await once(peer, 'data')) as [Buffer]
  t.equal(data.toString(), 'hello', 'socket usable after the handshake')
})

t.test('IP literal host: no SNI (RFC 6066 §3), certificate checked against the IP', async (t) => {
  const server = await tlsServer(t, serverCert)
  const accepted = server.next()
  const conn = await connect(t, options(server.port))
  t.equal(conn.socket.authorized, true)
  t.equal((await accepted).servername, false, 'no server_name extension')
})

t.test('IP literal servername is not sent either', async (t) => {
  const server = await tlsServer(t, serverCert)
  const accepted = server.next()
  await connect(t, options(server.port, { host: 'localhost', servername: '127.0.0.1' }))
  t.equal((await accepted).servername, false)
})

t.test('explicit servername with an IP host is sent and verified', async (t) => {
  const server = await tlsServer(t, serverCert)
  const accepted = server.next()
  const conn = await connect(t, options(server.port, { servername: 'localhost' }))
  t.equal(conn.socket.authorized, true)
  t.equal((await accepted).servername, 'localhost')
})

t.test('IPv6 loopback in URL brackets', async (t) => {
  let server
  try {
    server = await tlsServer(t, serverCert, '::1')
  } catch (err) {
    t.plan(0, `IPv6 loopback unavailable: ${(err as Error).message}`)
    return
  }
  const accepted = server.next()
  const conn = await connect(t, options(server.port, { host: '[::1]' }))
  t.equal(conn.socket.authorized, true, 'verified against the ::1 SAN')
  t.equal((await accepted).servername, false)
})

t.test('ALPN: server preference among offered, false when the server has none', async (t) => {
  const h2 = await tlsServer(t, { ...serverCert, ALPNProtocols: ['h2', 'http/1.1'] })
  const picked = await connect(t, options(h2.port, { alpnProtocols: ['http/1.1', 'h2'] }))
  t.equal(picked.alpnProtocol, 'h2')
  const none = await tlsServer(t, serverCert)
  const unset = await connect(t, options(none.port))
  t.equal(unset.alpnProtocol, false)
  const empty = await connect(t, options(h2.port, { alpnProtocols: [] }))
  t.equal(empty.alpnProtocol, false, 'no ALPN offered, none selected')
})

t.test('default trust store rejects a self-signed certificate', async (t) => {
  const server = await tlsServer(t, certs.selfSigned)
  const { ca: _ca, ...noCa } = options(server.port, { origin: `https://127.0.0.1:${server.port}` })
  const err = await failure(t, noCa)
  t.type(err, TlsVerifyError)
  const verify = err as TlsVerifyError
  t.equal(verify.code, ErrorCode.TLS_VERIFY)
  t.equal(verify.reason, 'DEPTH_ZERO_SELF_SIGNED_CERT')
  t.match(verify.message, /DEPTH_ZERO_SELF_SIGNED_CERT/)
  t.equal(verify.origin, `https://127.0.0.1:${server.port}`)
  t.equal((verify.cause as NodeJS.ErrnoException).code, 'DEPTH_ZERO_SELF_SIGNED_CERT')
})

t.test('a CA the client does not trust', async (t) => {
  const server = await tlsServer(t, serverCert)
  const { ca: _ca, ...noCa } = options(server.port)
  t.match(await failure(t, noCa), { code: ErrorCode.TLS_VERIFY, reason: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' })
})

t.test('wrong host name', async (t) => {
  const server = await tlsServer(t, certs.wrongHost)
  const err = await failure(t, options(server.port, { host: 'localhost' }))
  t.type(err, TlsVerifyError)
  t.equal((err as TlsVerifyError).reason, 'ERR_TLS_CERT_ALTNAME_INVALID')
  t.match((err as Error).message, /ERR_TLS_CERT_ALTNAME_INVALID.*localhost/)
})

t.test('expired certificate', async (t) => {
  const server = await tlsServer(t, certs.expired)
  t.match(await failure(t, options(server.port)), { code: ErrorCode.TLS_VERIFY, reason: 'CERT_HAS_EXPIRED' })
})

t.test('rejectUnauthorized: false accepts what verification would refuse', async (t) => {
  const server = await tlsServer(t, certs.selfSigned)
  const conn = await connect(t, options(server.port, { rejectUnauthorized: false }))
  t.equal(conn.socket.authorized, false)
  t.equal(String(conn.socket.authorizationError), 'DEPTH_ZERO_SELF_SIGNED_CERT')
})

t.test('client certificate for a server that requires one (mTLS)', async (t) => {
  const server = await tlsServer(t, { ...serverCert, requestCert: true, rejectUnauthorized: true, ca: certs.ca })
  const accepted = server.next()
  await connect(t, options(server.port, { cert: certs.client.cert, key: certs.client.key }))
  const peer = await accepted
  t.equal(peer.authorized, true, 'server verified the client certificate')
  t.equal(peer.getPeerCertificate().subject.CN, 'wirepool test client')
})

t.test('minVersion', async (t) => {
  const tls12 = await tlsServer(t, { ...serverCert, maxVersion: 'TLSv1.2' })
  const conn = await connect(t, options(tls12.port))
  t.equal(conn.socket.getProtocol(), 'TLSv1.2', 'TLS 1.2 is allowed by default')
  const err = await failure(t, options(tls12.port, { minVersion: 'TLSv1.3' }))
  t.type(err, TlsHandshakeError, 'no common version: WP_TLS_HANDSHAKE')
  t.equal((err as TlsHandshakeError).code, ErrorCode.TLS_HANDSHAKE)
  t.match((err as Error).message, /TLS handshake with 127\.0\.0\.1:\d+ failed: ERR_SSL_/)
  t.match((err as Error).cause, { code: /^ERR_SSL_/ })
})

t.test('handshake timeout: server accepts TCP but never answers', async (t) => {
  const server = await rawServer(t)
  const accepted = server.next()
  const err = await failure(t, options(server.port, { connectTimeout: 100 }))
  t.type(err, ConnectTimeoutError)
  t.equal((err as ConnectTimeoutError).timeoutMs, 100)
  const peer = await accepted
  if (!peer.closed) await once(peer, 'close')
  t.pass('the client closed its socket')
})

t.test('abort during the handshake', async (t) => {
  const controller = new AbortController()
  const reason = new Error('user cancelled')
  const server = await rawServer(t, (socket) => {
    socket.resume()
    controller.abort(reason)
  })
  const accepted = server.next()
  const err = await failure(t, options(server.port, { signal: controller.signal }))
  t.match(err, { code: ErrorCode.ABORTED, cause: reason })
  const peer = await accepted
  if (!peer.closed) await once(peer, 'close')
  t.pass('the client closed its socket')
})

t.test('abort right after the TCP connect, as the handshake starts', async (t) => {
  const server = await tlsServer(t, serverCert)
  const controller = new AbortController()
  const tlsConnect = tls.connect
  const reason = new Error('late')
  const sockets: tls.TLSSocket[] = []
  const connects = t.capture(tls, 'connect', (...args: Parameters<typeof tls.connect>) => {
    const socket = tlsConnect(...args)
    sockets.push(socket)
    // Registered after the connector's own 'connect' listener: aborts once TCP is up.
    socket.once('connect', () => controller.abort(reason))
    return socket
  })
  const err = await failure(t, options(server.port, { signal: controller.signal }))
  t.match(err, { code: ErrorCode.ABORTED, cause: reason })
  t.equal(connects().length, 1, 'one socket for TCP and TLS')
  t.equal(sockets[0]?.destroyed, true, 'the socket is destroyed')
})

t.test('already-aborted signal never opens a socket', async (t) => {
  const connects = t.capture(net, 'connect', net.connect)
  await t.rejects(connectTls(options(1, { signal: AbortSignal.abort() })), { code: ErrorCode.ABORTED })
  t.equal(connects().length, 0)
})

t.test('peer resets the connection → ConnectRefusedError', async (t) => {
  const server = await rawServer(t, (socket) => socket.resetAndDestroy())
  const err = await failure(t, options(server.port))
  t.type(err, ConnectRefusedError)
  t.match((err as Error).message, /ECONNRESET/)
})

t.test('refused TCP connect surfaces from the TCP layer', async (t) => {
  // A port bound a moment ago and closed again: nothing listens there.
  const probe = net.createServer()
  probe.listen(0, '127.0.0.1')
  await once(probe, 'listening')
  const { port } = probe.address() as net.AddressInfo
  probe.close()
  await once(probe, 'close')
  t.match(await failure(t, options(port)), { code: ErrorCode.CONNECT_REFUSED, message: /ECONNREFUSED/ })
})

t.test('invalid TLS options → InvalidArgumentError before any I/O', async (t) => {
  const connects = t.capture(net, 'connect', net.connect)
  const cases: Array<[string, Partial<TlsConnectOptions> & Record<string, unknown>]> = [
    ['TLS 1.1', { minVersion: 'TLSv1.1' as 'TLSv1.2' }],
    ['empty ALPN name', { alpnProtocols: [''] }],
    ['ALPN name over 255 bytes', { alpnProtocols: ['x'.repeat(256)] }],
    ['ALPN not a list', { alpnProtocols: 'h2' as unknown as string[] }],
    ['empty servername', { servername: '' }],
    ['onread', { onread: { buffer: Buffer.alloc(16), callback: () => true } }],
    ['unparsable certificate', { cert: 'not a certificate', key: certs.client.key }],
    ['key without its certificate', { key: certs.client.key, cert: certs.cert }],
  ]
  for (const [name, patch] of cases) {
    await t.rejects(connectTls({ ...options(443), ...patch } as TlsConnectOptions), { code: ErrorCode.INVALID_ARG }, name)
  }
  t.equal(connects().length, 0, 'no socket opened')
})

t.test('one SecureContext per distinct configuration', async (t) => {
  const server = await tlsServer(t, serverCert)
  // A configuration no other test uses, so the shared cache starts cold for it.
  const ca = [certs.ca, Buffer.from(certs.ca)]
  const created = t.capture(tls, 'createSecureContext', tls.createSecureContext)
  for (let i = 0; i < 3; i++) await connect(t, options(server.port, { ca }))
  t.equal(created().length, 1, 'three connections, one context')
  await connect(t, options(server.port, { ca, minVersion: 'TLSv1.3' }))
  t.equal(created().length, 1, 'another configuration gets its own context')

  t.equal(secureContextFor({ ca: certs.ca }).context, secureContextFor({ ca: Buffer.from(certs.ca) }).context)
  t.equal(tlsConfigHash({}), tlsConfigHash({ minVersion: 'TLSv1.2' }), 'default minVersion hashes as explicit')
  t.not(tlsConfigHash({ ca: ['ab', 'c'] }), tlsConfigHash({ ca: ['a', 'bc'] }), 'element boundaries matter')
  t.not(tlsConfigHash({ ca: certs.ca }), tlsConfigHash({ cert: certs.ca }), 'field names matter')
  t.not(tlsConfigHash({ passphrase: 'a' }), tlsConfigHash({}))
})

t.test('test certificates: RSA variant verifies, spkiPin matches the peer key', async (t) => {
  const rsa = await makeCertificates({ keyType: 'rsa' })
  t.equal(await makeCertificates({ keyType: 'rsa' }), rsa, 'generated once per process')
  t.not(rsa.ca, certs.ca)
  const server = await tlsServer(t, { key: rsa.key, cert: rsa.cert })
  const conn = await connect(t, options(server.port, { ca: rsa.ca }))
  t.equal(conn.socket.authorized, true)
  const peer = conn.socket.getPeerCertificate()
  t.ok((peer.pubkey?.length ?? 0) > 256, 'RSA 2048 public key')
  const pin = `sha256/${createHash('sha256').update(peer.pubkey as Buffer).digest('base64')}`
  t.equal(spkiPin(rsa.cert), pin)
  t.not(spkiPin(certs.cert), pin)
})

t.test('node:net options reach the one TLS socket: lookup, localAddress; Nagle off', async (t) => {
  const server = await tlsServer(t, serverCert)
  const accepted = server.next()
  const looked: string[] = []
  const lookup = ((hostname: string, options: unknown, callback: (err: Error | null, address: string, family: number) => void) => {
    looked.push(hostname)
    callback(null, '127.0.0.1', 4)
  }) as unknown as net.LookupFunction
  const conn = await connect(t, options(server.port, { host: 'wirepool.invalid', servername: 'localhost', lookup, localAddress: '127.0.0.1' }))
  const peer = await accepted
  t.same(looked, ['wirepool.invalid'], 'the custom lookup resolved the TCP host')
  t.equal(peer.remoteAddress, '127.0.0.1')
  t.equal(conn.socket.localAddress, '127.0.0.1')
  t.equal(peer.servername, 'localhost', 'SNI from servername')
  t.equal(conn.socket.authorized, true, 'verified against servername')
  t.equal(conn.socket.listenerCount('connect'), 0, 'TCP connect listener removed')
})
