/**
 * Happy Eyeballs v2 (RFC 8305): connect to a dual-stack name without waiting for a broken
 * family to time out.
 *
 * - §3: AAAA and A are asked for in parallel. Attempts start when the AAAA answer arrives,
 *   or when the A answer arrives and the Resolution Delay (50 ms) passes without AAAA.
 *   Addresses that arrive later join the candidate list (§3, last paragraph).
 * - §4: the list alternates families, IPv6 first (First Address Family Count 1).
 * - §5: a new attempt starts every Connection Attempt Delay (default 250 ms, never below
 *   10 ms) while the earlier ones keep running, or at once when the running one fails.
 *   The first socket to connect wins; every other one is destroyed.
 *
 * The caller owns the deadline and the AbortSignal and ends the race with `abort(err)`.
 * `tried` lists every address dialled, for the error messages.
 */
import net from 'node:net'
import { ConnectRefusedError, DnsError, InvalidArgumentError, type WirepoolError } from '../errors.js'
import { dnsCodeOf, dnsError, type FamilyAnswer, type Resolution } from '../dns/resolution.js'

/** RFC 8305 §3: "A recommended value for the Resolution Delay is 50 milliseconds." */
export const RESOLUTION_DELAY_MS = 50
/** RFC 8305 §5: "A simple implementation can have a fixed delay … 250 milliseconds". */
export const DEFAULT_CONNECTION_ATTEMPT_DELAY_MS = 250
/** RFC 8305 §5: "Connection Attempt Delays MUST NOT be less than 10 milliseconds". */
export const MIN_CONNECTION_ATTEMPT_DELAY_MS = 10
/** Candidates kept per family; at 250 ms apart, more would not be tried within any sane connect timeout. */
const MAX_ADDRESSES_PER_FAMILY = 32

export type SocketOptions = Omit<net.TcpNetConnectOpts, 'host' | 'port' | 'lookup' | 'family' | 'autoSelectFamily'>

export interface RaceOptions {
  /** Bare host (no brackets), for messages. */
  host: string
  port: number
  resolution: Resolution
  /** ms between attempt starts; Infinity dials one address at a time (next only after a failure). */
  attemptDelay: number
  socketOptions: SocketOptions
  origin: string | undefined
}

type Family = 4 | 6
interface Listeners {
  connect: () => void
  error: (err: Error) => void
}
type RaceState = 'resolving' | 'racing' | 'done'

export class ConnectionRace {
  readonly promise: Promise<net.Socket>
  /** Every address dialled so far, in order. */
  readonly tried: string[] = []
  /** `performance.now()` when the answers were in and the first address was dialled (the end of the DNS phase). */
  resolvedAt: number | undefined = undefined
  readonly #opts: RaceOptions
  readonly #queue6: string[] = []
  readonly #queue4: string[] = []
  readonly #attempts = new Map<net.Socket, Listeners>()
  readonly #errors: Error[] = []
  #state: RaceState = 'resolving'
  #pending6 = true
  #pending4 = true
  #lastFamily: Family = 4
  #dnsFailure: unknown
  #resolutionTimer: NodeJS.Timeout | undefined
  #attemptTimer: NodeJS.Timeout | undefined
  #resolve!: (socket: net.Socket) => void
  #reject!: (err: WirepoolError) => void

  constructor(opts: RaceOptions) {
    this.#opts = opts
    this.promise = new Promise((resolve, reject) => {
      this.#resolve = resolve
      this.#reject = reject
    })
    this.#take(6, opts.resolution.v6)
    this.#take(4, opts.resolution.v4)
  }

  /** Ends the race now (deadline, abort): every attempt is destroyed. */
  abort(err: WirepoolError): void {
    this.#finish(undefined, err)
  }

