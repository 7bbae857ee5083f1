/**
 * TCP connector: one `net.Socket`, connected, with Nagle off and keep-alive probes on,
 * or a WirepoolError saying why not. The promise settles exactly once; once it resolves,
 * every listener and timer added here is gone and the socket belongs to the caller.
 */
import net from 'node:net'
import {
  AbortedError,
  ConnectRefusedError,
  ConnectTimeoutError,
  InvalidArgumentError,
  type WirepoolError,
  type WirepoolErrorOptions,
} from '../errors.js'
import { integerOption, msOption } from '../option-checks.js'
import { dnsError, LookupResolver, type HostResolver, type Resolution } from '../dns/resolution.js'
import { ConnectionRace, DEFAULT_CONNECTION_ATTEMPT_DELAY_MS, MIN_CONNECTION_ATTEMPT_DELAY_MS, type SocketOptions } from './happy-eyeballs.js'

export interface TcpConnectOptions {
  /** Name or IP literal; an IPv6 literal may keep its URL brackets (`[::1]`). */
  host: string
  port: number
  /** Milliseconds for DNS + TCP (and the TLS handshake when used by connectTls). */
  connectTimeout: number
  localAddress?: string
  /**
   * false: dial a name's addresses one after another, never in parallel. Otherwise (default)
   * they race as RFC 8305 says (src/tcp/happy-eyeballs.ts). Over TLS: node:net's own.
   */
  autoSelectFamily?: boolean
  /** RFC 8305 §5 Connection Attempt Delay, ms (≥ 10). Default 250. */
  connectionAttemptDelay?: number
  /** Resolves names for the race (e.g. a DnsCache). Takes precedence over `lookup`. */
  resolver?: HostResolver
  /** Connect to this Unix domain socket instead; host and port still name the origin. */
  socketPath?: string
  /** SO_KEEPALIVE probes; default true. */
  keepAlive?: boolean
  /** Idle time before the first keep-alive probe; default 60000 ms. */
  keepAliveInitialDelay?: number
  /** TCP_NODELAY; default true. */
  noDelay?: boolean
  /**
   * Name resolution as in node:net (default dns.lookup): lets an agent plug a DNS cache or
   * a fixed mapping. Its time counts against connectTimeout.
   */
  lookup?: net.LookupFunction
  signal?: AbortSignal
  /** `scheme://host:port`, copied into every error. */
  origin?: string
  /**
   * Passed to `net.connect`: reads land in a reusable buffer and go to a callback instead
   * of `'data'` events (PERF.md). It can only be set when the socket is created, which is
   * why the connector takes it. The bytes are valid only until the callback returns.
   */
  onread?: net.OnReadOpts
}

export const DEFAULT_KEEPALIVE_DELAY = 60_000
/** setTimeout fires at once for delays above 2^31-1 ms, so larger timeouts would lie. */
const MAX_TIMEOUT = 2 ** 31 - 1

/** `[::1]` (URL form) → `::1`; anything else unchanged. */
export function bareHost(host: string): string {
  return host.length >= 2 && host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host
}

/** Throws InvalidArgumentError for options no connect could succeed with. */
export function validateConnectOptions(opts: TcpConnectOptions): void {
  if (typeof opts.host !== 'string' || bareHost(opts.host) === '') {
    throw new InvalidArgumentError(`host must be a non-empty string, got ${String(opts.host)}`)
  }
  // (no fallback: a missing port is as wrong as port 0)
  integerOption('port', opts.port ?? Number.NaN, 0, { min: 1, max: 65535 })
  if (typeof opts.connectTimeout !== 'number' || !(opts.connectTimeout > 0) || opts.connectTimeout > MAX_TIMEOUT) {
    throw new InvalidArgumentError(
      `connectTimeout must be a positive number of ms up to ${MAX_TIMEOUT}, got ${String(opts.connectTimeout)}`,
    )
  }
  const attemptDelay = msOption('connectionAttemptDelay', opts.connectionAttemptDelay, DEFAULT_CONNECTION_ATTEMPT_DELAY_MS)
  if (attemptDelay < MIN_CONNECTION_ATTEMPT_DELAY_MS) {
    // RFC 8305 §5: "Connection Attempt Delays MUST NOT be less than 10 milliseconds".
    throw new InvalidArgumentError(`connectionAttemptDelay must be at least ${MIN_CONNECTION_ATTEMPT_DELAY_MS} ms (RFC 8305 §5), got ${attemptDelay}`)
  }
  if (opts.socketPath !== undefined && (typeof opts.socketPath !== 'string' || opts.socketPath === '')) {
    throw new InvalidArgumentError(`socketPath must be a non-empty string, got ${String(opts.socketPath)}`)
  }
  const delay = opts.keepAliveInitialDelay
  if (delay !== undefined && (typeof delay !== 'number' || !(delay >= 0) || delay > MAX_TIMEOUT)) {
    throw new InvalidArgumentError(`keepAliveInitialDelay must be a non-negative number of ms, got ${String(delay)}`)
  }
}

