/**
 * The connector's one way to a peer: the pool's routing options (Unix socket, resolver,
 * lookup, Happy Eyeballs delay) turned into TCP connect options, and TLS run over the
 * winner of the Happy Eyeballs race rather than over node:net's serial `autoSelectFamily`.
 */
import net from 'node:net'
import { ConnectTimeoutError, InvalidArgumentError } from '../errors.js'
import type { HostResolver, LookupFunction } from '../dns/resolution.js'
import { connectTls, type TlsConnection, type TlsConnectOptions } from '../tls/connect.js'
import { bareHost, connectTcpDetailed, type TcpConnected, type TcpConnectOptions } from './connect.js'

/** The pool options that decide where a connection goes (a subset of ResolvedPoolOptions). */
export interface RouteOptions {
  socketPath: string | undefined
  lookup: LookupFunction | undefined
  resolver: HostResolver | undefined
  connectionAttemptDelay: number
}

/** Copies the routing options onto a TCP connect request; throws for a combination that cannot work. */
export function applyRoute(tcp: TcpConnectOptions, route: RouteOptions, secure: boolean): TcpConnectOptions {
  if (route.socketPath !== undefined) {
    // h1 and h2c only: TLS over AF_UNIX would need a server name policy of its own.
    if (secure) throw new InvalidArgumentError('option socketPath works with http: origins only (HTTP/1.1 and h2c)', tcp.origin === undefined ? {} : { origin: tcp.origin })
    tcp.socketPath = route.socketPath
    return tcp
  }
  if (route.resolver !== undefined) tcp.resolver = route.resolver
  else if (route.lookup !== undefined) tcp.lookup = route.lookup
  tcp.connectionAttemptDelay = route.connectionAttemptDelay
  return tcp
}

export interface TlsDialed extends TlsConnection {
  dnsCached: boolean
  /** When the name's addresses were known (undefined for an IP literal: nothing was resolved). */
  resolvedAt: number | undefined
}

/**
 * DNS + TCP (the race) then the TLS handshake over the winning socket, under one deadline:
 * the handshake gets what the race left of `connectTimeout`.
 */
export async function dialTls(opts: TlsConnectOptions): Promise<TlsDialed> {
  // An IP literal has nothing to resolve or race: one TLSSocket does the TCP connect and the
  // handshake, as before Happy Eyeballs (no second socket object kept per connection).
  if (opts.socket === undefined && opts.socketPath === undefined && net.isIP(bareHost(opts.host)) !== 0) {
    return { ...(await connectTls(opts)), dnsCached: false, resolvedAt: undefined }
  }
  const started = performance.now()
  const tcp: TcpConnected = await connectTcpDetailed(opts)
  const tcpAt = performance.now()
  const tcpMs = tcpAt - started
  const left = Math.max(1, opts.connectTimeout - tcpMs)
  // Read now: a socket destroyed by a failed handshake no longer knows its peer.
  const address = tcp.socket.remoteAddress
  try {
    const tls = await connectTls({ ...opts, connectTimeout: left, socket: tcp.socket })
    return { ...tls, tcpMs, tcpAt, dnsCached: tcp.dnsCached, resolvedAt: tcp.resolvedAt }
  } catch (err) {
    // Rejected before node:tls took the socket (bad option, abort): it is still ours to close.
    tcp.socket.destroy()
    // One deadline for the whole connect: report it as set, with the address that was reached.
    if (err instanceof ConnectTimeoutError) {
      throw new ConnectTimeoutError(opts.connectTimeout, {
        target: `${bareHost(opts.host)}:${opts.port} (TLS handshake)`,
        addresses: address === undefined ? [] : [address],
        cause: err,
        ...(opts.origin === undefined ? {} : { origin: opts.origin }),
      })
    }
    throw err
  }
}

/** For stats: 'hit' when the name came from the DNS cache, 'miss' when it was asked for, null when no name was resolved. */
export function dnsOutcome(host: string, route: RouteOptions, dnsCached: boolean): 'hit' | 'miss' | null {
  if (route.resolver === undefined || route.socketPath !== undefined || net.isIP(bareHost(host)) !== 0) return null
  return dnsCached ? 'hit' : 'miss'
}
