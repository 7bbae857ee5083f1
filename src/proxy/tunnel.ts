/**
 * The I/O around the sans-I/O proxy handshakes: dial the proxy (TCP, or TLS for an
 * `https://` proxy), then open a route to the origin through it — an HTTP CONNECT tunnel
 * (RFC 9110 §9.3.6) or a SOCKS5 CONNECT (RFC 1928) — and hand back a socket that now
 * carries the origin's bytes. One deadline (the connect timeout) covers dialling and the
 * handshake; every failure names the proxy (by its URL without credentials).
 *
 * States: `dialling` (openProxySocket awaits the connect) `→ handshaking → open`, or
 * `failed` from either; the handshake's one transition function is `finish`.
 */
import { lookup } from 'node:dns/promises'
import { isIP, type Socket } from 'node:net'
import { AbortedError, ConnectTimeoutError, ProxyAuthError, ProxyConnectError, WirepoolError } from '../errors.js'
import { connectTcp, type TcpConnectOptions } from '../tcp/connect.js'
import { connectTls } from '../tls/connect.js'
import { hostForUrl, redactSecrets, type ProxyEndpoint } from './config.js'
import { ConnectReplyParser, connectRequestHead } from './connect-reply.js'
import { Socks5Handshake, type Socks5Step } from './socks5.js'

export interface ProxyDialRequest {
  endpoint: ProxyEndpoint
  /** The origin's host (bare) and port: what the tunnel leads to. */
  targetHost: string
  targetPort: number
  /**
   * `tunnel`: open the route to the target (CONNECT / SOCKS5). `forward`: only dial the
   * proxy, requests then go to it in absolute-form (HTTP proxies, plain-http origins).
   */
  mode: 'tunnel' | 'forward'
  /** ms for everything: DNS, TCP (and TLS) to the proxy, and the proxy's answer. */
  connectTimeout: number
  signal: AbortSignal
  /** The origin, stamped on errors. */
  origin: string
  localAddress?: string
  autoSelectFamily?: boolean
  /** Bound on the CONNECT answer head. */
  maxHeadSize: number
}

export interface ProxySocket {
  /** Paused; bytes the proxy sent after its answer were put back (`unshift`) for the next layer. */
  socket: Socket
  /** Dial (TCP, TLS to an https proxy) time, and the tunnel handshake time. */
  dialMs: number
  handshakeMs: number
  /** Address the proxy said it connected from (SOCKS5 BND.ADDR:PORT); undefined for HTTP. */
  bound: string | undefined
}

export async function openProxySocket(req: ProxyDialRequest): Promise<ProxySocket> {
  const started = performance.now()
  const deadline = started + req.connectTimeout
  const socket = await dialProxy(req)
  const dialMs = performance.now() - started
  if (req.mode === 'forward') return { socket, dialMs, handshakeMs: 0, bound: undefined }
  const remaining = Math.max(1, deadline - performance.now())
  const bound = await handshake(socket, req, remaining)
  return { socket, dialMs, handshakeMs: performance.now() - started - dialMs, bound }
}

/** TCP (or TLS) to the proxy itself; any failure becomes "the proxy could not be reached". */
async function dialProxy(req: ProxyDialRequest): Promise<Socket> {
  const { endpoint } = req
  const tcp: TcpConnectOptions = {
    host: endpoint.host,
    port: endpoint.port,
    connectTimeout: req.connectTimeout,
    signal: req.signal,
    origin: req.origin,
  }
  if (req.localAddress !== undefined) tcp.localAddress = req.localAddress
  if (req.autoSelectFamily !== undefined) tcp.autoSelectFamily = req.autoSelectFamily
  try {
    if (endpoint.scheme !== 'https') return await connectTcp(tcp)
    const t = endpoint.tls
    const connected = await connectTls({
      ...tcp,
      // The proxy speaks HTTP/1.1 for CONNECT: offer nothing else.
      alpnProtocols: ['http/1.1'],
      ...(t.servername === undefined ? {} : { servername: t.servername }),
      ...(t.ca === undefined ? {} : { ca: t.ca }),
      ...(t.cert === undefined ? {} : { cert: t.cert }),
      ...(t.key === undefined ? {} : { key: t.key }),
      ...(t.passphrase === undefined ? {} : { passphrase: t.passphrase }),
      ...(t.pins === undefined ? {} : { pins: t.pins }),
      rejectUnauthorized: t.rejectUnauthorized ?? true,
      minVersion: t.minVersion ?? 'TLSv1.2',
      sessionCache: null,
    })
    return connected.socket
  } catch (err) {
    if (err instanceof AbortedError) throw err
    const detail = err instanceof ConnectTimeoutError ? `no connection within ${req.connectTimeout} ms` : (err as Error).message
    throw new ProxyConnectError(endpoint.display, 0, '', `cannot reach proxy ${endpoint.display}: ${redactSecrets(detail, endpoint)}`, { cause: err, origin: req.origin })
  }
}

type HandshakeState = 'handshaking' | 'open' | 'failed'

type Outcome = { ok: true; rest: Uint8Array; bound: string | undefined } | { ok: false; error: WirepoolError }

/**
 * Runs the handshake on a connected proxy socket. Resolves with the socket paused and any
 * bytes after the answer unshifted; rejects (socket destroyed) otherwise.
 */
