/**
 * Opens one connection for a pool: TCP (and TLS with ALPN) through src/tcp and src/tls,
 * then the protocol connection the ALPN result asks for. The only place the pool meets a
 * concrete protocol class.
 */
import { connectTcpDetailed, tcpRequest, type TcpConnectOptions } from '../tcp/connect.js'
import { applyRoute, dialTls, dnsOutcome } from '../tcp/dial.js'
import { connectTls, type PeerCertificateInfo, type TlsConnection, type TlsConnectOptions } from '../tls/connect.js'
import type { TlsSessionCache } from '../tls/session-cache.js'
import { H1Connection, type H1ConnectionOptions } from '../h1/connection.js'
import { H2Connection, type H2ConnectionOptions } from '../h2/session.js'
import type { PoolConnection } from '../dispatch.js'
import { tlsConnectSettings, type ResolvedPoolOptions } from '../options.js'
import type { Origin } from './origin.js'
import { proxyRouteFor, type ProxyRoute } from '../proxy/route.js'
import { openProxySocket, type ProxySocket } from '../proxy/tunnel.js'
import { ForwardedRequestHandler } from '../proxy/forward-handler.js'
import type { ConnectTimings } from '../timings.js'

export interface OpenedConnection {
  connection: PoolConnection
  tlsResumed: boolean | null
  remoteAddress: string | undefined
  tcpMs: number
  tlsMs: number
  certificate: PeerCertificateInfo | null
  /** The proxy the connection goes through (its URL without credentials), or undefined when direct. */
  proxy?: string
  /** Time the proxy took to open the tunnel (CONNECT / SOCKS5 answer), included in tcpMs. */
  tunnelMs?: number
  /** Whether the DNS cache answered (null: no cache, an IP literal or a Unix socket). */
  dns: 'hit' | 'miss' | null
  /** When each connect phase ended: the connection's first request reports them. */
  timings: ConnectTimings
}

export interface ConnectRequest {
  id: number
  origin: Origin
  options: ResolvedPoolOptions
  sessionCache: TlsSessionCache | null
  signal: AbortSignal
  /**
   * Open an HTTP/1.1 connection whatever allowH2 / h2c say: the fallback for an upgrade
   * (WebSocket) when the origin's HTTP/2 connections do not enable extended CONNECT (RFC 8441).
   */
  h1Only?: boolean
}

/** ALPN offers (RFC 7301), in preference order. */
const ALPN_H2_FIRST = ['h2', 'http/1.1']
const ALPN_H1_ONLY = ['http/1.1']

export async function openConnection(req: ConnectRequest): Promise<OpenedConnection> {
  const { origin, options } = req
  const tcp = tcpRequest(origin.hostname, origin.port, {
    connectTimeout: options.connectTimeout,
    signal: req.signal,
    origin: origin.origin,
    localAddress: options.localAddress,
    autoSelectFamily: options.autoSelectFamily,
  })
  // Unix socket, resolver / lookup, Happy Eyeballs delay (src/tcp/dial.ts).
  applyRoute(tcp, options, origin.secure)

  const h1Options = {
    id: req.id,
    origin: origin.origin,
    pipelining: options.pipelining,
    maxHeaderSize: options.maxHeaderSize,
    maxHeaderCount: options.maxHeaderCount,
    expectContinueTimeout: options.expectContinueTimeout,
    ...(options.maxRequestsPerConnection === undefined ? {} : { maxRequestsPerConnection: options.maxRequestsPerConnection }),
  }

  const h2Options = (tlsResumed: boolean | null): H2ConnectionOptions => ({
    id: req.id,
    origin: origin.origin,
    tlsResumed,
    maxHeaderListSize: options.maxHeaderSize,
    maxHeaderCount: options.maxHeaderCount,
    expectContinueTimeout: options.expectContinueTimeout,
    ...(options.maxConcurrentStreams === undefined ? {} : { maxConcurrentStreams: options.maxConcurrentStreams }),
    ...(options.pingInterval === 0 ? {} : { pingInterval: options.pingInterval }),
    readIdleTimeout: options.readIdleTimeout,
    pingTimeout: options.pingTimeout,
  })

  const route = proxyRouteFor(options.proxy, origin, options.h2c && req.h1Only !== true)
  if (route !== undefined) return openViaProxy(req, route, h1Options, h2Options)

  const started = performance.now()
  if (!origin.secure) {
    const { socket, dnsCached, resolvedAt } = await connectTcpDetailed(tcp)
    const connected = performance.now()
    return {
      dns: dnsOutcome(origin.hostname, options, dnsCached),
      // h2c with prior knowledge (RFC 9113 §3.3): the preface is the first thing we send.
      connection: options.h2c && req.h1Only !== true ? new H2Connection(socket, h2Options(null)) : new H1Connection(socket, { ...h1Options, tlsResumed: null }),
      tlsResumed: null,
      remoteAddress: socket.remoteAddress,
      tcpMs: connected - started,
      tlsMs: 0,
      certificate: null,
      timings: { start: started, dns: resolvedAt, tcp: connected, proxy: undefined, tls: undefined },
    }
  }

  const tls = await dialTls(originTlsOptions(req, tcp))
  return {
    connection: overTls(tls, h1Options, h2Options),
    tlsResumed: tls.resumed,
    remoteAddress: tls.socket.remoteAddress,
    tcpMs: tls.tcpMs,
    tlsMs: tls.tlsMs,
    certificate: tls.certificate,
    dns: dnsOutcome(origin.hostname, options, tls.dnsCached),
    timings: { start: started, dns: tls.resolvedAt, tcp: tls.tcpAt, proxy: undefined, tls: tls.tlsAt },
  }
}

