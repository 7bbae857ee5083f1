/**
 * The HTTP/1.1 connection's state machines reject what they do not list: the connection's
 * life (connection-state.ts) and each exchange's write and read progress (exchange.ts).
 * Under tap (TAP=1) an unlisted move throws; in production it is refused and reported.
 */
import t from 'tap'
import { isListedMove } from '../../src/h1/connection-state.js'
import { IllegalTransitionError } from '../../src/errors.js'
import { setStrictStates, strictStates } from '../../src/state-machine.js'
import { Exchange, ReadState, WriteState } from '../../src/h1/exchange.js'
import { req } from './connection-helpers.js'

const exchange = (): Exchange =>
  new Exchange(req(), { onHeaders: () => {}, onData: () => {}, onComplete: () => {}, onError: () => {} }, 'GET / HTTP/1.1\r\n\r\n', 0)

t.test('tap sets TAP=1 in the test process, so unlisted moves throw', async (t) => {
  t.equal(process.env['TAP'], '1')
  t.equal(strictStates(), true)
})

t.test('connection: listed moves pass', async (t) => {
  t.equal(isListedMove('open', 'draining'), true)
  t.equal(isListedMove('open', 'closed'), true)
  t.equal(isListedMove('draining', 'upgraded'), true)
  t.equal(isListedMove('upgraded', 'closed'), true)
})

t.test('connection: an unlisted move throws under tests', async (t) => {
  t.throws(() => isListedMove('closed', 'open'), /H1Connection has no transition closed -> open/)
  t.throws(() => isListedMove('draining', 'open'), /no transition draining -> open/)
  t.throws(() => isListedMove('closed', 'draining'), IllegalTransitionError)
  t.throws(() => isListedMove('upgraded', 'draining'), { code: 'WP_INTERNAL' })
})

t.test('connection: outside tests an unlisted move is refused, not thrown', async (t) => {
  const before = setStrictStates(false)
  try {
    t.equal(isListedMove('closed', 'open'), false)
  } finally {
    setStrictStates(before)
  }
})

t.test('exchange: the listed write and read paths', async (t) => {
  const ex = exchange()
  t.equal(ex.moveWrite(WriteState.AWAITING_CONTINUE), true)
  t.equal(ex.moveWrite(WriteState.STREAMING), true)
  t.equal(ex.moveWrite(WriteState.SENT), true)
  t.equal(ex.moveRead(ReadState.STARTED), true)
  t.equal(ex.responseStarted, true)
  t.equal(ex.moveRead(ReadState.BODY), true)
  t.equal(ex.moveRead(ReadState.DONE), true)
  t.equal(ex.done, true)
})

t.test('exchange: unlisted moves throw and change nothing', async (t) => {
  const ex = exchange()
  t.throws(() => ex.moveWrite(WriteState.ABANDONED), /request write has no transition queued -> abandoned/)
  t.equal(ex.write, WriteState.QUEUED)
  t.throws(() => ex.moveRead(ReadState.BODY), /response read has no transition waiting -> body/)
  ex.moveWrite(WriteState.SENT)
  t.throws(() => ex.moveWrite(WriteState.STREAMING), /no transition sent -> streaming/)
  ex.moveRead(ReadState.DONE)
  t.throws(() => ex.moveRead(ReadState.STARTED), /no transition done -> started/)
  t.equal(ex.read, ReadState.DONE)
  const before = setStrictStates(false)
  try {
    t.equal(ex.moveRead(ReadState.BODY), false, 'refused in production')
  } finally {
    setStrictStates(before)
  }
})
