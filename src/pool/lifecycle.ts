/**
 * The life of a pooled connection record (DESIGN.md "Connection lifecycle is explicit"):
 * one discriminated union, data that belongs to a state living in that state, and one
 * `transition` that is the only writer of `state` and refuses every move not listed here.
 *
 *   connecting ──► handshaking ──► idle ⇄ busy ──► draining ──► closed
 *                                   ▲      │
 *                                   └ held ◄┘        (any state but closed ──► closed)
 *
 * - connecting:  dialling (TCP, TLS); no connection object yet, only the dial's abort.
 * - handshaking: the protocol connection exists but cannot take requests yet (HTTP/2 waits
 *                for the peer's SETTINGS, RFC 9113 §3.4); `ready` is the warm-up's promise.
 * - idle, busy:  takes requests; on the idle list while idle.
 * - held:        an HTTP/1.1 connection whose response just ended, kept from the idle list
 *                until the check phase (see Connections#holdUntilCheckPhase).
 * - draining:    takes no new requests; `retireReason` says what retired it.
 *
 * Observers see the public `ConnectionState`: handshaking is reported as connecting, held as
 * busy in events (it was never idle for them until the check phase) and as idle in figures
 * (its response is complete). A move between two states reported alike publishes nothing.
 */
import { SocketClosedError } from '../errors.js'
import { illegalTransition } from '../state-machine.js'
import type { PoolConnection, Protocol } from '../dispatch.js'
import type { PeerCertificateInfo } from '../tls/connect.js'
import type { ConnectTimings } from '../timings.js'
import { LinkedList, type ListNode } from '../linked-list.js'
import type { HealthRecord } from './health.js'
import type { ConnectionBudget } from './budget.js'
import type { PoolFigures } from './stats.js'

/** What `stats()`, `connections()` and the `connection` events report. */
export type ConnectionState = 'connecting' | 'idle' | 'busy' | 'draining' | 'closed'

/** The record's own states (see the diagram above). */
export type RecordState = 'connecting' | 'handshaking' | 'idle' | 'busy' | 'held' | 'draining' | 'closed'

const BIT = { connecting: 1, handshaking: 2, idle: 4, busy: 8, held: 16, draining: 32, closed: 64 } as const satisfies Record<RecordState, number>

/** The moves `transition` accepts: from → the states it may go to. */
const NEXT = {
  connecting: BIT.handshaking | BIT.closed,
  // (no busy: nothing is dispatched before the connection is ready)
  handshaking: BIT.idle | BIT.draining | BIT.closed,
  idle: BIT.busy | BIT.draining | BIT.closed,
  busy: BIT.idle | BIT.held | BIT.draining | BIT.closed,
  // busy again: a pipelined request (RFC 9112 §9.3.2) may go on it meanwhile.
  held: BIT.idle | BIT.busy | BIT.draining | BIT.closed,
  draining: BIT.closed,
  closed: 0,
} as const satisfies Record<RecordState, number>

/** How events report each state. */
const REPORTED = {
  connecting: 'connecting',
  handshaking: 'connecting',
  idle: 'idle',
  busy: 'busy',
  held: 'busy',
  draining: 'draining',
  closed: 'closed',
} as const satisfies Record<RecordState, ConnectionState>

/** What every record carries, whatever its state. */
interface RecordBase extends HealthRecord {
  readonly id: number
  readonly createdAt: number
  /** Opened HTTP/1.1-only for an upgrade the origin's HTTP/2 connections cannot carry. */
  readonly h1Only: boolean
  lastUsedAt: number
  /** Requests dispatched on this connection. */
  requests: number
  /** What the connect found out (undefined / null / 0 until connected). */
  protocol: Protocol | undefined
  tlsResumed: boolean | null
  remoteAddress: string | undefined
  tcpMs: number
  tlsMs: number
  /** When its connect phases ended (its first request reports them); undefined until connected. */
  connectTimings: ConnectTimings | undefined
  certificate: PeerCertificateInfo | null
  /**
   * Armed (or refresh()ed, no allocation) each time the record goes idle; left running when
   * it goes busy, its expiry then being ignored — one Timeout per connection, not one per
   * request.
   */
  idleTimer: NodeJS.Timeout | undefined
  idleTimerMs: number
  ageTimer: NodeJS.Timeout | undefined
  /** Affinity keys bound to this connection (unbound when it stops taking requests). */
  affinityKeys: Set<string> | undefined
}

/** Resolves or rejects the warm-up's wait once a handshaking record moves on. */
export interface ReadyWaiter {
  resolve: () => void
  reject: (err: Error) => void
}

