/**
 * The client side of the WebSocket opening handshake (RFC 6455 §4.1, §4.2.2) and of the
 * permessage-deflate negotiation (RFC 7692 §5, §7.1). Pure functions: the request's URL (§3)
 * and the headers we send, and the checks of the server's 101 that a client MUST make before
 * the connection is established. No socket here; `opening.ts` does the I/O.
 */
import { createHash, randomBytes } from 'node:crypto'
import { InvalidArgumentError, WsHandshakeError } from '../errors.js'
import type { HeaderRecord } from '../dispatch.js'

/** RFC 6455 §1.3: the GUID concatenated to the key before hashing. */
const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'

/** RFC 6455 §4.1 step 7: "a randomly selected 16-byte value that has been base64-encoded". */
export function generateKey(): string {
  return randomBytes(16).toString('base64')
}

/** §4.2.2 step 5.4: base64 of the SHA-1 of the key (as sent, base64 text) + GUID. */
export function acceptFor(key: string): string {
  return createHash('sha1').update(key + WS_GUID).digest('base64')
}

/**
 * §4.1: each subprotocol is a token (RFC 2616 §2.2 → RFC 9110 §5.6.2), offered at most once.
 * Returns the validated list.
 */
export function normalizeProtocols(protocols: string | readonly string[] | undefined): string[] {
  if (protocols === undefined) return []
  const list = typeof protocols === 'string' ? [protocols] : [...protocols]
  const seen = new Set<string>()
  for (const p of list) {
    if (typeof p !== 'string' || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(p)) {
      throw new InvalidArgumentError(`invalid WebSocket subprotocol ${JSON.stringify(p)}: must be a token`)
    }
    if (seen.has(p)) throw new InvalidArgumentError(`subprotocol ${p} offered twice`)
    seen.add(p)
  }
  return list
}

/** What a user may ask of permessage-deflate. */
export interface PerMessageDeflateOptions {
  /**
   * Ask the server to compress with at most this window (server_max_window_bits, 8–15).
   * Default: not asked (the server uses up to 15).
   */
  serverMaxWindowBits?: number
  /**
   * Limit our own compression window: a number (9–15) is sent as client_max_window_bits=N;
   * `true` (the default) offers the bare parameter so the server may choose (RFC 7692 §7.1.2.2).
   */
  clientMaxWindowBits?: number | boolean
  /** Ask the server to reset its compressor after each message (server_no_context_takeover). */
  serverNoContextTakeover?: boolean
  /** Reset our compressor after each message (client_no_context_takeover). */
  clientNoContextTakeover?: boolean
  /** Messages smaller than this many bytes are sent uncompressed. Default 1024 (as `ws`). */
  threshold?: number
  /** zlib compression level 0–9. Default zlib's default (6). */
  level?: number
}

/** The parameters both sides agreed on (RFC 7692 §7.1), as the codec needs them. */
export interface DeflateParams {
  /** Our compressor's window (8–15); 15 when the server set no limit. */
  clientMaxWindowBits: number
  /** The server's compressor window; our inflater accepts any window up to 15, so this is informative. */
  serverMaxWindowBits: number
  clientNoContextTakeover: boolean
  serverNoContextTakeover: boolean
}

export interface ResolvedDeflateOptions {
  offer: PerMessageDeflateOptions
  threshold: number
  level: number | undefined
}

function checkBits(name: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > 15) {
    throw new InvalidArgumentError(`${name} must be an integer from ${min} to 15`)
  }
  return value
}