/** Error options with `origin` only when known (exactOptionalPropertyTypes). */
export function errorOptions(cause: unknown, origin: string | undefined): WirepoolErrorOptions {
  return origin === undefined ? { cause } : { cause, origin }
}

export function abortedError(signal: AbortSignal, what: string, origin: string | undefined): AbortedError {
  return new AbortedError(`${what} aborted`, errorOptions(signal.reason, origin))
}

/** A function, not an inline test, so TypeScript does not keep an earlier narrowing of `aborted`. */
export function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true
}

/** The OS code of a connect failure; Node puts the first attempt's code on the AggregateError of happy eyeballs. */
export function errnoCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : 'UNKNOWN'
}

/** What every dial carries: the deadline, the abort signal, the origin errors name, and the local routing the caller set. */
export interface DialSettings {
  connectTimeout: number
  signal: AbortSignal
  origin: string
  localAddress?: string | undefined
  autoSelectFamily?: boolean | undefined
}

/** A TCP connect request to `host:port` (an origin, or a proxy) with the caller's dial settings. */
export function tcpRequest(host: string, port: number, settings: DialSettings): TcpConnectOptions {
  const tcp: TcpConnectOptions = { host, port, connectTimeout: settings.connectTimeout, signal: settings.signal, origin: settings.origin }
  if (settings.localAddress !== undefined) tcp.localAddress = settings.localAddress
  if (settings.autoSelectFamily !== undefined) tcp.autoSelectFamily = settings.autoSelectFamily
  return tcp
}

/** The node:net options that choose where and how to connect, when the caller set them. */
export function copyRoutingOptions(
  target: { localAddress?: string | undefined; autoSelectFamily?: boolean | undefined; lookup?: net.LookupFunction | undefined },
  opts: TcpConnectOptions,
): void {
  if (opts.localAddress !== undefined) target.localAddress = opts.localAddress
  if (opts.autoSelectFamily !== undefined) target.autoSelectFamily = opts.autoSelectFamily
  if (opts.lookup !== undefined) target.lookup = opts.lookup
}

/** Name resolution for connectTcp: the caller's resolver, else its lookup, else dns.lookup. */
function resolverFor(opts: TcpConnectOptions): HostResolver {
  if (opts.resolver !== undefined) return opts.resolver
  if (opts.lookup !== undefined) return new LookupResolver(opts.lookup)
  return DEFAULT_RESOLVER
}

const DEFAULT_RESOLVER = new LookupResolver()

/** What a connected socket came from, for stats: a name answered from the DNS cache, or not. */
export interface TcpConnected {
  socket: net.Socket
  /** Both address families came from a cache (no query). False for IP literals and Unix sockets too. */
  dnsCached: boolean
  /** `performance.now()` when the name's addresses were known; undefined when nothing was resolved (IP literal, Unix socket). */
  resolvedAt: number | undefined
}

export function connectTcp(opts: TcpConnectOptions): Promise<net.Socket> {
  return connectTcpDetailed(opts).then((c) => c.socket)
}

/**
 * DNS + TCP under one deadline. A name is raced over its addresses (RFC 8305, see
 * happy-eyeballs.ts); an IP literal is the race's only candidate; `socketPath` dials a
 * Unix domain socket instead (host and port then only name the origin).
 */
