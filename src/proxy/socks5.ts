/**
 * Sans-I/O SOCKS5 client handshake: RFC 1928 (method negotiation, CONNECT) and RFC 1929
 * (username/password). Bytes in, the next thing to send or the outcome out; no socket,
 * timer or promise. One state field, one transition function that rejects unlisted moves.
 *
 *   method ──(0x00)──────────────→ reply ──→ done
 *     └────(0x02)──→ auth ──(ok)──↗
 *   any state ──→ failed
 *
 * Every read is bounded by the protocol itself: a step waits for exactly the bytes its
 * message needs (the longest, a CONNECT reply with a 255-byte name, is 262 bytes), and
 * whatever follows the final reply is handed back as `rest`, not lost.
 */
import { isIP } from 'node:net'

const VERSION = 0x05
/** RFC 1928 §3 METHOD values. */
const METHOD = { NO_AUTH: 0x00, USERNAME_PASSWORD: 0x02, NO_ACCEPTABLE: 0xff } as const
/** RFC 1928 §4 ATYP values. */
export const ATYP = { IPV4: 0x01, DOMAIN: 0x03, IPV6: 0x04 } as const
/** RFC 1929 §2: the sub-negotiation's own version byte. */
const AUTH_VERSION = 0x01

/** RFC 1928 §6 REP values, as people read them. */
export const SOCKS5_REPLIES: Readonly<Record<number, string>> = {
  0x01: 'general SOCKS server failure',
  0x02: 'connection not allowed by ruleset',
  0x03: 'network unreachable',
  0x04: 'host unreachable',
  0x05: 'connection refused',
  0x06: 'TTL expired',
  0x07: 'command not supported',
  0x08: 'address type not supported',
}

export interface Socks5Target {
  /** An IP literal (sent as ATYP 1 or 4) or a name (ATYP 3: the proxy resolves it, socks5h). */
  host: string
  port: number
}

export interface Socks5Credentials {
  username: string
  password: string
}

export type Socks5Step =
  | { kind: 'more' }
  | { kind: 'send'; bytes: Uint8Array }
  /** The tunnel is open. `bound` is BND.ADDR:BND.PORT (RFC 1928 §6); `rest` the bytes after the reply. */
  | { kind: 'done'; bound: string; rest: Uint8Array }
  /** RFC 1929 status other than 0, or no acceptable method when credentials were needed. */
  | { kind: 'auth-failed'; reason: string; status: number }
  /** A REP other than success. */
  | { kind: 'refused'; reply: number; reason: string }
  | { kind: 'invalid'; reason: string }

type State = 'method' | 'auth' | 'reply' | 'done' | 'failed'
const MOVES: Readonly<Record<State, readonly State[]>> = {
  method: ['auth', 'reply', 'failed'],
  auth: ['reply', 'failed'],
  reply: ['done', 'failed'],
  done: [],
  failed: [],
}

export class Socks5Handshake {
  #state: State = 'method'
  #buffered: Buffer = Buffer.alloc(0)
  readonly #target: Socks5Target
  readonly #credentials: Socks5Credentials | undefined

  constructor(target: Socks5Target, credentials?: Socks5Credentials) {
    this.#target = target
    this.#credentials = credentials
    // Fail before any byte is sent for a target that cannot be encoded.
    encodeAddress(target.host)
    if (!Number.isInteger(target.port) || target.port < 1 || target.port > 65535) throw new Error(`SOCKS5 target port ${target.port} out of range`)
  }

  get state(): State {
    return this.#state
  }

  /** The greeting (RFC 1928 §3): the methods we can do; username/password only when we have credentials. */
  greeting(): Uint8Array {
    return this.#credentials === undefined
      ? Uint8Array.of(VERSION, 1, METHOD.NO_AUTH)
      : Uint8Array.of(VERSION, 2, METHOD.NO_AUTH, METHOD.USERNAME_PASSWORD)
  }

