/**
 * One HTTP/2 stream of ours: the RFC 9113 §5.1 state machine (one discriminated union, one
 * transition table, one writer of `H2Stream.state`: `H2Stream.transition`), the stream's send
 * queue, and the record the session keeps per request. No I/O here: the session reads and
 * writes frames and applies their events as they go by.
 *
 * `nextStreamState()` is the table: it returns `null` for every move not drawn above `StreamState`. The session
 * checks what the peer sent against the state first (a peer's frame the state does not
 * allow is a stream or connection error, §5.1 lists which), so by the time it applies an
 * event with `H2Stream.transition` the move is listed; an unlisted one there is a bug of ours
 * (src/state-machine.ts: it throws under test, fails the connection in production).
 */
import { isReadable } from '../body-source.js'
import type { DispatchHandler, DispatchRequest } from '../dispatch.js'
import type { ReceiveWindow, SendWindow } from './flow.js'
import { illegalTransition } from '../state-machine.js'
import type { IllegalTransitionError } from '../errors.js'

/** Why a stream reached `closed`: it matters for how late frames on it are treated (§5.1 "closed"). */
export type CloseCause = 'end-stream' | 'reset-sent' | 'reset-received'

/**
 * RFC 9113 §5.1, Figure 2, as a client that never accepts pushes (we send ENABLE_PUSH=0,
 * so the two "reserved" states cannot occur):
 *
 *                        +--------+
 *                        |  idle  |
 *                        +--------+
 *                            | send H
 *                            v
 *                        +--------+
 *                recv ES |        | send ES
 *               ,--------|  open  |--------.
 *              /         |        |         \
 *             v          +--------+          v
 *     +----------+           |           +----------+
 *     |   half   |           | send R /  |   half   |
 *     |  closed  |           | recv R    |  closed  |
 *     | (remote) |           |           |  (local) |
 *     +----------+           |           +----------+
 *          | send ES /       v        recv ES / |
 *          | send R /    +--------+    send R / |
 *          | recv R      | closed |    recv R   |
 *          `-----------> |        | <-----------'
 *                        +--------+
 *
 * H = HEADERS, ES = END_STREAM flag, R = RST_STREAM. A closed state carries why it closed.
 */
export type StreamState =
  | { readonly kind: 'idle' }
  | { readonly kind: 'open' }
  | { readonly kind: 'half-closed-local' }
  | { readonly kind: 'half-closed-remote' }
  | { readonly kind: 'closed'; readonly cause: CloseCause; readonly errorCode: number }

/** What happened on the stream: a frame we sent or received (H = HEADERS, ES = END_STREAM, R = RST_STREAM). */
export const StreamEvent = {
  SEND_HEADERS: 'send-headers',
  SEND_END_STREAM: 'send-end-stream',
  RECV_HEADERS: 'recv-headers',
  RECV_END_STREAM: 'recv-end-stream',
  SEND_RESET: 'send-reset',
  RECV_RESET: 'recv-reset',
} as const
export type StreamEvent = (typeof StreamEvent)[keyof typeof StreamEvent]

// The states without data are shared: a transition allocates only when it closes with a cause.
const IDLE: StreamState = { kind: 'idle' }
const OPEN: StreamState = { kind: 'open' }
const HALF_CLOSED_LOCAL: StreamState = { kind: 'half-closed-local' }
const HALF_CLOSED_REMOTE: StreamState = { kind: 'half-closed-remote' }
const CLOSED_BY_END_STREAM: StreamState = { kind: 'closed', cause: 'end-stream', errorCode: 0 }

export const INITIAL_STREAM_STATE: StreamState = IDLE

/**
 * The one transition function (RFC 9113 §5.1). `errorCode` is the RST_STREAM code for the
 * reset events. Returns the next state, or null for a transition §5.1 does not allow.
 * A HEADERS we send always opens the stream; when it carries END_STREAM the caller sends
 * SEND_END_STREAM right after (the figure's "send H" then "send ES").
 */
