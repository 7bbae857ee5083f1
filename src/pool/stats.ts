/**
 * The figures a pool keeps about itself, `stats()` snapshots (field names fixed by API.md)
 * and the Prometheus text exposition (format 0.0.4) of the same numbers.
 */
import type { Protocol } from '../dispatch.js'
import { Histogram, type PercentileSummary } from './histogram.js'

export interface ConnectionCounts {
  connecting: number
  idle: number
  busy: number
  draining: number
  total: number
}

export interface OriginStats {
  connections: ConnectionCounts
  connectionsCreated: number
  connectionsClosed: number
  /** Requests handed to a connection (a retried request counts once per attempt). */
  requests: number
  /** Requests waiting for a connection right now. */
  requestsQueued: number
  /** Requests sent on a connection that had carried a request before. */
  reused: number
  reuseRate: number
  /** Requests in flight on this origin's connections (HTTP/1.1: one per in-flight request). */
  streamsOpen: number
  tlsHandshakes: number
  tlsResumed: number
  retries: number
  /** Requests for other origins this origin's HTTP/2 connections carried (Agent `coalesce`). */
  coalesced: number
  /** Time from `request()` until a connection took the request. */
  acquireMs: PercentileSummary
  /** The same, only for requests that had to queue because every connection was at its limit. */
  waitMs: PercentileSummary
  /** Live connections per protocol. */
  protocols: Record<string, number>
  /** Failures counted by kind and error code, e.g. `request_error:WP_HEADERS_TIMEOUT`. */
  errors: Record<string, number>
  /** Days until the newest peer certificate seen expires (null for cleartext origins). */
  certificateDaysLeft: number | null
  /** Mean PING round trip over the live connections that measured one (HTTP/2), ms; null when none did. */
  pingRttMs: number | null
  /** Connections closed, by why: what retired them (idle-timeout, max-age, max-requests, pool-closing…), else how they ended (closed by the peer, error:<code>, connect-failed:<code>). */
  closedByReason: Record<string, number>
  /** Sockets handed over by a 101 (WebSocket) and still open; and all ever handed over. */
  upgradedOpen: number
  upgradesTotal: number
  /** WebSockets of this origin (over HTTP/1.1 upgrades and RFC 8441 HTTP/2 streams). */
  webSockets: WebSocketCounts
  /** DNS + TCP connect and TLS handshake times of new connections. */
  tcpConnectMs: PercentileSummary
  tlsHandshakeMs: PercentileSummary
  /**
   * Name resolutions of new connections through the DNS cache (option `dnsCache`): answered
   * from the cache, asked for, or failed (WP_DNS, whatever the resolver). All 0 without a cache,
   * except failures.
   */
  dns: DnsCounts
}

export interface DnsCounts {
  hits: number
  misses: number
  failures: number
}

export interface WebSocketCounts {
  open: number
  opened: number
  messagesIn: number
  messagesOut: number
  /** Payload bytes of whole messages (after decompression in, before compression out). */
  bytesIn: number
  bytesOut: number
  /** Closes by the code the close event reported (1000, 1006, …). */
  closes: Record<string, number>
}

/** What a WebSocket reports into its origin's figures (not exported from the package root). */
export class WebSocketFigures implements WebSocketCounts {
  open = 0
  opened = 0
  messagesIn = 0
  messagesOut = 0
  bytesIn = 0
  bytesOut = 0
  closes: Record<string, number> = {}

  onOpen(): void {
    this.open++
    this.opened++
  }

  onClose(code: number, wasOpen: boolean): void {
    if (wasOpen) this.open--
    this.closes[code] = (this.closes[code] ?? 0) + 1
  }

  snapshot(): WebSocketCounts {
    const { open, opened, messagesIn, messagesOut, bytesIn, bytesOut } = this
    return { open, opened, messagesIn, messagesOut, bytesIn, bytesOut, closes: { ...this.closes } }
  }
}

