/**
 * The fault table: each response fault, over HTTP/1.1 and HTTP/2, against a GET (idempotent)
 * and a POST (not). The fault applies to the first request of the route only, so a retried
 * request succeeds: `requests` counts what reached the server, `outcome` is what the caller
 * saw — 'ok' or the error code (thrown by request() or by reading the body).
 * docs/testing.md prints this same table.
 */
import type { ConnectionFault, ResponseFault } from '../../src/testing/index.js'

export type Proto = 'http/1.1' | 'h2'

export interface Expectation {
  outcome: string
  requests: number
}

export interface FaultCase {
  name: string
  fault: ResponseFault
  /** A request first on the same connection (close-idle, goaway). */
  warm?: boolean
  /** Per protocol and method; a missing protocol means "does not apply". */
  expect: Partial<Record<Proto, { GET: Expectation; POST: Expectation }>>
}

export const BODY = Buffer.alloc(1000, 'a')
/** Client timeouts for the stall cases: the subject of those cases is time. */
export const HEADERS_TIMEOUT = 300
export const BODY_TIMEOUT = 300

const same = (outcome: string, getRequests: number, postRequests = 1): { GET: Expectation; POST: Expectation } => ({
  GET: { outcome, requests: getRequests },
  POST: { outcome, requests: postRequests },
})
/** The GET was retried (and the retry answered); the POST failed with `code`, sent once. */
const retriedGet = (code: string): { GET: Expectation; POST: Expectation } => ({ GET: { outcome: 'ok', requests: 2 }, POST: { outcome: code, requests: 1 } })

export const FAULT_CASES: FaultCase[] = [
  // A socket failure before any response byte is retried (idempotent only) when the
  // connection had served a request before: the stale keep-alive race. On a fresh
  // connection the pool does not guess.
  { name: 'close-before-head', fault: { kind: 'close-before-head' }, expect: { 'http/1.1': same('WP_SOCKET_CLOSED', 1), h2: same('WP_SOCKET_CLOSED', 1) } },
  { name: 'close-before-head, reused connection', fault: { kind: 'close-before-head' }, warm: true, expect: { 'http/1.1': retriedGet('WP_SOCKET_CLOSED'), h2: retriedGet('WP_SOCKET_CLOSED') } },
  { name: 'close after 10 body bytes', fault: { kind: 'close', afterBytes: 10 }, expect: { 'http/1.1': same('WP_BODY_INCOMPLETE', 1), h2: same('WP_SOCKET_CLOSED', 1) } },
  { name: 'reset before the head', fault: { kind: 'reset' }, expect: { 'http/1.1': same('WP_SOCKET_CLOSED', 1), h2: same('WP_SOCKET_CLOSED', 1) } },
  { name: 'reset before the head, reused connection', fault: { kind: 'reset' }, warm: true, expect: { 'http/1.1': retriedGet('WP_SOCKET_CLOSED'), h2: retriedGet('WP_SOCKET_CLOSED') } },
  { name: 'reset after 10 body bytes', fault: { kind: 'reset', afterBytes: 10 }, expect: { 'http/1.1': same('WP_BODY_INCOMPLETE', 1), h2: same('WP_SOCKET_CLOSED', 1) } },
  { name: 'stall before the head', fault: { kind: 'stall' }, expect: { 'http/1.1': same('WP_HEADERS_TIMEOUT', 1), h2: same('WP_HEADERS_TIMEOUT', 1) } },
  { name: 'stall after 10 body bytes', fault: { kind: 'stall', afterBytes: 10 }, expect: { 'http/1.1': same('WP_BODY_TIMEOUT', 1), h2: same('WP_BODY_TIMEOUT', 1) } },
  { name: 'drip 250 bytes every 20 ms', fault: { kind: 'drip', chunkSize: 250, intervalMs: 20 }, expect: { 'http/1.1': same('ok', 1), h2: same('ok', 1) } },
  { name: 'drip 100 bytes every 400 ms (past bodyTimeout)', fault: { kind: 'drip', chunkSize: 100, intervalMs: 400 }, expect: { 'http/1.1': same('WP_BODY_TIMEOUT', 1), h2: same('WP_BODY_TIMEOUT', 1) } },
  { name: 'delay-head 50 ms', fault: { kind: 'delay-head', delayMs: 50 }, expect: { 'http/1.1': same('ok', 1), h2: same('ok', 1) } },
  { name: 'delay-head 600 ms (past headersTimeout)', fault: { kind: 'delay-head', delayMs: 600 }, expect: { 'http/1.1': same('WP_HEADERS_TIMEOUT', 1), h2: same('WP_HEADERS_TIMEOUT', 1) } },
  // HTTP/2-only faults; over HTTP/1.1 they take the nearest form (close, reset, Connection: close).
  { name: 'refuse-stream', fault: { kind: 'refuse-stream' }, expect: { 'http/1.1': same('WP_SOCKET_CLOSED', 1), h2: retriedGet('WP_H2_STREAM_RESET') } },
  { name: 'rst-stream before the head', fault: { kind: 'rst-stream' }, expect: { 'http/1.1': same('WP_SOCKET_CLOSED', 1), h2: same('WP_H2_STREAM_RESET', 1) } },
  { name: 'rst-stream after 10 body bytes', fault: { kind: 'rst-stream', afterBytes: 10 }, expect: { 'http/1.1': same('WP_BODY_INCOMPLETE', 1), h2: same('WP_H2_STREAM_RESET', 1) } },
  { name: 'goaway after 1 stream', fault: { kind: 'goaway', afterStreams: 1 }, warm: true, expect: { 'http/1.1': same('ok', 1), h2: retriedGet('WP_H2_GOAWAY') } },
  { name: 'close-idle', fault: { kind: 'close-idle' }, warm: true, expect: { 'http/1.1': retriedGet('WP_SOCKET_CLOSED'), h2: retriedGet('WP_SOCKET_CLOSED') } },
]

export interface ConnectionFaultCase {
  name: string
  fault: ConnectionFault
  connectTimeout: number
  expect: string
}

export const CONNECTION_FAULT_CASES: ConnectionFaultCase[] = [
  { name: 'tls-fail', fault: { kind: 'tls-fail' }, connectTimeout: 2000, expect: 'WP_TLS_HANDSHAKE' },
  { name: 'tls-slow 600 ms, connectTimeout 200 ms', fault: { kind: 'tls-slow', delayMs: 600 }, connectTimeout: 200, expect: 'WP_CONNECT_TIMEOUT' },
  { name: 'tls-slow 50 ms, connectTimeout 2000 ms', fault: { kind: 'tls-slow', delayMs: 50 }, connectTimeout: 2000, expect: 'ok' },
]
