/**
 * The embedding benchmark's cases, shared by the orchestrator (bench/adapters.ts) and its
 * contender processes (bench/adapters-client.ts). Names say protocol, API and body size.
 */
import { BODIES } from './h1-scenarios.js'

/** `h1`: node:http; `h2`: node:http2 over TLS (ALPN); `h2c`: node:http2 cleartext, prior knowledge. */
export type AdapterProtocol = 'h1' | 'h2' | 'h2c'
export type AdapterApi = 'request' | 'fetch'
export type AdapterBackend = 'undici' | 'wirepool'

export interface AdapterCase {
  readonly name: string
  readonly protocol: AdapterProtocol
  readonly api: AdapterApi
  readonly path: keyof typeof BODIES
  readonly bodySize: number
}

/** Closed loops per contender: requests in flight at any time. */
export const ADAPTER_CONCURRENCY = 16
/** Both backends get the same connection budget. */
export const ADAPTER_CONNECTIONS = 8

const PROTOCOLS: readonly AdapterProtocol[] = ['h1', 'h2', 'h2c']
const APIS: readonly AdapterApi[] = ['request', 'fetch']
const SIZES = [
  { label: 'body5', path: '/hello' },
  { label: 'body1m', path: '/1m' },
] as const

export const ADAPTER_CASES: readonly AdapterCase[] = PROTOCOLS.flatMap((protocol) =>
  SIZES.flatMap((size) =>
    APIS.map((api) => ({ name: `${protocol}_${api}_${size.label}`, protocol, api, path: size.path, bodySize: BODIES[size.path] })),
  ),
)