export interface ConnectingRecord extends RecordBase {
  readonly state: 'connecting'
  readonly conn: undefined
  /** Aborts the dial (pool destroyed or closing). */
  readonly dial: AbortController
  readonly ready: undefined
  readonly retireReason: undefined
}

export interface HandshakingRecord extends RecordBase {
  readonly state: 'handshaking'
  readonly conn: PoolConnection
  readonly dial: undefined
  ready: ReadyWaiter | undefined
  readonly retireReason: undefined
}

/** Only an idle record is on the idle list: the list's links are its own. */
export interface IdleRecord extends RecordBase, ListNode<IdleRecord> {
  readonly state: 'idle'
  readonly conn: PoolConnection
  readonly dial: undefined
  readonly ready: undefined
  readonly retireReason: undefined
}

/** Busy, or held until the check phase. */
export interface BusyRecord extends RecordBase {
  readonly state: 'busy' | 'held'
  readonly conn: PoolConnection
  readonly dial: undefined
  readonly ready: undefined
  readonly retireReason: undefined
}

/** The states a connection takes requests in. */
export type OpenRecord = IdleRecord | BusyRecord

export interface DrainingRecord extends RecordBase {
  readonly state: 'draining'
  readonly conn: PoolConnection
  readonly dial: undefined
  readonly ready: undefined
  /** What retired it, for the closed-by-reason figures. */
  readonly retireReason: string
}

export interface ClosedRecord extends RecordBase {
  readonly state: 'closed'
  readonly conn: PoolConnection | undefined
  readonly dial: undefined
  readonly ready: undefined
  readonly retireReason: string | undefined
}

export type ConnectionRecord = ConnectingRecord | HandshakingRecord | OpenRecord | DrainingRecord | ClosedRecord

/** The physical record: every field of every state (one object shape for V8), writable here only. */
type RecordSlots = RecordBase & ListNode<IdleRecord> & {
  state: RecordState
  conn: PoolConnection | undefined
  dial: AbortController | undefined
  ready: ReadyWaiter | undefined
  retireReason: string | undefined
}

let nextConnectionId = 1

/** The id of the newest record made so far (ids only grow: a record with a higher id was made after this call). */
export function newestConnectionId(): number {
  return nextConnectionId - 1
}

export function newRecord(h1Only: boolean, now = Date.now()): ConnectingRecord {
  const rec: RecordSlots = {
    id: nextConnectionId++,
    state: 'connecting',
    createdAt: now,
    h1Only,
    lastUsedAt: now,
    requests: 0,
    protocol: undefined,
    tlsResumed: null,
    remoteAddress: undefined,
    tcpMs: 0,
    tlsMs: 0,
    connectTimings: undefined,
    certificate: null,
    idleTimer: undefined,
    idleTimerMs: 0,
    ageTimer: undefined,
    affinityKeys: undefined,
    conn: undefined,
    dial: new AbortController(),
    ready: undefined,
    retireReason: undefined,
    listPrev: undefined,
    listNext: undefined,
    list: undefined,
    errorWeight: 0,
    errorAt: 0,
  }
  return rec as unknown as ConnectingRecord
}

/** How figures (`stats()`, `connections()`) report a record: a held one's response is complete. */
export function observedState(rec: ConnectionRecord): ConnectionState {
  if (rec.state === 'held') return rec.conn.inFlight === 0 ? 'idle' : 'busy'
  return REPORTED[rec.state]
}

/** A function, not an inline test, so TypeScript keeps no earlier narrowing of `state`. */
export function isClosed(rec: ConnectionRecord): boolean {
  return rec.state === 'closed'
}

/** True for the states a connection takes requests in. */
export function takesRequests(rec: ConnectionRecord): rec is OpenRecord {
  return rec.state === 'idle' || rec.state === 'busy' || rec.state === 'held'
}

/** What the lifecycle asks of its pool. */
export interface LifecycleOwner {
  /** The record went idle: (re)arm its idle timer. */
  armIdleTimer(rec: IdleRecord): void
  /** The record stopped taking requests: its affinity keys go. */
  unbindAffinity(rec: ConnectionRecord): void
  /** Publish a `connection` event (only for a move observers can see). */
  publish(rec: ConnectionRecord, from: ConnectionState | undefined, to: ConnectionState, reason: string): void
  /** A record closed (a closing pool may be done). */
  recordClosed(): void
}

/**
 * The records of one pool, the idle list, the counts `connections` bounds, and the one
 * transition function: state, idle list, timers, figures and the published event all change
 * here and nowhere else.
 */
