/**
 * Interceptors: functions that wrap the low-level `dispatch(options, handler)` (README
 * "Interceptors"). One may change the options, wrap the handler (a `DelegatingHandler`
 * overriding what it needs), dispatch several times (a redirect, a revalidation) or answer
 * without the network (a cache hit). `agent.compose(a, b)` sends each request through `a`,
 * then `b`, then the Agent: the first interceptor is the outermost — the reverse of undici's
 * `compose()`, whose last interceptor sees a request first.
 *
 * Nothing here runs for an Agent or Pool used without `compose()`: a composition is another
 * object, so the plain request path costs what it did.
 */
import type { DispatchHandler } from '../dispatch.js'
import { InvalidArgumentError, toWirepoolError } from '../errors.js'
import type { RequestOptions } from '../request-options.js'
import { ResponseCollector, type Response } from '../response.js'
import { ACCEPT_ENCODING } from '../decompress.js'
import { headerEntries, headerValue } from './request-headers.js'
import { withOption } from './options-copy.js'

/**
 * Send one request: the handler hears about it (README "Low-level: dispatch"). Errors are
 * reported through `handler.onError`, never thrown. `options` always names its target
 * (`url`, or `origin` and `path`) inside a composition.
 */
export type Dispatch = (options: RequestOptions, handler: DispatchHandler) => void

/** Wraps the next dispatch of the chain (ending at the Agent or Pool) into another. */
export type Interceptor = (dispatch: Dispatch) => Dispatch

/** What a composition needs of the Agent or Pool under it. */
export interface ComposeBase {
  dispatch(options: RequestOptions, handler: DispatchHandler): void
  close(): Promise<void>
  destroy(err?: Error): Promise<void>
}

/** @internal What a composition takes from the Agent or Pool under it. */
export interface ComposeSettings {
  /** `request()` decodes bodies as the base would: the bound on a decoded body, or -1 when it does not (`decompress: false`). */
  maxDecompressedSize: number
  /** A Pool's origin: given to requests that name only a `path`, so every interceptor sees a whole target. */
  origin?: string
}

/**
 * An Agent or Pool seen through interceptors: `request()` and `dispatch()` as theirs, every
 * request passing through the chain. Closing it closes the Agent or Pool under it.
 */
export class ComposedDispatcher<Base extends ComposeBase = ComposeBase> {
  /** The Agent or Pool the chain ends at (its stats, metrics and events are the composition's). */
  readonly base: Base
  readonly #dispatch: Dispatch
  readonly #settings: ComposeSettings

  /** @internal made by `Agent#compose` / `Pool#compose` */
  constructor(base: Base, dispatch: Dispatch, settings: ComposeSettings) {
    this.base = base
    this.#dispatch = dispatch
    this.#settings = settings
  }

  /** As `Agent#request`: resolves at the response head, the body streams. */
  request(options: RequestOptions): Promise<Response> {
    return new Promise<Response>((resolve, reject) => {
      const limit = this.#settings.maxDecompressedSize
      const collector = new ResponseCollector(resolve, reject, limit, ...responseTarget(options, this.#settings.origin))
      let sent: RequestOptions
      try {
        // The base adds `accept-encoding` itself for its own request(); here the interceptors
        // see (and a cache keys on, RFC 9111 §4.1 Vary) what will be sent, so it is added up front.
        sent = limit >= 0 ? withAcceptEncoding(options) : options
      } catch (err) {
        collector.onError(toWirepoolError(err))
        return
      }
      this.dispatch(sent, collector)
    })
  }

  /** As `Agent#dispatch`, through the interceptors. */
  dispatch(options: RequestOptions, handler: DispatchHandler): void {
    try {
      const origin = this.#settings.origin
      if (origin !== undefined && options !== null && typeof options === 'object' && options.url === undefined && options.origin === undefined) options = withOption(options, 'origin', origin)
      this.#dispatch(options, handler)
    } catch (err) {
      // An interceptor that threw instead of calling onError: the request fails, the caller's
      // one error path stays the handler.
      handler.onError(toWirepoolError(err))
    }
  }

  /** More interceptors, outside the ones already composed. */
  compose(...interceptors: Interceptor[]): ComposedDispatcher<Base> {
    return new ComposedDispatcher(this.base, chain((options, handler) => this.dispatch(options, handler), interceptors), this.#settings)
  }

  close(): Promise<void> {
    return this.base.close()
  }

  destroy(err?: Error): Promise<void> {
    return this.base.destroy(err)
  }
}

/** `first(second(…(inner)))`: the first interceptor sees a request first. */
export function chain(inner: Dispatch, interceptors: readonly Interceptor[]): Dispatch {
  let dispatch = inner
  for (let i = interceptors.length - 1; i >= 0; i--) {
    const interceptor = interceptors[i]
    if (typeof interceptor !== 'function') throw new InvalidArgumentError(`compose(): interceptor ${i} is not a function`)
    const wrapped = interceptor(dispatch)
    if (typeof wrapped !== 'function') throw new InvalidArgumentError(`compose(): interceptor ${i} did not return a dispatch function`)
    dispatch = wrapped
  }
  return dispatch
}

/** What a request without headers of its own is given (shared: the core only reads it). */
const ACCEPT_ENCODING_ONLY: Readonly<Record<string, string>> = Object.freeze({ 'accept-encoding': ACCEPT_ENCODING })

function withAcceptEncoding(options: RequestOptions): RequestOptions {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError('request options must be an object')
  if (options.headers === undefined) return withOption(options, 'headers', ACCEPT_ENCODING_ONLY)
  const entries = headerEntries(options.headers)
  if (headerValue(entries, 'accept-encoding') !== undefined) return options
  entries.push(['accept-encoding', ACCEPT_ENCODING])
  return withOption(options, 'headers', entries)
}

/** What `res.url` is made of for a request inside a composition: its url, or its origin (or a Pool's) and path. */
export function responseTarget(options: RequestOptions, poolOrigin: string | undefined): [target: string | URL | undefined, path: string | undefined] {
  if (options === null || typeof options !== 'object') return [undefined, undefined]
  if (options.url !== undefined) return [options.url, undefined]
  return [options.origin ?? poolOrigin, options.path ?? '/']
}
