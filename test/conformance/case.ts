/**
 * The shape of a conformance case (cases.ts) and what both sides of it work with: the server
 * API node:http and node:http2 share, the rendezvous that replaces sleeps, what a client
 * saw (an outcome) and what it should have seen (an expectation).
 */
import { createHash } from 'node:crypto'
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http'
import type {
  DispatchHandler,
  ErrorCode,
  HeaderRecord,
  Pool,
  PoolOptions,
  PoolRequestOptions,
  Protocol,
  Response,
  WirepoolError,
} from '../../src/index.js'

// ── the server side ──────────────────────────────────────────────────────────────────────

/** What a case's server reads: the part `http.IncomingMessage` and `http2.Http2ServerRequest` share. */
export interface ServerRequest extends AsyncIterable<Buffer> {
  readonly method: string | undefined
  readonly headers: IncomingHttpHeaders
  readonly httpVersion: string
}

/** What a case's server writes: the part `http.ServerResponse` and `http2.Http2ServerResponse` share. */
export interface ServerReply {
  writeHead(status: number, headers?: OutgoingHttpHeaders): unknown
  setHeader(name: string, value: number | string | readonly string[]): unknown
  write(chunk: string | Uint8Array, callback?: (err?: Error | null) => void): boolean
  end(chunk?: string | Uint8Array): unknown
  addTrailers(trailers: OutgoingHttpHeaders): void
  writeContinue(): void
  writeEarlyHints(hints: Record<string, string | string[]>): void
  /**
   * Fail the exchange from the server side mid-response, the way each protocol can: HTTP/1.1
   * has only the connection to close; HTTP/2 resets the one stream (RFC 9113 §6.4).
   */
  reset(): void
}

/**
 * The server end of a granted upgrade, whichever way it was granted: the socket after a 101
 * (HTTP/1.1, RFC 9110 §7.8) or the stream after a 2xx to an extended CONNECT (RFC 8441 §4).
 */
export interface ServerTunnel {
  onData(listener: (chunk: Buffer) => void): void
  onEnd(listener: () => void): void
  write(chunk: string | Uint8Array): void
  end(): void
}

/** Named rendezvous points between a case's server and client (no sleeps). */
export class Rendezvous {
  readonly #points = new Map<string, { promise: Promise<void>; resolve: () => void }>()
  readonly #reachedNames = new Set<string>()

  #point(name: string): { promise: Promise<void>; resolve: () => void } {
    let point = this.#points.get(name)
    if (point === undefined) {
      let resolve!: () => void
      const promise = new Promise<void>((r) => (resolve = r))
      point = { promise, resolve }
      this.#points.set(name, point)
    }
    return point
  }

  reach(name: string): void {
    this.#reachedNames.add(name)
    this.#point(name).resolve()
  }

  reached(name: string): Promise<void> {
    return this.#point(name).promise
  }

  /** Whether `name` was reached already (for checks that must not wait). */
  has(name: string): boolean {
    return this.#reachedNames.has(name)
  }
}

// ── what the client sees ─────────────────────────────────────────────────────────────────

export interface Interim {
  status: number
  headers: HeaderRecord
}

/** Everything a response delivered, body bytes concatenated. */
export interface ResponseOutcome {
  kind: 'response'
  protocol: Protocol
  status: number
  statusText: string
  headers: HeaderRecord
  body: Buffer
  trailers: HeaderRecord
  informational: Interim[]
}

/** A request that failed: before its response head (`headers`) or while its body streamed (`body`). */
export interface ErrorOutcome {
  kind: 'error'
  stage: 'headers' | 'body'
  error: unknown
}

/** A request driven through `dispatch()`: the handler calls in order, data collapsed to a byte count. */
export interface TraceOutcome {
  kind: 'trace'
  trace: string[]
}

export type Outcome = ResponseOutcome | ErrorOutcome | TraceOutcome

/** Body bytes by value (a string is UTF-8) or, for large ones, by length and SHA-256. */
export type ExpectedBody = string | { length: number; sha256: string }