export class Lifecycle {
  readonly records = new Set<ConnectionRecord>()
  /** Idle connections, most recently used last (HTTP/1.1 reuses the warmest socket first). */
  readonly idle = new LinkedList<IdleRecord>()
  /** Records neither draining nor closed (connecting included): what `connections` bounds. */
  live = 0
  /** Records connecting or handshaking. */
  connecting = 0
  readonly #origin: string
  readonly #figures: PoolFigures
  readonly #budget: ConnectionBudget | undefined
  readonly #owner: LifecycleOwner

  constructor(origin: string, figures: PoolFigures, budget: ConnectionBudget | undefined, owner: LifecycleOwner) {
    this.#origin = origin
    this.#figures = figures
    this.#budget = budget
    this.#owner = owner
  }

  /** A new record enters, connecting. */
  add(rec: ConnectingRecord, reason: string): void {
    this.records.add(rec)
    this.live++
    this.connecting++
    this.#figures.connectionsCreated++
    this.#owner.publish(rec, undefined, 'connecting', reason)
  }

  /**
   * The one transition function. `conn` is the connection a record leaving `connecting`
   * goes on with (required then, ignored otherwise).
   */
  transition(record: ConnectionRecord, to: RecordState, reason: string, conn?: PoolConnection): void {
    const rec = record as unknown as RecordSlots
    const from = rec.state
    if ((NEXT[from] & BIT[to]) === 0 || (from === 'connecting' && to !== 'closed' && conn === undefined)) {
      this.#illegal(record, from, to, reason)
      return
    }
    rec.state = to
    if (from === 'connecting') {
      rec.dial = undefined
      if (conn !== undefined) rec.conn = conn
    }
    if ((from === 'connecting' || from === 'handshaking') && to !== 'handshaking') this.connecting--
    if (from === 'handshaking' && rec.ready !== undefined) {
      const ready = rec.ready
      rec.ready = undefined
      if (to === 'closed') ready.reject(new SocketClosedError(`connection closed before it was ready (${reason})`, { origin: this.#origin, responseStarted: false }))
      else ready.resolve()
    }
    if (from !== 'draining' && (to === 'draining' || to === 'closed')) {
      this.live--
      this.#owner.unbindAffinity(record)
    }
    if (from === 'idle') {
      this.idle.remove(rec as unknown as IdleRecord)
      // Requests in flight keep the process alive; an idle socket does not (see below). Any
      // way out of idle but closing may carry one: busy, or draining when the request just
      // dispatched was the connection's last (maxRequestsPerConnection).
      if (to !== 'closed') (rec.conn as PoolConnection).setKeepsProcessAlive(true)
    }
    if (to === 'idle') {
      // An idle pooled socket never holds the event loop open (its timers are unref'd too):
      // the process exits when the user's work is done, whatever keepAliveTimeout says.
      const conn = rec.conn as PoolConnection
      conn.setKeepsProcessAlive(false)
      this.idle.push(rec as unknown as IdleRecord)
      this.#budget?.idleAvailable()
      this.#owner.armIdleTimer(rec as unknown as IdleRecord)
    }
    if (to === 'draining') rec.retireReason = reason
    if (to === 'closed') {
      const why = rec.retireReason ?? reason
      this.#figures.closedByReason[why] = (this.#figures.closedByReason[why] ?? 0) + 1
      if (rec.ageTimer !== undefined) clearTimeout(rec.ageTimer)
      if (rec.idleTimer !== undefined) clearTimeout(rec.idleTimer)
      this.records.delete(record)
      this.#figures.connectionsClosed++
      this.#budget?.release()
    }
    const reportedFrom = REPORTED[from]
    const reportedTo = REPORTED[to]
    if (reportedFrom !== reportedTo) this.#owner.publish(record, reportedFrom, reportedTo, reason)
    if (to === 'closed') this.#owner.recordClosed()
  }

  /**
   * A move the table does not list: a bug in the pool (src/state-machine.ts). Tests fail on
   * it where it happens; in production the connection is failed with it (its requests get the
   * error, the record closes through its close event) rather than left in a state nobody
   * planned for.
   */
  #illegal(rec: ConnectionRecord, from: RecordState, to: RecordState, reason: string): void {
    const err = illegalTransition(`pool connection ${rec.id}`, from, `${to} (${reason})`, { origin: this.#origin })
    this.#figures.count('internal_error:illegal_transition')
    if (rec.state === 'connecting') {
      rec.dial.abort(err)
      this.transition(rec, 'closed', 'internal-error')
    } else if (rec.conn !== undefined && rec.state !== 'closed') {
      rec.conn.destroy(err)
    }
  }
}
