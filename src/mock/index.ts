/**
 * `wirepool/mock`: a MockAgent that answers requests from interceptors, usable wherever an
 * Agent is. See docs/testing.md.
 */
export { MockAgent, MockOrigin, MockNotMatchedError, type MockAgentOptions, type MockAgentStats, type MockedFigures, type MockCall, type NetConnectMatcher } from './mock-agent.js'
export { MockInterceptor, MockScope, type PendingInterceptor, type ReplyOptions, type ReplyResult, type ReplyFunction, type MockBody, type MockBodyInit } from './interceptor.js'
export type { InterceptOptions, MockRequest, OriginMatcher, StringMatcher } from './matchers.js'
export { DEFAULT_REDACTED_HEADERS, type RecordedExchange, type RecordingFile } from './recording.js'