export class PoolFigures {
  connectionsCreated = 0
  connectionsClosed = 0
  requests = 0
  reused = 0
  tlsHandshakes = 0
  tlsResumed = 0
  retries = 0
  /** Requests for other origins carried on this origin's HTTP/2 connections (coalescing). */
  coalesced = 0
  readonly requestsByProtocol: Record<string, number> = {}
  readonly acquire = new Histogram()
  readonly wait = new Histogram()
  readonly connect = new Histogram()
  readonly tcpConnect = new Histogram()
  readonly tlsHandshake = new Histogram()
  certificateDaysLeft: number | null = null
  upgradesTotal = 0
  readonly closedByReason: Record<string, number> = {}
  readonly webSockets = new WebSocketFigures()
  readonly errors: Record<string, number> = {}
  dnsHits = 0
  dnsMisses = 0

  onDns(outcome: 'hit' | 'miss' | null): void {
    if (outcome === 'hit') this.dnsHits++
    else if (outcome === 'miss') this.dnsMisses++
  }

  onDispatch(reused: boolean, waitedMs: number, atLimit: boolean, protocol: Protocol | undefined): void {
    this.requests++
    if (reused) this.reused++
    this.acquire.record(waitedMs)
    if (atLimit) this.wait.record(waitedMs)
    if (protocol !== undefined) this.requestsByProtocol[protocol] = (this.requestsByProtocol[protocol] ?? 0) + 1
  }

  onConnected(elapsedMs: number, tlsResumed: boolean | null, tcpMs: number, tlsMs: number): void {
    this.connect.record(elapsedMs)
    this.tcpConnect.record(tcpMs)
    if (tlsResumed !== null) this.tlsHandshake.record(tlsMs)
    if (tlsResumed !== null) {
      this.tlsHandshakes++
      if (tlsResumed) this.tlsResumed++
    }
  }

  count(key: string): void {
    this.errors[key] = (this.errors[key] ?? 0) + 1
  }

  snapshot(
    connections: ConnectionCounts,
    queued: number,
    streamsOpen: number,
    protocols: Record<string, number>,
    certificateDaysLeft: number | null,
    upgradedOpen: number,
    pingRttMs: number | null,
  ): OriginStats {
    this.certificateDaysLeft = certificateDaysLeft
    return {
      connections,
      connectionsCreated: this.connectionsCreated,
      connectionsClosed: this.connectionsClosed,
      requests: this.requests,
      requestsQueued: queued,
      reused: this.reused,
      reuseRate: this.requests === 0 ? 0 : this.reused / this.requests,
      streamsOpen,
      tlsHandshakes: this.tlsHandshakes,
      tlsResumed: this.tlsResumed,
      retries: this.retries,
      coalesced: this.coalesced,
      acquireMs: this.acquire.summary(),
      waitMs: this.wait.summary(),
      protocols,
      errors: { ...this.errors },
      certificateDaysLeft,
      pingRttMs,
      closedByReason: { ...this.closedByReason },
      upgradedOpen,
      upgradesTotal: this.upgradesTotal,
      webSockets: this.webSockets.snapshot(),
      tcpConnectMs: this.tcpConnect.summary(),
      tlsHandshakeMs: this.tlsHandshake.summary(),
      // Connect failures are already counted by code; a DNS one is WP_DNS.
      dns: { hits: this.dnsHits, misses: this.dnsMisses, failures: this.errors['connect_error:WP_DNS'] ?? 0 },
    }
  }
}

/** One origin's figures, as the exposition needs them. */
export interface OriginFigures {
  origin: string
  stats: OriginStats
  figures: PoolFigures
}

