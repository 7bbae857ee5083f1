/**
 * A connection under test, watched the way its pool would see it: the lifecycle events it
 * emits (dispatch.ts ConnectionEvents), in order, and the error it closed with.
 */
import type * as net from 'node:net'
import type { PoolConnection } from '../../src/dispatch.js'
import type { WirepoolError } from '../../src/errors.js'

interface Teardown {
  teardown(fn: () => unknown): void
}

export interface Watched {
  /** Resolves with the error carried by the connection's 'close' event. */
  closed: Promise<WirepoolError | undefined>
  /** Lifecycle events in order: `free`, `draining:<reason>`, `close`. */
  events: string[]
}

/** Record `conn`'s lifecycle events; the test's teardown destroys it and its socket. */
export function watchConnection(t: Teardown, conn: PoolConnection, socket: net.Socket): Watched {
  const events: string[] = []
  conn.on('free', () => events.push('free'))
  conn.on('draining', (reason) => events.push(`draining:${reason}`))
  const closed = new Promise<WirepoolError | undefined>((resolve) =>
    conn.on('close', (err) => {
      events.push('close')
      resolve(err)
    }),
  )
  t.teardown(() => {
    conn.destroy()
    socket.destroy()
  })
  return { closed, events }
}
