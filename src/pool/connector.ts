/**
 * Opens one connection for a pool: TCP (and TLS with ALPN) through src/tcp and src/tls,
 * then the protocol connection the ALPN result asks for. The only place the pool meets a
 * concrete protocol class.
 */
import { connectTcp, type TcpConnectOptions } from '../tcp/connect.js'
import { connectTls, type PeerCertificateInfo } from '../tls/connect.js'
import type { TlsSessionCache } from '../tls/session-cache.js'
import { H1Connection } from '../h1/connection.js'
import { H2Connection, type H2ConnectionOptions } from '../h2/session.js'
import type { PoolConnection } from '../dispatch.js'
import type { ResolvedPoolOptions } from '../options.js'
import type { Origin } from './origin.js'

export interface OpenedConnection {
  connection: PoolConnection
  tlsResumed: boolean | null
  remoteAddress: string | undefined
  tcpMs: number
  tlsMs: number
  certificate: PeerCertificateInfo | null
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
  const tcp: TcpConnectOptions = {
    host: origin.hostname,
    port: origin.port,
    connectTimeout: options.connectTimeout,
    signal: req.signal,
    origin: origin.origin,
  }
  if (options.localAddress !== undefined) tcp.localAddress = options.localAddress
  if (options.autoSelectFamily !== undefined) tcp.autoSelectFamily = options.autoSelectFamily

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

  if (!origin.secure) {
    const started = performance.now()
    const socket = await connectTcp(tcp)
    return {
      // h2c with prior knowledge (RFC 9113 §3.3): the preface is the first thing we send.
      connection: options.h2c && req.h1Only !== true ? new H2Connection(socket, h2Options(null)) : new H1Connection(socket, { ...h1Options, tlsResumed: null }),
      tlsResumed: null,
      remoteAddress: socket.remoteAddress,
      tcpMs: performance.now() - started,
      tlsMs: 0,
      certificate: null,
    }
  }

  const tlsOptions = options.tls
  const tls = await connectTls({
    ...tcp,
    ...(tlsOptions.servername === undefined ? {} : { servername: tlsOptions.servername }),
    ...(tlsOptions.ca === undefined ? {} : { ca: tlsOptions.ca }),
    ...(tlsOptions.cert === undefined ? {} : { cert: tlsOptions.cert }),
    ...(tlsOptions.key === undefined ? {} : { key: tlsOptions.key }),
    ...(tlsOptions.passphrase === undefined ? {} : { passphrase: tlsOptions.passphrase }),
    ...(tlsOptions.pins === undefined ? {} : { pins: tlsOptions.pins }),
    rejectUnauthorized: tlsOptions.rejectUnauthorized ?? true,
    minVersion: tlsOptions.minVersion ?? 'TLSv1.2',
    alpnProtocols: options.allowH2 && req.h1Only !== true ? ALPN_H2_FIRST : ALPN_H1_ONLY,
    sessionCache: req.sessionCache,
  })
  return {
    // A server that picks no protocol speaks HTTP/1.1 (RFC 7301 §3.2 leaves it to the default).
    connection:
      tls.alpnProtocol === 'h2'
        ? new H2Connection(tls.socket, h2Options(tls.resumed))
        : new H1Connection(tls.socket, { ...h1Options, tlsResumed: tls.resumed }),
    tlsResumed: tls.resumed,
    remoteAddress: tls.socket.remoteAddress,
    tcpMs: tls.tcpMs,
    tlsMs: tls.tlsMs,
    certificate: tls.certificate,
  }
}
