/**
 * The one rule for batching writes (PERF.md: one trip into the kernel per burst): what one
 * tick produces is appended to a list, and one `process.nextTick` flush writes it —
 * concatenated into a single buffer when the total is small (control frames, request heads,
 * small bodies), else as a corked burst so that large payloads are not copied. This is the
 * hot path of a multiplexed connection: 100 HTTP/2 requests dispatched in one tick leave in
 * one write.
 */
import type { Socket } from 'node:net'

/** Below this total, one concatenated write beats a corked writev of many small buffers. */
const CONCAT_LIMIT = 64 * 1024

export class BatchWriter {
  readonly #socket: Socket
  #frames: Uint8Array[] = []
  #bytes = 0
  #scheduled = false
  #closed = false
  /** Called after each tick's flush (an HTTP/2 session refills DATA then). */
  readonly #afterFlush: () => void

  constructor(socket: Socket, afterFlush: () => void) {
    this.#socket = socket
    this.#afterFlush = afterFlush
  }

  /** Octets handed to the socket and not yet written to the kernel, plus ours. */
  get backlog(): number {
    return this.#bytes + this.#socket.writableLength
  }

  /** Queue bytes for this tick's write. */
  push(frame: Uint8Array): void {
    if (this.#closed) return
    this.#frames.push(frame)
    this.#bytes += frame.length
    if (!this.#scheduled) {
      this.#scheduled = true
      process.nextTick(this.#flush)
    }
  }

  /** Write what is queued now (before a socket end, or from the tick). */
  flushNow(): void {
    if (this.#bytes === 0 && this.#frames.length === 0) return
    const frames = this.#frames
    const bytes = this.#bytes
    this.#frames = []
    this.#bytes = 0
    const socket = this.#socket
    if (this.#closed || socket.destroyed || !socket.writable) return
    if (frames.length === 1) {
      socket.write(frames[0] as Uint8Array)
    } else if (bytes <= CONCAT_LIMIT) {
      socket.write(Buffer.concat(frames, bytes))
    } else {
      socket.cork()
      for (const frame of frames) socket.write(frame)
      socket.uncork()
    }
  }

  /** Drop everything queued and refuse more (the socket is gone). */
  close(): void {
    this.#closed = true
    this.#frames = []
    this.#bytes = 0
  }

  #flush = (): void => {
    this.#scheduled = false
    this.flushNow()
    if (!this.#closed) this.#afterFlush()
  }
}
