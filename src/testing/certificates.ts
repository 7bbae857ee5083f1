/**
 * Certificates made in memory with `node:crypto` only (no runtime dependency): a CA and a
 * server certificate for `localhost`, `127.0.0.1` and `::1` signed by it, ECDSA P-256 with
 * SHA-256 (fast to make and to handshake). The TBSCertificate (RFC 5280 §4.1) is written by
 * the small DER writer in `der.ts` and signed with `crypto.sign`; no key ever touches disk.
 *
 * A client trusts `ca`; the server presents `cert` + `key`. The CA's key is kept so a test
 * can sign more certificates (`issueCertificate`).
 */
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto'
import { isIP } from 'node:net'
import { bitString, boolean, explicit, implicitPrimitive, octetString, oid, sequence, set, smallInteger, time, unsignedInteger, utf8String } from './der.js'

const DAY = 86_400_000

/** Object identifiers (RFC 5280 §4.2.1, RFC 5758 §3.2, RFC 5480 §2.1.1). */
const OID = {
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  commonName: '2.5.4.3',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
} as const

export interface KeyPair {
  publicKey: KeyObject
  privateKey: KeyObject
}

export interface IssuedCertificate {
  /** PEM certificate. */
  cert: string
  /** PEM private key (PKCS#8). */
  key: string
  keyPair: KeyPair
}

export interface CertificateOptions {
  commonName: string
  /** DNS names and IP addresses (v4 or v6) for subjectAltName; none for a CA. */
  altNames?: readonly string[]
  /** A CA certificate (basicConstraints cA, keyCertSign). */
  isCa?: boolean
  /** Signer; omitted: self-signed. */
  issuer?: { commonName: string; keyPair: KeyPair }
  notBefore?: Date
  notAfter?: Date
}

export interface TestCertificates {
  /** The CA certificate (PEM): what a client passes as `ca`. */
  ca: string
  /** The CA's key (PEM), for tests that sign more certificates. */
  caKey: string
  /** The server's key and certificate (PEM) for localhost, 127.0.0.1 and ::1. */
  key: string
  cert: string
}

function newKeyPair(): KeyPair {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' })
}

function name(commonName: string): Buffer {
  // Name ::= SEQUENCE OF RelativeDistinguishedName (a SET OF AttributeTypeAndValue).
  return sequence(set(sequence(oid(OID.commonName), utf8String(commonName))))
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return critical ? sequence(oid(id), boolean(true), octetString(value)) : sequence(oid(id), octetString(value))
}

/** RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING's bytes. */
function keyIdentifier(publicKey: KeyObject): Buffer {
  const spki = publicKey.export({ type: 'spki', format: 'der' })
  // For P-256 the point is the last 65 bytes (uncompressed: 0x04 ‖ X ‖ Y).
  return createHash('sha1').update(spki.subarray(spki.length - 65)).digest()
}

function generalName(entry: string): Buffer {
  const family = isIP(entry)
  if (family === 0) return implicitPrimitive(2, Buffer.from(entry, 'ascii')) // dNSName [2] IA5String
  // iPAddress [7] OCTET STRING: 4 or 16 bytes in network order.
  return implicitPrimitive(7, ipBytes(entry, family))
}

function ipBytes(address: string, family: number): Buffer {
  if (family === 4) return Buffer.from(address.split('.').map(Number))
  const [head = '', tail = ''] = address.split('::')
  const headGroups = head === '' ? [] : head.split(':')
  const tailGroups = address.includes('::') ? (tail === '' ? [] : tail.split(':')) : []
  const zeros = 8 - headGroups.length - tailGroups.length
  const groups = [...headGroups, ...Array.from({ length: zeros }, () => '0'), ...tailGroups]
  const out = Buffer.alloc(16)
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2))
  return out
}

/** One X.509 v3 certificate, signed by its issuer (or itself). */
export function issueCertificate(options: CertificateOptions): IssuedCertificate {
  const keyPair = newKeyPair()
  const now = Date.now()
  const issuerName = options.issuer?.commonName ?? options.commonName
  const signer = options.issuer?.keyPair ?? keyPair
  const algorithm = sequence(oid(OID.ecdsaWithSha256)) // RFC 5758 §3.2: parameters absent
  const serial = randomBytes(16)
  serial[0] = (serial[0] as number) & 0x7f // positive, 16 bytes at most (RFC 5280 §4.1.2.2)
  // keyUsage bits (RFC 5280 §4.2.1.3): digitalSignature(0), keyCertSign(5), cRLSign(6);
  // BIT STRING bytes are MSB-first, trailing zero bits counted as unused.
  const keyUsage = options.isCa === true ? bitString(Buffer.from([0x86]), 1) : bitString(Buffer.from([0x80]), 7)
  const extensions = [
    extension(OID.basicConstraints, true, options.isCa === true ? sequence(boolean(true)) : sequence()),
    extension(OID.keyUsage, true, keyUsage),
    extension(OID.subjectKeyIdentifier, false, octetString(keyIdentifier(keyPair.publicKey))),
    extension(OID.authorityKeyIdentifier, false, sequence(implicitPrimitive(0, keyIdentifier(signer.publicKey)))),
  ]
  if (options.isCa !== true) extensions.push(extension(OID.extKeyUsage, false, sequence(oid(OID.serverAuth))))
  const altNames = options.altNames ?? []
  if (altNames.length > 0) extensions.push(extension(OID.subjectAltName, false, sequence(...altNames.map(generalName))))

  const tbs = sequence(
    explicit(0, smallInteger(2)), // version v3
    unsignedInteger(serial),
    algorithm,
    name(issuerName),
    sequence(time(options.notBefore ?? new Date(now - 3_600_000)), time(options.notAfter ?? new Date(now + 30 * DAY))),
    name(options.commonName),
    keyPair.publicKey.export({ type: 'spki', format: 'der' }),
    explicit(3, sequence(...extensions)),
  )
  const signature = sign('sha256', tbs, { key: signer.privateKey, dsaEncoding: 'der' })
  const der = sequence(tbs, algorithm, bitString(signature))
  return { cert: toPem(der), key: keyPair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, keyPair }
}

function toPem(der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? []
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`
}

export const LOCAL_NAMES = ['localhost', '127.0.0.1', '::1'] as const

/** A fresh CA and a server certificate for `names` (default: localhost, 127.0.0.1, ::1). */
export function makeTestCertificates(names: readonly string[] = LOCAL_NAMES): TestCertificates {
  const ca = issueCertificate({ commonName: 'wirepool test CA', isCa: true, notBefore: new Date(Date.now() - DAY) })
  const leaf = issueCertificate({
    commonName: names[0] ?? 'localhost',
    altNames: names,
    issuer: { commonName: 'wirepool test CA', keyPair: ca.keyPair },
  })
  return { ca: ca.cert, caKey: ca.key, key: leaf.key, cert: leaf.cert }
}
