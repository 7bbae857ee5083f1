/**
 * HdrHistogram's standard compressed encoding ("V2", as HdrHistogram's Java
 * `encodeIntoCompressedByteBuffer` writes it and every HdrHistogram port reads it), base64ed:
 *
 *   compressed:   int32 cookie 0x1c849314 | int32 length N | N bytes of zlib DEFLATE of ↓
 *   uncompressed: int32 cookie 0x1c849313 | int32 payload length | int32 normalizingIndexOffset
 *                 | int32 significant digits | int64 lowest discernible value
 *                 | int64 highest trackable value | float64 integer-to-double ratio
 *                 | payload: the counts array up to the max value's index, each count a
 *                   ZigZag LEB128-64b9B varint, a run of n > 1 zero counts written as −n
 *
 * All integers big-endian. Our Histogram (histogram.ts) has HdrHistogram's own bucket layout
 * for 2 significant digits and a lowest discernible value of 1, so its counts array is written
 * index for index. A foreign histogram with another layout is read by value (each count goes
 * to the bucket of its index's lowest value), so runs of other HdrHistogram tools merge too.
 * `hdr-histogram-js` is the test oracle (test/cli/hdr-encoding.test.ts); nothing here uses it.
 */
import { deflateSync, inflateSync } from 'node:zlib'
import { BUCKETS, HIGHEST_TRACKABLE, SIGNIFICANT_DIGITS, bucketIndex, type HistogramSnapshot } from './histogram.js'

const V2_COOKIE = 0x1c849303 | 0x10
const V2_COMPRESSED_COOKIE = 0x1c849304 | 0x10
const HEADER_BYTES = 40

/** ZigZag LEB128-64b9B: 7 bits a byte for 8 bytes, then the 9th byte carries 8 (values below 2^53 here). */
function putVarint(out: number[], value: number): void {
  let v = value >= 0 ? value * 2 : -value * 2 - 1
  for (let i = 0; i < 8; i++) {
    if (v < 0x80) {
      out.push(v)
      return
    }
    out.push((v % 0x80) | 0x80)
    v = Math.floor(v / 0x80)
  }
  out.push(v & 0xff)
}

function getVarint(bytes: Uint8Array, at: { pos: number }): number {
  let v = 0
  let scale = 1
  for (let i = 0; i < 9; i++) {
    if (at.pos >= bytes.length) throw new Error('HdrHistogram payload ends inside a varint')
    const b = bytes[at.pos++] as number
    if (i === 8) {
      v += b * scale
      break
    }
    v += (b & 0x7f) * scale
    scale *= 0x80
    if ((b & 0x80) === 0) break
  }
  // ZigZag: even → v / 2, odd → −(v + 1) / 2
  return v % 2 === 0 ? v / 2 : -(v + 1) / 2
}

/** The uncompressed V2 encoding of a snapshot. */
export function encodeV2(snapshot: HistogramSnapshot): Buffer {
  const payload: number[] = []
  if (snapshot.count > 0) {
    const limit = Math.min(bucketIndex(snapshot.max), BUCKETS - 1) + 1
    const counts = new Float64Array(limit)
    for (const [index, n] of snapshot.buckets) if (index < limit) counts[index] = n
    let i = 0
    while (i < limit) {
      const n = counts[i++] as number
      if (n !== 0) {
        putVarint(payload, n)
        continue
      }
      let zeros = 1
      while (i < limit && counts[i] === 0) {
        zeros++
        i++
      }
      putVarint(payload, zeros > 1 ? -zeros : 0)
    }
  }
  const out = Buffer.alloc(HEADER_BYTES + payload.length)
  out.writeInt32BE(V2_COOKIE | 0, 0)
  out.writeInt32BE(payload.length, 4)
  out.writeInt32BE(0, 8)
  out.writeInt32BE(SIGNIFICANT_DIGITS, 12)
  out.writeBigInt64BE(1n, 16)
  out.writeBigInt64BE(BigInt(HIGHEST_TRACKABLE), 24)
  out.writeDoubleBE(1, 32)
  out.set(payload, HEADER_BYTES)
  return out
}

/** HdrHistogram's compressed base64 form (what `HistogramLogWriter` and `hdr-histogram-js` produce). */
export function encodeCompressedBase64(snapshot: HistogramSnapshot): string {
  const compressed = deflateSync(encodeV2(snapshot))
  const head = Buffer.alloc(8)
  head.writeInt32BE(V2_COMPRESSED_COOKIE | 0, 0)
  head.writeInt32BE(compressed.length, 4)
  return Buffer.concat([head, compressed]).toString('base64')
}

/** The index → lowest value mapping of any HdrHistogram layout. */
function layout(digits: number, lowest: number): (index: number) => number {
  const subBucketCountMagnitude = Math.ceil(Math.log2(2 * 10 ** digits))
  const halfMagnitude = Math.max(subBucketCountMagnitude, 1) - 1
  const halfCount = 2 ** halfMagnitude
  const unitMagnitude = Math.floor(Math.log2(Math.max(1, lowest)))
  return (index) => {
    let bucket = Math.floor(index / halfCount) - 1
    let sub = (index % halfCount) + halfCount
    if (bucket < 0) {
      sub -= halfCount
      bucket = 0
    }
    return sub * 2 ** (bucket + unitMagnitude)
  }
}

/**
 * Counts by our bucket index from HdrHistogram's compressed base64 form. Exact statistics
 * (min, max, sum) are not in the format: they are computed from bucket values here, and a
 * caller that has the exact ones (our JSON carries them) overrides them.
 */
export function decodeCompressedBase64(text: string): HistogramSnapshot {
  const raw = Buffer.from(text.trim(), 'base64')
  if (raw.length < 8 || (raw.readInt32BE(0) & ~0xf0) !== 0x1c849304) throw new Error('not an HdrHistogram V2 compressed histogram')
  const length = raw.readInt32BE(4)
  const v2 = inflateSync(raw.subarray(8, 8 + length))
  if (v2.length < HEADER_BYTES || (v2.readInt32BE(0) & ~0xf0) !== 0x1c849303) throw new Error('not an HdrHistogram V2 encoding')
  const payloadLength = v2.readInt32BE(4)
  const digits = v2.readInt32BE(12)
  const lowest = Number(v2.readBigInt64BE(16))
  const same = digits === SIGNIFICANT_DIGITS && lowest === 1
  const valueOf = layout(digits, lowest)
  const counts = new Map<number, number>()
  const bytes = v2.subarray(HEADER_BYTES, HEADER_BYTES + payloadLength)
  const at = { pos: 0 }
  let index = 0
  let count = 0
  let sum = 0
  let sumSquares = 0
  let min = Infinity
  let max = 0
  while (at.pos < bytes.length) {
    const n = getVarint(bytes, at)
    if (n < 0) {
      index += -n
      continue
    }
    if (n > 0) {
      const value = valueOf(index)
      const ours = same ? index : bucketIndex(value)
      counts.set(ours, (counts.get(ours) ?? 0) + n)
      count += n
      sum += value * n
      sumSquares += value * value * n
      if (value < min) min = value
      if (value > max) max = value
    }
    index++
  }
  const buckets = [...counts.entries()].sort((a, b) => a[0] - b[0])
  return { buckets, count, min: count === 0 ? 0 : min, max, sum, sumSquares }
}
