/**
 * Plays one mocked answer into a DispatchHandler under the contract a real connection keeps
 * (dispatch.ts): onConnect → onHeaders → onData* → onTrailers? → onComplete, or onError at
 * any point after onConnect and nothing after it. Body chunks honour backpressure (`false`
 * from onData pauses until `resume()`), `abort()` and the request's signal cancel,
 * `headersTimeout` bounds the delay before the head and `bodyTimeout` the wait for each chunk
 * of a streamed body, as on a socket. Everything is asynchronous, as it is on the network.
 */
import { Readable } from 'node:stream'
import { AbortedError, BodyTimeoutError, HeadersTimeoutError, toWirepoolError, type WirepoolError } from '../errors.js'
import type { ConnectionInfo, DispatchHandler, HeaderRecord } from '../dispatch.js'
import { Timings } from '../timings.js'
import type { Interceptor, MockBodyInit, ReplyResult } from './interceptor.js'
import type { MockRequest } from './matchers.js'

/** Buffered bodies are handed over in pieces of this size, so backpressure is exercised. */
const CHUNK = 16 * 1024

export interface ReplayContext {
  request: MockRequest
  headersTimeout: number
  bodyTimeout: number
  signal: AbortSignal | undefined
  connectionId: number
  /** Told how the replay ended (for the agent's figures and the diagnostics channel). */
  onEnd?: (outcome: { status: number } | { error: WirepoolError }) => void
}

function headerRecord(fields: Record<string, string | number | readonly string[]> | undefined): HeaderRecord {
  const out: HeaderRecord = {}
  for (const [name, value] of Object.entries(fields ?? {})) {
    const key = name.toLowerCase()
    const values = Array.isArray(value) ? value.map(String) : [String(value as string | number)]
    const prior = out[key]
    const all = prior === undefined ? values : [...(Array.isArray(prior) ? prior : [prior]), ...values]
    // set-cookie is always an array (dispatch.ts HeaderRecord).
    out[key] = all.length === 1 && key !== 'set-cookie' ? (all[0] as string) : all
  }
  return out
}

function isBytes(body: unknown): body is Uint8Array {
  return body instanceof Uint8Array
}

function isStream(body: unknown): body is Readable | AsyncIterable<Uint8Array> {
  return body instanceof Readable || (typeof body === 'object' && body !== null && Symbol.asyncIterator in body)
}

/** The body as bytes or as a stream; JSON values serialised (and typed). */
function normalizeBody(body: MockBodyInit, headers: HeaderRecord): Buffer | AsyncIterable<Uint8Array> {
  if (body === undefined) return Buffer.alloc(0)
  if (typeof body === 'string') return Buffer.from(body, 'utf8')
  if (isBytes(body)) return Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength)
  if (isStream(body)) return body
  headers['content-type'] ??= 'application/json'
  return Buffer.from(JSON.stringify(body), 'utf8')
}

const STATUS_TEXT: Readonly<Record<number, string>> = { 200: 'OK', 201: 'Created', 204: 'No Content', 404: 'Not Found', 500: 'Internal Server Error' }

export class Replay {
  readonly #handler: DispatchHandler
  readonly #context: ReplayContext
  readonly #interceptor: Interceptor
  #done = false
  #timer: NodeJS.Timeout | undefined
  #paused = false
  #status = 0
  #wake: (() => void) | undefined
  /** No network: the connect phases stay undefined, `sent` is when the reply was looked up. */
  #timings: Timings | undefined
  readonly #startedAt = performance.now()
  readonly #onSignal = (): void => this.#fail(new AbortedError('request aborted', { cause: this.#context.signal?.reason, origin: this.#context.request.origin }))

  constructor(interceptor: Interceptor, context: ReplayContext, handler: DispatchHandler) {
    this.#interceptor = interceptor
    this.#context = context
    this.#handler = handler
  }

