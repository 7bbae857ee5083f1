/**
 * A stream's request body waiting to be sent: chunks in order, with an offset into the first.
 * `takeBytes` cuts the next DATA payload off the front — a view when one chunk holds it (no
 * copy for large in-memory bodies), one copy when it spans small chunks.
 */
import type { H2Stream } from './stream.js'

/** Take `n` octets off the front of the stream's send queue: a view when one chunk holds them, else one copy. */
export function takeBytes(stream: H2Stream, n: number): Uint8Array {
  const queue = stream.sendQueue
  const first = queue[0] as Uint8Array
  const offset = stream.sendOffset
  stream.queuedBytes -= n
  if (first.byteLength - offset >= n) {
    const view = first.subarray(offset, offset + n)
    consumeFirst(stream, offset + n)
    return view
  }
  const out = Buffer.allocUnsafe(n)
  let filled = 0
  while (filled < n) {
    const chunk = queue[0] as Uint8Array
    const start = stream.sendOffset
    const take = Math.min(chunk.byteLength - start, n - filled)
    out.set(chunk.subarray(start, start + take), filled)
    filled += take
    consumeFirst(stream, start + take)
  }
  return out
}

/** The first queued chunk is used up to `upTo`: drop it when that is its end, else move the offset. */
function consumeFirst(stream: H2Stream, upTo: number): void {
  const queue = stream.sendQueue
  if (upTo === (queue[0] as Uint8Array).byteLength) {
    queue.shift()
    stream.sendOffset = 0
  } else {
    stream.sendOffset = upTo
  }
}