  #take(family: Family, answer: FamilyAnswer): void {
    if (Array.isArray(answer)) {
      this.#answered(family, answer as readonly string[])
      return
    }
    ;(answer as Promise<readonly string[]>).then(
      (list) => this.#answered(family, list),
      (err: unknown) => {
        this.#dnsFailure ??= err
        this.#answered(family, [])
      },
    )
  }

  #answered(family: Family, addresses: readonly string[]): void {
    if (this.#state === 'done') return
    if (family === 6) this.#pending6 = false
    else this.#pending4 = false
    const queue = family === 6 ? this.#queue6 : this.#queue4
    // A resolver (a user's lookup, a hostile DNS answer) bounds nothing: dial at most MAX_ADDRESSES_PER_FAMILY of each.
    for (let i = 0; i < addresses.length && queue.length < MAX_ADDRESSES_PER_FAMILY; i++) queue.push(addresses[i] as string)
    if (this.#state === 'resolving') {
      if (family === 6 || !this.#pending6) {
        this.#startRacing()
      } else if (addresses.length > 0 && this.#resolutionTimer === undefined) {
        // §3: A came first; give AAAA the Resolution Delay before going on IPv4 alone.
        this.#resolutionTimer = setTimeout(() => this.#startRacing(), RESOLUTION_DELAY_MS)
      }
      return
    }
    // Racing with nothing to dial and no timer: the new addresses go at once.
    if (this.#attemptTimer === undefined) this.#next()
    else this.#checkExhausted()
  }

  #startRacing(): void {
    if (this.#state !== 'resolving') return
    clearTimeout(this.#resolutionTimer)
    this.#resolutionTimer = undefined
    this.#state = 'racing'
    this.resolvedAt = performance.now()
    this.#next()
  }

  /** §4: alternate families, IPv6 first. */
  #pick(): string | undefined {
    const other: Family = this.#lastFamily === 6 ? 4 : 6
    const first = other === 6 ? this.#queue6 : this.#queue4
    const second = other === 6 ? this.#queue4 : this.#queue6
    if (first.length > 0) {
      this.#lastFamily = other
      return first.shift()
    }
    // The other family has nothing (left): stay on this one.
    return second.shift()
  }

  #next(): void {
    clearTimeout(this.#attemptTimer)
    this.#attemptTimer = undefined
    if (this.#state !== 'racing') return
    const address = this.#pick()
    if (address === undefined) {
      this.#checkExhausted()
      return
    }
    this.tried.push(address)
    let socket: net.Socket
    try {
      socket = net.connect({ ...this.#opts.socketOptions, host: address, port: this.#opts.port })
    } catch (err) {
      // node:net validates synchronously (bad localAddress, bad onread shape…).
      this.#finish(undefined, new InvalidArgumentError(`invalid connect options: ${(err as Error).message}`, withOrigin(err, this.#opts.origin)))
      return
    }
    const listeners: Listeners = {
      connect: () => this.#finish(socket),
      error: (err) => {
        this.#attempts.delete(socket)
        socket.destroy()
        this.#errors.push(err)
        // §5: a failed attempt lets the next one start without waiting out the delay.
        this.#next()
      },
    }
    this.#attempts.set(socket, listeners)
    socket.once('connect', listeners.connect)
    socket.once('error', listeners.error)
    // Nothing else to dial, now or later (the common single-address case): no timer at all.
    if (this.#queue4.length === 0 && this.#queue6.length === 0 && !this.#pending4 && !this.#pending6) return
    if (Number.isFinite(this.#opts.attemptDelay)) {
      this.#attemptTimer = setTimeout(() => this.#next(), this.#opts.attemptDelay)
    } else {
      // One at a time: the next attempt waits for this one's failure (a sentinel keeps
      // #answered from dialling in parallel).
      this.#attemptTimer = setTimeout(noop, 2 ** 31 - 1)
    }
  }

  /** Nothing left to dial, nothing running, nothing to wait for: the race is lost. */
  #checkExhausted(): void {
    if (this.#state !== 'racing' || this.#attempts.size > 0 || this.#pending4 || this.#pending6) return
    if (this.#queue4.length > 0 || this.#queue6.length > 0) return
    const { host, port, origin } = this.#opts
    if (this.tried.length === 0) {
      const code = this.#dnsFailure === undefined ? 'ENOTFOUND' : dnsCodeOf(this.#dnsFailure)
      const err = this.#dnsFailure instanceof DnsError ? this.#dnsFailure : this.#dnsFailure === undefined ? new DnsError(host, code) : dnsError(host, this.#dnsFailure)
      if (origin !== undefined && err.origin === undefined) err.origin = origin
      this.#finish(undefined, err)
      return
    }
    const first = this.#errors[0]
    const cause = this.#errors.length === 1 ? first : new AggregateError(this.#errors, `every address of ${host}:${port} failed`)
    const codes = [...new Set(this.#errors.map((e) => dnsCodeOf(e)))].join('/')
    this.#finish(
      undefined,
      new ConnectRefusedError(`cannot connect to ${host}:${port}: ${codes} (tried ${this.tried.join(', ')})`, withOrigin(cause, origin)),
    )
  }

  #finish(winner: net.Socket | undefined, err?: WirepoolError): void {
    if (this.#state === 'done') return
    this.#state = 'done'
    clearTimeout(this.#resolutionTimer)
    clearTimeout(this.#attemptTimer)
    for (const [socket, listeners] of this.#attempts) {
      socket.off('connect', listeners.connect)
      socket.off('error', listeners.error)
      if (socket === winner) continue
      // Nobody owns a losing socket: a late error from it must not become uncaught.
      socket.on('error', noop)
      socket.destroy()
    }
    this.#attempts.clear()
    if (winner !== undefined) {
      this.#resolve(winner)
    } else {
      this.#reject(err as WirepoolError)
    }
  }
}

function withOrigin(cause: unknown, origin: string | undefined): { cause: unknown; origin?: string } {
  return origin === undefined ? { cause } : { cause, origin }
}

function noop(): void {}
