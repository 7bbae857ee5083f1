/**
 * Test certificates, generated at run time (no key is ever committed): a CA, a server
 * certificate for localhost / 127.0.0.1 / ::1 signed by it, a client certificate for
 * mutual TLS, and the broken variants verification must reject. Generated once per
 * process and key type, since key generation is the slow part (RSA especially).
 */
import { createHash, X509Certificate } from 'node:crypto'
import { generate } from 'selfsigned'

export interface KeyCert {
  key: string
  cert: string
}

export interface TestCertificates {
  /** CA certificate (PEM) to pass as `ca`. */
  ca: string
  /** CA private key, for tests that need to sign more certificates. */
  caKey: string
  /** Server key and certificate for localhost, 127.0.0.1 and ::1, signed by `ca`. */
  key: string
  cert: string
  /** Client certificate (clientAuth) signed by `ca`, for servers with requestCert. */
  client: KeyCert
  /** Self-signed localhost certificate: verification fails with DEPTH_ZERO_SELF_SIGNED_CERT. */
  selfSigned: KeyCert
  /** Signed by `ca`, valid for localhost but expired yesterday: CERT_HAS_EXPIRED. */
  expired: KeyCert
  /** Signed by `ca`, valid only for wrong.example: ERR_TLS_CERT_ALTNAME_INVALID. */
  wrongHost: KeyCert
}

export type KeyType = 'ec' | 'rsa'

const DAY = 86_400_000
type SubjectAltName = { type: 2; value: string } | { type: 7; ip: string }
const LOCAL_NAMES: SubjectAltName[] = [
  { type: 2, value: 'localhost' },
  { type: 7, ip: '127.0.0.1' },
  { type: 7, ip: '::1' },
]

const cache = new Map<KeyType, Promise<TestCertificates>>()

/** ECDSA P-256 by default (fast to generate and to handshake); RSA 2048 on request. */
export function makeCertificates(options: { keyType?: KeyType } = {}): Promise<TestCertificates> {
  const keyType = options.keyType ?? 'ec'
  let certs = cache.get(keyType)
  if (certs === undefined) {
    certs = generateAll(keyType)
    cache.set(keyType, certs)
    // A failed generation must not poison later calls.
    certs.catch(() => cache.delete(keyType))
  }
  return certs
}

async function generateAll(keyType: KeyType): Promise<TestCertificates> {
  const now = Date.now()
  const base = { keyType, algorithm: 'sha256' }
  const ca = await generate([{ name: 'commonName', value: 'wirepool test CA' }], {
    ...base,
    notBeforeDate: new Date(now - 7 * DAY),
    notAfterDate: new Date(now + 365 * DAY),
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  })
  const signer = { ca: { key: ca.private, cert: ca.cert } }
  // Leaves are valid from an hour ago, so clock granularity never makes one "not yet valid".
  const validNow = { notBeforeDate: new Date(now - 3_600_000), notAfterDate: new Date(now + 30 * DAY) }
  const expiredDates = { notBeforeDate: new Date(now - 30 * DAY), notAfterDate: new Date(now - DAY) }
  const leaf = (altNames: SubjectAltName[], usage: 'serverAuth' | 'clientAuth') => [
    { name: 'basicConstraints' as const, cA: false, critical: true },
    { name: 'keyUsage' as const, digitalSignature: true, keyEncipherment: keyType === 'rsa', critical: true },
    { name: 'extKeyUsage' as const, [usage]: true },
    // RFC 5280 §4.2.1.6: a subjectAltName extension must hold at least one name.
    ...(altNames.length === 0 ? [] : [{ name: 'subjectAltName' as const, altNames }]),
  ]
  const cn = (value: string) => [{ name: 'commonName', value }]
  const [server, client, wrongHost, expired, selfSigned] = await Promise.all([
    generate(cn('localhost'), { ...base, ...signer, ...validNow, extensions: leaf(LOCAL_NAMES, 'serverAuth') }),
    generate(cn('wirepool test client'), { ...base, ...signer, ...validNow, extensions: leaf([], 'clientAuth') }),
    generate(cn('wrong.example'), {
      ...base,
      ...signer,
      ...validNow,
      extensions: leaf([{ type: 2, value: 'wrong.example' }], 'serverAuth'),
    }),
    generate(cn('localhost'), { ...base, ...signer, ...expiredDates, extensions: leaf(LOCAL_NAMES, 'serverAuth') }),
    generate(cn('localhost'), { ...base, ...validNow, extensions: leaf(LOCAL_NAMES, 'serverAuth') }),
  ])
  const pair = (g: { private: string; cert: string }): KeyCert => ({ key: g.private, cert: g.cert })
  return {
    ca: ca.cert,
    caKey: ca.private,
    key: server.private,
    cert: server.cert,
    client: pair(client),
    selfSigned: pair(selfSigned),
    expired: pair(expired),
    wrongHost: pair(wrongHost),
  }
}

/** RFC 7469 §2.4 pin of a certificate: `sha256/` + base64 of the SHA-256 of its DER SubjectPublicKeyInfo. */
export function spkiPin(certPem: string): string {
  const spki = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' })
  return `sha256/${createHash('sha256').update(spki).digest('base64')}`
}
