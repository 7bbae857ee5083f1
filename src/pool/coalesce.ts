/**
 * HTTP/2 connection coalescing (RFC 9113 §9.1.1; Agent option `coalesce`): what the Agent
 * needs besides the pools — the addresses each host name resolves to, and the handler that
 * sends a request again on its own origin when the shared connection was the wrong place.
 */
import { lookup } from 'node:dns/promises'
import { isIP } from 'node:net'
import type { DispatchHandler, HeaderRecord } from '../dispatch.js'
import { DelegatingHandler } from '../delegating-handler.js'
import { ErrorCode, type WirepoolError } from '../errors.js'

/** RFC 9113 §7. */
const REFUSED_STREAM = 0x7

/** How long a lookup's answer is used for coalescing decisions (node's lookup gives no TTL). */
const ADDRESS_TTL_MS = 30_000
const MAX_HOSTS = 1024

/** Host name → the addresses it resolved to, for coalescing decisions only. */
export class AddressBook {
  readonly #entries = new Map<string, { addresses: ReadonlySet<string>; expires: number }>()
  readonly #pending = new Map<string, Promise<void>>()

  /** The addresses if known, else a promise that settles once they are (or the lookup failed). */
  addressesOf(hostname: string): ReadonlySet<string> | Promise<void> {
    if (isIP(hostname) !== 0) return new Set([hostname])
    const entry = this.#entries.get(hostname)
    if (entry !== undefined && entry.expires > Date.now()) return entry.addresses
    let pending = this.#pending.get(hostname)
    if (pending === undefined) {
      pending = lookup(hostname, { all: true }).then(
        (found) => this.#remember(hostname, new Set(found.map((a) => a.address))),
        // The origin's own connection will report the DNS failure; nothing coalesces meanwhile.
        () => this.#remember(hostname, new Set()),
      )
      this.#pending.set(hostname, pending)
    }
    return pending
  }

  #remember(hostname: string, addresses: ReadonlySet<string>): void {
    this.#pending.delete(hostname)
    if (this.#entries.size >= MAX_HOSTS) this.#entries.delete(this.#entries.keys().next().value as string)
    this.#entries.set(hostname, { addresses, expires: Date.now() + ADDRESS_TTL_MS })
  }
}

/**
 * Wraps the caller's handler for a request sent on another origin's connection. A 421
 * (RFC 9110 §15.5.20: "the client MAY retry the request, whether or not the original
 * request was idempotent, over a different connection") or a stream the server did not
 * process (GOAWAY / REFUSED_STREAM, RFC 9113 §8.7) is not shown to the caller: `resend`
 * sends the request again on its own origin.
 */
export class CoalescedHandler extends DelegatingHandler {
  readonly #resend: (reason: 'misdirected' | 'unprocessed') => void
  readonly #replayable: boolean
  readonly #idempotent: boolean
  #misdirected = false
  #headersSeen = false

  constructor(inner: DispatchHandler, replayable: boolean, idempotent: boolean, resend: (reason: 'misdirected' | 'unprocessed') => void) {
    super(inner)
    this.#replayable = replayable
    this.#idempotent = idempotent
    this.#resend = resend
  }

  override onHeaders(status: number, headers: HeaderRecord, resume: () => void, statusText: string, rawHeaders?: readonly string[]): boolean | void {
    if (status === 421 && this.#replayable) {
      // Read the (small) body to its end so the stream finishes cleanly, then resend.
      this.#misdirected = true
      return true
    }
    this.#headersSeen = true
    return this.inner.onHeaders(status, headers, resume, statusText, rawHeaders)
  }

  override onData(chunk: Uint8Array): boolean | void {
    if (this.#misdirected) return true
    return this.inner.onData(chunk)
  }

  override onTrailers(trailers: HeaderRecord): void {
    if (!this.#misdirected) this.inner.onTrailers?.(trailers)
  }

  override onComplete(): void {
    if (this.#misdirected) this.#resend('misdirected')
    else this.inner.onComplete()
  }

  /**
   * Any request whose stream RFC 9113 guarantees unprocessed (§8.7: REFUSED_STREAM, GOAWAY
   * above last-stream-id); an idempotent one also after other failures the session marks
   * retryable (a stream refused for overload before any response).
   */
  #mayResend(err: WirepoolError): boolean {
    const marks = err as { retryable?: boolean; h2Code?: number }
    if (marks.retryable !== true) return false
    return this.#idempotent || err.code === ErrorCode.H2_GOAWAY || marks.h2Code === REFUSED_STREAM
  }

  override onError(err: WirepoolError): void {
    // A 421 whose body failed to arrive is still a 421: the request was not processed.
    if (this.#misdirected) this.#resend('misdirected')
    else if (!this.#headersSeen && this.#replayable && this.#mayResend(err)) this.#resend('unprocessed')
    else this.inner.onError(err)
  }
}
