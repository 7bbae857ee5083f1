/** Test helpers around our WebSocket: an ordered record of its events, and waits on them. */
import type { CloseEvent, ErrorEvent } from '../../src/ws/events.js'
import type { WebSocket } from '../../src/ws/websocket.js'

export type Recorded =
  | { type: 'open' }
  | { type: 'message'; data: unknown }
  | { type: 'error'; error: ErrorEvent['error'] }
  | { type: 'close'; code: number; reason: string; wasClean: boolean }

export class Recorder {
  readonly events: Recorded[] = []
  readonly #waiters: { test: (e: Recorded) => boolean; resolve: (e: Recorded) => void }[] = []

  constructor(ws: WebSocket) {
    ws.addEventListener('open', () => this.#push({ type: 'open' }))
    ws.addEventListener('message', (e) => this.#push({ type: 'message', data: (e as MessageEvent).data }))
    ws.addEventListener('error', (e) => this.#push({ type: 'error', error: (e as ErrorEvent).error }))
    ws.addEventListener('close', (e) => {
      const c = e as CloseEvent
      this.#push({ type: 'close', code: c.code, reason: c.reason, wasClean: c.wasClean })
    })
  }

  #push(e: Recorded): void {
    this.events.push(e)
    for (let i = 0; i < this.#waiters.length; i++) {
      const w = this.#waiters[i]
      if (w !== undefined && w.test(e)) {
        this.#waiters.splice(i, 1)
        w.resolve(e)
        i--
      }
    }
  }

  /** The first event of `type` (already recorded or still to come). */
  wait<T extends Recorded['type']>(type: T): Promise<Extract<Recorded, { type: T }>> {
    const seen = this.events.find((e) => e.type === type)
    if (seen !== undefined) return Promise.resolve(seen as Extract<Recorded, { type: T }>)
    return new Promise((resolve) => this.#waiters.push({ test: (e) => e.type === type, resolve: resolve as (e: Recorded) => void }))
  }

  /** The n-th message (0-based). */
  message(n: number): Promise<unknown> {
    const msgs = this.events.filter((e) => e.type === 'message')
    if (msgs.length > n) return Promise.resolve((msgs[n] as { data: unknown }).data)
    let count = msgs.length
    return new Promise((resolve) =>
      this.#waiters.push({
        test: (e) => e.type === 'message' && count++ === n,
        resolve: (e) => resolve((e as { data: unknown }).data),
      }),
    )
  }

  types(): string[] {
    return this.events.map((e) => e.type)
  }
}
