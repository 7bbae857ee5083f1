/**
 * The connections of one pool: opens them (connector.ts), and keeps each record's state in
 * step with its connection — ready, load (idle, busy, held until the check phase),
 * retirement (idle timeout, max age, max requests) and close — through the one transition
 * function of lifecycle.ts.
 */
import { PoolClosedError, SocketClosedError, toWirepoolError, type WirepoolError } from '../errors.js'
import type { PoolConnection, Protocol } from '../dispatch.js'
import type { ResolvedPoolOptions } from '../options.js'
import type { TlsSessionCache } from '../tls/session-cache.js'
import type { PeerCertificateInfo } from '../tls/connect.js'
import { openConnection, type OpenedConnection } from './connector.js'
import type { Origin } from './origin.js'
import type { ConnectionBudget } from './budget.js'
import type { PoolFigures } from './stats.js'
import { Lifecycle, newRecord, type BusyRecord, type ConnectionRecord, type ConnectionState, type IdleRecord, type RecordState } from './lifecycle.js'
import { daysLeft, type CertificateExpiringEvent } from './events.js'

/** What the connections ask of their pool. */
export interface ConnectionsOwner {
  /** The pool was destroyed: a connection that arrives now is closed at once. */
  readonly destroyed: boolean
  /** A connection has room, or went away: hand queued requests out, open connections for them. */
  drain(): void
  /** A connect failed (the record is closed): the queued requests learn of it. */
  connectFailed(err: WirepoolError, reason: 'demand' | 'warm-up'): void
  /** A connect succeeded: the origin is reachable again (the connect-retry streak ends). */
  connected(): void
  certificateExpiring(event: CertificateExpiringEvent): void
  // (handed to the lifecycle as they are: functions that need no `this`)
  /** A connection stopped taking requests: its affinity keys go. */
  readonly unbindAffinity: (rec: ConnectionRecord) => void
  /** Publish a `connection` event. */
  readonly publish: (rec: ConnectionRecord, from: ConnectionState | undefined, to: ConnectionState, reason: string) => void
  /** A record closed (a closing pool may be done). */
  readonly recordClosed: () => void
}

export class Connections {
  readonly lifecycle: Lifecycle
  /**
   * Whether the origin's newest connection was multiplexed (undefined before the first):
   * decides how many connections a burst may open. The pool reads the capability the
   * connection contract states, never which protocol it is.
   */
  multiplexedSeen: boolean | undefined
  /** The newest leaf certificate seen (expiry figures). */
  certificate: PeerCertificateInfo | null = null
  readonly #warnedCertificates = new Set<string>()
  readonly #origin: Origin
  readonly #options: ResolvedPoolOptions
  readonly #sessionCache: TlsSessionCache | null
  readonly #figures: PoolFigures
  readonly #owner: ConnectionsOwner
  /** The Immediate that releases held connections in the check phase (see #holdUntilCheckPhase). */
  #checkPhase: NodeJS.Immediate | undefined = undefined
  /** HTTP/1.1 connections freed in this poll phase, held until the check phase. */
  #held: BusyRecord[] = []

  constructor(origin: Origin, options: ResolvedPoolOptions, sessionCache: TlsSessionCache | null, figures: PoolFigures, budget: ConnectionBudget | undefined, owner: ConnectionsOwner) {
    this.#origin = origin
    this.#options = options
    this.#sessionCache = sessionCache
    this.#figures = figures
    this.#owner = owner
    this.lifecycle = new Lifecycle(origin.origin, figures, budget, {
      armIdleTimer: (rec) => this.#armIdleTimer(rec),
      unbindAffinity: owner.unbindAffinity,
      publish: owner.publish,
      recordClosed: owner.recordClosed,
    })
  }

  /** Connections held until the check phase (they will take queued requests then). */
  get heldCount(): number {
    return this.#held.length
  }

