/**
 * `MockAgent`: an Agent that answers from interceptors instead of the network, usable
 * wherever an Agent is — `request()`, `dispatch()`, `createFetch()` of `wirepool/fetch`,
 * `WirepoolDispatcher` of `wirepool/undici`, and as the default agent (`setDefaultAgent`).
 * It is a subclass of Agent that overrides only the two public entry points: a request that
 * no interceptor matches goes to the real Agent when net connect allows its host, else fails
 * with a `MockNotMatchedError` listing the pending interceptors. Mocked answers are played
 * into the same DispatchHandler contract a connection drives (replay.ts), so `request()`
 * gives the same `Response` (backpressure, trailers, abort, timeouts, decompression).
 */
import { ConnectRefusedError, InvalidArgumentError, PoolClosedError, toWirepoolError, type WirepoolError } from '../errors.js'
import type { DispatchHandler, HeaderRecord } from '../dispatch.js'
import diagnosticsChannel from 'node:diagnostics_channel'
import { Agent, type AgentStats } from '../pool/agent.js'
import { resolvePoolOptions, type AgentOptions } from '../options.js'
import { buildDispatchRequest, type RequestOptions } from '../request-options.js'
import { ResponseCollector, type Response } from '../response.js'
import { responseTarget } from '../interceptors/compose.js'
import { handlesRedirects } from '../interceptors/redirect.js'
import { formatPending, Interceptor, MockInterceptor, type PendingInterceptor, type ReplyResult } from './interceptor.js'
import { matchOrigin, matchRequest, normalizeOrigin, type InterceptOptions, type MockRequest, type OriginMatcher } from './matchers.js'
import { Replay } from './replay.js'
import { DEFAULT_REDACTED_HEADERS, readRecording, recordingHandler, redactExchange, saveRecording, type RecordedExchange } from './recording.js'

/** No interceptor matched and net connect is off for the host: a connection was refused, by the mock. */
export class MockNotMatchedError extends ConnectRefusedError {
  readonly request: MockRequest
  readonly pending: readonly PendingInterceptor[]
  constructor(request: MockRequest, pending: readonly PendingInterceptor[]) {
    super(`no mock interceptor matched ${request.method} ${request.url} and net connect is disabled for it; pending interceptors:\n${formatPending(pending)}`, {
      origin: request.origin,
      initiator: 'user',
    })
    this.request = request
    this.pending = pending
  }
}

/** One request the mock saw (matched or passed to the network), for assertions. */
export interface MockCall extends MockRequest {
  /** 'mock': an interceptor answered; 'net': it went to the network; 'unmatched': it failed. */
  answeredBy: 'mock' | 'net' | 'unmatched'
}

/** The channel the pools publish request events on (API.md); mocked ones carry `mocked: true`. */
const requestChannel = diagnosticsChannel.channel('wirepool:request')

/** What the mock answered, per origin: requests it matched, and how they ended. */
export interface MockedFigures {
  requests: number
  completed: number
  failed: number
  /** By error code. */
  errors: Record<string, number>
}

/** `agent.stats()` plus the mocked requests, which never touch a pool. */
export interface MockAgentStats extends AgentStats {
  mocked: Record<string, MockedFigures>
}

export type NetConnectMatcher = string | RegExp | ((host: string) => boolean)

/** Returned by `mock.get(origin)`. */
export class MockOrigin {
  readonly #origin: OriginMatcher
  readonly #add: (interceptor: Interceptor) => void

  constructor(origin: OriginMatcher, add: (interceptor: Interceptor) => void) {
    this.#origin = origin
    this.#add = add
  }

