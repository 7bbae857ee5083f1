/**
 * A pool of connections to one origin: takes requests, queues them (wait-queue.ts), hands
 * each to the connection selection picks (selection.ts), asks for connections as the limits
 * allow (connections.ts), and decides each request's outcome (attempt.ts: retries). Each
 * connection is a record whose state only `Lifecycle#transition` changes (lifecycle.ts).
 * The pool never looks inside a protocol: it talks to PoolConnection only.
 */
import { EventEmitter } from 'node:events'
import type { Duplex } from 'node:stream'
import { AbortedError, ErrorCode, InvalidArgumentError, PoolClosedError, RequestTimeoutError, toWirepoolError, type WirepoolError } from '../errors.js'
import type { DispatchHandler, DispatchRequest, HeaderRecord } from '../dispatch.js'
import { resolvePoolOptions, type PoolOptions, type ResolvedPoolOptions, type TlsOptions } from '../options.js'
import { buildDispatchRequest, requestTimeoutOption, type PoolRequestOptions, type RequestOptions } from '../request-options.js'
import { ResponseCollector, type Response } from '../response.js'
import { ProgressHandler } from '../progress.js'
import { TlsSessionCache } from '../tls/session-cache.js'
import { Connections } from './connections.js'
import { parseOrigin, splitUrl, type Origin } from './origin.js'
import { chain, ComposedDispatcher, type Interceptor } from '../interceptors/compose.js'
import { handlesRedirects, redirectDispatch, redirectSettings } from '../interceptors/redirect.js'
import { proxyRouteFor } from '../proxy/route.js'
import { proxyRouteMetrics } from '../proxy/metrics.js'
import { backoffDelay } from './retry.js'
import { recordError } from './health.js'
import type { BudgetMember, ConnectionBudget } from './budget.js'
import { PoolFigures, renderPrometheus, type OriginFigures, type OriginStats } from './stats.js'
import { isClosed, newestConnectionId, type ConnectionRecord, type ConnectionState, type Lifecycle, type OpenRecord } from './lifecycle.js'
import { anyExtendedConnect, countEstablished, pickCarrier, pickConnection } from './selection.js'
import { deliverError, isRetryableFailure, mayRetry, PooledAttempt, statusRetryDelay, type AttemptOwner } from './attempt.js'
import { MAX_AFFINITY_KEY, newEntry, WaitQueue, type QueueEntry } from './wait-queue.js'
import { connectionChannel, daysLeft, requestChannel, snapshotOf, tallyRecords, type ConnectionEvent, type ConnectionSnapshot, type PoolEvents, type RequestEvent } from './events.js'
import { providePoolInternals } from './internals.js'
import { Timings } from '../timings.js'

export type { ConnectionState } from './lifecycle.js'
export type { CertificateExpiringEvent, ConnectionEvent, ConnectionSnapshot, PoolEvents, RequestEvent, RetryEvent } from './events.js'

/** What an Agent shares with the pools it makes. */
export interface PoolWiring {
  /** Shared across the pools of an Agent. */
  sessionCache?: TlsSessionCache | null
  /** The Agent's `maxTotalConnections` cap, shared by its pools. */
  budget?: ConnectionBudget | undefined
  /** The Agent, which re-emits the pool's events to its own listeners. */
  parent?: EventEmitter<PoolEvents> | undefined
}

function noop(): void {}

/** How long a warm-up waits for the first connection's TLS session ticket (one round trip is plenty). */
const WARM_UP_TICKET_WAIT_MS = 1000

function withProxy(proxy: string | null, stats: OriginStats): PoolStats {
  ;(stats as PoolStats).proxy = proxy
  return stats as PoolStats
}

/** An origin's stats, and the proxy its connections go through (null: direct). */
export type PoolStats = OriginStats & { proxy: string | null }

/** Connect attempts in a row for queued requests before they fail with the connect error. */
const CONNECT_ATTEMPTS = 5
/** The first connect retry waits about this long; each later one twice as long (capped). */
const CONNECT_BACKOFF_MS = 100

/** Delay before connect retry `n` (1-based): 100, 200, 400, 800 ms… capped, with equal jitter. */
function connectBackoff(n: number, maxDelay: number): number {
  const exponential = Math.min(Math.max(maxDelay, CONNECT_BACKOFF_MS), CONNECT_BACKOFF_MS * 2 ** (n - 1))
  return exponential / 2 + (exponential / 2) * Math.random()
}

