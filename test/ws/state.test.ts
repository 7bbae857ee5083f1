/**
 * The WebSocket lifecycle's transition function (src/ws/state.ts), without a socket: every
 * move the RFC 6455 §7.1 diagram draws gives the state it should, and every other move
 * throws the internal error the WebSocket fails with (close code 1011) in production.
 */
import t, { type Test } from 'tap'
import { IllegalTransitionError, SocketClosedError, type WirepoolError } from '../../src/errors.js'
import { strictStates } from '../../src/state-machine.js'
import {
  CONNECTING,
  OPEN,
  READY_STATE,
  nextWsState,
  type Closing,
  type WsEvent,
  type WsState,
} from '../../src/ws/state.js'

const boom = new SocketClosedError('boom')
const other = new SocketClosedError('other')

const EVENTS: Record<WsEvent['type'], WsEvent> = {
  opened: { type: 'opened' },
  'handshake-failed': { type: 'handshake-failed', error: boom },
  'sent-close': { type: 'sent-close' },
  'received-close': { type: 'received-close', code: 4000, reason: 'bye' },
  failed: { type: 'failed', error: boom, code: 1002 },
  'transport-failed': { type: 'transport-failed', error: boom, reported: false },
  'socket-closed': { type: 'socket-closed' },
}

function closing(fields: Partial<Omit<Closing, 'kind'>>): Closing {
  return { kind: 'closing', sentClose: false, receivedClose: false, code: 1006, reason: '', failure: undefined, failureReported: false, ...fields }
}

function throwsIllegal(t: Test, state: WsState, event: WsEvent): void {
  let thrown: unknown
  try {
    nextWsState(state, event)
  } catch (err) {
    thrown = err
  }
  t.ok(thrown instanceof IllegalTransitionError, `${state.kind} + ${event.type} is not a move: it throws`)
  const err = thrown as IllegalTransitionError
  t.same([err.code, err.initiator, err.machine, err.from, err.to], ['WP_INTERNAL', 'library', 'WebSocket', state.kind, event.type], 'an internal error of ours')
}

/** Only the error's identity and class matter for `error` fields; compare the rest as plain data. */
function plain(state: WsState): Record<string, unknown> {
  const out: Record<string, unknown> = { ...state }
  for (const key of ['failure', 'error']) {
    const e = out[key] as WirepoolError | undefined
    if (e !== undefined) out[key] = `${e.constructor.name}: ${e.message}`
  }
  return out
}

t.test('tap runs this file with TAP=1: unlisted moves throw where they happen', async (t) => {
  t.equal(process.env['TAP'], '1')
  t.equal(strictStates(), true)
})

t.test('readyState of each state (WHATWG)', async (t) => {
  t.same(READY_STATE, { connecting: 0, open: 1, closing: 2, closed: 3 })
})

t.test('connecting: opened → open; handshake-failed → closed (1006, unclean, the error)', async (t) => {
  t.equal(nextWsState(CONNECTING, EVENTS.opened), OPEN, 'the shared OPEN state')
  const closed = nextWsState(CONNECTING, EVENTS['handshake-failed'])
  t.same(closed, { kind: 'closed', wasClean: false, code: 1006, reason: '', error: boom })
  t.equal(closed.kind === 'closed' && closed.error, boom)
  for (const type of ['sent-close', 'received-close', 'failed', 'transport-failed', 'socket-closed'] as const) {
    throwsIllegal(t, CONNECTING, EVENTS[type])
  }
})

