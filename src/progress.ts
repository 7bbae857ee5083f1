/**
 * Upload and download progress for a request's optional `onProgress`. Nothing here runs for
 * a request without one: the request path only reads the option, and wraps the body and the
 * handler when it is set.
 *
 * - upload: bytes of the request body handed to the connection (its writer pulls them with
 *   backpressure, so this follows the socket); `total` is the body's length when known.
 * - download: bytes of the response body as they arrived (before any decoding); `total` is
 *   the response's content-length when it has one.
 */
import type { DispatchHandler, HeaderRecord, RequestBody } from './dispatch.js'
import type { Duplex } from 'node:stream'
import { SocketClosedError, type WirepoolError } from './errors.js'
import { chunkBytes, isAsyncIterable } from './body-source.js'

export interface Progress {
  direction: 'upload' | 'download'
  /** Bytes so far. */
  transferred: number
  /** Bytes in all, when known. */
  total: number | undefined
}

export type ProgressListener = (progress: Progress) => void

/** In-memory bodies go out in slices of this size, so that their progress moves too. */
const SLICE = 64 * 1024

/**
 * The body as a stream that reports what the connection pulled. An in-memory body is sent
 * from memory in slices: it is then no longer replayable, so a request with `onProgress` is
 * not retried.
 */
export function countingBody(body: RequestBody, total: number, listener: ProgressListener): RequestBody {
  if (body === undefined || body === null) return body
  return counted(body, total < 0 ? undefined : total, listener)
}

async function* counted(body: NonNullable<RequestBody>, total: number | undefined, listener: ProgressListener): AsyncGenerator<Uint8Array> {
  let transferred = 0
  if (typeof body === 'string' || body instanceof Uint8Array) {
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body
    for (let at = 0; at < bytes.byteLength; at += SLICE) {
      const slice = bytes.subarray(at, at + SLICE)
      yield slice
      transferred += slice.byteLength
      listener({ direction: 'upload', transferred, total })
    }
    return
  }
  if (!isAsyncIterable(body)) return
  for await (const value of body as AsyncIterable<unknown>) {
    const chunk = chunkBytes(value)
    yield chunk
    transferred += chunk.byteLength
    listener({ direction: 'upload', transferred, total })
  }
}

/** The caller's handler, with download progress reported from the body bytes that pass. */
export class ProgressHandler implements DispatchHandler {
  readonly #inner: DispatchHandler
  readonly #listener: ProgressListener
  #transferred = 0
  #total: number | undefined

  constructor(inner: DispatchHandler, listener: ProgressListener) {
    this.#inner = inner
    this.#listener = listener
  }

  onConnect(abort: (reason?: Error) => void, info: Parameters<NonNullable<DispatchHandler['onConnect']>>[1]): void {
    this.#inner.onConnect?.(abort, info)
  }

  onRequestSent(): void {
    this.#inner.onRequestSent?.()
  }

  onInformational(status: number, headers: HeaderRecord): void {
    this.#inner.onInformational?.(status, headers)
  }

  onHeaders(status: number, headers: HeaderRecord, resume: () => void, statusText: string, rawHeaders?: readonly string[]): boolean | void {
    const length = headers['content-length']
    this.#total = typeof length === 'string' && /^\d{1,15}$/.test(length) ? Number(length) : undefined
    this.#transferred = 0
    return this.#inner.onHeaders(status, headers, resume, statusText, rawHeaders)
  }

  onData(chunk: Uint8Array): boolean | void {
    this.#transferred += chunk.byteLength
    this.#listener({ direction: 'download', transferred: this.#transferred, total: this.#total })
    return this.#inner.onData(chunk)
  }

  onTrailers(trailers: HeaderRecord): void {
    this.#inner.onTrailers?.(trailers)
  }

  onComplete(): void {
    this.#inner.onComplete()
  }

  onError(err: WirepoolError): void {
    this.#inner.onError(err)
  }

  onUpgrade(status: number, headers: HeaderRecord, socket: Duplex, head: Uint8Array): void {
    if (this.#inner.onUpgrade === undefined) {
      socket.destroy()
      this.#inner.onError(new SocketClosedError('unexpected upgrade', { responseStarted: true }))
      return
    }
    this.#inner.onUpgrade(status, headers, socket, head)
  }
}
