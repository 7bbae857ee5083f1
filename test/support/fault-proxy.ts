/**
 * An in-repo TCP fault proxy (issue #18) between a client and a real server: every accepted
 * connection is piped to the upstream port, and, when the seeded dice say so, one fault is
 * injected into it. The proxy knows nothing of HTTP: faults are byte- and socket-level, so the
 * same proxy serves HTTP/1.1, h2c and TLS alike.
 *
 * Fault kinds:
 *   reset   after N response bytes, both sides are reset (RST)
 *   fin     after N response bytes, both sides are ended (FIN)
 *   stall   after N response bytes, nothing more is forwarded either way (a black hole)
 *   drip    response bytes go 64 at a time, one write per millisecond
 *   delay   every response chunk is held 20–120 ms
 *   refuse  the connection is reset as soon as it is accepted
 *   stale   the first request/response passes; the connection is closed when the client's
 *           next bytes arrive (a keep-alive socket the server had closed: the reuse race)
 *
 * Every socket is tracked; `close()` destroys what is left and reports how many client
 * sockets were still open (a client that leaks sockets leaves some).
 */
import * as net from 'node:net'
import { prng } from './prng.js'

export const FAULT_KINDS = ['reset', 'fin', 'stall', 'drip', 'delay', 'refuse', 'stale'] as const
export type FaultKind = (typeof FAULT_KINDS)[number]

export interface FaultProxyOptions {
  upstreamPort: number
  seed: number
  /** Chance that a new connection gets a fault (0 turns faults off). */
  rate: number
  /** Faults to draw from (default all). */
  kinds?: readonly FaultKind[]
  /** N for reset/fin/stall is drawn from [0, maxTriggerBytes). Default 16 KiB. */
  maxTriggerBytes?: number
}

export class FaultProxy {
  readonly server: net.Server
  port = 0
  rate: number
  readonly #options: FaultProxyOptions
  /** Faults to draw from now (changeable between phases). */
  kinds: readonly FaultKind[]
  readonly #random: () => number
  readonly #sockets = new Set<net.Socket>()
  readonly #clientSockets = new Set<net.Socket>()
  /** Per live connection: drop its fault if it has not struck yet. */
  readonly #healers = new Set<() => void>()
  /** Faults injected so far, by kind. */
  readonly injected = new Map<FaultKind, number>()
  accepted = 0

  constructor(options: FaultProxyOptions) {
    this.#options = options
    this.rate = options.rate
    this.kinds = options.kinds ?? FAULT_KINDS
    this.#random = prng(options.seed)
    this.server = net.createServer({ allowHalfOpen: false }, (client) => this.#onConnection(client))
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', () => resolve()))
    this.port = (this.server.address() as net.AddressInfo).port
    return this.port
  }

  /** Client sockets still open (from the proxy's side). */
  get openClientSockets(): number {
    return this.#clientSockets.size
  }

  /**
   * Faults stop: new connections get none, and live ones whose fault has not struck yet lose
   * it. A connection already stalled stays a black hole (as a real one would): the client must
   * find it with its own deadlines.
   */
  heal(): void {
    this.rate = 0
    for (const heal of this.#healers) heal()
  }

  get faults(): number {
    let n = 0
    for (const v of this.injected.values()) n += v
    return n
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  #track(socket: net.Socket, client: boolean): void {
    this.#sockets.add(socket)
    if (client) this.#clientSockets.add(socket)
    socket.on('error', () => {})
    socket.on('close', () => {
      this.#sockets.delete(socket)
      this.#clientSockets.delete(socket)
    })
  }

  #draw(): FaultKind | undefined {
    if (!(this.#random() < this.rate)) return undefined
    const kinds = this.kinds
    return kinds[Math.floor(this.#random() * kinds.length)]
  }

  #onConnection(client: net.Socket): void {
    this.accepted++
    this.#track(client, true)
    let fault = this.#draw()
    if (fault !== undefined) this.injected.set(fault, (this.injected.get(fault) ?? 0) + 1)
    if (fault === 'refuse') {
      client.resetAndDestroy()
      return
    }
    const upstream = net.connect(this.#options.upstreamPort, '127.0.0.1')
    this.#track(upstream, false)
    const trigger = Math.floor(this.#random() * (this.#options.maxTriggerBytes ?? 16 * 1024))
    const delayMs = 20 + Math.floor(this.#random() * 100)
    let down = 0
    let stalled = false
    let answered = false
    const both = (how: 'reset' | 'fin'): void => {
      for (const s of [client, upstream]) {
        if (how === 'reset') s.resetAndDestroy()
        else s.end()
      }
    }
    const heal = (): void => {
      if (!stalled) fault = undefined
    }
    this.#healers.add(heal)
    client.on('close', () => {
      this.#healers.delete(heal)
      upstream.destroy()
    })
    upstream.on('close', () => client.destroy())
    client.on('data', (chunk: Buffer) => {
      if (stalled) return
      if (fault === 'stale' && answered) {
        both('fin')
        return
      }
      upstream.write(chunk)
    })
    upstream.on('data', (chunk: Buffer) => {
      if (stalled) return
      answered = true
      if (fault === 'reset' || fault === 'fin' || fault === 'stall') {
        if (down + chunk.length > trigger) {
          const head = chunk.subarray(0, Math.max(0, trigger - down))
          if (head.length > 0) client.write(head)
          down = trigger
          if (fault === 'stall') stalled = true
          else both(fault)
          return
        }
      }
      down += chunk.length
      if (fault === 'drip') {
        upstream.pause()
        let at = 0
        const step = (): void => {
          if (client.destroyed) return
          client.write(chunk.subarray(at, at + 64))
          at += 64
          if (at < chunk.length) setTimeout(step, 1)
          else upstream.resume()
        }
        step()
      } else if (fault === 'delay') {
        upstream.pause()
        setTimeout(() => {
          if (!client.destroyed) client.write(chunk)
          upstream.resume()
        }, delayMs)
      } else {
        client.write(chunk)
      }
    })
  }
}
