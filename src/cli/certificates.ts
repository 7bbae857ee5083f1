/**
 * The embedded bench server's certificate, made at start-up (no key is ever stored): a CA
 * and a leaf for localhost / 127.0.0.1 / ::1 signed by it, ECDSA P-256 because it is fast to
 * make and to handshake. The same construction as test/support/certs.ts, reduced to what
 * the demo server needs. `selfsigned` is loaded only when a certificate is wanted.
 */
const DAY = 86_400_000

export interface ServerCertificate {
  /** CA certificate (PEM): what a client passes as `ca` to verify `cert`. */
  ca: string
  key: string
  cert: string
}

export async function makeServerCertificate(): Promise<ServerCertificate> {
  let generate: typeof import('selfsigned').generate
  try {
    ;({ generate } = await import('selfsigned'))
  } catch (cause) {
    // A development dependency: present in a clone after `npm install`, not in installs
    // from the registry, where a URL must be given instead.
    throw new Error('the embedded server makes its certificate with the `selfsigned` package, which is not installed: `npm install selfsigned`, or give a URL', { cause })
  }
  const now = Date.now()
  const base = { keyType: 'ec' as const, algorithm: 'sha256' }
  const ca = await generate([{ name: 'commonName', value: 'wirepool bench CA' }], {
    ...base,
    notBeforeDate: new Date(now - DAY),
    notAfterDate: new Date(now + 30 * DAY),
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  })
  const leaf = await generate([{ name: 'commonName', value: 'localhost' }], {
    ...base,
    ca: { key: ca.private, cert: ca.cert },
    // Valid from an hour ago, so clock granularity never makes it "not yet valid".
    notBeforeDate: new Date(now - 3_600_000),
    notAfterDate: new Date(now + 30 * DAY),
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  })
  return { ca: ca.cert, key: leaf.private, cert: leaf.cert }
}
