/**
 * Interceptors: one matcher and the reply it gives, how many times (`times(n)`, `persist()`),
 * after which delay. `mock.get(origin).intercept(options)` makes one; `reply()` or
 * `replyWithError()` arms it and returns its scope.
 */
import type { Readable } from 'node:stream'
import type { HeaderRecord, Protocol } from '../dispatch.js'
import { describeMatcher, type InterceptOptions, type MockRequest, type OriginMatcher } from './matchers.js'

export type MockBody = string | Uint8Array | Readable | AsyncIterable<Uint8Array> | undefined

/** A JSON-serialisable value given as a body is sent as JSON (with `content-type: application/json` unless set). */
export type MockBodyInit = MockBody | Record<string, unknown> | unknown[] | number | boolean | null

export interface ReplyOptions {
  headers?: Record<string, string | number | readonly string[]>
  trailers?: Record<string, string | readonly string[]>
  statusText?: string
  /** What `res.protocol` / `onConnect` report. Default 'http/1.1'. */
  protocol?: Protocol
  /** Fail the response with `error` after this many body bytes (a reset mid-body). */
  failAfterBytes?: number
  error?: Error
}

export interface ReplyResult extends ReplyOptions {
  status: number
  body?: MockBodyInit
}

export type ReplyFunction = (request: MockRequest) => ReplyResult | Promise<ReplyResult>

/** What an interceptor answers: a reply (fixed or computed) or an error. */
export type MockReply = { kind: 'reply'; reply: ReplyFunction } | { kind: 'error'; error: Error }

/** One armed interceptor, as the agent keeps it. */
export class Interceptor {
  readonly origin: OriginMatcher
  readonly options: InterceptOptions
  readonly reply: MockReply
  /** Answers left (Infinity with persist()). */
  remaining = 1
  persistent = false
  delayMs = 0
  /** How many requests it answered. */
  invoked = 0

  constructor(origin: OriginMatcher, options: InterceptOptions, reply: MockReply) {
    this.origin = origin
    this.options = options
    this.reply = reply
  }

  get pending(): boolean {
    return this.persistent ? this.invoked === 0 : this.remaining > 0
  }

  get usable(): boolean {
    return this.persistent || this.remaining > 0
  }

  use(): void {
    this.invoked++
    if (!this.persistent) this.remaining--
  }

  describe(): PendingInterceptor {
    return {
      origin: describeMatcher(this.origin),
      method: describeMatcher(this.options.method ?? 'GET'),
      path: describeMatcher(this.options.path),
      ...(this.options.query === undefined ? {} : { query: this.options.query }),
      persist: this.persistent,
      remaining: this.persistent ? Infinity : this.remaining,
      invoked: this.invoked,
    }
  }
}

export interface PendingInterceptor {
  origin: string
  method: string
  path: string
  query?: InterceptOptions['query']
  persist: boolean
  remaining: number
  invoked: number
}

export function formatPending(list: readonly PendingInterceptor[]): string {
  if (list.length === 0) return '  (no pending interceptors)'
  return list
    .map((p) => `  ${p.method} ${p.origin}${p.path}${p.query === undefined ? '' : ` query=${JSON.stringify(p.query)}`} (${p.persist ? 'persistent' : `${p.remaining} left`}, called ${p.invoked}×)`)
    .join('\n')
}

/** `times()`, `persist()`, `delay()` on an armed interceptor. */
export class MockScope {
  readonly #interceptor: Interceptor

  constructor(interceptor: Interceptor) {
    this.#interceptor = interceptor
  }

  /** Answer `n` matching requests (default 1). */
  times(n: number): this {
    if (!Number.isInteger(n) || n < 1) throw new RangeError('times(n) needs a positive integer')
    this.#interceptor.remaining = n
    return this
  }

  /** Answer every matching request. */
  persist(): this {
    this.#interceptor.persistent = true
    return this
  }

  /** Wait `ms` before the response head (`headersTimeout` applies, as on a real connection). */
  delay(ms: number): this {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError('delay(ms) needs a non-negative number')
    this.#interceptor.delayMs = ms
    return this
  }
}

/** Returned by `intercept()`: choose the answer. */
export class MockInterceptor {
  readonly #origin: OriginMatcher
  readonly #options: InterceptOptions
  readonly #add: (interceptor: Interceptor) => void

  constructor(origin: OriginMatcher, options: InterceptOptions, add: (interceptor: Interceptor) => void) {
    if (options === null || typeof options !== 'object' || options.path === undefined) throw new TypeError('intercept() needs { path }')
    this.#origin = origin
    this.#options = options
    this.#add = add
  }

  /** `reply(status, body?, options?)`, or `reply(request => ({ status, body, headers, trailers }))`. */
  reply(status: number, body?: MockBodyInit, options?: ReplyOptions): MockScope
  reply(fn: ReplyFunction): MockScope
  reply(statusOrFn: number | ReplyFunction, body?: MockBodyInit, options: ReplyOptions = {}): MockScope {
    const reply: ReplyFunction = typeof statusOrFn === 'function' ? statusOrFn : () => ({ ...options, status: statusOrFn, body })
    return this.#arm({ kind: 'reply', reply })
  }

  /** Fail the request with `error` (any WirepoolError, e.g. a SocketClosedError; other errors are wrapped). */
  replyWithError(error: Error): MockScope {
    return this.#arm({ kind: 'error', error })
  }

  #arm(reply: MockReply): MockScope {
    const interceptor = new Interceptor(this.#origin, this.#options, reply)
    this.#add(interceptor)
    return new MockScope(interceptor)
  }
}

export type { HeaderRecord }
