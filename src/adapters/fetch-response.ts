/**
 * One hop of a WHATWG fetch on the low-level handler: resolves with the response head, then
 * streams the body into a `ReadableStream` whose backpressure is the handler's pause/resume
 * (a full stream pauses the socket; a read resumes it). Content codings are undone as the
 * body streams, as fetch does (fetch §4.6 step 16, with the codings RFC 9110 §8.4.1 names).
 */
import { AbortedError, ErrorCode, type WirepoolError } from '../errors.js'
import type { ConnectionInfo, DispatchHandler, HeaderRecord } from '../dispatch.js'
import { createDecoder, type Decoder } from '../decompress.js'

/** What the hop resolves with once the response head is in. */
export interface FetchHead {
  status: number
  statusText: string
  headers: HeaderRecord
  /** null for a response that has no body (HEAD, 204, 304, a redirect being followed). */
  body: ReadableStream<Uint8Array> | null
  connection: ConnectionInfo | undefined
}

/** fetch's "null body status" (fetch §2.2.3): such a Response cannot be built with a body. */
const NULL_BODY_STATUSES: ReadonlySet<number> = new Set([101, 103, 204, 205, 304])

/** Buffered bytes per response body before the socket is paused. */
const HIGH_WATER_MARK = 64 * 1024

/** How much of a redirect's own body is read (and dropped) to keep its connection reusable. */
const MAX_DRAINED = 64 * 1024

type HopState = 'waiting' | 'streaming' | 'draining' | 'done'

export interface HopOptions {
  /** HEAD: the response has no body whatever its headers say (RFC 9110 §9.3.2). */
  head: boolean
  /** Decide at the head whether the response is a redirect to follow: its body is then dropped. */
  isFollowedRedirect(status: number, headers: HeaderRecord): boolean
  /** Turns a failure into what fetch rejects with (AbortSignal reason, TypeError…). */
  toFetchError(err: WirepoolError): unknown
}

export class FetchHop implements DispatchHandler {
  readonly head: Promise<FetchHead>
  /** Settles when the exchange is over (body read, dropped, or failed): a redirect waits for it. */
  readonly finished: Promise<void>
  #state: HopState = 'waiting'
  readonly #options: HopOptions
  #resolveHead!: (head: FetchHead) => void
  #rejectHead!: (err: unknown) => void
  #resolveFinished!: () => void
  #abort: ((reason?: Error) => void) | undefined
  #info: ConnectionInfo | undefined
  #controller: ReadableStreamDefaultController<Uint8Array> | undefined
  #resume: (() => void) | undefined
  #paused = false
  #decoder: Decoder | null = null
  #drained = 0

