/**
 * The lifecycle of one client WebSocket: one discriminated union (`WsState`) and one
 * transition table (`nextWsState`), which throws for every move not drawn below. No I/O:
 * `websocket.ts` calls it from its `#transition`, the only writer of its state, and does
 * what entering each state entails (timers, events, releasing the socket).
 *
 * RFC 6455 §7.1 as a client lives it, with the WHATWG readyState of each state in brackets:
 *
 *   connecting [0] ───────opened───────► open [1] ──────────────────────────────────┐
 *      │   §4.1 a valid 101,                │                                       │
 *      │   RFC 8441 §5 a 2xx                │ sent-close        §7.1.2 we start     │ socket-closed
 *      │                                    │ received-close    §7.1.5, §5.5.1      │ TCP dropped with
 *      │ handshake-failed                   │ failed            §7.1.7 we fail it   │ no Close frame
 *      │   §4.1 checks, the timeout,        │ transport-failed  TCP error,          │ (§7.1.5: 1006)
 *      │   WHATWG close() while             │                   missed Pong         │
 *      │   connecting                       ▼                                       │
 *      │            closing [2] { sentClose, receivedClose, code, reason, failure } │
 *      │              ↺ sent-close / received-close: the other half (§7.1.3)        │
 *      │              ↺ failed: only while nothing failed yet                       │
 *      │              ↺ transport-failed (TCP error, close timeout): the first      │
 *      │                failure stays; none once both Close frames went across      │
 *      │                                    │                                       │
 *      │                                    │ socket-closed  §7.1.4 "The WebSocket  │
 *      ▼                                    ▼                Connection is Closed"  │
 *   closed [3] { wasClean, code, reason, error } ◄──────────────────────────────────┘
 *
 * `closed` is final. The close is clean (§7.1.4, WHATWG `wasClean`) when both Close frames
 * went across and nothing failed; its code is then the server's (§7.1.5), else the one we
 * failed with (§7.1.7), else 1006. What a state entails lives in websocket.ts `#transition`.
 */
import { IllegalTransitionError, SocketClosedError, type WirepoolError } from '../errors.js'
import { CloseCode } from './frame.js'

export interface Connecting {
  readonly kind: 'connecting'
}

export interface Open {
  readonly kind: 'open'
}

/** The closing handshake is under way (§7.1.2–§7.1.3), or the connection is being failed (§7.1.7). */
export interface Closing {
  readonly kind: 'closing'
  /** Our Close frame is queued (§5.5.1: the last frame we send; nothing goes after it). */
  readonly sentClose: boolean
  /** The server's Close frame arrived (§5.5.1, §7.1.5). */
  readonly receivedClose: boolean
  /** The code to report: the server's (§7.1.5), the one we failed with (§7.1.7), else 1006. */
  readonly code: number
  readonly reason: string
  /** What makes this close unclean; undefined while it can still be clean. */
  readonly failure: WirepoolError | undefined
  /** The `error` event for `failure` was dispatched when it happened, not to be repeated at the close. */
  readonly failureReported: boolean
}

/** §7.1.4: the TCP connection is gone (or never came); final. */
export interface Closed {
  readonly kind: 'closed'
  readonly wasClean: boolean
  readonly code: number
  /** The server's reason after a clean close, '' otherwise (WHATWG CloseEvent.reason). */
  readonly reason: string
  /** Why the close was not clean (undefined when it was). */
  readonly error: WirepoolError | undefined
}

export type WsState = Connecting | Open | Closing | Closed

/** What happens to a WebSocket: the arrows of the diagram above. */
export type WsEvent =
  | { readonly type: 'opened' }
  | { readonly type: 'handshake-failed'; readonly error: WirepoolError }
  | { readonly type: 'sent-close' }
  | { readonly type: 'received-close'; readonly code: number; readonly reason: string }
  /** §7.1.7 _Fail the WebSocket Connection_ with `code` (its error event is dispatched at once). */
  | { readonly type: 'failed'; readonly error: WirepoolError; readonly code: number }
  /** The transport broke (TCP error, a timeout): no Close code of ours; `reported` if its error event is dispatched at once. */
  | { readonly type: 'transport-failed'; readonly error: WirepoolError; readonly reported: boolean }
  | { readonly type: 'socket-closed' }

