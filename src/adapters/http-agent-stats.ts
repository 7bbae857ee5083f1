/**
 * The lifecycle of the sockets a `WirepoolHttpAgent` hands to node:http, told the way the
 * pool tells its own (DESIGN.md "Connection lifecycle is explicit"): each socket is a record
 * with a state, every change goes through `move`, which updates the figures and publishes
 * one event (also on the `wirepool:connection` diagnostics channel).
 *
 * node:http owns these sockets, not a wirepool Pool, so they are counted here rather than
 * in `Agent#stats()`; the pool has no hook for sockets it did not open.
 */
import diagnosticsChannel from 'node:diagnostics_channel'
import type { ConnectionEvent, ConnectionState } from '../pool/pool.js'

const connectionChannel = diagnosticsChannel.channel('wirepool:connection')

export interface HttpAgentOriginStats {
  connections: { connecting: number; idle: number; busy: number; total: number }
  connectionsCreated: number
  connectionsClosed: number
  /** Requests that were given a socket (new or kept alive). */
  requests: number
  /** Requests given a kept-alive socket that had served a request before. */
  reused: number
  reuseRate: number
  tlsHandshakes: number
  tlsResumed: number
  /** Connect failures by wirepool error code, e.g. `connect_error:WP_CONNECT_REFUSED`. */
  errors: Record<string, number>
}

export interface HttpAgentStats {
  origins: Record<string, HttpAgentOriginStats>
}

/** node:http never drains a socket the way the pool does: it is in use, kept alive, or gone. */
export type SocketState = Exclude<ConnectionState, 'draining'>

export interface SocketRecord {
  readonly id: number
  readonly origin: string
  readonly createdAt: number
  state: SocketState
}

/** Ids of their own: the pool's id counter is private to src/pool (reported to the lead). */
let nextSocketId = 1

function emptyStats(): HttpAgentOriginStats {
  return {
    connections: { connecting: 0, idle: 0, busy: 0, total: 0 },
    connectionsCreated: 0,
    connectionsClosed: 0,
    requests: 0,
    reused: 0,
    reuseRate: 0,
    tlsHandshakes: 0,
    tlsResumed: 0,
    errors: {},
  }
}

export class SocketLedger {
  readonly #origins = new Map<string, HttpAgentOriginStats>()
  readonly #emit: (event: ConnectionEvent) => void

  constructor(emit: (event: ConnectionEvent) => void) {
    this.#emit = emit
  }

  #figures(origin: string): HttpAgentOriginStats {
    let figures = this.#origins.get(origin)
    if (figures === undefined) {
      figures = emptyStats()
      this.#origins.set(origin, figures)
    }
    return figures
  }

  open(origin: string): SocketRecord {
    const rec: SocketRecord = { id: nextSocketId++, origin, createdAt: Date.now(), state: 'connecting' }
    const figures = this.#figures(origin)
    figures.connectionsCreated++
    figures.connections.connecting++
    figures.connections.total++
    this.#publish(rec, undefined, 'connecting', 'demand')
    return rec
  }

  connected(rec: SocketRecord, tlsResumed: boolean | null): void {
    if (tlsResumed !== null) {
      const figures = this.#figures(rec.origin)
      figures.tlsHandshakes++
      if (tlsResumed) figures.tlsResumed++
    }
    // node:http asked for this socket for a request: it is busy from the start.
    this.#figures(rec.origin).requests++
    this.move(rec, 'busy', 'connected')
  }

  failed(rec: SocketRecord, code: string): void {
    const errors = this.#figures(rec.origin).errors
    const key = `connect_error:${code}`
    errors[key] = (errors[key] ?? 0) + 1
    this.move(rec, 'closed', `connect-failed:${code}`)
  }

  reused(rec: SocketRecord): void {
    const figures = this.#figures(rec.origin)
    figures.requests++
    figures.reused++
    this.move(rec, 'busy', 'reused')
  }

  /** The one transition function for a socket record. */
  move(rec: SocketRecord, to: SocketState, reason: string): void {
    const from = rec.state
    if (from === to || from === 'closed') return
    rec.state = to
    const counts = this.#figures(rec.origin).connections
    counts[from]--
    if (to === 'closed') {
      counts.total--
      this.#figures(rec.origin).connectionsClosed++
    } else {
      counts[to]++
    }
    this.#publish(rec, from, to, reason)
  }

  #publish(rec: SocketRecord, from: ConnectionState | undefined, to: ConnectionState, reason: string): void {
    const event: ConnectionEvent = { id: rec.id, origin: rec.origin, protocol: 'http/1.1', from, to, reason, age: Date.now() - rec.createdAt }
    this.#emit(event)
    if (connectionChannel.hasSubscribers) connectionChannel.publish(event)
  }

  stats(): HttpAgentStats {
    const origins: Record<string, HttpAgentOriginStats> = {}
    for (const [origin, figures] of this.#origins) {
      origins[origin] = {
        ...figures,
        connections: { ...figures.connections },
        errors: { ...figures.errors },
        reuseRate: figures.requests === 0 ? 0 : figures.reused / figures.requests,
      }
    }
    return { origins }
  }
}
