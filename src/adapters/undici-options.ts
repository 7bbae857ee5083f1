/**
 * undici's `DispatchOptions` → wirepool `RequestOptions`. undici callers hand over headers in
 * four shapes, bodies in six, and a few options that only mean something inside undici's own
 * client; this file decides what each becomes so the pool sees an ordinary request.
 */
import { Readable } from 'node:stream'
import { InvalidArgumentError } from '../errors.js'
import type { RequestBody } from '../dispatch.js'
import type { RequestOptions } from '../request-options.js'

/** The subset of undici v6/v7 `DispatchOptions` the adapter reads (typed loosely: callers are JS). */
export interface UndiciDispatchOptions {
  origin?: string | URL | null
  path: string
  method: string
  body?: unknown
  headers?: unknown
  query?: Record<string, unknown> | null
  idempotent?: boolean
  upgrade?: boolean | string | null
  headersTimeout?: number | null
  bodyTimeout?: number | null
  expectContinue?: boolean
  // Read by undici's own clients only; listed so the adapter's choice about them is visible.
  blocking?: boolean
  reset?: boolean
  maxRedirections?: number
}

type Pair = [string, string]

/**
 * Connection management is per hop and belongs to wirepool (RFC 9110 §7.6.1). undici lets a
 * caller say `connection: keep-alive|close` (close asks undici to reset the socket after the
 * response; wirepool's pool decides reuse itself, so it is dropped, as keep-alive is) and
 * `transfer-encoding: chunked` (wirepool chunks every body of unknown length by itself).
 */
function admitHeader(out: Pair[], name: string, value: string): void {
  const lower = name.toLowerCase()
  if (lower === 'connection') {
    const v = value.trim().toLowerCase()
    if (v === 'keep-alive' || v === 'close') return
    throw new InvalidArgumentError(`invalid connection header ${value}`)
  }
  if (lower === 'keep-alive') return
  if (lower === 'transfer-encoding' && value.trim().toLowerCase() === 'chunked') return
  out.push([name, value])
}

function admitValue(out: Pair[], name: unknown, value: unknown): void {
  if (typeof name !== 'string') throw new InvalidArgumentError('header names must be strings')
  if (value === undefined || value === null) return
  if (Array.isArray(value)) {
    for (const v of value) admitValue(out, name, v)
    return
  }
  admitHeader(out, name, typeof value === 'string' ? value : String(value))
}

/** undici's header shapes: flat array, array or iterable of pairs, plain record, or null. */
export function toHeaderPairs(headers: unknown): Pair[] {
  const out: Pair[] = []
  if (headers === undefined || headers === null) return out
  if (typeof headers !== 'object') throw new InvalidArgumentError('headers must be an object or an array')
  if (Array.isArray(headers)) {
    if (headers.length > 0 && !Array.isArray(headers[0])) {
      // Flat `[name, value, name, value]` (undici's rawHeaders form).
      if (headers.length % 2 !== 0) throw new InvalidArgumentError('headers array must have an even number of items')
      for (let i = 0; i < headers.length; i += 2) admitValue(out, headers[i], headers[i + 1])
      return out
    }
    for (const pair of headers as unknown[]) {
      if (!Array.isArray(pair) || pair.length !== 2) throw new InvalidArgumentError('header pairs must be [name, value]')
      admitValue(out, pair[0], pair[1])
    }
    return out
  }
  if (Symbol.iterator in headers) {
    for (const pair of headers as Iterable<unknown>) {
      if (!Array.isArray(pair) || pair.length !== 2) throw new InvalidArgumentError('header pairs must be [name, value]')
      admitValue(out, pair[0], pair[1])
    }
    return out
  }
  const record = headers as Record<string, unknown>
  for (const name of Object.keys(record)) admitValue(out, name, record[name])
  return out
}