export function nextStreamState(state: StreamState, event: StreamEvent, errorCode = 0): StreamState | null {
  switch (state.kind) {
    case 'idle':
      // §5.1 idle: "Sending a HEADERS frame as a client … causes the stream to become open."
      return event === StreamEvent.SEND_HEADERS ? OPEN : null
    case 'open':
      switch (event) {
        case StreamEvent.SEND_END_STREAM:
          return HALF_CLOSED_LOCAL
        case StreamEvent.RECV_END_STREAM:
          return HALF_CLOSED_REMOTE
        // §8.1: response HEADERS (1xx, final, trailers) arrive while the stream is open.
        case StreamEvent.RECV_HEADERS:
          return OPEN
        default:
          return closedByReset(event, errorCode)
      }
    case 'half-closed-local':
      // §5.1 half-closed (local): we send nothing more but RST_STREAM; the peer may send anything.
      switch (event) {
        case StreamEvent.RECV_HEADERS:
          return HALF_CLOSED_LOCAL
        case StreamEvent.RECV_END_STREAM:
          return CLOSED_BY_END_STREAM
        default:
          return closedByReset(event, errorCode)
      }
    case 'half-closed-remote':
      // §5.1 half-closed (remote): frames other than WINDOW_UPDATE, PRIORITY, RST_STREAM from
      // the peer are a stream error STREAM_CLOSED; we may still send until END_STREAM.
      switch (event) {
        case StreamEvent.SEND_END_STREAM:
          return CLOSED_BY_END_STREAM
        default:
          return closedByReset(event, errorCode)
      }
    case 'closed':
      return null
  }
}

/**
 * §5.1: in open and in both half-closed states, a RST_STREAM sent or received by either
 * endpoint closes the stream at once. Those states' remaining events end here too: anything
 * but a reset is a transition §5.1 does not allow (null).
 */
function closedByReset(event: StreamEvent, errorCode: number): StreamState | null {
  switch (event) {
    case StreamEvent.SEND_RESET:
      return { kind: 'closed', cause: 'reset-sent', errorCode }
    case StreamEvent.RECV_RESET:
      return { kind: 'closed', cause: 'reset-received', errorCode }
    default:
      return null
  }
}

/** True while the peer may still send HEADERS or DATA on the stream (§5.1). */
export function canReceive(state: StreamState): boolean {
  return state.kind === 'open' || state.kind === 'half-closed-local'
}

/** True while we may still send DATA on the stream (§5.1): END_STREAM not yet sent, no reset. */
export function canSend(state: StreamState): boolean {
  return state.kind === 'open' || state.kind === 'half-closed-remote'
}

/** Where the response is: what the next HEADERS frame from the peer means (RFC 9113 §8.1). */
export const ResponsePhase = {
  /** Waiting for the (1xx or final) response head. */
  HEAD: 0,
  /** Final head seen: DATA, or a trailer section ending the stream. */
  BODY: 1,
  /** Completed, failed or cancelled: nothing more reaches the handler. */
  DONE: 2,
} as const
export type ResponsePhase = (typeof ResponsePhase)[keyof typeof ResponsePhase]

/**
 * The session's record of one request. Plain fields, no closures but `resume`/`abort` bound
 * once per stream (the handler contract needs functions).
 */
export class H2Stream {
  readonly request: DispatchRequest
  readonly handler: DispatchHandler
  id = 0
  /** The §5.1 state; written only by `transition()`. */
  readonly state: StreamState = INITIAL_STREAM_STATE
  phase: ResponsePhase = ResponsePhase.HEAD
  sendWindow: SendWindow
  recvWindow: ReceiveWindow

  // ── request body (send side) ──
  /** Chunks waiting to go out as DATA, oldest first; `#sendOffset` into the first one. */
  readonly #sendQueue: Uint8Array[] = []
  #sendOffset = 0
  /** Octets queued and not yet sent; written only by `queue()`, `takeBytes()` and `dropQueue()`. */
  readonly queuedBytes: number = 0
  /**
   * The body source has no more chunks: END_STREAM goes with (or after) the last DATA.
   * (Whether END_STREAM went out is the state: half-closed (local) or closed.)
   */
  bodyEnded = false
  /** Registered with the write scheduler. */
  scheduled = false
  /** A streamed body's iterator while it is being read. */
  iterator: AsyncIterator<unknown> | undefined = undefined
  /** Resolves the body pump's wait for room in `sendQueue`. */
  wakeBody: (() => void) | null = null
  declaredLength: number
  /**
   * The content waits for 100 (Continue) (RFC 9110 §10.1.1): the in-memory bytes, or an empty
   * marker for a streamed body; null once released or when nothing is held.
   */
  heldBody: Uint8Array | null = null

  // ── response (receive side) ──
  /** content-length of the response, or -1 (RFC 9113 §8.1.1). */
  expectedLength = -1
  receivedLength = 0
  /** The response can have no content (HEAD request, 204, 304): DATA length is not checked against content-length. */
  noContent = false
  /** onData / onHeaders returned false: received chunks wait in `recvBuffer`, window credit in `unacked`. */
  paused = false
  /** resume() came before the pause it cancels (from inside onData). */
  resumeEarly = false
  readonly recvBuffer: Uint8Array[] = []
  /** Flow-controlled octets delivered (or padding) but not yet credited back because the stream is paused. */
  unacked = 0
  /** END_STREAM arrived while chunks were still buffered for a paused consumer. */
  endPending = false
  /** Trailers that arrived while paused with chunks buffered. */
  pendingTrailers: string[] | null = null

