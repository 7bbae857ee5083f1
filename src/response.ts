/**
 * `request()` as a thin layer over the low-level handler (handlers first, conveniences on
 * top: docs/architecture.md "One request, top-down"): the response body is a Node Readable whose backpressure is the
 * handler's pause/resume, so a slow reader stops the socket instead of filling memory.
 */
import { Readable } from 'node:stream'
import { AbortedError, DecompressError, type RedirectHop, type WirepoolError } from './errors.js'
import { createDecoder, type Decoder } from './decompress.js'
import type { ConnectionInfo, DispatchHandler, HeaderRecord, Protocol } from './dispatch.js'
import type { RequestTimings } from './timings.js'

export class ResponseBody extends Readable {
  #resume: (() => void) | undefined
  #abort: ((reason?: Error) => void) | undefined
  #ended = false

  constructor(highWaterMark = 64 * 1024) {
    super({ highWaterMark })
  }

  /**
   * @internal Fail the body. One nobody listens to must not crash the process: the error is
   * kept (`errored`) and thrown to whoever consumes the body later (text(), for await,
   * pipeline), and `trailers` rejects with it. (The guard listener is added here, on the
   * failure path, not for every response.)
   */
  _fail(err: Error): void {
    if (this.listenerCount('error') === 0) this.on('error', noop)
    this.destroy(err)
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
  /**
   * The response's fields. When the body is decoded (`decompress`), `content-encoding` and
   * `content-length` are removed: they describe the bytes on the wire, not the body you
   * read (as fetch and got do).
   */
  headers: HeaderRecord
  /** The fields as the server sent them: the same object as `headers` unless decoding removed some. */
  rawHeaders: HeaderRecord
  protocol: Protocol
  body: ResponseBody
  /** Resolves with the trailer fields (empty when none) once the body has ended. */
  readonly trailers: Promise<HeaderRecord>
  connection: ConnectionInfo
  /**
   * Where the request's time went (src/timings.ts): queue wait, DNS, TCP, proxy, TLS (the
   * connect phases only on a new connection), request sent, first byte, and `end` — which is
   * undefined until the body has been received in full (the object fills itself in). Edges
   * are ms relative to `start`, a `performance.now()` time; `phases` has the durations.
   * With retries, they describe the last attempt. Undefined only when the response did not
   * come through a wirepool pool (a handler driven without timings).
   */
  timings: RequestTimings | undefined
  /** 1xx interim responses received before this one (e.g. 103 Early Hints). */
  informational: Array<{ status: number; headers: HeaderRecord }>
  /**
   * Where the response came from, without fragment: the request's URL, or where the redirects
   * followed led (the last of `redirects`).
   */
  readonly url: string
  /** The redirects followed to get here, in order (empty when none): each status and the URL it led to. */
  readonly redirects: readonly RedirectHop[]
}

const NO_REDIRECTS: readonly RedirectHop[] = Object.freeze([])

/**
 * `res.url` of a request sent to `target`: an absolute URL (`path` undefined), or an origin and
 * the request-target — without fragment or userinfo. Made only when asked for: the request
 * path does not parse URLs for it.
 */
function targetHref(target: string | URL | undefined, path: string | undefined): string {
  if (target === undefined) return ''
  const url = path === undefined ? new URL(String(target)) : new URL(path, target)
  url.hash = ''
  url.username = ''
  url.password = ''
  return url.href
}

/**
 * Where the trailers promise of a response stands:
 *
 *   PENDING ──► RESOLVED      the body ended (trailers, or none)
 *   PENDING ──► REJECTED      the response failed first
 *
 * Numbers, named: compared once per response on the request path.
 */
const Outcome = { PENDING: 0, RESOLVED: 1, REJECTED: 2 } as const
type Outcome = (typeof Outcome)[keyof typeof Outcome]

/**
 * The trailers of one response, settled once; its promise is made only when someone asks
 * for it (most callers never do, and a promise per response is measurable at 100K req/s).
 */
class TrailersOutcome {
  #state: Outcome = Outcome.PENDING
  #value: HeaderRecord | WirepoolError | undefined
  #promise: Promise<HeaderRecord> | undefined
  #resolve: ((t: HeaderRecord) => void) | undefined
  #reject: ((e: WirepoolError) => void) | undefined

