/**
 * The contenders of the idle-memory benchmark, shared by the orchestrator (bench/memory.ts)
 * and the per-contender child (bench/memory-client.ts): which server listener each one
 * connects to, which floor a wirepool row is compared with, and the targets.
 */

/** The idle server's listeners (bench/idle-server.ts). */
export type Listener = 'plain' | 'h2c' | 'tlsH1' | 'tlsH2'
export type Ports = Readonly<Record<Listener, number>>

export const FLOORS = [
  'net',
  'tls-shared',
  'tls-context',
  'http-agent',
  'http2-h2c',
  'http2-tls',
  'undici-h1',
  'undici-tls',
  'undici-h2',
] as const
export const WIREPOOL = ['wirepool-h1', 'wirepool-h2c', 'wirepool-tls-h1', 'wirepool-tls-h2'] as const
export const CONTENDERS = [...FLOORS, ...WIREPOOL] as const
export type Contender = (typeof CONTENDERS)[number]
export type WirepoolContender = (typeof WIREPOOL)[number]

export const LABELS: Readonly<Record<Contender, string>> = {
  net: 'bare net sockets',
  'tls-shared': 'bare TLS, one SecureContext',
  'tls-context': 'bare TLS, context per socket',
  'http-agent': 'http.Agent keepAlive (h1)',
  'http2-h2c': 'node:http2 sessions, h2c',
  'http2-tls': 'node:http2 sessions, TLS',
  'undici-h1': 'undici 7 Pool, h1',
  'undici-tls': 'undici 7 Pool, TLS h1',
  'undici-h2': 'undici 7 Client ×n, TLS h2',
  'wirepool-h1': 'wirepool, h1',
  'wirepool-h2c': 'wirepool, h2c',
  'wirepool-tls-h1': 'wirepool, TLS h1',
  'wirepool-tls-h2': 'wirepool, TLS h2',
}

export const LISTENER: Readonly<Record<Contender, Listener>> = {
  net: 'plain',
  'tls-shared': 'tlsH1',
  'tls-context': 'tlsH1',
  'http-agent': 'plain',
  'http2-h2c': 'h2c',
  'http2-tls': 'tlsH2',
  'undici-h1': 'plain',
  'undici-tls': 'tlsH1',
  'undici-h2': 'tlsH2',
  'wirepool-h1': 'plain',
  'wirepool-h2c': 'h2c',
  'wirepool-tls-h1': 'tlsH1',
  'wirepool-tls-h2': 'tlsH2',
}

/**
 * What a wirepool row is judged against (issue 4, "Scale and memory"): the bare socket it
 * runs on (`floor`), the Node client that does the same job (`node`), and the target,
 * either an absolute MiB per 100 connections or a ratio to the floor.
 */
export interface Target {
  readonly floor: Contender
  readonly node: Contender
  readonly maxMiBPer100?: number
  readonly maxRatio?: number
}

export const TARGETS: Readonly<Record<WirepoolContender, Target>> = {
  'wirepool-h1': { floor: 'net', node: 'http-agent', maxMiBPer100: 1.0 },
  'wirepool-h2c': { floor: 'net', node: 'http2-h2c', maxMiBPer100: 1.2 },
  'wirepool-tls-h1': { floor: 'tls-shared', node: 'undici-tls', maxRatio: 1.1 },
  'wirepool-tls-h2': { floor: 'tls-shared', node: 'http2-tls', maxRatio: 1.1 },
}

/** Memory figures of one process (process.memoryUsage(), bytes). */
export interface MemorySample {
  readonly rss: number
  readonly heapUsed: number
  readonly external: number
  readonly arrayBuffers: number
}

/** One contender child's outcome: memory with `connections` idle connections, then with as many more. */
export interface MemoryResult {
  readonly contender: Contender
  readonly connections: number
  readonly before: MemorySample
  readonly after: MemorySample
  /** Connections the server counted on the contender's listener (2 × `connections`). */
  readonly serverOpen: number
  readonly openMs: number
  readonly note?: string
}

export function isContender(name: string): name is Contender {
  return (CONTENDERS as readonly string[]).includes(name)
}
