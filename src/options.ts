/**
 * Agent / Pool options (README "API summary", docs/api): the public shape, defaults, and validation.
 * Every bad option fails at construction with WP_INVALID_ARG rather than at first use.
 */
import { InvalidArgumentError } from './errors.js'
import { booleanOption, integerOption, msOption, optionalIntegerOption } from './option-checks.js'
import { validatePins, type TlsConnectOptions } from './tls/connect.js'
import type { ProxyOption } from './proxy/config.js'
import { resolveProxy, type ResolvedProxy } from './proxy/route.js'
import { DnsCache, type DnsCacheOptions } from './dns/cache.js'
import type { HostResolver, LookupFunction } from './dns/resolution.js'
import { DEFAULT_CONNECTION_ATTEMPT_DELAY_MS, MIN_CONNECTION_ATTEMPT_DELAY_MS } from './tcp/happy-eyeballs.js'

export interface TlsOptions {
  /**
   * CA certificates (PEM) to trust instead of Node's bundled roots; `'system'` (alone or in
   * the array) trusts the operating system's store as well as Node's roots (src/tls/system-ca.ts).
   */
  ca?: 'system' | string | Buffer | Array<string | Buffer>
  cert?: string | Buffer
  key?: string | Buffer
  passphrase?: string
  /** SNI and certificate name to check; defaults to the origin's host. */
  servername?: string
  rejectUnauthorized?: boolean
  minVersion?: 'TLSv1.2' | 'TLSv1.3'
  /** Reuse TLS sessions (tickets) across connections to the same origin. Default true. */
  sessionCache?: boolean
  /** SPKI pins `'sha256/<base64>'`: the server's key must match one (WP_TLS_PIN_MISMATCH otherwise). */
  pins?: string[]
}

/**
 * The user's TLS settings as the TLS connector takes them (`connectTls` options), with the
 * security defaults filled in: certificates verified, TLS 1.2 at least. Shared by the
 * connection to an origin and to an https:// proxy.
 */
export function tlsConnectSettings(t: TlsOptions): Pick<TlsConnectOptions, 'servername' | 'ca' | 'cert' | 'key' | 'passphrase' | 'pins' | 'rejectUnauthorized' | 'minVersion'> {
  return {
    ...(t.servername === undefined ? {} : { servername: t.servername }),
    ...(t.ca === undefined ? {} : { ca: t.ca }),
    ...(t.cert === undefined ? {} : { cert: t.cert }),
    ...(t.key === undefined ? {} : { key: t.key }),
    ...(t.passphrase === undefined ? {} : { passphrase: t.passphrase }),
    ...(t.pins === undefined ? {} : { pins: t.pins }),
    rejectUnauthorized: t.rejectUnauthorized ?? true,
    minVersion: t.minVersion ?? 'TLSv1.2',
  }
}

export interface RetryOptions {
  /** How many times an idempotent request may be re-sent after a retryable failure. Default 2. */
  attempts?: number
  /**
   * Backoff base in ms (default 50). The first retry after a connection failure goes at once
   * (the socket failed, not the server); later ones wait minDelay × 2^(n−2), capped by
   * maxDelay, with jitter (half fixed, half random).
   */
  minDelay?: number
  /** Backoff cap in ms. Default 2000. */
  maxDelay?: number
  /**
   * Response statuses that are retried (opt-in; default none), e.g. `[429, 503]`. Their
   * `Retry-After` (RFC 9110 §10.2.3) sets the delay when present.
   */
  statuses?: number[]
  /** A `Retry-After` longer than this (ms) is not waited for: the response is returned. Default 30000. */
  maxRetryAfter?: number
}

export interface ResolvedRetry {
  attempts: number
  minDelay: number
  maxDelay: number
  statuses: ReadonlySet<number>
  maxRetryAfter: number
}

