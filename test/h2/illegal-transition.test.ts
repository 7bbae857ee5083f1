/**
 * src/state-machine.ts through a live H2Connection: an unlisted §5.1 move is our bug. Under test
 * it throws (here from dispatch, where the session applies SEND_HEADERS); in production the
 * connection fails with an INTERNAL_ERROR connection error (RFC 9113 §5.4.1, §7) instead of
 * carrying on in a state §5.1 does not have. The bug is simulated by making H2Stream.transition
 * refuse one event.
 */
import { once } from 'node:events'
import t, { type Test } from 'tap'
import type { WirepoolError } from '../../src/errors.js'
import { H2Stream, StreamEvent } from '../../src/h2/stream.js'
import { IllegalTransitionError } from '../../src/errors.js'
import { illegalTransition, setStrictStates } from '../../src/state-machine.js'
import { closeOf, connectH2c, h2cServer, send } from './session-helpers.js'

/** Make `apply(event)` an unlisted move for this test. */
function refuse(t: Test, event: StreamEvent): void {
  const original = H2Stream.prototype.transition
  H2Stream.prototype.transition = function (this: H2Stream, e: StreamEvent, code?: number) {
    if (e === event) return illegalTransition(`HTTP/2 stream ${this.id}`, this.state.kind, e)
    return original.call(this, e, code)
  }
  t.teardown(() => {
    H2Stream.prototype.transition = original
  })
}

async function server(t: Test): Promise<number> {
  const peer = await h2cServer(t, (stream) => {
    stream.respond({ ':status': 200 })
    stream.end('ok')
  })
  return peer.port
}

t.test('under test, an unlisted move throws an IllegalTransitionError', async (t) => {
  const conn = await connectH2c(t, await server(t))
  await once(conn, 'free')
  refuse(t, StreamEvent.SEND_HEADERS)
  t.throws(() => send(conn), IllegalTransitionError)
})

t.test('in production, an unlisted move fails the connection with INTERNAL_ERROR', async (t) => {
  const before = setStrictStates(false)
  t.teardown(() => setStrictStates(before))
  const conn = await connectH2c(t, await server(t))
  await once(conn, 'free')
  t.equal((await send(conn).done).status, 200, 'a request before the bug')
  refuse(t, StreamEvent.RECV_HEADERS)
  const closed = closeOf(conn)
  const err = (await send(conn).done.catch((e: unknown) => e)) as WirepoolError
  t.match(err, { code: 'WP_INTERNAL', initiator: 'library', machine: 'HTTP/2 stream 3', from: 'half-closed-local', to: 'recv-headers' })
  t.type(err, IllegalTransitionError)
  t.equal(await closed, err, 'the connection closed with it')
  t.equal(conn.retired, true)
})
