/**
 * A connection's health score, between 0 and 1, from what the pool saw of it: errors of
 * the requests it carried (decaying, so a connection recovers from a bad minute) and, for
 * HTTP/2, its PING round-trip time. Selection prefers healthier connections; 1 is a
 * connection with no recent error and a fast PING.
 */

/** An error's weight halves every this many ms. */
export const ERROR_HALF_LIFE_MS = 30_000
/** A PING RTT this long halves the score (loopback and LAN RTTs barely move it). */
export const RTT_HALVING_MS = 100
/** Scores closer than this count as equal, so that MRU / least-loaded order decides. */
export const HEALTH_EPSILON = 0.1

export interface HealthRecord {
  /** Decayed error weight as of `errorAt`. */
  errorWeight: number
  errorAt: number
}

export function decayedErrors(rec: HealthRecord, now: number): number {
  if (rec.errorWeight === 0) return 0
  return rec.errorWeight * 2 ** (-(now - rec.errorAt) / ERROR_HALF_LIFE_MS)
}

/** Count one more error on the connection (a failed request, a reset stream, a timeout). */
export function recordError(rec: HealthRecord, now: number): void {
  rec.errorWeight = decayedErrors(rec, now) + 1
  rec.errorAt = now
}

export function healthScore(rec: HealthRecord, rttMs: number | undefined, now: number): number {
  const errors = decayedErrors(rec, now)
  const rttFactor = rttMs === undefined ? 1 : 1 / (1 + rttMs / RTT_HALVING_MS)
  return rttFactor / (1 + errors)
}
