/**
 * Test helpers around our WebSocket: an ordered record of its events, waits on them, and a
 * client opening against a scripted raw peer.
 */
import { Agent } from '../../src/pool/agent.js'
import type { CloseEvent, ErrorEvent } from '../../src/ws/events.js'
import { WebSocket, type WebSocketOptions } from '../../src/ws/websocket.js'
import { startRawPeer, type PeerConnection, type RawPeer } from './raw-peer.js'

interface Teardown {
  teardown(fn: () => unknown): void
}

/**
 * A raw peer and our client opening to it on `path` (agent without retries), both torn down
 * with the test; returns once the peer holds the connection, before it answers the handshake.
 */
export async function connectToRawPeer(
  t: Teardown,
  path: string,
  options: WebSocketOptions = {},
): Promise<{ peer: RawPeer; ws: WebSocket; rec: Recorder; conn: PeerConnection }> {
  const peer = await startRawPeer(t)
  const agent = new Agent({ retry: false })
  t.teardown(() => agent.destroy())
  const ws = new WebSocket(peer.url + path, { agent, ...options })
  t.teardown(() => {
    if (ws.readyState < 2) ws.close()
  })
  const rec = new Recorder(ws)
  const conn = await peer.connection()
  return { peer, ws, rec, conn }
}

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
