/**
 * One attempt of one request on one connection, and the rules for sending a request again
 * (RFC 9110 §9.2.2, RFC 9113 §8.7, and the statuses a caller opted into with Retry-After,
 * RFC 9110 §10.2.3).
 */
import type { Duplex } from 'node:stream'
import type { ConnectionInfo, DispatchHandler, HeaderRecord } from '../dispatch.js'
import { AbortedError, ErrorCode, SocketClosedError, type WirepoolError } from '../errors.js'
import { isReplayableBody } from '../body-source.js'
import type { ResolvedRetry } from '../options.js'
import { backoffDelay, parseRetryAfter } from './retry.js'
import type { ConnectionRecord } from './lifecycle.js'
import type { QueueEntry } from './wait-queue.js'
import type { Timings } from '../timings.js'

/** The request may be sent again at all: idempotent, replayable, attempts left. */
export function mayRetry(entry: QueueEntry, policy: ResolvedRetry, poolClosed: boolean): boolean {
  if (poolClosed || entry.finished || entry.signal?.aborted) return false
  if (entry.retries >= policy.attempts || entry.coalesced) return false
  return entry.request.idempotent && isReplayableBody(entry.request.body)
}

/**
 * RFC 9110 §9.2.2: a client may repeat an idempotent request when the connection failed
 * before it saw a response. A socket failure counts only when no byte of the response
 * arrived and the socket had served an earlier request (the stale keep-alive race); an
 * HTTP/2 peer may also say outright that it did not process a stream (GOAWAY above
 * last-stream-id, REFUSED_STREAM: RFC 9113 §8.7), which the error marks `retryable`.
 */
export function isRetryableFailure(reusedConnection: boolean, err: WirepoolError): boolean {
  const marks = err as { responseStarted?: boolean; retryable?: boolean }
  if (marks.retryable === true) return true
  if (err.code !== ErrorCode.SOCKET_CLOSED || (err as SocketClosedError).responseStarted) return false
  return reusedConnection
}

/**
 * A final response with a status the caller opted into retrying (the request being
 * retryable at all is the caller's check): the delay before the next attempt, or undefined
 * to hand the response over as it is (a Retry-After beyond `maxRetryAfter`).
 */
export function statusRetryDelay(policy: ResolvedRetry, retries: number, headers: HeaderRecord): number | undefined {
  const retryAfter = parseRetryAfter(headers['retry-after'])
  if (retryAfter !== undefined) return retryAfter <= policy.maxRetryAfter ? retryAfter : undefined
  return Math.max(policy.minDelay, backoffDelay(retries + 1, policy))
}

/** What an attempt reports to its pool. */
export interface AttemptOwner {
  /** The delay before sending again after this status, or undefined to deliver the response. */
  statusRetryDelay(attempt: PooledAttempt, status: number, headers: HeaderRecord): number | undefined
  /** The discarded response of a status retry has been read in full. */
  retryAfterStatus(attempt: PooledAttempt, delayMs: number): void
  /** The response ended (or was upgraded): the request is done. */
  completed(attempt: PooledAttempt): void
  /** The attempt failed: retry it, or fail the request. */
  failed(attempt: PooledAttempt, err: WirepoolError): void
  /** A 101 handed a socket to its caller (WebSocket). */
  upgraded(socket: Duplex): void
}

/**
 * The handler a connection drives for one attempt of one request: forwards to the caller's
 * handler, and turns a retryable failure into a re-queue instead of an error.
 */
export class PooledAttempt implements DispatchHandler {
  readonly entry: QueueEntry
  /** The connection it was sent on (whatever state that is in by now). */
  readonly rec: ConnectionRecord
  readonly reusedConnection: boolean
  /** The request's timings (the entry's), whose attempt edges this attempt fills in. */
  readonly timings: Timings
  readonly #owner: AttemptOwner
  headersSeen = false
  status = 0
  /** Set once the connection is done with this attempt (or it was never sent). */
  #detached = false
  /** Set when this response is being read only to be dropped before a status retry. */
  #discardDelay: number | undefined

  constructor(owner: AttemptOwner, entry: QueueEntry, rec: ConnectionRecord, reusedConnection: boolean, timings: Timings) {
    this.#owner = owner
    this.entry = entry
    this.rec = rec
    this.reusedConnection = reusedConnection
    this.timings = timings
  }

  detach(): void {
    this.#detached = true
  }

  onConnect(abort: (reason?: Error) => void, info: ConnectionInfo): void {
    if (this.#detached) return
    this.entry.abort = abort
    info.timings = this.timings
    const handler = this.entry.handler
    if (handler.onConnect !== undefined) handler.onConnect(abort, info)
    if (this.entry.signal?.aborted) abort(new AbortedError('request aborted', { cause: this.entry.signal.reason }))
  }

  onRequestSent(): void {
    if (this.#detached) return
    this.timings.sent = performance.now() - this.timings.start
    const onRequestSent = this.entry.handler.onRequestSent
    if (onRequestSent === undefined) return
    try {
      onRequestSent.call(this.entry.handler)
    } catch (err) {
      // As a throwing onConnect: that one request fails with it.
      this.entry.abort?.(err instanceof Error ? err : new Error(String(err)))
    }
  }

  onInformational(status: number, headers: HeaderRecord): void {
    if (this.#detached) return
    this.entry.handler.onInformational?.(status, headers)
  }

  onHeaders(status: number, headers: HeaderRecord, resume: () => void, statusText: string, rawHeaders?: readonly string[]): boolean | void {
    if (this.#detached) return
    this.timings.firstByte = performance.now() - this.timings.start
    this.status = status
    const delay = this.#owner.statusRetryDelay(this, status, headers)
    if (delay !== undefined) {
      // Read the (usually small) body to the end so the connection stays reusable, then
      // send again; the caller never sees this response.
      this.#discardDelay = delay
      return true
    }
    this.headersSeen = true
    return this.entry.handler.onHeaders(status, headers, resume, statusText, rawHeaders)
  }

  onData(chunk: Uint8Array): boolean | void {
    if (this.#detached || this.#discardDelay !== undefined) return true
    return this.entry.handler.onData(chunk)
  }

  onTrailers(trailers: HeaderRecord): void {
    if (this.#detached || this.#discardDelay !== undefined) return
    this.entry.handler.onTrailers?.(trailers)
  }

  onComplete(): void {
    if (this.#detached) return
    this.#detached = true
    this.timings.end = performance.now() - this.timings.start
    if (this.#discardDelay !== undefined) {
      this.#owner.retryAfterStatus(this, this.#discardDelay)
      return
    }
    this.#owner.completed(this)
    this.entry.handler.onComplete()
  }

  onError(err: WirepoolError): void {
    if (this.#detached) return
    this.#detached = true
    this.#owner.failed(this, err)
  }

  onUpgrade(status: number, headers: HeaderRecord, socket: Duplex, head: Uint8Array): void {
    if (this.#detached) return
    this.#detached = true
    this.timings.firstByte = performance.now() - this.timings.start
    this.#owner.completed(this)
    const handler = this.entry.handler
    if (handler.onUpgrade === undefined) {
      socket.destroy()
      deliverError(handler, new SocketClosedError('unexpected upgrade', { responseStarted: true }))
      return
    }
    this.#owner.upgraded(socket)
    handler.onUpgrade(status, headers, socket, head)
  }
}

/** Tell a caller's handler its request failed; its throwing must not take the pool down with it. */
export function deliverError(handler: DispatchHandler, err: WirepoolError): void {
  try {
    handler.onError(err)
  } catch (thrown) {
    process.nextTick(() => {
      throw thrown
    })
  }
}
