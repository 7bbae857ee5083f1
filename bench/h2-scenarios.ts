/**
 * The HTTP/2 benchmark workloads, shared by the orchestrator (bench/h2.ts), the Node
 * client runner (bench/h2-client.ts) and the fallback server (bench/h2-server.ts), so
 * every contender runs exactly the same request mix. Each workload runs twice: over
 * cleartext h2 with prior knowledge (`h2c_…`, RFC 9113 §3.3) and over TLS with h2
 * chosen by ALPN (`h2tls_…`, RFC 9113 §3.2). The bodies are the HTTP/1.1 benchmark's.
 */
import { BODIES } from './h1-scenarios.js'

export interface H2Scenario {
  readonly name: string
  readonly title: string
  /** URL path on the bench server; its response body has `bodySize` bytes. */
  readonly path: keyof typeof BODIES
  readonly bodySize: number
  /** HTTP/2 connections. */
  readonly connections: number
  /** Streams kept open on each connection: `connections × streams` closed loops in all. */
  readonly streams: number
  /** TLS + ALPN h2, or cleartext h2c with prior knowledge. */
  readonly tls: boolean
}

/** Node.js clients, each run by bench/h2-client.ts in a process of its own. */
export const H2_NODE_CONTENDERS = ['wirepool', 'wirepool-base', 'http2', 'undici'] as const
export type H2NodeContender = (typeof H2_NODE_CONTENDERS)[number]

/** Every contender, in table order; h2load is the C reference (absent when not installed). */
export const H2_CONTENDERS = [...H2_NODE_CONTENDERS, 'h2load'] as const
export type H2Contender = (typeof H2_CONTENDERS)[number]

const WORKLOADS = [
  { tag: 'c1_m100_body5', title: '1 connection, 100 streams, 5 B body', path: '/hello', connections: 1, streams: 100 },
  { tag: 'c10_m10_body5', title: '10 connections, 10 streams each, 5 B body', path: '/hello', connections: 10, streams: 10 },
  { tag: 'c1_m1_body5', title: '1 connection, 1 stream, 5 B body', path: '/hello', connections: 1, streams: 1 },
  { tag: 'c1_m1_body1m', title: '1 connection, 1 stream, 1 MiB body', path: '/1m', connections: 1, streams: 1 },
  { tag: 'c1_m1_body64m', title: '1 connection, 1 stream, 64 MiB body', path: '/64m', connections: 1, streams: 1 },
] as const

export const H2_SCENARIOS: readonly H2Scenario[] = [false, true].flatMap((tls) =>
  WORKLOADS.map((w) => ({
    name: `${tls ? 'h2tls' : 'h2c'}_${w.tag}`,
    title: `${tls ? 'TLS' : 'h2c'}, ${w.title}`,
    path: w.path,
    bodySize: BODIES[w.path],
    connections: w.connections,
    streams: w.streams,
    tls,
  })),
)

export function h2ScenarioByName(name: string): H2Scenario {
  const scenario = H2_SCENARIOS.find((s) => s.name === name)
  if (scenario === undefined) {
    throw new Error(`unknown scenario ${name}; known: ${H2_SCENARIOS.map((s) => s.name).join(', ')}`)
  }
  return scenario
}

/**
 * The goals the table footer checks, each a ratio of wirepool's median req/s to an
 * anchor's in one scenario.
 */
export interface H2Target {
  readonly scenario: string
  readonly anchor: 'http2' | 'h2load'
  readonly atLeast: number
}

export const H2_TARGETS: readonly H2Target[] = [
  { scenario: 'h2c_c1_m100_body5', anchor: 'http2', atLeast: 3 },
  { scenario: 'h2tls_c1_m100_body5', anchor: 'http2', atLeast: 3 },
  { scenario: 'h2c_c1_m1_body5', anchor: 'h2load', atLeast: 0.9 },
  { scenario: 'h2tls_c1_m1_body5', anchor: 'h2load', atLeast: 0.9 },
  { scenario: 'h2c_c1_m1_body64m', anchor: 'h2load', atLeast: 0.8 },
]
