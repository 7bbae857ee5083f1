/**
 * A pool of connections to one origin. Each connection is a record with an explicit
 * lifecycle state (DESIGN.md: connecting → idle ⇄ busy → draining → closed); every change
 * goes through `#move`, which also moves timers, updates the figures and publishes the
 * event. The pool never looks inside a protocol: it talks to PoolConnection only.
 */
import { EventEmitter } from 'node:events'
import diagnosticsChannel from 'node:diagnostics_channel'
import {
  AbortedError,
  ErrorCode,
  InvalidArgumentError,
  PoolClosedError,
  SocketClosedError,
  toWirepoolError,
  type WirepoolError,
} from '../errors.js'
import type { ConnectionInfo, DispatchHandler, DispatchRequest, HeaderRecord, PoolConnection, Protocol } from '../dispatch.js'
import { resolvePoolOptions, type PoolOptions, type ResolvedPoolOptions, type TlsOptions } from '../options.js'
import { buildDispatchRequest, type PoolRequestOptions } from '../request-options.js'
import { isReplayableBody } from '../body-source.js'
import { ResponseCollector, type Response } from '../response.js'
import { TlsSessionCache } from '../tls/session-cache.js'
import { openConnection, type OpenedConnection } from './connector.js'
import { certificateCovers, type PeerCertificateInfo } from '../tls/connect.js'
import { parseOrigin, type Origin } from './origin.js'
import { backoffDelay, parseRetryAfter } from './retry.js'
import { decayedErrors, HEALTH_EPSILON, healthScore, recordError, type HealthRecord } from './health.js'
import { LinkedList, type ListNode } from '../linked-list.js'
import type { BudgetMember, ConnectionBudget } from './budget.js'
import { PoolFigures, renderPrometheus, type OriginStats, type WebSocketFigures } from './stats.js'

export type ConnectionState = 'connecting' | 'idle' | 'busy' | 'draining' | 'closed'

/** What `pool.on('connection', …)` and the `wirepool:connection` channel receive. */
export interface ConnectionEvent {
  id: number
  origin: string
  protocol: Protocol | undefined
  from: ConnectionState | undefined
  to: ConnectionState
  reason: string
  /** ms since the connection record was created. */
  age: number
}

/** What `pool.on('retry', …)` receives: a request is about to be sent again. */
export interface RetryEvent {
  origin: string
  method: string
  path: string
  /** 1 for the first retry. */
  attempt: number
  /** The error code, or `status:<n>` for a status the caller opted into. */
  reason: string
  delayMs: number
}

/** What the `wirepool:request` channel receives. */
export interface RequestEvent {
  origin: string
  method: string
  path: string
  connectionId: number | undefined
  event: 'dispatched' | 'completed' | 'failed' | 'retried'
  status?: number
  error?: WirepoolError
}

const connectionChannel = diagnosticsChannel.channel('wirepool:connection')
const requestChannel = diagnosticsChannel.channel('wirepool:request')

interface ConnectionRecord extends ListNode<ConnectionRecord>, HealthRecord {
  readonly id: number
  state: ConnectionState
  protocol: Protocol | undefined
  readonly createdAt: number
  lastUsedAt: number
  /** Requests dispatched on this connection. */
  requests: number
  conn: PoolConnection | undefined
  tlsResumed: boolean | null
  remoteAddress: string | undefined
  tcpMs: number
  tlsMs: number
  certificate: PeerCertificateInfo | null
  /** What first retired it (the →draining transition's reason), for the closed-by-reason figures. */
  retireReason: string | undefined
  /** Settles `#openConnection`'s promise once the record leaves `connecting`. */
  ready: { resolve: () => void; reject: (err: Error) => void } | undefined
  /** An HTTP/1.1 connection whose response just ended, idle from the check phase on (#settle). */
  settling: boolean
  /**
   * Armed (or refresh()ed, no allocation) each time the record goes idle; left running when
   * it goes busy, its expiry then being ignored — one Timeout per connection, not one per
   * request.
   */
  idleTimer: NodeJS.Timeout | undefined
  idleTimerMs: number
  ageTimer: NodeJS.Timeout | undefined
  /** Aborts an in-progress connect when the pool is destroyed. */
  connectAbort: AbortController | undefined
  /** Opened HTTP/1.1-only for an upgrade the origin's HTTP/2 connections cannot carry. */
  h1Only: boolean
  /** Affinity keys bound to this connection (unbound when it starts draining). */
  affinityKeys: Set<string> | undefined
}

interface QueueEntry {
  readonly request: DispatchRequest
  readonly handler: DispatchHandler
  readonly signal: AbortSignal | undefined
  readonly enqueuedAt: number
  /** Re-sends so far after retryable failures. */
  retries: number
  /** A retry goes to a connection that has carried no request yet. */
  freshOnly: boolean
  /** It had to queue while every connection allowed was open (counts toward waitMs). */
  atLimit: boolean
  /** True from the moment the entry left the queue until it failed over to the queue again. */
  dispatched: boolean
  /** `abort` handed out by the connection for the current attempt. */
  abort: ((reason?: Error) => void) | undefined
  /** Set once the caller's handler saw onComplete or onError. */
  settled: boolean
  onAbort: (() => void) | undefined
  /** Pending backoff before the next attempt. */
  retryTimer: NodeJS.Timeout | undefined
  /** Caller-supplied key: requests with the same key go to the same connection while it lives. */
  readonly affinity: string | undefined
  /** Another origin's request on this pool's connection: never retried here (its handler resends it). */
  readonly coalesced: boolean
}

let nextConnectionId = 1

export interface PoolInternals {
  /** Shared across the pools of an Agent. */
  sessionCache?: TlsSessionCache | null
  /** The Agent's `maxTotalConnections` cap, shared by its pools. */
  budget?: ConnectionBudget | undefined
  /** The Agent, which re-emits the pool's events to its own listeners. */
  parent?: EventEmitter<PoolEvents> | undefined
}

/** A connection's certificate expires within `certificateExpiryWarningDays`. */
export interface CertificateExpiringEvent {
  origin: string
  subject: string
  issuer: string
  validTo: Date
  daysLeft: number
}

/** One connection record, as `pool.connections()` reports it. */
export interface ConnectionSnapshot {
  id: number
  origin: string
  protocol: Protocol | undefined
  state: ConnectionState
  createdAt: number
  lastUsedAt: number
  /** Requests dispatched on it. */
  requests: number
  streamsOpen: number
  tlsResumed: boolean | null
  remoteAddress: string | undefined
  /** DNS + TCP connect time, ms. */
  tcpMs: number
  /** TLS handshake time, ms (0 for cleartext). */
  tlsMs: number
  certificateDaysLeft: number | null
  /** 0–1: recent request errors on it (decaying, half-life 30 s) and PING RTT lower it. */
  health: number
  /** Decayed count of recent request errors on it. */
  recentErrors: number
  /** Latest HTTP/2 PING round trip, ms (undefined before the first answered PING, and for HTTP/1.1). */
  rttMs: number | undefined
}

export interface PoolEvents {
  connection: [ConnectionEvent]
  retry: [RetryEvent]
  'certificate-expiring': [CertificateExpiringEvent]
}

