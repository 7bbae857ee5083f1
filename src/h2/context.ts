/**
 * The narrow surface the parts of an HTTP/2 connection call back into H2Connection through
 * (after hyperium/h2's proto/streams split into store / send / recv / flow control). The
 * parts, each with one job (session.ts's header lists them), get this context and the
 * sibling parts they use at construction; none reaches into H2Connection's private state.
 *
 * H2Connection builds the context once (its members are closures over the connection's
 * private members), so no call through it allocates.
 */
import type { BatchWriter } from '../batch-writer.js'
import type { H2ProtocolError, WirepoolError } from '../errors.js'
import type { SettingsEntry } from './frame.js'
import type { PeerSettings } from './settings.js'
import type { H2Stream, StreamEvent } from './stream.js'

export interface SessionContext {
  /** `scheme://host:port`, stamped on every error. */
  readonly origin: string
  /** Open streams by id (including ones whose reset waits for the pacer). */
  readonly streams: Map<number, H2Stream>
  readonly writer: BatchWriter
  readonly peer: PeerSettings
  /** The connection is closed: nothing more is written or delivered. */
  closed(): boolean
  /** Apply a §5.1 event (H2Stream.transition); false when it was an unlisted move and the connection failed. */
  transitionStream(stream: H2Stream, event: StreamEvent, errorCode?: number): boolean
  /** Set the stream's header/body deadline `ms` from now (non-finite or ≤ 0: none). */
  armDeadline(stream: H2Stream, ms: number): void
  /** The stream's content must make progress by `at` (send.ts; deadlines.ts fails it with SendTimeoutError). */
  armSendDeadline(stream: H2Stream, at: number): void
  /** A request on this connection timed out: the connection is suspect until a PING proves it alive (liveness.ts). */
  requestTimedOut(): void
  /** Fail the request and reset its stream (paced); a stream never opened just goes away. */
  cancel(stream: H2Stream, code: number, error: WirepoolError): void
  /** A stream error (RFC 9113 §5.4.2): RST_STREAM with its code, the request fails. */
  streamError(stream: H2Stream, error: H2ProtocolError): void
  /** A handler callback threw: the request is cancelled. */
  handlerThrew(stream: H2Stream, err: unknown): void
  /** Deliver the stream's one final error to its handler. */
  fail(stream: H2Stream, error: WirepoolError): void
  /** The stream leaves the table (its capacity is free again). */
  remove(stream: H2Stream): void
  /** Stop sending the stream's content and let go of its source. */
  abandonBody(stream: H2Stream): void
  /** Reset the stream (RST_STREAM, paced) without failing its request. */
  queueReset(stream: H2Stream, code: number): void
  /** One more response completed. */
  countServed(): void
  /** Send our SETTINGS and expect their acknowledgement (RFC 9113 §6.5.3). */
  sendSettings(entries: readonly SettingsEntry[]): void
}
