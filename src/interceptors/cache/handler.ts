/**
 * The handler `cache()` puts between a forwarded GET and its caller. It hands the response on
 * as it arrives — the body streams to the caller chunk by chunk, never held back — while
 * keeping a copy (references to the chunks, up to the entry bound) to store at the end. When
 * the request was a revalidation of a stored response it may instead answer from the store:
 * a 304 that applies (RFC 9111 §4.3.4) freshens the stored head and serves the stored body;
 * a failure while a stale-if-error window is open (RFC 5861 §4) serves the stale response.
 */
import type { ConnectionInfo, DispatchHandler, HeaderRecord, Protocol } from '../../dispatch.js'
import { DelegatingHandler } from '../../delegating-handler.js'
import { AbortedError, type WirepoolError } from '../../errors.js'
import { responseDirectives } from './cache-control.js'
import { freshness } from './freshness.js'
import { variantId, varyNames } from './key.js'
import { mayStore, notModifiedMatches, storedHeaders, updatedHeaders } from './policy.js'
import { replay } from './replay.js'
import type { CachedResponse } from './store.js'
import type { CacheContext, Lookup } from './context.js'
import { forget, persist, servedHead } from './context.js'

/** What the forwarded request is to the cache. */
export type ForwardMode =
  /** A miss (or a stored response without validators): store what comes. */
  | { kind: 'fetch' }
  /** The cache's own conditional request for `stale`: a 304 is answered from the store. */
  | { kind: 'revalidate' }
  /** The caller's own conditional request: a 304 freshens `stale` and goes to the caller as it is. */
  | { kind: 'client-conditional' }
  /** stale-while-revalidate's background revalidation: nobody waits for it; it only updates the store. */
  | { kind: 'background' }

type State =
  | { kind: 'waiting' }
  | { kind: 'passing'; chunks: Uint8Array[] | null; size: number; entry: Omit<CachedResponse, 'body'> | null }
  /** Answered another way: a replay of a stored response, or a refetch; `abort` reaches it. */
  | { kind: 'replaying'; abort: ((reason?: Error) => void) | undefined }
  | { kind: 'done' }

/** RFC 5861 §4: the statuses that count as an error for stale-if-error. */
const ERROR_STATUSES: ReadonlySet<number> = new Set([500, 502, 503, 504])

export class CacheHandler implements DispatchHandler {
  readonly #inner: DispatchHandler
  readonly #ctx: CacheContext
  readonly #lookup: Lookup
  readonly #stale: CachedResponse | undefined
  readonly #mode: ForwardMode
  #state: State = { kind: 'waiting' }
  #upstreamAbort: ((reason?: Error) => void) | undefined
  #innerConnected = false
  #protocol: Protocol = 'http/1.1'
  readonly #refetch: ((handler: DispatchHandler) => void) | undefined

  /** `refetch` sends the caller's request again without the cache's validators. */
  constructor(inner: DispatchHandler, ctx: CacheContext, lookup: Lookup, stale: CachedResponse | undefined, mode: ForwardMode, refetch?: (handler: DispatchHandler) => void) {
    this.#inner = inner
    this.#refetch = refetch
    this.#ctx = ctx
    this.#lookup = lookup
    this.#stale = stale
    this.#mode = mode
  }

