/**
 * The operating system's trusted CAs, for `tls: { ca: 'system' }`: what users behind a
 * TLS-inspecting proxy or with an internal CA installed system-wide need.
 *
 * - Node ≥ 22.15 / 23.5 / 24: `tls.getCACertificates('system')` (Node's own reader: the
 *   OpenSSL default file and directory on Linux, honouring SSL_CERT_FILE / SSL_CERT_DIR; the
 *   Keychain on macOS; the certificate store on Windows).
 * - Older Node (20): read here, Linux and other Unix only: `SSL_CERT_FILE` and `SSL_CERT_DIR`
 *   when set (as OpenSSL reads them), else the first bundle found among the distributions'
 *   usual places (the list Go's crypto/x509 root_linux.go also uses). Not supported there:
 *   the macOS Keychain and the Windows store (an error says so).
 *
 * The result is read once per process (a CA bundle is hundreds of certificates) and always
 * added to Node's bundled roots, so `'system'` widens trust, never narrows it.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import tls from 'node:tls'
import { InvalidArgumentError } from '../errors.js'

/** Debian/Ubuntu/Alpine, Fedora/RHEL 6, RHEL 7+, openSUSE, Alpine/BSD, CentOS/RHEL 7 (same order as Go). */
const BUNDLES = [
  '/etc/ssl/certs/ca-certificates.crt',
  '/etc/pki/tls/certs/ca-bundle.crt',
  '/etc/ssl/ca-bundle.pem',
  '/etc/pki/tls/cacert.pem',
  '/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem',
  '/etc/ssl/cert.pem',
]

/** A system bundle is trusted input, but still bounded: no CA store is this large. */
const MAX_BUNDLE_BYTES = 32 * 1024 * 1024
const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g

let cached: string[] | undefined

type GetCACertificates = (type: 'system' | 'bundled') => string[]

/** Node's bundled roots and the system's CAs, PEM, read once. */
export function systemAndBundledCertificates(): string[] {
  cached ??= [...tls.rootCertificates, ...systemCertificates()]
  return cached
}

/** The system store alone (exported for tests and `wirepool get -v`). */
export function systemCertificates(): string[] {
  const fromNode = (tls as unknown as { getCACertificates?: GetCACertificates }).getCACertificates
  if (typeof fromNode === 'function') return fromNode('system')
  return readUnixStore(process.env)
}

/** What OpenSSL on Unix would trust: SSL_CERT_FILE / SSL_CERT_DIR, else the distribution's bundle. */
export function readUnixStore(env: NodeJS.ProcessEnv, bundles: readonly string[] = BUNDLES): string[] {
  if (process.platform === 'win32' || process.platform === 'darwin') {
    throw new InvalidArgumentError(`tls.ca 'system' needs Node >= 22.15 on ${process.platform} (tls.getCACertificates); this is Node ${process.versions.node}`)
  }
  const file = env['SSL_CERT_FILE']
  const dir = env['SSL_CERT_DIR']
  if (file !== undefined || dir !== undefined) {
    const found: string[] = []
    if (file !== undefined && file !== '') found.push(...certificatesIn(file))
    // OpenSSL's SSL_CERT_DIR is a list (':'-separated) of hashed-name directories.
    for (const d of (dir ?? '').split(':')) if (d !== '') found.push(...certificatesInDirectory(d))
    return found
  }
  for (const bundle of bundles) {
    const certificates = certificatesIn(bundle)
    if (certificates.length > 0) return certificates
  }
  throw new InvalidArgumentError(`tls.ca 'system': no CA bundle found (looked in ${bundles.join(', ')}; set SSL_CERT_FILE)`)
}

function certificatesIn(file: string): string[] {
  let text: string
  try {
    if (statSync(file).size > MAX_BUNDLE_BYTES) return []
    text = readFileSync(file, 'latin1')
  } catch {
    return []
  }
  return text.match(PEM_CERTIFICATE) ?? []
}

function certificatesInDirectory(dir: string): string[] {
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return []
  }
  const found = new Set<string>()
  // Hashed links (abcd1234.0) and the .pem/.crt files they point at hold the same certificates.
  for (const name of names) if (/\.(pem|crt|\d+)$/.test(name)) for (const pem of certificatesIn(join(dir, name))) found.add(pem)
  return [...found]
}
