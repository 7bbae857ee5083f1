/**
 * A scripted WebSocket server on a raw node:net socket, for tests that need a peer that
 * breaks the rules: it answers the handshake by hand (or not at all), writes whatever
 * frames the test builds with `encodeFrame(..., { mask: false })`, and reads the client's
 * masked frames back with a small server-side reader (our FrameDecoder is client-side and
 * rightly rejects masked frames).
 */
import * as net from 'node:net'
import { acceptFor } from '../../src/ws/handshake.js'
import { listenLoopback } from '../support/servers.js'

interface Teardown {
  teardown(fn: () => unknown): void
}

export interface ClientFrame {
  fin: boolean
  rsv: number
  opcode: number
  masked: boolean
  payload: Buffer
}

export class PeerConnection {
  readonly socket: net.Socket
  /** Request head fields, lowercase names. */
  readonly headers: Record<string, string>
  readonly requestLine: string
  #buffer: Buffer
  readonly #frames: ClientFrame[] = []
  #waiter: ((f: ClientFrame | null) => void) | undefined
  #ended = false
  /** Resolves when the client's side of TCP ended or the socket closed. */
  readonly ended: Promise<void>

  constructor(socket: net.Socket, requestLine: string, headers: Record<string, string>, rest: Buffer) {
    this.socket = socket
    this.requestLine = requestLine
    this.headers = headers
    this.#buffer = rest
    this.ended = new Promise((resolve) => {
      const done = (): void => {
        this.#ended = true
        const w = this.#waiter
        this.#waiter = undefined
        w?.(null)
        resolve()
      }
      socket.once('end', done)
      socket.once('close', done)
    })
    socket.on('data', (chunk: Buffer) => {
      // Gather chunks and join them only once a whole frame is in: joining on every chunk
      // would copy a 16 MiB message hundreds of times.
      this.#pending.push(chunk)
      this.#pendingLength += chunk.length
      if (this.#buffer.length + this.#pendingLength < this.#need) return
      this.#buffer = Buffer.concat([this.#buffer, ...this.#pending])
      this.#pending = []
      this.#pendingLength = 0
      this.#parse()
    })
    this.#parse()
  }

  #pending: Buffer[] = []
  #pendingLength = 0
  /** Bytes the frame at the head of the buffer needs before it can be parsed. */
  #need = 2

  /** Answer 101 with a correct accept; `extra` lines are appended (or replace the accept when `accept` is given). */
  accept(extra: string[] = [], accept?: string): void {
    const key = this.headers['sec-websocket-key'] ?? ''
    const lines = [
      'HTTP/1.1 101 Switching Protocols',
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Accept: ${accept ?? acceptFor(key)}`,
      ...extra,
    ]
    this.socket.write(lines.join('\r\n') + '\r\n\r\n')
  }

  /** Write bytes, in chops of `chop` bytes when given (each its own write). */
  send(bytes: Uint8Array, chop?: number): void {
    if (this.socket.destroyed) return
    if (chop === undefined) {
      this.socket.write(bytes)
      return
    }
    for (let at = 0; at < bytes.length; at += chop) this.socket.write(bytes.subarray(at, Math.min(at + chop, bytes.length)))
  }

  /** The next frame from the client, or null when its side ended. */
  next(): Promise<ClientFrame | null> {
    const f = this.#frames.shift()
    if (f !== undefined) return Promise.resolve(f)
    if (this.#ended) return Promise.resolve(null)
    return new Promise((resolve) => (this.#waiter = resolve))
  }

  /** The next frame that is not a Pong (answers to pings the script does not care about). */
  async nextNonPong(): Promise<ClientFrame | null> {
    for (;;) {
      const f = await this.next()
      if (f === null || f.opcode !== 0xa) return f
    }
  }

  /** The next whole data message (reassembled), or a control frame as it is. */
  async nextMessage(): Promise<ClientFrame | null> {
    const first = await this.nextNonPong()
    if (first === null || first.opcode >= 0x8 || first.fin) return first
    const parts = [first.payload]
    for (;;) {
      const f = await this.nextNonPong()
      if (f === null) return null
      if (f.opcode >= 0x8) return f
      parts.push(f.payload)
      if (f.fin) return { ...first, fin: true, payload: Buffer.concat(parts) }
    }
  }

  #parse(): void {
    for (;;) {
      const b = this.#buffer
      this.#need = 2
      if (b.length < 2) return
      const masked = ((b[1] as number) & 0x80) !== 0
      let len = (b[1] as number) & 0x7f
      let at = 2
      if (len === 126) {
        this.#need = 4
        if (b.length < 4) return
        len = b.readUInt16BE(2)
        at = 4
      } else if (len === 127) {
        this.#need = 10
        if (b.length < 10) return
        len = b.readUInt32BE(2) * 2 ** 32 + b.readUInt32BE(6)
        at = 10
      }
      const keyAt = at
      if (masked) at += 4
      this.#need = at + len
      if (b.length < at + len) return
      const payload = Buffer.from(b.subarray(at, at + len))
      if (masked) for (let i = 0; i < payload.length; i++) payload[i] = (payload[i] as number) ^ (b[keyAt + (i & 3)] as number)
      this.#buffer = b.subarray(at + len)
      const frame: ClientFrame = {
        fin: ((b[0] as number) & 0x80) !== 0,
        rsv: ((b[0] as number) >> 4) & 0x7,
        opcode: (b[0] as number) & 0x0f,
        masked,
        payload,
      }
      const w = this.#waiter
      this.#waiter = undefined
      if (w !== undefined) w(frame)
      else this.#frames.push(frame)
    }
  }
}

export interface RawPeer {
  port: number
  url: string
  /** Connections in accept order; `connection()` waits for the next one. */
  connection(): Promise<PeerConnection>
  sockets: Set<net.Socket>
}

/** Listen on loopback; each connection's request head is read before it is handed out. */
export async function startRawPeer(t: Teardown): Promise<RawPeer> {
  const sockets = new Set<net.Socket>()
  const ready: PeerConnection[] = []
  let waiter: ((c: PeerConnection) => void) | undefined
  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    let head = Buffer.alloc(0)
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk])
      const end = head.indexOf('\r\n\r\n')
      if (end === -1) return
      socket.off('data', onData)
      const lines = head.subarray(0, end).toString('latin1').split('\r\n')
      const headers: Record<string, string> = {}
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':')
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
      }
      const conn = new PeerConnection(socket, lines[0] ?? '', headers, head.subarray(end + 4))
      const w = waiter
      waiter = undefined
      if (w !== undefined) w(conn)
      else ready.push(conn)
    }
    socket.on('data', onData)
  })
  const port = await listenLoopback(t, server, () => sockets)
  return {
    port,
    url: `ws://127.0.0.1:${port}`,
    sockets,
    connection() {
      const c = ready.shift()
      if (c !== undefined) return Promise.resolve(c)
      return new Promise((resolve) => (waiter = resolve))
    },
  }
}