export function resolveDeflateOptions(option: boolean | PerMessageDeflateOptions | undefined): ResolvedDeflateOptions | null {
  if (option === undefined || option === false) return null
  const o: PerMessageDeflateOptions = option === true ? {} : option
  if (typeof o !== 'object' || o === null) throw new InvalidArgumentError('perMessageDeflate must be a boolean or an object')
  if (o.serverMaxWindowBits !== undefined) checkBits('serverMaxWindowBits', o.serverMaxWindowBits, 8)
  // Node's raw deflate silently widens an 8-bit window to 9 (zlib 1.2.9+), which would break
  // a promise of 8 to the server, so 8 is not offered for our own compressor.
  if (typeof o.clientMaxWindowBits === 'number') checkBits('clientMaxWindowBits', o.clientMaxWindowBits, 9)
  const threshold = o.threshold ?? 1024
  if (!Number.isSafeInteger(threshold) || threshold < 0) throw new InvalidArgumentError('threshold must be a non-negative integer')
  if (o.level !== undefined && (!Number.isInteger(o.level) || o.level < 0 || o.level > 9)) {
    throw new InvalidArgumentError('level must be an integer from 0 to 9')
  }
  return { offer: o, threshold, level: o.level }
}

/** RFC 7692 §5 / §7.1: the Sec-WebSocket-Extensions offer for one permessage-deflate. */
export function deflateOffer(offer: PerMessageDeflateOptions): string {
  const parts = ['permessage-deflate']
  if (offer.serverNoContextTakeover === true) parts.push('server_no_context_takeover')
  if (offer.clientNoContextTakeover === true) parts.push('client_no_context_takeover')
  if (offer.serverMaxWindowBits !== undefined) parts.push(`server_max_window_bits=${offer.serverMaxWindowBits}`)
  const client = offer.clientMaxWindowBits ?? true
  if (typeof client === 'number') parts.push(`client_max_window_bits=${client}`)
  else if (client) parts.push('client_max_window_bits')
  return parts.join('; ')
}

/** ws:→http:, wss:→https: (the handshake is an HTTP request, RFC 6455 §3); http(s): taken as is (WHATWG allows it). */
export function parseWsUrl(input: string | URL): { ws: URL; http: URL } {
  let url: URL
  try {
    url = new URL(String(input))
  } catch (cause) {
    throw new InvalidArgumentError(`invalid WebSocket URL ${String(input)}`, { cause })
  }
  // §3: "Fragment identifiers are meaningless in the context of WebSocket URIs and MUST NOT be used".
  if (url.hash !== '') throw new InvalidArgumentError(`WebSocket URL ${url.href} has a fragment`)
  const http = new URL(url.href)
  if (url.protocol === 'ws:' || url.protocol === 'http:') {
    http.protocol = 'http:'
    url.protocol = 'ws:'
  } else if (url.protocol === 'wss:' || url.protocol === 'https:') {
    http.protocol = 'https:'
    url.protocol = 'wss:'
  } else {
    throw new InvalidArgumentError(`unsupported WebSocket URL scheme ${url.protocol} (use ws: or wss:)`)
  }
  return { ws: url, http }
}

/** Engine-owned handshake headers a caller may not set (RFC 6455 §4.1). */
const OWNED_HEADERS = new Set(['sec-websocket-key', 'sec-websocket-version', 'sec-websocket-protocol', 'sec-websocket-extensions'])

/** The handshake request's headers: the caller's, then ours (RFC 6455 §4.1 steps 7–10). */
export function handshakeHeaders(
  init: Record<string, string> | Iterable<readonly [string, string]> | undefined,
  key: string,
  protocols: readonly string[],
  offer: PerMessageDeflateOptions | null,
): [string, string][] {
  const headers: [string, string][] = []
  if (init !== undefined) {
    const pairs: Iterable<readonly [string, string]> =
      Symbol.iterator in Object(init) ? (init as Iterable<readonly [string, string]>) : Object.entries(init)
    for (const [name, value] of pairs) {
      if (typeof name !== 'string' || OWNED_HEADERS.has(name.toLowerCase())) {
        throw new InvalidArgumentError(`header ${String(name)} is set by the WebSocket handshake`)
      }
      headers.push([name, value])
    }
  }
  headers.push(['sec-websocket-key', key], ['sec-websocket-version', '13'])
  if (protocols.length > 0) headers.push(['sec-websocket-protocol', protocols.join(', ')])
  if (offer !== null) headers.push(['sec-websocket-extensions', deflateOffer(offer)])
  return headers
}

