/**
 * connection-state.ts: the life of an HTTP/2 connection — every listed move of the table, and
 * every unlisted one refused (H2Connection's #transition turns that into an IllegalTransitionError
 * thrown under test, a connection failure with GOAWAY INTERNAL_ERROR in production).
 */
import t from 'tap'
import {
  ConnectionEvent,
  INITIAL_CONNECTION_STATE,
  acceptsStreams,
  nextConnectionState,
  settingsKnown,
  type ConnectionState,
} from '../../src/h2/connection-state.js'
import { IllegalTransitionError } from '../../src/errors.js'
import { illegalTransition } from '../../src/state-machine.js'

const { SETTINGS, RETIRE, CLOSE } = ConnectionEvent

function run(events: ConnectionEvent[]): ConnectionState | null {
  let state: ConnectionState | null = INITIAL_CONNECTION_STATE
  for (const event of events) {
    if (state === null) return null
    state = nextConnectionState(state, event)
  }
  return state
}

t.test('every listed move', async (t) => {
  t.same(INITIAL_CONNECTION_STATE, { kind: 'awaiting-settings' })
  t.same(run([SETTINGS]), { kind: 'open' }, 'the server preface opens the connection')
  t.same(run([RETIRE]), { kind: 'draining', settingsReceived: false }, 'close() before the server preface')
  t.same(run([CLOSE]), { kind: 'closed' })
  t.same(run([SETTINGS, RETIRE]), { kind: 'draining', settingsReceived: true })
  t.same(run([SETTINGS, CLOSE]), { kind: 'closed' })
  t.same(run([RETIRE, SETTINGS]), { kind: 'draining', settingsReceived: true }, 'the preface may still come while draining')
  t.same(run([RETIRE, CLOSE]), { kind: 'closed' })
  t.same(run([SETTINGS, RETIRE, RETIRE]), { kind: 'draining', settingsReceived: true }, 'a second GOAWAY keeps draining')
  t.same(run([RETIRE, RETIRE]), { kind: 'draining', settingsReceived: false })
  t.same(run([SETTINGS, RETIRE, CLOSE]), { kind: 'closed' })
})

t.test('every unlisted move is refused', async (t) => {
  t.equal(run([SETTINGS, SETTINGS]), null, 'open + settings (only the first SETTINGS is an event)')
  t.equal(run([SETTINGS, RETIRE, SETTINGS]), null, 'draining after the preface + settings')
  for (const event of Object.values(ConnectionEvent)) t.equal(run([CLOSE, event]), null, `closed + ${event}`)
  t.throws(() => illegalTransition('HTTP/2 connection', 'closed', CLOSE), IllegalTransitionError, 'the session turns a refusal into a bug under test')
})

t.test('what each state allows', async (t) => {
  const states: Array<[ConnectionEvent[], boolean, boolean]> = [
    [[], true, false],
    [[SETTINGS], true, true],
    [[RETIRE], false, false],
    [[SETTINGS, RETIRE], false, true],
    [[CLOSE], false, false],
  ]
  for (const [path, accepts, known] of states) {
    const state = run(path) as ConnectionState
    t.equal(acceptsStreams(state), accepts, `${state.kind} accepts streams: ${accepts}`)
    t.equal(settingsKnown(state), known, `${state.kind} knows the peer's settings: ${known}`)
  }
})
