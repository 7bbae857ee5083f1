/**
 * The WebSocket's options: what the constructor takes, checked once (src/option-checks.ts
 * for the milliseconds) into the values the connection reads.
 */
import { InvalidArgumentError } from '../errors.js'
import { msOption } from '../option-checks.js'
import type { Agent } from '../pool/agent.js'
import { DEFAULT_MAX_PAYLOAD } from './frame.js'
import { resolveDeflateOptions, type PerMessageDeflateOptions, type ResolvedDeflateOptions } from './handshake.js'

export interface WebSocketOptions {
  /** The pool the handshake goes through. Default: the process-wide Agent. */
  agent?: Agent
  /** Subprotocols to offer (Sec-WebSocket-Protocol, RFC 6455 §4.1), in preference order. */
  protocols?: string | readonly string[]
  /** Offer permessage-deflate (RFC 7692). Default false. */
  perMessageDeflate?: boolean | PerMessageDeflateOptions
  /** Extra request headers for the handshake (not the Sec-WebSocket-* ones, which are ours). */
  headers?: Record<string, string> | Iterable<readonly [string, string]>
  /** Max bytes of one received message (inflated size with permessage-deflate); more → close 1009. Default 100 MiB. */
  maxPayload?: number
  /** Send a Ping this often (ms) while open; 0 (default) turns the heartbeat off. */
  pingInterval?: number
  /** With pingInterval: a Pong must arrive within this many ms of a heartbeat Ping. Default: pingInterval. */
  pongTimeout?: number
  /** After our Close frame (sent or echoed), ms to wait for the server to close TCP before destroying the socket. Default 30000. */
  closeTimeout?: number
  /** ms from construction to a valid 101 (connect, TLS and the HTTP exchange). Default 30000. */
  handshakeTimeout?: number
  /** Send messages longer than this many bytes as fragments of this size (RFC 6455 §5.4). Default: never fragment. */
  fragmentSize?: number
}

/** The checked options (the agent, protocols and headers are checked where they are used). */
export interface ResolvedWebSocketOptions {
  deflate: ResolvedDeflateOptions | null
  maxPayload: number
  pingInterval: number
  pongTimeout: number
  closeTimeout: number
  handshakeTimeout: number
  fragmentSize: number
}

/** The constructor's second argument as an options object (WHATWG: it may be the subprotocols). */
export function webSocketOptions(protocolsOrOptions: string | readonly string[] | WebSocketOptions | undefined): WebSocketOptions {
  const options: WebSocketOptions =
    typeof protocolsOrOptions === 'string' || Array.isArray(protocolsOrOptions)
      ? { protocols: protocolsOrOptions as string | readonly string[] }
      : ((protocolsOrOptions ?? {}) as WebSocketOptions)
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('WebSocket options must be an object')
  return options
}

export function resolveWebSocketOptions(options: WebSocketOptions): ResolvedWebSocketOptions {
  const deflate = resolveDeflateOptions(options.perMessageDeflate)
  const maxPayload = options.maxPayload ?? DEFAULT_MAX_PAYLOAD
  if (!(maxPayload === Infinity || (Number.isSafeInteger(maxPayload) && maxPayload >= 0))) {
    throw new InvalidArgumentError('maxPayload must be a non-negative integer or Infinity')
  }
  const pingInterval = msOption('pingInterval', options.pingInterval, 0)
  const pongTimeout = msOption('pongTimeout', options.pongTimeout, pingInterval)
  const closeTimeout = msOption('closeTimeout', options.closeTimeout, 30_000)
  const handshakeTimeout = msOption('handshakeTimeout', options.handshakeTimeout, 30_000)
  const fragmentSize = options.fragmentSize ?? Infinity
  if (!(fragmentSize === Infinity || (Number.isSafeInteger(fragmentSize) && fragmentSize >= 1))) {
    throw new InvalidArgumentError('fragmentSize must be a positive integer')
  }
  return { deflate, maxPayload, pingInterval, pongTimeout, closeTimeout, handshakeTimeout, fragmentSize }
}
