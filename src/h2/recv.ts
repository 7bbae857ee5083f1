/**
 * Every frame the peer sends, checked before it does anything (RFC 9113): the FrameReader's
 * handler. Each frame is checked against the connection (the server preface comes first,
 * §3.4) and its stream's §5.1 state — idle streams, closed streams, streams we reset — and
 * against abuse (§10.5: floods of acknowledgements or of frames that do nothing). What
 * passes goes on: response frames to the Responder, window updates to the Sender, PING
 * acknowledgements to their owners, SETTINGS and GOAWAY to the connection.
 */
import { performance } from 'node:perf_hooks'
import type { BatchWriter } from '../batch-writer.js'
import { H2StreamResetError, type H2ProtocolError } from '../errors.js'
import type { SessionContext } from './context.js'
import { FieldBlockAssembler } from './field-block.js'
import { Flag, H2ErrorCode, SettingsId, h2Error, h2ErrorName, type SettingsEntry } from './frame.js'
import { type FrameHandler, type Priority } from './frame-reader.js'
import { encodePing, encodeRstStream } from './frame-writer.js'
import { HpackDecoder } from './hpack.js'
import { PingAck, type PingTracker } from './pings.js'
import type { ReceiveFlow } from './recv-flow.js'
import type { PacedResets } from './reset-pacer.js'
import type { Responder } from './response.js'
import type { Sender } from './send.js'
import { ResponsePhase, StreamEvent, canReceive, type H2Stream } from './stream.js'

/**
 * Bounds on what a hostile peer controls (RFC 9113 §10.5: "An endpoint MAY treat activity
 * that is suspicious as a connection error of type ENHANCE_YOUR_CALM").
 * - acks: PING and SETTINGS acknowledgements we queued since the socket last caught up;
 *   a peer that floods them (and does not read) would otherwise grow our write buffer.
 * - CONTINUATION: frames per field block, and the encoded block's size, before decoding.
 * - useless frames: frames that did nothing useful in a row (empty DATA, frames on closed
 *   streams, PRIORITY, unknown types, RST_STREAM for streams already gone).
 */
const MAX_PENDING_ACKS = 1000
const MAX_CONTINUATION_FRAMES = 64
const MAX_USELESS_FRAMES = 5000

/** What the Receiver asks of the connection beyond the shared SessionContext. */
export interface ReceiverHooks {
  /** Stop the reader if a handler closed the connection mid-chunk; enforce the server preface unless `serverPreface`. */
  checkLive(serverPreface?: boolean): void
  /** §5.1.1: the id names a stream that was never opened (by us: a server opens none). */
  isIdle(streamId: number): boolean
  /** The peer acknowledged our oldest unacknowledged SETTINGS (§6.5.3). */
  settingsAcked(): void
  /** Apply the peer's (checked) SETTINGS and acknowledge them. */
  applyPeerSettings(entries: readonly SettingsEntry[]): void
  /** GOAWAY (§6.8): drain, and fail the streams above `lastStreamId` as retryable. */
  goaway(lastStreamId: number, errorCode: number): void
  /** The peer turned away an unanswered stream with ENHANCE_YOUR_CALM: cap the concurrency at what it carries. */
  lowerCalmLimit(): void
}

export interface ReceiverParts {
  sender: Sender
  flow: ReceiveFlow
  responder: Responder
  resets: PacedResets
  pings: PingTracker
}

export class Receiver implements FrameHandler {
  readonly #ctx: SessionContext
  readonly #hooks: ReceiverHooks
  readonly #streams: Map<number, H2Stream>
  readonly #writer: BatchWriter
  readonly #sender: Sender
  readonly #flow: ReceiveFlow
  readonly #responder: Responder
  readonly #resets: PacedResets
  readonly #pings: PingTracker
  /** The field block being gathered (HEADERS without END_HEADERS, then CONTINUATION, §6.10). */
  readonly #fieldBlock: FieldBlockAssembler
  readonly #decoder: HpackDecoder
  #pendingAcks = 0
  #uselessFrames = 0

