/**
 * One request/response pair on an HTTP/1.1 connection, as `H1Connection` tracks it: plain
 * data with two small state machines, the request's progress on the wire (`write`) and the
 * response's (`read`). Each changes only through its one function, `moveWrite` / `moveRead`,
 * which accept the moves listed below and reject any other (src/state-machine.ts).
 */
import { isAsyncIterable } from '../body-source.js'
import type { DispatchHandler, DispatchRequest } from '../dispatch.js'
import { InvalidArgumentError } from '../errors.js'
import { illegalTransition } from '../state-machine.js'
import { contentLengthOf, serializeHead, type ForwardProxyForm } from './serialize.js'

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
 *   WAITING | STARTED ──► DONE                  failed, or upgraded
 */
export const ReadState = {
  WAITING: 0,
  STARTED: 1,
  BODY: 2,
  DONE: 3,
} as const
export type ReadState = (typeof ReadState)[keyof typeof ReadState]

const W = WriteState
const R = ReadState
export const WRITE_NAMES = ['queued', 'awaiting-continue', 'streaming', 'sent', 'abandoned'] as const
export const READ_NAMES = ['waiting', 'started', 'body', 'done'] as const

/** Listed moves as bit sets: `WRITE_MOVES[from] & (1 << to)` (a table lookup, no array search per move). */
const WRITE_MOVES: readonly number[] = [
  /* QUEUED */ (1 << W.SENT) | (1 << W.AWAITING_CONTINUE) | (1 << W.STREAMING),
  /* AWAITING_CONTINUE */ (1 << W.SENT) | (1 << W.STREAMING) | (1 << W.ABANDONED),
  /* STREAMING */ (1 << W.SENT) | (1 << W.ABANDONED),
  /* SENT */ 0,
  /* ABANDONED */ 0,
]
const READ_MOVES: readonly number[] = [
  /* WAITING */ (1 << R.STARTED) | (1 << R.DONE),
  /* STARTED */ (1 << R.BODY) | (1 << R.DONE),
  /* BODY */ 1 << R.DONE,
  /* DONE */ 0,
]

export class Exchange {
  readonly request: DispatchRequest
  readonly handler: DispatchHandler
  /** The serialised head, built at dispatch so a bad request throws before it is queued. */
  readonly head: string
  /** Bytes of content after the head: -1 chunked, 0 none (see serialize.contentLengthOf). */
  readonly contentLength: number
  #write: WriteState = W.QUEUED
  #read: ReadState = R.WAITING
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
  /** Error listener on a Readable body, removed when the exchange is done. */
  onBodyError: ((err: Error) => void) | undefined = undefined
  /** The response's Content-Length (-1: chunked or none) and body bytes so far: what a premature close reports. */
  responseLength = -1
  bodyReceived = 0

  constructor(request: DispatchRequest, handler: DispatchHandler, head: string, contentLength: number) {
    this.request = request
    this.handler = handler
    this.head = head
    this.contentLength = contentLength
  }

  get write(): WriteState {
    return this.#write
  }

  get read(): ReadState {
    return this.#read
  }

  /** The one place the request's progress changes. False (production) for an unlisted move, which is not made. */
  moveWrite(to: WriteState): boolean {
    const from = this.#write
    if ((WRITE_MOVES[from]! & (1 << to)) === 0) return refused('request write', WRITE_NAMES[from], WRITE_NAMES[to])
    this.#write = to
    return true
  }

  /** The one place the response's progress changes. False (production) for an unlisted move, which is not made. */
  moveRead(to: ReadState): boolean {
    const from = this.#read
    if ((READ_MOVES[from]! & (1 << to)) === 0) return refused('response read', READ_NAMES[from], READ_NAMES[to])
    this.#read = to
    return true
  }

  /** Some byte of this exchange's response arrived (SocketClosedError.responseStarted). */
  get responseStarted(): boolean {
    return this.#read !== R.WAITING
  }

  get done(): boolean {
    return this.#read === R.DONE
  }
}

/**
 * A new exchange, its head serialised. Throws InvalidArgumentError, before anything is
 * queued, for a request that cannot be framed: an in-memory body whose length is not its
 * declared one, a body of no known kind, or a head value that would break the framing.
 */
export function frameExchange(request: DispatchRequest, handler: DispatchHandler, forward?: ForwardProxyForm): Exchange {
  const body = request.body
  const contentLength = contentLengthOf(request)
  if (typeof body === 'string') {
    if (Buffer.byteLength(body) !== contentLength) throw new InvalidArgumentError('bodyLength does not match the string body')
  } else if (body instanceof Uint8Array) {
    if (body.byteLength !== contentLength) throw new InvalidArgumentError('bodyLength does not match the body')
  } else if (body !== null && body !== undefined && !isAsyncIterable(body)) {
    throw new InvalidArgumentError('body must be a string, Uint8Array, Readable or AsyncIterable<Uint8Array>')
  }
  return new Exchange(request, handler, serializeHead(request, forward), contentLength)
}

function noop(): void {}

/** An unlisted move: throws under test (illegalTransition); in production it is not made, and the owner fails the connection. */
export function refused(machine: string, from: string, to: string): false {
  illegalTransition(machine, from, to)
  return false
}
