/**
 * TLS connector: a TCP connection from `connectTcp`, then a TLS handshake over it, so the
 * two phases are timed apart while one connect timeout covers both. Adds SNI, ALPN, a
 * shared SecureContext and session resumption from a `TlsSessionCache`.
 */
import { createHash, X509Certificate } from 'node:crypto'
import net from 'node:net'
import tls from 'node:tls'
import {
  ConnectRefusedError,
  ConnectTimeoutError,
  InvalidArgumentError,
  TlsPinMismatchError,
  TlsVerifyError,
  type WirepoolError,
} from '../errors.js'
import { abortedError, bareHost, connectTcp, errorOptions, type TcpConnectOptions } from '../tcp/connect.js'
import { secureContextFor, type PemInput, type TlsMinVersion } from './secure-context.js'
import type { TlsSessionCache } from './session-cache.js'

/**
 * `onread` is left out: node:tls ignores it when it wraps an existing socket, and the TCP
 * socket below TLS carries ciphertext, so a buffer there would break the handshake.
 */
export interface TlsConnectOptions extends Omit<TcpConnectOptions, 'onread'> {
  /** Name the certificate is checked against; default: host. Sent as SNI only when it is a DNS name. */
  servername?: string
  /** Offered in ALPN (RFC 7301), in preference order; an empty list sends no ALPN extension. */
  alpnProtocols: string[]
  ca?: PemInput
  cert?: PemInput
  key?: PemInput
  passphrase?: string
  /** Default true. When false the handshake succeeds whatever the certificate. */
  rejectUnauthorized?: boolean
  /** Default 'TLSv1.2'. */
  minVersion?: TlsMinVersion
  sessionCache?: TlsSessionCache | null
  /**
   * SPKI pins, `'sha256/<base64>'` (the HPKP format, RFC 7469 §2.4): the peer's leaf public
   * key must match one of them, whatever the CA says.
   */
  pins?: readonly string[]
}

/** What we keep of the peer's leaf certificate (for expiry figures and `-v` output). */
export interface PeerCertificateInfo {
  subject: string
  issuer: string
  validTo: Date
  /** 'sha256/<base64 SPKI>', computed only when pins are configured (it costs a certificate parse). */
  spkiPin: string | undefined
  /** The subject's CN and the subjectAltName list (`DNS:a, IP Address:…`), to check which names it covers. */
  commonName: string | undefined
  subjectAltName: string | undefined
}

export interface TlsConnection {
  socket: tls.TLSSocket
  /** Protocol the server picked by ALPN, or false when it picked none. */
  alpnProtocol: string | false
  /** The handshake resumed a cached session. */
  resumed: boolean
  /** 'TLSv1.2' or 'TLSv1.3'. */
  protocolVersion: string | null
  /** DNS + TCP connect time. */
  tcpMs: number
  /** TLS handshake time. */
  tlsMs: number
  /** The peer's leaf certificate, when it sent one. */
  certificate: PeerCertificateInfo | null
}

/** 'sha256/<base64>' of a certificate's SubjectPublicKeyInfo (DER). */
export function spkiPinOf(cert: X509Certificate): string {
  const spki = cert.publicKey.export({ type: 'spki', format: 'der' })
  return `sha256/${createHash('sha256').update(spki).digest('base64')}`
}