/** Prometheus text format 0.0.4 label value escaping: backslash, double quote, newline. */
function label(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

function num(n: number): string {
  if (Number.isNaN(n)) return 'NaN'
  if (n === Infinity) return '+Inf'
  if (n === -Infinity) return '-Inf'
  return String(n)
}

function family(out: string[], name: string, type: 'counter' | 'gauge' | 'histogram', help: string): void {
  out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`)
}

function histogram(out: string[], name: string, help: string, all: OriginFigures[], pick: (f: PoolFigures) => Histogram): void {
  family(out, name, 'histogram', help)
  for (const { origin, figures } of all) {
    const h = pick(figures)
    const o = `origin="${label(origin)}"`
    let cumulative = 0
    for (let i = 0; i < h.bounds.length; i++) {
      cumulative += h.counts[i] as number
      out.push(`${name}_bucket{${o},le="${num((h.bounds[i] as number) / 1000)}"} ${cumulative}`)
    }
    out.push(`${name}_bucket{${o},le="+Inf"} ${h.count}`)
    out.push(`${name}_sum{${o}} ${num(h.sum / 1000)}`)
    out.push(`${name}_count{${o}} ${h.count}`)
  }
}

/** Figures of an Agent as a whole (its `maxTotalConnections` budget). */
export interface AgentTotals {
  connections: number
  max: number | null
  waitingOrigins: number
  evictedLru: number
}

/** Render every origin's figures; each metric family appears once (exposition format rule). */
export function renderPrometheus(all: OriginFigures[], totals?: AgentTotals): string {
  const out: string[] = []
  const o = (origin: string) => `origin="${label(origin)}"`

  family(out, 'wirepool_connections', 'gauge', 'Connections by lifecycle state.')
  for (const { origin, stats } of all) {
    for (const state of ['connecting', 'idle', 'busy', 'draining'] as const) {
      out.push(`wirepool_connections{${o(origin)},state="${state}"} ${stats.connections[state]}`)
    }
  }
  family(out, 'wirepool_connections_by_protocol', 'gauge', 'Live connections by negotiated protocol.')
  for (const { origin, stats } of all) {
    for (const [protocol, n] of Object.entries(stats.protocols)) {
      out.push(`wirepool_connections_by_protocol{${o(origin)},protocol="${label(protocol)}"} ${n}`)
    }
  }
  const counters: Array<[string, string, (s: OriginStats) => number]> = [
    ['wirepool_connections_opened_total', 'Connections opened (connect attempts).', (s) => s.connectionsCreated],
    ['wirepool_connections_closed_total', 'Connections closed, for any reason.', (s) => s.connectionsClosed],
    ['wirepool_requests_reused_total', 'Requests sent on a connection that had served one before.', (s) => s.reused],
    ['wirepool_tls_handshakes_total', 'TLS handshakes completed.', (s) => s.tlsHandshakes],
    ['wirepool_tls_resumed_total', 'TLS handshakes that resumed a session.', (s) => s.tlsResumed],
    ['wirepool_retries_total', 'Requests re-sent after a retryable failure.', (s) => s.retries],
    ['wirepool_requests_coalesced_total', "Requests for other origins carried on this origin's HTTP/2 connections.", (s) => s.coalesced],
  ]
  for (const [name, help, pick] of counters) {
    family(out, name, 'counter', help)
    for (const { origin, stats } of all) out.push(`${name}{${o(origin)}} ${pick(stats)}`)
  }
  family(out, 'wirepool_dns_lookups_total', 'counter', 'Name resolutions of new connections: DNS cache hits, misses (queries), failures.')
  for (const { origin, stats } of all) {
    for (const result of ['hit', 'miss', 'failure'] as const) {
      const n = result === 'hit' ? stats.dns.hits : result === 'miss' ? stats.dns.misses : stats.dns.failures
      out.push(`wirepool_dns_lookups_total{${o(origin)},result="${result}"} ${n}`)
    }
  }
  family(out, 'wirepool_requests_total', 'counter', 'Requests handed to a connection, by protocol.')
  for (const { origin, figures } of all) {
    for (const [protocol, n] of Object.entries(figures.requestsByProtocol)) {
      out.push(`wirepool_requests_total{${o(origin)},protocol="${label(protocol)}"} ${n}`)
    }
  }
  const gauges: Array<[string, string, (s: OriginStats) => number]> = [
    ['wirepool_requests_queued', 'Requests waiting for a connection.', (s) => s.requestsQueued],
    ['wirepool_streams_open', 'Requests in flight.', (s) => s.streamsOpen],
    ['wirepool_reuse_ratio', 'Share of requests sent on a reused connection.', (s) => s.reuseRate],
    ['wirepool_upgraded_sockets', 'Sockets handed over by 101 Switching Protocols (WebSocket) and still open.', (s) => s.upgradedOpen],
  ]
  for (const [name, help, pick] of gauges) {
    family(out, name, 'gauge', help)
    for (const { origin, stats } of all) out.push(`${name}{${o(origin)}} ${num(pick(stats))}`)
  }
  const ws: Array<[string, 'gauge' | 'counter', string, (w: WebSocketCounts) => number]> = [
    ['wirepool_websockets_open', 'gauge', 'WebSockets open.', (w) => w.open],
    ['wirepool_websocket_messages_in_total', 'counter', 'WebSocket messages received.', (w) => w.messagesIn],
    ['wirepool_websocket_messages_out_total', 'counter', 'WebSocket messages sent.', (w) => w.messagesOut],
    ['wirepool_websocket_bytes_in_total', 'counter', 'WebSocket message payload bytes received.', (w) => w.bytesIn],
    ['wirepool_websocket_bytes_out_total', 'counter', 'WebSocket message payload bytes sent.', (w) => w.bytesOut],
  ]
  for (const [name, type, help, pick] of ws) {
    family(out, name, type, help)
    for (const { origin, stats } of all) out.push(`${name}{${o(origin)}} ${pick(stats.webSockets)}`)
  }
  family(out, 'wirepool_websocket_closes_total', 'counter', 'WebSocket closes by close code.')
  for (const { origin, stats } of all) {
    for (const [code, n] of Object.entries(stats.webSockets.closes)) out.push(`wirepool_websocket_closes_total{${o(origin)},code="${label(code)}"} ${n}`)
  }
  family(out, 'wirepool_connections_closed_by_reason_total', 'counter', 'Connections closed, by what retired or ended them.')
  for (const { origin, stats } of all) {
    for (const [reason, n] of Object.entries(stats.closedByReason)) {
      out.push(`wirepool_connections_closed_by_reason_total{${o(origin)},reason="${label(reason)}"} ${n}`)
    }
  }
  family(out, 'wirepool_ping_rtt_seconds', 'gauge', 'Mean PING round trip of the live HTTP/2 connections.')
  for (const { origin, stats } of all) {
    if (stats.pingRttMs !== null) out.push(`wirepool_ping_rtt_seconds{${o(origin)}} ${num(stats.pingRttMs / 1000)}`)
  }
  family(out, 'wirepool_errors_total', 'counter', 'Failures by kind and error code.')
  for (const { origin, stats } of all) {
    for (const [key, n] of Object.entries(stats.errors)) {
      const [kind, code] = key.split(':')
      out.push(`wirepool_errors_total{${o(origin)},kind="${label(kind ?? key)}",code="${label(code ?? '')}"} ${n}`)
    }
  }
  histogram(out, 'wirepool_acquire_seconds', 'Time from request() until a connection took the request.', all, (f) => f.acquire)
  histogram(out, 'wirepool_queue_wait_seconds', 'Queue time of requests that waited for a connection at the limit.', all, (f) => f.wait)
  histogram(out, 'wirepool_connect_seconds', 'Time to open a connection (TCP + TLS).', all, (f) => f.connect)
  histogram(out, 'wirepool_tcp_connect_seconds', 'DNS + TCP connect time of new connections.', all, (f) => f.tcpConnect)
  histogram(out, 'wirepool_tls_handshake_seconds', 'TLS handshake time of new connections.', all, (f) => f.tlsHandshake)
  family(out, 'wirepool_certificate_days_left', 'gauge', 'Days until the newest peer certificate seen expires.')
  for (const { origin, stats } of all) {
    if (stats.certificateDaysLeft !== null) out.push(`wirepool_certificate_days_left{${o(origin)}} ${num(stats.certificateDaysLeft)}`)
  }
  if (totals !== undefined) {
    family(out, 'wirepool_agent_connections', 'gauge', 'Connections open across every origin of the agent.')
    out.push(`wirepool_agent_connections ${totals.connections}`)
    if (totals.max !== null) {
      family(out, 'wirepool_agent_connections_max', 'gauge', 'The maxTotalConnections cap.')
      out.push(`wirepool_agent_connections_max ${totals.max}`)
    }
    family(out, 'wirepool_agent_origins_waiting', 'gauge', 'Origins waiting for a connection slot under maxTotalConnections.')
    out.push(`wirepool_agent_origins_waiting ${totals.waitingOrigins}`)
    family(out, 'wirepool_agent_evictions_total', 'counter', 'Idle connections closed to make room under maxTotalConnections.')
    out.push(`wirepool_agent_evictions_total ${totals.evictedLru}`)
  }
  return out.join('\n') + '\n'
}
