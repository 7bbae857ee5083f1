/**
 * `wirepool get -v`: the connection's life on stderr, curl-style (`*` notes, `>` request
 * head, `<` response head). Connection states come from the `wirepool:connection`
 * diagnostics channel and retries from `wirepool:request`; the per-request facts (ALPN
 * result, reuse, TLS resumption, peer address, the request's timings) from the handler's
 * `onConnect`: the connect phases there, the request's own phases once it completes.
 */
import diagnosticsChannel from 'node:diagnostics_channel'
import type { Writable } from 'node:stream'
import type { CertificateExpiringEvent, ConnectionEvent, ConnectionInfo, ConnectionSnapshot, HeaderRecord, RequestEvent, RequestTimings } from '../index.js'

/** What get.ts learned about the connection beyond ConnectionInfo. */
export interface ConnectionDetails {
  snapshot: ConnectionSnapshot | undefined
  certificate: CertificateExpiringEvent | undefined
}

const ms = (n: number): string => `${n.toFixed(2)} ms`

export class Trace {
  readonly #out: Writable
  readonly #origin: string
  readonly #onConnection = (message: unknown): void => this.#connection(message as ConnectionEvent)
  readonly #onRequest = (message: unknown): void => this.#request(message as RequestEvent)
  #attached = false
  readonly #openedAt = new Map<number, number>()

  constructor(out: Writable, origin: string) {
    this.#out = out
    this.#origin = origin
  }

  attach(): void {
    if (this.#attached) return
    this.#attached = true
    diagnosticsChannel.subscribe('wirepool:connection', this.#onConnection)
    diagnosticsChannel.subscribe('wirepool:request', this.#onRequest)
  }

  detach(): void {
    if (!this.#attached) return
    this.#attached = false
    diagnosticsChannel.unsubscribe('wirepool:connection', this.#onConnection)
    diagnosticsChannel.unsubscribe('wirepool:request', this.#onRequest)
  }

  note(text: string): void {
    this.#out.write(`* ${text}\n`)
  }

  #connection(ev: ConnectionEvent): void {
    if (ev.origin !== this.#origin) return
    // Events are published synchronously with each state change, so timing them here is
    // finer than the event's millisecond `age`.
    const now = performance.now()
    if (ev.from === undefined) {
      this.#openedAt.set(ev.id, now)
      this.note(`connection #${ev.id}: connecting to ${ev.origin} (${ev.reason})`)
      return
    }
    const since = now - (this.#openedAt.get(ev.id) ?? now)
    if (ev.from === 'connecting' && ev.to !== 'closed') {
      // The whole connect as one figure (HTTP/2's SETTINGS exchange included); the split
      // comes with the first request's timings (connectionInfo).
      this.note(`connection #${ev.id}: connected in ${ms(since)} (DNS + TCP${ev.origin.startsWith('https:') ? ' + TLS handshake' : ''}), protocol ${ev.protocol ?? '?'}`)
    }
    this.note(`connection #${ev.id}: ${ev.from} -> ${ev.to} (${ev.reason}) at +${ms(since)}`)
    if (ev.to === 'closed') this.#openedAt.delete(ev.id)
  }

  #request(ev: RequestEvent): void {
    if (ev.origin !== this.#origin || ev.event !== 'retried') return
    this.note(`request retried after ${ev.error?.code ?? 'a failure'} on connection #${ev.connectionId ?? '?'}`)
  }

  /**
   * What the request was assigned to: the ALPN result is the connection's protocol; the
   * connect phases come from the request's timings (a new connection's only), the
   * certificate from the pool's `certificate-expiring` event or else its connection snapshot
   * (see get.ts).
   */
  connectionInfo(info: ConnectionInfo, secure: boolean, details: ConnectionDetails): void {
    const peer = info.remoteAddress === undefined ? 'unknown peer' : `${info.remoteAddress}:${info.remotePort ?? '?'}`
    this.note(`using connection #${info.id} to ${peer}, ${info.reused ? 'reused (served a request before)' : 'new (first request on it)'}`)
    const snapshot = details.snapshot
    const phases = info.timings?.phases
    if (phases !== undefined && !info.reused) {
      const parts = [`DNS ${phases.dns === undefined ? 'none (no name to resolve)' : ms(phases.dns)}`, `TCP connect ${phases.tcp === undefined ? '?' : ms(phases.tcp)}`]
      if (phases.proxy !== undefined) parts.push(`proxy tunnel ${ms(phases.proxy)}`)
      if (phases.tls !== undefined) parts.push(`TLS handshake ${ms(phases.tls)}`)
      this.note(`timings: ${parts.join(', ')}`)
    }
    if (!secure) {
      this.note(`cleartext ${info.protocol}`)
      return
    }
    this.note(`ALPN: server accepted ${info.protocol}`)
    this.note(`TLS session: ${info.tlsResumed === true ? 'resumed' : 'full handshake'}; TLS version: not exposed by the engine`)
    const cert = details.certificate
    if (cert !== undefined) {
      this.note(`server certificate: subject ${cert.subject}; issuer ${cert.issuer}`)
      this.note(`server certificate: expires ${cert.validTo.toISOString()} (${cert.daysLeft} days left)`)
    } else if (snapshot !== undefined && snapshot.certificateDaysLeft !== null) {
      this.note(`server certificate: ${snapshot.certificateDaysLeft} days left`)
    }
  }

  requestHead(lines: readonly string[]): void {
    for (const line of lines) this.#out.write(`> ${line}\n`)
    this.#out.write('>\n')
  }

  responseHead(statusLine: string, headers: HeaderRecord): void {
    this.#out.write(`< ${statusLine}\n`)
    for (const line of headerLines(headers)) this.#out.write(`< ${line}\n`)
    this.#out.write('<\n')
  }

  /** The request's own phases, once its body has ended (the connect phases were noted at onConnect). */
  requestTimings(timings: RequestTimings | undefined): void {
    if (timings === undefined) return
    const p = timings.phases
    const phase = (n: number | undefined): string => (n === undefined ? '?' : ms(n))
    this.note(`timings: wait ${ms(p.wait)}, request sent ${phase(p.request)}, first byte ${phase(p.firstByte)}, download ${phase(p.download)}, total ${phase(p.total)}`)
  }

  trailers(trailers: HeaderRecord): void {
    for (const line of headerLines(trailers)) this.note(`trailer: ${line}`)
  }
}

/** `name: value` lines of a header record, repeated fields one line each. */
export function headerLines(headers: HeaderRecord): string[] {
  const lines: string[] = []
  for (const [name, value] of Object.entries(headers)) {
    if (Array.isArray(value)) for (const v of value) lines.push(`${name}: ${v}`)
    else lines.push(`${name}: ${value}`)
  }
  return lines
}