const DAY_MS = 86_400_000
/** Longest affinity key accepted (keys are caller data kept in memory). */
const MAX_AFFINITY_KEY = 256
/** Bindings kept per pool; the oldest is forgotten beyond this. */
const MAX_AFFINITY_BINDINGS = 10_000

/** Whole and fractional days from `now` until `validTo` (negative once expired). */
function daysLeft(validTo: Date, now: number): number {
  return Math.round(((validTo.getTime() - now) / DAY_MS) * 100) / 100
}

function noop(): void {}

/**
 * The state figures report: a connection whose response is complete and that only waits for
 * the check phase to take requests again (Pool#settle) is idle to anyone looking.
 */
function observedState(rec: ConnectionRecord): ConnectionState {
  return rec.settling && rec.state === 'busy' && rec.conn?.inFlight === 0 ? 'idle' : rec.state
}

export class Pool extends EventEmitter<PoolEvents> implements BudgetMember {
  readonly origin: string
  readonly #origin: Origin
  readonly #options: ResolvedPoolOptions
  readonly #sessionCache: TlsSessionCache | null
  readonly #records = new Set<ConnectionRecord>()
  /** Idle connections, most recently used last (HTTP/1.1 reuses the warmest socket first). */
  readonly #idle = new LinkedList<ConnectionRecord>()
  /** Records neither draining nor closed (connecting included): what `connections` bounds. */
  #live = 0
  #connecting = 0
  /** Affinity key → the connection its requests go to (bounded: oldest bindings forgotten). */
  readonly #affinity = new Map<string, ConnectionRecord>()
  /** Queued entries that carry an affinity key (the queue is scanned past its head while > 0). */
  #affinityQueued = 0
  readonly #queue: QueueEntry[] = []
  /** Requests waiting out a retry backoff: neither queued nor on a connection. */
  readonly #backingOff = new Set<QueueEntry>()
  readonly #figures: PoolFigures
  readonly #budget: ConnectionBudget | undefined
  readonly #parent: EventEmitter<PoolEvents> | undefined
  #closing: Promise<void> | undefined
  #destroyed = false
  /** A drain waiting for the check phase (see #settle). */
  #drainImmediate: NodeJS.Immediate | undefined = undefined
  /** HTTP/1.1 connections freed in this poll phase, idle from the check phase on. */
  #settling: ConnectionRecord[] = []
  /** Protocol of the newest connection: decides how many connections a burst may open. */
  #protocolSeen: Protocol | undefined
  /** The newest leaf certificate seen (expiry figures). */
  #certificate: PeerCertificateInfo | null = null
  readonly #warnedCertificates = new Set<string>()
  /** Upgraded sockets (WebSocket) still open. */
  #upgradedOpen = 0
  #resolveClosed: (() => void) | undefined

  constructor(origin: string | URL, options: PoolOptions = {}, internals: PoolInternals = {}) {
    super()
    this.#origin = parseOrigin(origin)
    this.origin = this.#origin.origin
    this.#options = resolvePoolOptions(options)
    if (this.#options.h2c && this.#origin.secure) {
      throw new InvalidArgumentError('option h2c is for http: origins; https: origins negotiate h2 by ALPN (allowH2)')
    }
    this.#sessionCache =
      internals.sessionCache !== undefined
        ? internals.sessionCache
        : this.#options.tls.sessionCache === false
          ? null
          : new TlsSessionCache()
    this.#figures = new PoolFigures()
    this.#budget = internals.budget
    this.#parent = internals.parent
    this.#budget?.join(this)
  }

  get closed(): boolean {
    return this.#closing !== undefined || this.#destroyed
  }

  /** Send a request and resolve with the response head; the body streams (API.md "Requests"). */
  request(options: PoolRequestOptions): Promise<Response> {
    return this._request(options, undefined)
  }

