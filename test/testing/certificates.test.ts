import { once } from 'node:events'
import { X509Certificate, createPrivateKey } from 'node:crypto'
import * as tls from 'node:tls'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { issueCertificate, makeTestCertificates } from '../../src/testing/certificates.js'
import { oid, time, unsignedInteger } from '../../src/testing/der.js'

t.test('DER pieces', async (t) => {
  t.same(oid('1.2.840.10045.4.3.2'), Buffer.from('06082a8648ce3d040302', 'hex'))
  t.same(oid('2.5.29.17'), Buffer.from('0603551d11', 'hex'))
  t.same(unsignedInteger(Buffer.from([0x00, 0x00, 0x80])), Buffer.from('02020080', 'hex'))
  t.same(unsignedInteger(Buffer.from([0x00])), Buffer.from('020100', 'hex'))
  t.same(time(new Date(Date.UTC(2026, 11, 6, 1, 2, 3))).toString('latin1'), '\x17\x0d261206010203Z')
  t.same(time(new Date(Date.UTC(2051, 0, 1, 0, 0, 0))).toString('latin1'), '\x18\x0f20510101000000Z')
})

t.test('the certificates parse and verify with node:crypto', async (t) => {
  const certs = makeTestCertificates()
  const ca = new X509Certificate(certs.ca)
  const leaf = new X509Certificate(certs.cert)
  t.ok(ca.ca, 'CA is a CA')
  t.notOk(leaf.ca, 'leaf is not a CA')
  t.ok(ca.verify(ca.publicKey), 'CA is self-signed')
  t.ok(leaf.checkIssued(ca), 'leaf issued by CA')
  t.ok(leaf.verify(ca.publicKey), 'leaf signature checks with the CA key')
  t.equal(leaf.checkHost('localhost'), 'localhost')
  t.equal(leaf.checkIP('127.0.0.1'), '127.0.0.1')
  t.equal(leaf.checkIP('::1'), '::1')
  t.equal(leaf.checkHost('example.com'), undefined)
  t.ok(leaf.checkPrivateKey(createPrivateKey(certs.key)))
  t.ok(new Date(leaf.validFrom).getTime() < Date.now())
  t.ok(new Date(leaf.validTo).getTime() > Date.now())
  t.match(leaf.subjectAltName, /DNS:localhost/)
  t.match(leaf.subjectAltName, /IP Address:127.0.0.1/)
})

t.test('a real TLS handshake with rejectUnauthorized and that CA', async (t) => {
  const certs = makeTestCertificates()
  const server = tls.createServer({ key: certs.key, cert: certs.cert }, (socket) => socket.end('hello'))
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const port = (server.address() as AddressInfo).port
  for (const servername of ['localhost', undefined]) {
    const socket = tls.connect({ host: '127.0.0.1', port, ca: certs.ca, rejectUnauthorized: true, ...(servername === undefined ? {} : { servername }) })
    await once(socket, 'secureConnect')
    t.ok(socket.authorized, `authorized (${servername ?? 'IP'})`)
    const chunks: Buffer[] = []
    for await (const chunk of socket) chunks.push(chunk as Buffer)
    t.equal(Buffer.concat(chunks).toString(), 'hello')
  }
  // Another CA's certificates are not trusted.
  const other = makeTestCertificates()
  const socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca: other.ca, rejectUnauthorized: true })
  const [err] = (await once(socket, 'error')) as [NodeJS.ErrnoException]
  t.match(err.code, /UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|CERT_SIGNATURE_FAILURE/)
})

t.test('issueCertificate honours validity', async (t) => {
  const expired = issueCertificate({ commonName: 'old', notBefore: new Date(Date.now() - 10 * 86_400_000), notAfter: new Date(Date.now() - 86_400_000) })
  t.ok(new Date(new X509Certificate(expired.cert).validTo).getTime() < Date.now())
})