  constructor(options: HopOptions) {
    this.#options = options
    this.head = new Promise<FetchHead>((resolve, reject) => {
      this.#resolveHead = resolve
      this.#rejectHead = reject
    })
    this.finished = new Promise<void>((resolve) => (this.#resolveFinished = resolve))
  }

  onConnect(abort: (reason?: Error) => void, info: ConnectionInfo): void {
    this.#abort = abort
    this.#info = info
  }

  onHeaders(status: number, headers: HeaderRecord, resume: () => void, statusText: string): boolean {
    this.#resume = resume
    if (this.#options.isFollowedRedirect(status, headers)) {
      this.#transition('draining')
      this.#resolveHead({ status, statusText, headers, body: null, connection: this.#info })
      return true
    }
    if (this.#options.head || NULL_BODY_STATUSES.has(status)) {
      this.#transition('draining')
      this.#resolveHead({ status, statusText, headers, body: null, connection: this.#info })
      return true
    }
    this.#transition('streaming')
    const body = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.#controller = controller
        },
        pull: () => this.#onPull(),
        cancel: (reason: unknown) => this.#cancel(reason),
      },
      new ByteLengthQueuingStrategy({ highWaterMark: HIGH_WATER_MARK }),
    )
    const decoder = createDecoder(headers['content-encoding'], (err) => this.#fail(err))
    if (decoder !== null) {
      // Socket → decoder → stream, with backpressure at both joints.
      this.#decoder = decoder
      decoder.input.on('drain', () => this.#resumeSocket())
      decoder.output.on('data', (out: Buffer) => {
        if (!this.#enqueue(out)) decoder.output.pause()
      })
      decoder.output.on('end', () => this.#close())
    }
    this.#resolveHead({ status, statusText, headers, body, connection: this.#info })
    return true
  }

  onData(chunk: Uint8Array): boolean {
    if (this.#state === 'draining') {
      this.#drained += chunk.byteLength
      // A long redirect body is not worth waiting for: give up the connection instead.
      if (this.#drained > MAX_DRAINED) this.#abort?.(new AbortedError('redirect body too large to drain'))
      return true
    }
    if (this.#state !== 'streaming') return true
    const decoder = this.#decoder
    const goOn = decoder === null ? this.#enqueue(chunk) : decoder.input.write(chunk)
    if (!goOn) this.#paused = true
    return goOn
  }

  onComplete(): void {
    if (this.#state === 'streaming') {
      if (this.#decoder !== null) {
        // The stream closes when the decoder has flushed ('end' above).
        this.#decoder.input.end()
        return
      }
      this.#close()
      return
    }
    this.#settle()
  }

  onError(err: WirepoolError): void {
    const state = this.#state
    if (state === 'done') return
    this.#settle()
    const fetchError = this.#options.toFetchError(err)
    if (state === 'waiting') {
      this.#rejectHead(fetchError)
      return
    }
    this.#decoder?.output.destroy()
    try {
      this.#controller?.error(fetchError)
    } catch {
      // The stream was already cancelled by its reader.
    }
  }

  /** Queue bytes for the reader; false when the stream is full (pause the producer). */
  #enqueue(chunk: Uint8Array): boolean {
    const controller = this.#controller
    if (controller === undefined || this.#state !== 'streaming') return true
    controller.enqueue(chunk)
    return (controller.desiredSize ?? 0) > 0
  }

  #onPull(): void {
    const decoder = this.#decoder
    if (decoder !== null && decoder.output.isPaused()) decoder.output.resume()
    this.#resumeSocket()
  }

  #resumeSocket(): void {
    if (!this.#paused) return
    this.#paused = false
    this.#resume?.()
  }

  #close(): void {
    if (this.#state !== 'streaming') return
    this.#settle()
    this.#controller?.close()
  }

  /** The reader cancelled the body: the rest of the response is not wanted. */
  #cancel(reason: unknown): void {
    if (this.#state === 'done') return
    this.#settle()
    this.#decoder?.output.destroy()
    this.#abort?.(new AbortedError('response body cancelled', { cause: reason }))
  }

  /** The decoder failed (corrupt data): the body errors, the request is aborted. */
  #fail(err: Error): void {
    if (this.#state !== 'streaming') return
    this.#settle()
    const error = new TypeError(`invalid ${this.#decoder?.codings ?? 'encoded'} response body`, { cause: err })
    this.#controller?.error(error)
    this.#abort?.(new AbortedError('response body could not be decoded', { cause: err }))
  }

  #settle(): void {
    this.#transition('done')
    this.#resolveFinished()
  }

  /**
   * The one transition function: waiting → streaming | draining → done. `done` is final
   * (a late event from the engine after a cancel changes nothing).
   */
  #transition(to: HopState): void {
    if (this.#state === 'done') return
    this.#state = to
  }
}

/** The failure a fetch caller sees: the signal's reason for an abort, else `TypeError('fetch failed')` as undici. */
export function fetchError(err: WirepoolError, signal: AbortSignal | null): unknown {
  if (err.code === ErrorCode.ABORTED && signal?.aborted === true) return signal.reason
  return new TypeError('fetch failed', { cause: err })
}
