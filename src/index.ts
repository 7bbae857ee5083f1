/**
 * wirepool's public API (reference: docs/api, `npm run docs`). Nothing outside this file is public: deep imports of
 * `dist/**` are not covered by semver.
 */
export { Agent, request, getDefaultAgent, setDefaultAgent, type AgentStats } from './pool/agent.js'
export { Pool, type ConnectionEvent, type ConnectionState, type RequestEvent, type RetryEvent, type PoolEvents, type ConnectionSnapshot, type CertificateExpiringEvent } from './pool/pool.js'
export type { OriginStats, ConnectionCounts } from './pool/stats.js'
export type { PercentileSummary } from './pool/histogram.js'
export { ResponseBody, type Response } from './response.js'
export type { AgentOptions, PoolOptions, TlsOptions, RetryOptions } from './options.js'
export type { RequestOptions, PoolRequestOptions, HeadersInit, RedirectMode } from './request-options.js'
export type { RequestBodyInit } from './body-source.js'
export type { Progress, ProgressListener } from './progress.js'
export type { ConnectionInfo, DispatchHandler, HeaderRecord, Protocol, RequestBody } from './dispatch.js'
export type { RequestTimings, TimingPhases } from './timings.js'
export { ComposedDispatcher, type Dispatch, type Interceptor, type ComposeBase } from './interceptors/compose.js'
export { DelegatingHandler } from './delegating-handler.js'
export { cache, type CacheOptions, type CacheStats, type CacheInterceptor } from './interceptors/cache/cache.js'
export type { CacheStore, CachedResponse, CacheStoreStats } from './interceptors/cache/store.js'
export { MemoryCacheStore, type MemoryCacheStoreOptions } from './interceptors/cache/memory-store.js'
export { redirect, type RedirectOptions } from './interceptors/redirect.js'
export {
  WebSocket,
  type WebSocketOptions,
  type PerMessageDeflateOptions,
  type BinaryType,
  type MessageData,
  type SendOptions,
  type WebSocketEventMap,
  type WebSocketMessageEvent,
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
  H2ProtocolError,
  H2StreamResetError,
  H2GoawayError,
  DecompressError,
  TlsHandshakeError,
  BodyIncompleteError,
  RequestTimeoutError,
  IllegalTransitionError,
  ProxyConnectError,
  ProxyAuthError,
  DnsError,
  TooManyRedirectsError,
  RedirectLoopError,
  RedirectRefusedError,
  type RedirectRefusal,
  type RedirectHop,
  type ErrorInitiator,
} from './errors.js'
export type { ProxyOption, ProxyOptionObject } from './proxy/config.js'
export type { PoolStats } from './pool/pool.js'
export { DnsCache, type DnsCacheOptions, type DnsCacheStats, type TtlResolver } from './dns/cache.js'
export type { DnsCounts } from './pool/stats.js'
