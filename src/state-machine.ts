/**
 * The one rule every state machine in wirepool follows — the pool's connection record
 * (pool/lifecycle.ts), the HTTP/1.1 connection and each exchange's write and read progress
 * (h1/connection-state.ts, h1/exchange.ts), the HTTP/2 connection and stream
 * (h2/connection-state.ts, h2/stream.ts, RFC 9113 §5.1) and the WebSocket (ws/state.ts,
 * RFC 6455 §7): one union of states, one transition function that is the only writer of the
 * state, and a table of the moves it lists. docs/architecture.md draws each one.
 *
 * A move the table does not list is a bug of ours, never the peer's fault (what a peer may
 * not do is checked, and answered with its protocol error, before a move is asked for):
 * - under test it throws an `IllegalTransitionError` where it happens (tap sets `TAP=1` in
 *   every test process; `WIREPOOL_STRICT_STATES=1` asks for the same anywhere else);
 * - in production the error (code `WP_INTERNAL`) is returned, and the machine's owner fails
 *   that connection with it: one connection lost, not the process — never silently ignored.
 */
import { IllegalTransitionError, type WirepoolErrorOptions } from './errors.js'

export { IllegalTransitionError }

let strict = process.env['TAP'] === '1' || process.env['WIREPOOL_STRICT_STATES'] === '1'

/** True when an unlisted move throws (tests) rather than fails its connection (production). */
export function strictStates(): boolean {
  return strict
}

/** For the tests of the production path: set the mode, returning the previous one. */
export function setStrictStates(value: boolean): boolean {
  const before = strict
  strict = value
  return before
}

/**
 * `machine` was asked to move from `from` on/to `to`, which its table does not list: throws
 * under test; otherwise returns the internal error to fail the connection with.
 */
export function illegalTransition(machine: string, from: string, to: string, options: WirepoolErrorOptions = {}): IllegalTransitionError {
  const err = new IllegalTransitionError(machine, from, to, options)
  if (strict) throw err
  return err
}