/** A connect failure another try may not repeat: refused, timed out, reset while connecting. */
function isTransientConnectError(err: WirepoolError): boolean {
  return err.code === ErrorCode.CONNECT_REFUSED || err.code === ErrorCode.CONNECT_TIMEOUT || err.code === ErrorCode.SOCKET_CLOSED
}

export class Pool extends EventEmitter<PoolEvents> {
  /** The TLS sessions this pool resumes from (null for http: or sessionCache false). */
  readonly #sessionCache: TlsSessionCache | null
  readonly origin: string
  /** The proxy this pool's connections go through (its URL without credentials), or null when direct. */
  readonly proxy: string | null
  /** The origin and the route to it: what the Agent keys its pools by (proxy/route.ts). */
  readonly routeKey: string
  readonly #origin: Origin
  readonly #options: ResolvedPoolOptions
  readonly #figures = new PoolFigures()
  /** The connections' records (the same object as `#connections.lifecycle`). */
  readonly #lifecycle: Lifecycle
  readonly #queue = new WaitQueue()
  /** Requests waiting out a retry backoff: neither queued nor on a connection. */
  readonly #backingOff = new Set<QueueEntry>()
  readonly #budget: ConnectionBudget | undefined
  readonly #budgetMember: BudgetMember
  readonly #attempts: AttemptOwner
  readonly #parent: EventEmitter<PoolEvents> | undefined
  #closing: Promise<void> | undefined
  #destroyed = false
  readonly #connections: Connections
  /** Upgraded sockets (WebSocket) still open. */
  #upgradedOpen = 0
  #resolveClosed: (() => void) | undefined
  /** Connects that failed in a row (transient failures), reset by one that succeeds. */
  #connectFailures = 0
  /** Waiting out the backoff before the next connect for queued requests. */
  #connectRetryTimer: NodeJS.Timeout | undefined = undefined
  /** Requests with `redirect: 'follow' | 'error'` go through this, made at the first one. */
  #redirecting: ComposedDispatcher<Pool> | undefined

  static {
    providePoolInternals({
      request: (pool, options, path) => pool.#request(options, path),
      respond: (pool, start, path) => new Promise<Response>((resolve, reject) => start(pool.#collector(resolve, reject, path), pool.#options.decompress)),
      enqueue: (pool, options, handler, acceptEncoding, path) => pool.#enqueue(options, handler, acceptEncoding, path),
      origin: (pool) => pool.#origin,
      hasLiveConnection: (pool) => pool.#lifecycle.live > 0,
      tryCoalesce: (pool, hostname, authority, addresses, options, path, handler, acceptEncoding) => pool.#tryCoalesce(hostname, authority, addresses, options, path, handler, acceptEncoding),
      figures: (pool) => pool.#originFigures(),
      webSocketFigures: (pool) => pool.#figures.webSockets,
    })
  }

  constructor(origin: string | URL, options: PoolOptions = {}, wiring: PoolWiring = {}) {
    super()
    this.#origin = parseOrigin(origin)
    this.origin = this.#origin.origin
    this.#options = resolvePoolOptions(options)
    if (this.#options.h2c && this.#origin.secure) {
      throw new InvalidArgumentError('option h2c is for http: origins; https: origins negotiate h2 by ALPN (allowH2)')
    }
    const route = proxyRouteFor(this.#options.proxy, this.#origin, this.#options.h2c)
    this.proxy = route?.endpoint.display ?? null
    this.routeKey = route === undefined ? this.origin : `${this.origin} ${route.key}`
    const sessionCache = wiring.sessionCache !== undefined ? wiring.sessionCache : this.#options.tls.sessionCache === false ? null : new TlsSessionCache()
    this.#sessionCache = this.#origin.secure ? sessionCache : null
    this.#budget = wiring.budget
    this.#parent = wiring.parent
    const pool = this
    this.#connections = new Connections(this.#origin, this.#options, sessionCache, this.#figures, this.#budget, {
      get destroyed() {
        return pool.#destroyed
      },
      drain: () => this.#drain(),
      connectFailed: (err, reason) => this.#connectFailed(err, reason),
      connected: () => {
        this.#connectFailures = 0
      },
      unbindAffinity: (rec) => this.#queue.unbind(rec),
      publish: (rec, from, to, reason) => this.#publishConnection(rec, from, to, reason),
      recordClosed: () => this.#maybeFinishClose(),
      certificateExpiring: (event) => this.#emitUp('certificate-expiring', event),
    })
    this.#lifecycle = this.#connections.lifecycle
    this.#attempts = {
      statusRetryDelay: (attempt, status, headers) => this.#statusRetryDelay(attempt, status, headers),
      retryAfterStatus: (attempt, delayMs) => this.#retry(attempt.entry, attempt, `status:${attempt.status}`, delayMs, undefined),
      completed: (attempt) => this.#attemptCompleted(attempt),
      failed: (attempt, err) => this.#attemptFailed(attempt, err),
      upgraded: (socket) => this.#upgraded(socket),
    }
    this.#budgetMember = {
      oldestIdleUse: () => this.#lifecycle.idle.first?.lastUsedAt,
      evictOldestIdle: () => {
        const rec = this.#lifecycle.idle.first
        if (rec !== undefined) this.#connections.retire(rec, 'evicted-lru')
      },
      budgetAvailable: () => {
        if (!this.#destroyed) this.#drain()
      },
    }
    this.#budget?.join(this.#budgetMember)
  }

