/**
 * What an unlisted state transition means for the HTTP/2 state machines (the §5.1 stream
 * machine in stream.ts, the connection's life in session.ts): a bug of ours, never a peer's
 * fault — peer violations are checked, and answered with their RFC 9113 error, before a
 * transition is asked for.
 *
 * Under test (tap sets TAP=1; NODE_ENV=test elsewhere) the bug throws a `TransitionBug`
 * that the session lets escape, so the test run fails loudly. In production the machine
 * returns an `INTERNAL_ERROR` connection error (RFC 9113 §7: "the endpoint encountered an
 * unexpected internal error") for the session to fail the connection with: one connection
 * lost, not the process.
 */
import { H2ProtocolError } from '../errors.js'
import { H2ErrorCode } from './frame.js'

/** Throw on an unlisted transition (tests) rather than fail the connection (production). */
export let strictTransitions = process.env.TAP === '1' || process.env.NODE_ENV === 'test'

/** For the tests of the production path. Returns the previous setting. */
export function setStrictTransitions(strict: boolean): boolean {
  const before = strictTransitions
  strictTransitions = strict
  return before
}

/** An unlisted transition seen under test: a bug in wirepool. */
export class TransitionBug extends Error {
  override readonly name = 'TransitionBug'
}

/**
 * An unlisted transition of `machine` from `from` on `event`: throws a TransitionBug under
 * test, else returns the INTERNAL_ERROR connection error to fail the connection with.
 */
export function unlistedTransition(machine: string, from: string, event: string): H2ProtocolError {
  const message = `bug: ${machine} has no transition from ${from} on ${event}`
  if (strictTransitions) throw new TransitionBug(message)
  return new H2ProtocolError(H2ErrorCode.INTERNAL_ERROR, 'INTERNAL_ERROR', 0, message, { initiator: 'library' })
}