export interface PoolOptions {
  connections?: number
  pipelining?: number
  allowH2?: boolean
  h2c?: boolean
  maxConcurrentStreams?: number
  connectTimeout?: number
  headersTimeout?: number
  bodyTimeout?: number
  keepAliveTimeout?: number
  maxConnectionAge?: number
  maxRequestsPerConnection?: number
  /** `request()` sends `accept-encoding: gzip, deflate, br` and decodes bodies as they stream. */
  decompress?: boolean
  /** Bound on a decoded body (decompression bombs). Default 1 GiB. */
  maxDecompressedSize?: number
  retry?: RetryOptions | false
  tls?: TlsOptions
  localAddress?: string
  autoSelectFamily?: boolean
  /** Max bytes of a response head (status line + headers). Default 16 KiB. */
  maxHeaderSize?: number
  /** Max fields in a response head. Default 128. */
  maxHeaderCount?: number
  /** How long a request with `expect: 100-continue` waits for the 100 before sending its body. */
  expectContinueTimeout?: number
  /** Emit `certificate-expiring` when a server certificate expires within this many days. Default 14. */
  certificateExpiryWarningDays?: number
  /** HTTP/2: PING an idle connection this often (ms) and close it when a PING goes unanswered. 0 (default) disables. */
  pingInterval?: number
  /**
   * Send connections through a proxy (src/proxy): `'http://[user:pass@]host:port'`,
   * `'https://…'`, `'socks5://…'`, `'socks5h://…'`, `{ url, tls, tunnel }`, or `'env'` to
   * follow HTTP_PROXY / HTTPS_PROXY / ALL_PROXY / NO_PROXY. Default: none (direct; the
   * environment is read only when asked, see README "Proxies").
   */
  proxy?: ProxyOption
  /** Tunnel plain-http origins through an HTTP proxy with CONNECT instead of forwarding them. Default false. */
  proxyTunnel?: boolean
  /** Connect to this Unix domain socket instead of TCP (undici's name; curl's `--unix-socket`). http: origins (h1, h2c) only. */
  socketPath?: string
  /** Name resolution with the `dns.lookup` signature (default `dns.lookup`). Ignored when `dnsCache` is on. */
  lookup?: LookupFunction
  /**
   * The TTL-honouring DNS cache (src/dns/cache.ts): `true` for the process-wide one, options
   * for a cache of this pool's own, or a `DnsCache` to share. Default false (README "Name resolution").
   */
  dnsCache?: boolean | DnsCacheOptions | DnsCache
  /** RFC 8305 §5 Connection Attempt Delay between Happy Eyeballs attempts, ms (≥ 10). Default 250. */
  connectionAttemptDelay?: number
  /**
   * HTTP/2 liveness (as Go's ReadIdleTimeout): when a connection with open streams has received
   * nothing for this many ms, it sends a PING. Default 15000; 0 disables.
   */
  readIdleTimeout?: number
  /**
   * HTTP/2 liveness (as Go's PingTimeout): a liveness PING not acknowledged within this many ms
   * closes the connection. Default 10000; 0 disables liveness PINGs altogether.
   */
  pingTimeout?: number
}

export interface AgentOptions extends PoolOptions {
  /**
   * Cap on open connections across every origin of the Agent (connecting and draining ones
   * included). At the cap, the least recently used idle connection is closed to make room,
   * and requests needing a new connection wait for a slot. Default: no cap.
   */
  maxTotalConnections?: number
  /**
   * HTTP/2 connection coalescing (RFC 9113 §9.1.1, as OkHttp and browsers do): a request to
   * an https origin may go on an open h2 connection of another origin when both names
   * resolve to that connection's address and port and its certificate covers the name. A
   * 421 (Misdirected Request) answer sends it again on the origin's own connection.
   * Default false.
   */
  coalesce?: boolean
}

/** The Agent's own options, split from what each of its pools gets. */
export function splitAgentOptions(options: AgentOptions): { pool: PoolOptions; maxTotalConnections: number | undefined; coalesce: boolean } {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options must be an object')
  const { maxTotalConnections, coalesce, ...pool } = options
  return {
    pool,
    maxTotalConnections: optionalIntegerOption('maxTotalConnections', maxTotalConnections),
    coalesce: booleanOption('coalesce', coalesce, false),
  }
}