  /** @internal Agent: `request()` with the request-target split from the caller's URL (no options copy). */
  _request(options: PoolRequestOptions, path: string | undefined): Promise<Response> {
    return new Promise<Response>((resolve, reject) => {
      this._enqueue(options, this.#collector(resolve, reject), this.#options.decompress, path)
    })
  }

  /**
   * @internal Agent (coalescing): a `request()` response whose handler `start` sends, with
   * whether it asks for compressed bodies (`accept-encoding`), as this pool's options say.
   */
  _respond(start: (handler: DispatchHandler, acceptEncoding: boolean) => void): Promise<Response> {
    return new Promise<Response>((resolve, reject) => start(this.#collector(resolve, reject), this.#options.decompress))
  }

  /** The handler behind `request()`: decodes bodies (bounded) when `decompress` is on. */
  #collector(resolve: (res: Response) => void, reject: (err: Error) => void): ResponseCollector {
    return new ResponseCollector(resolve, reject, this.#options.decompress ? this.#options.maxDecompressedSize : -1)
  }

  /**
   * The low-level entry point (API.md "Low-level"). Validation errors are reported through
   * `handler.onError`, never thrown, so callers have one error path.
   */
  dispatch(options: PoolRequestOptions, handler: DispatchHandler): void {
    this._enqueue(options, handler, false, undefined)
  }

  /**
   * @internal Also the Agent's entry (`path`: the request-target split from a URL, else the
   * options' own; handlers it built for coalescing and 421 resends).
   */
  _enqueue(options: PoolRequestOptions, handler: DispatchHandler, acceptEncoding: boolean, path: string | undefined): void {
    const entry = this.#newEntry(options, handler, acceptEncoding, this.#origin.authority, false, path)
    if (entry === undefined) return
    this.#enqueueEntry(entry, false)
    this.#drain()
    if (!entry.dispatched && !entry.settled && this.#live >= this.#options.connections) entry.atLimit = true
  }

  /** A validated queue entry, or undefined once the handler was told why there is none. */
  #newEntry(options: PoolRequestOptions, handler: DispatchHandler, acceptEncoding: boolean, authority: string, coalesced: boolean, path: string | undefined): QueueEntry | undefined {
    let request: DispatchRequest
    try {
      if (this.closed) throw new PoolClosedError(this.#destroyed ? 'pool was destroyed' : 'pool is closing', { origin: this.origin })
      request = buildDispatchRequest(options, authority, this.#options, acceptEncoding, path)
    } catch (err) {
      safeCall(handler, 'onError', toWirepoolError(err, this.origin))
      return undefined
    }
    const signal = options.signal
    const affinity = options.affinity
    if (affinity !== undefined && (typeof affinity !== 'string' || affinity.length === 0 || affinity.length > MAX_AFFINITY_KEY)) {
      safeCall(handler, 'onError', new InvalidArgumentError(`affinity must be a non-empty string of at most ${MAX_AFFINITY_KEY} characters`, { origin: this.origin }))
      return undefined
    }
    if (signal?.aborted) {
      safeCall(handler, 'onError', new AbortedError('request aborted before it was sent', { cause: signal.reason, origin: this.origin }))
      return undefined
    }
    const entry: QueueEntry = {
      request,
      handler,
      signal,
      enqueuedAt: performance.now(),
      retries: 0,
      freshOnly: false,
      atLimit: false,
      dispatched: false,
      abort: undefined,
      settled: false,
      onAbort: undefined,
      retryTimer: undefined,
      affinity,
      coalesced,
    }
    if (signal !== undefined) {
      entry.onAbort = () => this.#abortEntry(entry)
      signal.addEventListener('abort', entry.onAbort, { once: true })
    }
    return entry
  }

  /** @internal Agent (coalescing): this origin's host, port and authority. */
  get _origin(): Readonly<Origin> {
    return this.#origin
  }

  /** @internal Agent (coalescing): a connection of its own is open or opening. */
  get _hasLiveConnection(): boolean {
    return this.#live > 0
  }

  /**
   * @internal Agent (coalescing, RFC 9113 §9.1.1): send a request for another origin
   * (`authority`, `hostname`) on one of this pool's HTTP/2 connections, if one has room
   * right now, reached an address that name resolves to (`addresses`), and holds a
   * certificate valid for that name. Returns false, having done nothing, when none does.
   * The request is not retried here: its handler sends it again on its own origin.
   */
  _tryCoalesce(hostname: string, authority: string, addresses: ReadonlySet<string>, options: PoolRequestOptions, path: string | undefined, handler: DispatchHandler, acceptEncoding: boolean): boolean {
    if (this.closed || !this.#origin.secure) return false
    let carrier: ConnectionRecord | undefined
    for (const rec of this.#records) {
      const conn = rec.conn
      if ((rec.state !== 'idle' && rec.state !== 'busy') || conn === undefined || !conn.multiplexed || conn.capacity === 0) continue
      if (rec.remoteAddress === undefined || !addresses.has(rec.remoteAddress)) continue
      if (rec.certificate === null || !certificateCovers(rec.certificate, hostname)) continue
      if (carrier === undefined || conn.inFlight < (carrier.conn as PoolConnection).inFlight) carrier = rec
    }
    if (carrier === undefined) return false
    const entry = this.#newEntry(options, handler, acceptEncoding, authority, true, path)
    // (a refused entry was reported to its handler: that request is dealt with)
    if (entry === undefined) return true
    this.#figures.coalesced++
    this.#dispatchOn(carrier, entry)
    return true
  }

  stats(): OriginStats {
    const counts = { connecting: 0, idle: 0, busy: 0, draining: 0, total: 0 }
    const protocols: Record<string, number> = { 'http/1.1': 0, h2: 0 }
    let streamsOpen = 0
    let rttSum = 0
    let rttCount = 0
    for (const rec of this.#records) {
      const rtt = rec.conn?.rttMs
      if (rtt !== undefined) {
        rttSum += rtt
        rttCount++
      }
      counts[observedState(rec) as Exclude<ConnectionState, 'closed'>]++
      counts.total++
      if (rec.protocol !== undefined) protocols[rec.protocol] = (protocols[rec.protocol] ?? 0) + 1
      if (rec.conn !== undefined) streamsOpen += rec.conn.inFlight
    }
    const cert = this.#certificate
    return this.#figures.snapshot(counts, this.#queue.length, streamsOpen, protocols, cert === null ? null : daysLeft(cert.validTo, Date.now()), this.#upgradedOpen, rttCount === 0 ? null : Math.round((rttSum / rttCount) * 1000) / 1000)
  }

  /** Prometheus text exposition (format 0.0.4) of this origin's figures. */
  metrics(): string {
    return renderPrometheus([this._figures()])
  }

  /** @internal for Agent#metrics: one exposition over every origin. */
  _figures(): { origin: string; stats: OriginStats; figures: PoolFigures } {
    return { origin: this.origin, stats: this.stats(), figures: this.#figures }
  }

  /** Stop taking requests; queued and in-flight ones finish; then every socket closes. */
  close(): Promise<void> {
    if (this.#closing !== undefined) return this.#closing
    this.#closing = new Promise<void>((resolve) => {
      this.#resolveClosed = resolve
    })
    this.#maybeFinishClose()
    return this.#closing
  }

  /** Fail everything queued or in flight with `err` and close every socket now. */
  destroy(err?: Error): Promise<void> {
    if (!this.#destroyed) {
      this.#destroyed = true
      const reason = err === undefined ? new PoolClosedError('pool was destroyed', { origin: this.origin }) : toWirepoolError(err, this.origin)
      for (const entry of this.#takeWholeQueue()) this.#settleError(entry, reason)
      for (const entry of [...this.#backingOff]) this.#settleError(entry, reason)
      for (const rec of [...this.#records]) {
        rec.connectAbort?.abort(reason)
        if (rec.conn !== undefined) rec.conn.destroy(reason)
        else this.#move(rec, 'closed', 'pool-destroyed')
      }
    }
    // Resolves once every socket reported its close.
    this.#closing ??= new Promise<void>((resolve) => {
      this.#resolveClosed = resolve
    })
    this.#maybeFinishClose()
    return this.#closing
  }

  // ---- scheduling ------------------------------------------------------------------------

  #enqueueEntry(entry: QueueEntry, atFront: boolean): void {
    if (atFront) this.#queue.unshift(entry)
    else this.#queue.push(entry)
    if (entry.affinity !== undefined) this.#affinityQueued++
  }

  #removeFromQueue(index: number): QueueEntry {
    const entry = (index === 0 ? this.#queue.shift() : this.#queue.splice(index, 1)[0]) as QueueEntry
    if (entry.affinity !== undefined) this.#affinityQueued--
    return entry
  }

  #takeWholeQueue(): QueueEntry[] {
    this.#affinityQueued = 0
    return this.#queue.splice(0)
  }

  /** Hand queued requests to connections with room, opening connections as the limit allows. */
  #drain(): void {
    const queue = this.#queue
    let i = 0
    /** Entries left queued for their bound connection, which is busy: no new connection is wanted for them. */
    let waitingForBound = 0
    let unboundBlocked = false
    while (i < queue.length) {
      const entry = queue[i] as QueueEntry
      if (unboundBlocked && entry.affinity === undefined) {
        // An earlier request without a key found no room: neither will this one.
        i++
        continue
      }
      const rec = this.#pickConnection(entry)
      if (rec !== undefined) {
        this.#removeFromQueue(i)
        this.#dispatchOn(rec, entry)
        continue
      }
      if (entry.affinity !== undefined && this.#affinity.has(entry.affinity)) waitingForBound++
      else unboundBlocked = true
      // FIFO: without keyed requests behind it, nothing past the first blocked entry can go.
      if (this.#affinityQueued === 0) break
      i++
    }
    if (queue.length > waitingForBound && !this.#destroyed) this.#growIfNeeded(waitingForBound)
    this.#maybeFinishClose()
  }

  /**
   * Selection: a keyed request goes to its bound connection (waiting for it while it is
   * busy); otherwise the healthiest idle connection, most recently used first, so rarely
   * used ones age out (RFC 9112 §9.3); then the least loaded HTTP/2 connection with room.
   */
  #pickConnection(entry: QueueEntry): ConnectionRecord | undefined {
    if (entry.request.upgrade !== undefined) return this.#pickForUpgrade()
    const idle = this.#idle
    if (entry.freshOnly) {
      // A retry after a stale-socket failure must not land on another possibly stale socket.
      for (let rec = idle.last; rec !== undefined; rec = rec.listPrev) if (rec.requests === 0) return rec
      return undefined
    }
    if (entry.affinity !== undefined) {
      const bound = this.#affinity.get(entry.affinity)
      if (bound !== undefined) return bound.conn !== undefined && bound.conn.capacity > 0 ? bound : undefined
    }
    const now = Date.now()
    let bestIdle: ConnectionRecord | undefined
    let bestIdleHealth = -1
    for (let rec = idle.last; rec !== undefined; rec = rec.listPrev) {
      const conn = rec.conn
      if (conn === undefined || conn.capacity === 0) continue
      const health = healthScore(rec, conn.rttMs, now)
      if (health > bestIdleHealth + HEALTH_EPSILON) {
        bestIdle = rec
        bestIdleHealth = health
        // Nothing can be meaningfully healthier: keep the most recently used.
        if (health >= 1 - HEALTH_EPSILON) break
      }
    }
    if (bestIdle !== undefined && bestIdleHealth >= 1 - HEALTH_EPSILON) return bestIdle
    // Multiplexed connections (HTTP/2) take more streams while they have room: the least
    // loaded (weighted by health) first, before any new connection is opened.
    let bestShared: ConnectionRecord | undefined
    let bestSharedCost = Infinity
    let bestSharedHealth = 0
    // (only an origin that speaks HTTP/2 has any: an HTTP/1.1 pool of 10,000 busy
    // connections must not walk them all for every queued request)
    if (this.#protocolSeen === 'h2') for (const rec of this.#records) {
      const conn = rec.conn
      if (rec.state !== 'busy' || conn === undefined || !conn.multiplexed || conn.capacity === 0) continue
      const health = healthScore(rec, conn.rttMs, now)
      const cost = (conn.inFlight + 1) / Math.max(health, 0.001)
      if (cost < bestSharedCost) {
        bestShared = rec
        bestSharedCost = cost
        bestSharedHealth = health
      }
    }
    if (bestIdle !== undefined && (bestShared === undefined || bestIdleHealth + HEALTH_EPSILON >= bestSharedHealth)) return bestIdle
    if (bestShared !== undefined) return bestShared
    // Pipelining (HTTP/1.1, RFC 9112 §9.3.2): only idempotent requests, and only once no new
    // connection may be opened — a fresh socket beats queueing behind another response.
    if (this.#options.pipelining > 1 && entry.request.idempotent && this.#live >= this.#options.connections) {
      let best: ConnectionRecord | undefined
      for (const rec of this.#records) {
        if (rec.state !== 'busy' || rec.conn === undefined || rec.conn.capacity === 0) continue
        if (best === undefined || rec.conn.inFlight < (best.conn as PoolConnection).inFlight) best = rec
      }
      return best
    }
    return undefined
  }

  /**
   * An upgrade (WebSocket) goes as a stream on an HTTP/2 connection whose peer enabled
   * extended CONNECT (RFC 8441), the least loaded first; else on an idle HTTP/1.1 connection
   * (RFC 9110 §7.8: the socket is handed over, so it must carry nothing else).
   */
  #pickForUpgrade(): ConnectionRecord | undefined {
    let best: ConnectionRecord | undefined
    for (const rec of this.#records) {
      const conn = rec.conn
      if ((rec.state !== 'idle' && rec.state !== 'busy') || conn === undefined || !conn.extendedConnect || conn.capacity === 0) continue
      if (best === undefined || conn.inFlight < (best.conn as PoolConnection).inFlight) best = rec
    }
    if (best !== undefined) return best
    for (let rec = this.#idle.last; rec !== undefined; rec = rec.listPrev) {
      if (rec.conn !== undefined && !rec.conn.multiplexed && rec.conn.capacity > 0) return rec
    }
    return undefined
  }

  /** A live HTTP/2 connection takes upgrades as streams (it may be full right now). */
  #anyExtendedConnect(): boolean {
    for (const rec of this.#records) if (rec.state !== 'draining' && rec.conn?.extendedConnect === true) return true
    return false
  }

  /** Connections to this origin may turn out to be HTTP/2 (ALPN may pick h2, or h2c). */
  #mayMultiplex(): boolean {
    return this.#options.h2c || (this.#origin.secure && this.#options.allowH2)
  }

  /**
   * Open connections for the queued requests no current or connecting connection will take
   * (`waitingForBound` of them wait for the busy connection their affinity key names).
   */
  #growIfNeeded(waitingForBound: number): void {
    const connecting = this.#connecting
    const head = this.#queue[0]
    if (head !== undefined && head.request.upgrade !== undefined && this.#protocolSeen === 'h2' && !this.#anyExtendedConnect()) {
      // The origin speaks HTTP/2 but no connection of it took the upgrade (its peer sent no
      // SETTINGS_ENABLE_CONNECT_PROTOCOL, RFC 8441 §3): fall back to an HTTP/1.1 connection.
      if (connecting === 0 && this.#live < this.#options.connections) this.#openForDemand(true)
      return
    }
    if (this.#mayMultiplex() && this.#protocolSeen !== 'http/1.1') {
      // While the protocol is unknown (or known to be h2), one connection at a time: a cold
      // burst of 1,000 requests must open one HTTP/2 connection, not 1,000 (RFC 9113 §9.1
      // asks clients not to open more than one per origin). Another opens only once every
      // open one is at its stream limit, which is when #pickConnection found no room.
      if (connecting === 0 && this.#live < this.#options.connections) this.#openForDemand(false)
      return
    }
    // Connections about to be idle (#settle) will take queued requests in the check phase.
    let wanted = this.#queue.length - waitingForBound - connecting - this.#settling.length
    while (wanted > 0 && this.#live < this.#options.connections) {
      if (!this.#openForDemand(false)) return
      wanted--
    }
  }

  /**
   * Open a connection for queued requests if the Agent's `maxTotalConnections` leaves a
   * slot; otherwise wait for one (the budget evicts an idle connection somewhere for it).
   */
  #openForDemand(h1Only: boolean): boolean {
    if (this.#budget !== undefined && !this.#budget.tryTake(this, true)) return false
    this.#openConnection('demand', h1Only).catch(noop)
    return true
  }

  /** @internal ConnectionBudget: a slot may be free. */
  _budgetAvailable(): void {
    if (!this.#destroyed) this.#drain()
  }

  /** @internal ConnectionBudget: when the least recently used idle connection was last used. */
  _oldestIdleUse(): number | undefined {
    return this.#idle.first?.lastUsedAt
  }

  /** @internal ConnectionBudget: close the least recently used idle connection to make room. */
  _evictOldestIdle(): void {
    const rec = this.#idle.first
    if (rec !== undefined) this.#retire(rec, 'evicted-lru')
  }

  #dispatchOn(rec: ConnectionRecord, entry: QueueEntry): void {
    const conn = rec.conn as PoolConnection
    const now = performance.now()
    const waited = now - entry.enqueuedAt
    const reusedBefore = rec.requests > 0
    rec.requests++
    rec.lastUsedAt = Date.now()
    entry.dispatched = true
    if (entry.affinity !== undefined) this.#bindAffinity(entry.affinity, rec)
    this.#figures.onDispatch(reusedBefore, waited, entry.atLimit, rec.protocol)
    const attempt = new PooledAttempt(this, entry, rec, reusedBefore)
    if (requestChannel.hasSubscribers) requestChannel.publish({ origin: this.origin, method: entry.request.method, path: entry.request.path, connectionId: rec.id, event: 'dispatched' } satisfies RequestEvent)
    try {
      conn.dispatch(entry.request, attempt)
    } catch (err) {
      // A connection refusing a request is a pool bug or a race with its closing; the
      // request has not been written, so it can go back to the queue once.
      entry.dispatched = false
      attempt.detach()
      this.#settleError(entry, toWirepoolError(err, this.origin))
    }
    this.#refreshState(rec, 'dispatch')
  }

  /** Requests with this key go to `rec` from now on, while it lives and takes requests. */
  #bindAffinity(key: string, rec: ConnectionRecord): void {
    const previous = this.#affinity.get(key)
    if (previous === rec) return
    previous?.affinityKeys?.delete(key)
    this.#affinity.delete(key)
    if (this.#affinity.size >= MAX_AFFINITY_BINDINGS) {
      // Forget the oldest binding: its next request simply picks (and binds) afresh.
      const [oldestKey, oldestRec] = this.#affinity.entries().next().value as [string, ConnectionRecord]
      oldestRec.affinityKeys?.delete(oldestKey)
      this.#affinity.delete(oldestKey)
    }
    this.#affinity.set(key, rec)
    ;(rec.affinityKeys ??= new Set()).add(key)
  }

  /** A connection that stops taking requests releases its keys; their requests rebind. */
  #unbindAffinity(rec: ConnectionRecord): void {
    const keys = rec.affinityKeys
    if (keys === undefined) return
    for (const key of keys) this.#affinity.delete(key)
    rec.affinityKeys = undefined
  }

  /** Open one connection; resolves once it is ready (idle), rejects when it could not be made. */
  #openConnection(reason: 'demand' | 'warm-up', h1Only = false): Promise<void> {
    const rec: ConnectionRecord = {
      id: nextConnectionId++,
      state: 'connecting',
      protocol: undefined,
      createdAt: Date.now(),
      lastUsedAt: Date.now(),
      requests: 0,
      conn: undefined,
      tlsResumed: null,
      remoteAddress: undefined,
      tcpMs: 0,
      tlsMs: 0,
      certificate: null,
      retireReason: undefined,
      ready: undefined,
      settling: false,
      idleTimer: undefined,
      idleTimerMs: 0,
      ageTimer: undefined,
      connectAbort: new AbortController(),
      h1Only,
      affinityKeys: undefined,
      listPrev: undefined,
      listNext: undefined,
      list: undefined,
      errorWeight: 0,
      errorAt: 0,
    }
    this.#records.add(rec)
    this.#live++
    this.#connecting++
    this.#figures.connectionsCreated++
    this.#publishConnection(rec, undefined, 'connecting', reason)
    const started = performance.now()
    return openConnection({
      id: rec.id,
      origin: this.#origin,
      options: this.#options,
      sessionCache: this.#origin.secure ? this.#sessionCache : null,
      signal: (rec.connectAbort as AbortController).signal,
      h1Only,
    }).then(
      (opened) => {
        this.#onConnected(rec, opened, performance.now() - started)
        if (rec.state !== 'connecting') return undefined
        // Connected but not ready (HTTP/2 waits for the peer's SETTINGS): warm-up callers
        // get a connection that can take requests, so wait for the record to move on.
        return new Promise<void>((resolve, reject) => {
          rec.ready = { resolve, reject }
        })
      },
      (err: unknown) => {
        const error = toWirepoolError(err, this.origin)
        this.#onConnectFailed(rec, error, reason)
        throw error
      },
    )
  }

  /**
   * Warm-up (issue: pool.connect(n)): open and handshake connections ahead of traffic, up
   * to `n` live ones (never more than `connections`). Resolves when they are ready; rejects
   * with the first failure.
   */
  async connect(n = 1): Promise<void> {
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`connect(n) needs a positive integer, got ${String(n)}`)
    if (this.closed) throw new PoolClosedError('pool is closed', { origin: this.origin })
    const target = Math.min(n, this.#options.connections)
    const opening: Array<Promise<void>> = []
    for (let live = this.#live; live < target; live++) {
      // Warm-up never waits for, nor evicts to make, room under maxTotalConnections.
      if (this.#budget !== undefined && !this.#budget.tryTake(this, false)) break
      opening.push(this.#openConnection('warm-up'))
    }
    await Promise.all(opening)
  }

  /**
   * Rotate TLS material (CA, client certificate, pins…) for connections opened from now on;
   * live connections keep the configuration they were made with. Sessions cached under the
   * old configuration are not resumed with the new one (the session key hashes the config).
   */
  setTls(tls: TlsOptions): void {
    const merged = { ...this.#options.tls, ...tls }
    resolvePoolOptions({ tls: merged })
    this.#options.tls = merged
  }

  /** A snapshot of every connection record (API: the lifecycle-tracked pool). */
  connections(): ConnectionSnapshot[] {
    const now = Date.now()
    return [...this.#records].map((rec) => ({
      id: rec.id,
      origin: this.origin,
      protocol: rec.protocol,
      state: observedState(rec),
      createdAt: rec.createdAt,
      lastUsedAt: rec.lastUsedAt,
      requests: rec.requests,
      streamsOpen: rec.conn?.inFlight ?? 0,
      tlsResumed: rec.tlsResumed,
      remoteAddress: rec.remoteAddress,
      tcpMs: rec.tcpMs,
      tlsMs: rec.tlsMs,
      certificateDaysLeft: rec.certificate === null ? null : daysLeft(rec.certificate.validTo, now),
      health: Math.round(healthScore(rec, rec.conn?.rttMs, now) * 1000) / 1000,
      recentErrors: Math.round(decayedErrors(rec, now) * 1000) / 1000,
      rttMs: rec.conn?.rttMs,
    }))
  }

  #onConnected(rec: ConnectionRecord, opened: OpenedConnection, elapsedMs: number): void {
    rec.connectAbort = undefined
    const conn = opened.connection
    if (rec.state === 'closed' || this.#destroyed) {
      conn.destroy(new PoolClosedError('pool was destroyed', { origin: this.origin }))
      return
    }
    rec.conn = conn
    rec.protocol = conn.protocol
    // A forced HTTP/1.1 fallback says nothing of what the origin negotiates.
    if (!rec.h1Only) this.#protocolSeen = conn.protocol
    rec.tlsResumed = opened.tlsResumed
    rec.remoteAddress = opened.remoteAddress
    rec.tcpMs = opened.tcpMs
    rec.tlsMs = opened.tlsMs
    rec.certificate = opened.certificate
    this.#figures.onConnected(elapsedMs, opened.tlsResumed, opened.tcpMs, opened.tlsMs)
    if (opened.certificate !== null) this.#checkCertificate(opened.certificate)
    conn.on('free', () => this.#refreshState(rec, rec.state === 'connecting' ? 'connected' : 'request-done'))
    conn.on('draining', (reason) => this.#refreshState(rec, reason))
    conn.on('close', (err) => this.#onConnectionClosed(rec, err))
    const maxAge = this.#options.maxConnectionAge
    if (maxAge !== undefined) {
      // ±10 % jitter so that connections opened together do not all expire together.
      const jittered = maxAge * (0.9 + Math.random() * 0.2)
      rec.ageTimer = setTimeout(() => this.#retire(rec, 'max-age'), jittered)
      rec.ageTimer.unref()
    }
    // An HTTP/2 connection is ready once the peer's SETTINGS told its real stream limit
    // (its first `free` event); until then a burst would be sized on a guess.
    if (conn.capacityKnown) this.#refreshState(rec, 'connected')
  }

  #onConnectFailed(rec: ConnectionRecord, err: WirepoolError, reason: 'demand' | 'warm-up'): void {
    rec.connectAbort = undefined
    if (rec.state !== 'closed') this.#move(rec, 'closed', `connect-failed:${err.code}`)
    this.#figures.count(`connect_error:${err.code}`)
    if (reason === 'warm-up') {
      // Nobody asked for this one: its caller gets the error, queued requests keep waiting
      // for the connections that are wanted for them.
      this.#drain()
      return
    }
    // The request that asked for this connection learns why it failed. If no established
    // connection can serve the queue, everything queued fails the same way rather than
    // hammering an origin that is down with one connect per queued request.
    if (this.#queue.length > 0) this.#settleError(this.#removeFromQueue(0), err)
    let established = 0
    for (const r of this.#records) if (r.conn !== undefined && r.state !== 'closed') established++
    if (established === 0) for (const entry of this.#takeWholeQueue()) this.#settleError(entry, err)
    this.#drain()
  }

  /**
   * Keep the newest leaf certificate for the expiry figures, and warn (once per
   * certificate) when it expires within `certificateExpiryWarningDays`.
   */
  #checkCertificate(cert: PeerCertificateInfo): void {
    this.#certificate = cert
    const left = daysLeft(cert.validTo, Date.now())
    const key = `${cert.subject} ${cert.issuer} ${cert.validTo.getTime()}`
    if (left >= this.#options.certificateExpiryWarningDays || this.#warnedCertificates.has(key)) return
    this.#warnedCertificates.add(key)
    const event: CertificateExpiringEvent = { origin: this.origin, subject: cert.subject, issuer: cert.issuer, validTo: cert.validTo, daysLeft: left }
    this.#emitUp('certificate-expiring', event)
  }

  #onConnectionClosed(rec: ConnectionRecord, err: WirepoolError | undefined): void {
    if (rec.state === 'closed') return
    if (rec.state === 'connecting') {
      // It never became ready (an HTTP/2 peer that sent no SETTINGS): a failed connect.
      this.#onConnectFailed(rec, err ?? new SocketClosedError('connection closed before it was ready', { origin: this.origin, responseStarted: false }), 'demand')
      return
    }
    this.#move(rec, 'closed', err === undefined ? 'closed' : `error:${err.code}`)
    if (err !== undefined) this.#figures.count(`connection_error:${err.code}`)
    this.#drain()
  }

  /** Put a connection in the state its load says (idle/busy/draining), after any change. */
  #refreshState(rec: ConnectionRecord, reason: string, settled = false): void {
    const conn = rec.conn
    if (conn === undefined || rec.state === 'closed') return
    let to: ConnectionState
    if (conn.retired) to = 'draining'
    else if (conn.inFlight === 0) to = 'idle'
    else to = 'busy'
    if (to === 'idle' && !settled && reason === 'request-done' && rec.state === 'busy' && !conn.multiplexed) {
      this.#settle(rec)
      return
    }
    if (to === 'idle' && this.#options.maxRequestsPerConnection !== undefined && rec.requests >= this.#options.maxRequestsPerConnection) {
      this.#retire(rec, 'max-requests')
      return
    }
    if (to !== rec.state) this.#move(rec, to, reason)
    if (to === 'idle' || to === 'busy') this.#drain()
    else if (to === 'draining' && conn.inFlight === 0) void conn.close()
  }

  /**
   * An HTTP/1.1 connection that has just finished a response stays busy until the check
   * phase, after the poll phase that delivered the response, and takes requests from then on
   * (queued ones, and those its caller sends straight away in reply):
   *
   * - a FIN or RST that arrived with the response is read first (the rest of the same poll
   *   phase), so the connection retires instead of carrying a request into a close; one that
   *   is still on its way can still meet the request, as with any client (undici waits the
   *   same turn, GHSA-35p6-xmwp-9g52);
   * - every connection freed in one poll phase writes its next request in one burst, so a
   *   server sleeping in epoll is woken once for them all. Writing each request in the middle
   *   of reading the other responses woke nginx for nearly every request: the wake-up runs in
   *   the sender's write() on loopback and cost ~7 % of the client's CPU (perf), half of it
   *   avoidable.
   *
   * One Immediate per pool, whatever the number of connections freed. Requests that arrive
   * meanwhile wait for these connections rather than open new ones (#growIfNeeded).
   */
  #settle(rec: ConnectionRecord): void {
    if (!rec.settling) {
      rec.settling = true
      this.#settling.push(rec)
    }
    if (this.#drainImmediate === undefined) this.#drainImmediate = setImmediate(this.#settled)
  }

  readonly #settled = (): void => {
    this.#drainImmediate = undefined
    const settling = this.#settling
    this.#settling = []
    for (const rec of settling) {
      rec.settling = false
      this.#refreshState(rec, 'request-done', true)
    }
    if (!this.#destroyed) this.#drain()
  }

  #retire(rec: ConnectionRecord, reason: string): void {
    if (rec.state === 'closed' || rec.state === 'draining') return
    if (rec.conn === undefined) return
    this.#move(rec, 'draining', reason)
    void rec.conn.close()
  }

  /**
   * The one transition function: state, idle list, timers, figures and the published event
   * all change here and nowhere else.
   */
  #move(rec: ConnectionRecord, to: ConnectionState, reason: string): void {
    const from = rec.state
    if (from === to) return
    rec.state = to
    if (from === 'connecting') this.#connecting--
    if (from !== 'draining' && (to === 'draining' || to === 'closed')) {
      this.#live--
      this.#unbindAffinity(rec)
    }
    if (from === 'connecting' && rec.ready !== undefined) {
      const ready = rec.ready
      rec.ready = undefined
      if (to === 'closed') ready.reject(new SocketClosedError(`connection closed before it was ready (${reason})`, { origin: this.origin, responseStarted: false }))
      else ready.resolve()
    }
    if (from === 'idle') this.#idle.remove(rec)
    if (to === 'idle') {
      this.#idle.push(rec)
      this.#budget?.idleAvailable()
      this.#armIdleTimer(rec)
    }
    if (to === 'draining') rec.retireReason ??= reason
    if (to === 'closed') {
      const why = rec.retireReason ?? reason
      this.#figures.closedByReason[why] = (this.#figures.closedByReason[why] ?? 0) + 1
      if (rec.ageTimer !== undefined) clearTimeout(rec.ageTimer)
      if (rec.idleTimer !== undefined) clearTimeout(rec.idleTimer)
      this.#records.delete(rec)
      this.#figures.connectionsClosed++
      this.#budget?.release()
    }
    this.#publishConnection(rec, from, to, reason)
    if (to === 'closed') this.#maybeFinishClose()
  }

  #armIdleTimer(rec: ConnectionRecord): void {
    const idleMs = this.#idleTimeoutFor(rec)
    // keepAliveTimeout 0 disables idle eviction, as 0 disables the other timeouts.
    if (!(idleMs > 0)) {
      if (rec.idleTimer !== undefined) clearTimeout(rec.idleTimer)
      rec.idleTimer = undefined
      return
    }
    if (rec.idleTimer !== undefined && rec.idleTimerMs === idleMs) {
      rec.idleTimer.refresh()
      return
    }
    if (rec.idleTimer !== undefined) clearTimeout(rec.idleTimer)
    rec.idleTimerMs = idleMs
    rec.idleTimer = setTimeout(() => {
      // A stale expiry (the record went busy since it was armed) changes nothing.
      if (rec.state === 'idle') this.#retire(rec, 'idle-timeout')
    }, idleMs)
    rec.idleTimer.unref()
  }

  /** keepAliveTimeout, lowered by a server's `Keep-Alive: timeout=` hint minus a safety margin. */
  #idleTimeoutFor(rec: ConnectionRecord): number {
    const configured = this.#options.keepAliveTimeout
    const hint = rec.conn?.idleTimeoutHint
    if (hint === undefined) return configured
    // Close a second before the server would, so a request never races the server's close
    // (at least 1 ms: a hint never disables eviction, even when the option does).
    const hinted = Math.max(1, hint - 1000, hint / 2)
    return configured === 0 ? hinted : Math.min(configured, hinted)
  }

  /** An event for this pool's listeners and its Agent's. */
  #emitUp<K extends 'retry' | 'certificate-expiring'>(name: K, event: PoolEvents[K][0]): void {
    if (this.listenerCount(name) > 0) (this.emit as (n: K, e: PoolEvents[K][0]) => boolean)(name, event)
    if (this.#parent !== undefined && this.#parent.listenerCount(name) > 0) (this.#parent.emit as (n: K, e: PoolEvents[K][0]) => boolean)(name, event)
  }

  #publishConnection(rec: ConnectionRecord, from: ConnectionState | undefined, to: ConnectionState, reason: string): void {
    const own = this.listenerCount('connection') > 0
    const parent = this.#parent !== undefined && this.#parent.listenerCount('connection') > 0
    // Every request moves its connection busy ⇄ idle: no event object nobody would read.
    if (!own && !parent && !connectionChannel.hasSubscribers) return
    const event: ConnectionEvent = { id: rec.id, origin: this.origin, protocol: rec.protocol, from, to, reason, age: Date.now() - rec.createdAt }
    if (own) this.emit('connection', event)
    if (parent) this.#parent?.emit('connection', event)
    if (connectionChannel.hasSubscribers) connectionChannel.publish(event)
  }

  #maybeFinishClose(): void {
    const resolve = this.#resolveClosed
    if (this.#closing === undefined) return
    if (this.#queue.length > 0 || this.#backingOff.size > 0) return
    // Called on every close while closing: walk the idle list, not every record (closing
    // 10,000 connections must not be quadratic).
    for (const rec of this.#idle.toArray()) this.#retire(rec, 'pool-closing')
    if (this.#connecting > 0) for (const rec of [...this.#records]) {
      if (rec.state === 'connecting') {
        const err = new PoolClosedError('pool is closing', { origin: this.origin })
        rec.connectAbort?.abort(err)
        // Connected but not ready yet (HTTP/2 waiting for the peer's SETTINGS): its socket
        // is live and must go too.
        rec.conn?.destroy(err)
        this.#move(rec, 'closed', 'pool-closing')
      }
    }
    if (this.#records.size === 0 && resolve !== undefined) {
      this.#resolveClosed = undefined
      this.#budget?.leave(this)
      resolve()
    }
  }

  // ---- request outcomes (called by PooledAttempt) ----------------------------------------

  /** @internal */
  _attemptFailed(attempt: PooledAttempt, err: WirepoolError): void {
    const entry = attempt.entry
    // The caller cancelling says nothing about the connection; anything else lowers its health.
    if (err.code !== ErrorCode.ABORTED) recordError(attempt.rec, Date.now())
    if (!attempt.headersSeen && this.#mayRetry(entry) && this.#isRetryableFailure(attempt, err)) {
      // A stale keep-alive socket must not be followed by another possibly stale one.
      entry.freshOnly = err.code === ErrorCode.SOCKET_CLOSED
      this.#retry(entry, attempt, err.code, backoffDelay(entry.retries + 1, this.#options.retry), err)
      return
    }
    this.#figures.count(`request_error:${err.code}`)
    this.#settleError(entry, err)
  }

  /** The request may be sent again at all: idempotent, replayable, attempts left. */
  #mayRetry(entry: QueueEntry): boolean {
    if (this.closed || entry.settled || entry.signal?.aborted) return false
    if (entry.retries >= this.#options.retry.attempts || entry.coalesced) return false
    return entry.request.idempotent && isReplayableBody(entry.request.body)
  }

  /**
   * RFC 9110 §9.2.2: a client may repeat an idempotent request when the connection failed
   * before it saw a response. A socket failure counts only when no byte of the response
   * arrived and the socket had served an earlier request (the stale keep-alive race); an
   * HTTP/2 peer may also say outright that it did not process a stream (GOAWAY above
   * last-stream-id, REFUSED_STREAM: RFC 9113 §8.7), which the error marks `retryable`.
   */
  #isRetryableFailure(attempt: PooledAttempt, err: WirepoolError): boolean {
    const marks = err as { responseStarted?: boolean; retryable?: boolean }
    if (marks.retryable === true) return true
    if (err.code !== ErrorCode.SOCKET_CLOSED || (err as SocketClosedError).responseStarted) return false
    return attempt.reusedConnection
  }

  /**
   * @internal A final response with a status the caller opted into retrying: the delay to
   * wait before the next attempt, or undefined to hand the response over as it is.
   */
  _statusRetryDelay(attempt: PooledAttempt, status: number, headers: HeaderRecord): number | undefined {
    const policy = this.#options.retry
    if (!policy.statuses.has(status) || !this.#mayRetry(attempt.entry)) return undefined
    const retryAfter = parseRetryAfter(headers['retry-after'])
    if (retryAfter !== undefined) return retryAfter <= policy.maxRetryAfter ? retryAfter : undefined
    return Math.max(policy.minDelay, backoffDelay(attempt.entry.retries + 1, policy))
  }

  /**
   * @internal A 101 handed a socket to its caller (WebSocket): it left the connection
   * records, but stays counted until it closes.
   */
  _upgraded(socket: import('node:stream').Duplex): void {
    this.#figures.upgradesTotal++
    this.#upgradedOpen++
    socket.once('close', () => this.#upgradedOpen--)
  }

  /** @internal The figures a WebSocket to this origin reports into. */
  _webSocketFigures(): WebSocketFigures {
    return this.#figures.webSockets
  }

  /** @internal The discarded response of a status retry has been read in full. */
  _retryAfterStatus(attempt: PooledAttempt, delayMs: number): void {
    this.#retry(attempt.entry, attempt, `status:${attempt.status}`, delayMs, undefined)
  }

  #retry(entry: QueueEntry, attempt: PooledAttempt, reason: string, delayMs: number, err: WirepoolError | undefined): void {
    entry.retries++
    entry.dispatched = false
    entry.abort = undefined
    this.#figures.retries++
    const { method, path } = entry.request
    if (requestChannel.hasSubscribers) requestChannel.publish({ origin: this.origin, method, path, connectionId: attempt.rec.id, event: 'retried', ...(err === undefined ? {} : { error: err }) } satisfies RequestEvent)
    this.#emitUp('retry', { origin: this.origin, method, path, attempt: entry.retries, reason, delayMs })
    if (delayMs <= 0) {
      this.#enqueueEntry(entry, true)
      // Let the failed connection report its close first so it is not picked again.
      queueMicrotask(() => this.#drain())
      return
    }
    this.#backingOff.add(entry)
    entry.retryTimer = setTimeout(() => {
      entry.retryTimer = undefined
      if (!this.#backingOff.delete(entry) || entry.settled) return
      // It was sent before anything queued since: it keeps its place at the front.
      this.#enqueueEntry(entry, true)
      this.#drain()
    }, delayMs)
  }

  /** @internal */
  _attemptCompleted(attempt: PooledAttempt): void {
    const entry = attempt.entry
    entry.settled = true
    this.#cleanupEntry(entry)
    if (requestChannel.hasSubscribers) requestChannel.publish({ origin: this.origin, method: entry.request.method, path: entry.request.path, connectionId: attempt.rec.id, event: 'completed', status: attempt.status } satisfies RequestEvent)
  }

  #settleError(entry: QueueEntry, err: WirepoolError): void {
    if (entry.settled) return
    entry.settled = true
    this.#cleanupEntry(entry)
    if (requestChannel.hasSubscribers) requestChannel.publish({ origin: this.origin, method: entry.request.method, path: entry.request.path, connectionId: undefined, event: 'failed', error: err } satisfies RequestEvent)
    safeCall(entry.handler, 'onError', err)
  }

  #cleanupEntry(entry: QueueEntry): void {
    if (entry.retryTimer !== undefined) {
      clearTimeout(entry.retryTimer)
      entry.retryTimer = undefined
    }
    this.#backingOff.delete(entry)
    if (entry.onAbort !== undefined && entry.signal !== undefined) {
      entry.signal.removeEventListener('abort', entry.onAbort)
      entry.onAbort = undefined
    }
  }

  #abortEntry(entry: QueueEntry): void {
    if (entry.settled) return
    const reason = entry.signal?.reason
    const err = new AbortedError('request aborted', { cause: reason, origin: this.origin })
    if (!entry.dispatched) {
      const i = this.#queue.indexOf(entry)
      if (i !== -1) this.#removeFromQueue(i)
      // (an entry backing off is dropped from #backingOff by #settleError)
      this.#settleError(entry, err)
      this.#maybeFinishClose()
      return
    }
    // The connection owns the request now: its abort fails it through onError.
    entry.abort?.(err)
  }
}

/**
 * The handler a connection drives for one attempt of one request: forwards to the caller's
 * handler, and turns a retryable failure into a re-queue instead of an error.
 */
class PooledAttempt implements DispatchHandler {
  readonly entry: QueueEntry
  readonly rec: ConnectionRecord
  readonly reusedConnection: boolean
  readonly #pool: Pool
  headersSeen = false
  status = 0
  #detached = false
  /** Set when this response is being read only to be dropped before a status retry. */
  #discardDelay: number | undefined

  constructor(pool: Pool, entry: QueueEntry, rec: ConnectionRecord, reusedConnection: boolean) {
    this.#pool = pool
    this.entry = entry
    this.rec = rec
    this.reusedConnection = reusedConnection
  }

  detach(): void {
    this.#detached = true
  }

  onConnect(abort: (reason?: Error) => void, info: ConnectionInfo): void {
    if (this.#detached) return
    this.entry.abort = abort
    const handler = this.entry.handler
    if (handler.onConnect !== undefined) handler.onConnect(abort, info)
    if (this.entry.signal?.aborted) abort(new AbortedError('request aborted', { cause: this.entry.signal.reason }))
  }

  onInformational(status: number, headers: HeaderRecord): void {
    if (this.#detached) return
    this.entry.handler.onInformational?.(status, headers)
  }

  onHeaders(status: number, headers: HeaderRecord, resume: () => void, statusText: string, rawHeaders?: readonly string[]): boolean | void {
    if (this.#detached) return
    this.status = status
    const delay = this.#pool._statusRetryDelay(this, status, headers)
    if (delay !== undefined) {
      // Read the (usually small) body to the end so the connection stays reusable, then
      // send again; the caller never sees this response.
      this.#discardDelay = delay
      return true
    }
    this.headersSeen = true
    return this.entry.handler.onHeaders(status, headers, resume, statusText, rawHeaders)
  }

  onData(chunk: Uint8Array): boolean | void {
    if (this.#detached || this.#discardDelay !== undefined) return true
    return this.entry.handler.onData(chunk)
  }

  onTrailers(trailers: HeaderRecord): void {
    if (this.#detached || this.#discardDelay !== undefined) return
    this.entry.handler.onTrailers?.(trailers)
  }

  onComplete(): void {
    if (this.#detached) return
    this.#detached = true
    if (this.#discardDelay !== undefined) {
      this.#pool._retryAfterStatus(this, this.#discardDelay)
      return
    }
    this.#pool._attemptCompleted(this)
    this.entry.handler.onComplete()
  }

  onError(err: WirepoolError): void {
    if (this.#detached) return
    this.#detached = true
    this.#pool._attemptFailed(this, err)
  }

  onUpgrade(status: number, headers: HeaderRecord, socket: import('node:stream').Duplex, head: Uint8Array): void {
    if (this.#detached) return
    this.#detached = true
    this.#pool._attemptCompleted(this)
    const handler = this.entry.handler
    if (handler.onUpgrade === undefined) {
      socket.destroy()
      safeCall(handler, 'onError', new SocketClosedError('unexpected upgrade', { responseStarted: true }))
      return
    }
    this.#pool._upgraded(socket)
    handler.onUpgrade(status, headers, socket, head)
  }
}

/** A caller's handler throwing must not take the pool down with it. */
function safeCall(handler: DispatchHandler, method: 'onError', err: WirepoolError): void {
  try {
    handler[method](err)
  } catch (thrown) {
    process.nextTick(() => {
      throw thrown
    })
  }
}
