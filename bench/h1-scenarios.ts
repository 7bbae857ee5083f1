/**
 * The HTTP/1.1 benchmark workloads, shared by the orchestrator (bench/h1.ts), the Node
 * client runner (bench/h1-client.ts) and the servers, so every contender runs exactly the
 * same request mix. Names follow hyper's style: they say the case.
 */

export interface Scenario {
  readonly name: string
  readonly title: string
  /** URL path on the bench server; its response body has `bodySize` bytes. */
  readonly path: string
  readonly bodySize: number
  /** Connections, each running a closed loop of requests. */
  readonly connections: number
  /** Requests kept in flight on each connection (1 = no pipelining). */
  readonly pipelining: number
}

/** Node.js clients, each run by bench/h1-client.ts in a process of its own. */
export const NODE_CONTENDERS = ['wirepool', 'wirepool-base', 'undici', 'http'] as const
export type NodeContender = (typeof NODE_CONTENDERS)[number]

/**
 * Every contender, in the order of the table columns. `wrk` is the C reference: wrk
 * itself, or h2load --h1 for pipelining (bench/h1-c-tools.ts says which).
 */
export const CONTENDERS = [...NODE_CONTENDERS, 'wrk'] as const
export type Contender = (typeof CONTENDERS)[number]

const MiB = 1024 * 1024

/** Paths and sizes of the bodies the bench servers serve. */
export const BODIES = {
  '/hello': 5,
  '/1m': MiB,
  '/64m': 64 * MiB,
} as const

export const SCENARIOS: readonly Scenario[] = [
  { name: 'h1_c1_body5', title: '1 connection, 5 B body', path: '/hello', bodySize: BODIES['/hello'], connections: 1, pipelining: 1 },
  { name: 'h1_c10_body5', title: '10 connections, 5 B body', path: '/hello', bodySize: BODIES['/hello'], connections: 10, pipelining: 1 },
  { name: 'h1_c1_p10_body5', title: '1 connection, pipelining 10, 5 B body', path: '/hello', bodySize: BODIES['/hello'], connections: 1, pipelining: 10 },
  { name: 'h1_c1_body1m', title: '1 connection, 1 MiB body', path: '/1m', bodySize: BODIES['/1m'], connections: 1, pipelining: 1 },
  { name: 'h1_c1_body64m', title: '1 connection, 64 MiB body', path: '/64m', bodySize: BODIES['/64m'], connections: 1, pipelining: 1 },
]

export function scenarioByName(name: string): Scenario {
  const scenario = SCENARIOS.find((s) => s.name === name)
  if (scenario === undefined) {
    throw new Error(`unknown scenario ${name}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`)
  }
  return scenario
}

/** What one contender measured in one run of one scenario. */
export interface RunResult {
  /** Responses completed inside the measured window, each with a body of the expected size. */
  readonly requests: number
  /** Length of the measured window in seconds. */
  readonly seconds: number
  /** Failed requests (transport errors, wrong status, short bodies). */
  readonly errors: number
  readonly firstError?: string
  /**
   * The contender process's CPU time (user + system) per completed response in the measured
   * window, in µs. On a shared machine this varies far less than the rate does: stolen time
   * lowers the rate but is not charged to the process.
   */
  readonly cpuMicrosPerRequest?: number
}
