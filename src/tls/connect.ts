/**
 * TLS connector: one TLSSocket connects (DNS + TCP, with the cleartext connector's socket
 * options) and handshakes, the two phases timed apart while one connect timeout covers
 * both. Adds SNI, ALPN, a shared SecureContext and session resumption from a `TlsSessionCache`.
 */
import { createHash, X509Certificate } from 'node:crypto'
import net from 'node:net'
import type { Duplex } from 'node:stream'
import tls from 'node:tls'
import {
  ConnectRefusedError,
  ConnectTimeoutError,
  InvalidArgumentError,
  TlsPinMismatchError,
  TlsVerifyError,
  TlsHandshakeError,
  type WirepoolError,
} from '../errors.js'
import { abortedError, bareHost, copyRoutingOptions, DEFAULT_KEEPALIVE_DELAY, errnoCode, errorOptions, isAborted, validateConnectOptions, type TcpConnectOptions } from '../tcp/connect.js'
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
  /**
   * Handshake over this already-connected stream instead of dialling `host:port`: the
   * winner of the Happy Eyeballs race (src/tcp/dial.ts) or a proxy tunnel (src/proxy).
   * `host`/`port` then only name the peer (SNI, verification, session key). The DNS and TCP
   * phases are skipped; the stream belongs to the TLS socket from here on, and is destroyed
   * with it when the handshake fails.
   */
  socket?: Duplex
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
  /** DNS + TCP connect time. */
  tcpMs: number
  /** TLS handshake time. */
  tlsMs: number
  /** `performance.now()` when TCP connected (the handshake's start over a given socket) and when the handshake ended. */
  tcpAt: number
  tlsAt: number
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
  // leaves later getPeerCertificate() calls with an empty object, which callers may rely on.
  return certificateInfoOf(socket.getPeerCertificate(), withPin)
}

/**
 * What the pool keeps of a peer certificate. `pubkey` in node's object is the raw key (an
 * EC point for ECDSA), not the SPKI, so the pin is computed from the DER certificate.
 */
