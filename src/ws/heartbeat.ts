/**
 * Pings and Pongs (RFC 6455 §5.5.2, §5.5.3): the Pings we sent and wait an answer for
 * (`ping()` resolves with the round-trip time), and the optional heartbeat that sends one
 * every `pingInterval` ms while open and gives up on a peer whose Pong does not come within
 * `pongTimeout` ms.
 */

interface PendingPing {
  payload: Buffer
  sentAt: number
  resolve: (rtt: number) => void
  reject: (err: Error) => void
}

/** What the heartbeat needs from its WebSocket (one object per WebSocket). */
export interface HeartbeatHost {
  /** Send a Ping; resolves when its Pong arrives, rejects if the connection closes first. */
  ping(): Promise<number>
  /** Whether the WebSocket is still open (a heartbeat stops otherwise). */
  isOpen(): boolean
  /** No Pong within pongTimeout of a heartbeat Ping. */
  missedPong(): void
}

export class Heartbeat {
  readonly #host: HeartbeatHost
  /** Send a Ping this often (ms) while open; 0 turns the heartbeat off. */
  readonly #interval: number
  readonly #pongTimeout: number
  #intervalTimer: NodeJS.Timeout | undefined
  #pongTimer: NodeJS.Timeout | undefined
  readonly #pending: PendingPing[] = []

  constructor(host: HeartbeatHost, interval: number, pongTimeout: number) {
    this.#host = host
    this.#interval = interval
    this.#pongTimeout = pongTimeout
  }

  get pongTimeout(): number {
    return this.#pongTimeout
  }

  /** A Ping was sent with `payload`: `resolve` gets the round trip once its Pong comes. */
  sent(payload: Buffer, resolve: (rtt: number) => void, reject: (err: Error) => void): void {
    this.#pending.push({ payload, sentAt: performance.now(), resolve, reject })
  }

  /** §5.5.3: a Pong answers its Ping and every earlier one (a peer may answer only the most recent). */
  pong(payload: Uint8Array): void {
    const i = this.#pending.findIndex((p) => p.payload.equals(payload))
    if (i === -1) return // unsolicited (§5.5.3: no response expected)
    const now = performance.now()
    for (const ping of this.#pending.splice(0, i + 1)) ping.resolve(now - ping.sentAt)
  }

  /** The connection is gone: no Pong will come. */
  rejectPending(err: Error): void {
    for (const ping of this.#pending.splice(0)) ping.reject(err)
  }

  /** Arm the next heartbeat Ping (no-op when the heartbeat is off). */
  start(): void {
    if (this.#interval <= 0) return
    this.#intervalTimer = setTimeout(() => {
      this.#intervalTimer = undefined
      if (!this.#host.isOpen()) return
      this.#pongTimer = setTimeout(() => {
        this.#pongTimer = undefined
        if (this.#host.isOpen()) this.#host.missedPong()
      }, this.#pongTimeout)
      this.#pongTimer.unref()
      this.#host.ping().then(
        () => {
          clearTimeout(this.#pongTimer)
          this.#pongTimer = undefined
          if (this.#host.isOpen()) this.start()
        },
        () => {},
      )
    }, this.#interval)
    this.#intervalTimer.unref()
  }

  stop(): void {
    clearTimeout(this.#intervalTimer)
    clearTimeout(this.#pongTimer)
    this.#intervalTimer = undefined
    this.#pongTimer = undefined
  }
}
