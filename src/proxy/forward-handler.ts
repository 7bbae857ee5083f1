/**
 * A request forwarded to an HTTP proxy in absolute-form gets the proxy's own answer when
 * the proxy refuses it: a 407 there means our proxy credentials are missing or wrong, not
 * that the origin asked for authentication (RFC 9110 §15.5.8). The handler turns it into
 * `WP_PROXY_AUTH`, as for a CONNECT; every other status is the response it appears to be.
 * The 407's body is read and dropped so the connection stays usable.
 *
 * Only connections in forwarding mode wrap their handlers: nothing changes for others.
 */
import type { ConnectionInfo, DispatchHandler, HeaderRecord } from '../dispatch.js'
import { InvalidArgumentError, ProxyAuthError, type WirepoolError } from '../errors.js'
import type { ProxyEndpoint } from './config.js'
import type { Duplex } from 'node:stream'

export class ForwardedRequestHandler implements DispatchHandler {
  readonly #inner: DispatchHandler
  readonly #endpoint: ProxyEndpoint
  readonly #origin: string
  #refused: ProxyAuthError | undefined

  constructor(inner: DispatchHandler, endpoint: ProxyEndpoint, origin: string) {
    this.#inner = inner
    this.#endpoint = endpoint
    this.#origin = origin
  }

  onConnect(abort: (reason?: Error) => void, info: ConnectionInfo): void {
    this.#inner.onConnect?.(abort, info)
  }

  onInformational(status: number, headers: HeaderRecord): void {
    this.#inner.onInformational?.(status, headers)
  }

  onHeaders(status: number, headers: HeaderRecord, resume: () => void, statusText: string, rawHeaders?: readonly string[]): boolean | void {
    if (status === 407) {
      const e = this.#endpoint
      const how = e.authorization === undefined ? 'requires credentials' : 'rejected the credentials'
      this.#refused = new ProxyAuthError(e.display, 407, `proxy ${e.display} ${how} (407 ${statusText})`, { origin: this.#origin })
      return true
    }
    return this.#inner.onHeaders(status, headers, resume, statusText, rawHeaders)
  }

  onData(chunk: Uint8Array): boolean | void {
    if (this.#refused !== undefined) return true
    return this.#inner.onData(chunk)
  }

  onTrailers(trailers: HeaderRecord): void {
    if (this.#refused === undefined) this.#inner.onTrailers?.(trailers)
  }

  onComplete(): void {
    if (this.#refused !== undefined) this.#inner.onError(this.#refused)
    else this.#inner.onComplete()
  }

  onError(err: WirepoolError): void {
    this.#inner.onError(err)
  }

  onUpgrade(status: number, headers: HeaderRecord, socket: Duplex, head: Uint8Array): void {
    const onUpgrade = this.#inner.onUpgrade
    if (onUpgrade === undefined) throw new InvalidArgumentError('101 Switching Protocols but the handler has no onUpgrade')
    onUpgrade.call(this.#inner, status, headers, socket, head)
  }
}