  start(): void {
    const { signal, request } = this.#context
    if (signal?.aborted) {
      this.#fail(new AbortedError('request aborted before it was sent', { cause: signal.reason, origin: request.origin }))
      return
    }
    signal?.addEventListener('abort', this.#onSignal, { once: true })
    const reply = this.#interceptor.reply
    const result: Promise<ReplyResult | Error> =
      reply.kind === 'error' ? Promise.resolve(reply.error) : Promise.resolve().then(() => reply.reply(request))
    result.then(
      (answer) => this.#connect(answer),
      (err: unknown) => this.#fail(toWirepoolError(err, request.origin)),
    )
  }

  #connect(answer: ReplyResult | Error): void {
    if (this.#done) return
    const protocol = answer instanceof Error ? 'http/1.1' : (answer.protocol ?? 'http/1.1')
    const timings = new Timings(this.#startedAt, performance.now(), undefined)
    timings.sent = timings.dispatched
    this.#timings = timings
    const info: ConnectionInfo = { id: this.#context.connectionId, reused: false, tlsResumed: null, remoteAddress: undefined, remotePort: undefined, protocol, timings }
    if (!this.#call(() => this.#handler.onConnect?.((reason) => this.#fail(reason === undefined ? new AbortedError() : toWirepoolError(reason, this.#context.request.origin)), info))) return
    if (this.#done) return
    if (answer instanceof Error) {
      this.#fail(toWirepoolError(answer, this.#context.request.origin))
      return
    }
    const delay = this.#interceptor.delayMs
    const limit = this.#context.headersTimeout
    if (limit > 0 && Number.isFinite(limit) && delay >= limit) {
      this.#timer = setTimeout(() => this.#fail(new HeadersTimeoutError(limit, { origin: this.#context.request.origin })), limit)
    } else if (delay > 0) {
      this.#timer = setTimeout(() => this.#play(answer), delay)
    } else {
      setImmediate(() => this.#play(answer))
    }
  }

  #play(answer: ReplyResult): void {
    // A body stream that fails fails the response, as a socket error would.
    this.#respond(answer).catch((err: unknown) => this.#fail(toWirepoolError(err, this.#context.request.origin)))
  }

  async #respond(answer: ReplyResult): Promise<void> {
    if (this.#done) return
    const headers = headerRecord(answer.headers)
    const body = normalizeBody(answer.body, headers)
    const trailers = answer.trailers === undefined ? undefined : headerRecord(answer.trailers)
    if (Buffer.isBuffer(body) && headers['content-length'] === undefined && trailers === undefined) headers['content-length'] = String(body.length)
    const resume = (): void => {
      this.#paused = false
      const wake = this.#wake
      this.#wake = undefined
      wake?.()
    }
    this.#status = answer.status
    const timings = this.#timings as Timings
    timings.firstByte = performance.now() - timings.start
    let flowing = true as boolean | void
    if (!this.#call(() => (flowing = this.#handler.onHeaders(answer.status, headers, resume, answer.statusText ?? STATUS_TEXT[answer.status] ?? '')))) return
    if (flowing === false) this.#paused = true
    const head = this.#context.request.method === 'HEAD' || answer.status === 204 || answer.status === 304
    let sent = 0
    const failAt = answer.failAfterBytes
    const failure = (): WirepoolError => toWirepoolError(answer.error ?? new Error('mocked failure'), this.#context.request.origin)
    const deliver = async (chunk: Uint8Array): Promise<boolean> => {
      if (failAt !== undefined && sent + chunk.length >= failAt) {
        const part = chunk.subarray(0, failAt - sent)
        if (part.length > 0 && !(await this.#data(part))) return false
        this.#fail(failure())
        return false
      }
      sent += chunk.length
      return this.#data(chunk)
    }
    if (!head) {
      if (Buffer.isBuffer(body)) {
        for (let at = 0; at < body.length; at += CHUNK) if (!(await deliver(body.subarray(at, at + CHUNK)))) return
      } else {
        const iterator = body[Symbol.asyncIterator]()
        for (;;) {
          const next = await this.#withBodyTimeout(iterator.next())
          if (next === undefined) {
            void iterator.return?.()
            return
          }
          if (next.done === true) break
          const value = next.value as Uint8Array | string
          const chunk = typeof value === 'string' ? Buffer.from(value) : value
          if (chunk.length > 0 && !(await deliver(chunk))) {
            void iterator.return?.()
            return
          }
        }
      }
    }
    if (failAt !== undefined && !this.#done) {
      this.#fail(failure())
      return
    }
    if (this.#done) return
    if (trailers !== undefined && !this.#call(() => this.#handler.onTrailers?.(trailers))) return
    this.#finish()
    timings.end = performance.now() - timings.start
    this.#context.onEnd?.({ status: this.#status })
    this.#call(() => this.#handler.onComplete())
  }

  /** Hand one chunk over, then wait while the consumer holds the body paused; false when the replay ended. */
  async #data(chunk: Uint8Array): Promise<boolean> {
    if (this.#done) return false
    let more = true as boolean | void
    if (!this.#call(() => (more = this.#handler.onData(chunk)))) return false
    if (more === false) this.#paused = true
    while (this.#paused && !this.#done) await new Promise<void>((resolve) => (this.#wake = resolve))
    return !this.#done
  }

  /** The next chunk of a streamed body, or undefined when the replay failed (bodyTimeout, abort). */
  async #withBodyTimeout<T>(next: Promise<T>): Promise<T | undefined> {
    const limit = this.#context.bodyTimeout
    if (!(limit > 0 && Number.isFinite(limit))) return next
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => {
        this.#fail(new BodyTimeoutError(limit, { origin: this.#context.request.origin }))
        resolve(undefined)
      }, limit)
    })
    try {
      const value = await Promise.race([next, timeout])
      return this.#done ? undefined : value
    } finally {
      clearTimeout(timer)
    }
  }

  /** Call into the handler; a throw fails the request (as a connection's safeCall). False when the replay ended. */
  #call(fn: () => void): boolean {
    try {
      fn()
    } catch (err) {
      this.#fail(toWirepoolError(err, this.#context.request.origin))
    }
    return !this.#done
  }

  #finish(): void {
    this.#done = true
    clearTimeout(this.#timer)
    this.#context.signal?.removeEventListener('abort', this.#onSignal)
    const wake = this.#wake
    this.#wake = undefined
    wake?.()
  }

  #fail(err: WirepoolError): void {
    if (this.#done) return
    this.#finish()
    this.#context.onEnd?.({ error: err })
    try {
      this.#handler.onError(err)
    } catch {
      // A handler failing in onError has nobody left to tell.
    }
  }
}
