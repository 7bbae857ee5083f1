/**
 * wirepool's public API (API.md). Nothing outside this file is public: deep imports of
 * `dist/**` are not covered by semver.
 */
export { Agent, request, getDefaultAgent, type AgentStats } from './pool/agent.js'
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
  SendTimeoutError,
  PingTimeoutError,
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