/** One header value as a single string (repeated fields joined as RFC 9110 §5.3 allows for lists). */
function single(headers: HeaderRecord, name: string): string | undefined {
  const v = headers[name]
  return Array.isArray(v) ? v.join(', ') : v
}

/** Split a comma-separated list, trimming OWS and dropping empty elements (RFC 9110 §5.6.1). */
function list(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
}

export interface HandshakeResult {
  /** The subprotocol the server selected, '' when none. */
  protocol: string
  /** The Sec-WebSocket-Extensions value as the server sent it, '' when none. */
  extensions: string
  /** permessage-deflate parameters, or null when it is not in use. */
  deflate: DeflateParams | null
}

function fail(message: string): never {
  throw new WsHandshakeError(101, message)
}

/**
 * Check a 101 response (RFC 6455 §4.1, "the client MUST validate the server's response"):
 * Upgrade and Connection, Sec-WebSocket-Accept, a subprotocol we offered, and extensions we
 * offered with parameters RFC 7692 allows. Throws WsHandshakeError (status 101) on the first
 * violation, after which the client MUST _Fail the WebSocket Connection_.
 */
export function checkHandshakeResponse(
  headers: HeaderRecord,
  key: string,
  offeredProtocols: readonly string[],
  deflate: PerMessageDeflateOptions | null,
): HandshakeResult {
  // §4.1 items 2 and 3: Upgrade is "websocket" and Connection contains "upgrade", both case-insensitive.
  const upgrade = single(headers, 'upgrade')
  if (upgrade === undefined || upgrade.trim().toLowerCase() !== 'websocket') {
    fail(`101 without "Upgrade: websocket" (got ${JSON.stringify(upgrade ?? null)})`)
  }
  const connection = single(headers, 'connection')
  if (connection === undefined || !list(connection).some((c) => c.toLowerCase() === 'upgrade')) {
    fail(`101 without "Connection: upgrade" (got ${JSON.stringify(connection ?? null)})`)
  }
  // Item 4: the accept value proves the server read our key (it is not a cached reply).
  const accept = single(headers, 'sec-websocket-accept')
  if (accept === undefined) fail('101 without Sec-WebSocket-Accept')
  if (accept.trim() !== acceptFor(key)) fail(`wrong Sec-WebSocket-Accept ${JSON.stringify(accept)}`)
  return checkNegotiation(headers, offeredProtocols, deflate)
}

/**
 * Check the 2xx answer to an HTTP/2 extended CONNECT (RFC 8441 §5): the stream is the proof
 * the server took part, so there is no Upgrade, Connection or Sec-WebSocket-Accept to check;
 * "the semantics of the Sec-WebSocket-Protocol and Sec-WebSocket-Extensions header fields are
 * unchanged" — the same subprotocol and extension checks as over HTTP/1.1.
 */
export function checkExtendedConnectResponse(
  status: number,
  headers: HeaderRecord,
  offeredProtocols: readonly string[],
  deflate: PerMessageDeflateOptions | null,
): HandshakeResult {
  try {
    return checkNegotiation(headers, offeredProtocols, deflate)
  } catch (err) {
    // The checks speak of a 101; this answer was a 2xx.
    if (err instanceof WsHandshakeError) throw new WsHandshakeError(status, err.message)
    throw err
  }
}

