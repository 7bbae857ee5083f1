/**
 * Many origins: one Pool each, created on first use, sharing one TLS session cache and
 * reporting through one set of stats, metrics and lifecycle events.
 */
import { EventEmitter } from 'node:events'
import { InvalidArgumentError, PoolClosedError, toWirepoolError } from '../errors.js'
import type { DispatchHandler } from '../dispatch.js'
import type { ProxyOption } from '../proxy/config.js'
import { resolvePoolOptions, splitAgentOptions, type AgentOptions, type PoolOptions, type TlsOptions } from '../options.js'
import { isIdempotentRequest, type PoolRequestOptions, type RequestOptions } from '../request-options.js'
import { isReplayableBody } from '../body-source.js'
import type { Response } from '../response.js'
import { AddressBook, CoalescedHandler } from './coalesce.js'
import { TlsSessionCache } from '../tls/session-cache.js'
import { parseOrigin, splitPlainUrl, splitUrl } from './origin.js'
import { Pool, type PoolEvents, type PoolStats } from './pool.js'
import { poolInternals as internal } from './internals.js'
import { renderPrometheus, type AgentTotals, type OriginStats } from './stats.js'
import { ConnectionBudget } from './budget.js'
import { proxyRouteFor, type ResolvedProxy } from '../proxy/route.js'
import { proxyRouteMetrics } from '../proxy/metrics.js'
import { chain, ComposedDispatcher, type ComposeSettings, type Interceptor } from '../interceptors/compose.js'

/** How many distinct origin spellings the lookup cache keeps. */
const MAX_ORIGIN_SPELLINGS = 1024
/** Origin pairs remembered as misdirected (a 421); forgotten all at once beyond this. */
const MAX_MISDIRECTED_PAIRS = 8192

export interface AgentStats {
  origins: Record<string, PoolStats>
  /** Connections open across every origin, and the `maxTotalConnections` cap (null: none). */
  total: AgentTotals
}

/** Where a request goes: its origin's pool, and the request-target split from a `url` (else the options' `path`). */
interface Routed {
  pool: Pool
  path: string | undefined
}

export class Agent extends EventEmitter<PoolEvents> {
  #options: PoolOptions
  readonly #budget: ConnectionBudget | undefined
  readonly #coalesce: boolean
  /** Coalescing: host addresses, and origin pairs where a 421 said not to (home → carrier). */
  readonly #addresses = new AddressBook()
  readonly #misdirected = new Set<string>()
  readonly #pools = new Map<string, Pool>()
  /** Origin strings as callers spell them → their pool (a cache in front of URL parsing). */
  readonly #poolsByInput = new Map<string, Pool>()
  readonly #sessionCache: TlsSessionCache | null
  readonly #proxy: ResolvedProxy | undefined
  readonly #h2c: boolean
  readonly #composeSettings: ComposeSettings
  #closed = false

  constructor(options: AgentOptions = {}) {
    super()
    // Validate once, up front, so a bad option fails here and not at the first request.
    const split = splitAgentOptions(options)
    const resolved = resolvePoolOptions(split.pool)
    // The Pools get the proxy setting as resolved here (for 'env': the environment as it is now).
    this.#options = resolved.proxy === undefined ? split.pool : { ...split.pool, proxy: resolved.proxy as unknown as ProxyOption }
    this.#budget = split.maxTotalConnections === undefined ? undefined : new ConnectionBudget(split.maxTotalConnections)
    this.#coalesce = split.coalesce
    this.#sessionCache = resolved.tls.sessionCache === false ? null : new TlsSessionCache()
    this.#proxy = resolved.proxy
    this.#h2c = resolved.h2c
    this.#composeSettings = { maxDecompressedSize: resolved.decompress ? resolved.maxDecompressedSize : -1 }
  }