  constructor(ctx: SessionContext, hooks: ReceiverHooks, parts: ReceiverParts, limits: { maxHeaderListSize: number; maxHeaderCount: number }) {
    this.#ctx = ctx
    this.#hooks = hooks
    this.#streams = ctx.streams
    this.#writer = ctx.writer
    this.#sender = parts.sender
    this.#flow = parts.flow
    this.#responder = parts.responder
    this.#resets = parts.resets
    this.#pings = parts.pings
    // An encoded block is at most about as long as its decoded list (literals carry less than
    // the 32 octets of per-field overhead §6.5.2 counts), but Huffman can lengthen odd bytes.
    this.#fieldBlock = new FieldBlockAssembler(2 * limits.maxHeaderListSize, MAX_CONTINUATION_FRAMES)
    this.#decoder = new HpackDecoder(limits)
  }

  /** The socket caught up with our acknowledgements: the flood counter starts over. */
  acksFlushed(): void {
    this.#pendingAcks = 0
  }

  // ── FrameHandler ────────────────────────────────────────────────────────────────────

  onData(streamId: number, flags: number, data: Uint8Array, flowLength: number): void {
    this.#hooks.checkLive()
    // §6.9.1: DATA counts against the connection window whatever becomes of the stream.
    this.#flow.onDataReceived(flowLength)
    const stream = this.#streams.get(streamId)
    if (stream === undefined || stream.done) {
      if (stream === undefined && this.#hooks.isIdle(streamId)) {
        throw h2Error(H2ErrorCode.PROTOCOL_ERROR, 0, `DATA on idle stream ${streamId} (RFC 9113 §5.1)`)
      }
      this.#flow.creditConnection(flowLength)
      if (stream === undefined && !this.#resets.wasReset(streamId)) {
        // §5.1 closed: frames after the peer's END_STREAM are a STREAM_CLOSED error.
        throw h2Error(H2ErrorCode.STREAM_CLOSED, 0, `DATA on closed stream ${streamId} (RFC 9113 §5.1)`)
      }
      // DATA still in flight for a stream we reset is normal (bounded by that stream's window,
      // which is never replenished); only empty frames are free for the peer to repeat.
      if (flowLength === 0) this.#countUselessFrame()
      return
    }
    try {
      stream.recvWindow.onDataReceived(flowLength)
    } catch (err) {
      this.#flow.creditConnection(flowLength)
      this.#ctx.streamError(stream, err as H2ProtocolError)
      return
    }
    if (!canReceive(stream.state)) {
      this.#flow.creditConnection(flowLength)
      this.#ctx.streamError(stream, h2Error(H2ErrorCode.STREAM_CLOSED, streamId, `DATA after END_STREAM on stream ${streamId} (RFC 9113 §5.1)`))
      return
    }
    if (stream.phase !== ResponsePhase.BODY) {
      this.#flow.creditConnection(flowLength)
      this.#ctx.streamError(stream, h2Error(H2ErrorCode.PROTOCOL_ERROR, streamId, `DATA before the response head on stream ${streamId} (RFC 9113 §8.1)`))
      return
    }
    const endStream = (flags & Flag.END_STREAM) !== 0
    if (data.byteLength > 0) this.#uselessFrames = 0
    else if (!endStream) this.#countUselessFrame()
    this.#responder.onData(stream, endStream, data, flowLength)
  }

