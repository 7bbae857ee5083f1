/**
 * A handler that wraps another and hands every call on unchanged. Wrappers that intercept a
 * few calls — coalescing's resend of a 421 or an unprocessed stream (pool/coalesce.ts), a
 * forwarding proxy's 407 (proxy/forward-handler.ts) — extend it and override only those.
 */
import type { Duplex } from 'node:stream'
import type { ConnectionInfo, DispatchHandler, HeaderRecord } from './dispatch.js'
import { InvalidArgumentError, type WirepoolError } from './errors.js'

export class DelegatingHandler implements DispatchHandler {
  protected readonly inner: DispatchHandler

  constructor(inner: DispatchHandler) {
    this.inner = inner
  }

  onRedirect(status: number, location: URL): void {
    this.inner.onRedirect?.(status, location)
  }

  onConnect(abort: (reason?: Error) => void, info: ConnectionInfo): void {
    this.inner.onConnect?.(abort, info)
  }

  onRequestSent(): void {
    this.inner.onRequestSent?.()
  }

  onInformational(status: number, headers: HeaderRecord): void {
    this.inner.onInformational?.(status, headers)
  }

  onHeaders(status: number, headers: HeaderRecord, resume: () => void, statusText: string, rawHeaders?: readonly string[]): boolean | void {
    return this.inner.onHeaders(status, headers, resume, statusText, rawHeaders)
  }

  onData(chunk: Uint8Array): boolean | void {
    return this.inner.onData(chunk)
  }

  onTrailers(trailers: HeaderRecord): void {
    this.inner.onTrailers?.(trailers)
  }

  onComplete(): void {
    this.inner.onComplete()
  }

  onError(err: WirepoolError): void {
    this.inner.onError(err)
  }

  onUpgrade(status: number, headers: HeaderRecord, socket: Duplex, head: Uint8Array): void {
    const onUpgrade = this.inner.onUpgrade
    if (onUpgrade === undefined) throw new InvalidArgumentError('101 Switching Protocols but the handler has no onUpgrade')
    onUpgrade.call(this.inner, status, headers, socket, head)
  }
}