  /** Absolute time (performance.now ms) at which headersTimeout / bodyTimeout fires, or Infinity. */
  deadline = Infinity
  /**
   * Absolute time (performance.now ms) by which the request content waiting to go out must make
   * progress (bodyTimeout after the last DATA frame sent), or Infinity while nothing waits.
   */
  sendDeadline = Infinity
  /** A cancel is waiting for the reset pacer: the stream is dead to the handler, alive on the wire. */
  cancelQueued = false
  readonly resume: () => void
  readonly abort: (reason?: Error) => void

  constructor(
    request: DispatchRequest,
    handler: DispatchHandler,
    sendWindow: SendWindow,
    recvWindow: ReceiveWindow,
    declaredLength: number,
    resume: (stream: H2Stream) => void,
    abort: (stream: H2Stream, reason?: Error) => void,
  ) {
    this.request = request
    this.handler = handler
    this.sendWindow = sendWindow
    this.recvWindow = recvWindow
    this.declaredLength = declaredLength
    this.resume = () => resume(this)
    this.abort = (reason?: Error) => abort(this, reason)
  }

  /** The handler may no longer be called. */
  get done(): boolean {
    return this.phase === ResponsePhase.DONE
  }

  /**
   * The one writer of `state` (RFC 9113 §5.1): move on `event` (`errorCode`: the RST_STREAM
   * code of a reset event). Returns null when the move is listed; an unlisted move is a bug
   * of ours (src/state-machine.ts): it throws under test, and otherwise the state stays and
   * the internal error to fail the connection with (GOAWAY INTERNAL_ERROR) is returned.
   */
  transition(event: StreamEvent, errorCode = 0): IllegalTransitionError | null {
    const next = nextStreamState(this.state, event, errorCode)
    if (next === null) return illegalTransition(`HTTP/2 stream ${this.id}`, this.state.kind, event)
    ;(this as { state: StreamState }).state = next
    return null
  }

  // ── the send queue ──

  /** Queue request content (or tunnel bytes) to go out as DATA. */
  queue(chunk: Uint8Array): void {
    this.#sendQueue.push(chunk)
    ;(this as { queuedBytes: number }).queuedBytes += chunk.byteLength
  }

  /** Take `n` (≤ queuedBytes) octets off the front: a view when one chunk holds them (no copy for large in-memory bodies), else one copy. */
  takeBytes(n: number): Uint8Array {
    const queue = this.#sendQueue
    const first = queue[0] as Uint8Array
    const offset = this.#sendOffset
    ;(this as { queuedBytes: number }).queuedBytes -= n
    if (first.byteLength - offset >= n) {
      const view = first.subarray(offset, offset + n)
      this.#consumeFirst(offset + n)
      return view
    }
    const out = Buffer.allocUnsafe(n)
    let filled = 0
    while (filled < n) {
      const chunk = queue[0] as Uint8Array
      const start = this.#sendOffset
      const take = Math.min(chunk.byteLength - start, n - filled)
      out.set(chunk.subarray(start, start + take), filled)
      filled += take
      this.#consumeFirst(start + take)
    }
    return out
  }

  /** The content will never be sent (the stream failed, was reset or answered early). */
  dropQueue(): void {
    this.#sendQueue.length = 0
    this.#sendOffset = 0
    ;(this as { queuedBytes: number }).queuedBytes = 0
  }

  /** The first queued chunk is used up to `upTo`: drop it when that is its end, else move the offset. */
  #consumeFirst(upTo: number): void {
    const queue = this.#sendQueue
    if (upTo === (queue[0] as Uint8Array).byteLength) {
      queue.shift()
      this.#sendOffset = 0
    } else {
      this.#sendOffset = upTo
    }
  }
}

function noop(): void {}

/**
 * A Readable body's 'error' reaches the session through iteration; until then (and after)
 * this listener keeps it from being an unhandled 'error' event.
 */
export function attachBodyErrorSink(stream: H2Stream): void {
  const body = stream.request.body
  if (body !== null && body !== undefined && isReadable(body)) body.on('error', noop)
}

export function detachBodyErrorSink(stream: H2Stream): void {
  const body = stream.request.body
  if (body !== null && body !== undefined && isReadable(body)) body.off('error', noop)
}