  intercept(options: InterceptOptions): MockInterceptor {
    return new MockInterceptor(this.#origin, options, this.#add)
  }
}

/** The request split from the caller's options: origin, request-target, authority. */
function target(options: RequestOptions): { origin: string; path: string; host: string } {
  if (options.url !== undefined) {
    if (options.origin !== undefined || options.path !== undefined) throw new InvalidArgumentError('give either url, or origin and path, not both')
    const url = new URL(String(options.url))
    return { origin: url.origin, path: `${url.pathname}${url.search}`, host: url.host }
  }
  if (options.origin === undefined) throw new InvalidArgumentError('request needs a url, or an origin and a path')
  const url = new URL(String(options.origin))
  return { origin: url.origin, path: options.path ?? '/', host: url.host }
}

async function collectBody(body: RequestOptions['body']): Promise<Buffer> {
  if (body === undefined || body === null) return Buffer.alloc(0)
  if (typeof body === 'string') return Buffer.from(body, 'utf8')
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength)
  const chunks: Buffer[] = []
  for await (const chunk of body as AsyncIterable<Uint8Array | string>) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk))
  return Buffer.concat(chunks)
}

function headersOf(flat: readonly string[]): HeaderRecord {
  const out: HeaderRecord = {}
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const name = (flat[i] as string).toLowerCase()
    const value = flat[i + 1] as string
    const prior = out[name]
    out[name] = prior === undefined ? value : Array.isArray(prior) ? [...prior, value] : [prior, value]
  }
  return out
}

export interface MockAgentOptions extends AgentOptions {
  /** Whether unmatched requests may go to the network. Default true (as undici's MockAgent); see disableNetConnect(). */
  netConnect?: boolean
}

export class MockAgent extends Agent {
  readonly #interceptors: Interceptor[] = []
  readonly #calls: MockCall[] = []
  readonly #headersTimeout: number
  readonly #bodyTimeout: number
  readonly #decompress: boolean
  readonly #maxDecompressedSize: number
  /** true: every host; false: none; else these matchers. */
  #netConnect: boolean | NetConnectMatcher[]
  #connectionIds = 0
  readonly #mocked = new Map<string, MockedFigures>()
  #closed = false
  /** Exchanges captured while recording; undefined when not recording. */
  #recorded: RecordedExchange[] | undefined

  constructor(options: MockAgentOptions = {}) {
    const { netConnect, ...agentOptions } = options
    super(agentOptions)
    const resolved = resolvePoolOptions(agentOptions)
    this.#headersTimeout = resolved.headersTimeout
    this.#bodyTimeout = resolved.bodyTimeout
    this.#decompress = resolved.decompress
    this.#maxDecompressedSize = resolved.maxDecompressedSize
    this.#netConnect = netConnect ?? true
  }