function handshake(socket: Socket, req: ProxyDialRequest, timeoutMs: number): Promise<string | undefined> {
  const { endpoint, origin } = req
  const authority = `${hostForUrl(req.targetHost)}:${req.targetPort}`
  return new Promise((resolve, reject) => {
    let state: HandshakeState = 'handshaking'
    // Replaced once the request is written: a proxy that speaks first is not following the protocol.
    let step: (chunk: Uint8Array) => Outcome | undefined = () => fail(0, '', `proxy ${endpoint.display} sent bytes before it was asked anything`)

    const finish = (outcome: Outcome): void => {
      // handshaking → open | failed; nothing leaves open or failed.
      if (state !== 'handshaking') return
      state = outcome.ok ? 'open' : 'failed'
      clearTimeout(timer)
      socket.off('data', onData)
      socket.off('error', onError)
      socket.off('close', onClose)
      req.signal.removeEventListener('abort', onAbort)
      if (!outcome.ok) {
        socket.on('error', noop)
        socket.destroy()
        reject(outcome.error)
        return
      }
      socket.pause()
      // After a 2xx the proxy is a byte pipe: what followed its answer is the origin's.
      if (outcome.rest.byteLength > 0) socket.unshift(Buffer.from(outcome.rest))
      resolve(outcome.bound)
    }
    const fail = (status: number, statusLine: string, message: string, cause?: unknown): Outcome => ({
      ok: false,
      error: new ProxyConnectError(endpoint.display, status, redactSecrets(statusLine, endpoint), redactSecrets(message, endpoint), cause === undefined ? { origin } : { cause, origin }),
    })
    const onData = (chunk: Buffer): void => {
      let outcome: Outcome | undefined
      try {
        outcome = step(chunk)
      } catch (err) {
        outcome = fail(0, '', `proxy ${endpoint.display}: ${(err as Error).message}`, err)
      }
      if (outcome !== undefined) finish(outcome)
    }
    const onError = (err: Error): void => finish(fail(0, '', `proxy ${endpoint.display} connection failed during the handshake: ${err.message}`, err))
    const onClose = (): void => finish(fail(0, '', `proxy ${endpoint.display} closed the connection before it answered for ${authority}`))
    const onAbort = (): void => finish({ ok: false, error: new AbortedError('connect aborted', { cause: req.signal.reason, origin }) })
    const timer = setTimeout(
      () => finish(fail(0, '', `proxy ${endpoint.display} did not answer for ${authority} within ${req.connectTimeout} ms`, new ConnectTimeoutError(req.connectTimeout, { origin }))),
      timeoutMs,
    )

    socket.on('data', onData)
    socket.once('error', onError)
    socket.once('close', onClose)
    req.signal.addEventListener('abort', onAbort, { once: true })
    if (req.signal.aborted) {
      onAbort()
      return
    }

    if (endpoint.scheme === 'http' || endpoint.scheme === 'https') {
      const parser = new ConnectReplyParser(req.maxHeadSize)
      step = (chunk) => {
        const r = parser.push(chunk)
        if (r.kind === 'more') return undefined
        if (r.kind === 'invalid') return fail(0, '', `proxy ${endpoint.display} sent an invalid answer to CONNECT ${authority}: ${r.reason}`)
        if (r.status >= 200 && r.status < 300) return { ok: true, rest: r.rest, bound: undefined }
        if (r.status === 407) {
          const how = endpoint.authorization === undefined ? 'requires credentials' : 'rejected the credentials'
          return {
            ok: false,
            error: new ProxyAuthError(endpoint.display, 407, `proxy ${endpoint.display} ${how} (${redactSecrets(r.statusLine, endpoint)})`, { origin }),
          }
        }
        return fail(r.status, r.statusLine, `proxy ${endpoint.display} refused CONNECT ${authority}: ${r.statusLine}`)
      }
      socket.write(connectRequestHead({ authority, authorization: endpoint.authorization }), 'latin1')
      return
    }

    // SOCKS5: `socks5h` sends the name (the proxy resolves it); `socks5` resolves it here.
    void socksTarget(req).then(
      (host) => {
        if (state !== 'handshaking') return
        let hs: Socks5Handshake
        try {
          hs = new Socks5Handshake(
            { host, port: req.targetPort },
            endpoint.username === undefined ? undefined : { username: endpoint.username, password: endpoint.password ?? '' },
          )
        } catch (err) {
          finish(fail(0, '', `cannot ask proxy ${endpoint.display} for ${authority}: ${(err as Error).message}`, err))
          return
        }
        step = (chunk) => {
          let s: Socks5Step = hs.push(chunk)
          // A reply may already hold the next one (bounded: each step consumes its bytes).
          while (s.kind === 'send') {
            socket.write(s.bytes)
            s = hs.push(EMPTY)
          }
          return socksOutcome(s)
        }
        socket.write(hs.greeting())
      },
      (err: unknown) => finish(fail(0, '', `cannot resolve ${req.targetHost} for SOCKS5 proxy ${endpoint.display}: ${(err as Error).message}`, err)),
    )

    function socksOutcome(s: Socks5Step): Outcome | undefined {
      switch (s.kind) {
        case 'more':
        case 'send':
          return undefined
        case 'done':
          return { ok: true, rest: s.rest, bound: s.bound }
        case 'auth-failed':
          return { ok: false, error: new ProxyAuthError(endpoint.display, s.status, `SOCKS5 proxy ${endpoint.display}: ${s.reason}`, { origin }) }
        case 'refused':
          return fail(s.reply, s.reason, `SOCKS5 proxy ${endpoint.display} could not connect to ${authority}: ${s.reason}`)
        case 'invalid':
          return fail(0, '', `SOCKS5 proxy ${endpoint.display} sent an invalid reply: ${s.reason}`)
      }
    }
  })
}

/** socks5: the address resolved here (the proxy sees an IP); socks5h: the name, resolved at the proxy. */
async function socksTarget(req: ProxyDialRequest): Promise<string> {
  if (req.endpoint.scheme === 'socks5h' || isIP(req.targetHost) !== 0) return req.targetHost
  const { address } = await lookup(req.targetHost)
  return address
}

const EMPTY = new Uint8Array(0)
function noop(): void {}
