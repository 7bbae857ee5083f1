/**
 * Fair write scheduler for request bodies: a round-robin ring of streams that have DATA to
 * send. Each turn gives one stream at most one frame (≤ the peer's MAX_FRAME_SIZE, RFC 9113
 * §4.2) within its own send window and the connection's (§6.9.1), then moves on, so one
 * large upload cannot starve the others. Streams that are blocked by their own window leave
 * the ring and come back when a WINDOW_UPDATE (or SETTINGS delta) opens it.
 *
 * Sans-I/O: `next()` only chooses; the session builds and writes the frame.
 */
import type { H2Stream } from './stream.js'

export class WriteScheduler {
  /** Ring buffer of streams with queued DATA (or a pending empty END_STREAM). */
  #ring: (H2Stream | undefined)[] = new Array<H2Stream | undefined>(16)
  #head = 0
  #size = 0

  get size(): number {
    return this.#size
  }

  /** Put a stream at the back of the ring (no-op when it is already in). */
  add(stream: H2Stream): void {
    if (stream.scheduled) return
    stream.scheduled = true
    if (this.#size === this.#ring.length) this.#grow()
    this.#ring[(this.#head + this.#size) % this.#ring.length] = stream
    this.#size++
  }

  /**
   * Take the stream whose turn it is, or undefined. The caller sends one frame for it and
   * calls `add()` again if it still has something to send (that is the round robin).
   */
  take(): H2Stream | undefined {
    if (this.#size === 0) return undefined
    const stream = this.#ring[this.#head] as H2Stream
    this.#ring[this.#head] = undefined
    this.#head = (this.#head + 1) % this.#ring.length
    this.#size--
    stream.scheduled = false
    return stream
  }

  /** Drop every stream (connection closing). */
  clear(): void {
    while (this.take() !== undefined) {
      // take() clears each stream's flag
    }
  }

  #grow(): void {
    const ring = new Array<H2Stream | undefined>(this.#ring.length * 2)
    for (let i = 0; i < this.#size; i++) ring[i] = this.#ring[(this.#head + i) % this.#ring.length]
    this.#ring = ring
    this.#head = 0
  }
}
