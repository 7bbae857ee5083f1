/**
 * Pacing of the RST_STREAM frames we send, so that a burst of aborts is never mistaken for
 * the "rapid reset" attack (CVE-2023-44487) by a server's defence.
 *
 * The rule: a token bucket of `burst` resets (default 200) refilled at `ratePerSecond`
 * (default 30 per second). A reset with a token goes out at once; without one it waits, in
 * order, until the bucket refills. nghttp2 (1.57+) tolerates a burst of 1000 and 33 per second
 * after it; Go's and nginx's defences count resets against MAX_CONCURRENT_STREAMS-sized
 * windows. Staying under both by a wide margin costs nothing in practice: a stream whose reset
 * waits still occupies one of the peer's concurrency slots (it is open on the wire), which is
 * exactly what the server's accounting expects — but not one of our own cap's
 * (H2Connection.capacity), so an abort storm is not slowed to the pacer's rate.
 *
 * `ResetPacer` is the rule, sans-I/O (the caller passes the time). `PacedResets` applies it
 * to a connection: the queue of resets waiting for a token, its one timer, and the ids we
 * reset, whose late frames are then ignored (RFC 9113 §5.1 "closed").
 */
import { performance } from 'node:perf_hooks'
import type { H2Stream } from './stream.js'

export interface ResetPacerOptions {
  burst?: number
  ratePerSecond?: number
}

export class ResetPacer {
  readonly #burst: number
  readonly #ratePerMs: number
  #tokens: number
  #last = -1

  constructor(options: ResetPacerOptions = {}) {
    this.#burst = options.burst ?? 200
    this.#ratePerMs = (options.ratePerSecond ?? 30) / 1000
    this.#tokens = this.#burst
  }

  /** Take a token at time `now` (ms); false when the reset must wait. */
  tryTake(now: number): boolean {
    this.#refill(now)
    if (this.#tokens < 1) return false
    this.#tokens -= 1
    return true
  }

  /** Milliseconds from `now` until a token is available (0 when one is). */
  waitMs(now: number): number {
    this.#refill(now)
    if (this.#tokens >= 1) return 0
    return Math.ceil((1 - this.#tokens) / this.#ratePerMs)
  }

  #refill(now: number): void {
    if (this.#last >= 0 && now > this.#last) this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#last) * this.#ratePerMs)
    this.#last = now
  }
}

/** Stream ids we reset and whose late frames we therefore ignore (§5.1 "closed"), most recent kept. */
const MAX_REMEMBERED_RESETS = 4096

/** What PacedResets needs from the connection. */
export interface ResetWire {
  /** Send RST_STREAM for the stream now: its state, the frame, and it leaves the table. */
  sendReset(stream: H2Stream, code: number): void
  /** The stream is still the one the table holds under its id (not closed by the peer meanwhile). */
  isCurrent(stream: H2Stream): boolean
  /** The paced resets that were due went out (a draining connection may now be done). */
  afterPacedBatch(): void
  closed(): boolean
}

/** A connection's RST_STREAM frames: at once while the pacer has tokens, else queued in order. */
export class PacedResets {
  readonly #pacer = new ResetPacer()
  readonly #wire: ResetWire
  /** Streams we reset (RST_STREAM sent or queued): late frames on them are ignored (§5.1). */
  readonly #ids = new Set<number>()
  /** Resets waiting for the pacer, in order. */
  #queue: Array<[stream: H2Stream, code: number]> = []
  #timer: NodeJS.Timeout | undefined = undefined

  constructor(wire: ResetWire) {
    this.#wire = wire
  }

  /** Resets waiting for a token (their streams are dead to the handler, alive on the wire). */
  get waiting(): number {
    return this.#queue.length
  }

  /** We reset this stream (its late frames are expected, not a protocol error). */
  wasReset(streamId: number): boolean {
    return this.#ids.has(streamId)
  }

  /** Send RST_STREAM now if the pacer allows, else queue it; the stream stays open on the wire meanwhile. */
  reset(stream: H2Stream, code: number): void {
    if (stream.cancelQueued) return
    stream.cancelQueued = true
    this.#ids.add(stream.id)
    if (this.#ids.size > MAX_REMEMBERED_RESETS) this.#ids.delete(this.#ids.values().next().value as number)
    if (this.#queue.length === 0 && this.#pacer.tryTake(performance.now())) {
      this.#send(stream, code)
      return
    }
    this.#queue.push([stream, code])
    this.#arm()
  }

  /** The peer closed the stream (RST_STREAM, GOAWAY) before the pacer let our reset out: it is moot. */
  drop(stream: H2Stream): void {
    if (!stream.cancelQueued) return
    stream.cancelQueued = false
    this.#queue = this.#queue.filter(([queued]) => queued !== stream)
  }

  /** The connection closed: nothing more goes out. */
  clear(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
    this.#queue = []
  }

  #send(stream: H2Stream, code: number): void {
    stream.cancelQueued = false // sent: it is no longer in (or about to enter) the queue
    this.#wire.sendReset(stream, code)
  }

  #arm(): void {
    if (this.#timer !== undefined || this.#queue.length === 0) return
    this.#timer = setTimeout(this.#onTimer, Math.max(1, this.#pacer.waitMs(performance.now())))
    this.#timer.unref()
  }

  #onTimer = (): void => {
    this.#timer = undefined
    if (this.#wire.closed()) return
    const now = performance.now()
    while (this.#queue.length > 0 && this.#pacer.tryTake(now)) {
      const [stream, code] = this.#queue.shift() as [H2Stream, number]
      if (this.#wire.isCurrent(stream)) this.#send(stream, code)
    }
    this.#arm()
    this.#wire.afterPacedBatch()
  }
}
