/**
 * The handshake cases of the TLS benchmark, shared by the orchestrator (bench/tls.ts), the
 * server (bench/tls-server.ts) and the Node clients (bench/tls-client.ts).
 */
export const KEY_TYPES = ['ec', 'rsa'] as const
export type KeyType = (typeof KEY_TYPES)[number]
export const VERSIONS = ['TLSv1.2', 'TLSv1.3'] as const
export type TlsVersion = (typeof VERSIONS)[number]

export interface TlsCase {
  /** e.g. `ec-TLSv1.3` */
  readonly name: string
  readonly keyType: KeyType
  readonly version: TlsVersion
}

export const CASES: readonly TlsCase[] = KEY_TYPES.flatMap((keyType) => VERSIONS.map((version) => ({ name: `${keyType}-${version}`, keyType, version })))

/** The server's ports by case name. */
export type CasePorts = Readonly<Record<string, number>>

export const NODE_CLIENTS = ['node:tls', 'wirepool'] as const
export type NodeClient = (typeof NODE_CLIENTS)[number]
export const MODES = ['full', 'resumed'] as const
export type Mode = (typeof MODES)[number]

/** One Node client run: handshake times of the measured connections, and how many resumed. */
export interface HandshakeRun {
  readonly samplesMs: readonly number[]
  readonly resumed: number
  /**
   * The client process's CPU time (user + system) per measured connection, µs: what the
   * client itself spends, which a loaded machine distorts far less than wall time.
   */
  readonly cpuUsPerConnection: number
  /** The TLS version the connections negotiated (checked against the case). */
  readonly protocol: string | null
}
