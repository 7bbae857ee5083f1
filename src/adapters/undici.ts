/**
 * `wirepool/undici`: an undici v7 `Dispatcher` whose requests run on a wirepool Agent, so
 * `undici.request(url, { dispatcher })`, `undici.fetch(url, { dispatcher })`,
 * `setGlobalDispatcher(new WirepoolDispatcher())` and Node's global fetch (which reads the
 * dispatcher undici stores under `Symbol.for('undici.globalDispatcher.1')`) all use
 * wirepool's pool, TLS session cache and metrics. This subpath is the only module that
 * loads undici; the core never does (undici is an optional peer dependency).
 */
import type { EventEmitter } from 'node:events'
import { Dispatcher, errors } from 'undici'
import { Agent } from '../pool/agent.js'
import { ComposedDispatcher } from '../interceptors/compose.js'
import type { ConnectionEvent } from '../pool/pool.js'
import type { AgentOptions } from '../options.js'
import { PoolClosedError, toWirepoolError } from '../errors.js'
import { LinkedList } from '../linked-list.js'
import { toUndiciError } from './undici-errors.js'
import { UndiciBridge, type UndiciHandler } from './undici-handler.js'
import { toRequestOptions, type UndiciDispatchOptions } from './undici-options.js'

type Callback = (err: Error | null, data: null) => void
type DispatcherState = 'open' | 'closing' | 'closed' | 'destroyed'
const STATE_ORDER: Readonly<Record<DispatcherState, number>> = { open: 0, closing: 1, closed: 2, destroyed: 3 }

export class WirepoolDispatcher extends Dispatcher {
  /** The wirepool Agent every request goes through. */
  readonly agent: Agent
  /** The agent's dispatch, or a composition's over it (interceptors). */
  readonly #target: Agent | ComposedDispatcher<Agent>
  /** Whether this dispatcher made the agent (and so closes it). */
  readonly #ownsAgent: boolean
  #state: DispatcherState = 'open'
  readonly #inFlight = new LinkedList<UndiciBridge>()
  /** Fails queued requests on destroy when the agent is shared (an owned one is destroyed instead). */
  readonly #destroySignal: AbortController | undefined
  #closed: Promise<void> | undefined
  #resolveIdle: (() => void) | undefined
  readonly #onConnection: (event: ConnectionEvent) => void
  /** Subscribed to the agent's lifecycle events (while 'connect'/'disconnect' have listeners). */
  #watching = false
  /** One callback for every bridge rather than a closure per request. */
  readonly #onSettled = (bridge: UndiciBridge): void => this.#settled(bridge)

  /**
   * An Agent to send on (not closed with this dispatcher), an Agent composed with
   * interceptors (`agent.compose(cache())`: requests pass through them), or the options of an
   * Agent this dispatcher makes and owns.
   */
  constructor(agentOrOptions: Agent | ComposedDispatcher<Agent> | AgentOptions = {}) {
    super()
    if (agentOrOptions instanceof Agent || agentOrOptions instanceof ComposedDispatcher) {
      this.#target = agentOrOptions
      this.agent = agentOrOptions instanceof Agent ? agentOrOptions : agentOrOptions.base
      this.#ownsAgent = false
      this.#destroySignal = new AbortController()
    } else {
      this.agent = new Agent(agentOrOptions)
      this.#target = this.agent
      this.#ownsAgent = true
      this.#destroySignal = undefined
    }
    // undici's dispatchers announce connections as 'connect' / 'disconnect' (origin, targets);
    // wirepool's lifecycle events say the same, so listeners written for undici keep working.
    this.#onConnection = (event) => {
      if (event.to === 'closed' && event.from !== 'connecting') {
        this.emit('disconnect', new URL(event.origin), [this], new errors.SocketError(`connection closed: ${event.reason}`))
      } else if (event.from === 'connecting' && event.to !== 'closed') {
        this.emit('connect', new URL(event.origin), [this])
      }
    }
    // Only while someone listens: every request moves a connection busy ⇄ idle, and a
    // subscribed listener makes the pool build an event object for each move.
    const events = this as EventEmitter
    events.on('newListener', (event: string | symbol) => {
      if ((event === 'connect' || event === 'disconnect') && !this.#watching && this.#state !== 'closed' && this.#state !== 'destroyed') {
        this.#watching = true
        this.agent.on('connection', this.#onConnection)
      }
    })
    events.on('removeListener', (event: string | symbol) => {
      if ((event === 'connect' || event === 'disconnect') && this.listenerCount('connect') + this.listenerCount('disconnect') === 0) this.#unwatch()
    })
  }

