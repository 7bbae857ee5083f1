import t from 'tap'
import { Histogram, bucketHighest, bucketIndex } from '../../src/cli/histogram.js'

t.test('values below 256 have a bucket each; above, buckets keep 7 bits of precision', async (t) => {
  for (const v of [0, 1, 100, 255]) {
    t.equal(bucketIndex(v), v)
    t.equal(bucketHighest(v), v)
  }
  t.equal(bucketIndex(256), bucketIndex(257), '256 and 257 share a bucket')
  t.not(bucketIndex(257), bucketIndex(258))
  t.equal(bucketHighest(bucketIndex(256)), 257)
  let previous = -1
  for (let v = 0; v < 5_000_000; v = Math.floor(v * 1.37) + 1) {
    const i = bucketIndex(v)
    t.ok(i >= previous, `index grows with the value (${v})`)
    previous = i
    const high = bucketHighest(i)
    t.ok(high >= v && (high - v) / Math.max(v, 1) < 1 / 128 + 1e-9, `bucket of ${v} ends at ${high}, within 1/128`)
  }
  t.ok(bucketIndex(2 ** 52) < 10_000, 'huge values land in the last bucket instead of past the end')
})

t.test('percentiles, mean, sd and +/- sd of known data', async (t) => {
  const h = new Histogram()
  t.equal(h.percentile(50), 0, 'empty histogram')
  t.equal(h.mean, 0)
  t.equal(h.stdDev, 0)
  t.equal(h.min, 0)
  t.equal(h.percentWithin(0, 1), 0)
  for (let v = 1; v <= 1000; v++) h.record(v)
  t.equal(h.count, 1000)
  t.equal(h.min, 1)
  t.equal(h.max, 1000)
  t.equal(h.mean, 500.5)
  t.ok(Math.abs(h.stdDev - 288.8194) < 0.01, `sd ${h.stdDev}`)
  const p50 = h.percentile(50)
  t.ok(p50 >= 500 && p50 <= 504, `p50 ${p50}`)
  const p99 = h.percentile(99)
  t.ok(p99 >= 990 && p99 <= 998, `p99 ${p99}`)
  t.equal(h.percentile(100), 1000, 'capped at the exact max')
  t.equal(h.percentile(99.9), 1000)
  const within = h.percentWithin(h.mean - h.stdDev, h.mean + h.stdDev)
  t.ok(within > 57 && within < 59, `uniform data: about 57.7 % within 1 sd, got ${within}`)
  h.record(-5)
  t.equal(h.min, 0, 'negatives count as 0')
})

t.test('snapshots merge into the same figures as one histogram', async (t) => {
  const all = new Histogram()
  const a = new Histogram()
  const b = new Histogram()
  for (let i = 0; i < 500; i++) {
    const v = (i * 7919) % 100_000
    all.record(v)
    ;(i % 2 === 0 ? a : b).record(v)
  }
  const merged = new Histogram()
  merged.merge(a.snapshot())
  merged.merge(b.snapshot())
  merged.merge(new Histogram().snapshot())
  t.same(merged.snapshot(), all.snapshot())
  t.equal(merged.percentile(90), all.percentile(90))
})
