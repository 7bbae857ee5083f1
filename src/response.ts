/**
 * `request()` as a thin layer over the low-level handler (DESIGN.md "Handlers, then
 * conveniences"): the response body is a Node Readable whose backpressure is the
 * handler's pause/resume, so a slow reader stops the socket instead of filling memory.
 */
import { Readable } from 'node:stream'
import { AbortedError, type WirepoolError } from './errors.js'
import type { ConnectionInfo, DispatchHandler, HeaderRecord, Protocol } from './dispatch.js'

export class ResponseBody extends Readable {
  #resume: (() => void) | undefined
  #abort: ((reason?: Error) => void) | undefined
  #ended = false

  constructor(highWaterMark = 64 * 1024) {
    super({ highWaterMark })
  }

  /** @internal wired by the request handler */
  _attach(resume: () => void, abort: ((reason?: Error) => void) | undefined): void {
    this.#resume = resume
    this.#abort = abort
  }

  /** @internal the whole body was received */
  _markEnded(): void {
    this.#ended = true
  }

  override _read(): void {
    const resume = this.#resume
    if (resume !== undefined) resume()
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    // A body dropped before its end: the connection cannot be reused for the next response
    // until these bytes are read, so the request is aborted and the socket released.
    if (!this.#ended && this.#abort !== undefined) this.#abort(err ?? new AbortedError('response body destroyed before its end'))
    callback(err)
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    const bytes = await this.bytes()
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer
  }

  /** The whole body as one Buffer (concatenated once, at the end). */
  async bytes(): Promise<Buffer> {
    const chunks: Buffer[] = []
    let length = 0
    for await (const chunk of this) {
      chunks.push(chunk as Buffer)
      length += (chunk as Buffer).length
    }
    return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, length)
  }

  async text(): Promise<string> {
    return (await this.bytes()).toString('utf8')
  }

  async json(): Promise<unknown> {
    return JSON.parse(await this.text())
  }
}

export interface Response {
  status: number
  statusText: string
  headers: HeaderRecord
  protocol: Protocol
  body: ResponseBody
  /** Resolves with the trailer fields (empty when none) once the body has ended. */
  trailers: Promise<HeaderRecord>
  connection: ConnectionInfo
  /** 1xx interim responses received before this one (e.g. 103 Early Hints). */
  informational: Array<{ status: number; headers: HeaderRecord }>
}

/** Drives one `request()` call: resolves with the Response at the head, streams the body. */
export class ResponseCollector implements DispatchHandler {
  readonly promise: Promise<Response>
  #resolve!: (res: Response) => void
  #reject!: (err: WirepoolError) => void
  #resolveTrailers!: (t: HeaderRecord) => void
  #rejectTrailers!: (err: WirepoolError) => void
  #body: ResponseBody | undefined
  #abort: ((reason?: Error) => void) | undefined
  #info: ConnectionInfo | undefined
  #informational: Array<{ status: number; headers: HeaderRecord }> = []
  #trailers: HeaderRecord = {}

  constructor() {
    this.promise = new Promise<Response>((resolve, reject) => {
      this.#resolve = resolve
      this.#reject = reject
    })
  }

  onConnect(abort: (reason?: Error) => void, info: ConnectionInfo): void {
    this.#abort = abort
    this.#info = info
  }

  onInformational(status: number, headers: HeaderRecord): void {
    this.#informational.push({ status, headers })
  }

  onHeaders(status: number, headers: HeaderRecord, resume: () => void, statusText: string): boolean {
    const body = new ResponseBody()
    body._attach(resume, this.#abort)
    this.#body = body
    const trailers = new Promise<HeaderRecord>((resolve, reject) => {
      this.#resolveTrailers = resolve
      this.#rejectTrailers = reject
    })
    // Marked handled: a caller who never looks at trailers must not see an unhandled rejection.
    trailers.catch(() => {})
    const info = this.#info as ConnectionInfo
    this.#resolve({
      status,
      statusText,
      headers,
      protocol: info.protocol,
      body,
      trailers,
      connection: info,
      informational: this.#informational,
    })
    return true
  }

  onData(chunk: Uint8Array): boolean {
    // The engine never reuses the memory behind a chunk (dispatch.ts), so the Readable can
    // queue the view itself: no copy of the body.
    const view = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
    return (this.#body as ResponseBody).push(view)
  }

  onTrailers(trailers: HeaderRecord): void {
    this.#trailers = trailers
  }

  onComplete(): void {
    const body = this.#body as ResponseBody
    body._markEnded()
    body.push(null)
    this.#resolveTrailers(this.#trailers)
  }

  onError(err: WirepoolError): void {
    const body = this.#body
    if (body === undefined) {
      this.#reject(err)
      return
    }
    this.#rejectTrailers(err)
    body._markEnded()
    body.destroy(err)
  }
}
