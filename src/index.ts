/**
 * wirepool's public API (API.md). Nothing outside this file is public: deep imports of
 * `dist/**` are not covered by semver.
 */
import { getDefaultAgent as builtInDefaultAgent, type Agent } from './pool/agent.js'
import type { RequestOptions as RequestInit } from './request-options.js'
import type { Response as WirepoolResponse } from './response.js'

export { Agent, type AgentStats } from './pool/agent.js'
export { Pool, type ConnectionEvent, type ConnectionState, type RequestEvent, type RetryEvent, type PoolEvents, type ConnectionSnapshot, type CertificateExpiringEvent } from './pool/pool.js'
export type { OriginStats, ConnectionCounts } from './pool/stats.js'
export type { PercentileSummary } from './pool/histogram.js'
export { ResponseBody, type Response } from './response.js'
export type { AgentOptions, PoolOptions, TlsOptions, RetryOptions } from './options.js'
export type { RequestOptions, PoolRequestOptions, HeadersInit } from './request-options.js'
export type { ConnectionInfo, DispatchHandler, HeaderRecord, Protocol, RequestBody } from './dispatch.js'
export {
  WebSocket,
  type WebSocketOptions,
  type PerMessageDeflateOptions,
  type BinaryType,
  type MessageData,
  type SendOptions,
} from './ws/websocket.js'
export { CloseEvent, ErrorEvent, type CloseEventInit } from './ws/events.js'
export {
  WirepoolError,
  ErrorCode,
  ConnectTimeoutError,
  ConnectRefusedError,
  TlsVerifyError,
  TlsPinMismatchError,
  HeadersTimeoutError,
  BodyTimeoutError,
  AbortedError,
  SocketClosedError,
  H1ParseError,
  InvalidArgumentError,
  PoolClosedError,
  WsProtocolError,
  WsHandshakeError,
  IllegalTransitionError,
  type ErrorInitiator,
} from './errors.js'

/**
 * The default Agent behind `request()`, replaceable with `setDefaultAgent()` (e.g. by a
 * MockAgent in tests). Known limit: `wirepool/fetch`'s default `fetch` asks pool/agent.ts
 * directly and does not see an agent set here; use `createFetch(agent)` with it.
 */
let chosenDefaultAgent: Agent | undefined

/** The Agent `request()` uses: the one given to setDefaultAgent(), else the built-in one. */
export function getDefaultAgent(): Agent {
  return chosenDefaultAgent ?? builtInDefaultAgent()
}

/** Make `agent` the default (undefined: the built-in one again). Returns the previous default; it is not closed. */
export function setDefaultAgent(agent: Agent | undefined): Agent {
  const previous = getDefaultAgent()
  chosenDefaultAgent = agent
  return previous
}

/** One-shot request on the default Agent (API.md: `await request(url, init?)`). */
export function request(url: string | URL, init: Omit<RequestInit, 'url' | 'origin'> = {}): Promise<WirepoolResponse> {
  return getDefaultAgent().request({ ...init, url })
}
