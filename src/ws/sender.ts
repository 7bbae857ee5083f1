/**
 * The sending half of a WebSocket (as `ws` keeps it in `sender.js`): messages become frames
 * (compressed with permessage-deflate when negotiated, RFC 7692; fragmented, RFC 6455 §5.4)
 * and leave in call order; `bufferedAmount` counts their application bytes until the socket
 * took them. No state machine of its own: the WebSocket decides what may be sent (only
 * while open) and calls `socketClosed()` when the socket is gone.
 *
 * The write-batching rule is the project's one (src/batch-writer.ts): what one tick
 * produces leaves in one socket write — concatenated under 64 KiB, else a corked writev —
 * with one completion callback. Two specialisations, measured on this hot path (one-way
 * 16 B messages: client CPU 2.55 → ~1.2 µs per message), keep it from using `BatchWriter`
 * itself:
 *  - The messages of a burst are encoded in place, back to back, into one batch buffer
 *    (`#writeNow`), instead of one frame Buffer per message pushed to a list and
 *    concatenated at the end of the tick: no Buffer, no list entry, no copy per message.
 *  - Every write has a completion that takes its bytes out of `bufferedAmount` and settles
 *    `sendAsync` promises; `BatchWriter` writes without callbacks.
 * The queue (`#flushQueue`) — messages that wait for a Blob, zlib or the ones ahead of them —
 * applies the same rule to frames already built.
 */
import type { Duplex } from 'node:stream'
import { InvalidArgumentError, toWirepoolError, type WirepoolError } from '../errors.js'
import type { WebSocketFigures } from '../pool/stats.js'
import type { PerMessageDeflate } from './deflate.js'
import { CloseCode, Opcode, type DataOpcode } from './frame.js'
import { encodeFrame, frameLength, writeDataFrame } from './frame-encode.js'

/** Per-message options of send() and sendAsync(). */
export interface SendOptions {
  /** Send text as a binary message (and binary data as text: the caller vouches it is UTF-8). */
  binary?: boolean
}

/** What send() takes. */
export type SendData = string | ArrayBuffer | ArrayBufferView | Blob

/** A message (or our Close) waiting to be written: ready once its frames exist (Blob read, compressed). */
interface Outgoing {
  kind: 'data' | 'close'
  opcode: DataOpcode
  /** Application bytes, counted in bufferedAmount until flushed. */
  size: number
  frames: Buffer[] | undefined
  resolve: () => void
  reject: (err: Error) => void
}

/** What the sender reports to its WebSocket (one object per connection, not per message). */
export interface SenderEvents {
  /** A message could not be encoded (a Blob that fails to read, zlib): fail with `code` (§7.1.7). */
  fail(err: WirepoolError, code: number): void
  /** Our Close frame was handed to the socket (§5.5.1: the last frame we send). */
  closeWritten(): void
}

export interface SenderOptions {
  /** permessage-deflate, when negotiated; messages of at least `deflateThreshold` bytes are compressed. */
  deflate: PerMessageDeflate | null
  deflateThreshold: number
  /** §5.4: messages longer than this are sent as fragments of this size (Infinity: never). */
  fragmentSize: number
}

/** encodeFrame options of a compressed single-frame message (RFC 7692 §6: RSV1 on its first frame). */
const COMPRESSED = { rsv1: true } as const

/** Below this many bytes, one tick's frames are concatenated into a single write (as BatchWriter). */
const BATCH_CONCAT_LIMIT = 64 * 1024
/** A burst's batch buffer (#writeNow): its first size, doubled as it fills, up to the max. */
const BATCH_BUFFER_FIRST = 4 * 1024
const BATCH_BUFFER_MAX = 64 * 1024

export const noop = (): void => {}

export class Sender {
  readonly #socket: Duplex
  readonly #figures: WebSocketFigures
  readonly #events: SenderEvents
  readonly #deflate: PerMessageDeflate | null
  readonly #deflateThreshold: number
  readonly #fragmentSize: number
  /** The socket is gone: nothing more is written or counted. */
  #closed = false
  #bufferedAmount = 0
  #flushScheduled = false