/** Options after defaults were applied; what the pool runs on. */
export interface ResolvedPoolOptions {
  connections: number
  pipelining: number
  allowH2: boolean
  h2c: boolean
  maxConcurrentStreams: number | undefined
  connectTimeout: number
  headersTimeout: number
  bodyTimeout: number
  keepAliveTimeout: number
  maxConnectionAge: number | undefined
  maxRequestsPerConnection: number | undefined
  decompress: boolean
  maxDecompressedSize: number
  retry: ResolvedRetry
  tls: TlsOptions
  localAddress: string | undefined
  autoSelectFamily: boolean | undefined
  maxHeaderSize: number
  maxHeaderCount: number
  expectContinueTimeout: number
  certificateExpiryWarningDays: number
  pingInterval: number
  /** undefined: every connection goes direct. */
  proxy: ResolvedProxy | undefined
  socketPath: string | undefined
  lookup: LookupFunction | undefined
  /** The DNS cache when on; undefined: `lookup` (or dns.lookup) on every connect. */
  resolver: (HostResolver & { lookup: LookupFunction }) | undefined
  connectionAttemptDelay: number
  readIdleTimeout: number
  pingTimeout: number
}

let sharedDnsCache: DnsCache | undefined

/** `dnsCache: true` is one cache for the whole process, made when first asked for. */
export function defaultDnsCache(): DnsCache {
  sharedDnsCache ??= new DnsCache()
  return sharedDnsCache
}

function resolveDnsCache(value: PoolOptions['dnsCache']): DnsCache | undefined {
  if (value === undefined || value === false) return undefined
  if (value === true) return defaultDnsCache()
  if (value instanceof DnsCache) return value
  if (typeof value !== 'object' || value === null) throw new InvalidArgumentError(`option dnsCache must be a boolean, options or a DnsCache, got ${String(value)}`)
  return new DnsCache(value)
}

function resolveRetry(retry: RetryOptions | false | undefined): ResolvedRetry {
  if (retry === false) return { attempts: 0, minDelay: 0, maxDelay: 0, statuses: new Set(), maxRetryAfter: 0 }
  if (retry !== undefined && (typeof retry !== 'object' || retry === null)) {
    throw new InvalidArgumentError('option retry must be an object or false')
  }
  const r = retry ?? {}
  const statuses = r.statuses ?? []
  if (!Array.isArray(statuses) || statuses.some((s) => !Number.isInteger(s) || s < 100 || s > 599)) {
    throw new InvalidArgumentError('option retry.statuses must be an array of HTTP status codes')
  }
  return {
    attempts: integerOption('retry.attempts', r.attempts, 2, { min: 0 }),
    minDelay: msOption('retry.minDelay', r.minDelay, 50),
    maxDelay: msOption('retry.maxDelay', r.maxDelay, 2000),
    statuses: new Set(statuses),
    maxRetryAfter: msOption('retry.maxRetryAfter', r.maxRetryAfter, 30_000),
  }
}

const KNOWN_OPTIONS = new Set([
  'connections', 'pipelining', 'allowH2', 'h2c', 'maxConcurrentStreams', 'connectTimeout', 'headersTimeout',
  'bodyTimeout', 'keepAliveTimeout', 'maxConnectionAge', 'maxRequestsPerConnection', 'decompress', 'maxDecompressedSize', 'retry', 'tls',
  'localAddress', 'autoSelectFamily', 'maxHeaderSize', 'maxHeaderCount', 'expectContinueTimeout', 'certificateExpiryWarningDays', 'pingInterval',
  'proxy', 'proxyTunnel',
  'socketPath', 'lookup', 'dnsCache', 'connectionAttemptDelay',
  'readIdleTimeout', 'pingTimeout',
])

