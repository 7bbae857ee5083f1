/**
 * Sans-I/O: the request that opens an HTTP CONNECT tunnel (RFC 9110 §9.3.6) and a parser
 * for the proxy's answer. Bytes in, one result out; no socket, timer or promise.
 *
 * The proxy is a peer like any other, hence hostile until proven otherwise: its answer head
 * is bounded (`maxHeadSize`), 1xx interim heads are skipped but count against the same
 * bound, and bytes the proxy sent after the head are handed back (`rest`), not lost: after a
 * 2xx they are the origin's first bytes.
 */

export interface ConnectRequestOptions {
  /** `host:port` of the origin, IPv6 in brackets (RFC 9112 §3.2.3 authority-form). */
  authority: string
  /** `Basic …`, or undefined to send no Proxy-Authorization. */
  authorization: string | undefined
}

/**
 * `CONNECT host:port HTTP/1.1` with Host (RFC 9112 §3.2: a client MUST send it; for CONNECT
 * it is the target authority) and the proxy's credentials, if any. Nothing else: no user
 * header goes to the proxy.
 */
export function connectRequestHead(opts: ConnectRequestOptions): string {
  if (/[^\x21-\x7e]/.test(opts.authority)) throw new Error('CONNECT authority contains a character that would break the request line')
  const auth = opts.authorization === undefined ? '' : `proxy-authorization: ${opts.authorization}\r\n`
  return `CONNECT ${opts.authority} HTTP/1.1\r\nhost: ${opts.authority}\r\n${auth}\r\n`
}

export type ConnectReply =
  /** Need more bytes. */
  | { kind: 'more' }
  /** A final (non-1xx) status. `rest`: bytes after the head (a view of the input). */
  | { kind: 'status'; status: number; statusLine: string; headers: ReadonlyMap<string, string>; rest: Uint8Array }
  /** The bytes cannot be a CONNECT answer, or it outgrew the bound. */
  | { kind: 'invalid'; reason: string }

/** Default bound on the answer head (interim heads included), as for responses: 16 KiB. */
export const DEFAULT_MAX_CONNECT_HEAD = 16 * 1024
/** More interim heads than this is a proxy playing games. */
const MAX_INTERIM = 8

const STATUS_LINE = /^HTTP\/1\.[01] ([1-9]\d\d)(?: ([^\r\n]*))?$/

export class ConnectReplyParser {
  readonly #maxHeadSize: number
  #buffered: Buffer = Buffer.alloc(0)
  /** Bytes of interim heads already consumed. */
  #consumed = 0
  #interim = 0
  #done = false

  constructor(maxHeadSize = DEFAULT_MAX_CONNECT_HEAD) {
    this.#maxHeadSize = maxHeadSize
  }

  /** Feed the next chunk. After a `status` or `invalid` result the parser takes nothing more. */
  push(chunk: Uint8Array): ConnectReply {
    if (this.#done) return { kind: 'invalid', reason: 'the answer was already complete' }
    // Concatenate only while a head spans chunks (usually it arrives in one).
    this.#buffered = this.#buffered.length === 0 ? Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength) : Buffer.concat([this.#buffered, chunk])
    for (;;) {
      const result = this.#parseOne()
      if (result !== 'interim') return result
    }
  }

  #parseOne(): ConnectReply | 'interim' {
    const buf = this.#buffered
    const end = buf.indexOf('\r\n\r\n', 0, 'latin1')
    const limit = this.#maxHeadSize - this.#consumed
    if (end < 0) {
      if (buf.length > limit) return this.#invalid(`the proxy's answer head exceeds ${this.#maxHeadSize} bytes`)
      return { kind: 'more' }
    }
    if (end + 4 > limit) return this.#invalid(`the proxy's answer head exceeds ${this.#maxHeadSize} bytes`)
    const head = buf.toString('latin1', 0, end)
    const lines = head.split('\r\n')
    const statusLine = lines[0] as string
    const m = STATUS_LINE.exec(statusLine)
    if (m === null) return this.#invalid(`not an HTTP/1.x status line: ${JSON.stringify(statusLine.slice(0, 80))}`)
    const status = Number(m[1])
    const headers = new Map<string, string>()
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i] as string
      const colon = line.indexOf(':')
      // RFC 9112 §5.1: no whitespace between the field name and the colon; no obs-fold.
      if (colon <= 0 || /[\s]/.test(line.slice(0, colon))) return this.#invalid(`malformed header line ${JSON.stringify(line.slice(0, 80))}`)
      const name = line.slice(0, colon).toLowerCase()
      const value = line.slice(colon + 1).trim()
      headers.set(name, headers.has(name) ? `${headers.get(name) as string}, ${value}` : value)
    }
    const rest = buf.subarray(end + 4)
    if (status < 200) {
      // RFC 9110 §15.2: interim answers precede the final one; skip them, bounded.
      if (++this.#interim > MAX_INTERIM) return this.#invalid(`more than ${MAX_INTERIM} interim answers`)
      this.#consumed += end + 4
      this.#buffered = rest
      return 'interim'
    }
    this.#done = true
    this.#buffered = Buffer.alloc(0)
    // RFC 9110 §9.3.6: a 2xx answer to CONNECT has no content; whatever follows is the tunnel's.
    return { kind: 'status', status, statusLine, headers, rest }
  }

  #invalid(reason: string): ConnectReply {
    this.#done = true
    this.#buffered = Buffer.alloc(0)
    return { kind: 'invalid', reason }
  }
}
