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
  connectTarget,
  InvalidArgumentError,
  type WirepoolError,
  type WirepoolErrorOptions,
} from '../errors.js'
import { integerOption } from '../option-checks.js'

export interface TcpConnectOptions {
  /** Name or IP literal; an IPv6 literal may keep its URL brackets (`[::1]`). */
  host: string
  port: number
  /** Milliseconds for DNS + TCP (and the TLS handshake when used by connectTls). */
  connectTimeout: number
  localAddress?: string
  /** Happy eyeballs (RFC 8305) as implemented by node:net. */
  autoSelectFamily?: boolean
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

/** The node:net options that choose where and how to connect, when the caller set them. */
export function copyRoutingOptions(
  target: { localAddress?: string | undefined; autoSelectFamily?: boolean | undefined; lookup?: net.LookupFunction | undefined },
  opts: TcpConnectOptions,
): void {
  if (opts.localAddress !== undefined) target.localAddress = opts.localAddress
  if (opts.autoSelectFamily !== undefined) target.autoSelectFamily = opts.autoSelectFamily
  if (opts.lookup !== undefined) target.lookup = opts.lookup
}

type AttemptState = 'connecting' | 'connected' | 'failed'

export function connectTcp(opts: TcpConnectOptions): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    validateConnectOptions(opts)
    const { signal, origin } = opts
    // An already-aborted signal must not cost a socket (nor a DNS query).
    if (signal?.aborted === true) {
      reject(abortedError(signal, 'connect', origin))
      return
    }
    const host = bareHost(opts.host)
    const netOptions: net.TcpNetConnectOpts = {
      host,
      port: opts.port,
      // Set by libuv as soon as the socket connects, before 'connect' is emitted.
      noDelay: opts.noDelay ?? true,
      keepAlive: opts.keepAlive ?? true,
      keepAliveInitialDelay: opts.keepAliveInitialDelay ?? DEFAULT_KEEPALIVE_DELAY,
    }
    copyRoutingOptions(netOptions, opts)
    if (opts.onread !== undefined) netOptions.onread = opts.onread

    let socket: net.Socket
    try {
      socket = net.connect(netOptions)
    } catch (err) {
      // node:net validates synchronously (bad localAddress, bad onread shape…).
      reject(new InvalidArgumentError(`invalid connect options: ${(err as Error).message}`, errorOptions(err, origin)))
      return
    }

    let state: AttemptState = 'connecting'
    const onConnect = (): void => transition('connected')
    const onError = (err: Error): void =>
      transition(
        'failed',
        new ConnectRefusedError(
          `cannot connect to ${host}:${opts.port}: ${errnoCode(err)} (${err.message})`,
          errorOptions(err, origin),
        ),
      )
    const onAbort = (): void => transition('failed', abortedError(signal as AbortSignal, 'connect', origin))
    const timer = setTimeout(
      () => transition('failed', new ConnectTimeoutError(opts.connectTimeout, { ...(origin === undefined ? {} : { origin }), target: connectTarget(socket, host, opts.port, net.isIP(host)) })),
      opts.connectTimeout,
    )
    socket.once('connect', onConnect)
    socket.once('error', onError)
    signal?.addEventListener('abort', onAbort, { once: true })
    // net.connect may call a custom lookup synchronously, so the signal can already have
    // fired before the listener above existed.
    if (isAborted(signal)) onAbort()

    function transition(next: Exclude<AttemptState, 'connecting'>, err?: WirepoolError): void {
      if (state !== 'connecting') return
      state = next
      clearTimeout(timer)
      socket.off('connect', onConnect)
      socket.off('error', onError)
      signal?.removeEventListener('abort', onAbort)
      if (next === 'connected') {
        resolve(socket)
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
