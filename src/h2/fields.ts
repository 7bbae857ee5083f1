/**
 * HTTP semantics over HTTP/2 field sections (RFC 9113 §8.2, §8.3): the request field list we
 * encode, and the checks a response or trailer section must pass before a handler sees it.
 * Pure functions over `[name, value, …]` arrays.
 */
import type { DispatchRequest } from '../dispatch.js'
import { InvalidArgumentError } from '../errors.js'

/**
 * RFC 9113 §8.2.2: "An endpoint MUST NOT generate an HTTP/2 message containing
 * connection-specific header fields" — Connection and the fields it used to nominate, plus
 * Host, which :authority replaces (§8.3.1 lets a client send both, we send only :authority).
 */
const CONNECTION_SPECIFIC: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade'])

/** The field list of a request: pseudo-header fields first (§8.3), names lowercase (§8.2.1). */
export function requestFields(request: DispatchRequest, scheme: string, contentLength: number): string[] {
  if (request.method.length === 0) throw new InvalidArgumentError('empty request method')
  if (request.method === 'CONNECT') throw new InvalidArgumentError('CONNECT is not supported over HTTP/2 by this connection')
  // §8.3.1: ":path … MUST NOT be empty for "http" or "https" URIs".
  const path = request.path.length === 0 ? '/' : request.path
  const fields = [':method', request.method, ':scheme', scheme, ':authority', request.authority, ':path', path]
  const headers = request.headers
  let hasLength = false
  for (let i = 0; i + 1 < headers.length; i += 2) {
    const raw = headers[i] as string
    const name = hasUpper(raw) ? raw.toLowerCase() : raw
    if (CONNECTION_SPECIFIC.has(name) || name === 'host') continue
    const value = headers[i + 1] as string
    // §8.2.2: "TE … MAY be present in an HTTP/2 request; when it is, it MUST NOT contain any
    // value other than "trailers"."
    if (name === 'te' && value.trim().toLowerCase() !== 'trailers') continue
    // The body length is ours to state (below); a caller's copy could contradict it.
    if (name === 'content-length') {
      hasLength = true
      if (contentLength >= 0) continue
    }
    // The expectation is ours to state (below), only when there is content to hold back.
    if (name === 'expect') continue
    fields.push(name, value)
  }
  // §8.1.1 lets content-length be omitted; sending it lets the server check the body.
  if (contentLength > 0 || (contentLength === 0 && (hasLength || methodExpectsBody(request.method)))) {
    fields.push('content-length', String(contentLength))
  }
  // RFC 9110 §10.1.1: "A client MUST NOT generate a 100-continue expectation in a request that does not include content."
  if (request.expectContinue && contentLength !== 0) fields.push('expect', '100-continue')
  return fields
}

/**
 * The field list of an extended CONNECT (RFC 8441 §4): `:method CONNECT` with `:protocol`
 * set to the upgrade token, and — unlike a plain CONNECT (RFC 9113 §8.5) — `:scheme` and
 * `:path` as for any request. The tunnel is the content, so no content-length or expect is
 * sent (RFC 9110 §9.3.6: CONNECT content has no defined meaning).
 */
export function extendedConnectFields(request: DispatchRequest, protocol: string, scheme: string): string[] {
  if (protocol.length === 0 || hasUpper(protocol)) throw new InvalidArgumentError(`invalid :protocol ${JSON.stringify(protocol)}: a lowercase token is expected`)
  if (request.method !== 'GET' && request.method !== 'CONNECT') {
    throw new InvalidArgumentError(`an upgrade request is sent as GET (HTTP/1.1) or CONNECT (HTTP/2), not ${request.method}`)
  }
  const path = request.path.length === 0 ? '/' : request.path
  const fields = [':method', 'CONNECT', ':protocol', protocol, ':scheme', scheme, ':authority', request.authority, ':path', path]
  const websocket = protocol === 'websocket'
  const headers = request.headers
  for (let i = 0; i + 1 < headers.length; i += 2) {
    const raw = headers[i] as string
    const name = hasUpper(raw) ? raw.toLowerCase() : raw
    if (CONNECTION_SPECIFIC.has(name) || name === 'host' || name === 'content-length' || name === 'expect' || name === 'te') continue
    // RFC 8441 §5: "The Sec-WebSocket-Key and Sec-WebSocket-Accept header fields are not used";
    // the stream itself proves the server took part (the 2xx cannot be a cached reply).
    if (websocket && name === 'sec-websocket-key') continue
    fields.push(name, headers[i + 1] as string)
  }
  return fields
}