  /** Open one connection; resolves once it is ready (idle), rejects when it could not be made. */
  open(reason: 'demand' | 'warm-up', h1Only = false): Promise<void> {
    const connecting = newRecord(h1Only)
    this.lifecycle.add(connecting, reason)
    const rec = connecting as ConnectionRecord
    const started = performance.now()
    return openConnection({
      id: rec.id,
      origin: this.#origin,
      options: this.#options,
      sessionCache: this.#origin.secure ? this.#sessionCache : null,
      signal: connecting.dial.signal,
      h1Only,
    }).then(
      (opened) => {
        this.#onConnected(rec, opened, performance.now() - started)
        if (rec.state !== 'handshaking') return undefined
        // Connected but not ready (HTTP/2 waits for the peer's SETTINGS): warm-up callers
        // get a connection that can take requests, so wait for the record to move on.
        const handshaking = rec
        return new Promise<void>((resolve, reject) => {
          handshaking.ready = { resolve, reject }
        })
      },
      (err: unknown) => {
        const error = toWirepoolError(err, this.#origin.origin)
        this.#onConnectFailed(rec, error, reason)
        throw error
      },
    )
  }

  #onConnected(rec: ConnectionRecord, opened: OpenedConnection, elapsedMs: number): void {
    const conn = opened.connection
    if (rec.state !== 'connecting' || this.#owner.destroyed) {
      conn.destroy(new PoolClosedError('pool was destroyed', { origin: this.#origin.origin }))
      return
    }
    rec.protocol = conn.protocol
    // A forced HTTP/1.1 fallback says nothing of what the origin negotiates.
    if (!rec.h1Only) this.multiplexedSeen = conn.multiplexed
    rec.tlsResumed = opened.tlsResumed
    rec.remoteAddress = opened.remoteAddress
    rec.tcpMs = opened.tcpMs
    rec.tlsMs = opened.tlsMs
    rec.connectTimings = opened.timings
    rec.certificate = opened.certificate
    this.lifecycle.transition(rec, 'handshaking', 'connected', conn)
    this.#figures.onConnected(elapsedMs, opened.tlsResumed, opened.tcpMs, opened.tlsMs)
    this.#figures.onDns(opened.dns)
    if (opened.certificate !== null) this.#checkCertificate(opened.certificate)
    const record = rec as ConnectionRecord
    conn.on('free', () => this.refreshState(record, record.state === 'handshaking' ? 'connected' : 'request-done'))
    conn.on('draining', (reason) => this.refreshState(record, reason))
    conn.on('close', (err) => this.#onConnectionClosed(record, err))
    const maxAge = this.#options.maxConnectionAge
    if (maxAge !== undefined) {
      // ±10 % jitter so that connections opened together do not all expire together.
      const jittered = maxAge * (0.9 + Math.random() * 0.2)
      rec.ageTimer = setTimeout(() => this.retire(record, 'max-age'), jittered)
      rec.ageTimer.unref()
    }
    // An HTTP/2 connection is ready once the peer's SETTINGS told its real stream limit
    // (its first `free` event); until then a burst would be sized on a guess.
    if (conn.capacityKnown) this.refreshState(record, 'connected')
  }

  #onConnectFailed(rec: ConnectionRecord, err: WirepoolError, reason: 'demand' | 'warm-up'): void {
    if (rec.state !== 'closed') this.lifecycle.transition(rec, 'closed', `connect-failed:${err.code}`)
    this.#figures.count(`connect_error:${err.code}`)
    this.#owner.connectFailed(err, reason)
  }

  /**
   * Keep the newest leaf certificate for the expiry figures, and warn (once per
   * certificate) when it expires within `certificateExpiryWarningDays`.
   */
  #checkCertificate(cert: PeerCertificateInfo): void {
    this.certificate = cert
    const left = daysLeft(cert.validTo, Date.now())
    const key = `${cert.subject} ${cert.issuer} ${cert.validTo.getTime()}`
    if (left >= this.#options.certificateExpiryWarningDays || this.#warnedCertificates.has(key)) return
    this.#warnedCertificates.add(key)
    const event: CertificateExpiringEvent = { origin: this.#origin.origin, subject: cert.subject, issuer: cert.issuer, validTo: cert.validTo, daysLeft: left }
    this.#owner.certificateExpiring(event)
  }

  #onConnectionClosed(rec: ConnectionRecord, err: WirepoolError | undefined): void {
    if (rec.state === 'closed') return
    if (rec.state === 'handshaking') {
      // It never became ready (an HTTP/2 peer that sent no SETTINGS): a failed connect.
      this.#onConnectFailed(rec, err ?? new SocketClosedError('connection closed before it was ready', { origin: this.#origin.origin, responseStarted: false }), 'demand')
      return
    }
    this.lifecycle.transition(rec, 'closed', err === undefined ? 'closed' : `error:${err.code}`)
    if (err !== undefined) this.#figures.count(`connection_error:${err.code}`)
    this.#owner.drain()
  }

  /** Put a connection in the state its load says (idle/busy/draining), after any change. */
  refreshState(rec: ConnectionRecord, reason: string, atCheckPhase = false): void {
    if (rec.state === 'connecting' || rec.state === 'closed') return
    const conn = rec.conn
    let to: RecordState
    if (conn.retired) to = 'draining'
    else if (conn.inFlight === 0) to = 'idle'
    else to = 'busy'
    if (to === 'idle' && !atCheckPhase && !conn.multiplexed && (rec.state === 'held' || (rec.state === 'busy' && reason === 'request-done'))) {
      this.#holdUntilCheckPhase(rec)
      return
    }
    if (to === 'idle' && this.#options.maxRequestsPerConnection !== undefined && rec.requests >= this.#options.maxRequestsPerConnection) {
      this.retire(rec, 'max-requests')
      return
    }
    // Ready (HTTP/2: the peer's SETTINGS came): only now is the origin known to be reachable —
    // a connection that dies before it is ready (a TLS or HTTP/2 handshake cut short) must not
    // end the connect-retry streak, or the queue would wait through endless connects.
    if (rec.state === 'handshaking' && (to === 'idle' || to === 'busy')) this.#owner.connected()
    // A connection retired because its peer stopped answering (HTTP/2 liveness, issue #18):
    // stats().errors counts it under its own key, next to the lifecycle event's reason.
    if (to === 'draining' && rec.state !== 'draining' && reason.startsWith('ping-timeout')) this.#figures.count('retired:ping-timeout')
    if (to !== rec.state) this.lifecycle.transition(rec, to, reason)
    if (to === 'idle' || to === 'busy') this.#owner.drain()
    else if (to === 'draining' && conn.inFlight === 0) void conn.close()
  }

  /**
   * An HTTP/1.1 connection that has just finished a response is held (busy to observers of
   * events, idle to figures) until the check phase, after the poll phase that delivered the
   * response, and takes requests from then on (queued ones, and those its caller sends
   * straight away in reply):
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
   * meanwhile wait for these connections rather than open new ones (Pool#growIfNeeded).
   */
  #holdUntilCheckPhase(rec: BusyRecord): void {
    if (rec.state !== 'held') {
      this.lifecycle.transition(rec, 'held', 'request-done')
      this.#held.push(rec)
    }
    if (this.#checkPhase === undefined) this.#checkPhase = setImmediate(this.#releaseHeld)
  }

  readonly #releaseHeld = (): void => {
    this.#checkPhase = undefined
    const held = this.#held
    this.#held = []
    // (a record may be listed twice, or have gone busy with a pipelined request meanwhile)
    for (const rec of held) if (rec.state === 'held') this.refreshState(rec, 'request-done', true)
    if (!this.#owner.destroyed) this.#owner.drain()
  }

  retire(rec: ConnectionRecord, reason: string): void {
    if (rec.state === 'connecting' || rec.state === 'draining' || rec.state === 'closed') return
    this.lifecycle.transition(rec, 'draining', reason)
    void rec.conn.close()
  }

  #armIdleTimer(rec: IdleRecord): void {
    const idleMs = this.#idleTimeoutFor(rec.conn)
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
    const record = rec as ConnectionRecord
    rec.idleTimer = setTimeout(() => {
      // A stale expiry (the record went busy since it was armed) changes nothing.
      if (record.state === 'idle') this.retire(record, 'idle-timeout')
    }, idleMs)
    rec.idleTimer.unref()
  }

  /** keepAliveTimeout, lowered by a server's `Keep-Alive: timeout=` hint minus a safety margin. */
  #idleTimeoutFor(conn: PoolConnection): number {
    const configured = this.#options.keepAliveTimeout
    const hint = conn.idleTimeoutHint
    if (hint === undefined) return configured
    // Close a second before the server would, so a request never races the server's close
    // (at least 1 ms: a hint never disables eviction, even when the option does).
    const hinted = Math.max(1, hint - 1000, hint / 2)
    return configured === 0 ? hinted : Math.min(configured, hinted)
  }
}