/** The protocol ALPN chose. A server that picks none speaks HTTP/1.1 (RFC 7301 §3.2 leaves it to the default). */
function overTls(tls: TlsConnection, h1Options: Omit<H1ConnectionOptions, 'tlsResumed'>, h2Options: (tlsResumed: boolean | null) => H2ConnectionOptions): PoolConnection {
  return tls.alpnProtocol === 'h2' ? new H2Connection(tls.socket, h2Options(tls.resumed)) : new H1Connection(tls.socket, { ...h1Options, tlsResumed: tls.resumed })
}

/** The origin's TLS settings (SNI, ALPN, CA, pins, session cache), over TCP or over a given tunnel. */
function originTlsOptions(req: ConnectRequest, tcp: TcpConnectOptions): TlsConnectOptions {
  const { options } = req
  return {
    ...tcp,
    ...tlsConnectSettings(options.tls),
    alpnProtocols: options.allowH2 && req.h1Only !== true ? ALPN_H2_FIRST : ALPN_H1_ONLY,
    sessionCache: req.sessionCache,
  }
}

/**
 * Through a proxy: a socket to the proxy (tunnelled to the origin, or not for forwarding),
 * then the same protocol choice as direct. Over a tunnel TLS is end to end with the origin:
 * SNI, ALPN, verification, pins and session resumption are the origin's, as if direct; the
 * proxy sees ciphertext. The proxy's credentials went on the CONNECT (or go on each
 * forwarded request as a header meant for the proxy), never inside the tunnel.
 */
async function openViaProxy(
  req: ConnectRequest,
  route: ProxyRoute,
  h1Options: Omit<H1ConnectionOptions, 'tlsResumed'>,
  h2Options: (tlsResumed: boolean | null) => H2ConnectionOptions,
): Promise<OpenedConnection> {
  const { origin, options } = req
  const started = performance.now()
  const via = await openProxySocket({
    endpoint: route.endpoint,
    targetHost: origin.hostname,
    targetPort: origin.port,
    mode: route.mode,
    connectTimeout: options.connectTimeout,
    signal: req.signal,
    origin: origin.origin,
    maxHeadSize: options.maxHeaderSize,
    ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
    ...(options.autoSelectFamily === undefined ? {} : { autoSelectFamily: options.autoSelectFamily }),
  })
  const socket = via.socket
  const tunnelMs = via.handshakeMs
  const proxy = route.endpoint.display
  if (!origin.secure) {
    let connection: PoolConnection
    if (route.mode === 'forward') {
      const auth = route.endpoint.authorization
      const forwardProxy = { origin: origin.origin, headerLines: auth === undefined ? '' : `proxy-authorization: ${auth}\r\n` }
      const forwarding = new H1Connection(socket, { ...h1Options, tlsResumed: null, forwardProxy })
      // A 407 on a forwarded request is the proxy's answer (WP_PROXY_AUTH), not the origin's.
      const dispatch = forwarding.dispatch.bind(forwarding)
      const endpoint = route.endpoint
      forwarding.dispatch = (request, handler) => dispatch(request, new ForwardedRequestHandler(handler, endpoint, origin.origin))
      connection = forwarding
    } else {
      connection = options.h2c && req.h1Only !== true ? new H2Connection(socket, h2Options(null)) : new H1Connection(socket, { ...h1Options, tlsResumed: null })
    }
    // The tunnel left the socket paused (with any early bytes put back): let them flow now.
    socket.resume()
    return { connection, tlsResumed: null, remoteAddress: socket.remoteAddress, tcpMs: performance.now() - started, tlsMs: 0, certificate: null, proxy, tunnelMs, dns: null, timings: proxyTimings(started, via, route.mode === 'forward', undefined) }
  }
  const tcp: TcpConnectOptions = { host: origin.hostname, port: origin.port, connectTimeout: Math.max(1, options.connectTimeout - (performance.now() - started)), signal: req.signal, origin: origin.origin }
  const tcpMs = performance.now() - started
  const tls = await connectTls({ ...originTlsOptions(req, tcp), socket })
  return {
    connection: overTls(tls, h1Options, h2Options),
    tlsResumed: tls.resumed,
    remoteAddress: socket.remoteAddress,
    tcpMs,
    tlsMs: tls.tlsMs,
    certificate: tls.certificate,
    proxy,
    tunnelMs,
    // The name was the proxy's to resolve (or the tunnel's dial).
    dns: null,
    timings: proxyTimings(started, via, false, tls.tlsAt),
  }
}

/**
 * A proxied connection's edges: TCP (and TLS to an https proxy) to the proxy, then the
 * tunnel (absent when forwarding), then TLS with the origin. No DNS edge: the proxy's own
 * name is part of its dial, and the origin's name is the proxy's to resolve.
 */
function proxyTimings(started: number, via: ProxySocket, forwarding: boolean, tlsAt: number | undefined): ConnectTimings {
  const tcp = started + via.dialMs
  return { start: started, dns: undefined, tcp, proxy: forwarding ? undefined : tcp + via.handshakeMs, tls: tlsAt }
}
