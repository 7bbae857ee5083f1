/**
 * The receiving half of a WebSocket (as `ws` keeps it in `receiver.js`): socket bytes go
 * through the sans-I/O FrameDecoder (frame.ts: parsing, unmasking rules, UTF-8 of plain text
 * messages, control frame limits); this class assembles each message's pieces, inflates
 * compressed ones (RFC 7692) and checks their UTF-8 after inflating (RFC 7692 §8), and hands
 * messages, Pings, Pongs and the Close to its WebSocket in wire order: a message being
 * inflated holds the ones behind it (and the Close).
 */
import { WsProtocolError, toWirepoolError, type WirepoolError } from '../errors.js'
import type { PerMessageDeflate } from './deflate.js'
import { CloseCode, FrameDecoder, Opcode, PayloadCollector, type DataOpcode, type FrameHandler } from './frame.js'
import { isValidUtf8 } from './utf8.js'

/** What the receiver hands to its WebSocket (one object per connection, not per message). */
export interface ReceiverEvents {
  /** A complete message (text already checked as UTF-8), in wire order. */
  message(binary: boolean, bytes: Uint8Array): void
  /** §5.5.1: the server's Close, after every message before it. */
  closeFrame(code: number, reason: string): void
  /** §5.5.2 (the payload is a view of the socket's chunk). */
  ping(payload: Uint8Array): void
  /** §5.5.3 (same view rules). */
  pong(payload: Uint8Array): void
  /** The peer broke the protocol (or zlib failed): fail the connection with `code` (§7.1.7). */
  fail(err: WirepoolError, code: number): void
}

/** Received, in wire order; a compressed message waits for zlib before the ones behind it. */
type Inbound =
  | { kind: 'message'; binary: boolean; compressed: boolean; pieces: Uint8Array[] }
  | { kind: 'close'; code: number; reason: string }

export class Receiver implements FrameHandler {
  readonly #events: ReceiverEvents
  readonly #deflate: PerMessageDeflate | null
  readonly #decoder: FrameDecoder
  /** Reading stopped for good (a failure, the server's Close or FIN, the socket gone). */
  #stopped = false

  /** The message being received. */
  #opcode: DataOpcode = Opcode.TEXT
  #compressed = false
  readonly #collector = new PayloadCollector()
  readonly #inbound: Inbound[] = []
  /** A message is being inflated: what arrives behind it waits in #inbound. */
  #inflating = false

  constructor(events: ReceiverEvents, deflate: PerMessageDeflate | null, maxPayload: number) {
    this.#events = events
    this.#deflate = deflate
    this.#decoder = new FrameDecoder(this, { maxPayload, allowRsv1: deflate !== null })
  }

  /** The socket's 'data' listener. */
  onData = (chunk: Uint8Array): void => {
    if (this.#stopped) return
    try {
      this.#decoder.push(chunk)
    } catch (err) {
      const error = toWirepoolError(err)
      this.#events.fail(error, err instanceof WsProtocolError ? err.closeCode : CloseCode.INTERNAL_ERROR)
    }
  }

  /** Read nothing more from the socket; what was received is still handed on. */
  stop(): void {
    this.#stopped = true
  }

  /** Read nothing more, and drop what waits (a failed or closed connection delivers nothing). */
  discard(): void {
    this.#stopped = true
    this.#inbound.length = 0
  }

  // ── FrameHandler (called by the decoder, in wire order) ──────────────────────────────

  onMessageStart(opcode: DataOpcode, compressed: boolean): void {
    this.#opcode = opcode
    this.#compressed = compressed
  }

  onMessageData(piece: Uint8Array): void {
    this.#collector.append(piece)
  }

  onMessageEnd(): void {
    const bytes = this.#collector.take()
    const binary = this.#opcode === Opcode.BINARY
    if (!this.#compressed && !this.#inflating && this.#inbound.length === 0) {
      // Nothing waits ahead of it (no message being inflated): delivered now, no queue entry.
      this.#events.message(binary, bytes)
      return
    }
    this.#queue({ kind: 'message', binary, compressed: this.#compressed, pieces: [bytes] })
  }

  onPing(payload: Uint8Array): void {
    this.#events.ping(payload)
  }

  onPong(payload: Uint8Array): void {
    this.#events.pong(payload)
  }

  onClose(code: number, reason: string): void {
    // §5.5.1: nothing the server sends after its Close can be acted on.
    this.#stopped = true
    this.#queue({ kind: 'close', code, reason })
  }

  // ── in-order delivery ────────────────────────────────────────────────────────────────

  #queue(item: Inbound): void {
    this.#inbound.push(item)
    this.#drain()
  }

  /** Deliver received messages and the Close in order; a compressed message holds the ones behind it. */
  #drain(): void {
    while (!this.#inflating && this.#inbound.length > 0) {
      const item = this.#inbound.shift() as Inbound
      if (item.kind === 'close') {
        this.#events.closeFrame(item.code, item.reason)
        continue
      }
      if (!item.compressed) {
        this.#events.message(item.binary, item.pieces[0] as Uint8Array)
        continue
      }
      this.#inflating = true
      ;(this.#deflate as PerMessageDeflate).decompress(item.pieces, (err, data) => {
        this.#inflating = false
        if (err !== null) {
          this.#events.fail(toWirepoolError(err), err instanceof WsProtocolError ? err.closeCode : CloseCode.INVALID_PAYLOAD)
          return
        }
        // RFC 7692 §8 / RFC 6455 §8.1: a compressed text message is checked after inflating.
        if (!item.binary && !isValidUtf8(data)) {
          this.#events.fail(new WsProtocolError(CloseCode.INVALID_PAYLOAD, 'compressed text message is not valid UTF-8'), CloseCode.INVALID_PAYLOAD)
          return
        }
        this.#events.message(item.binary, data)
        this.#drain()
      })
    }
  }
}