export function resolvePoolOptions(options: PoolOptions = {}): ResolvedPoolOptions {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options must be an object')
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key)) throw new InvalidArgumentError(`unknown option ${key}`)
  }
  const tls = options.tls ?? {}
  if (typeof tls !== 'object' || tls === null) throw new InvalidArgumentError('option tls must be an object')
  if (tls.minVersion !== undefined && tls.minVersion !== 'TLSv1.2' && tls.minVersion !== 'TLSv1.3') {
    // Security default (README): never negotiate below TLS 1.2.
    throw new InvalidArgumentError(`option tls.minVersion must be 'TLSv1.2' or 'TLSv1.3', got ${String(tls.minVersion)}`)
  }
  if (tls.pins !== undefined) validatePins(tls.pins)
  booleanOption('tls.rejectUnauthorized', tls.rejectUnauthorized, true)
  booleanOption('tls.sessionCache', tls.sessionCache, true)
  const retry = resolveRetry(options.retry)
  const localAddress = options.localAddress
  if (localAddress !== undefined && typeof localAddress !== 'string') {
    throw new InvalidArgumentError('option localAddress must be a string')
  }
  if (options.socketPath !== undefined && (typeof options.socketPath !== 'string' || options.socketPath === '')) {
    throw new InvalidArgumentError('option socketPath must be a non-empty string')
  }
  if (options.lookup !== undefined && typeof options.lookup !== 'function') {
    throw new InvalidArgumentError('option lookup must be a function with the dns.lookup signature')
  }
  const connectionAttemptDelay = msOption('connectionAttemptDelay', options.connectionAttemptDelay, DEFAULT_CONNECTION_ATTEMPT_DELAY_MS)
  if (connectionAttemptDelay < MIN_CONNECTION_ATTEMPT_DELAY_MS) {
    // RFC 8305 §5: "Connection Attempt Delays MUST NOT be less than 10 milliseconds".
    throw new InvalidArgumentError(`option connectionAttemptDelay must be at least ${MIN_CONNECTION_ATTEMPT_DELAY_MS} ms (RFC 8305 §5), got ${connectionAttemptDelay}`)
  }
  return {
    socketPath: options.socketPath,
    lookup: options.lookup,
    resolver: resolveDnsCache(options.dnsCache),
    connectionAttemptDelay,
    connections: integerOption('connections', options.connections, 10),
    pipelining: integerOption('pipelining', options.pipelining, 1),
    allowH2: booleanOption('allowH2', options.allowH2, true),
    h2c: booleanOption('h2c', options.h2c, false),
    maxConcurrentStreams: optionalIntegerOption('maxConcurrentStreams', options.maxConcurrentStreams),
    connectTimeout: msOption('connectTimeout', options.connectTimeout, 10_000),
    headersTimeout: msOption('headersTimeout', options.headersTimeout, 300_000),
    bodyTimeout: msOption('bodyTimeout', options.bodyTimeout, 300_000),
    keepAliveTimeout: msOption('keepAliveTimeout', options.keepAliveTimeout, 4_000),
    maxConnectionAge: options.maxConnectionAge === undefined ? undefined : msOption('maxConnectionAge', options.maxConnectionAge, 0),
    maxRequestsPerConnection: optionalIntegerOption('maxRequestsPerConnection', options.maxRequestsPerConnection),
    decompress: booleanOption('decompress', options.decompress, true),
    maxDecompressedSize: integerOption('maxDecompressedSize', options.maxDecompressedSize, 1024 * 1024 * 1024, { min: 0 }),
    retry,
    tls,
    localAddress,
    autoSelectFamily: options.autoSelectFamily === undefined ? undefined : booleanOption('autoSelectFamily', options.autoSelectFamily, false),
    maxHeaderSize: integerOption('maxHeaderSize', options.maxHeaderSize, 16 * 1024),
    maxHeaderCount: integerOption('maxHeaderCount', options.maxHeaderCount, 128),
    expectContinueTimeout: msOption('expectContinueTimeout', options.expectContinueTimeout, 1_000),
    certificateExpiryWarningDays: msOption('certificateExpiryWarningDays', options.certificateExpiryWarningDays, 14),
    pingInterval: msOption('pingInterval', options.pingInterval, 0),
    proxy: resolveProxy(options.proxy, options.proxyTunnel),
    readIdleTimeout: msOption('readIdleTimeout', options.readIdleTimeout, 15_000),
    pingTimeout: msOption('pingTimeout', options.pingTimeout, 10_000),
  }
}
