/**
 * A fixed-bucket latency histogram: constant memory whatever the traffic, cheap to record
 * (one binary search over 32 bounds), exposable as a Prometheus histogram, and able to
 * estimate percentiles. Bounds are in milliseconds.
 */

/** Upper bounds (ms) of the buckets: roughly ×2 steps from 50 µs to 2 minutes. */
export const LATENCY_BUCKETS_MS: readonly number[] = [
  0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 120000,
]

export interface PercentileSummary {
  p50: number
  p99: number
  max: number
}

export class Histogram {
  readonly bounds: readonly number[]
  /** counts[i] = samples ≤ bounds[i] and > bounds[i-1]; the last slot counts samples above every bound. */
  readonly counts: Float64Array
  count = 0
  sum = 0
  max = 0

  constructor(bounds: readonly number[] = LATENCY_BUCKETS_MS) {
    this.bounds = bounds
    this.counts = new Float64Array(bounds.length + 1)
  }

  record(value: number): void {
    if (!(value >= 0)) value = 0
    const bounds = this.bounds
    let lo = 0
    let hi = bounds.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (value <= (bounds[mid] as number)) hi = mid
      else lo = mid + 1
    }
    this.counts[lo] = (this.counts[lo] as number) + 1
    this.count++
    this.sum += value
    if (value > this.max) this.max = value
  }

  /**
   * Estimate the q-quantile (0..1) by linear interpolation inside the bucket that holds it,
   * clamped to the largest value actually seen.
   */
  quantile(q: number): number {
    if (this.count === 0) return 0
    const rank = q * this.count
    let seen = 0
    for (let i = 0; i < this.counts.length; i++) {
      const inBucket = this.counts[i] as number
      if (inBucket === 0) continue
      if (seen + inBucket >= rank) {
        const lower = i === 0 ? 0 : (this.bounds[i - 1] as number)
        const upper = i < this.bounds.length ? (this.bounds[i] as number) : this.max
        const estimate = lower + ((upper - lower) * (rank - seen)) / inBucket
        return Math.min(estimate, this.max)
      }
      seen += inBucket
    }
    return this.max
  }

  summary(): PercentileSummary {
    return { p50: round3(this.quantile(0.5)), p99: round3(this.quantile(0.99)), max: round3(this.max) }
  }
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000
}