export function connectTcpDetailed(opts: TcpConnectOptions): Promise<TcpConnected> {
  try {
    validateConnectOptions(opts)
  } catch (err) {
    return Promise.reject(err)
  }
  const { signal, origin } = opts
  // An already-aborted signal must not cost a socket (nor a DNS query).
  if (signal?.aborted === true) return Promise.reject(abortedError(signal, 'connect', origin))
  const host = bareHost(opts.host)
  const socketOptions: SocketOptions = {
    // Set by libuv as soon as the socket connects, before 'connect' is emitted.
    noDelay: opts.noDelay ?? true,
    keepAlive: opts.keepAlive ?? true,
    keepAliveInitialDelay: opts.keepAliveInitialDelay ?? DEFAULT_KEEPALIVE_DELAY,
  }
  if (opts.localAddress !== undefined) socketOptions.localAddress = opts.localAddress
  if (opts.onread !== undefined) socketOptions.onread = opts.onread
  if (opts.socketPath !== undefined) return connectUnix(opts, socketOptions)

  const family = net.isIP(host)
  let resolution: Resolution
  try {
    resolution = family === 6 ? { v6: [host], v4: [], cached: false } : family === 4 ? { v6: [], v4: [host], cached: false } : resolverFor(opts).resolve(host)
  } catch (err) {
    return Promise.reject(dnsError(host, err, origin))
  }
  const race = new ConnectionRace({
    host,
    port: opts.port,
    resolution,
    // autoSelectFamily: false keeps node's meaning: no parallel attempts (here: one address at a time).
    attemptDelay: opts.autoSelectFamily === false ? Infinity : (opts.connectionAttemptDelay ?? DEFAULT_CONNECTION_ATTEMPT_DELAY_MS),
    socketOptions,
    origin,
  })
  const onAbort = (): void => race.abort(abortedError(signal as AbortSignal, 'connect', origin))
  const timer = setTimeout(() => {
    const target = `${host}:${opts.port}`
    race.abort(new ConnectTimeoutError(opts.connectTimeout, { target, addresses: [...race.tried], ...(origin === undefined ? {} : { origin }) }))
  }, opts.connectTimeout)
  signal?.addEventListener('abort', onAbort, { once: true })
  // A custom lookup may abort synchronously, before the listener above existed.
  if (isAborted(signal)) onAbort()
  const cleanUp = (): void => {
    clearTimeout(timer)
    signal?.removeEventListener('abort', onAbort)
  }
  return race.promise.then(
    (socket) => {
      cleanUp()
      return { socket, dnsCached: resolution.cached, resolvedAt: family === 0 ? race.resolvedAt : undefined }
    },
    (err: unknown) => {
      cleanUp()
      throw err
    },
  )
}

type AttemptState = 'connecting' | 'connected' | 'failed'

/** A Unix domain socket (undici's `socketPath`, curl's `--unix-socket`): one attempt, same deadline and signal. */
function connectUnix(opts: TcpConnectOptions, socketOptions: SocketOptions): Promise<TcpConnected> {
  return new Promise((resolve, reject) => {
    const { signal, origin } = opts
    const path = opts.socketPath as string
    let socket: net.Socket
    try {
      // No TCP options here: Nagle and keep-alive probes do not exist on AF_UNIX.
      socket = net.connect(socketOptions.onread === undefined ? { path } : { path, onread: socketOptions.onread })
    } catch (err) {
      reject(new InvalidArgumentError(`invalid connect options: ${(err as Error).message}`, errorOptions(err, origin)))
      return
    }
    let state: AttemptState = 'connecting'
    const onConnect = (): void => transition('connected')
    const onError = (err: Error): void =>
      transition('failed', new ConnectRefusedError(`cannot connect to unix socket ${path}: ${errnoCode(err)} (${err.message})`, errorOptions(err, origin)))
    const onAbort = (): void => transition('failed', abortedError(signal as AbortSignal, 'connect', origin))
    const timer = setTimeout(
      () => transition('failed', new ConnectTimeoutError(opts.connectTimeout, { target: `unix:${path}`, ...(origin === undefined ? {} : { origin }) })),
      opts.connectTimeout,
    )
    socket.once('connect', onConnect)
    socket.once('error', onError)
    signal?.addEventListener('abort', onAbort, { once: true })

    function transition(next: Exclude<AttemptState, 'connecting'>, err?: WirepoolError): void {
      if (state !== 'connecting') return
      state = next
      clearTimeout(timer)
      socket.off('connect', onConnect)
      socket.off('error', onError)
      signal?.removeEventListener('abort', onAbort)
      if (next === 'connected') {
        resolve({ socket, dnsCached: false, resolvedAt: undefined })
        return
      }
      // Nobody owns this socket any more: a late error from it must not become uncaught.
      socket.on('error', noop)
      socket.destroy()
      reject(err)
    }
  })
}

function noop(): void {}
