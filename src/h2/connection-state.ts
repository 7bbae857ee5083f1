/**
 * The life of one HTTP/2 connection (RFC 9113 §3.4, §6.8): one discriminated union, one
 * transition table. H2Connection keeps the state in one field that only its `#transition`
 * writes.
 *
 *                 SETTINGS (the server preface, §3.4)
 *   awaiting-settings ──────────────────────────────► open
 *        │ retire                                       │ retire
 *        ▼             SETTINGS                         ▼
 *   draining (no SETTINGS yet) ───────────────► draining (SETTINGS seen) ◄─┐ retire
 *        │                                              │                  ─┘ (a second GOAWAY)
 *        └──────────────► closed ◄──────────────────────┘
 *             close        ▲  close: connection error, destroy(), socket gone, drain done
 *                          └── from awaiting-settings and open too
 *
 * - awaiting-settings: preface and SETTINGS sent, requests may already go (§3.4), assuming
 *   the peer's concurrency limit; any frame but SETTINGS from the peer is a PROTOCOL_ERROR.
 * - draining: GOAWAY sent or received, or close(): no new streams, in-flight ones finish.
 *   It remembers whether the server preface came, because the preface rule still holds.
 * - closed: every stream completed or failed, the socket ended or destroyed. Nothing leaves it.
 *
 * An unlisted move is a bug of ours (src/state-machine.ts).
 */
export type ConnectionState =
  | { readonly kind: 'awaiting-settings' }
  | { readonly kind: 'open' }
  | { readonly kind: 'draining'; readonly settingsReceived: boolean }
  | { readonly kind: 'closed' }

export const ConnectionEvent = {
  /** The peer's first SETTINGS frame (the server connection preface, §3.4). */
  SETTINGS: 'settings',
  /** No new streams: GOAWAY sent or received (§6.8), close(), stream ids exhausted. */
  RETIRE: 'retire',
  /** The connection is over. */
  CLOSE: 'close',
} as const
export type ConnectionEvent = (typeof ConnectionEvent)[keyof typeof ConnectionEvent]

// Shared: a transition never allocates.
const AWAITING_SETTINGS: ConnectionState = { kind: 'awaiting-settings' }
const OPEN: ConnectionState = { kind: 'open' }
const DRAINING_BEFORE_SETTINGS: ConnectionState = { kind: 'draining', settingsReceived: false }
const DRAINING: ConnectionState = { kind: 'draining', settingsReceived: true }
const CLOSED: ConnectionState = { kind: 'closed' }

export const INITIAL_CONNECTION_STATE: ConnectionState = AWAITING_SETTINGS

/** The transition table: the next state, or null for a move not drawn above. */
export function nextConnectionState(state: ConnectionState, event: ConnectionEvent): ConnectionState | null {
  switch (state.kind) {
    case 'awaiting-settings':
      return event === ConnectionEvent.SETTINGS ? OPEN : event === ConnectionEvent.RETIRE ? DRAINING_BEFORE_SETTINGS : CLOSED
    case 'open':
      return event === ConnectionEvent.RETIRE ? DRAINING : event === ConnectionEvent.CLOSE ? CLOSED : null
    case 'draining':
      if (event === ConnectionEvent.CLOSE) return CLOSED
      if (event === ConnectionEvent.RETIRE) return state
      return state.settingsReceived ? null : DRAINING
    case 'closed':
      return null
  }
}

/** New streams may be opened (before the server preface too: §3.4 lets requests follow ours at once). */
export function acceptsStreams(state: ConnectionState): boolean {
  return state.kind === 'open' || state.kind === 'awaiting-settings'
}

/** The peer's SETTINGS arrived, so its limits (MAX_CONCURRENT_STREAMS …) are known. */
export function settingsKnown(state: ConnectionState): boolean {
  return state.kind === 'open' || (state.kind === 'draining' && state.settingsReceived)
}
