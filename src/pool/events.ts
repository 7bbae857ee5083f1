/**
 * What a pool tells its listeners (`pool.on(…)`, re-emitted by its Agent) and the
 * `wirepool:connection` / `wirepool:request` diagnostics channels, and what
 * `pool.connections()` reports of each record.
 */
import diagnosticsChannel from 'node:diagnostics_channel'
import type { Protocol } from '../dispatch.js'
import type { ConnectionCounts } from './stats.js'
import type { WirepoolError } from '../errors.js'
import type { RequestTimings } from '../timings.js'
import { decayedErrors, healthScore } from './health.js'
import { observedState, type ConnectionRecord, type ConnectionState } from './lifecycle.js'

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
  /** The proxy the connection goes through (URL without credentials); absent when direct. */
  proxy?: string
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
  /**
   * The request's timings (the same live object as `res.timings`): on `completed`, with
   * `end` set (undefined after an upgrade); on `failed`, as far as the request got
   * (undefined when it never reached a connection).
   */
  timings?: RequestTimings | undefined
}

/** A connection's certificate expires within `certificateExpiryWarningDays`. */
export interface CertificateExpiringEvent {
  origin: string
  subject: string
  issuer: string
  validTo: Date
  daysLeft: number
}

export interface PoolEvents {
  connection: [ConnectionEvent]
  retry: [RetryEvent]
  'certificate-expiring': [CertificateExpiringEvent]
}

export const connectionChannel = diagnosticsChannel.channel('wirepool:connection')
export const requestChannel = diagnosticsChannel.channel('wirepool:request')

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

const DAY_MS = 86_400_000

/** Whole and fractional days from `now` until `validTo` (negative once expired). */
export function daysLeft(validTo: Date, now: number): number {
  return Math.round(((validTo.getTime() - now) / DAY_MS) * 100) / 100
}

export function snapshotOf(rec: ConnectionRecord, origin: string, now: number): ConnectionSnapshot {
  return {
    id: rec.id,
    origin,
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
  }
}

/** What `stats()` counts over the records: states as observed, protocols, streams, PING RTT. */
export function tallyRecords(records: Iterable<ConnectionRecord>): { counts: ConnectionCounts; protocols: Record<string, number>; streamsOpen: number; pingRttMs: number | null } {
  const counts = { connecting: 0, idle: 0, busy: 0, draining: 0, total: 0 }
  const protocols: Record<string, number> = { 'http/1.1': 0, h2: 0 }
  let streamsOpen = 0
  let rttSum = 0
  let rttCount = 0
  for (const rec of records) {
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
  return { counts, protocols, streamsOpen, pingRttMs: rttCount === 0 ? null : Math.round((rttSum / rttCount) * 1000) / 1000 }
}