  /**
   * This Agent seen through interceptors (README "Interceptors"): every request made on the
   * result passes through them, the first one outermost. The Agent itself is unchanged.
   */
  compose(...interceptors: Interceptor[]): ComposedDispatcher<Agent> {
    return new ComposedDispatcher<Agent>(this, chain((options, handler) => this.dispatch(options, handler), interceptors), this.#composeSettings)
  }

  /** The pool for an origin (`scheme://host:port`), created on first use. */
  pool(origin: string | URL): Pool {
    if (this.#closed) throw new PoolClosedError('agent is closed')
    // Requests name their origin as a string, the same one again and again: skip the URL
    // parse for a string seen before.
    if (typeof origin === 'string') {
      const known = this.#poolsByInput.get(origin)
      if (known !== undefined) return known
    }
    const parsed = parseOrigin(origin)
    // Keyed by origin and route (proxy/route.ts): a proxied and a direct connection to one
    // origin never serve each other's requests.
    const route = proxyRouteFor(this.#proxy, parsed, this.#h2c)
    const key = route === undefined ? parsed.origin : `${parsed.origin} ${route.key}`
    let pool = this.#pools.get(key)
    if (pool === undefined) {
      // The pool emits its events to this agent's listeners itself (and builds none when
      // nobody listens).
      pool = new Pool(parsed.origin, this.#options, { sessionCache: this.#sessionCache, budget: this.#budget, parent: this })
      this.#pools.set(key, pool)
    }
    if (typeof origin === 'string') this.#rememberSpelling(origin, pool)
    return pool
  }

  /** Bounded, so arbitrary inputs cannot grow it. */
  #rememberSpelling(spelling: string, pool: Pool): void {
    if (this.#poolsByInput.size < MAX_ORIGIN_SPELLINGS) this.#poolsByInput.set(spelling, pool)
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
    let routed: Routed
    try {
      routed = this.#route(options)
    } catch (err) {
      return Promise.reject(toWirepoolError(err))
    }
    // The pool reads the options as they are (its fields; url and origin are ignored there):
    // no per-request copy without them.
    const { pool, path } = routed
    if (!this.#mayCoalesce(pool, options)) return internal.request(pool, options, path)
    return internal.respond(pool, (collector, acceptEncoding) => this.#dispatchCoalescing(pool, options, path, collector, acceptEncoding))
  }

  dispatch(options: RequestOptions, handler: DispatchHandler): void {
    let routed: Routed
    try {
      routed = this.#route(options)
    } catch (err) {
      handler.onError(toWirepoolError(err))
      return
    }
    const { pool, path } = routed
    if (this.#mayCoalesce(pool, options)) this.#dispatchCoalescing(pool, options, path, handler, false)
    else internal.enqueue(pool, options, handler, false, path)
  }

  /**
   * Coalescing is considered for an https origin with no connection of its own yet, when
   * certificates are verified (a shared connection is only as trustworthy as the check that
   * its certificate covers the other name) and no fixed servername overrides the origin's.
   */
  #mayCoalesce(pool: Pool, options: PoolRequestOptions): boolean {
    // Through a proxy the local DNS answer says nothing of where a connection goes: no coalescing.
    if (!this.#coalesce || pool.proxy !== null || !internal.origin(pool).secure || internal.hasLiveConnection(pool) || options.upgrade !== undefined) return false
    const tls = this.#options.tls
    return tls?.servername === undefined && tls?.rejectUnauthorized !== false
  }

  /**
   * RFC 9113 §9.1.1: an open h2 connection of another origin on the same port, reached at an
   * address this host resolves to, whose certificate covers this host, may carry the request.
   */
  #dispatchCoalescing(home: Pool, options: PoolRequestOptions, path: string | undefined, handler: DispatchHandler, acceptEncoding: boolean): void {
    const target = internal.origin(home)
    const addresses = this.#addresses.addressesOf(target.hostname)
    if (addresses instanceof Promise) {
      void addresses.then(() => this.#dispatchCoalescing(home, options, path, handler, acceptEncoding))
      return
    }
    if (addresses.size > 0 && !internal.hasLiveConnection(home)) {
      const replayable = isReplayableBody(options.body)
      const idempotent = isIdempotentRequest(options)
      for (const carrier of this.#pools.values()) {
        if (carrier === home || carrier.proxy !== null || internal.origin(carrier).port !== target.port) continue
        const pair = `${home.origin} ${carrier.origin}`
        if (this.#misdirected.has(pair)) continue
        const guarded = new CoalescedHandler(handler, replayable, idempotent, (reason) => {
          // Misdirected: that server will not answer for this origin on that connection.
          if (reason === 'misdirected') {
            if (this.#misdirected.size >= MAX_MISDIRECTED_PAIRS) this.#misdirected.clear()
            this.#misdirected.add(pair)
          }
          internal.enqueue(home, options, handler, acceptEncoding, path)
        })
        if (internal.tryCoalesce(carrier, target.hostname, target.authority, addresses, options, path, guarded, acceptEncoding)) return
      }
    }
    internal.enqueue(home, options, handler, acceptEncoding, path)
  }

  /** The pool for a request's origin, and the request-target when it was split from a `url`. */
  #route(options: RequestOptions): Routed {
    let pool: Pool
    let path: string | undefined
    {
      if (options === null || typeof options !== 'object') throw new InvalidArgumentError('request options must be an object')
      if (options.url !== undefined) {
        if (options.origin !== undefined || options.path !== undefined) {
          throw new InvalidArgumentError('give either url, or origin and path, not both')
        }
        const plain = typeof options.url === 'string' ? splitPlainUrl(options.url) : undefined
        if (plain !== undefined && !this.#closed) {
          const known = this.#poolsByInput.get(plain.originPart)
          if (known !== undefined) return { pool: known, path: plain.path }
        }
        const split = splitUrl(options.url)
        pool = this.pool(split.origin.origin)
        path = split.path
        if (plain !== undefined) this.#rememberSpelling(plain.originPart, pool)
      } else if (options.origin !== undefined) {
        pool = this.pool(options.origin)
      } else {
        throw new InvalidArgumentError('request needs a url, or an origin and a path')
      }
    }
    return { pool, path }
  }

  stats(): AgentStats {
    const origins: Record<string, PoolStats> = {}
    // (one route per origin within an Agent: its one proxy setting decides it)
    for (const pool of this.#pools.values()) origins[pool.origin] = pool.stats()
    return { origins, total: this.#totals(Object.values(origins)) }
  }

  metrics(): string {
    const all = [...this.#pools.values()].map((pool) => internal.figures(pool))
    return renderPrometheus(all, this.#totals(all.map((f) => f.stats))) + proxyRouteMetrics(this.#pools.values())
  }

  #totals(origins: readonly OriginStats[]): AgentTotals {
    let connections = 0
    for (const stats of origins) connections += stats.connections.total
    const budget = this.#budget
    return { connections, max: budget?.max ?? null, waitingOrigins: budget?.waiting ?? 0, evictedLru: budget?.evictions ?? 0 }
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

let builtInAgent: Agent | undefined
/** The Agent given to setDefaultAgent(), if any. */
let chosenAgent: Agent | undefined

/**
 * The process-wide Agent behind `request()`, `wirepool/fetch`'s `fetch` and a WebSocket
 * without an `agent`: the one given to `setDefaultAgent()`, else a built-in one.
 */
export function getDefaultAgent(): Agent {
  if (chosenAgent !== undefined) return chosenAgent
  builtInAgent ??= new Agent()
  return builtInAgent
}

/**
 * Make `agent` the default everywhere (e.g. a MockAgent in tests); undefined brings back the
 * built-in one. Returns the previous default, which is not closed.
 */
export function setDefaultAgent(agent: Agent | undefined): Agent {
  const previous = getDefaultAgent()
  chosenAgent = agent
  return previous
}

/** One-shot request on the default Agent (API.md: `await request(url, init?)`). */
export function request(url: string | URL, init: Omit<RequestOptions, 'url' | 'origin'> = {}): Promise<Response> {
  return getDefaultAgent().request({ ...init, url })
}