  get promise(): Promise<HeaderRecord> {
    if (this.#promise === undefined) {
      if (this.#state === Outcome.RESOLVED) this.#promise = Promise.resolve(this.#value as HeaderRecord)
      else if (this.#state === Outcome.REJECTED) this.#promise = Promise.reject(this.#value as WirepoolError)
      else {
        this.#promise = new Promise<HeaderRecord>((resolve, reject) => {
          this.#resolve = resolve
          this.#reject = reject
        })
      }
      // Marked handled: asking for trailers without awaiting them must not raise an
      // unhandled rejection; awaiting still throws.
      this.#promise.catch(noop)
    }
    return this.#promise
  }

  resolve(trailers: HeaderRecord): void {
    if (this.#settle(Outcome.RESOLVED, trailers)) this.#resolve?.(trailers)
  }

  reject(err: WirepoolError): void {
    if (this.#settle(Outcome.REJECTED, err)) this.#reject?.(err)
  }

  /**
   * The one transition: PENDING to an outcome, true when it was made. Once settled the
   * first outcome stands, as a promise's does: a failure reported after the body ended (a
   * late decoder or socket error) is not a move of this machine, and changes nothing.
   */
  #settle(to: Outcome, value: HeaderRecord | WirepoolError): boolean {
    if (this.#state !== Outcome.PENDING) return false
    this.#state = to
    this.#value = value
    return true
  }
}

/** A copy of `headers` without the two fields that describe the encoded body (see Response#headers). */
function withoutWireFraming(headers: HeaderRecord): HeaderRecord {
  const out: HeaderRecord = {}
  for (const name of Object.keys(headers)) {
    if (name !== 'content-encoding' && name !== 'content-length') out[name] = headers[name] as string | string[]
  }
  return out
}

class WirepoolResponse implements Response {
  status: number
  statusText: string
  headers: HeaderRecord
  rawHeaders: HeaderRecord
  protocol: Protocol
  body: ResponseBody
  connection: ConnectionInfo
  timings: RequestTimings | undefined
  informational: Array<{ status: number; headers: HeaderRecord }>
  readonly #trailers: TrailersOutcome
  readonly #target: string | URL | undefined
  readonly #path: string | undefined
  readonly #redirects: readonly RedirectHop[] | undefined

  constructor(
    status: number,
    statusText: string,
    headers: HeaderRecord,
    body: ResponseBody,
    connection: ConnectionInfo,
    informational: Array<{ status: number; headers: HeaderRecord }>,
    trailers: TrailersOutcome,
    rawHeaders: HeaderRecord,
    target: string | URL | undefined,
    path: string | undefined,
    redirects: readonly RedirectHop[] | undefined,
  ) {
    this.status = status
    this.statusText = statusText
    this.headers = headers
    this.rawHeaders = rawHeaders
    this.protocol = connection.protocol
    this.body = body
    this.connection = connection
    this.timings = connection.timings
    this.informational = informational
    this.#trailers = trailers
    this.#target = target
    this.#path = path
    this.#redirects = redirects
  }

  get trailers(): Promise<HeaderRecord> {
    return this.#trailers.promise
  }

  get url(): string {
    const redirects = this.#redirects
    if (redirects !== undefined && redirects.length > 0) return (redirects[redirects.length - 1] as RedirectHop).url
    return targetHref(this.#target, this.#path)
  }

  get redirects(): readonly RedirectHop[] {
    return this.#redirects ?? NO_REDIRECTS
  }
}

/**
 * A response whose caller dropped it unread must not pin its connection slot forever. A
 * body can only pin a slot while it is full (backpressure paused the connection): then the
 * engine holds it only weakly, and when it is collected the request is aborted (the
 * HTTP/1.1 socket is closed, an HTTP/2 stream reset), which frees the slot. As soon as the
 * reader asks for more, the engine holds it strongly again: a reader waiting for the next
 * chunk is reachable only through the body (the socket's data is what will wake it), so a
 * weakly held body could be collected with its reader mid-stream, and the response vanish
 * without an error (a 64 MiB download did, 1 run in 6). Small bodies never get there and pay
 * nothing (a WeakRef plus one registration, made at the first backpressure only).
 */
interface Release {
  abort: ((reason?: Error) => void) | undefined
}
const releaseOnCollect = new FinalizationRegistry<Release>((release) => {
  release.abort?.(new AbortedError('response was garbage-collected before its body was read'))
})

/** Drives one `request()` call: resolves with the Response at the head, streams the body. */
export class ResponseCollector implements DispatchHandler {
  // The promise's settle functions, dropped once used: the collector is reachable from the
  // connection, and must not keep the Response (and so the body) alive through them.
  #resolve: (res: Response) => void
  #reject: (err: WirepoolError) => void
  readonly #trailersOutcome = new TrailersOutcome()
  /** Held strongly until its first backpressure, weakly after (see releaseOnCollect). */
  #strongBody: ResponseBody | undefined
  #weakBody: WeakRef<ResponseBody> | undefined
  #release: Release | undefined
  #abort: ((reason?: Error) => void) | undefined
  #info: ConnectionInfo | undefined
  #informational: Array<{ status: number; headers: HeaderRecord }> | undefined
  #trailers: HeaderRecord | undefined
  /** Decoded-size bound when decompressing, or -1 when bodies are delivered as sent. */
  readonly #maxDecompressedSize: number
  #decoder: Decoder | null = null
  #decoded = 0
  #sawBody = false
  /** Where the request was sent (see targetHref), and the redirects followed from there. */
  readonly #target: string | URL | undefined
  readonly #path: string | undefined
  #redirects: RedirectHop[] | undefined

  /**
   * `target` and `path`: where the request goes, for `res.url` — an origin and the
   * request-target, or an absolute URL and no path.
   */
  constructor(resolve: (res: Response) => void, reject: (err: WirepoolError) => void, maxDecompressedSize = -1, target?: string | URL, path?: string) {
    this.#resolve = resolve
    this.#reject = reject
    this.#maxDecompressedSize = maxDecompressedSize
    this.#target = target
    this.#path = path
  }

  onRedirect(status: number, location: URL): void {
    ;(this.#redirects ??= []).push({ status, url: targetHref(location, undefined) })
  }

  /** The request's promise is settled: drop its functions (see above). */
  #promiseSettled(): void {
    this.#resolve = noop
    this.#reject = noop
  }

  onConnect(abort: (reason?: Error) => void, info: ConnectionInfo): void {
    this.#abort = abort
    this.#info = info
  }

  onInformational(status: number, headers: HeaderRecord): void {
    ;(this.#informational ??= []).push({ status, headers })
  }

  onHeaders(status: number, headers: HeaderRecord, resume: () => void, statusText: string): boolean {
    const body = new ResponseBody()
    this.#strongBody = body
    const decoder = this.#maxDecompressedSize >= 0 ? createDecoder(headers['content-encoding'], (err) => this.#decodeFailed(err)) : null
    // What the body's reader asking for more resumes: the socket, or the decoder in between.
    let more = resume
    let decodedHeaders = headers
    if (decoder !== null) {
      decodedHeaders = withoutWireFraming(headers)
      // Socket → decoder → body, with backpressure at both joints: a full decoder pauses the
      // socket (onData returns false) and a full body pauses the decoder.
      this.#decoder = decoder
      decoder.input.on('drain', resume)
      decoder.output.on('data', (out: Buffer) => this.#onDecoded(out))
      decoder.output.on('end', () => this.#finish())
      more = () => decoder.output.resume()
    }
    body._attach(() => {
      this.#wanted()
      more()
    }, this.#abort)
    const resolve = this.#resolve
    this.#promiseSettled()
    resolve(new WirepoolResponse(status, statusText, decodedHeaders, body, this.#info as ConnectionInfo, this.#informational ?? [], this.#trailersOutcome, headers, this.#target, this.#path, this.#redirects))
    return true
  }

  /** The body, or undefined once the caller let it be collected (the request is then aborted). */
  #liveBody(): ResponseBody | undefined {
    const body = this.#strongBody ?? this.#weakBody?.deref()
    if (body === undefined) this.#release?.abort?.(new AbortedError('response was garbage-collected before its body was read'))
    return body
  }

  /** Queue bytes on the body; while it is full, hold it only weakly (see releaseOnCollect). */
  #push(chunk: Buffer): boolean {
    const body = this.#liveBody()
    if (body === undefined) return false
    if (body.push(chunk)) return true
    if (this.#strongBody !== undefined) {
      this.#strongBody = undefined
      if (this.#weakBody === undefined) {
        this.#weakBody = new WeakRef(body)
        const release: Release = { abort: this.#abort }
        this.#release = release
        releaseOnCollect.register(body, release, release)
      }
    }
    return false
  }

  /** The reader asked for more: hold the body strongly until it is full again. */
  #wanted(): void {
    if (this.#strongBody === undefined) this.#strongBody = this.#weakBody?.deref()
  }

  /** The body if it is still referenced by anyone; never aborts. */
  #peekBody(): ResponseBody | undefined {
    return this.#strongBody ?? this.#weakBody?.deref()
  }

  onData(chunk: Uint8Array): boolean {
    // The engine never reuses the memory behind a chunk (dispatch.ts), so the Readable can
    // queue the view itself: no copy of the body.
    const view = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
    const decoder = this.#decoder
    if (decoder === null) return this.#push(view)
    this.#sawBody = true
    return decoder.input.write(view)
  }

  #onDecoded(out: Buffer): void {
    this.#decoded += out.length
    if (this.#decoded > this.#maxDecompressedSize) {
      const decoder = this.#decoder as Decoder
      this.#decodeFailed(new Error(`decoded body exceeds maxDecompressedSize (${this.#maxDecompressedSize} bytes)`))
      decoder.output.destroy()
      return
    }
    if (!this.#push(out)) (this.#decoder as Decoder).output.pause()
  }

  #decodeFailed(cause: Error): void {
    const decoder = this.#decoder as Decoder
    const err = new DecompressError(decoder.codings, `cannot decode the ${decoder.codings} response body: ${cause.message}`, { cause })
    this.onError(err)
    // The response is unusable; the connection may still hold unread bytes of it.
    this.#abort?.(err)
  }

  /** The whole body was delivered (and decoded): end the stream, then settle trailers. */
  #finish(): void {
    this.#unregister()
    const body = this.#peekBody()
    if (body === undefined || body.destroyed) return
    body._markEnded()
    body.push(null)
    this.#trailersOutcome.resolve(this.#trailers ?? {})
  }

  onTrailers(trailers: HeaderRecord): void {
    this.#trailers = trailers
  }

  onComplete(): void {
    const decoder = this.#decoder
    // A body-less response (HEAD, 204, 304) with a content-encoding has nothing to decode.
    if (decoder === null || !this.#sawBody) this.#finish()
    else decoder.input.end()
  }

  #unregister(): void {
    const release = this.#release
    if (release === undefined) return
    this.#release = undefined
    releaseOnCollect.unregister(release)
  }

  onError(err: WirepoolError): void {
    if (this.#strongBody === undefined && this.#weakBody === undefined) {
      const reject = this.#reject
      this.#promiseSettled()
      reject(err)
      return
    }
    this.#unregister()
    const body = this.#peekBody()
    if (body === undefined || body.destroyed) return
    this.#trailersOutcome.reject(err)
    body._markEnded()
    body._fail(err)
    this.#decoder?.input.destroy()
  }
}

function noop(): void {}
