/**
 * The embedded bench server's certificate, made at start-up (no key is ever stored): a CA
 * and a leaf for localhost / 127.0.0.1 / ::1 signed by it, ECDSA P-256 because it is fast to
 * make and to handshake. Made in memory with node:crypto (src/testing/certificates.ts), so
 * an install from the registry, without devDependencies, runs `wirepool bench` without a URL.
 */
import { makeTestCertificates } from '../testing/certificates.js'

export interface ServerCertificate {
  /** CA certificate (PEM): what a client passes as `ca` to verify `cert`. */
  ca: string
  key: string
  cert: string
}

export async function makeServerCertificate(): Promise<ServerCertificate> {
  const { ca, key, cert } = makeTestCertificates()
  return { ca, key, cert }
}