  /** Feed bytes from the proxy (an empty chunk re-examines what is buffered). */
  push(chunk: Uint8Array): Socks5Step {
    if (this.#state === 'done' || this.#state === 'failed') return { kind: 'invalid', reason: 'the handshake is over' }
    if (chunk.byteLength > 0) {
      this.#buffered = this.#buffered.length === 0 ? Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength) : Buffer.concat([this.#buffered, chunk])
    }
    switch (this.#state) {
      case 'method':
        return this.#onMethod()
      case 'auth':
        return this.#onAuth()
      case 'reply':
        return this.#onReply()
    }
  }

  #move(to: State): void {
    if (!MOVES[this.#state].includes(to)) throw new Error(`SOCKS5 handshake: no move from ${this.#state} to ${to}`)
    this.#state = to
  }

  #take(n: number): Buffer {
    const head = this.#buffered.subarray(0, n)
    this.#buffered = this.#buffered.subarray(n)
    return head
  }

  #fail<S extends Socks5Step>(step: S): S {
    this.#move('failed')
    this.#buffered = Buffer.alloc(0)
    return step
  }

  #onMethod(): Socks5Step {
    if (this.#buffered.length < 2) return { kind: 'more' }
    const [version, method] = this.#take(2) as unknown as [number, number]
    if (version !== VERSION) return this.#fail({ kind: 'invalid', reason: `SOCKS version ${version} in the method reply (expected 5)` })
    if (method === METHOD.NO_ACCEPTABLE) {
      return this.#credentials === undefined
        ? this.#fail({ kind: 'auth-failed', status: method, reason: 'the SOCKS5 proxy accepts none of our methods: it needs credentials' })
        : this.#fail({ kind: 'auth-failed', status: method, reason: 'the SOCKS5 proxy accepts neither no-auth nor username/password' })
    }
    if (method === METHOD.NO_AUTH) {
      this.#move('reply')
      return { kind: 'send', bytes: this.#connectRequest() }
    }
    if (method === METHOD.USERNAME_PASSWORD && this.#credentials !== undefined) {
      this.#move('auth')
      const user = Buffer.from(this.#credentials.username, 'utf8')
      const pass = Buffer.from(this.#credentials.password, 'utf8')
      // RFC 1929 §2: VER ULEN UNAME PLEN PASSWD.
      return { kind: 'send', bytes: Buffer.concat([Uint8Array.of(AUTH_VERSION, user.length), user, Uint8Array.of(pass.length), pass]) }
    }
    return this.#fail({ kind: 'invalid', reason: `the SOCKS5 proxy chose method 0x${method.toString(16)}, which we did not offer` })
  }

  #onAuth(): Socks5Step {
    if (this.#buffered.length < 2) return { kind: 'more' }
    const [version, status] = this.#take(2) as unknown as [number, number]
    // RFC 1929 §2 says VER is 1; some servers echo the SOCKS version 5 there (curl accepts both).
    if (version !== AUTH_VERSION && version !== VERSION) return this.#fail({ kind: 'invalid', reason: `version ${version} in the username/password reply (expected 1)` })
    if (status !== 0) return this.#fail({ kind: 'auth-failed', status, reason: `the SOCKS5 proxy rejected the username/password (status ${status})` })
    this.#move('reply')
    return { kind: 'send', bytes: this.#connectRequest() }
  }

  #onReply(): Socks5Step {
    const buf = this.#buffered
    // Each byte is judged as soon as it is here: a refusal is reported even from a proxy
    // that closes before sending a full reply.
    if (buf.length < 2) {
      if (buf.length === 1 && buf[0] !== VERSION) return this.#fail({ kind: 'invalid', reason: `SOCKS version ${buf[0] as number} in the CONNECT reply (expected 5)` })
      return { kind: 'more' }
    }
    const version = buf[0] as number
    const reply = buf[1] as number
    if (version !== VERSION) return this.#fail({ kind: 'invalid', reason: `SOCKS version ${version} in the CONNECT reply (expected 5)` })
    if (reply !== 0) {
      const reason = SOCKS5_REPLIES[reply] ?? `unassigned reply code 0x${reply.toString(16)}`
      return this.#fail({ kind: 'refused', reply, reason })
    }
    if (buf.length < 3) return { kind: 'more' }
    if (buf[2] !== 0) return this.#fail({ kind: 'invalid', reason: `reserved byte 0x${(buf[2] as number).toString(16)} in the CONNECT reply (must be 0)` })
    if (buf.length < 5) return { kind: 'more' }
    const atyp = buf[3] as number
    // BND.ADDR's family may differ from the target's (it is the proxy's own socket), but it
    // must be one of the three address types RFC 1928 §5 defines.
    let length: number
    if (atyp === ATYP.IPV4) length = 4 + 4 + 2
    else if (atyp === ATYP.IPV6) length = 4 + 16 + 2
    else if (atyp === ATYP.DOMAIN) length = 4 + 1 + (buf[4] as number) + 2
    else return this.#fail({ kind: 'invalid', reason: `address type 0x${atyp.toString(16)} in the CONNECT reply is none of IPv4, domain, IPv6` })
    if (buf.length < length) return { kind: 'more' }
    const reply_ = this.#take(length)
    const port = reply_.readUInt16BE(length - 2)
    const bound = atyp === ATYP.IPV4 ? [...reply_.subarray(4, 8)].join('.') : atyp === ATYP.IPV6 ? ipv6Text(reply_.subarray(4, 20)) : reply_.toString('latin1', 5, length - 2)
    this.#move('done')
    const rest = this.#buffered
    this.#buffered = Buffer.alloc(0)
    return { kind: 'done', bound: `${bound}:${port}`, rest }
  }

  /** RFC 1928 §4: VER CMD=CONNECT RSV ATYP DST.ADDR DST.PORT. */
  #connectRequest(): Uint8Array {
    const address = encodeAddress(this.#target.host)
    const out = Buffer.alloc(3 + address.length + 2)
    out[0] = VERSION
    out[1] = 0x01
    out[2] = 0x00
    out.set(address, 3)
    out.writeUInt16BE(this.#target.port, 3 + address.length)
    return out
  }
}

/** ATYP + DST.ADDR for an IP literal or a name (≤ 255 bytes, RFC 1928 §5). */
export function encodeAddress(host: string): Uint8Array {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host
  const family = isIP(bare)
  if (family === 4) return Uint8Array.of(ATYP.IPV4, ...bare.split('.').map(Number))
  if (family === 6) return Uint8Array.of(ATYP.IPV6, ...ipv6Bytes(bare))
  const name = Buffer.from(bare, 'utf8')
  if (name.length < 1 || name.length > 255) throw new Error('a SOCKS5 domain name must be 1..255 bytes')
  return Buffer.concat([Uint8Array.of(ATYP.DOMAIN, name.length), name])
}

/** 16 bytes of an IPv6 literal (node:net validated it), `::` and a dotted IPv4 tail included. */
export function ipv6Bytes(address: string): number[] {
  let text = address.split('%')[0] as string
  const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)
  if (tail !== null) {
    const [a, b, c, d] = (tail[1] as string).split('.').map(Number) as [number, number, number, number]
    text = text.slice(0, -(tail[1] as string).length) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const [left, right] = text.includes('::') ? (text.split('::') as [string, string]) : [text, undefined]
  const head = left === '' ? [] : left.split(':')
  const tailGroups = right === undefined || right === '' ? [] : right.split(':')
  const zeros = right === undefined ? 0 : 8 - head.length - tailGroups.length
  const groups = [...head, ...Array<string>(zeros).fill('0'), ...tailGroups].map((g) => Number.parseInt(g, 16))
  return groups.flatMap((g) => [g >> 8, g & 0xff])
}

function ipv6Text(bytes: Uint8Array): string {
  const groups: string[] = []
  for (let i = 0; i < 16; i += 2) groups.push((((bytes[i] as number) << 8) | (bytes[i + 1] as number)).toString(16))
  return `[${groups.join(':')}]`
}
