import t from 'tap'
import { createRequire } from 'node:module'
import { Histogram } from '../../src/cli/histogram.js'
import { decodeCompressedBase64, encodeCompressedBase64 } from '../../src/cli/hdr-encoding.js'

// hdr-histogram-js (a dev dependency) is the oracle: HdrHistogram's own TypeScript port.
const require = createRequire(import.meta.url)
const hdr = require('hdr-histogram-js') as {
  decodeFromCompressedBase64(text: string, bitBucketSize?: number): OracleHistogram
  encodeIntoCompressedBase64(h: OracleHistogram): string
  build(options: { lowestDiscernibleValue: number; highestTrackableValue: number; numberOfSignificantValueDigits: number; bitBucketSize?: number | 'packed' }): OracleHistogram
}
interface OracleHistogram {
  totalCount: number
  maxValue: number
  minNonZeroValue: number
  getValueAtPercentile(p: number): number
  recordValueWithCount(value: number, count: number): void
  recordValue(value: number): void
}

/** Latency-like data: a body around 300 µs, a tail to seconds, zeros and exact small values. */
function sample(): number[] {
  const values: number[] = [0, 1, 2, 255, 256, 257, 1_000_000, 3_600_000_000]
  let x = 12345
  for (let i = 0; i < 5000; i++) {
    x = (x * 1103515245 + 12345) % 2 ** 31
    const u = x / 2 ** 31
    values.push(Math.round(200 + 300 * u + (u > 0.98 ? 2_000_000 * (u - 0.98) * 50 : 0)))
  }
  return values
}

t.test('hdr-histogram-js decodes our encoding to the same counts and percentiles', async (t) => {
  const ours = new Histogram()
  for (const v of sample()) ours.record(v)
  const text = encodeCompressedBase64(ours.snapshot())
  t.match(text, /^HISTF/, 'the compressed V2 cookie 0x1c849314 base64-encodes to HISTF…')
  const decoded = hdr.decodeFromCompressedBase64(text, 64)
  t.equal(decoded.totalCount, ours.count)
  for (const p of [0.1, 1, 25, 50, 75, 90, 99, 99.9, 99.99, 100]) {
    // Both report a bucket's highest equivalent value; ours is capped by the exact max.
    t.equal(Math.min(decoded.getValueAtPercentile(p), ours.max), ours.percentile(p), `p${p}`)
  }
})

t.test('we decode what hdr-histogram-js encodes, in our layout and in a finer one', async (t) => {
  const values = sample()
  for (const digits of [2, 3]) {
    const theirs = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 2 ** 40 - 1, numberOfSignificantValueDigits: digits, bitBucketSize: 64 })
    const ours = new Histogram()
    for (const v of values) {
      theirs.recordValue(v)
      ours.record(v)
    }
    const decoded = Histogram.from(decodeCompressedBase64(hdr.encodeIntoCompressedBase64(theirs)))
    t.equal(decoded.count, values.length, `${digits} digits: count`)
    for (const p of [1, 50, 90, 99, 99.9]) {
      const a = decoded.percentile(p)
      const b = ours.percentile(p)
      t.ok(Math.abs(a - b) <= Math.max(1, b / 100), `${digits} digits: p${p} ${a} vs ${b}`)
    }
    if (digits === 2) t.same(decoded.snapshot().buckets, ours.snapshot().buckets, 'same layout: the same buckets')
  }
})

t.test('round trip through our own decoder, empty histogram included', async (t) => {
  const ours = new Histogram()
  for (const v of sample()) ours.record(v)
  t.same(decodeCompressedBase64(encodeCompressedBase64(ours.snapshot())).buckets, ours.snapshot().buckets)
  const empty = decodeCompressedBase64(encodeCompressedBase64(new Histogram().snapshot()))
  t.equal(empty.count, 0)
  t.equal(hdr.decodeFromCompressedBase64(encodeCompressedBase64(new Histogram().snapshot())).totalCount, 0)
  t.throws(() => decodeCompressedBase64('aGVsbG8gd29ybGQ='), /not an HdrHistogram/)
})
