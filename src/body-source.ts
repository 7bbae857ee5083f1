/**
 * Request content, one way for every protocol: what counts as a body, how many bytes it has
 * when that is known, whether it can be sent again, and the loop that copies a streamed body
 * (Readable / AsyncIterable) into a connection's writer. HTTP/1.1 and HTTP/2 differ only in
 * their `BodySink` (socket + chunked framing vs. a stream's send queue + flow control).
 */
import { randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import type { RequestBody } from './dispatch.js'
import { AbortedError, InvalidArgumentError, WirepoolError } from './errors.js'

/**
 * What a caller may pass as `body`: the engine's own forms (RequestBody), and the web's —
 * `Blob`, `FormData` (sent as multipart/form-data), `URLSearchParams` (form-urlencoded) and
 * a web `ReadableStream` — which `webBody` turns into the engine's forms.
 */
export type RequestBodyInit = RequestBody | Blob | FormData | URLSearchParams | ReadableStream<Uint8Array>

/** An in-memory body: written as it is, and replayable on another connection. */
export type InMemoryBody = string | Uint8Array | null | undefined

export function isInMemoryBody(body: unknown): body is InMemoryBody {
  return body === undefined || body === null || typeof body === 'string' || body instanceof Uint8Array
}

/** A body we can send again unchanged (needed to retry a request on another connection). */
export const isReplayableBody = isInMemoryBody

/**
 * A `body` option that a new request can be given again and send the same bytes: in memory,
 * or a web body read afresh each time it is sent (Blob, FormData, URLSearchParams). Not a
 * stream (Readable, AsyncIterable, ReadableStream), which is consumed by its first sending.
 * (A redirect asks this of the caller's option; retries ask isReplayableBody of the engine's form.)
 */
export function isResendableBodyInit(body: unknown): boolean {
  return isInMemoryBody(body) || body instanceof Blob || body instanceof FormData || body instanceof URLSearchParams
}

/** Duck-typed so that streams from other realms or userland Readable copies count too. */
export function isReadable(body: unknown): body is Readable {
  return typeof (body as Readable).on === 'function' && typeof (body as Readable).destroy === 'function'
}

export function isAsyncIterable(body: unknown): body is AsyncIterable<unknown> {
  return typeof (body as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function'
}

/** Length in bytes of an in-memory body, or -1 for a stream (sent chunked / until END_STREAM). */
export function bodyByteLength(body: RequestBody): number {
  if (body === undefined || body === null) return 0
  if (typeof body === 'string') return Buffer.byteLength(body)
  if (body instanceof Uint8Array) return body.byteLength
  if (body instanceof Readable || (typeof body === 'object' && Symbol.asyncIterator in body)) return -1
  throw new InvalidArgumentError('body must be a string, Uint8Array, Readable or AsyncIterable<Uint8Array>')
}

/** A web body turned into the engine's: what to send, its length (-1: unknown) and its media type. */
export interface WebBody {
  body: RequestBody
  length: number
  contentType: string | undefined
}

/**
 * `Blob`, `FormData`, `URLSearchParams` as the engine sends them (undefined for anything
 * else: a web `ReadableStream` is already an AsyncIterable of Uint8Array in Node, the engine's
 * own stream form). Lengths are exact, so content-length is sent (RFC 9110 §8.6) rather than
 * chunked framing; the media types are the ones fetch sets for the same bodies (Fetch
 * §5 "extract a body").
 */
export function webBody(body: unknown): WebBody | undefined {
  if (body instanceof URLSearchParams) {
    const text = body.toString()
    return { body: text, length: Buffer.byteLength(text), contentType: 'application/x-www-form-urlencoded;charset=UTF-8' }
  }
  if (body instanceof Blob) return { body: blobChunks(body), length: body.size, contentType: body.type === '' ? undefined : body.type }
  if (body instanceof FormData) return multipart(body)
  return undefined
}

async function* blobChunks(blob: Blob): AsyncGenerator<Uint8Array> {
  for await (const chunk of blob.stream()) yield chunk as Uint8Array
}

/**
 * multipart/form-data (RFC 7578), encoded as the WHATWG HTML "multipart/form-data encoding
 * algorithm" does: names and filenames escape `"`, CR and LF as %22, %0D, %0A; string values
 * have their line breaks normalised to CRLF. The boundary is 32 random hex digits from
 * node:crypto: a boundary guessable from Math.random lets a value forge parts
 * (CVE-2025-22150 in undici).
 */
function multipart(form: FormData): WebBody {
  const boundary = `----wirepool-${randomBytes(16).toString('hex')}`
  const parts: Array<Buffer | Blob> = []
  let length = 0
  for (const [name, value] of form) {
    let head = `--${boundary}\r\ncontent-disposition: form-data; name="${escapeFormName(name)}"`
    if (typeof value === 'string') {
      const bytes = Buffer.from(`${head}\r\n\r\n${value.replace(/\r(?!\n)|(?<!\r)\n/g, '\r\n')}\r\n`)
      parts.push(bytes)
      length += bytes.byteLength
      continue
    }
    const file = value as Blob & { name?: string }
    head += `; filename="${escapeFormName(file.name ?? 'blob')}"\r\ncontent-type: ${file.type === '' ? 'application/octet-stream' : file.type}\r\n\r\n`
    const headBytes = Buffer.from(head)
    parts.push(headBytes, file, CRLF)
    length += headBytes.byteLength + file.size + 2
  }
  const closing = Buffer.from(`--${boundary}--\r\n`)
  parts.push(closing)
  length += closing.byteLength
  return { body: multipartChunks(parts), length, contentType: `multipart/form-data; boundary=${boundary}` }
}

const CRLF = Buffer.from('\r\n')

function escapeFormName(name: string): string {
  return name.replace(/"/g, '%22').replace(/\r/g, '%0D').replace(/\n/g, '%0A')
}

async function* multipartChunks(parts: Array<Buffer | Blob>): AsyncGenerator<Uint8Array> {
  for (const part of parts) {
    if (part instanceof Uint8Array) yield part
    else yield* blobChunks(part)
  }
}

/** In-memory body as bytes (null for none). */
export function inMemoryBytes(body: InMemoryBody): Uint8Array | null {
  if (body === undefined || body === null) return null
  return typeof body === 'string' ? Buffer.from(body, 'utf8') : body
}

/** One chunk a body stream produced, as bytes: strings are UTF-8, anything else is the caller's bug. */
export function chunkBytes(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value
  if (typeof value === 'string') return Buffer.from(value, 'utf8')
  throw new InvalidArgumentError('request body streams must produce Uint8Array (or string) chunks')
}

/**
 * What a body stream's failure becomes: our own errors (a length mismatch) keep their class;
 * anything the user's stream threw is an abort the user caused, with the original as cause.
 */
export function bodyStreamError(err: unknown, origin: string): WirepoolError {
  if (err instanceof WirepoolError) {
    if (err.origin === undefined) err.origin = origin
    return err
  }
  return new AbortedError('request body stream failed', { cause: err, origin, initiator: 'user' })
}

/** Where a streamed body goes. */
export interface BodySink {
  /** False once the request no longer wants its body (answered early, failed, reset): the copy stops quietly. */
  wanted(): boolean
  /** Take one non-empty chunk; a returned promise is backpressure: the next read waits for it. */
  write(chunk: Uint8Array): Promise<void> | undefined
}

/**
 * Copy a streamed body into `sink`, enforcing a declared length (a mismatch would
 * desynchronise an HTTP/1.1 peer, RFC 9112 §6.3, and is malformed on HTTP/2, RFC 9113
 * §8.1.1). Resolves true when the body ended in full, false when the sink stopped wanting
 * it; rejects with what the stream threw or an InvalidArgumentError for a bad length or chunk.
 */
export async function copyBody(iterator: AsyncIterator<unknown>, declaredLength: number, sink: BodySink): Promise<boolean> {
  let copied = 0
  for (;;) {
    const step = await iterator.next()
    if (!sink.wanted()) return false
    if (step.done === true) break
    const chunk = chunkBytes(step.value)
    if (chunk.byteLength === 0) continue
    copied += chunk.byteLength
    if (declaredLength >= 0 && copied > declaredLength) {
      throw new InvalidArgumentError(`request body is longer than its declared ${declaredLength} bytes`)
    }
    const backpressure = sink.write(chunk)
    if (backpressure !== undefined) {
      await backpressure
      if (!sink.wanted()) return false
    }
  }
  if (declaredLength >= 0 && copied !== declaredLength) {
    throw new InvalidArgumentError(`request body ended after ${copied} of its declared ${declaredLength} bytes`)
  }
  return true
}