  readonly #outgoing: Outgoing[] = []
  /** App bytes of each direct write (#writeNow, #flushBatch) not completed yet, in write order. */
  readonly #writtenSizes: number[] = []
  /**
   * Where the messages of a burst are encoded (see #writeNow), for this tick only: frames
   * back to back; [#batchStart, #batchEnd) holds those not written yet, whose messages carry
   * #batchSize application bytes. Bytes before #batchStart were handed to the socket and are
   * never touched again.
   */
  #batch: Buffer | undefined
  #batchStart = 0
  #batchEnd = 0
  #batchSize = 0

  constructor(socket: Duplex, figures: WebSocketFigures, events: SenderEvents, options: SenderOptions) {
    this.#socket = socket
    this.#figures = figures
    this.#events = events
    this.#deflate = options.deflate
    this.#deflateThreshold = options.deflateThreshold
    this.#fragmentSize = options.fragmentSize
  }

  /** Bytes of application data passed to send() and not yet flushed to the socket. */
  get bufferedAmount(): number {
    return this.#bufferedAmount
  }

  /** Nothing waits in the queue (our Close included). */
  get idle(): boolean {
    return this.#outgoing.length === 0
  }

  /**
   * Queue a message: a string is sent as text, bytes (ArrayBuffer, any view, Blob) as
   * binary. `resolve` is `noop` for send() (fire-and-forget: no promise per message) and
   * settles once the frames were flushed for sendAsync().
   */
  send(data: SendData, options: SendOptions | undefined, resolve: () => void, reject: (err: Error) => void): void {
    let text: boolean
    let payload: Uint8Array | string | Promise<ArrayBuffer>
    let size: number
    if (typeof data === 'string') {
      text = true
      payload = data
      size = Buffer.byteLength(data)
    } else if (data instanceof ArrayBuffer) {
      text = false
      payload = new Uint8Array(data)
      size = data.byteLength
    } else if (data instanceof Uint8Array) {
      // A Buffer or Uint8Array is read as is: no view object per message.
      text = false
      payload = data
      size = data.byteLength
    } else if (ArrayBuffer.isView(data)) {
      text = false
      payload = new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
      size = data.byteLength
    } else if (data instanceof Blob) {
      text = false
      payload = data.arrayBuffer()
      size = data.size
    } else {
      throw new InvalidArgumentError('send() takes a string, ArrayBuffer, ArrayBufferView or Blob')
    }
    if (options?.binary !== undefined) text = !options.binary
    const opcode: DataOpcode = text ? Opcode.TEXT : Opcode.BINARY
    this.#figures.messagesOut++
    this.#figures.bytesOut += size
    this.#bufferedAmount += size
    // send() (not sendAsync, which waits for a queue entry's completion) may skip the queue.
    if (resolve === noop && !(payload instanceof Promise) && this.#writeNow(opcode, payload, size)) return
    const item: Outgoing = { kind: 'data', opcode, size, frames: undefined, resolve, reject }
    this.#outgoing.push(item)
    if (payload instanceof Promise) {
      payload.then(
        (buffer) => this.#prepare(item, new Uint8Array(buffer)),
        (err: unknown) => this.#events.fail(toWirepoolError(err), CloseCode.INTERNAL_ERROR),
      )
    } else {
      this.#prepare(item, payload)
    }
  }

  /** Queue our Close behind the data already queued (§5.5.1: it is the last frame we send). */
  sendClose(frame: Buffer): void {
    this.#outgoing.push({ kind: 'close', opcode: Opcode.BINARY, size: 0, frames: [frame], resolve: noop, reject: noop })
    this.#flushQueue()
  }

  /** A control frame (Ping, Pong): written at once, ahead of what waits for the end of the tick. */
  writeControl(frame: Buffer): void {
    this.#socket.write(frame)
  }

  /**
   * §7.1.7: the connection is being failed. Messages whose frames are ready still go out
   * (they only wait for the end of the tick, to share one write); the rest (still being
   * compressed or read) are abandoned with `err`: the Close goes out next, nothing after it.
   */
  abandonUnready(err: WirepoolError): void {
    this.#flushQueue()
    for (const item of this.#outgoing.splice(0)) {
      this.#bufferedAmount -= item.size
      item.reject(err)
    }
  }

  /** The socket is gone: reject what waits with `err`, forget the counts and the batch. */
  socketClosed(err: WirepoolError): void {
    this.#closed = true
    for (const item of this.#outgoing.splice(0)) item.reject(err)
    this.#bufferedAmount = 0
    this.#writtenSizes.length = 0
    this.#dropBatch()
  }

  /**
   * The direct path of send(), for a message that needs no queue entry: nothing is queued
   * ahead of it (order), and it needs no compressing (asynchronous) or fragmenting.
   *
   * The first such message of a tick is written inside the caller's call: a client that
   * sends one message and waits for the answer (request/response, echo) pays no deferral on
   * its round trip, as with `ws`, which writes synchronously. That write marks the tick
   * (#scheduleFlush); the messages sent later in the same tick are encoded into a batch
   * buffer, back to back, and leave together in one write at the end of the tick
   * (#flushBatch); the buffer is dropped then (an idle WebSocket holds none). A burst of 100,000
   * small messages cost a queue entry, a frame Buffer and a frames array each, then a
   * concatenation; most of the sender's time went to collecting that garbage.
   */
  #writeNow(opcode: DataOpcode, payload: Uint8Array | string, size: number): boolean {
    if (this.#outgoing.length !== 0 || size > this.#fragmentSize) return false
    if (this.#deflate !== null && size >= this.#deflateThreshold) return false
    if (!this.#flushScheduled) {
      // The tick's first message: a frame of its own, written now.
      this.#writtenSizes.push(size)
      this.#socket.write(encodeFrame(opcode, payload), this.#onWritten)
      this.#scheduleFlush()
      return true
    }
    const length = frameLength(size)
    // Too big for a batch buffer: it takes the queue, whose writes follow the batch's.
    if (length > BATCH_BUFFER_MAX) return false
    let batch = this.#batch
    if (batch === undefined || batch.length - this.#batchEnd < length) {
      // Full (or none yet this tick): what is pending leaves now, and a buffer twice the size
      // takes the rest of the burst.
      this.#flushBatch()
      const capacity = batch === undefined ? BATCH_BUFFER_FIRST : Math.min(batch.length * 2, BATCH_BUFFER_MAX)
      batch = Buffer.allocUnsafeSlow(Math.max(capacity, length))
      this.#batch = batch
      this.#batchStart = 0
      this.#batchEnd = 0
    }
    this.#batchEnd = writeDataFrame(batch, this.#batchEnd, opcode, payload, size)
    this.#batchSize += size
    return true
  }

  /** Hand the batch's pending frames to the socket in one write. */
  #flushBatch(): void {
    const batch = this.#batch
    if (batch === undefined || this.#batchEnd === this.#batchStart) return
    this.#writtenSizes.push(this.#batchSize)
    const frames = batch.subarray(this.#batchStart, this.#batchEnd)
    this.#batchStart = this.#batchEnd
    this.#batchSize = 0
    this.#socket.write(frames, this.#onWritten)
  }

  /**
   * The completion of a direct write: its bytes leave bufferedAmount. Writes complete in
   * the order they were made (node:stream), so the sizes are a FIFO and no closure is made
   * per message.
   */
  #onWritten = (): void => {
    const size = this.#writtenSizes.shift()
    // socketClosed() zeroes the count when the socket goes; a late callback must not take it below 0.
    if (size !== undefined && !this.#closed) this.#bufferedAmount -= size
  }

  /** Build the frames of a message: compressed first when permessage-deflate is on and it is big enough. */
  #prepare(item: Outgoing, payload: Uint8Array | string): void {
    if (this.#closed) return
    const deflate = this.#deflate
    if (deflate !== null && item.size >= this.#deflateThreshold) {
      // zlib reads the bytes later: copy what the caller could change meanwhile.
      const bytes = typeof payload === 'string' ? Buffer.from(payload) : Buffer.from(payload)
      deflate.compress(bytes, (err, compressed) => {
        if (err !== null) {
          this.#events.fail(toWirepoolError(err), CloseCode.INTERNAL_ERROR)
          return
        }
        item.frames = this.#frames(item.opcode, compressed, true)
        this.#flushQueue()
      })
      return
    }
    item.frames = this.#frames(item.opcode, payload, false)
    this.#scheduleFlush()
  }

  /** §5.4: one frame, or fragments of `fragmentSize` (RSV1 on the first only, RFC 7692 §6.1). */
  #frames(opcode: DataOpcode, payload: Uint8Array | string, compressed: boolean): Buffer[] {
    const bytesLength = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length
    if (bytesLength <= this.#fragmentSize) return [encodeFrame(opcode, payload, compressed ? COMPRESSED : undefined)]
    const bytes = typeof payload === 'string' ? Buffer.from(payload) : payload
    const frames: Buffer[] = []
    for (let at = 0; at < bytes.length; at += this.#fragmentSize) {
      const end = Math.min(at + this.#fragmentSize, bytes.length)
      const first = at === 0
      frames.push(
        encodeFrame(first ? opcode : Opcode.CONTINUATION, bytes.subarray(at, end), { fin: end === bytes.length, rsv1: first && compressed }),
      )
    }
    return frames
  }

  /**
   * Write every queued message whose frames are ready, in order. The frames of one call leave
   * in a single socket write (small ones concatenated, large ones as one corked writev) with
   * one completion callback for the whole group: sending many small messages in a tick costs
   * one trip into the kernel, not one per message (BatchWriter's rule).
   */
  #flushQueue(): void {
    if (this.#closed) return
    const socket = this.#socket
    // Frames of the direct path were all sent before anything now queued (#writeNow takes
    // none while the queue is not empty): they go first.
    this.#flushBatch()
    const outgoing = this.#outgoing
    let count = 0
    let bytes = 0
    while (count < outgoing.length) {
      const item = outgoing[count] as Outgoing
      if (item.frames === undefined) break
      for (const frame of item.frames) bytes += frame.length
      count++
    }
    if (count === 0) return
    const group = outgoing.splice(0, count)
    const onGroupWritten = (err: Error | null | undefined): void => {
      let size = 0
      for (const item of group) size += item.size
      // socketClosed() zeroes the count when the socket goes; a late callback must not take it below 0.
      if (!this.#closed) this.#bufferedAmount -= size
      for (const item of group) {
        if (err) item.reject(toWirepoolError(err))
        else item.resolve()
      }
    }
    if (count === 1 && (group[0] as Outgoing).frames?.length === 1) {
      socket.write(((group[0] as Outgoing).frames as Buffer[])[0] as Buffer, onGroupWritten)
    } else if (bytes <= BATCH_CONCAT_LIMIT) {
      const frames: Buffer[] = []
      for (const item of group) for (const frame of item.frames as Buffer[]) frames.push(frame)
      socket.write(Buffer.concat(frames, bytes), onGroupWritten)
    } else {
      socket.cork()
      for (let i = 0; i < group.length; i++) {
        const frames = (group[i] as Outgoing).frames as Buffer[]
        for (let j = 0; j < frames.length; j++) {
          const last = i === group.length - 1 && j === frames.length - 1
          if (last) socket.write(frames[j] as Buffer, onGroupWritten)
          else socket.write(frames[j] as Buffer)
        }
      }
      socket.uncork()
    }
    if ((group[group.length - 1] as Outgoing).kind === 'close') this.#events.closeWritten()
  }

  /** Writes of one tick are gathered: the first send schedules the flush. */
  #scheduleFlush(): void {
    if (this.#flushScheduled) return
    this.#flushScheduled = true
    process.nextTick(this.#flushTick)
  }

  #flushTick = (): void => {
    this.#flushScheduled = false
    this.#flushQueue()
    // The burst is over; the next one starts a small buffer again.
    this.#dropBatch()
  }

  /** Forget the batch buffer (its written frames belong to the socket now). */
  #dropBatch(): void {
    this.#batch = undefined
    this.#batchStart = this.#batchEnd = this.#batchSize = 0
  }
}
