/**
 * Which connection takes a request: pure functions over the pool's records (no socket, no
 * timer, no pool), unit-tested in test/pool/selection-rules.test.ts.
 *
 * A keyed request goes to its bound connection (waiting for it while it is busy); otherwise
 * the healthiest idle connection, most recently used first, so rarely used ones age out
 * (RFC 9112 §9.3); then the least loaded HTTP/2 connection with room; then, with pipelining
 * and no connection left to open, the least loaded HTTP/1.1 one.
 */
import type { DispatchRequest } from '../dispatch.js'
import type { LinkedList } from '../linked-list.js'
import { certificateCovers } from '../tls/connect.js'
import { HEALTH_EPSILON, healthScore } from './health.js'
import { takesRequests, type ConnectionRecord, type IdleRecord, type OpenRecord } from './lifecycle.js'

/** What selection reads of a pool. */
export interface RecordView {
  readonly records: ReadonlySet<ConnectionRecord>
  /** Idle connections, most recently used last. */
  readonly idle: LinkedList<IdleRecord>
}

/**
 * The connection for `request`, or undefined when it has to wait.
 *
 * @param freshAfter set for a retry after a stale-socket failure (QueueEntry#freshAfter)
 * @param bound the connection the request's affinity key is bound to, if any
 * @param shareBusy the origin speaks HTTP/2: busy multiplexed connections may take more streams
 * @param pipeline pipelining is on and no new connection may be opened
 */
export function pickConnection(view: RecordView, request: DispatchRequest, freshAfter: number | undefined, bound: ConnectionRecord | undefined, shareBusy: boolean, pipeline: boolean, now: number): OpenRecord | undefined {
  if (request.upgrade !== undefined) return pickForUpgrade(view)
  // A retry after a stale-socket failure must not land on another possibly stale socket.
  if (freshAfter !== undefined) return pickFresh(view, freshAfter, shareBusy)
  if (bound !== undefined) return takesRequests(bound) && bound.conn.capacity > 0 ? bound : undefined
  const idle = view.idle
  let bestIdle: IdleRecord | undefined
  let bestIdleHealth = -1
  for (let rec = idle.last; rec !== undefined; rec = rec.listPrev) {
    const conn = rec.conn
    if (conn.capacity === 0) continue
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
  let bestShared: OpenRecord | undefined
  let bestSharedCost = Infinity
  let bestSharedHealth = 0
  // (only an origin that speaks HTTP/2 has any: an HTTP/1.1 pool of 10,000 busy
  // connections must not walk them all for every queued request)
  if (shareBusy) for (const rec of view.records) {
    if (rec.state !== 'busy') continue
    const conn = rec.conn
    if (!conn.multiplexed || conn.capacity === 0) continue
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
  if (pipeline && request.idempotent) return pickPipelined(view.records)
  return undefined
}

/**
 * A connection for a retry after a stale-socket failure: one that cannot be of the stale
 * generation — it has carried no request yet, or it was made after the failure (its id is
 * above `freshAfter`). An idle one first, most recently used first; then, on an origin that
 * speaks HTTP/2, the least loaded busy multiplexed one with room.
 *
 * "Made after the failure", not only "never used" (issue #18): when an HTTP/2 connection
 * closes under many streams, every one of them is retried, and all of them belong on the one
 * new connection (RFC 9113 §9.1). With "never used" only the first retry could take it; the
 * others waited for a connection that had carried nothing — one that only an idle timeout
 * could make room for under the `connections` limit (never, with keepAliveTimeout 0).
 */
export function pickFresh(view: RecordView, freshAfter: number, shareBusy: boolean): OpenRecord | undefined {
  for (let rec = view.idle.last; rec !== undefined; rec = rec.listPrev) {
    if ((rec.requests === 0 || rec.id > freshAfter) && rec.conn.capacity > 0) return rec
  }
  if (!shareBusy) return undefined
  let best: OpenRecord | undefined
  for (const rec of view.records) {
    if (rec.state !== 'busy' || rec.id <= freshAfter) continue
    const conn = rec.conn
    if (!conn.multiplexed || conn.capacity === 0) continue
    if (best === undefined || conn.inFlight < best.conn.inFlight) best = rec
  }
  return best
}

/** The busy (or held) connection with room and the fewest requests in flight. */
export function pickPipelined(records: ReadonlySet<ConnectionRecord>): OpenRecord | undefined {
  let best: OpenRecord | undefined
  for (const rec of records) {
    if ((rec.state !== 'busy' && rec.state !== 'held') || rec.conn.capacity === 0) continue
    if (best === undefined || rec.conn.inFlight < best.conn.inFlight) best = rec
  }
  return best
}

/**
 * An upgrade (WebSocket) goes as a stream on an HTTP/2 connection whose peer enabled
 * extended CONNECT (RFC 8441), the least loaded first; else on an idle HTTP/1.1 connection
 * (RFC 9110 §7.8: the socket is handed over, so it must carry nothing else).
 */
export function pickForUpgrade(view: RecordView): OpenRecord | undefined {
  let best: OpenRecord | undefined
  for (const rec of view.records) {
    if (!takesRequests(rec)) continue
    const conn = rec.conn
    if (!conn.extendedConnect || conn.capacity === 0) continue
    if (best === undefined || conn.inFlight < best.conn.inFlight) best = rec
  }
  if (best !== undefined) return best
  for (let rec = view.idle.last; rec !== undefined; rec = rec.listPrev) {
    if (!rec.conn.multiplexed && rec.conn.capacity > 0) return rec
  }
  return undefined
}

/** A live HTTP/2 connection takes upgrades as streams (it may be full right now). */
export function anyExtendedConnect(records: ReadonlySet<ConnectionRecord>): boolean {
  for (const rec of records) if (rec.state !== 'draining' && rec.conn?.extendedConnect === true) return true
  return false
}

/**
 * Coalescing (RFC 9113 §9.1.1): the least loaded HTTP/2 connection with room right now that
 * reached one of `addresses` and holds a certificate valid for `hostname`.
 */
export function pickCarrier(records: ReadonlySet<ConnectionRecord>, hostname: string, addresses: ReadonlySet<string>): OpenRecord | undefined {
  let carrier: OpenRecord | undefined
  for (const rec of records) {
    if (!takesRequests(rec)) continue
    const conn = rec.conn
    if (!conn.multiplexed || conn.capacity === 0) continue
    if (rec.remoteAddress === undefined || !addresses.has(rec.remoteAddress)) continue
    if (rec.certificate === null || !certificateCovers(rec.certificate, hostname)) continue
    if (carrier === undefined || conn.inFlight < carrier.conn.inFlight) carrier = rec
  }
  return carrier
}

/** Records whose connection is established (handshaking included) and not closed. */
export function countEstablished(records: ReadonlySet<ConnectionRecord>): number {
  let established = 0
  for (const rec of records) if (rec.conn !== undefined && rec.state !== 'closed') established++
  return established
}
