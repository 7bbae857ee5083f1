/**
 * `cache()`: a private HTTP cache (RFC 9111) as an interceptor (docs/cache.md). GETs are
 * answered from the store while fresh, revalidated with conditional requests when stale,
 * served stale where stale-while-revalidate / stale-if-error allow (RFC 5861); unsafe
 * requests invalidate what they may have changed (§4.4). Everything else passes through.
 */
import type { DispatchHandler, HeaderRecord } from '../../dispatch.js'
import { DelegatingHandler } from '../../delegating-handler.js'
import { InvalidArgumentError, toWirepoolError } from '../../errors.js'
import type { RequestOptions } from '../../request-options.js'
import type { Dispatch, Interceptor } from '../compose.js'
import { headerEntries } from '../request-headers.js'
import { withOption } from '../options-copy.js'
import { requestDirectives } from './cache-control.js'
import { type CacheContext, type Counters, type Lookup, forget, servedHead } from './context.js'
import type { HeuristicOptions } from './freshness.js'
import { CacheHandler, type ForwardMode } from './handler.js'
import { primaryKey } from './key.js'
import { MemoryCacheStore } from './memory-store.js'
import { invalidationTargets, isUnsafe } from './policy.js'
import { replay } from './replay.js'
import { select } from './select.js'
import type { CachedResponse, CacheStore } from './store.js'

export interface CacheOptions {
  /** Where responses are kept. Default: a `new MemoryCacheStore()` (64 MiB, 1024 responses). */
  store?: CacheStore
  /** A body larger than this is streamed to the caller but not stored. Default: the store's `maxEntrySize`, else 8 MiB. */
  maxEntrySize?: number
  /**
   * Heuristic freshness (RFC 9111 §4.2.2) for responses with Last-Modified and no explicit
   * lifetime: off unless asked. `true` is 10% of the time since Last-Modified, at most a day.
   */
  heuristic?: boolean | { fraction?: number; maxSeconds?: number }
  /** The clock, ms since the epoch (for tests). Default `Date.now`. */
  now?: () => number
}

/** What a cache() has done (its own counts, `Counters`) and what its store holds. */
export interface CacheStats extends Counters {
  /** From the store, when it reports them (`MemoryCacheStore` does): responses kept, their bytes, evictions. */
  entries: number | undefined
  bytes: number | undefined
  evictions: number | undefined
}

/** An interceptor that also reports what it did. */
export interface CacheInterceptor extends Interceptor {
  stats(): CacheStats
  readonly store: CacheStore
}

function heuristicOption(value: CacheOptions['heuristic']): HeuristicOptions | undefined {
  if (value === undefined || value === false) return undefined
  if (value === true) return { fraction: 0.1, maxSeconds: 86400 }
  if (typeof value !== 'object' || value === null) throw new InvalidArgumentError('cache(): heuristic must be a boolean or { fraction, maxSeconds }')
  const fraction = value.fraction ?? 0.1
  const maxSeconds = value.maxSeconds ?? 86400
  if (typeof fraction !== 'number' || !(fraction > 0 && fraction <= 1)) throw new InvalidArgumentError('cache(): heuristic.fraction must be a number in (0, 1]')
  if (typeof maxSeconds !== 'number' || !(maxSeconds >= 0)) throw new InvalidArgumentError('cache(): heuristic.maxSeconds must be a non-negative number')
  return { fraction, maxSeconds }
}

function checkStore(store: unknown): CacheStore {
  const s = store as Partial<CacheStore> | null
  if (s === null || typeof s !== 'object' || typeof s.get !== 'function' || typeof s.put !== 'function' || typeof s.delete !== 'function') {
    throw new InvalidArgumentError('cache(): store must have get(), put() and delete()')
  }
  return s as CacheStore
}

