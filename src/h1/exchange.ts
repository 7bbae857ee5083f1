/**
 * One request/response pair on an HTTP/1.1 connection, as `H1Connection` tracks it. Plain
 * data with two small state fields; every transition is made by the connection.
 */
import type { DispatchHandler, DispatchRequest } from '../dispatch.js'

/**
 * Where the request stands on the wire. Requests are written strictly in order (RFC 9112
 * §9.3.2), so at most one exchange is ever in AWAITING_CONTINUE or STREAMING.
 *
 *   QUEUED ──► SENT                      head (+ in-memory body) written in one go
 *   QUEUED ──► AWAITING_CONTINUE ──► SENT | STREAMING
 *   QUEUED ──► STREAMING ──► SENT
 *   AWAITING_CONTINUE | STREAMING ──► ABANDONED   final response came first, or failure
 */
export const WriteState = {
  QUEUED: 0,
  AWAITING_CONTINUE: 1,
  STREAMING: 2,
  SENT: 3,
  ABANDONED: 4,
} as const
export type WriteState = (typeof WriteState)[keyof typeof WriteState]

/**
 * Where the response stands.
 *
 *   WAITING ──► STARTED ──► BODY ──► DONE       (STARTED: some byte of it arrived)
 *   any ──► DONE                                completed, failed or upgraded
 */
export const ReadState = {
  WAITING: 0,
  STARTED: 1,
  BODY: 2,
  DONE: 3,
} as const
export type ReadState = (typeof ReadState)[keyof typeof ReadState]

export class Exchange {
  readonly request: DispatchRequest
  readonly handler: DispatchHandler
  /** The serialised head, built at dispatch so a bad request throws before it is queued. */
  readonly head: string
  /** Bytes of content after the head: -1 chunked, 0 none (see serialize.contentLengthOf). */
  readonly contentLength: number
  write: WriteState = WriteState.QUEUED
  read: ReadState = ReadState.WAITING
  /** The consumer asked us to stop the body flow (onData/onHeaders returned false). */
  paused = false
  /**
   * `resume()` was called while not paused, i.e. inside the very onData call that is about
   * to return false: honour it by not pausing, instead of stalling forever.
   */
  resumeEarly = false
  /** `resume` handed to onHeaders; bound to this exchange so a late call cannot unpause a later one. */
  resume: () => void = noop
  /** The body iterator while streaming, so abandoning the body can stop its producer. */
  iterator: AsyncIterator<unknown> | undefined = undefined
  /** Error listener on a Readable body, removed when the exchange settles. */
  onBodyError: ((err: Error) => void) | undefined = undefined

  constructor(request: DispatchRequest, handler: DispatchHandler, head: string, contentLength: number) {
    this.request = request
    this.handler = handler
    this.head = head
    this.contentLength = contentLength
  }

  /** Some byte of this exchange's response arrived (SocketClosedError.responseStarted). */
  get responseStarted(): boolean {
    return this.read !== ReadState.WAITING
  }

  get done(): boolean {
    return this.read === ReadState.DONE
  }
}

function noop(): void {}
