/**
 * The life of an `H1Connection`, as one discriminated union held in one field and changed
 * by one function (`H1Connection#transition`), which asks `isListedMove` first:
 *
 *   open ──► draining ──► closed        draining: no new requests, in-flight ones finish
 *   open ──► closed                     failure, destroy(), or the peer went away
 *   open | draining ──► upgraded        101 (or CONNECT 2xx): the socket belongs to the handler
 *   draining ──► draining               a later response names the final exchange
 *   upgraded ──► closed                 the new owner's onUpgrade threw: the socket is destroyed
 *
 * What belongs to one state lives in it (as hyper's `Reading::Body(decoder)`): why the
 * connection drains and which exchange is its last, why it closed. Every state object has
 * the same fields in the same order, so they share one hidden class and reading `kind` on
 * the hot path stays monomorphic; a field a state does not use is null.
 */
import type { WirepoolError } from '../errors.js'
import { type Exchange, refused } from './exchange.js'
import { Framing, type ResponseHead } from './parser-events.js'

export type ConnectionState =
  | { readonly kind: 'open'; readonly reason: null; readonly final: null; readonly error: null }
  | {
      readonly kind: 'draining'
      /** Why: what the 'draining' event said. */
      readonly reason: string
      /**
       * The exchange whose response ends the connection's useful life (Connection: close,
       * doubtful framing, early response): no response after it is trusted and no further
       * request head is written. Null when only no new requests are taken (close(), max requests).
       */
      readonly final: Exchange | null
      readonly error: null
    }
  | {
      readonly kind: 'closed'
      readonly reason: null
      readonly final: null
      /** What 'close' carries: undefined for an orderly close. */
      readonly error: WirepoolError | undefined
    }
  | { readonly kind: 'upgraded'; readonly reason: null; readonly final: null; readonly error: null }

export type ConnectionStateKind = ConnectionState['kind']

export const OPEN: ConnectionState = { kind: 'open', reason: null, final: null, error: null }
export const UPGRADED: ConnectionState = { kind: 'upgraded', reason: null, final: null, error: null }

export function draining(reason: string, final: Exchange | null): ConnectionState {
  return { kind: 'draining', reason, final, error: null }
}

export function closed(error: WirepoolError | undefined): ConnectionState {
  return { kind: 'closed', reason: null, final: null, error }
}

const MOVES: { readonly [K in ConnectionStateKind]: readonly ConnectionStateKind[] } = {
  open: ['draining', 'closed', 'upgraded'],
  draining: ['draining', 'closed', 'upgraded'],
  closed: [],
  upgraded: ['closed'],
}

/** True for a listed move; an unlisted one throws under tests and is false in production (src/state-machine.ts). */
export function isListedMove(from: ConnectionStateKind, to: ConnectionStateKind): boolean {
  return MOVES[from].includes(to) || refused('H1Connection', from, to)
}

/**
 * The 'draining' reason for a final response the parser found not persistent
 * (`head.keepAlive` false, RFC 9112 §9.3): it ends the connection's useful life.
 */
export function whyNotPersistent(head: ResponseHead): string {
  // RFC 9112 §6.3 rule 3: Content-Length with Transfer-Encoding is a smuggling vector; the
  // message may be read, the connection must not be reused.
  if (head.conflictingFraming) return 'response had both Content-Length and Transfer-Encoding'
  // RFC 9112 §6.3 rule 8: the body runs until the server closes the connection.
  if (head.framing === Framing.UNTIL_CLOSE) return 'response body is delimited by connection close'
  return head.versionMinor === 0 ? 'HTTP/1.0 response without keep-alive' : 'peer sent Connection: close'
}