export function cache(options: CacheOptions = {}): CacheInterceptor {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError('cache(): options must be an object')
  const store = options.store === undefined ? new MemoryCacheStore() : checkStore(options.store)
  const maxEntrySize = options.maxEntrySize ?? store.maxEntrySize ?? 8 * 1024 * 1024
  if (typeof maxEntrySize !== 'number' || !(maxEntrySize >= 0)) throw new InvalidArgumentError('cache(): maxEntrySize must be a non-negative number')
  const now = options.now ?? Date.now
  if (typeof now !== 'function') throw new InvalidArgumentError('cache(): now must be a function')
  const counters: Counters = { hits: 0, misses: 0, revalidations: 0, notModified: 0, staleWhileRevalidate: 0, staleIfError: 0, stores: 0, invalidations: 0, storeErrors: 0, backgroundErrors: 0 }
  const ctx: CacheContext = { store, now, heuristic: heuristicOption(options.heuristic), maxEntrySize, counters }
  /** Background revalidations in flight, by key and variant: at most one each. */
  const background = new Set<string>()

  const interceptor = ((dispatch: Dispatch): Dispatch =>
    (opts, handler) => {
      const method = opts.method ?? 'GET'
      if (method !== 'GET') {
        if (!isUnsafe(method)) return dispatch(opts, handler)
        const target = targetOf(opts)
        return dispatch(opts, target === undefined ? handler : new InvalidatingHandler(handler, ctx, target))
      }
      // An upgrade is not a response to keep; a GET with content has no defined meaning (RFC 9110 §9.3.1).
      if (opts.upgrade !== undefined || (opts.body !== undefined && opts.body !== null)) return dispatch(opts, handler)
      const url = targetOf(opts)
      if (url === undefined) return dispatch(opts, handler)
      const headers = headerEntries(opts.headers)
      const fieldOf = (name: string): string[] | undefined => {
        const values = headers.filter(([n]) => n === name).map(([, v]) => v)
        return values.length === 0 ? undefined : values
      }
      const key = primaryKey(url)
      const requestTime = now()
      lookupAndAnswer(dispatch, opts, handler, {
        url,
        key,
        headers,
        cc: requestDirectives(fieldOf('cache-control'), fieldOf('pragma')),
        authorization: fieldOf('authorization') !== undefined,
        requestTime,
        signal: opts.signal,
        stored: [],
      }).catch((err: unknown) => handler.onError(toWirepoolError(err)))
    }) as CacheInterceptor

  async function lookupAndAnswer(dispatch: Dispatch, opts: RequestOptions, handler: DispatchHandler, base: Lookup): Promise<void> {
    let stored: readonly CachedResponse[] = []
    try {
      stored = (await store.get(base.key)) ?? []
    } catch {
      // A store that fails to read is a miss, not a failed request.
      counters.storeErrors++
    }
    const lookup: Lookup = { ...base, stored }
    const decision = select({ headers: lookup.headers, cc: lookup.cc, stored, now: now(), heuristic: ctx.heuristic })
    switch (decision.kind) {
      case 'hit': {
        counters.hits++
        const head = servedHead(decision.entry, now())
        if (decision.notModified) {
          replay(handler, { ...head, status: 304, statusText: 'Not Modified', headers: notModifiedHead(head.headers), body: new Uint8Array(0) }, { signal: lookup.signal })
        } else {
          replay(handler, head, { signal: lookup.signal })
        }
        return
      }
      case 'stale-while-revalidate': {
        counters.staleWhileRevalidate++
        revalidateInBackground(dispatch, opts, lookup, decision.entry)
        replay(handler, servedHead(decision.entry, now()), { signal: lookup.signal })
        return
      }
      case 'only-if-cached':
        counters.misses++
        // §5.2.1.7: "respond using a stored response or a 504 (Gateway Timeout)".
        replay(handler, { status: 504, statusText: 'Gateway Timeout', headers: { 'content-length': '0' }, body: new Uint8Array(0), protocol: 'http/1.1' }, { signal: lookup.signal })
        return
      case 'revalidate': {
        counters.revalidations++
        const refetch = (again: DispatchHandler): void => forward(dispatch, opts, again, { ...lookup, stored: [] }, undefined, { kind: 'fetch' })
        forward(dispatch, withValidators(opts, decision.entry), handler, lookup, decision.entry, { kind: 'revalidate' }, refetch)
        return
      }
      case 'client-conditional':
        forward(dispatch, opts, handler, lookup, decision.entry, { kind: 'client-conditional' })
        return
      case 'fetch':
        counters.misses++
        forward(dispatch, opts, handler, lookup, decision.entry, { kind: 'fetch' })
        return
      case 'bypass':
        dispatch(opts, handler)
        return
    }
  }

  function forward(dispatch: Dispatch, opts: RequestOptions, handler: DispatchHandler, lookup: Lookup, entry: CachedResponse | undefined, mode: ForwardMode, refetch?: (handler: DispatchHandler) => void): void {
    const wrapped = new CacheHandler(handler, ctx, lookup, entry, mode, refetch)
    try {
      dispatch(opts, wrapped)
    } catch (err) {
      wrapped.onError(toWirepoolError(err))
    }
  }

  /**
   * RFC 5861 §3: one conditional request per stored variant, nobody waiting on it. It drops
   * the caller's signal and progress listener (the caller already has its answer); whatever
   * happens to it is counted, never thrown or left as an unhandled rejection.
   */
  function revalidateInBackground(dispatch: Dispatch, opts: RequestOptions, lookup: Lookup, entry: CachedResponse): void {
    const id = `${entry.key}\n${entry.variant}`
    if (background.has(id)) return
    background.add(id)
    counters.revalidations++
    const { signal: _signal, onProgress: _onProgress, ...rest } = withValidators(opts, entry)
    const settle = (failed: boolean): void => {
      background.delete(id)
      if (failed) counters.backgroundErrors++
    }
    const sink: DispatchHandler = {
      onHeaders: () => true,
      onData: () => true,
      onComplete: () => settle(false),
      onError: () => settle(true),
    }
    forward(dispatch, rest, sink, { ...lookup, signal: undefined }, entry, { kind: 'background' })
  }

  Object.defineProperty(interceptor, 'store', { value: store, enumerable: true })
  interceptor.stats = (): CacheStats => {
    const s = typeof store.stats === 'function' ? store.stats() : undefined
    return { ...counters, entries: s?.entries, bytes: s?.bytes, evictions: s?.evictions }
  }
  return interceptor
}

