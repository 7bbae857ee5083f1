/**
 * The PINGs we send on a connection (RFC 9113 §6.7) and what their acknowledgements mean:
 * `ping()` calls waiting for a round-trip time, the keep-alive probe, and the BDP probe that
 * times a window of DATA for the BdpEstimator. The payload says whose ping it is — its high
 * word the kind, its low word a counter — so an ACK finds its owner without a search.
 *
 * Sans-I/O: the caller passes the time, writes the payloads returned here and owns the timers.
 */
import type { WirepoolError } from '../errors.js'

const KIND_USER = 0x77500001
const KIND_BDP = 0x77500002

/** What an acknowledgement was for. */
export const PingAck = {
  /** A `ping()` or the keep-alive probe: its promise was resolved. */
  USER: 0,
  /** The BDP probe: `bdpRtt` holds its round trip. */
  BDP: 1,
  /** Nothing we are waiting for (a late or forged ACK). */
  UNKNOWN: 2,
} as const
export type PingAck = (typeof PingAck)[keyof typeof PingAck]

interface PendingPing {
  start: number
  resolve: (rtt: number) => void
  reject: (err: WirepoolError) => void
}

function noop(): void {}

export class PingTracker {
  #counter = 0
  readonly #pending = new Map<number, PendingPing>()
  #keepAlive = -1
  #bdpStart = -1
  /** Round trip of the BDP probe last acknowledged. */
  bdpRtt = 0
  /** The round trip of the newest PING of any kind that was answered, ms (undefined before one). */
  lastRtt: number | undefined

  /** The keep-alive probe sent last has not been answered yet. */
  get keepAliveOutstanding(): boolean {
    return this.#keepAlive !== -1
  }

  /** A BDP probe is out: DATA arriving now belongs to its sample. */
  get bdpInFlight(): boolean {
    return this.#bdpStart >= 0
  }

  /** Payload of a new `ping()`; `resolve` gets the RTT in ms, `reject` the connection's end. */
  user(now: number, resolve: (rtt: number) => void, reject: (err: WirepoolError) => void): Buffer {
    const counter = this.#next()
    this.#pending.set(counter, { start: now, resolve, reject })
    return payload(KIND_USER, counter)
  }

  /** Payload of a keep-alive probe (call only when none is outstanding). */
  keepAlive(now: number): Buffer {
    const counter = this.#next()
    this.#keepAlive = counter
    this.#pending.set(counter, { start: now, resolve: noop, reject: noop })
    return payload(KIND_USER, counter)
  }

  /** Payload of a BDP probe (call only when none is in flight). */
  bdp(now: number): Buffer {
    this.#bdpStart = now
    return payload(KIND_BDP, 0)
  }

  /** A PING ACK arrived with `opaque` (RFC 9113 §6.7: the payload we sent, echoed). */
  ack(opaque: Uint8Array, now: number): PingAck {
    const kind = readU32(opaque, 0)
    if (kind === KIND_BDP && this.#bdpStart >= 0) {
      this.bdpRtt = now - this.#bdpStart
      this.lastRtt = this.bdpRtt
      this.#bdpStart = -1
      return PingAck.BDP
    }
    const counter = readU32(opaque, 4)
    const pending = kind === KIND_USER ? this.#pending.get(counter) : undefined
    if (pending === undefined) return PingAck.UNKNOWN
    this.#pending.delete(counter)
    if (counter === this.#keepAlive) this.#keepAlive = -1
    this.lastRtt = now - pending.start
    pending.resolve(this.lastRtt)
    return PingAck.USER
  }

  /** The connection ended: every waiting `ping()` fails. */
  rejectAll(err: WirepoolError): void {
    for (const ping of this.#pending.values()) ping.reject(err)
    this.#pending.clear()
  }

  #next(): number {
    this.#counter = (this.#counter + 1) >>> 0
    return this.#counter
  }
}

function payload(kind: number, counter: number): Buffer {
  const bytes = Buffer.allocUnsafe(8)
  bytes.writeUInt32BE(kind, 0)
  bytes.writeUInt32BE(counter, 4)
  return bytes
}

function readU32(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!) >>> 0
}
