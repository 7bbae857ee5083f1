/**
 * `wirepool/otel`: an interceptor (README "Interceptors") that makes one OpenTelemetry client
 * span per request, with the attributes of the HTTP client semantic conventions
 * (https://opentelemetry.io/docs/specs/semconv/http/http-spans/), and propagates the trace
 * context in the request's headers through the global propagator
 * (`propagation.inject(context, carrier)`: W3C `traceparent`/`tracestate` once an SDK
 * registers one).
 *
 * `@opentelemetry/api` is an optional peer dependency imported only here: the package root
 * and its other subpaths load without it.
 *
 * The span starts when the request enters the interceptor and ends when the response body
 * has been received in full (or the request failed): it covers the download, as the
 * undici and got instrumentations do. Retries the pool makes are inside one span (a status
 * retry's response is never seen; `http.request.resend_count` is not set).
 */
import { context, propagation, SpanKind, SpanStatusCode, trace, type Attributes, type Span, type Tracer, type TracerProvider } from '@opentelemetry/api'
import type { Duplex } from 'node:stream'
import type { ConnectionInfo, DispatchHandler, HeaderRecord } from '../dispatch.js'
import { DelegatingHandler } from '../delegating-handler.js'
import type { WirepoolError } from '../errors.js'
import type { RequestOptions } from '../request-options.js'
import type { Dispatch, Interceptor } from './compose.js'
import { headerEntries } from './request-headers.js'
import { withOption } from './options-copy.js'

export interface OtelOptions {
  /** Where the tracer comes from. Default: the global provider (`trace.getTracerProvider()`, looked up per span, so one registered later is used). */
  tracerProvider?: TracerProvider
  /** Requests for which this returns true get no span (and no propagated context). */
  ignore?: (options: RequestOptions) => boolean
  /** Inject the trace context into the request headers through the global propagator. Default true. */
  propagate?: boolean
  /** More attributes on a span as it starts (e.g. a `url.template`). */
  requestHook?: (span: Span, options: RequestOptions) => void
  /** Called with the final response head, before the span sees its body. */
  responseHook?: (span: Span, response: { status: number; headers: HeaderRecord }) => void
}

/** The instrumentation scope every span is created under. */
export const TRACER_NAME = 'wirepool'

/**
 * Methods the semantic conventions know (RFC 9110 §9 and PATCH, RFC 5789); any other is
 * reported as `_OTHER` with `http.request.method_original`, and names the span `HTTP`.
 */
const KNOWN_METHODS: ReadonlySet<string> = new Set(['CONNECT', 'DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT', 'TRACE', 'QUERY'])

/** Query parameters the conventions ask to redact from `url.full` (signed-URL credentials). */
const REDACTED_QUERY: ReadonlySet<string> = new Set(['AWSAccessKeyId', 'Signature', 'sig', 'X-Goog-Signature'])

/**
 * The interceptor: `agent.compose(otel())`. Put it first (outermost) to have one span per
 * request a caller makes; after a redirect interceptor it makes one per hop.
 */
export function otel(options: OtelOptions = {}): Interceptor {
  const { ignore, requestHook, responseHook } = options
  const propagate = options.propagate ?? true
  const provider = options.tracerProvider
  let tracer: Tracer | undefined
  const tracerNow = (): Tracer => (provider === undefined ? trace.getTracer(TRACER_NAME) : (tracer ??= provider.getTracer(TRACER_NAME)))
  return (dispatch: Dispatch): Dispatch =>
    (request, handler) => {
      if (ignore?.(request) === true) {
        dispatch(request, handler)
        return
      }
      const target = targetOf(request)
      const method = request.method ?? 'GET'
      const known = KNOWN_METHODS.has(method)
      const attributes: Attributes = {
        'http.request.method': known ? method : '_OTHER',
      }
      if (!known) attributes['http.request.method_original'] = method
      if (target !== undefined) {
        attributes['server.address'] = target.hostname.startsWith('[') ? target.hostname.slice(1, -1) : target.hostname
        attributes['server.port'] = target.port === '' ? (target.protocol === 'https:' || target.protocol === 'wss:' ? 443 : 80) : Number(target.port)
        attributes['url.full'] = fullUrl(target)
      }
      const parent = context.active()
      const span = tracerNow().startSpan(known ? method : 'HTTP', { kind: SpanKind.CLIENT, attributes }, parent)
      if (requestHook !== undefined) safely(() => requestHook(span, request))
      const active = trace.setSpan(parent, span)
      const sent = propagate ? withContextHeaders(request, active) : request
      const traced = new SpanHandler(handler, span, responseHook)
      try {
        // Whatever runs below (another interceptor, the pool) sees this span as the active one.
        context.with(active, dispatch, undefined, sent, traced)
      } catch (err) {
        traced.thrown(err)
        throw err
      }
    }
}