/** The request's target, or undefined when the options do not make one (the core will say why). */
function targetOf(opts: RequestOptions): URL | undefined {
  try {
    if (opts.url !== undefined) return new URL(opts.url)
    if (opts.origin !== undefined) return new URL(opts.path ?? '/', opts.origin)
  } catch {
    return undefined
  }
  return undefined
}

/** §4.3.1: the stored response's validators, as the conditional request that checks it. */
function withValidators(opts: RequestOptions, entry: CachedResponse): RequestOptions {
  const headers = headerEntries(opts.headers).filter(([name]) => name !== 'if-none-match' && name !== 'if-modified-since')
  const etag = entry.headers['etag']
  const lastModified = entry.headers['last-modified']
  if (etag !== undefined) headers.push(['if-none-match', Array.isArray(etag) ? (etag[0] as string) : etag])
  if (lastModified !== undefined) headers.push(['if-modified-since', Array.isArray(lastModified) ? (lastModified[0] as string) : lastModified])
  return withOption(opts, 'headers', headers)
}

/** RFC 9110 §15.4.5: a 304 carries the fields a 200 would that describe caching and identity, not the content's framing. */
function notModifiedHead(headers: HeaderRecord): HeaderRecord {
  const out: HeaderRecord = {}
  for (const name of ['cache-control', 'content-location', 'date', 'etag', 'expires', 'last-modified', 'vary', 'age']) {
    const value = headers[name]
    if (value !== undefined) out[name] = value
  }
  return out
}

/** RFC 9111 §4.4: a non-error answer to an unsafe request invalidates what it names. */
class InvalidatingHandler extends DelegatingHandler {
  readonly #ctx: CacheContext
  readonly #target: URL

  constructor(inner: DispatchHandler, ctx: CacheContext, target: URL) {
    super(inner)
    this.#ctx = ctx
    this.#target = target
  }

  override onHeaders(status: number, headers: HeaderRecord, resume: () => void, statusText: string, rawHeaders?: readonly string[]): boolean | void {
    const ctx = this.#ctx
    for (const url of invalidationTargets(this.#target, status, headers)) {
      ctx.counters.invalidations++
      // Started now, before the caller sees the answer, so a GET it sends next cannot be served the old one.
      forget(ctx, primaryKey(url))
    }
    return super.onHeaders(status, headers, resume, statusText, rawHeaders)
  }
}
