/**
 * A stream's response on its way to the handler (RFC 9113 §8.1): the head (1xx, then the
 * final one), DATA chunks (held while the handler is paused, with their window credit), the
 * trailer section, END_STREAM, and the checks that make a response malformed (§8.1.1). The
 * frames reach it already checked against the stream's §5.1 state by the Receiver (recv.ts).
 * An RFC 8441 tunnel's response is routed to its Duplex by TunnelHandler (tunnel.ts).
 */
import { h2Error, H2ErrorCode } from './frame.js'
import type { H2ProtocolError } from '../errors.js'
import { rawHeadersToRecord } from '../http/headers.js'
import type { SessionContext } from './context.js'
import { parseResponseSection } from './fields.js'
import type { ReceiveFlow } from './recv-flow.js'
import type { Sender } from './send.js'
import { ResponsePhase, StreamEvent, detachBodyErrorSink, type H2Stream } from './stream.js'
import { establishedTunnel } from './tunnel.js'

export class Responder {
  readonly #ctx: SessionContext
  readonly #flow: ReceiveFlow
  readonly #sender: Sender

  constructor(ctx: SessionContext, flow: ReceiveFlow, sender: Sender) {
    this.#ctx = ctx
    this.#flow = flow
    this.#sender = sender
  }

  /**
   * A DATA frame of the response body (`length` octets of data, `flowLength` with padding),
   * on a stream that may receive it and whose final head arrived.
   */
  onData(stream: H2Stream, endStream: boolean, data: Uint8Array, flowLength: number): void {
    const length = data.byteLength
    if (length > 0) {
      stream.receivedLength += length
      // §8.1.1: content-length must equal the DATA total; a response without content has none.
      if (stream.noContent || (stream.expectedLength >= 0 && stream.receivedLength > stream.expectedLength)) {
        this.#flow.creditConnection(flowLength)
        this.#ctx.streamError(stream, lengthError(stream))
        return
      }
      this.#flow.countBody(flowLength)
      if (stream.deadline !== Infinity) this.#ctx.armDeadline(stream, stream.request.bodyTimeout)
    }
    // Padding is consumed on arrival (§6.1: it carries nothing for the application).
    const padding = flowLength - length
    if (padding > 0) this.#flow.consumed(stream, padding)
    if (length > 0) {
      if (stream.paused || stream.recvBuffer.length > 0) stream.recvBuffer.push(data)
      else this.#deliver(stream, data)
    }
    if (endStream && !stream.done) {
      if (stream.recvBuffer.length > 0) stream.endPending = true
      else this.#complete(stream, null)
    }
  }

  /** A decoded field block on a stream that may receive it: the response head, or its trailers. */
  onFieldSection(stream: H2Stream, decoded: string[], endStream: boolean): void {
    if (stream.phase === ResponsePhase.HEAD) this.#onResponseHead(stream, decoded, endStream)
    else this.#onTrailers(stream, decoded, endStream)
  }