/** undici's `query` option: appended to the path, each value encoded (arrays repeat the key). */
export function pathWithQuery(path: string, query: Record<string, unknown> | null | undefined): string {
  if (query === undefined || query === null) return path
  if (path.includes('?') || path.includes('#')) {
    throw new InvalidArgumentError('query params cannot be passed when the path already has a query or a fragment')
  }
  const parts: string[] = []
  for (const key of Object.keys(query)) {
    const value = query[key]
    if (value === undefined || value === null) continue
    const values = Array.isArray(value) ? value : [value]
    for (const v of values) parts.push(`${encodeURIComponent(key)}=${encodeURIComponent(String(v))}`)
  }
  return parts.length === 0 ? path : `${path}?${parts.join('&')}`
}

function isBlob(body: object): body is Blob {
  return typeof Blob !== 'undefined' && body instanceof Blob
}

function isFormData(body: object): body is FormData {
  return typeof FormData !== 'undefined' && body instanceof FormData
}

/**
 * A body in a form the pool takes. FormData is encoded by the platform's own multipart
 * encoder (a `Response` built over it), whose boundary then has to go in content-type.
 */
function toBody(body: unknown, pairs: Pair[]): RequestBody {
  if (body === undefined || body === null) return undefined
  if (typeof body === 'string' || body instanceof Uint8Array) return body
  if (typeof body !== 'object' && typeof body !== 'function') throw new InvalidArgumentError('invalid body')
  const object = body as object
  if (object instanceof Readable || Symbol.asyncIterator in object) return object as AsyncIterable<Uint8Array>
  const hasType = pairs.some(([name]) => name.toLowerCase() === 'content-type')
  if (isFormData(object)) {
    const encoded = new Response(object)
    const type = encoded.headers.get('content-type')
    if (!hasType && type !== null) pairs.push(['content-type', type])
    return encoded.body as unknown as AsyncIterable<Uint8Array>
  }
  if (isBlob(object)) {
    if (!hasType && object.type !== '') pairs.push(['content-type', object.type])
    if (!pairs.some(([name]) => name.toLowerCase() === 'content-length')) pairs.push(['content-length', String(object.size)])
    return object.stream() as unknown as AsyncIterable<Uint8Array>
  }
  throw new InvalidArgumentError('body must be a string, Buffer, Uint8Array, Readable, async iterable, Blob, FormData or null')
}

export function toRequestOptions(opts: UndiciDispatchOptions): RequestOptions {
  if (opts.origin === undefined || opts.origin === null) throw new InvalidArgumentError('origin is required: the wirepool dispatcher serves many origins')
  if (typeof opts.path !== 'string') throw new InvalidArgumentError('path must be a string')
  if (typeof opts.method !== 'string') throw new InvalidArgumentError('method must be a string')
  if (opts.method === 'CONNECT') throw new InvalidArgumentError('CONNECT is not supported by the wirepool dispatcher')
  const headers = toHeaderPairs(opts.headers)
  // undici's expectContinue (for h2) is the same request as an explicit header (RFC 9110 §10.1.1).
  if (opts.expectContinue === true && !headers.some(([name]) => name.toLowerCase() === 'expect')) headers.push(['expect', '100-continue'])
  const body = toBody(opts.body, headers)
  const out: RequestOptions = {
    origin: opts.origin,
    path: pathWithQuery(opts.path, opts.query),
    method: opts.method,
    headers,
  }
  if (body !== undefined) out.body = body
  if (typeof opts.idempotent === 'boolean') out.idempotent = opts.idempotent
  if (typeof opts.headersTimeout === 'number') out.headersTimeout = opts.headersTimeout
  if (typeof opts.bodyTimeout === 'number') out.bodyTimeout = opts.bodyTimeout
  if (opts.upgrade !== undefined && opts.upgrade !== null && opts.upgrade !== false) {
    // undici's `upgrade: true` has no protocol name; the WebSocket it is used for is the default.
    out.upgrade = opts.upgrade === true ? 'websocket' : opts.upgrade
  }
  return out
}
