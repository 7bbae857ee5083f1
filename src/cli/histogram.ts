/**
 * An HDR-style latency histogram (after Gil Tene's HdrHistogram): log-linear buckets, so
 * every recorded value keeps about two significant digits whatever its magnitude, in a fixed
 * few kilobytes. Values are integers (the bench records microseconds). Histograms merge by
 * adding counts, which is how worker threads' results are combined.
 */

/** 2^SUB_BITS buckets per power of two: the relative error of a bucket is below 2^-SUB_BITS (0.8 %). */
const SUB_BITS = 7
const SUB_COUNT = 1 << SUB_BITS
/** Values below this are stored exactly, one bucket each. */
const LINEAR_LIMIT = 2 * SUB_COUNT
/** Largest value kept apart: 2^40 µs is about 12.7 days; anything above lands in the top bucket. */
const MAX_EXPONENT = 40 - SUB_BITS - 1
export const BUCKETS = LINEAR_LIMIT + MAX_EXPONENT * SUB_COUNT
/**
 * The same layout as HdrHistogram's for 2 significant digits, a lowest discernible value of 1
 * and a highest trackable value of 2^40 − 1 (sub-bucket count 256, 33 buckets): the counts
 * array is HdrHistogram's, index for index, so hdr-encoding.ts writes it in the standard format.
 */
export const SIGNIFICANT_DIGITS = 2
export const HIGHEST_TRACKABLE = 2 ** 40 - 1

/** The bucket a non-negative integer value falls in. */
export function bucketIndex(value: number): number {
  if (value < LINEAR_LIMIT) return value
  // value lies in [2^(SUB_BITS + e), 2^(SUB_BITS + 1 + e)): keep its top SUB_BITS + 1 bits.
  const e = Math.min(Math.floor(Math.log2(value)) - SUB_BITS, MAX_EXPONENT)
  const sub = Math.min(Math.floor(value / 2 ** e), LINEAR_LIMIT - 1)
  return LINEAR_LIMIT + (e - 1) * SUB_COUNT + (sub - SUB_COUNT)
}

/** The largest value that maps to bucket `index` (HdrHistogram's "highest equivalent value"). */
export function bucketHighest(index: number): number {
  if (index < LINEAR_LIMIT) return index
  const e = Math.floor((index - LINEAR_LIMIT) / SUB_COUNT) + 1
  const sub = ((index - LINEAR_LIMIT) % SUB_COUNT) + SUB_COUNT
  return (sub + 1) * 2 ** e - 1
}

/** A histogram as plain data: what a worker thread posts to the main thread. */
export interface HistogramSnapshot {
  /** `[bucketIndex, count]` for every non-empty bucket. */
  buckets: Array<[number, number]>
  count: number
  min: number
  max: number
  sum: number
  sumSquares: number
}

export class Histogram {
  readonly #counts = new Float64Array(BUCKETS)
  #count = 0
  #min = Infinity
  #max = 0
  #sum = 0
  #sumSquares = 0

  get count(): number {
    return this.#count
  }

  /** Records one value; negatives count as 0, fractions are rounded. */
  record(value: number): void {
    const v = Math.max(0, Math.round(value))
    const index = bucketIndex(v)
    this.#counts[index] = (this.#counts[index] as number) + 1
    this.#count++
    if (v < this.#min) this.#min = v
    if (v > this.#max) this.#max = v
    this.#sum += v
    this.#sumSquares += v * v
  }

  get min(): number {
    return this.#count === 0 ? 0 : this.#min
  }

  get max(): number {
    return this.#max
  }

  get mean(): number {
    return this.#count === 0 ? 0 : this.#sum / this.#count
  }

  /** Sample standard deviation (divided by n − 1), as h2load prints `sd`. */
  get stdDev(): number {
    const n = this.#count
    if (n < 2) return 0
    const mean = this.mean
    return Math.sqrt(Math.max(0, (this.#sumSquares - n * mean * mean) / (n - 1)))
  }

  /**
   * The value at percentile `p` (0..100): the highest value of the bucket holding the
   * ceil(p% × count)-th smallest value, capped by the exact maximum.
   */
  percentile(p: number): number {
    if (this.#count === 0) return 0
    const rank = Math.max(1, Math.ceil((p / 100) * this.#count))
    let seen = 0
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.#counts[i] as number
      if (seen >= rank) return Math.min(bucketHighest(i), this.#max)
    }
    return this.#max
  }

  /** Share (0..100) of the values within [low, high], judged by bucket (as h2load's "+/- sd"). */
  percentWithin(low: number, high: number): number {
    if (this.#count === 0) return 0
    let inside = 0
    for (let i = 0; i < BUCKETS; i++) {
      const n = this.#counts[i] as number
      if (n === 0) continue
      const value = Math.min(bucketHighest(i), this.#max)
      if (value >= low && value <= high) inside += n
    }
    return (inside / this.#count) * 100
  }

  snapshot(): HistogramSnapshot {
    const buckets: Array<[number, number]> = []
    for (let i = 0; i < BUCKETS; i++) {
      const n = this.#counts[i] as number
      if (n !== 0) buckets.push([i, n])
    }
    return { buckets, count: this.#count, min: this.min, max: this.#max, sum: this.#sum, sumSquares: this.#sumSquares }
  }

  static from(snapshot: HistogramSnapshot): Histogram {
    const h = new Histogram()
    h.merge(snapshot)
    return h
  }

  /** Adds another histogram's values (a worker's snapshot) to this one. */
  merge(other: HistogramSnapshot): void {
    if (other.count === 0) return
    for (const [index, n] of other.buckets) {
      if (index >= 0 && index < BUCKETS) this.#counts[index] = (this.#counts[index] as number) + n
    }
    this.#count += other.count
    this.#min = Math.min(this.#min, other.min)
    this.#max = Math.max(this.#max, other.max)
    this.#sum += other.sum
    this.#sumSquares += other.sumSquares
  }
}
