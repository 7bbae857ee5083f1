/**
 * The test server's WebSocket side (RFC 6455; over HTTP/1.1 an upgrade, over HTTP/2 an RFC 8441
 * stream set up in h2.ts): for HTTP/1.1 the 101 handshake with
 * our own `acceptFor`, server frames written by our own `encodeFrame` (unmasked), and a small
 * reader for client frames (our `FrameDecoder` is the client's: it rejects masked frames, as a
 * client must). It echoes data messages, answers pings (unless `ws-no-pong`), returns a Close,
 * and for `ws-close` closes first with the given code.
 */
import type { Duplex } from 'node:stream'
import { acceptFor } from '../ws/handshake.js'
import { encodeClose, encodeFrame } from '../ws/frame-encode.js'
import { Opcode } from '../ws/frame.js'
import type { ServerContext } from './context.js'
import type { RecordedRequest, RouteResponse } from './types.js'

interface ClientFrame {
  fin: boolean
  opcode: number
  payload: Buffer
  /** Bytes the frame took. */
  length: number
}

/** One masked client frame from the start of `buffer`, or null when it is not complete yet. */
function readFrame(buffer: Buffer): ClientFrame | null {
  if (buffer.length < 2) return null
  const b0 = buffer[0] as number
  const b1 = buffer[1] as number
  let length = b1 & 0x7f
  let at = 2
  if (length === 126) {
    if (buffer.length < 4) return null
    length = buffer.readUInt16BE(2)
    at = 4
  } else if (length === 127) {
    if (buffer.length < 10) return null
    length = Number(buffer.readBigUInt64BE(2))
    at = 10
  }
  const masked = (b1 & 0x80) !== 0
  const keyAt = at
  if (masked) at += 4
  if (buffer.length < at + length) return null
  const payload = Buffer.from(buffer.subarray(at, at + length))
  if (masked) for (let i = 0; i < payload.length; i++) payload[i] = (payload[i] as number) ^ (buffer[keyAt + (i & 3)] as number)
  return { fin: (b0 & 0x80) !== 0, opcode: b0 & 0x0f, payload, length: at + length }
}

/** An HTTP/1.1 upgrade (RFC 6455 §4.2.2): the 101 with our own `acceptFor`, then the frame loop. */
export function serveWebSocket(socket: Duplex, rest: Buffer, request: RecordedRequest, answer: RouteResponse, context: ServerContext): void {
  const key = request.headers['sec-websocket-key']
  if (typeof key !== 'string') {
    socket.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n')
    return
  }
  const protocol = chosenProtocol(request)
  const lines = ['HTTP/1.1 101 Switching Protocols', 'upgrade: websocket', 'connection: Upgrade', `sec-websocket-accept: ${acceptFor(key)}`]
  if (protocol !== undefined) lines.push(`sec-websocket-protocol: ${protocol}`)
  socket.write(lines.join('\r\n') + '\r\n\r\n')
  runWebSocket(socket, rest, answer, context)
}

/** The first subprotocol the client offered, which the server accepts. */
export function chosenProtocol(request: RecordedRequest): string | undefined {
  const offered = request.headers['sec-websocket-protocol']
  const first = typeof offered === 'string' ? offered.split(',')[0]?.trim() : undefined
  return first === '' ? undefined : first
}

/** The frame loop over an accepted WebSocket: an upgraded socket, or an RFC 8441 HTTP/2 stream. */
export function runWebSocket(socket: Duplex, rest: Buffer, answer: RouteResponse, context: ServerContext): void {
  const fault = answer.fault
  let closing = false
  const sendClose = (code: number, reason = ''): void => {
    if (closing) return
    closing = true
    socket.write(encodeClose(code, reason, { mask: false }))
    // The client answers with its Close and then closes; do not wait forever if it does not.
    const timer = context.setTimer(() => socket.destroy(), 2000)
    socket.once('close', () => context.clearTimer(timer))
  }
  if (fault?.kind === 'ws-close') sendClose(fault.code, fault.reason ?? '')

  let buffer = rest
  let message: Buffer[] = []
  let messageOpcode = 0
  const onBytes = (): void => {
    for (;;) {
      const frame = readFrame(buffer)
      if (frame === null) return
      buffer = buffer.subarray(frame.length)
      switch (frame.opcode) {
        case Opcode.PING:
          if (fault?.kind !== 'ws-no-pong') socket.write(encodeFrame(Opcode.PONG, frame.payload, { mask: false }))
          break
        case Opcode.PONG:
          break
        case Opcode.CLOSE: {
          const code = frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : 1000
          if (!closing) {
            closing = true
            socket.write(encodeClose(code === 1005 ? 1000 : code, '', { mask: false }))
          }
          socket.end()
          return
        }
        default: {
          if (frame.opcode !== Opcode.CONTINUATION) {
            messageOpcode = frame.opcode
            message = []
          }
          message.push(frame.payload)
          if (frame.fin && !closing) {
            const opcode = messageOpcode === Opcode.TEXT ? Opcode.TEXT : Opcode.BINARY
            socket.write(encodeFrame(opcode, Buffer.concat(message), { mask: false }))
          }
        }
      }
    }
  }
  socket.on('data', (chunk: Buffer) => {
    buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk])
    onBytes()
  })
  onBytes()
}