  onHeaders(streamId: number, flags: number, fragment: Uint8Array, _priority: Priority | undefined): void {
    this.#hooks.checkLive()
    // §5.1.1 / §5.1: a server cannot open streams, and HEADERS on an idle stream of ours is an error.
    if (this.#hooks.isIdle(streamId)) throw h2Error(H2ErrorCode.PROTOCOL_ERROR, 0, `HEADERS on idle stream ${streamId} (RFC 9113 §5.1)`)
    const block = this.#fieldBlock.headers(streamId, flags, fragment)
    if (block !== null) this.#onFieldBlock(streamId, (flags & Flag.END_STREAM) !== 0, block)
  }

  onPushPromise(streamId: number, _flags: number, _promised: number, _fragment: Uint8Array): void {
    this.#hooks.checkLive()
    // §8.4 / §6.6: we sent ENABLE_PUSH=0, so a PUSH_PROMISE is a connection PROTOCOL_ERROR.
    throw h2Error(H2ErrorCode.PROTOCOL_ERROR, 0, `PUSH_PROMISE on stream ${streamId} although SETTINGS_ENABLE_PUSH is 0 (RFC 9113 §6.6)`)
  }

  onContinuation(streamId: number, flags: number, fragment: Uint8Array): void {
    this.#hooks.checkLive()
    const block = this.#fieldBlock.continuation(streamId, flags, fragment)
    if (block !== null) this.#onFieldBlock(streamId, (this.#fieldBlock.flags & Flag.END_STREAM) !== 0, block)
  }

  onPriority(): void {
    this.#hooks.checkLive()
    this.#countUselessFrame()
  }

  onUnknown(): void {
    this.#hooks.checkLive()
    this.#countUselessFrame()
  }

  onRstStream(streamId: number, errorCode: number): void {
    this.#hooks.checkLive()
    const stream = this.#streams.get(streamId)
    if (stream === undefined) {
      if (this.#hooks.isIdle(streamId)) throw h2Error(H2ErrorCode.PROTOCOL_ERROR, 0, `RST_STREAM on idle stream ${streamId} (RFC 9113 §6.4)`)
      this.#countUselessFrame()
      return
    }
    if (!this.#ctx.transitionStream(stream, StreamEvent.RECV_RESET, errorCode)) return
    this.#ctx.abandonBody(stream)
    // Whatever reset we meant to send is moot now: the stream is closed on both sides.
    this.#ctx.remove(stream)
    const unanswered = stream.phase === ResponsePhase.HEAD
    const calm = errorCode === H2ErrorCode.ENHANCE_YOUR_CALM && unanswered
    if (calm) this.#hooks.lowerCalmLimit()
    if (stream.done) return
    // Turned away before any answer for being one stream too many: an idempotent request may
    // go again (RFC 9110 §9.2.2; the pool checks idempotency), on a connection with room.
    this.#ctx.fail(
      stream,
      new H2StreamResetError(errorCode, h2ErrorName(errorCode), streamId, { origin: this.#ctx.origin, responseStarted: !unanswered, retryable: calm }),
    )
  }

  onSettings(ack: boolean, entries: readonly SettingsEntry[]): void {
    this.#hooks.checkLive(!ack)
    if (ack) {
      this.#hooks.settingsAcked()
      return
    }
    this.#countAck()
    for (const [id, value] of entries) {
      // §6.5.2: "A client MUST treat receipt of a SETTINGS frame with SETTINGS_ENABLE_PUSH set
      // to 1 as a connection error of type PROTOCOL_ERROR."
      if (id === SettingsId.ENABLE_PUSH && value === 1) throw h2Error(H2ErrorCode.PROTOCOL_ERROR, 0, 'server sent SETTINGS_ENABLE_PUSH=1 (RFC 9113 §6.5.2)')
      // RFC 8441 §3: "A sender MUST NOT send a SETTINGS_ENABLE_CONNECT_PROTOCOL parameter with
      // the value of 0 after previously sending a value of 1" — tunnels may be open on it.
      if (id === SettingsId.ENABLE_CONNECT_PROTOCOL && value === 0 && this.#ctx.peer.enableConnectProtocol === 1) {
        throw h2Error(H2ErrorCode.PROTOCOL_ERROR, 0, 'server withdrew SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 §3)')
      }
    }
    this.#hooks.applyPeerSettings(entries)
  }

  onPing(ack: boolean, opaque: Uint8Array): void {
    this.#hooks.checkLive()
    if (!ack) {
      // §6.7: "Receivers of a PING frame that does not include an ACK flag MUST send a PING frame with the ACK flag set … with an identical payload."
      this.#countAck()
      this.#writer.push(encodePing(opaque, true))
      return
    }
    const now = performance.now()
    const kind = this.#pings.ack(opaque, now)
    if (kind === PingAck.BDP) this.#flow.onBdpAck(now)
    else if (kind === PingAck.UNKNOWN) this.#countUselessFrame()
  }

  onGoaway(lastStreamId: number, errorCode: number): void {
    this.#hooks.checkLive()
    this.#hooks.goaway(lastStreamId, errorCode)
  }

  onWindowUpdate(streamId: number, increment: number): void {
    this.#hooks.checkLive()
    if (streamId === 0) {
      this.#sender.increaseConnectionWindow(increment)
      return
    }
    const stream = this.#streams.get(streamId)
    if (stream === undefined) {
      if (this.#hooks.isIdle(streamId)) throw h2Error(H2ErrorCode.PROTOCOL_ERROR, 0, `WINDOW_UPDATE on idle stream ${streamId} (RFC 9113 §5.1)`)
      this.#countUselessFrame()
      return
    }
    try {
      stream.sendWindow.increase(increment)
    } catch (err) {
      this.#ctx.streamError(stream, err as H2ProtocolError)
      return
    }
    if (stream.queuedBytes > 0 && !stream.done) this.#sender.queued(stream)
  }

  onStreamError(error: H2ProtocolError): void {
    this.#hooks.checkLive()
    const stream = this.#streams.get(error.streamId)
    if (stream !== undefined && !stream.done) this.#ctx.streamError(stream, error)
    else if (stream === undefined && this.#hooks.isIdle(error.streamId)) {
      // A broken frame on a stream that was never opened: reset it all the same (§5.4.2).
      this.#writer.push(encodeRstStream(error.streamId, error.h2Code))
    }
  }

  // ── checks ──────────────────────────────────────────────────────────────────────────

  /** A complete field block: decode it first (always, to keep HPACK in step, §4.3), then route it. */
  #onFieldBlock(streamId: number, endStream: boolean, block: Uint8Array): void {
    let decoded: string[]
    try {
      decoded = this.#decoder.decode(block, streamId)
    } catch (err) {
      const error = err as H2ProtocolError
      if (error.streamId === 0) throw error
      const stream = this.#streams.get(streamId)
      if (stream !== undefined && !stream.done) this.#ctx.streamError(stream, error)
      else this.#countUselessFrame()
      return
    }
    const stream = this.#streams.get(streamId)
    if (stream === undefined || stream.done) {
      if (stream === undefined && !this.#resets.wasReset(streamId)) {
        throw h2Error(H2ErrorCode.STREAM_CLOSED, 0, `HEADERS on closed stream ${streamId} (RFC 9113 §5.1)`)
      }
      this.#countUselessFrame()
      return
    }
    // §5.1 half-closed (remote): HEADERS after the peer's END_STREAM is a stream error STREAM_CLOSED.
    if (!canReceive(stream.state)) {
      this.#ctx.streamError(stream, h2Error(H2ErrorCode.STREAM_CLOSED, streamId, `HEADERS after END_STREAM on stream ${streamId} (RFC 9113 §5.1)`))
      return
    }
    if (!this.#ctx.transitionStream(stream, StreamEvent.RECV_HEADERS)) return
    this.#uselessFrames = 0
    this.#responder.onFieldSection(stream, decoded, endStream)
  }

  /** A frame that did no work: many in a row is abuse (RFC 9113 §10.5). */
  #countUselessFrame(): void {
    if (++this.#uselessFrames > MAX_USELESS_FRAMES) {
      throw h2Error(H2ErrorCode.ENHANCE_YOUR_CALM, 0, `more than ${MAX_USELESS_FRAMES} frames in a row that did nothing`)
    }
  }

  /** Count an acknowledgement we are about to queue; a flood of them is ENHANCE_YOUR_CALM. */
  #countAck(): void {
    if (++this.#pendingAcks > MAX_PENDING_ACKS) {
      throw h2Error(H2ErrorCode.ENHANCE_YOUR_CALM, 0, `more than ${MAX_PENDING_ACKS} PING/SETTINGS frames to acknowledge while the peer does not read`)
    }
  }
}
