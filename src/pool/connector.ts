/**
 * Opens one connection for a pool: TCP (and TLS with ALPN) through src/tcp and src/tls,
 * then the protocol connection the ALPN result asks for. The only place the pool meets a
 * concrete protocol class.
 */
import { connectTcp, type TcpConnectOptions } from '../tcp/connect.js'
import { connectTls, type PeerCertificateInfo } from '../tls/connect.js'
import type { TlsSessionCache } from '../tls/session-cache.js'
import { H1Connection } from '../h1/connection.js'
import type { PoolConnection } from '../dispatch.js'
import type { ResolvedPoolOptions } from '../options.js'
import type { Origin } from './origin.js'

export interface OpenedConnection {
  connection: PoolConnection
  tlsResumed: boolean | null
  tlsVersion: string | null
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
}

/** ALPN offer. HTTP/2 is not in this build yet, so only http/1.1 is offered (RFC 7301). */
const ALPN_PROTOCOLS = ['http/1.1']

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

  if (!origin.secure) {
    const started = performance.now()
    const socket = await connectTcp(tcp)
    return {
      connection: new H1Connection(socket, { ...h1Options, tlsResumed: null }),
      tlsResumed: null,
      tlsVersion: null,
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
    alpnProtocols: ALPN_PROTOCOLS,
    sessionCache: req.sessionCache,
  })
  return {
    connection: new H1Connection(tls.socket, { ...h1Options, tlsResumed: tls.resumed }),
    tlsResumed: tls.resumed,
    tlsVersion: tls.protocolVersion,
    remoteAddress: tls.socket.remoteAddress,
    tcpMs: tls.tcpMs,
    tlsMs: tls.tlsMs,
    certificate: tls.certificate,
  }
}