/** The request's URL, or undefined when its options name none (the chain reports that error). */
function targetOf(request: RequestOptions): URL | undefined {
  try {
    if (request.url !== undefined) return request.url instanceof URL ? request.url : new URL(request.url)
    if (request.origin !== undefined) return new URL(request.path ?? '/', request.origin)
  } catch {
    // (an invalid URL fails the request with WP_INVALID_ARG further down)
  }
  return undefined
}

/** `url.full` without credentials: userinfo and signed-URL parameters become REDACTED. */
function fullUrl(target: URL): string {
  if (target.username === '' && target.password === '' && target.search === '') return target.href
  const url = new URL(target.href)
  if (url.username !== '') url.username = 'REDACTED'
  if (url.password !== '') url.password = 'REDACTED'
  if (url.search !== '') {
    for (const key of REDACTED_QUERY) if (url.searchParams.has(key)) url.searchParams.set(key, 'REDACTED')
  }
  return url.href
}

/**
 * The options with the propagator's fields (`traceparent`, `tracestate`, …) set from the
 * span's context; fields of the same names the caller set are replaced, not repeated.
 */
function withContextHeaders(request: RequestOptions, active: ReturnType<typeof context.active>): RequestOptions {
  const carrier: Record<string, string> = {}
  propagation.inject(active, carrier)
  const injected = Object.keys(carrier)
  if (injected.length === 0) return request
  const replaced = new Set(injected.map((name) => name.toLowerCase()))
  const headers = headerEntries(request.headers).filter(([name]) => !replaced.has(name))
  for (const name of injected) headers.push([name.toLowerCase(), carrier[name] as string])
  return withOption(request, 'headers', headers)
}

/** A user hook that throws must not fail the request it describes. */
function safely(hook: () => void): void {
  try {
    hook()
  } catch {
    // ignored, as OpenTelemetry's instrumentations ignore their hooks' errors
  }
}

/** Follows the request for its span: connection facts, status, end or failure. */
class SpanHandler extends DelegatingHandler {
  readonly #span: Span
  readonly #responseHook: OtelOptions['responseHook']
  #ended = false

  constructor(inner: DispatchHandler, span: Span, responseHook: OtelOptions['responseHook']) {
    super(inner)
    this.#span = span
    this.#responseHook = responseHook
  }

  override onConnect(abort: (reason?: Error) => void, info: ConnectionInfo): void {
    // (a retry calls this again: the last connection is the one that answered)
    this.#span.setAttributes({
      'network.protocol.name': 'http',
      'network.protocol.version': info.protocol === 'h2' ? '2' : '1.1',
      ...(info.remoteAddress === undefined ? {} : { 'network.peer.address': info.remoteAddress }),
      ...(info.remotePort === undefined ? {} : { 'network.peer.port': info.remotePort }),
    })
    super.onConnect(abort, info)
  }

  override onHeaders(status: number, headers: HeaderRecord, resume: () => void, statusText: string, rawHeaders?: readonly string[]): boolean | void {
    this.#status(status)
    const hook = this.#responseHook
    if (hook !== undefined) safely(() => hook(this.#span, { status, headers }))
    return super.onHeaders(status, headers, resume, statusText, rawHeaders)
  }

  override onComplete(): void {
    this.#end()
    super.onComplete()
  }

  override onError(err: WirepoolError): void {
    this.#fail(err)
    super.onError(err)
  }

  override onUpgrade(status: number, headers: HeaderRecord, socket: Duplex, head: Uint8Array): void {
    this.#status(status)
    this.#end()
    super.onUpgrade(status, headers, socket, head)
  }

  /** The chain threw instead of reporting through onError. */
  thrown(err: unknown): void {
    this.#fail(err instanceof Error ? err : new Error(String(err)))
  }

  /** RFC 9110 status; 4xx and 5xx are errors for a client span (semantic conventions, "Status"). */
  #status(status: number): void {
    this.#span.setAttribute('http.response.status_code', status)
    if (status >= 400) {
      this.#span.setAttribute('error.type', String(status))
      this.#span.setStatus({ code: SpanStatusCode.ERROR })
    }
  }

  #fail(err: Error): void {
    if (this.#ended) return
    // A low-cardinality identifier: the error's stable code (WP_CONNECT_REFUSED, …).
    const code = (err as { code?: unknown }).code
    this.#span.setAttribute('error.type', typeof code === 'string' ? code : err.constructor.name)
    this.#span.recordException(err)
    this.#span.setStatus({ code: SpanStatusCode.ERROR, message: err.message })
    this.#end()
  }

  #end(): void {
    if (this.#ended) return
    this.#ended = true
    this.#span.end()
  }
}