  /** The abort the caller holds: the network request's, or the stored answer's once that runs. */
  readonly #abortForInner = (reason?: Error): void => {
    const state = this.#state
    if (state.kind === 'replaying') state.abort?.(reason)
    else this.#upstreamAbort?.(reason)
  }

  onConnect(abort: (reason?: Error) => void, info: ConnectionInfo): void {
    this.#upstreamAbort = abort
    this.#protocol = info.protocol
    if (this.#innerConnected) return
    this.#innerConnected = true
    this.#inner.onConnect?.(this.#abortForInner, info)
  }

  onInformational(status: number, headers: HeaderRecord): void {
    if (this.#state.kind === 'waiting') this.#inner.onInformational?.(status, headers)
  }

  onHeaders(status: number, headers: HeaderRecord, resume: () => void, statusText: string, rawHeaders?: readonly string[]): boolean | void {
    if (this.#state.kind !== 'waiting') return true
    const ctx = this.#ctx
    const responseTime = ctx.now()
    const stale = this.#stale
    if (status === 304 && stale !== undefined && this.#mode.kind !== 'fetch') {
      if (notModifiedMatches(stale.headers, headers)) return this.#notModified(stale, status, headers, resume, statusText, responseTime, rawHeaders)
      // A 304 for something we do not hold (§4.3.4: nothing is updated, the stored response
      // is outdated). The caller's own conditional request gets it as it is; the cache's
      // revalidation asks again, unconditionally, for the caller.
      forget(ctx, stale.key)
      if (this.#mode.kind === 'revalidate' && this.#refetch !== undefined) {
        const state: State = { kind: 'replaying', abort: undefined }
        this.#state = state
        this.#refetch(new Reattached(this.#inner, (abort) => (state.abort = abort)))
        return true
      }
      if (this.#mode.kind === 'background') {
        this.#state = { kind: 'done' }
        this.#inner.onComplete()
        return true
      }
    }
    if (stale !== undefined && ERROR_STATUSES.has(status) && this.#mode.kind !== 'background' && this.#staleIfError(stale)) {
      this.#serveStale(stale)
      return true
    }
    this.#state = { kind: 'passing', chunks: null, size: 0, entry: this.#draft(status, statusText, headers, responseTime) }
    if (this.#state.entry !== null) this.#state.chunks = []
    return this.#inner.onHeaders(status, headers, resume, statusText, rawHeaders)
  }

  onData(chunk: Uint8Array): boolean | void {
    const state = this.#state
    if (state.kind !== 'passing') return true
    if (state.chunks !== null) {
      state.size += chunk.byteLength
      // Past the bound the copy is dropped: the caller still gets every byte, the store none.
      if (state.size > this.#ctx.maxEntrySize) state.chunks = null
      else state.chunks.push(chunk)
    }
    return this.#inner.onData(chunk)
  }

  onTrailers(trailers: HeaderRecord): void {
    if (this.#state.kind === 'passing') this.#inner.onTrailers?.(trailers)
  }

  onComplete(): void {
    const state = this.#state
    if (state.kind !== 'passing') return
    this.#state = { kind: 'done' }
    if (state.entry !== null && state.chunks !== null) {
      const body = state.chunks.length === 1 ? (state.chunks[0] as Uint8Array) : Buffer.concat(state.chunks, state.size)
      persist(this.#ctx, this.#lookup, { ...state.entry, body })
    }
    this.#inner.onComplete()
  }

  onError(err: WirepoolError): void {
    const state = this.#state
    if (state.kind === 'replaying' || state.kind === 'done') return
    const stale = this.#stale
    if (state.kind === 'waiting' && stale !== undefined && this.#mode.kind !== 'background' && !(err instanceof AbortedError) && this.#staleIfError(stale)) {
      this.#serveStale(stale)
      return
    }
    this.#state = { kind: 'done' }
    this.#inner.onError(err)
  }

  /** The entry this response would become, or null when it may not be stored (§3). */
  #draft(status: number, statusText: string, headers: HeaderRecord, responseTime: number): Omit<CachedResponse, 'body'> | null {
    const lookup = this.#lookup
    const vary = varyNames(headers)
    if (vary === '*') return null
    const cc = responseDirectives(headers['cache-control'])
    const ok = mayStore({ status, headers, cc, request: lookup.cc, authorization: lookup.authorization, heuristic: this.#ctx.heuristic !== undefined })
    if (!ok) return null
    // The same length check the body gets: a declared length past the bound is not buffered at all.
    const length = Number(headers['content-length'])
    if (Number.isFinite(length) && length > this.#ctx.maxEntrySize) return null
    return {
      key: lookup.key,
      vary,
      variant: variantId(vary, lookup.headers),
      status,
      statusText,
      headers: storedHeaders(headers, cc.noCacheFields),
      requestTime: lookup.requestTime,
      responseTime,
      protocol: this.#protocol,
    }
  }

  #notModified(stale: CachedResponse, status: number, headers: HeaderRecord, resume: () => void, statusText: string, responseTime: number, rawHeaders?: readonly string[]): boolean | void {
    const ctx = this.#ctx
    ctx.counters.notModified++
    // §4.3.4: the stored response, freshened by the 304's fields and times.
    const merged: CachedResponse = { ...stale, headers: updatedHeaders(stale.headers, headers, responseDirectives(headers['cache-control']).noCacheFields), requestTime: this.#lookup.requestTime, responseTime }
    const cc = responseDirectives(merged.headers['cache-control'])
    if (mayStore({ status: merged.status, headers: merged.headers, cc, request: this.#lookup.cc, authorization: this.#lookup.authorization, heuristic: ctx.heuristic !== undefined })) {
      persist(ctx, this.#lookup, merged)
    } else {
      forget(ctx, stale.key)
    }
    if (this.#mode.kind === 'client-conditional') {
      // The caller asked the conditional question: the 304 is their answer.
      this.#state = { kind: 'passing', chunks: null, size: 0, entry: null }
      return this.#inner.onHeaders(status, headers, resume, statusText, rawHeaders)
    }
    if (this.#mode.kind === 'background') {
      this.#state = { kind: 'done' }
      this.#inner.onComplete()
      return true
    }
    this.#replay(merged)
    return true
  }

  /** RFC 5861 §4 (from the response or the request), unless the origin forbade stale answers. */
  #staleIfError(stale: CachedResponse): boolean {
    const f = freshness(stale, this.#ctx.now(), this.#ctx.heuristic)
    // §4.2.4: a stale response is never served against must-revalidate or no-cache.
    if (f.cc.mustRevalidate || f.cc.noCache) return false
    const window = Math.max(f.cc.staleIfError ?? -1, this.#lookup.cc.staleIfError ?? -1)
    return window >= 0 && -f.remaining <= window
  }

  #serveStale(stale: CachedResponse): void {
    this.#ctx.counters.staleIfError++
    this.#replay(stale)
    // The network's answer is not wanted any more.
    this.#upstreamAbort?.(new AbortedError('cache: served a stale response instead (stale-if-error)'))
  }

  #replay(entry: CachedResponse): void {
    const state: State = { kind: 'replaying', abort: undefined }
    this.#state = state
    const connected = this.#innerConnected ? { setAbort: (abort: (reason?: Error) => void) => (state.abort = abort) } : undefined
    this.#innerConnected = true
    replay(this.#inner, servedHead(entry, this.#ctx.now()), connected === undefined ? { signal: this.#lookup.signal } : { signal: this.#lookup.signal, connected })
  }
}

/** The caller's handler under a second request: it had its onConnect already; the new abort is handed to `setAbort`. */
class Reattached extends DelegatingHandler {
  readonly #setAbort: (abort: (reason?: Error) => void) => void

  constructor(inner: DispatchHandler, setAbort: (abort: (reason?: Error) => void) => void) {
    super(inner)
    this.#setAbort = setAbort
  }

  override onConnect(abort: (reason?: Error) => void): void {
    this.#setAbort(abort)
  }
}