  get closed(): boolean {
    return this.#closing !== undefined || this.#destroyed
  }

  /** Send a request and resolve with the response head; the body streams (API.md "Requests"). */
  request(options: PoolRequestOptions): Promise<Response> {
    if (handlesRedirects(options)) return this.#redirects().request(options)
    return this.#request(options, undefined)
  }

  /**
   * The redirect interceptor in front of this Pool, for requests that ask for it (README
   * "Redirects"): it follows hops within this origin and refuses others (WP_REDIRECT_REFUSED).
   */
  #redirects(): ComposedDispatcher<Pool> {
    if (this.#redirecting === undefined) {
      const settings = { maxDecompressedSize: this.#options.decompress ? this.#options.maxDecompressedSize : -1, origin: this.origin }
      this.#redirecting = new ComposedDispatcher<Pool>(this, redirectDispatch((options, handler) => this.#dispatchTo(options, handler), redirectSettings({}, this.origin)), settings)
    }
    return this.#redirecting
  }

  #request(options: PoolRequestOptions, path: string | undefined): Promise<Response> {
    return new Promise<Response>((resolve, reject) => {
      this.#enqueue(options, this.#collector(resolve, reject, path ?? options?.path), this.#options.decompress, path)
    })
  }

  /** The handler behind `request()`: decodes bodies (bounded) when `decompress` is on; `path` (default `/`) for `res.url`. */
  #collector(resolve: (res: Response) => void, reject: (err: Error) => void, path: string | undefined): ResponseCollector {
    return new ResponseCollector(resolve, reject, this.#options.decompress ? this.#options.maxDecompressedSize : -1, this.origin, path ?? '/')
  }

  /**
   * This Pool seen through interceptors (README "Interceptors"), the first one outermost. A
   * request that names another origin (a cross-origin redirect, say) fails with
   * WP_INVALID_ARG: a Pool reaches only its own origin — compose on an Agent for that.
   */
  compose(...interceptors: Interceptor[]): ComposedDispatcher<Pool> {
    const settings = { maxDecompressedSize: this.#options.decompress ? this.#options.maxDecompressedSize : -1, origin: this.origin }
    return new ComposedDispatcher<Pool>(this, chain((options, handler) => this.#dispatchTo(options, handler), interceptors), settings)
  }

  /** The end of a composition's chain: options name their target; it must be this origin. */
  #dispatchTo(options: RequestOptions, handler: DispatchHandler): void {
    let path: string | undefined
    try {
      if (options === null || typeof options !== 'object') throw new InvalidArgumentError('request options must be an object')
      const target = options.url !== undefined ? splitUrl(options.url) : undefined
      const origin = target?.origin.origin ?? (options.origin === undefined ? this.origin : parseOrigin(options.origin).origin)
      if (origin !== this.origin) throw new InvalidArgumentError(`a Pool for ${this.origin} cannot send a request to ${origin}: compose on an Agent to reach other origins`, { origin: this.origin })
      path = target?.path
    } catch (err) {
      deliverError(handler, toWirepoolError(err, this.origin))
      return
    }
    this.#enqueue(options, handler, false, path)
  }

  /**
   * The low-level entry point (API.md "Low-level"). Validation errors are reported through
   * `handler.onError`, never thrown, so callers have one error path.
   */
  dispatch(options: PoolRequestOptions, handler: DispatchHandler): void {
    if (handlesRedirects(options)) this.#redirects().dispatch(options, handler)
    else this.#enqueue(options, handler, false, undefined)
  }

  #enqueue(options: PoolRequestOptions, handler: DispatchHandler, acceptEncoding: boolean, path: string | undefined): void {
    const entry = this.#newEntry(options, handler, acceptEncoding, this.#origin.authority, false, path)
    if (entry === undefined) return
    this.#queue.add(entry, false)
    this.#drain()
    if (!entry.dispatched && !entry.finished && this.#lifecycle.live >= this.#options.connections) entry.atLimit = true
  }

  /** A validated queue entry, or undefined once the handler was told why there is none. */
  #newEntry(options: PoolRequestOptions, handler: DispatchHandler, acceptEncoding: boolean, authority: string, coalesced: boolean, path: string | undefined): QueueEntry | undefined {
    let request: DispatchRequest
    let timeoutMs: number
    try {
      if (this.closed) throw new PoolClosedError(this.#destroyed ? 'pool was destroyed' : 'pool is closing', { origin: this.origin })
      request = buildDispatchRequest(options, authority, this.#options, acceptEncoding, path)
      timeoutMs = requestTimeoutOption(options.timeout)
    } catch (err) {
      deliverError(handler, toWirepoolError(err, this.origin))
      return undefined
    }
    const signal = options.signal
    const affinity = options.affinity
    if (affinity !== undefined && (typeof affinity !== 'string' || affinity.length === 0 || affinity.length > MAX_AFFINITY_KEY)) {
      deliverError(handler, new InvalidArgumentError(`affinity must be a non-empty string of at most ${MAX_AFFINITY_KEY} characters`, { origin: this.origin }))
      return undefined
    }
    if (signal?.aborted) {
      deliverError(handler, new AbortedError('request aborted before it was sent', { cause: signal.reason, origin: this.origin }))
      return undefined
    }
    const onProgress = options.onProgress
    const entry = newEntry(request, onProgress === undefined ? handler : new ProgressHandler(handler, onProgress), signal, affinity, coalesced)
    if (signal !== undefined) {
      entry.onAbort = () => this.#abortEntry(entry)
      signal.addEventListener('abort', entry.onAbort, { once: true })
    }
    if (timeoutMs > 0) {
      // One timer per request, only for requests that set one; unref'd: the request's own
      // socket keeps the process alive while it is in flight.
      entry.deadline = setTimeout(() => this.#cancelEntry(entry, new RequestTimeoutError(timeoutMs, { origin: this.origin })), timeoutMs)
      entry.deadline.unref()
    }
    return entry
  }

  #tryCoalesce(hostname: string, authority: string, addresses: ReadonlySet<string>, options: PoolRequestOptions, path: string | undefined, handler: DispatchHandler, acceptEncoding: boolean): boolean {
    if (this.closed || !this.#origin.secure) return false
    const carrier = pickCarrier(this.#lifecycle.records, hostname, addresses)
    if (carrier === undefined) return false
    const entry = this.#newEntry(options, handler, acceptEncoding, authority, true, path)
    // (a refused entry was reported to its handler: that request is dealt with)
    if (entry === undefined) return true
    this.#figures.coalesced++
    this.#dispatchOn(carrier, entry)
    return true
  }

  stats(): PoolStats {
    const tally = tallyRecords(this.#lifecycle.records)
    const cert = this.#connections.certificate
    return withProxy(this.proxy, this.#figures.snapshot(tally.counts, this.#queue.length, tally.streamsOpen, tally.protocols, cert === null ? null : daysLeft(cert.validTo, Date.now()), this.#upgradedOpen, tally.pingRttMs))
  }

  /** Prometheus text exposition (format 0.0.4) of this origin's figures. */
  metrics(): string {
    return renderPrometheus([this.#originFigures()]) + proxyRouteMetrics([this])
  }

  #originFigures(): OriginFigures {
    return { origin: this.origin, stats: this.stats(), figures: this.#figures }
  }

  /** A snapshot of every connection record (API: the lifecycle-tracked pool). */
  connections(): ConnectionSnapshot[] {
    const now = Date.now()
    return [...this.#lifecycle.records].map((rec) => snapshotOf(rec, this.origin, now))
  }

  /**
   * Stop taking requests; queued and in-flight ones finish (each within its own deadlines);
   * then every socket closes. With `timeout` (ms), whatever is still open after that grace
   * period is destroyed (requests fail with PoolClosedError), so the promise always resolves.
   */
  close(options: { timeout?: number } = {}): Promise<void> {
    const timeout = options.timeout
    if (timeout !== undefined && (typeof timeout !== 'number' || !(timeout >= 0))) {
      return Promise.reject(new InvalidArgumentError('close({ timeout }) needs a number of ms ≥ 0', { origin: this.origin }))
    }
    if (this.#closing === undefined) {
      this.#closing = new Promise<void>((resolve) => {
        this.#resolveClosed = resolve
      })
      this.#maybeFinishClose()
    }
    if (timeout !== undefined && Number.isFinite(timeout) && this.#resolveClosed !== undefined) {
      const timer = setTimeout(() => {
        if (this.#resolveClosed !== undefined) void this.destroy(new PoolClosedError(`pool closed: grace period of ${timeout} ms over`, { origin: this.origin }))
      }, timeout)
      timer.unref()
      void this.#closing.then(() => clearTimeout(timer))
    }
    return this.#closing
  }

  /** Fail everything queued or in flight with `err` and close every socket now. */
  destroy(err?: Error): Promise<void> {
    if (!this.#destroyed) {
      this.#destroyed = true
      const reason = err === undefined ? new PoolClosedError('pool was destroyed', { origin: this.origin }) : toWirepoolError(err, this.origin)
      if (this.#connectRetryTimer !== undefined) clearTimeout(this.#connectRetryTimer)
      this.#connectRetryTimer = undefined
      for (const entry of this.#queue.takeAll()) this.#failEntry(entry, reason)
      for (const entry of [...this.#backingOff]) this.#failEntry(entry, reason)
      for (const rec of [...this.#lifecycle.records]) {
        if (rec.state === 'connecting') {
          rec.dial.abort(reason)
          this.#lifecycle.transition(rec, 'closed', 'pool-destroyed')
        } else if (rec.conn !== undefined) {
          rec.conn.destroy(reason)
        }
      }
    }
    // Resolves once every socket reported its close.
    this.#closing ??= new Promise<void>((resolve) => {
      this.#resolveClosed = resolve
    })
    this.#maybeFinishClose()
    return this.#closing
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
    const cache = this.#sessionCache
    if (cache !== null && this.#lifecycle.live === 0) {
      // Open one, wait (bounded) for its TLS session ticket, then the rest: opened together,
      // none could resume (a TLS 1.3 ticket arrives after the handshake, RFC 8446 §4.6.1),
      // and every one would pay a full handshake.
      if (this.#budget !== undefined && !this.#budget.tryTake(this.#budgetMember, false)) return
      const stored = cache.stores
      await this.#connections.open('warm-up')
      await cache.sessionSince(stored, WARM_UP_TICKET_WAIT_MS)
    }
    const opening: Array<Promise<void>> = []
    for (let live = this.#lifecycle.live; live < target; live++) {
      // Warm-up never waits for, nor evicts to make, room under maxTotalConnections.
      if (this.#budget !== undefined && !this.#budget.tryTake(this.#budgetMember, false)) break
      opening.push(this.#connections.open('warm-up'))
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

  // ---- scheduling ------------------------------------------------------------------------

  /** Hand queued requests to connections with room, opening connections as the limit allows. */
  #drain(): void {
    const queue = this.#queue
    const entries = queue.entries
    const lifecycle = this.#lifecycle
    const shareBusy = this.#connections.multiplexedSeen === true
    let i = 0
    /** Entries left queued for their bound connection, which is busy: no new connection is wanted for them. */
    let waitingForBound = 0
    let unboundBlocked = false
    while (i < entries.length) {
      const entry = entries[i] as QueueEntry
      const key = entry.affinity
      if (unboundBlocked && key === undefined) {
        // An earlier request without a key found no room: neither will this one.
        i++
        continue
      }
      const pipeline = this.#options.pipelining > 1 && lifecycle.live >= this.#options.connections
      const rec = pickConnection(lifecycle, entry.request, entry.freshAfter, key === undefined ? undefined : queue.boundTo(key), shareBusy, pipeline, Date.now())
      if (rec !== undefined) {
        queue.removeAt(i)
        this.#dispatchOn(rec, entry)
        continue
      }
      if (key !== undefined && queue.isBound(key)) waitingForBound++
      else unboundBlocked = true
      // FIFO: without keyed requests behind it, nothing past the first blocked entry can go.
      if (queue.keyed === 0) break
      i++
    }
    if (entries.length > waitingForBound && !this.#destroyed) this.#growIfNeeded(waitingForBound)
    this.#maybeFinishClose()
  }

  /**
   * Open connections for the queued requests no current or connecting connection will take
   * (`waitingForBound` of them wait for the busy connection their affinity key names).
   */
  #growIfNeeded(waitingForBound: number): void {
    const lifecycle = this.#lifecycle
    const connecting = lifecycle.connecting
    const head = this.#queue.entries[0]
    if (head !== undefined && head.request.upgrade !== undefined && this.#connections.multiplexedSeen === true && !anyExtendedConnect(lifecycle.records)) {
      // The origin speaks HTTP/2 but no connection of it took the upgrade (its peer sent no
      // SETTINGS_ENABLE_CONNECT_PROTOCOL, RFC 8441 §3): fall back to an HTTP/1.1 connection.
      if (connecting === 0 && lifecycle.live < this.#options.connections) this.#openForDemand(true)
      return
    }
    if ((this.#options.h2c || (this.#origin.secure && this.#options.allowH2)) && this.#connections.multiplexedSeen !== false) {
      // Connections to this origin may turn out to be HTTP/2 (ALPN may pick h2, or h2c). While
      // the protocol is unknown (or known to be h2), one connection at a time: a cold burst of
      // 1,000 requests must open one HTTP/2 connection, not 1,000 (RFC 9113 §9.1 asks clients
      // not to open more than one per origin). Another opens only once every open one is at
      // its stream limit, which is when selection found no room.
      if (connecting === 0 && lifecycle.live < this.#options.connections) this.#openForDemand(false)
      return
    }
    // Held connections take queued requests in the check phase.
    let wanted = this.#queue.length - waitingForBound - connecting - this.#connections.heldCount
    while (wanted > 0 && lifecycle.live < this.#options.connections) {
      if (!this.#openForDemand(false)) return
      wanted--
    }
  }

  /**
   * Open a connection for queued requests if the Agent's `maxTotalConnections` leaves a
   * slot; otherwise wait for one (the budget evicts an idle connection somewhere for it).
   */
  #openForDemand(h1Only: boolean): boolean {
    // After a failed connect, the next one waits out its backoff (#connectFailed).
    if (this.#connectRetryTimer !== undefined) return false
    if (this.#budget !== undefined && !this.#budget.tryTake(this.#budgetMember, true)) return false
    this.#connections.open('demand', h1Only).catch(noop)
    return true
  }

  #dispatchOn(rec: OpenRecord, entry: QueueEntry): void {
    const conn = rec.conn
    const now = performance.now()
    const waited = now - entry.enqueuedAt
    const reusedBefore = rec.requests > 0
    // A reused connection's connect phases belong to an earlier request: none are copied.
    const opened = reusedBefore ? undefined : rec.connectTimings
    let timings = entry.timings
    if (timings === undefined) timings = entry.timings = new Timings(entry.enqueuedAt, now, opened)
    else timings.redispatched(now, opened)
    rec.requests++
    rec.lastUsedAt = Date.now()
    entry.dispatched = true
    if (entry.affinity !== undefined) this.#queue.bind(entry.affinity, rec)
    this.#figures.onDispatch(reusedBefore, waited, entry.atLimit, rec.protocol)
    const attempt = new PooledAttempt(this.#attempts, entry, rec, reusedBefore, timings)
    if (requestChannel.hasSubscribers) requestChannel.publish({ origin: this.origin, method: entry.request.method, path: entry.request.path, connectionId: rec.id, event: 'dispatched' } satisfies RequestEvent)
    try {
      conn.dispatch(entry.request, attempt)
    } catch (err) {
      // A connection refusing a request is a pool bug or a race with its closing; the
      // request has not been written, so it can go back to the queue once.
      entry.dispatched = false
      attempt.detach()
      this.#failEntry(entry, toWirepoolError(err, this.origin))
    }
    this.#connections.refreshState(rec, 'dispatch')
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
    if (this.proxy !== null) event.proxy = this.proxy
    if (own) this.emit('connection', event)
    if (parent) this.#parent?.emit('connection', event)
    if (connectionChannel.hasSubscribers) connectionChannel.publish(event)
  }

  #maybeFinishClose(): void {
    const resolve = this.#resolveClosed
    if (this.#closing === undefined) return
    if (this.#queue.length > 0 || this.#backingOff.size > 0) return
    const lifecycle = this.#lifecycle
    // Called on every close while closing: walk the idle list, not every record (closing
    // 10,000 connections must not be quadratic).
    for (const rec of lifecycle.idle.toArray()) this.#connections.retire(rec, 'pool-closing')
    if (lifecycle.connecting > 0) for (const rec of [...lifecycle.records]) {
      if (rec.state !== 'connecting' && rec.state !== 'handshaking') continue
      const err = new PoolClosedError('pool is closing', { origin: this.origin })
      if (rec.state === 'connecting') rec.dial.abort(err)
      // Connected but not ready yet (HTTP/2 waiting for the peer's SETTINGS): its socket
      // is live and must go too.
      else rec.conn.destroy(err)
      if (!isClosed(rec)) lifecycle.transition(rec, 'closed', 'pool-closing')
    }
    if (lifecycle.records.size === 0 && resolve !== undefined) {
      this.#resolveClosed = undefined
      this.#budget?.leave(this.#budgetMember)
      resolve()
    }
  }

  /** A connect failed; its record is closed. */
  #connectFailed(err: WirepoolError, reason: 'demand' | 'warm-up'): void {
    if (reason === 'warm-up') {
      // Nobody asked for this one: its caller gets the error, queued requests keep waiting
      // for the connections that are wanted for them.
      this.#drain()
      return
    }
    // Issue #18: one refused connect must not fail a whole queue. A transient failure
    // (refused, timed out, reset while connecting) is tried again after a capped, jittered
    // backoff while the queued requests wait (nothing of theirs was sent, so any method may
    // wait); after CONNECT_ATTEMPTS failures in a row — or at once for a failure that another
    // try would repeat (certificate, pin) — the queued requests fail with the connect error,
    // unless an established connection can still serve them. `retry: false` tries once.
    // Connects opened together fail together: one backoff (and one count) for them all.
    if (this.#connectRetryTimer !== undefined && isTransientConnectError(err)) return
    this.#connectFailures++
    const attempts = this.#options.retry.attempts > 0 ? CONNECT_ATTEMPTS : 1
    if (isTransientConnectError(err) && this.#connectFailures < attempts && !this.#destroyed) {
      if (this.#queue.length === 0) return
      const delay = connectBackoff(this.#connectFailures, this.#options.retry.maxDelay)
      this.#connectRetryTimer = setTimeout(() => {
        this.#connectRetryTimer = undefined
        if (!this.#destroyed) this.#drain()
      }, delay)
      return
    }
    this.#connectFailures = 0
    if (countEstablished(this.#lifecycle.records) === 0) for (const entry of this.#queue.takeAll()) this.#failEntry(entry, err)
    else {
      // The established connections serve what is queued. A stale-socket retry waiting for a
      // new connection (pickFresh) now takes one of them instead: no new one can be made, and
      // waiting on would try to connect again and again for as long as the origin refuses,
      // with a live connection at hand (issue #18). Should that one be stale too, the retry
      // fails once more and its attempts run out: it settles either way.
      for (const entry of this.#queue.entries) entry.freshAfter = undefined
    }
    this.#drain()
  }

  // ---- request outcomes (reported by PooledAttempt) --------------------------------------

  #attemptFailed(attempt: PooledAttempt, err: WirepoolError): void {
    const entry = attempt.entry
    // The caller cancelling says nothing about the connection; anything else lowers its health.
    if (err.code !== ErrorCode.ABORTED) recordError(attempt.rec, Date.now())
    if (!attempt.headersSeen && mayRetry(entry, this.#options.retry, this.closed) && isRetryableFailure(attempt.reusedConnection, err)) {
      // A stale keep-alive socket must not be followed by another possibly stale one: the
      // retry waits for a connection made after this failure, or one never used (pickFresh).
      entry.freshAfter = err.code === ErrorCode.SOCKET_CLOSED ? newestConnectionId() : undefined
      this.#retry(entry, attempt, err.code, backoffDelay(entry.retries + 1, this.#options.retry), err)
      return
    }
    this.#figures.count(`request_error:${err.code}`)
    this.#failEntry(entry, err)
  }

  #statusRetryDelay(attempt: PooledAttempt, status: number, headers: HeaderRecord): number | undefined {
    const policy = this.#options.retry
    if (!policy.statuses.has(status) || !mayRetry(attempt.entry, policy, this.closed)) return undefined
    return statusRetryDelay(policy, attempt.entry.retries, headers)
  }

  /** A 101 handed a socket to its caller (WebSocket): it left the records, but stays counted until it closes. */
  #upgraded(socket: Duplex): void {
    this.#figures.upgradesTotal++
    this.#upgradedOpen++
    socket.once('close', () => this.#upgradedOpen--)
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
      this.#queue.add(entry, true)
      // Let the failed connection report its close first so it is not picked again.
      queueMicrotask(() => this.#drain())
      return
    }
    this.#backingOff.add(entry)
    entry.retryTimer = setTimeout(() => {
      entry.retryTimer = undefined
      if (!this.#backingOff.delete(entry) || entry.finished) return
      // It was sent before anything queued since: it keeps its place at the front.
      this.#queue.add(entry, true)
      this.#drain()
    }, delayMs)
  }

  #attemptCompleted(attempt: PooledAttempt): void {
    const entry = attempt.entry
    entry.finished = true
    this.#detachEntry(entry)
    if (requestChannel.hasSubscribers) requestChannel.publish({ origin: this.origin, method: entry.request.method, path: entry.request.path, connectionId: attempt.rec.id, event: 'completed', status: attempt.status, timings: entry.timings } satisfies RequestEvent)
  }

  /** Deliver the request's final error (once). */
  #failEntry(entry: QueueEntry, err: WirepoolError): void {
    if (entry.finished) return
    entry.finished = true
    this.#detachEntry(entry)
    if (requestChannel.hasSubscribers) requestChannel.publish({ origin: this.origin, method: entry.request.method, path: entry.request.path, connectionId: undefined, event: 'failed', error: err, timings: entry.timings } satisfies RequestEvent)
    deliverError(entry.handler, err)
  }

  /** A finished request lets go of its backoff timer and its abort listener. */
  #detachEntry(entry: QueueEntry): void {
    if (entry.retryTimer !== undefined) {
      clearTimeout(entry.retryTimer)
      entry.retryTimer = undefined
    }
    this.#backingOff.delete(entry)
    if (entry.deadline !== undefined) {
      clearTimeout(entry.deadline)
      entry.deadline = undefined
    }
    if (entry.onAbort !== undefined && entry.signal !== undefined) {
      entry.signal.removeEventListener('abort', entry.onAbort)
      entry.onAbort = undefined
    }
  }

  #abortEntry(entry: QueueEntry): void {
    if (entry.finished) return
    this.#cancelEntry(entry, new AbortedError('request aborted', { cause: entry.signal?.reason, origin: this.origin }))
  }

  /** End a request early (its signal aborted, its `timeout` elapsed), wherever it is. */
  #cancelEntry(entry: QueueEntry, err: WirepoolError): void {
    if (entry.finished) return
    if (!entry.dispatched) {
      this.#queue.remove(entry)
      // (an entry backing off is dropped from #backingOff by #failEntry)
      this.#failEntry(entry, err)
      this.#maybeFinishClose()
      return
    }
    // The connection owns the request now: its abort fails it through onError.
    entry.abort?.(err)
  }
}