export interface ExpectResponse {
  status: number
  /** Checked when given. */
  statusText?: string
  /** The exact header record, hop-by-hop fields aside (see HOP_BY_HOP). */
  headers: HeaderRecord
  body: ExpectedBody
  /** Default: none. */
  trailers?: HeaderRecord
  /** Default: none. */
  informational?: Interim[]
}

type ErrorClass = abstract new (...args: never[]) => WirepoolError

export interface ExpectError {
  error: ErrorClass
  code: ErrorCode
  stage: 'headers' | 'body'
}

export interface ExpectTrace {
  trace: string[]
}

export type Expectation = ExpectResponse | ExpectError | ExpectTrace

/** Per protocol, when HTTP/1.1 and HTTP/2 legitimately differ. */
export type PerProtocol<T> = { readonly 'http/1.1': T; readonly h2: T }

export interface Case {
  name: string
  /** The rule the case checks. */
  rfc: string
  /** Why the two protocols answer differently, when `expect` is a pair. */
  differs?: string
  /** Pool options on top of the transport's own (the case gets a fresh pool). */
  pool?: PoolOptions
  serve(req: ServerRequest, res: ServerReply, ctx: Rendezvous): void | Promise<void>
  /**
   * For a request with `upgrade`: the server side once the runner granted it (HTTP/1.1: 101
   * with `Upgrade: <protocol>`; HTTP/2: 200 to the extended CONNECT). `serve` is not called then.
   */
  upgraded?(tunnel: ServerTunnel, ctx: Rendezvous): void
  /** The request `request()` is called with (path is set by the runner). Default: GET. */
  request?: PoolRequestOptions | ((ctx: Rendezvous) => PoolRequestOptions)
  /** A client that acts mid-exchange; default: `request()` and read everything. */
  run?(client: Client, ctx: Rendezvous): Promise<Outcome>
  expect: Expectation | PerProtocol<Expectation>
}

/** What a case's client drives: the public Pool API, the path of the case filled in. */
export interface Client {
  request(options?: PoolRequestOptions): Promise<Response>
  dispatch(options: PoolRequestOptions, handler: DispatchHandler): void
  readonly pool: Pool
}

/**
 * Fields the comparison leaves out: connection-specific fields of HTTP/1.1 (RFC 9110 §7.6.1;
 * RFC 9113 §8.2.2 forbids them in HTTP/2) and `date`, which the peers add on their own.
 * `transfer-encoding` is framing, checked by the body bytes arriving whole.
 */
export const HOP_BY_HOP: readonly string[] = ['connection', 'keep-alive', 'transfer-encoding', 'date']

/** Read a response to its end; an error after the head is an outcome at stage `body`. */
export async function collect(res: Response): Promise<Outcome> {
  const chunks: Buffer[] = []
  try {
    for await (const chunk of res.body) chunks.push(chunk as Buffer)
    const trailers = await res.trailers
    return {
      kind: 'response',
      protocol: res.protocol,
      status: res.status,
      statusText: res.statusText,
      headers: res.headers,
      body: Buffer.concat(chunks),
      trailers,
      informational: res.informational,
    }
  } catch (error) {
    return { kind: 'error', stage: 'body', error }
  }
}

/** `request()` and read everything; a rejection is an outcome at stage `headers`. */
export async function requestOutcome(client: Client, options: PoolRequestOptions = {}): Promise<Outcome> {
  let res: Response
  try {
    res = await client.request(options)
  } catch (error) {
    return { kind: 'error', stage: 'headers', error }
  }
  return collect(res)
}

export function isPerProtocol<T extends object>(expect: T | PerProtocol<T>): expect is PerProtocol<T> {
  return 'http/1.1' in expect && 'h2' in expect
}

export function bodyMatches(body: Buffer, expected: ExpectedBody): { actual: unknown; wanted: unknown } {
  if (typeof expected === 'string') return { actual: body.toString('latin1'), wanted: Buffer.from(expected).toString('latin1') }
  return { actual: { length: body.length, sha256: sha256(body) }, wanted: expected }
}

/** Hex SHA-256 of `bytes`. */
export const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')