  /** Hand one chunk to the handler; its octets count as consumed (credited at once unless paused). */
  #deliver(stream: H2Stream, chunk: Uint8Array): void {
    stream.resumeEarly = false
    let goOn: boolean | void
    try {
      goOn = stream.handler.onData(chunk)
    } catch (err) {
      this.#ctx.handlerThrew(stream, err)
      return
    }
    if (stream.done) return
    if (goOn === false) this.#flow.pause(stream)
    this.#flow.consumed(stream, chunk.byteLength)
  }

  /** The handler's `resume` (bound once per stream): deliver what was held, give back the held credit. */
  readonly resume = (stream: H2Stream): void => {
    if (stream.done || this.#ctx.closed()) return
    if (!stream.paused) {
      stream.resumeEarly = true
      return
    }
    stream.paused = false
    const unacked = stream.unacked
    stream.unacked = 0
    if (unacked > 0) this.#flow.consumed(stream, unacked)
    const buffer = stream.recvBuffer
    while (buffer.length > 0 && !stream.paused && !stream.done) this.#deliver(stream, buffer.shift() as Uint8Array)
    if (stream.done || stream.paused) return
    if (stream.endPending) {
      const trailers = stream.pendingTrailers
      stream.pendingTrailers = null
      this.#complete(stream, trailers)
      return
    }
    if (establishedTunnel(stream) === null) this.#ctx.armDeadline(stream, stream.request.bodyTimeout)
  }

  #onResponseHead(stream: H2Stream, decoded: string[], endStream: boolean): void {
    const section = parseResponseSection(decoded, false)
    if (typeof section === 'string') {
      this.#ctx.streamError(stream, malformed(stream, section))
      return
    }
    const status = section.status
    // RFC 9110 §10.1.1: a final status means the server will not wait for the held content.
    if (status >= 200) stream.heldBody = null
    if (status < 200) {
      // §8.1: interim responses carry no END_STREAM; §8.6: 101 does not exist in HTTP/2.
      if (endStream) return this.#ctx.streamError(stream, malformed(stream, `interim response ${status} with END_STREAM (RFC 9113 §8.1)`))
      if (status === 101) return this.#ctx.streamError(stream, malformed(stream, '101 Switching Protocols (RFC 9113 §8.6)'))
      const onInformational = stream.handler.onInformational
      if (onInformational !== undefined) {
        try {
          onInformational.call(stream.handler, status, rawHeadersToRecord(section.fields))
        } catch (err) {
          this.#ctx.handlerThrew(stream, err)
          return
        }
      }
      if (status === 100) this.#sender.releaseHeldBody(stream)
      return
    }
    stream.phase = ResponsePhase.BODY
    stream.expectedLength = section.contentLength
    stream.noContent = stream.request.method === 'HEAD' || status === 204 || status === 304
    stream.resumeEarly = false
    let goOn: boolean | void
    try {
      goOn = stream.handler.onHeaders(status, rawHeadersToRecord(section.fields), stream.resume, '')
    } catch (err) {
      this.#ctx.handlerThrew(stream, err)
      return
    }
    if (stream.done) return
    if (establishedTunnel(stream) !== null) {
      // RFC 9110 §9.3.6: a 2xx to CONNECT has no content-length; the tunnel's bytes are not
      // a body, and an idle tunnel (a quiet WebSocket) is not a stalled response.
      stream.expectedLength = -1
      stream.deadline = Infinity
      if (goOn === false) this.#flow.pause(stream)
    } else if (goOn === false) this.#flow.pause(stream)
    else this.#ctx.armDeadline(stream, stream.request.bodyTimeout)
    if (endStream) this.#complete(stream, null)
  }

  #onTrailers(stream: H2Stream, decoded: string[], endStream: boolean): void {
    // §8.1: a HEADERS frame after the final head starts the trailer section and ends the stream.
    if (!endStream) return this.#ctx.streamError(stream, malformed(stream, 'trailer section without END_STREAM (RFC 9113 §8.1)'))
    const section = parseResponseSection(decoded, true)
    if (typeof section === 'string') return this.#ctx.streamError(stream, malformed(stream, section))
    if (stream.recvBuffer.length > 0) {
      stream.endPending = true
      stream.pendingTrailers = section.fields
      return
    }
    this.#complete(stream, section.fields)
  }

  /** END_STREAM reached the handler's side: trailers, onComplete, and the stream leaves the table. */
  #complete(stream: H2Stream, trailers: string[] | null): void {
    if (establishedTunnel(stream) !== null) {
      this.#tunnelReadEnd(stream)
      return
    }
    // §8.1.1: "malformed if the value of a content-length header field does not equal the sum of the DATA frame payload lengths".
    if (!stream.noContent && stream.expectedLength >= 0 && stream.receivedLength !== stream.expectedLength) {
      this.#ctx.streamError(stream, lengthError(stream))
      return
    }
    stream.endPending = false
    if (!this.#ctx.transitionStream(stream, StreamEvent.RECV_END_STREAM)) return
    if (trailers !== null && stream.handler.onTrailers !== undefined) {
      try {
        stream.handler.onTrailers(rawHeadersToRecord(trailers))
      } catch (err) {
        this.#ctx.handlerThrew(stream, err)
        return
      }
      if (stream.done) return
    }
    stream.phase = ResponsePhase.DONE
    stream.deadline = Infinity
    detachBodyErrorSink(stream)
    this.#ctx.countServed()
    if (stream.state.kind === 'closed') {
      this.#ctx.remove(stream)
    } else {
      // The response is complete but our body is not (§8.1 lets a server answer early): stop
      // sending it; RST_STREAM(CANCEL) closes our half.
      this.#ctx.abandonBody(stream)
      this.#ctx.queueReset(stream, H2ErrorCode.CANCEL)
    }
    try {
      stream.handler.onComplete()
    } catch {
      // The request is over; a handler failing in its last callback has nobody to tell.
    }
  }

  /**
   * The peer's END_STREAM on a tunnel: only its direction ended (RFC 9113 §8.5), ours stays
   * open until the Duplex ends; the stream leaves the table when both have.
   */
  #tunnelReadEnd(stream: H2Stream): void {
    stream.endPending = false
    stream.pendingTrailers = null
    if (!this.#ctx.transitionStream(stream, StreamEvent.RECV_END_STREAM)) return
    try {
      stream.handler.onComplete()
    } catch (err) {
      this.#ctx.handlerThrew(stream, err)
      return
    }
    if (stream.state.kind === 'closed' && !stream.done) this.#sender.finishTunnel(stream)
  }
}

function lengthError(stream: H2Stream): H2ProtocolError {
  return malformed(stream, `content-length ${stream.expectedLength} but DATA carried ${stream.receivedLength} octets (RFC 9113 §8.1.1)`)
}

function malformed(stream: H2Stream, reason: string): H2ProtocolError {
  return h2Error(H2ErrorCode.PROTOCOL_ERROR, stream.id, `malformed response on stream ${stream.id}: ${reason}`)
}