function methodExpectsBody(method: string): boolean {
  return method === 'POST' || method === 'PUT' || method === 'PATCH'
}

function hasUpper(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i)
    if (c >= 0x41 && c <= 0x5a) return true
  }
  return false
}

/** A parsed response section: `status` (-1 for trailers) and the regular fields. */
export interface ResponseSection {
  status: number
  /** Regular fields `[name, value, …]`, pseudo-header fields removed. */
  fields: string[]
  /** content-length, -1 when absent. */
  contentLength: number
}

/**
 * Check a decoded response head (`trailers` false) or trailer section (`trailers` true)
 * against RFC 9113 §8.2 and §8.3.2, and split off the pseudo-header fields. Returns the reason
 * it is malformed as a string (a stream error of type PROTOCOL_ERROR, §8.1.1), else the section.
 */
export function parseResponseSection(decoded: readonly string[], trailers: boolean): ResponseSection | string {
  let status = -1
  let contentLength = -1
  let regular = false
  const fields: string[] = []
  for (let i = 0; i + 1 < decoded.length; i += 2) {
    const name = decoded[i] as string
    const value = decoded[i + 1] as string
    if (name.length === 0) return 'empty field name'
    if (name.charCodeAt(0) === 0x3a /* ':' */) {
      // §8.3: pseudo-header fields only in the head, before every regular field, only the
      // ones defined for responses (":status"), each once.
      if (trailers) return `pseudo-header field ${name} in a trailer section (RFC 9113 §8.1)`
      if (regular) return `pseudo-header field ${name} after a regular field (RFC 9113 §8.3)`
      if (name !== ':status') return `pseudo-header field ${name} is not defined for responses (RFC 9113 §8.3.2)`
      if (status !== -1) return 'duplicate :status (RFC 9113 §8.3.2)'
      status = parseStatus(value)
      if (status === -1) return `invalid :status ${JSON.stringify(value)}`
      continue
    }
    regular = true
    // §8.2.1: "A field name MUST NOT contain characters in the ranges 0x00-0x20, 0x41-0x5a, or 0x7f-0xff".
    for (let c = 0; c < name.length; c++) {
      const code = name.charCodeAt(c)
      if (code <= 0x20 || (code >= 0x41 && code <= 0x5a) || code >= 0x7f) return `invalid character in field name ${JSON.stringify(name)} (RFC 9113 §8.2.1)`
    }
    // §8.2.1: values MUST NOT contain NUL, LF or CR, nor start or end with whitespace.
    if (!validValue(value)) return `invalid value for field ${name} (RFC 9113 §8.2.1)`
    if (CONNECTION_SPECIFIC.has(name)) return `connection-specific field ${name} (RFC 9113 §8.2.2)`
    if (name === 'te' && value !== 'trailers') return 'TE other than "trailers" (RFC 9113 §8.2.2)'
    if (name === 'content-length' && !trailers) {
      const length = parseLength(value)
      if (length === -1 || (contentLength !== -1 && contentLength !== length)) return `invalid content-length ${JSON.stringify(value)} (RFC 9110 §8.6)`
      contentLength = length
    }
    fields.push(name, value)
  }
  if (!trailers && status === -1) return 'missing :status (RFC 9113 §8.3.2)'
  return { status, fields, contentLength }
}

function parseStatus(value: string): number {
  if (value.length !== 3) return -1
  let status = 0
  for (let i = 0; i < 3; i++) {
    const d = value.charCodeAt(i) - 0x30
    if (d < 0 || d > 9) return -1
    status = status * 10 + d
  }
  return status >= 100 ? status : -1
}

function parseLength(value: string): number {
  // RFC 9110 §8.6: 1*DIGIT; a list of identical values is tolerated by §8.6 but we keep it strict.
  if (value.length === 0 || value.length > 15) return -1
  let n = 0
  for (let i = 0; i < value.length; i++) {
    const d = value.charCodeAt(i) - 0x30
    if (d < 0 || d > 9) return -1
    n = n * 10 + d
  }
  return n
}

function validValue(value: string): boolean {
  const last = value.length - 1
  if (last >= 0) {
    const first = value.charCodeAt(0)
    const end = value.charCodeAt(last)
    if (first === 0x20 || first === 0x09 || end === 0x20 || end === 0x09) return false
  }
  for (let i = 0; i <= last; i++) {
    const c = value.charCodeAt(i)
    if (c === 0 || c === 0x0a || c === 0x0d) return false
  }
  return true
}