  #unwatch(): void {
    if (!this.#watching) return
    this.#watching = false
    this.agent.off('connection', this.#onConnection)
  }

  get closed(): boolean {
    return this.#state !== 'open'
  }

  get destroyed(): boolean {
    return this.#state === 'destroyed'
  }

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    if (handler === null || typeof handler !== 'object') throw new TypeError('handler must be an object')
    const bridge = new UndiciBridge(handler as UndiciHandler, toUndiciError, this.#onSettled)
    if (this.#state !== 'open') {
      // As undici's own dispatchers: a destroyed one says so, a closing or closed one too.
      bridge.reject(this.#state === 'destroyed' ? new errors.ClientDestroyedError() : new errors.ClientClosedError())
      return false
    }
    let requestOptions
    try {
      requestOptions = toRequestOptions(options as unknown as UndiciDispatchOptions)
    } catch (err) {
      bridge.onError(toWirepoolError(err))
      return false
    }
    if (this.#destroySignal !== undefined) requestOptions.signal = this.#destroySignal.signal
    this.#inFlight.push(bridge)
    this.#target.dispatch(requestOptions, bridge)
    // wirepool queues requests itself, so a dispatcher is never "busy" in undici's sense.
    return true
  }

  #settled(bridge: UndiciBridge): void {
    this.#inFlight.remove(bridge)
    if (this.#inFlight.size === 0 && this.#resolveIdle !== undefined) {
      const resolve = this.#resolveIdle
      this.#resolveIdle = undefined
      resolve()
    }
  }

  override close(): Promise<void>
  override close(callback: () => void): void
  override close(callback?: Callback | (() => void)): Promise<void> | void {
    const done = this.#close()
    if (callback === undefined) return done
    done.then(() => (callback as Callback)(null, null), (err: Error) => (callback as Callback)(err, null))
  }

  /** Graceful: no new requests; in-flight ones finish; an owned agent then closes its sockets. */
  #close(): Promise<void> {
    if (this.#closed !== undefined) return this.#closed
    this.#transition('closing')
    const idle = this.#inFlight.size === 0 ? Promise.resolve() : new Promise<void>((resolve) => (this.#resolveIdle = resolve))
    this.#closed = idle
      .then(() => (this.#ownsAgent ? this.agent.close() : undefined))
      .then(() => this.#finish('closed'))
    return this.#closed
  }

  override destroy(err: Error | null, callback: () => void): void
  override destroy(callback: () => void): void
  override destroy(err: Error | null): Promise<void>
  override destroy(): Promise<void>
  override destroy(errOrCallback?: Error | null | (() => void), callback?: () => void): Promise<void> | void {
    let err: Error | null | undefined = errOrCallback as Error | null | undefined
    if (typeof errOrCallback === 'function') {
      callback = errOrCallback
      err = undefined
    }
    const done = this.#destroy(err ?? undefined)
    if (callback === undefined) return done
    done.then(() => (callback as Callback)(null, null), (e: Error) => (callback as Callback)(e, null))
  }

  async #destroy(err: Error | undefined): Promise<void> {
    if (this.#state === 'destroyed') return
    this.#transition('destroyed')
    const reason = err ?? new PoolClosedError('dispatcher was destroyed')
    if (this.#ownsAgent) {
      await this.agent.destroy(reason)
    } else {
      // A shared agent lives on: only this dispatcher's requests fail.
      this.#destroySignal?.abort(reason)
      for (const bridge of this.#inFlight.toArray()) bridge.abort(reason)
    }
    this.#finish('destroyed')
    // close() waiting for in-flight requests must not wait for ones that will never finish.
    this.#resolveIdle?.()
  }

  #finish(state: 'closed' | 'destroyed'): void {
    this.#transition(state)
    this.#unwatch()
  }

  /** The one transition function: open → closing → closed, and → destroyed from anywhere; never back. */
  #transition(to: DispatcherState): void {
    if (STATE_ORDER[to] > STATE_ORDER[this.#state]) this.#state = to
  }
}
export { proxyDispatcher, proxyAgentOptions, type UndiciProxyAgentOptions } from './undici-proxy.js'