/** RFC 6455 §4.1 items 5 and 6: the subprotocol and the extensions the server chose. */
function checkNegotiation(headers: HeaderRecord, offeredProtocols: readonly string[], deflate: PerMessageDeflateOptions | null): HandshakeResult {

  // Item 6: a subprotocol "that was not present in the client's handshake" fails the connection.
  const protocolValue = single(headers, 'sec-websocket-protocol')
  let protocol = ''
  if (protocolValue !== undefined) {
    const chosen = list(protocolValue)
    if (chosen.length !== 1) fail(`server selected ${chosen.length} subprotocols (${JSON.stringify(protocolValue)})`)
    protocol = chosen[0] as string
    if (!offeredProtocols.includes(protocol)) fail(`server selected subprotocol ${JSON.stringify(protocol)} we did not offer`)
  }
  // No header: the server declined every subprotocol (§4.2.2, /subprotocol/ null). Not an
  // error; `protocol` stays '' as in the WHATWG API, for the application to judge.

  // Item 5: an extension "not present in the client's handshake" fails the connection.
  const extensions = single(headers, 'sec-websocket-extensions') ?? ''
  let params: DeflateParams | null = null
  for (const ext of list(extensions)) {
    const [name, ...rawParams] = ext.split(';').map((s) => s.trim())
    if (name?.toLowerCase() !== 'permessage-deflate' || deflate === null) {
      fail(`server accepted extension ${JSON.stringify(name)} we did not offer`)
    }
    if (params !== null) fail('server accepted permessage-deflate twice')
    params = parseDeflateResponse(rawParams, deflate)
  }
  return { protocol, extensions, deflate: params }
}

/** RFC 7692 §7.1: the parameters a server may answer our offer with, and what they mean for us. */
function parseDeflateResponse(rawParams: string[], offer: PerMessageDeflateOptions): DeflateParams {
  const result: DeflateParams = {
    clientMaxWindowBits: typeof offer.clientMaxWindowBits === 'number' ? offer.clientMaxWindowBits : 15,
    serverMaxWindowBits: 15,
    clientNoContextTakeover: offer.clientNoContextTakeover === true,
    serverNoContextTakeover: false,
  }
  const seen = new Set<string>()
  for (const raw of rawParams) {
    if (raw === '') continue
    const eq = raw.indexOf('=')
    const name = (eq === -1 ? raw : raw.slice(0, eq)).trim().toLowerCase()
    let value = eq === -1 ? undefined : raw.slice(eq + 1).trim()
    if (value !== undefined && value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1)
    // §7.1: "a response MUST NOT include more than one" of each parameter.
    if (seen.has(name)) fail(`permessage-deflate parameter ${name} repeated`)
    seen.add(name)
    switch (name) {
      case 'server_no_context_takeover':
        if (value !== undefined) fail('server_no_context_takeover takes no value')
        result.serverNoContextTakeover = true
        break
      case 'client_no_context_takeover':
        // §7.1.1.2: the server may require this even when we did not offer it.
        if (value !== undefined) fail('client_no_context_takeover takes no value')
        result.clientNoContextTakeover = true
        break
      case 'server_max_window_bits': {
        // §7.1.2.1: allowed in a response even when not offered; 8..15.
        const bits = windowBits(value)
        if (offer.serverMaxWindowBits !== undefined && bits > offer.serverMaxWindowBits) {
          fail(`server_max_window_bits=${bits} is larger than the ${offer.serverMaxWindowBits} we asked for`)
        }
        result.serverMaxWindowBits = bits
        break
      }
      case 'client_max_window_bits': {
        // §7.1.2.2: "MUST NOT include" it when the offer did not have it.
        const offered = offer.clientMaxWindowBits ?? true
        if (offered === false) fail('client_max_window_bits in the response but not in our offer')
        const bits = windowBits(value)
        if (typeof offered === 'number' && bits > offered) fail(`client_max_window_bits=${bits} is larger than our ${offered}`)
        if (bits === 8) fail('client_max_window_bits=8 cannot be honoured: zlib widens a raw 8-bit window to 9')
        result.clientMaxWindowBits = bits
        break
      }
      default:
        fail(`unknown permessage-deflate parameter ${JSON.stringify(name)}`)
    }
  }
  return result
}

function windowBits(value: string | undefined): number {
  if (value === undefined || !/^(8|9|1[0-5])$/.test(value)) fail(`invalid window bits ${JSON.stringify(value ?? null)}`)
  return Number(value)
}