  /** Interceptors for an origin (`'https://api.test'`, a RegExp or a function of the origin). */
  get(origin: OriginMatcher): MockOrigin {
    const matcher = typeof origin === 'string' ? normalizeOrigin(origin) : origin
    return new MockOrigin(matcher, (interceptor) => this.#interceptors.push(interceptor))
  }

  /** Unmatched requests fail (MockNotMatchedError) instead of reaching the network. */
  disableNetConnect(): void {
    this.#netConnect = false
  }

  /** Let unmatched requests to these hosts (`host` or `host:port`, RegExp, function) reach the network; no argument: all. */
  enableNetConnect(matcher?: NetConnectMatcher): void {
    if (matcher === undefined) {
      this.#netConnect = true
      return
    }
    if (this.#netConnect === true) return
    this.#netConnect = [...(this.#netConnect === false ? [] : this.#netConnect), matcher]
  }

  /** Every request seen, in order. */
  get calls(): readonly MockCall[] {
    return this.#calls
  }

  /** Interceptors still expecting a request (persistent ones until first used). */
  pendingInterceptors(): PendingInterceptor[] {
    return this.#interceptors.filter((i) => i.pending).map((i) => i.describe())
  }

  /** Throws an Error listing the pending interceptors, if any. */
  assertNoPendingInterceptors(): void {
    const pending = this.pendingInterceptors()
    if (pending.length > 0) throw new Error(`${pending.length} interceptor${pending.length === 1 ? ' is' : 's are'} still pending:\n${formatPending(pending)}`)
  }

  override request(options: RequestOptions): Promise<Response> {
    // The Agent follows them, each hop coming back here through dispatch().
    if (handlesRedirects(options)) return super.request(options)
    return new Promise<Response>((resolve, reject) => {
      const collector = new ResponseCollector(resolve, reject, this.#decompress ? this.#maxDecompressedSize : -1, ...responseTarget(options, undefined))
      this.#handle(options, collector, this.#decompress, (passOptions, request) => {
        // While recording, the collector goes through dispatch so the tee sees the wire bytes.
        if (this.#recorded !== undefined) super.dispatch(passOptions, this.#tee(request, collector))
        else super.request(passOptions).then(resolve, reject)
      })
    })
  }

  override dispatch(options: RequestOptions, handler: DispatchHandler): void {
    if (handlesRedirects(options)) return super.dispatch(options, handler)
    this.#handle(options, handler, false, (passOptions, request) => super.dispatch(passOptions, this.#recorded === undefined ? handler : this.#tee(request, handler)))
  }

  /**
   * Record what goes to the network from now on (net connect must allow it): each completed
   * exchange, the response as it came off the wire (before decoding).
   */
  startRecording(): void {
    this.#recorded = []
  }

  /** Stop recording; returns the exchanges, credential headers redacted. */
  stopRecording(redact: readonly string[] = DEFAULT_REDACTED_HEADERS): RecordedExchange[] {
    const recorded = this.recordedExchanges(redact)
    this.#recorded = undefined
    return recorded
  }

  /** The exchanges recorded so far, with the `redact` headers' values replaced by '[REDACTED]'. */
  recordedExchanges(redact: readonly string[] = DEFAULT_REDACTED_HEADERS): RecordedExchange[] {
    return (this.#recorded ?? []).map((e) => redactExchange(e, redact))
  }

  /** Write the recorded exchanges to a JSON file (credential headers redacted). */
  async saveRecording(file: string, redact: readonly string[] = DEFAULT_REDACTED_HEADERS): Promise<void> {
    await saveRecording(file, this.#recorded ?? [], redact)
  }

  /**
   * Interceptors from a recording (a file saved by saveRecording, or exchanges): each answers
   * its method and URL (path and query) once, in order; `persist` makes each answer forever.
   */
  async loadRecording(source: string | readonly RecordedExchange[], options: { persist?: boolean } = {}): Promise<void> {
    const exchanges = typeof source === 'string' ? await readRecording(source) : source
    for (const { request, response } of exchanges) {
      const url = new URL(request.url)
      const body = response.bodyEncoding === 'base64' ? Buffer.from(response.body, 'base64') : response.body
      const scope = this.get(url.origin)
        .intercept({ path: `${url.pathname}${url.search}`, method: request.method })
        .reply((): ReplyResult => ({
          status: response.status,
          statusText: response.statusText,
          headers: response.headers,
          body,
          ...(response.trailers === undefined ? {} : { trailers: response.trailers }),
        }))
      if (options.persist === true) scope.persist()
    }
  }

  #tee(request: MockRequest, handler: DispatchHandler): DispatchHandler {
    const recorded = this.#recorded
    return recordingHandler(request, handler, (exchange) => recorded?.push(exchange))
  }

  /** No new requests, mocked or not; in-flight ones finish (as Agent#close). */
  override close(): Promise<void> {
    this.#closed = true
    return super.close()
  }

  override destroy(err?: Error): Promise<void> {
    this.#closed = true
    return super.destroy(err)
  }

  /** The real pools' figures (requests that went to the network), and `mocked`: what interceptors answered, by origin. */
  override stats(): MockAgentStats {
    const mocked: Record<string, MockedFigures> = {}
    for (const [origin, figures] of this.#mocked) mocked[origin] = { ...figures, errors: { ...figures.errors } }
    return { ...super.stats(), mocked }
  }

  #figuresOf(origin: string): MockedFigures {
    let figures = this.#mocked.get(origin)
    if (figures === undefined) {
      figures = { requests: 0, completed: 0, failed: 0, errors: {} }
      this.#mocked.set(origin, figures)
    }
    return figures
  }

  #netAllowed(host: string): boolean {
    const rule = this.#netConnect
    if (typeof rule === 'boolean') return rule
    const hostname = host.replace(/:\d+$/, '')
    return rule.some((m) => (typeof m === 'string' ? m === host || m === hostname : m instanceof RegExp ? m.test(host) : m(host)))
  }

  #handle(options: RequestOptions, handler: DispatchHandler, acceptEncoding: boolean, passThrough: (options: RequestOptions, request: MockRequest) => void): void {
    let split: { origin: string; path: string; host: string }
    try {
      if (this.#closed) throw new PoolClosedError('agent is closed')
      if (options === null || typeof options !== 'object') throw new InvalidArgumentError('request options must be an object')
      split = target(options)
    } catch (err) {
      handler.onError(toWirepoolError(err))
      return
    }
    collectBody(options.body).then(
      (bytes) => this.#route(options, split, bytes, handler, acceptEncoding, passThrough),
      (err: unknown) => handler.onError(toWirepoolError(err, split.origin)),
    )
  }

  #route(options: RequestOptions, split: { origin: string; path: string; host: string }, bytes: Buffer, handler: DispatchHandler, acceptEncoding: boolean, passThrough: (options: RequestOptions, request: MockRequest) => void): void {
    // A streamed body was read to match on it: from here on it is these bytes.
    const replayable: RequestOptions = options.body === undefined || options.body === null || typeof options.body === 'string' || options.body instanceof Uint8Array ? options : { ...options, body: bytes }
    let built: ReturnType<typeof buildDispatchRequest>
    try {
      built = buildDispatchRequest({ ...replayable, path: split.path }, split.host, { headersTimeout: this.#headersTimeout, bodyTimeout: this.#bodyTimeout }, acceptEncoding, split.path)
    } catch (err) {
      handler.onError(toWirepoolError(err, split.origin))
      return
    }
    const request: MockRequest = {
      origin: split.origin,
      method: built.method,
      path: built.path,
      url: `${split.origin}${built.path}`,
      headers: headersOf(built.headers),
      body: bytes.toString('utf8'),
      bodyBytes: bytes,
    }
    const interceptor = this.#interceptors.find((i) => i.usable && matchOrigin(i.origin, request.origin) && matchRequest(i.options, request))
    if (interceptor !== undefined) {
      interceptor.use()
      this.#calls.push({ ...request, answeredBy: 'mock' })
      const connectionId = ++this.#connectionIds
      const figures = this.#figuresOf(request.origin)
      figures.requests++
      const event = { origin: request.origin, method: request.method, path: request.path, connectionId, mocked: true }
      if (requestChannel.hasSubscribers) requestChannel.publish({ ...event, event: 'dispatched' })
      const onEnd = (outcome: { status: number } | { error: WirepoolError }): void => {
        if ('error' in outcome) {
          figures.failed++
          figures.errors[outcome.error.code] = (figures.errors[outcome.error.code] ?? 0) + 1
          if (requestChannel.hasSubscribers) requestChannel.publish({ ...event, event: 'failed', error: outcome.error })
        } else {
          figures.completed++
          if (requestChannel.hasSubscribers) requestChannel.publish({ ...event, event: 'completed', status: outcome.status })
        }
      }
      const context = { request, headersTimeout: built.headersTimeout, bodyTimeout: built.bodyTimeout, signal: options.signal, connectionId, onEnd }
      new Replay(interceptor, context, handler).start()
      return
    }
    if (this.#netAllowed(split.host)) {
      this.#calls.push({ ...request, answeredBy: 'net' })
      passThrough(replayable, request)
      return
    }
    this.#calls.push({ ...request, answeredBy: 'unmatched' })
    const err: WirepoolError = new MockNotMatchedError(request, this.pendingInterceptors())
    handler.onError(err)
  }
}