t.test('open: each way into closing, and a TCP drop straight to closed', async (t) => {
  t.same(nextWsState(OPEN, EVENTS['sent-close']), closing({ sentClose: true }), '§7.1.2 we start')
  t.same(nextWsState(OPEN, EVENTS['received-close']), closing({ receivedClose: true, code: 4000, reason: 'bye' }), '§7.1.5 the server starts')
  t.same(nextWsState(OPEN, EVENTS.failed), closing({ code: 1002, failure: boom, failureReported: true }), '§7.1.7 we fail it')
  t.same(nextWsState(OPEN, EVENTS['transport-failed']), closing({ failure: boom }), 'TCP error: reported with the close')
  t.same(
    nextWsState(OPEN, { type: 'transport-failed', error: boom, reported: true }),
    closing({ failure: boom, failureReported: true }),
    'missed Pong: reported at once',
  )
  t.same(plain(nextWsState(OPEN, EVENTS['socket-closed'])), {
    kind: 'closed',
    wasClean: false,
    code: 1006,
    reason: '',
    error: 'SocketClosedError: the connection closed without a Close frame (1006)',
  })
  throwsIllegal(t, OPEN, EVENTS.opened)
  throwsIllegal(t, OPEN, EVENTS['handshake-failed'])
})

t.test('closing: the other half of the handshake', async (t) => {
  t.same(nextWsState(closing({ receivedClose: true, code: 4000, reason: 'bye' }), EVENTS['sent-close']), closing({ sentClose: true, receivedClose: true, code: 4000, reason: 'bye' }), 'our echo')
  t.same(nextWsState(closing({ sentClose: true }), EVENTS['received-close']), closing({ sentClose: true, receivedClose: true, code: 4000, reason: 'bye' }), 'the server answers ours')
  // After a failure the code stays the failure's.
  const failed = closing({ sentClose: true, code: 1002, failure: boom, failureReported: true })
  t.same(nextWsState(failed, EVENTS['received-close']), { ...failed, receivedClose: true })
  throwsIllegal(t, closing({ sentClose: true }), EVENTS['sent-close'])
  throwsIllegal(t, closing({ receivedClose: true }), EVENTS['received-close'])
})

t.test('closing: failures (the first one counts; none after a complete handshake)', async (t) => {
  t.same(nextWsState(closing({ sentClose: true }), EVENTS.failed), closing({ sentClose: true, code: 1002, failure: boom, failureReported: true }))
  throwsIllegal(t, closing({ failure: other }), EVENTS.failed)
  t.same(nextWsState(closing({ sentClose: true }), EVENTS['transport-failed']), closing({ sentClose: true, failure: boom }), 'close timeout')
  const first = closing({ sentClose: true, failure: other })
  t.equal(nextWsState(first, EVENTS['transport-failed']), first, 'the first failure stays')
  const done = closing({ sentClose: true, receivedClose: true, code: 1000 })
  t.equal(nextWsState(done, EVENTS['transport-failed']), done, 'a TCP error after both Close frames does not make the close unclean')
})

t.test('closing → closed on socket-closed', async (t) => {
  t.same(nextWsState(closing({ sentClose: true, receivedClose: true, code: 1000, reason: 'done' }), EVENTS['socket-closed']), {
    kind: 'closed',
    wasClean: true,
    code: 1000,
    reason: 'done',
    error: undefined,
  }, '§7.1.4 clean: the server code and reason')
  t.same(nextWsState(closing({ sentClose: true, code: 1002, failure: boom, failureReported: true }), EVENTS['socket-closed']), {
    kind: 'closed',
    wasClean: false,
    code: 1002,
    reason: '',
    error: boom,
  }, 'failed: our code, no reason, the failure')
  t.same(
    plain(nextWsState(closing({ sentClose: true }), EVENTS['socket-closed'])),
    { kind: 'closed', wasClean: false, code: 1006, reason: '', error: 'SocketClosedError: the connection closed without a Close frame (1006)' },
    'no Close from the server: 1006',
  )
  t.same(
    nextWsState(closing({ sentClose: true, receivedClose: true, code: 1000, reason: 'r', failure: boom }), EVENTS['socket-closed']),
    { kind: 'closed', wasClean: false, code: 1000, reason: '', error: boom },
    'both Close frames but a failure: unclean, no reason',
  )
  throwsIllegal(t, closing({}), EVENTS.opened)
  throwsIllegal(t, closing({}), EVENTS['handshake-failed'])
})

t.test('closed is final', async (t) => {
  const closed = nextWsState(OPEN, EVENTS['socket-closed'])
  for (const event of Object.values(EVENTS)) throwsIllegal(t, closed, event)
})