function distinguishedName(name: tls.Certificate | undefined): string {
  if (name === undefined) return ''
  return Object.entries(name)
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : String(v)}`)
    .join(', ')
}

function certificateInfo(socket: tls.TLSSocket, withPin: boolean): PeerCertificateInfo | null {
  // The legacy object, not getPeerX509Certificate(): on Node 20 calling the latter first
  // leaves later getPeerCertificate() calls without `pubkey`, which callers may rely on.
  // `pubkey` there is the raw key (an EC point for ECDSA), not the SPKI, so the pin is
  // computed from the DER certificate.
  const cert = socket.getPeerCertificate()
  if (cert === null || cert.raw === undefined) return null
  return {
    subject: distinguishedName(cert.subject),
    issuer: distinguishedName(cert.issuer),
    validTo: new Date(cert.valid_to),
    spkiPin: withPin ? spkiPinOf(new X509Certificate(cert.raw)) : undefined,
    commonName: typeof cert.subject?.CN === 'string' ? cert.subject.CN : undefined,
    subjectAltName: cert.subjectaltname,
  }
}

/** The certificate is valid for `hostname` by RFC 6125 rules (node:tls's own check). */
export function certificateCovers(cert: PeerCertificateInfo, hostname: string): boolean {
  const subject = cert.commonName === undefined ? {} : { CN: cert.commonName }
  const peer = { subject, subjectaltname: cert.subjectAltName } as unknown as tls.PeerCertificate
  return tls.checkServerIdentity(hostname, peer) === undefined
}

const MIN_VERSIONS: ReadonlySet<string> = new Set<TlsMinVersion>(['TLSv1.2', 'TLSv1.3'])

/** `tls.pins`: a non-empty list of 'sha256/<base64 of 32 bytes>'. */
export function validatePins(pins: unknown): void {
  if (!Array.isArray(pins) || pins.length === 0) throw new InvalidArgumentError('tls.pins must be a non-empty array')
  for (const pin of pins) {
    if (typeof pin !== 'string' || !/^sha256\/[A-Za-z0-9+/]{43}=$/.test(pin)) {
      throw new InvalidArgumentError(`tls.pins entries must look like 'sha256/<base64 of 32 bytes>', got ${String(pin)}`)
    }
  }
}

/** The TLS-only options; connectTcp checks the rest. */
function validateTlsOptions(opts: TlsConnectOptions): void {
  if ('onread' in opts) {
    throw new InvalidArgumentError('onread is not supported over TLS: node:tls ignores it on a wrapped socket')
  }
  if (opts.pins !== undefined) validatePins(opts.pins)
  // RFC 8996 deprecates TLS 1.0 and 1.1; we never offer them.
  if (opts.minVersion !== undefined && !MIN_VERSIONS.has(opts.minVersion)) {
    throw new InvalidArgumentError(`minVersion must be 'TLSv1.2' or 'TLSv1.3', got ${String(opts.minVersion)}`)
  }
  if (opts.servername !== undefined && (typeof opts.servername !== 'string' || opts.servername === '')) {
    throw new InvalidArgumentError('servername must be a non-empty string')
  }
  if (!Array.isArray(opts.alpnProtocols)) {
    throw new InvalidArgumentError('alpnProtocols must be an array of protocol names')
  }
  for (const name of opts.alpnProtocols) {
    // RFC 7301 §3.1: protocol names are 1..255 bytes; empty strings MUST NOT be sent.
    const length = typeof name === 'string' ? Buffer.byteLength(name) : 0
    if (length < 1 || length > 255) {
      throw new InvalidArgumentError(`ALPN protocol names must be 1..255 bytes, got ${JSON.stringify(name)}`)
    }
  }
}

/**
 * Everything a resumed session must match. The server address is part of it because one
 * name may front several servers, and the verification settings are because Node skips
 * the hostname check on a resumed session: a session must never cross to a connection
 * that would have verified (or named) the server differently.
 */
function sessionKey(opts: TlsConnectOptions, verifyName: string, configHash: string, rejectUnauthorized: boolean): string {
  // Pins are part of the key: a session is only resumed under the pin policy that checked
  // the certificate it was established with.
  return JSON.stringify([verifyName, bareHost(opts.host), opts.port, opts.alpnProtocols, configHash, rejectUnauthorized, opts.pins ?? null])
}

export async function connectTls(opts: TlsConnectOptions): Promise<TlsConnection> {
  validateTlsOptions(opts)
  // Built before any I/O so a bad certificate or key fails without touching the network.
  const { context, hash } = secureContextFor(opts)
  const started = performance.now()
  const socket = await connectTcp(opts)
  return handshake(socket, opts, context, hash, started)
}

type HandshakeState = 'handshaking' | 'connected' | 'failed'

function handshake(
  socket: net.Socket,
  opts: TlsConnectOptions,
  secureContext: tls.SecureContext,
  configHash: string,
  started: number,
): Promise<TlsConnection> {
  return new Promise((resolve, reject) => {
    const { signal, origin } = opts
    const tcpDone = performance.now()
    const verifyName = bareHost(opts.servername ?? opts.host)
    const rejectUnauthorized = opts.rejectUnauthorized ?? true
    const cache = opts.sessionCache ?? null
    const key = cache === null ? '' : sessionKey(opts, verifyName, configHash, rejectUnauthorized)
    const cachedSession = cache?.get(key)
    let state: HandshakeState = 'handshaking'
    let tlsSocket: tls.TLSSocket | undefined

    const onSecureConnect = (): void => transition('connected')
    const onError = (err: Error): void => transition('failed', handshakeError(err))
    const onAbort = (): void => transition('failed', abortedError(signal as AbortSignal, 'connect', origin))
    // node:tls holds a session back until the peer is verified (a TLS 1.2 session is ready
    // before that) and drops it when verification fails, so every one seen here is usable.
    const onSession = (session: Buffer): void => cache?.set(key, session)
    // The deadline started before DNS: the handshake only gets what TCP left of it.
    const timer = setTimeout(
      () => transition('failed', new ConnectTimeoutError(opts.connectTimeout, origin === undefined ? {} : { origin })),
      Math.max(0, opts.connectTimeout - (tcpDone - started)),
    )
    signal?.addEventListener('abort', onAbort, { once: true })

    function handshakeError(err: Error): WirepoolError {
      const code = (err as { code?: unknown }).code
      // Node sets authorizationError to the verify error's code just before it destroys the
      // socket with that error: OpenSSL's X509 reason (CERT_HAS_EXPIRED…) or
      // ERR_TLS_CERT_ALTNAME_INVALID from the host name check (RFC 6125).
      // (It is null until then.)
      const reason = tlsSocket?.authorizationError as unknown as string | null | undefined
      if (typeof reason === 'string') {
        return new TlsVerifyError(
          reason,
          `certificate verification failed for ${verifyName}: ${reason} (${err.message})`,
          errorOptions(err, origin),
        )
      }
      return new ConnectRefusedError(
        `TLS handshake with ${verifyName}:${opts.port} failed: ${typeof code === 'string' ? code : 'UNKNOWN'} (${err.message})`,
        errorOptions(err, origin),
      )
    }

    function transition(next: Exclude<HandshakeState, 'handshaking'>, err?: WirepoolError): void {
      if (state !== 'handshaking') return
      state = next
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      tlsSocket?.off('secureConnect', onSecureConnect)
      tlsSocket?.off('error', onError)
      if (next === 'connected' && tlsSocket !== undefined) {
        const pins = opts.pins
        const certificate = certificateInfo(tlsSocket, pins !== undefined)
        // A resumed TLS 1.3 session carries no certificate; resumption proves the peer holds
        // the keys of a session we only cached after its certificate passed these pins.
        const resumedOurs = cachedSession !== undefined && tlsSocket.isSessionReused()
        const pinned = certificate === null ? resumedOurs : certificate.spkiPin !== undefined && pins?.includes(certificate.spkiPin) === true
        if (pins !== undefined && !pinned) {
          // Checked before the connection is handed out: no request byte is ever sent to an
          // unpinned key. The session is forgotten too, so a resumption cannot skip this.
          state = 'failed'
          fail(new TlsPinMismatchError(pins, certificate?.spkiPin ?? 'none', origin === undefined ? {} : { origin }), true)
          return
        }
        resolve({
          certificate,
          socket: tlsSocket,
          alpnProtocol: tlsSocket.alpnProtocol ?? false,
          resumed: tlsSocket.isSessionReused(),
          protocolVersion: tlsSocket.getProtocol(),
          tcpMs: tcpDone - started,
          tlsMs: performance.now() - tcpDone,
        })
        return
      }
      fail(err as WirepoolError, cachedSession !== undefined)
    }

    function fail(err: WirepoolError, forgetSession: boolean): void {
      // The cached session may be why it failed (server lost its ticket keys, changed config…).
      if (forgetSession) cache?.delete(key)
      tlsSocket?.off('session', onSession)
      tlsSocket?.on('error', noop)
      tlsSocket?.destroy()
      socket.on('error', noop)
      socket.destroy()
      reject(err)
    }

    // An abort may have landed between the TCP connect and this continuation.
    if (signal?.aborted === true) {
      onAbort()
      return
    }
    const connectOptions: tls.ConnectionOptions = {
      socket,
      secureContext,
      // checkServerIdentity uses `host` when no servername is set: the IP literal case.
      host: verifyName,
      ALPNProtocols: opts.alpnProtocols,
      rejectUnauthorized,
    }
    // RFC 6066 §3: "Literal IPv4 and IPv6 addresses are not permitted in HostName."
    if (net.isIP(verifyName) === 0) connectOptions.servername = verifyName
    if (cachedSession !== undefined) connectOptions.session = cachedSession
    tlsSocket = tls.connect(connectOptions)
    tlsSocket.once('secureConnect', onSecureConnect)
    tlsSocket.once('error', onError)
    // Stays for the socket's life: TLS 1.3 tickets arrive after the handshake (RFC 8446 §4.6.1).
    if (cache !== null) tlsSocket.on('session', onSession)
  })
}

function noop(): void {}