/** The states without data are shared: `state === OPEN` is the hot paths' check (one pointer compare). */
export const CONNECTING: Connecting = { kind: 'connecting' }
export const OPEN: Open = { kind: 'open' }

/** WHATWG `readyState` of each state. */
export const READY_STATE = { connecting: 0, open: 1, closing: 2, closed: 3 } as const satisfies Record<WsState['kind'], number>

/**
 * A move the diagram does not draw is a bug of ours (src/state-machine.ts). This pure function
 * always throws it; websocket.ts `#transition` rethrows under test and in production fails
 * the WebSocket with 1011 (RFC 6455 §7.4.1, "an unexpected condition").
 */
function illegalMove(state: WsState, event: WsEvent): IllegalTransitionError {
  return new IllegalTransitionError('WebSocket', state.kind, event.type)
}

/** The transition table: the next state, or a throw (`illegalMove`) for a move not drawn above. The one writer is websocket.ts `#transition`. */
export function nextWsState(state: WsState, event: WsEvent): WsState {
  switch (state.kind) {
    case 'connecting':
      if (event.type === 'opened') return OPEN
      if (event.type === 'handshake-failed') return closed(false, CloseCode.ABNORMAL, '', event.error)
      break
    case 'open':
      switch (event.type) {
        case 'sent-close':
          return closing(true, false, CloseCode.ABNORMAL, '', undefined, false)
        case 'received-close':
          return closing(false, true, event.code, event.reason, undefined, false)
        case 'failed':
          return closing(false, false, event.code, '', event.error, true)
        case 'transport-failed':
          return closing(false, false, CloseCode.ABNORMAL, '', event.error, event.reported)
        case 'socket-closed':
          // §7.1.5: closed with no Close frame: 1006.
          return closed(false, CloseCode.ABNORMAL, '', new SocketClosedError('the connection closed without a Close frame (1006)'))
      }
      break
    case 'closing':
      return fromClosing(state, event) ?? throwIllegal(state, event)
    case 'closed':
      break
  }
  return throwIllegal(state, event)
}

function fromClosing(s: Closing, event: WsEvent): WsState | undefined {
  switch (event.type) {
    case 'sent-close':
      return s.sentClose ? undefined : closing(true, s.receivedClose, s.code, s.reason, s.failure, s.failureReported)
    case 'received-close':
      if (s.receivedClose) return undefined
      // After a failure, the code to report stays the failure's.
      return s.failure === undefined
        ? closing(s.sentClose, true, event.code, event.reason, undefined, false)
        : closing(s.sentClose, true, s.code, s.reason, s.failure, s.failureReported)
    case 'failed':
      // The connection is failed once (the caller checks); a later failure has nothing left to fail.
      return s.failure !== undefined ? undefined : closing(s.sentClose, s.receivedClose, event.code, '', event.error, true)
    case 'transport-failed':
      // The first failure is the one reported; once both Close frames went across, what
      // TCP does while closing cannot make the close unclean (§7.1.1: the server ends it).
      if (s.failure !== undefined || (s.sentClose && s.receivedClose)) return s
      return closing(s.sentClose, s.receivedClose, s.code, s.reason, event.error, event.reported)
    case 'socket-closed': {
      const wasClean = s.sentClose && s.receivedClose && s.failure === undefined
      // §7.1.5: no Close frame from the server (and no failure to blame): an abnormal closure.
      const error = wasClean ? undefined : (s.failure ?? (s.receivedClose ? undefined : new SocketClosedError('the connection closed without a Close frame (1006)')))
      return closed(wasClean, s.code, wasClean ? s.reason : '', error)
    }
    default:
      return undefined
  }
}

function closing(
  sentClose: boolean,
  receivedClose: boolean,
  code: number,
  reason: string,
  failure: WirepoolError | undefined,
  failureReported: boolean,
): Closing {
  return { kind: 'closing', sentClose, receivedClose, code, reason, failure, failureReported }
}

function closed(wasClean: boolean, code: number, reason: string, error: WirepoolError | undefined): Closed {
  return { kind: 'closed', wasClean, code, reason, error }
}

function throwIllegal(state: WsState, event: WsEvent): never {
  throw illegalMove(state, event)
}
