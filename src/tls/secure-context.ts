/**
 * One `tls.SecureContext` per distinct TLS configuration, shared by every socket that uses
 * it. A context holds the parsed CA store, certificate and key; building one per socket
 * costs a parse of the whole CA bundle and about 12 KiB per idle connection (measured with bench:memory).
 */
import { createHash, type Hash } from 'node:crypto'
import tls from 'node:tls'
import { InvalidArgumentError } from '../errors.js'
import { LruCache } from './lru.js'
import { systemAndBundledCertificates } from './system-ca.js'

export type TlsMinVersion = 'TLSv1.2' | 'TLSv1.3'

/** PEM text or DER/PEM bytes, one or several. */
export type PemInput = string | Buffer | Array<string | Buffer>

/** Everything that goes into a SecureContext (and so into its cache key). */
export interface TlsContextConfig {
  /**
   * Trusted CAs; when set they replace Node's bundled root store, as in tls.connect. The
   * string `'system'` (alone or as an element) stands for the operating system's store plus
   * Node's bundled roots (system-ca.ts).
   */
  ca?: PemInput
  /** Client certificate chain and key for mutual TLS. */
  cert?: PemInput
  key?: PemInput
  passphrase?: string
  /** Default 'TLSv1.2'. */
  minVersion?: TlsMinVersion
}

export interface SharedSecureContext {
  context: tls.SecureContext
  /** Stable hash of the configuration: equal configurations give equal hashes. */
  hash: string
}

/** Distinct configurations per process are few (one per agent TLS setup); the bound only stops a leak. */
const MAX_CONTEXTS = 64
const contexts = new LruCache<tls.SecureContext>(MAX_CONTEXTS)

/**
 * Feeds a field into the hash with its tag, element count and each element's length, so
 * no two different configurations serialise to the same bytes (e.g. ca ['ab','c'] vs ['a','bc']).
 * A PEM given as string or as Buffer with the same bytes hashes the same: same context.
 */
function hashField(hash: Hash, tag: string, value: PemInput | undefined): void {
  const parts = value === undefined ? [] : Array.isArray(value) ? value : [value]
  hash.update(`${tag}:${value === undefined ? 'none' : parts.length};`)
  for (const part of parts) {
    const bytes = typeof part === 'string' ? Buffer.from(part, 'utf8') : part
    hash.update(`${bytes.length}:`)
    hash.update(bytes)
  }
}

export function tlsConfigHash(config: TlsContextConfig): string {
  const hash = createHash('sha256')
  hashField(hash, 'ca', config.ca)
  hashField(hash, 'cert', config.cert)
  hashField(hash, 'key', config.key)
  hashField(hash, 'passphrase', config.passphrase)
  hashField(hash, 'minVersion', config.minVersion ?? 'TLSv1.2')
  return hash.digest('base64url')
}

/**
 * The configurations seen last, compared by reference: every connection of an agent passes
 * the same `ca`/`cert`/`key` values, and hashing a CA bundle per connection was a visible
 * share of connect time. A hit still goes through the context cache below.
 */
const MEMO_SIZE = 8
const recentHashes: Array<{ ca: unknown; cert: unknown; key: unknown; passphrase: unknown; minVersion: unknown; hash: string }> = []

function memoisedHash(config: TlsContextConfig): string {
  // An array can change in place behind the same reference: always hashed.
  if (Array.isArray(config.ca) || Array.isArray(config.cert) || Array.isArray(config.key)) return tlsConfigHash(config)
  for (const m of recentHashes) {
    if (m.ca === config.ca && m.cert === config.cert && m.key === config.key && m.passphrase === config.passphrase && m.minVersion === config.minVersion) {
      return m.hash
    }
  }
  const hash = tlsConfigHash(config)
  if (recentHashes.length >= MEMO_SIZE) recentHashes.shift()
  recentHashes.push({ ca: config.ca, cert: config.cert, key: config.key, passphrase: config.passphrase, minVersion: config.minVersion, hash })
  return hash
}

/** `ca` with each `'system'` replaced by the system's and Node's roots (unchanged, no copy, without one). */
function withSystemStore(ca: PemInput): PemInput {
  if (ca === 'system') return systemAndBundledCertificates()
  if (!Array.isArray(ca) || !ca.includes('system')) return ca
  return ca.flatMap((pem) => (pem === 'system' ? systemAndBundledCertificates() : [pem]))
}

/** The shared context for `config`, created on first use. Bad PEM or passphrase → InvalidArgumentError. */
export function secureContextFor(config: TlsContextConfig): SharedSecureContext {
  const hash = memoisedHash(config)
  let context = contexts.get(hash)
  if (context === undefined) {
    const options: tls.SecureContextOptions = { minVersion: config.minVersion ?? 'TLSv1.2' }
    if (config.ca !== undefined) options.ca = withSystemStore(config.ca)
    if (config.cert !== undefined) options.cert = config.cert
    if (config.key !== undefined) options.key = config.key
    if (config.passphrase !== undefined) options.passphrase = config.passphrase
    try {
      context = tls.createSecureContext(options)
    } catch (err) {
      throw new InvalidArgumentError(`invalid TLS configuration: ${(err as Error).message}`, { cause: err })
    }
    contexts.set(hash, context)
  }
  return { context, hash }
}
