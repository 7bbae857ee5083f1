/**
 * RFC 8441 tunnels: an HTTP/2 stream opened by an extended CONNECT that, once the server
 * answered 2xx, carries a byte stream in both directions (RFC 8441 §4, §5; RFC 9113 §8.5 for
 * how a CONNECT stream moves bytes). Two small pieces:
 *
 * - `TunnelHandler` sits between the session and the caller's handler: until the response
 *   head it forwards everything (a refused CONNECT is an ordinary response); a 2xx turns into
 *   `onUpgrade(status, headers, duplex, empty head)`, and from then on the stream's DATA,
 *   END_STREAM and failure feed the Duplex instead of the handler.
 * - `H2TunnelSocket` is that Duplex. It does no protocol work: writes, end, reads and destroy
 *   go to `TunnelStreamOps`, which the session implements on the stream (DATA within flow
 *   control, END_STREAM, window credit, RST_STREAM(CANCEL)).
 */
import { Duplex } from 'node:stream'
import type { ConnectionInfo, DispatchHandler, HeaderRecord } from '../dispatch.js'
import { InvalidArgumentError, type WirepoolError } from '../errors.js'

/** What a tunnel asks of its stream; the session implements it. */
export interface TunnelStreamOps {
  /** Queue the bytes as DATA; `done` runs once the stream's send queue has room again. */
  write(chunk: Uint8Array, done: (err?: Error | null) => void): void
  /** END_STREAM after everything queued (RFC 9113 §8.5: a half-close); `done` once it is written. */
  end(done: (err?: Error | null) => void): void
  /** The reader wants more: deliver held DATA, give the held-back window credit to the peer. */
  resume(): void
  /** Reset the stream with CANCEL unless both directions already ended (RFC 9113 §8.5). */
  abort(reason?: Error): void
}

const EMPTY = new Uint8Array(0)

/** The Duplex over one tunnel stream. Half-closes both ways like a TCP socket (allowHalfOpen). */
export class H2TunnelSocket extends Duplex {
  readonly #ops: TunnelStreamOps

  constructor(ops: TunnelStreamOps) {
    super({ allowHalfOpen: true })
    this.#ops = ops
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.#ops.write(chunk, callback)
  }

  override _final(callback: (err?: Error | null) => void): void {
    this.#ops.end(callback)
  }

  override _read(): void {
    this.#ops.resume()
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    // A no-op when both directions already ended: the stream is closed and gone.
    this.#ops.abort(err ?? undefined)
    callback(err)
  }
}

/**
 * The handler the session drives for an extended CONNECT stream. `socket` is null until a
 * 2xx established the tunnel; `established` tells the session to treat the stream as a
 * tunnel from then on (no body timeout, END_STREAM from the peer is only a half-close).
 */
export class TunnelHandler implements DispatchHandler {
  readonly #inner: DispatchHandler
  readonly #ops: TunnelStreamOps
  #socket: H2TunnelSocket | null = null
  /** The Duplex's `_final` callback, waiting for our END_STREAM to be written. */
  #endDone: ((err?: Error | null) => void) | null = null

  constructor(inner: DispatchHandler, ops: TunnelStreamOps) {
    this.#inner = inner
    this.#ops = ops
  }

  get established(): boolean {
    return this.#socket !== null
  }

  /** Called by the session's `end` op: remember `done` until END_STREAM went out. */
  awaitEnd(done: (err?: Error | null) => void): void {
    this.#endDone = done
  }

  /** Our END_STREAM was written. */
  endWritten(): void {
    const done = this.#endDone
    this.#endDone = null
    done?.()
  }

  onConnect(abort: (reason?: Error) => void, info: ConnectionInfo): void {
    this.#inner.onConnect?.(abort, info)
  }

  onInformational(status: number, headers: HeaderRecord): void {
    this.#inner.onInformational?.(status, headers)
  }

  onHeaders(status: number, headers: HeaderRecord, resume: () => void, statusText: string): boolean | void {
    // RFC 8441 §5 / RFC 9110 §9.3.6: any 2xx establishes the tunnel; anything else is a
    // refusal the caller reads as an ordinary response.
    if (status < 200 || status > 299) return this.#inner.onHeaders(status, headers, resume, statusText)
    const onUpgrade = this.#inner.onUpgrade
    // Thrown before the socket exists, so the failure still reaches the caller's onError.
    if (onUpgrade === undefined) throw new InvalidArgumentError(`${status} to an extended CONNECT but the handler has no onUpgrade`)
    const socket = new H2TunnelSocket(this.#ops)
    this.#socket = socket
    onUpgrade.call(this.#inner, status, headers, socket, EMPTY)
    return true
  }

  onData(chunk: Uint8Array): boolean | void {
    const socket = this.#socket
    if (socket === null) return this.#inner.onData(chunk)
    // false = the reader's buffer is full: the session holds the window credit (backpressure).
    return socket.push(chunk)
  }

  onTrailers(trailers: HeaderRecord): void {
    // A tunnel has no trailers worth reporting (RFC 9113 §8.5: only DATA carries its bytes).
    if (this.#socket === null) this.#inner.onTrailers?.(trailers)
  }

  onComplete(): void {
    const socket = this.#socket
    if (socket === null) this.#inner.onComplete()
    else socket.push(null) // the peer's END_STREAM: end of the readable side only
  }

  onError(err: WirepoolError): void {
    const socket = this.#socket
    if (socket === null) {
      this.#inner.onError(err)
      return
    }
    this.#endDone = null
    socket.destroy(err)
  }
}

/** The stream's tunnel once a 2xx established it (RFC 8441), else null. */
export function establishedTunnel(stream: { readonly handler: DispatchHandler }): TunnelHandler | null {
  const handler = stream.handler
  return handler instanceof TunnelHandler && handler.established ? handler : null
}