function certificateInfoOf(cert: tls.PeerCertificate | null, withPin: boolean): PeerCertificateInfo | null {
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

/**
 * The certificate seen when a session was established, by session: a resumed handshake
 * (RFC 8446 §2.2) is not verified again by node:tls and a TLS 1.3 one carries no
 * certificate, so its connection reports the one its session was made with. Weak: the
 * entry goes with the session when the session cache drops it.
 */
const sessionCertificates = new WeakMap<Buffer, PeerCertificateInfo>()
/** Tickets taken from one TLS 1.3 connection (each later one replaces the cached one). */
const TLS13_TICKETS_KEPT = 2

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

export function connectTls(opts: TlsConnectOptions): Promise<TlsConnection> {
  let shared: ReturnType<typeof secureContextFor>
  try {
    validateConnectOptions(opts)
    validateTlsOptions(opts)
    // Built before any I/O so a bad certificate or key fails without touching the network.
    shared = secureContextFor(opts)
  } catch (err) {
    return Promise.reject(err)
  }
  return connectAndHandshake(opts, shared.context, shared.hash)
}

/**
 * `connecting` (DNS + TCP) → `handshaking` → `connected`, or `failed` from either. One
 * TLSSocket does both phases (wrapping a separate net.Socket would keep a second socket
 * object, its stream states and listeners alive for the connection's whole life).
 */
type HandshakeState = 'connecting' | 'handshaking' | 'connected' | 'failed'

function connectAndHandshake(opts: TlsConnectOptions, secureContext: tls.SecureContext, configHash: string): Promise<TlsConnection> {
  return new Promise((resolve, reject) => {
    const { signal, origin } = opts
    // An already-aborted signal must not cost a socket (nor a DNS query).
    if (signal?.aborted === true) {
      reject(abortedError(signal, 'connect', origin))
      return
    }
    const started = performance.now()
    let tcpDone = started
    const host = bareHost(opts.host)
    const verifyName = bareHost(opts.servername ?? opts.host)
    const rejectUnauthorized = opts.rejectUnauthorized ?? true
    const cache = opts.sessionCache ?? null
    const key = cache === null ? '' : sessionKey(opts, verifyName, configHash, rejectUnauthorized)
    const cachedSession = cache?.get(key)
    // Over a given stream there is no TCP phase: the handshake starts at once.
    let state: HandshakeState = opts.socket === undefined ? 'connecting' : 'handshaking'
    const withPin = opts.pins !== undefined
    /** Known once the handshake is verified (undefined before). */
    let certificate: PeerCertificateInfo | null | undefined
    let newestSession: Buffer | undefined
    const rememberCertificate = (): void => {
      if (newestSession !== undefined && certificate != null) sessionCertificates.set(newestSession, certificate)
    }

    const onTcpConnect = (): void => {
      if (state !== 'connecting') return
      state = 'handshaking'
      tcpDone = performance.now()
      // Nagle off and keep-alive probes on, as connectTcp does for cleartext.
      tlsSocket.setNoDelay(opts.noDelay ?? true)
      if (opts.keepAlive ?? true) tlsSocket.setKeepAlive(true, opts.keepAliveInitialDelay ?? DEFAULT_KEEPALIVE_DELAY)
    }
    const onSecureConnect = (): void => transition('connected')
    const onError = (err: Error): void => transition('failed', state === 'connecting' ? connectError(err) : handshakeError(err))
    const onAbort = (): void => transition('failed', abortedError(signal as AbortSignal, 'connect', origin))
    // node:tls holds a session back until the peer is verified (a TLS 1.2 session is ready
    // before that) and drops it when verification fails, so every one seen here is usable.
    let sessionsSeen = 0
    const onSession = (session: Buffer): void => {
      cache?.set(key, session)
      newestSession = session
      rememberCertificate()
      // TLS 1.3 servers send their tickets right after the handshake (RFC 8446 §4.6.1;
      // OpenSSL: two), TLS 1.2 one session: after those nothing more comes, and dropping the
      // listener frees this handshake's closures for the rest of the socket's life.
      if (++sessionsSeen >= TLS13_TICKETS_KEPT || tlsSocket.getProtocol() !== 'TLSv1.3') tlsSocket.off('session', onSession)
    }
    // node:tls verifies the name with the certificate object it builds for the purpose
    // (getPeerCertificate(true), the costly detailed one): keep what we need from it rather
    // than building another after the handshake. The name checked is ours (RFC 6125), not
    // the TCP host node:tls would fall back to for an IP literal servername.
    const checkServerIdentity = (_hostname: string, cert: tls.PeerCertificate): Error | undefined => {
      certificate = certificateInfoOf(cert, withPin)
      return tls.checkServerIdentity(verifyName, cert)
    }
    // One deadline for DNS, TCP and the handshake together.
    const timer = setTimeout(
      () =>
        transition(
          'failed',
          new ConnectTimeoutError(opts.connectTimeout, {
            ...(origin === undefined ? {} : { origin }),
            target: `${host}:${opts.port}`,
            // What node:net's own family race tried, else the one address an IP literal is.
            addresses: tlsSocket.autoSelectFamilyAttemptedAddresses ?? (net.isIP(host) === 0 ? [] : [host]),
          }),
        ),
      opts.connectTimeout,
    )

    function connectError(err: Error): WirepoolError {
      return new ConnectRefusedError(`cannot connect to ${host}:${opts.port}: ${errnoCode(err)} (${err.message})`, errorOptions(err, origin))
    }

    function handshakeError(err: Error): WirepoolError {
      const code = (err as { code?: unknown }).code
      // Node sets authorizationError to the verify error's code just before it destroys the
      // socket with that error: OpenSSL's X509 reason (CERT_HAS_EXPIRED…) or
      // ERR_TLS_CERT_ALTNAME_INVALID from the host name check (RFC 6125).
      // (It is null until then.)
      const reason = tlsSocket.authorizationError as unknown as string | null | undefined
      if (typeof reason === 'string') {
        return new TlsVerifyError(
          reason,
          `certificate verification failed for ${verifyName}: ${reason} (${err.message})`,
          errorOptions(err, origin),
        )
      }
      const message = `TLS handshake with ${verifyName}:${opts.port} failed: ${typeof code === 'string' ? code : 'UNKNOWN'} (${err.message})`
      // OpenSSL's failures (wrong protocol on the port, an alert, no common version or
      // cipher) carry its `library`/`reason` or an ERR_SSL_/ERR_TLS_ code; a plain socket
      // error (ECONNRESET…) during the handshake stays a connect failure.
      if (typeof code === 'string' && (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) || 'library' in err) {
        return new TlsHandshakeError(typeof code === 'string' ? code : 'UNKNOWN', message, errorOptions(err, origin))
      }
      return new ConnectRefusedError(message, errorOptions(err, origin))
    }

    function transition(next: 'connected' | 'failed', err?: WirepoolError): void {
      if (state === 'connected' || state === 'failed') return
      const wasConnecting = state === 'connecting'
      state = next
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      tlsSocket.off('connect', onTcpConnect)
      tlsSocket.off('secureConnect', onSecureConnect)
      tlsSocket.off('error', onError)
      if (next === 'connected') {
        const pins = opts.pins
        const reused = tlsSocket.isSessionReused()
        // Not captured: a resumed session (not verified again), or a chain that failed
        // verification with rejectUnauthorized false.
        certificate ??= (reused && cachedSession !== undefined ? sessionCertificates.get(cachedSession) : undefined) ?? certificateInfo(tlsSocket, withPin)
        rememberCertificate()
        // A resumed TLS 1.3 session carries no certificate; resumption proves the peer holds
        // the keys of a session we only cached after its certificate passed these pins.
        const resumedOurs = cachedSession !== undefined && reused
        const pinned = certificate === null ? resumedOurs : certificate.spkiPin !== undefined && pins?.includes(certificate.spkiPin) === true
        if (pins !== undefined && !pinned) {
          // Checked before the connection is handed out: no request byte is ever sent to an
          // unpinned key. The session is forgotten too, so a resumption cannot skip this.
          state = 'failed'
          fail(new TlsPinMismatchError(pins, certificate?.spkiPin ?? 'none', origin === undefined ? {} : { origin }), true)
          return
        }
        const now = performance.now()
        resolve({
          certificate,
          socket: tlsSocket,
          alpnProtocol: tlsSocket.alpnProtocol ?? false,
          resumed: reused,
          tcpMs: tcpDone - started,
          tlsMs: now - tcpDone,
          tcpAt: tcpDone,
          tlsAt: now,
        })
        return
      }
      // A session is only suspect when the handshake itself failed.
      fail(err as WirepoolError, !wasConnecting && cachedSession !== undefined)
    }

    function fail(err: WirepoolError, forgetSession: boolean): void {
      // The cached session may be why it failed (server lost its ticket keys, changed config…).
      if (forgetSession) cache?.delete(key)
      tlsSocket.off('session', onSession)
      // Nobody owns this socket any more: a late error from it must not become uncaught.
      tlsSocket.on('error', noop)
      tlsSocket.destroy()
      // A given stream (a tunnel) is ours to close too: nothing else will use it now.
      opts.socket?.destroy()
      reject(err)
    }

    // node:tls hands these on to the socket's connect (node:net options).
    const connectOptions: tls.ConnectionOptions & { localAddress?: string; autoSelectFamily?: boolean } = {
      host,
      port: opts.port,
      secureContext,
      ALPNProtocols: opts.alpnProtocols,
      rejectUnauthorized,
      checkServerIdentity,
    }
    // RFC 6066 §3: "Literal IPv4 and IPv6 addresses are not permitted in HostName."
    if (net.isIP(verifyName) === 0) connectOptions.servername = verifyName
    if (cachedSession !== undefined) connectOptions.session = cachedSession
    if (opts.socket !== undefined) connectOptions.socket = opts.socket
    else copyRoutingOptions(connectOptions, opts)
    let tlsSocket: tls.TLSSocket
    try {
      tlsSocket = tls.connect(connectOptions)
    } catch (err) {
      // node:net validates synchronously (bad localAddress…).
      clearTimeout(timer)
      reject(new InvalidArgumentError(`invalid connect options: ${(err as Error).message}`, errorOptions(err, origin)))
      return
    }
    if (opts.socket === undefined) tlsSocket.once('connect', onTcpConnect)
    tlsSocket.once('secureConnect', onSecureConnect)
    tlsSocket.once('error', onError)
    if (cache !== null) tlsSocket.on('session', onSession)
    // Over a connected socket there is no 'connect' event: the handshake phase starts now.
    if (opts.socket !== undefined) onTcpConnect()
    signal?.addEventListener('abort', onAbort, { once: true })
    // tls.connect may call a custom lookup synchronously, so the signal can already have
    // fired before the listener above existed.
    if (isAborted(signal)) onAbort()
  })
}

function noop(): void {}
