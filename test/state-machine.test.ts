/**
 * src/state-machine.ts: the one rule every state machine follows for a move its table does
 * not list — thrown under test, returned (code WP_INTERNAL) for the owner to fail the
 * connection with in production. The machines' own tables are tested beside them
 * (test/h1/state-machines, test/h2/stream, test/h2/connection-state, test/ws/state,
 * test/pool/selection-rules).
 */
import { spawnSync } from 'node:child_process'
import t from 'tap'
import { ErrorCode, IllegalTransitionError, WirepoolError } from '../src/errors.js'
import * as api from '../src/index.js'
import { illegalTransition, setStrictStates, strictStates } from '../src/state-machine.js'

t.test('under tap (TAP=1) an unlisted move throws where it happens', async (t) => {
  t.equal(strictStates(), true)
  t.throws(() => illegalTransition('H1Connection', 'closed', 'open'), {
    name: 'IllegalTransitionError',
    code: ErrorCode.INTERNAL,
    machine: 'H1Connection',
    from: 'closed',
    to: 'open',
    message: 'internal error: H1Connection has no transition closed -> open',
  })
})

t.test('in production the error is returned for the owner to fail its connection with', async (t) => {
  const before = setStrictStates(false)
  t.teardown(() => setStrictStates(before))
  const err = illegalTransition('HTTP/2 stream 5', 'closed', 'recv-headers', { origin: 'https://a.test' })
  t.type(err, IllegalTransitionError)
  t.type(err, WirepoolError)
  t.match(err, { code: 'WP_INTERNAL', initiator: 'library', origin: 'https://a.test' })
  t.equal(setStrictStates(true), false, 'setStrictStates returns the previous mode')
})

t.test('the error class is public', async (t) => {
  t.equal(api.IllegalTransitionError, IllegalTransitionError)
  t.equal(api.ErrorCode.INTERNAL, 'WP_INTERNAL')
})

t.test('outside tap, WIREPOOL_STRICT_STATES=1 asks for the throwing mode; nothing else does', async (t) => {
  const probe = "import('./src/state-machine.ts').then((m) => console.log(m.strictStates()))"
  const run = (env: NodeJS.ProcessEnv): string => {
    const out = spawnSync(process.execPath, ['--import', 'tsx', '-e', probe], { env, encoding: 'utf8', timeout: 60_000 })
    return out.stdout.trim()
  }
  const { TAP: _tap, WIREPOOL_STRICT_STATES: _strict, ...clean } = process.env
  t.equal(run(clean), 'false', 'production default')
  t.equal(run({ ...clean, WIREPOOL_STRICT_STATES: '1' }), 'true')
})
