/**
 * Requests waiting for a connection, first come first served, and the affinity bindings
 * (caller-supplied key → the connection its requests go to) that let keyed requests wait for
 * their own connection without holding up the others.
 */
import type { DispatchHandler, DispatchRequest } from '../dispatch.js'
import type { Timings } from '../timings.js'
import type { ConnectionRecord } from './lifecycle.js'

/** One request of a pool, from `request()` until its handler saw the end, across its attempts. */
export interface QueueEntry {
  readonly request: DispatchRequest
  readonly handler: DispatchHandler
  readonly signal: AbortSignal | undefined
  /** `performance.now()` when the request was made: its timings' `start`. */
  readonly enqueuedAt: number
  /** Made when it is first handed to a connection; its retries reuse it (src/timings.ts). */
  timings: Timings | undefined
  /** Re-sends so far after retryable failures. */
  retries: number
  /**
   * Set after a stale-socket failure (the connection closed before any byte of the response):
   * the id of the newest connection record at that moment. The retry goes only on a connection
   * that cannot be of the generation that failed (selection.ts `pickFresh`).
   */
  freshAfter: number | undefined
  /** It had to queue while every connection allowed was open (counts toward waitMs). */
  atLimit: boolean
  /** True from the moment the entry left the queue until it failed over to the queue again. */
  dispatched: boolean
  /** `abort` handed out by the connection for the current attempt. */
  abort: ((reason?: Error) => void) | undefined
  /** Set once the caller's handler saw onComplete or onError. */
  finished: boolean
  /** The listener on `signal` (removed once the entry finishes). */
  onAbort: (() => void) | undefined
  /** Pending backoff before the next attempt. */
  retryTimer: NodeJS.Timeout | undefined
  /** The request's overall `timeout`, only when one was set. */
  deadline: NodeJS.Timeout | undefined
  /** Caller-supplied key: requests with the same key go to the same connection while it lives. */
  readonly affinity: string | undefined
  /** Another origin's request on this pool's connection: never retried here (its handler resends it). */
  readonly coalesced: boolean
}

/**
 * A class, not an object literal: an entry points at its request's handler and so at the
 * whole request, and a literal may be pretenured by V8 (see AnnouncedConnection in
 * src/dispatch.ts for what that cost).
 */
class Entry implements QueueEntry {
  readonly request: DispatchRequest
  readonly handler: DispatchHandler
  readonly signal: AbortSignal | undefined
  readonly enqueuedAt: number
  timings: Timings | undefined = undefined
  retries = 0
  freshAfter: number | undefined = undefined
  atLimit = false
  dispatched = false
  abort: ((reason?: Error) => void) | undefined = undefined
  finished = false
  onAbort: (() => void) | undefined = undefined
  retryTimer: NodeJS.Timeout | undefined = undefined
  deadline: NodeJS.Timeout | undefined = undefined
  readonly affinity: string | undefined
  readonly coalesced: boolean

  constructor(request: DispatchRequest, handler: DispatchHandler, signal: AbortSignal | undefined, affinity: string | undefined, coalesced: boolean) {
    this.request = request
    this.handler = handler
    this.signal = signal
    this.enqueuedAt = performance.now()
    this.affinity = affinity
    this.coalesced = coalesced
  }
}

export function newEntry(request: DispatchRequest, handler: DispatchHandler, signal: AbortSignal | undefined, affinity: string | undefined, coalesced: boolean): QueueEntry {
  return new Entry(request, handler, signal, affinity, coalesced)
}

/** Longest affinity key accepted (keys are caller data kept in memory). */
export const MAX_AFFINITY_KEY = 256
/** Bindings kept per pool; the oldest is forgotten beyond this. */
export const MAX_AFFINITY_BINDINGS = 10_000

export class WaitQueue {
  /** Waiting entries, oldest first (retries go back to the front). */
  readonly entries: QueueEntry[] = []
  /** Queued entries that carry an affinity key (the queue is scanned past its head while > 0). */
  keyed = 0
  /** Affinity key → the connection its requests go to (bounded: oldest bindings forgotten). */
  readonly #bindings = new Map<string, ConnectionRecord>()

  get length(): number {
    return this.entries.length
  }

  add(entry: QueueEntry, atFront: boolean): void {
    if (atFront) this.entries.unshift(entry)
    else this.entries.push(entry)
    if (entry.affinity !== undefined) this.keyed++
  }

  removeAt(index: number): QueueEntry {
    const entry = (index === 0 ? this.entries.shift() : this.entries.splice(index, 1)[0]) as QueueEntry
    if (entry.affinity !== undefined) this.keyed--
    return entry
  }

  /** Remove `entry` if it is queued; false when it is not. */
  remove(entry: QueueEntry): boolean {
    const i = this.entries.indexOf(entry)
    if (i === -1) return false
    this.removeAt(i)
    return true
  }

  takeAll(): QueueEntry[] {
    this.keyed = 0
    return this.entries.splice(0)
  }

  /** The connection `key`'s requests go to, if bound. */
  boundTo(key: string): ConnectionRecord | undefined {
    return this.#bindings.get(key)
  }

  isBound(key: string): boolean {
    return this.#bindings.has(key)
  }

  /** Requests with this key go to `rec` from now on, while it lives and takes requests. */
  bind(key: string, rec: ConnectionRecord): void {
    const bindings = this.#bindings
    const previous = bindings.get(key)
    if (previous === rec) return
    previous?.affinityKeys?.delete(key)
    bindings.delete(key)
    if (bindings.size >= MAX_AFFINITY_BINDINGS) {
      // Forget the oldest binding: its next request simply picks (and binds) afresh.
      const [oldestKey, oldestRec] = bindings.entries().next().value as [string, ConnectionRecord]
      oldestRec.affinityKeys?.delete(oldestKey)
      bindings.delete(oldestKey)
    }
    bindings.set(key, rec)
    ;(rec.affinityKeys ??= new Set()).add(key)
  }

  /** A connection that stops taking requests releases its keys; their requests rebind. */
  unbind(rec: ConnectionRecord): void {
    const keys = rec.affinityKeys
    if (keys === undefined) return
    for (const key of keys) this.#bindings.delete(key)
    rec.affinityKeys = undefined
  }
}
