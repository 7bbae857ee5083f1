/**
 * `wirepool/http-agent`: `http.Agent` / `https.Agent` subclasses whose sockets come from
 * wirepool's connectors (src/tcp, src/tls), so clients built on node:http (axios, got,
 * node-fetch) get wirepool's connect timeout, TCP settings, TLS defaults and per-origin TLS
 * session resumption, and their sockets show up as lifecycle events and figures. node:http
 * still speaks HTTP/1.1 over them: ALPN offers only `http/1.1`.
 */
import http from 'node:http'
import https from 'node:https'
import { isIP, type Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { InvalidArgumentError, toWirepoolError } from '../errors.js'
import type { TlsOptions } from '../options.js'
import type { ConnectionEvent } from '../pool/pool.js'
import { connectTcp, type TcpConnectOptions } from '../tcp/connect.js'
import { connectTls } from '../tls/connect.js'
import { TlsSessionCache } from '../tls/session-cache.js'
import { SocketLedger, type HttpAgentStats, type SocketRecord } from './http-agent-stats.js'

export type { HttpAgentStats, HttpAgentOriginStats } from './http-agent-stats.js'

export interface WirepoolHttpAgentOptions extends http.AgentOptions {
  /** DNS + TCP (+ TLS handshake) deadline in ms. Default 10000. */
  connectTimeout?: number
  /** Happy eyeballs (RFC 8305) as in node:net. */
  autoSelectFamily?: boolean
  /** Defaults for every TLS connection of a WirepoolHttpsAgent; a request's own `ca`, `servername`… win. */
  tls?: TlsOptions
}

/** The options node:http hands to `createConnection`: the request's, plus the agent's. */
type ConnectionOptions = http.ClientRequestArgs & https.RequestOptions & { servername?: string }

type ConnectCallback = (err: Error | null, socket?: Duplex) => void

const DEFAULT_CONNECT_TIMEOUT = 10_000

/** node:http speaks HTTP/1.1 only; offering h2 would let a server pick what it cannot speak (RFC 7301 §3.2). */
const ALPN_HTTP1 = ['http/1.1']

/**
 * What both agent classes share: connecting through wirepool and keeping the ledger. The two
 * classes stay, each a thin delegation: node:https needs an https.Agent, and a class-factory
 * mixin over both bases cannot keep `#private` fields in the emitted declarations (TS4094).
 */
class WirepoolSockets {
  readonly ledger: SocketLedger
  readonly sessionCache: TlsSessionCache | null
  readonly #connectTimeout: number
  readonly #autoSelectFamily: boolean | undefined
  readonly #tls: TlsOptions
  readonly #records = new WeakMap<Socket | Duplex, SocketRecord>()

  /** The options node:http's own Agent takes: all but wirepool's. */
  static agentOptions(options: WirepoolHttpAgentOptions): http.AgentOptions {
    const { connectTimeout: _c, autoSelectFamily: _a, tls: _t, ...agentOptions } = options
    return agentOptions
  }

  constructor(options: WirepoolHttpAgentOptions, emit: (event: ConnectionEvent) => void) {
    const timeout = options.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT
    if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout <= 0) {
      throw new InvalidArgumentError(`option connectTimeout must be a positive number of ms, got ${String(timeout)}`)
    }
    this.#connectTimeout = timeout
    this.#autoSelectFamily = options.autoSelectFamily
    this.#tls = options.tls ?? {}
    this.sessionCache = this.#tls.sessionCache === false ? null : new TlsSessionCache()
    this.ledger = new SocketLedger(emit)
  }

  connect(options: ConnectionOptions, secure: boolean, callback: ConnectCallback): void {
    const host = options.host ?? options.hostname ?? 'localhost'
    const port = Number(options.port ?? (secure ? 443 : 80))
    const authority = isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`
    const origin = `${secure ? 'https' : 'http'}://${authority}`
    const rec = this.ledger.open(origin)
    const tcp: TcpConnectOptions = { host, port, connectTimeout: this.#connectTimeout, origin }
    if (typeof options.localAddress === 'string') tcp.localAddress = options.localAddress
    if (this.#autoSelectFamily !== undefined) tcp.autoSelectFamily = this.#autoSelectFamily
    const done = (socket: Socket, tlsResumed: boolean | null): void => {
      this.#records.set(socket, rec)
      this.ledger.connected(rec, tlsResumed)
      socket.once('close', () => this.ledger.move(rec, 'closed', 'closed'))
      callback(null, socket)
    }
    const fail = (err: unknown): void => {
      const error = toWirepoolError(err, origin)
      this.ledger.failed(rec, error.code)
      callback(error)
    }
    if (!secure) {
      connectTcp(tcp).then((socket) => done(socket, null), fail)
      return
    }
    // The request's own TLS options win over the agent's, as with https.Agent (whose
    // getName keeps sockets with different TLS options apart).
    const tls = this.#tls
    const servername = options.servername !== undefined && options.servername !== '' ? options.servername : tls.servername
    const ca = options.ca ?? tls.ca
    const cert = options.cert ?? tls.cert
    const key = options.key ?? tls.key
    const passphrase = options.passphrase ?? tls.passphrase
    connectTls({
      ...tcp,
      alpnProtocols: ALPN_HTTP1,
      rejectUnauthorized: options.rejectUnauthorized ?? tls.rejectUnauthorized ?? true,
      minVersion: tls.minVersion ?? 'TLSv1.2',
      sessionCache: this.sessionCache,
      ...(servername === undefined || isIP(servername) !== 0 ? {} : { servername }),
      ...(ca === undefined ? {} : { ca: ca as string | Buffer | Array<string | Buffer> }),
      ...(cert === undefined ? {} : { cert: cert as string | Buffer }),
      ...(key === undefined ? {} : { key: key as string | Buffer }),
      ...(passphrase === undefined ? {} : { passphrase }),
      // Pins are the agent's alone: node:https has no request option for them.
      ...(tls.pins === undefined ? {} : { pins: tls.pins }),
    }).then((conn) => done(conn.socket, conn.resumed), fail)
  }

  /**
   * The agent's `keepSocketAlive` verdict from node:http (typed void by @types/node, but a
   * boolean: node:http destroys the socket when it is false); a kept socket waits idle for
   * the next request. Returns the verdict.
   */
  kept(socket: Duplex, verdict: unknown): boolean {
    const kept = verdict as boolean
    const rec = kept ? this.#records.get(socket) : undefined
    if (rec !== undefined) this.ledger.move(rec, 'idle', 'request-done')
    return kept
  }

  /** A kept socket was given to a new request. */
  reused(socket: Duplex): void {
    const rec = this.#records.get(socket)
    if (rec !== undefined) this.ledger.reused(rec)
  }
}

/**
 * `new WirepoolHttpAgent({ keepAlive: true })` for `http:` requests. Figures: `stats()`;
 * lifecycle: `on('connection', ev => …)` and the `wirepool:connection` channel.
 */
export class WirepoolHttpAgent extends http.Agent {
  readonly #sockets: WirepoolSockets

  constructor(options: WirepoolHttpAgentOptions = {}) {
    super(WirepoolSockets.agentOptions(options))
    this.#sockets = new WirepoolSockets(options, (event) => this.emit('connection', event))
  }

  // node:http calls this with a callback and waits for it when nothing is returned.
  override createConnection(options: ConnectionOptions, callback: ConnectCallback): Duplex | undefined {
    this.#sockets.connect(options, false, callback)
    return undefined
  }

  override keepSocketAlive(socket: Duplex): boolean {
    return this.#sockets.kept(socket, super.keepSocketAlive(socket))
  }

  override reuseSocket(socket: Duplex, request: http.ClientRequest): void {
    super.reuseSocket(socket, request)
    this.#sockets.reused(socket)
  }

  stats(): HttpAgentStats {
    return this.#sockets.ledger.stats()
  }
}

/** The same for `https:` requests, with wirepool's TLS connector and session cache. */
export class WirepoolHttpsAgent extends https.Agent {
  readonly #sockets: WirepoolSockets

  constructor(options: WirepoolHttpAgentOptions = {}) {
    super(WirepoolSockets.agentOptions(options))
    this.#sockets = new WirepoolSockets(options, (event) => this.emit('connection', event))
  }

  override createConnection(options: ConnectionOptions, callback: ConnectCallback): Duplex | undefined {
    this.#sockets.connect(options, true, callback)
    return undefined
  }

  override keepSocketAlive(socket: Duplex): boolean {
    return this.#sockets.kept(socket, super.keepSocketAlive(socket))
  }

  override reuseSocket(socket: Duplex, request: http.ClientRequest): void {
    super.reuseSocket(socket, request)
    this.#sockets.reused(socket)
  }

  stats(): HttpAgentStats {
    return this.#sockets.ledger.stats()
  }
}
