/**
 * Many origins: one Pool each, created on first use, sharing one TLS session cache and
 * reporting through one set of stats, metrics and lifecycle events.
 */
import { EventEmitter } from 'node:events'
import { InvalidArgumentError, PoolClosedError, toWirepoolError } from '../errors.js'
import type { DispatchHandler } from '../dispatch.js'
import { resolvePoolOptions, type AgentOptions, type TlsOptions } from '../options.js'
import type { PoolRequestOptions, RequestOptions } from '../request-options.js'
import type { Response } from '../response.js'
import { TlsSessionCache } from '../tls/session-cache.js'
import { parseOrigin, splitUrl } from './origin.js'
import { Pool, type PoolEvents } from './pool.js'
import { renderPrometheus, type OriginStats } from './stats.js'

/** How many distinct origin spellings the lookup cache keeps. */
const MAX_ORIGIN_SPELLINGS = 1024

export interface AgentStats {
  origins: Record<string, OriginStats>
}

export class Agent extends EventEmitter<PoolEvents> {
  #options: AgentOptions
  readonly #pools = new Map<string, Pool>()
  /** Origin strings as callers spell them → their pool (a cache in front of URL parsing). */
  readonly #poolsByInput = new Map<string, Pool>()
  readonly #sessionCache: TlsSessionCache | null
  #closed = false

  constructor(options: AgentOptions = {}) {
    super()
    // Validate once, up front, so a bad option fails here and not at the first request.
    const resolved = resolvePoolOptions(options)
    this.#options = options
    this.#sessionCache = resolved.tls.sessionCache === false ? null : new TlsSessionCache()
  }

  /** The pool for an origin (`scheme://host:port`), created on first use. */
  pool(origin: string | URL): Pool {
    if (this.#closed) throw new PoolClosedError('agent is closed')
    // Requests name their origin as a string, the same one again and again: skip the URL
    // parse for a string seen before (bounded, so arbitrary inputs cannot grow it).
    if (typeof origin === 'string') {
      const known = this.#poolsByInput.get(origin)
      if (known !== undefined) return known
    }
    const key = parseOrigin(origin).origin
    let pool = this.#pools.get(key)
    if (pool === undefined) {
      pool = new Pool(key, this.#options, { sessionCache: this.#sessionCache })
      pool.on('connection', (event) => {
        if (this.listenerCount('connection') > 0) this.emit('connection', event)
      })
      pool.on('retry', (event) => {
        if (this.listenerCount('retry') > 0) this.emit('retry', event)
      })
      pool.on('certificate-expiring', (event) => {
        if (this.listenerCount('certificate-expiring') > 0) this.emit('certificate-expiring', event)
      })
      this.#pools.set(key, pool)
    }
    if (typeof origin === 'string' && this.#poolsByInput.size < MAX_ORIGIN_SPELLINGS) this.#poolsByInput.set(origin, pool)
    return pool
  }

  /** New TLS material for every origin's future connections (see Pool#setTls). */
  setTls(tls: TlsOptions): void {
    const merged = { ...this.#options.tls, ...tls }
    resolvePoolOptions({ tls: merged })
    this.#options = { ...this.#options, tls: merged }
    for (const pool of this.#pools.values()) pool.setTls(tls)
  }

  /** Open and handshake `n` connections to an origin ahead of traffic. */
  preconnect(origin: string | URL, n = 1): Promise<void> {
    return this.pool(origin).connect(n)
  }

  request(options: RequestOptions): Promise<Response> {
    let routed: { pool: Pool; options: PoolRequestOptions }
    try {
      routed = this.#route(options)
    } catch (err) {
      return Promise.reject(toWirepoolError(err))
    }
    return routed.pool.request(routed.options)
  }

  dispatch(options: RequestOptions, handler: DispatchHandler): void {
    let routed: { pool: Pool; options: PoolRequestOptions }
    try {
      routed = this.#route(options)
    } catch (err) {
      handler.onError(toWirepoolError(err))
      return
    }
    routed.pool.dispatch(routed.options, handler)
  }

  /** The pool for a request's origin, and the request without its origin part. */
  #route(options: RequestOptions): { pool: Pool; options: PoolRequestOptions } {
    let pool: Pool
    let path: string | undefined
    {
      if (options === null || typeof options !== 'object') throw new InvalidArgumentError('request options must be an object')
      if (options.url !== undefined) {
        if (options.origin !== undefined || options.path !== undefined) {
          throw new InvalidArgumentError('give either url, or origin and path, not both')
        }
        const split = splitUrl(options.url)
        pool = this.pool(split.origin.origin)
        path = split.path
      } else if (options.origin !== undefined) {
        pool = this.pool(options.origin)
        path = options.path
      } else {
        throw new InvalidArgumentError('request needs a url, or an origin and a path')
      }
    }
    const { url: _url, origin: _origin, ...rest } = options
    return { pool, options: path === undefined ? rest : { ...rest, path } }
  }

  stats(): AgentStats {
    const origins: Record<string, OriginStats> = {}
    for (const [origin, pool] of this.#pools) origins[origin] = pool.stats()
    return { origins }
  }

  metrics(): string {
    return renderPrometheus([...this.#pools.values()].map((pool) => pool._figures()))
  }

  async close(): Promise<void> {
    this.#closed = true
    await Promise.all([...this.#pools.values()].map((pool) => pool.close()))
  }

  async destroy(err?: Error): Promise<void> {
    this.#closed = true
    await Promise.all([...this.#pools.values()].map((pool) => pool.destroy(err)))
  }
}

let defaultAgent: Agent | undefined

/** The process-wide Agent behind `request()`. */
export function getDefaultAgent(): Agent {
  defaultAgent ??= new Agent()
  return defaultAgent
}

/** One-shot request on the default Agent (API.md: `await request(url, init?)`). */
export function request(url: string | URL, init: Omit<RequestOptions, 'url' | 'origin'> = {}): Promise<Response> {
  return getDefaultAgent().request({ ...init, url })
}
