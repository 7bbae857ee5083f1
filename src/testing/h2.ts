/**
 * The test server's HTTP/2 side, on `node:http2` (an unattached `Http2Server` fed the sockets
 * the test server accepted). An exception to DESIGN.md's "no node:http2 in src/", which is
 * about the client engine: this is a server shipped for users' tests, and node:http2 gives
 * the control its faults need (RST_STREAM with any code, GOAWAY with a chosen last-stream-id,
 * PING to learn the peer has read everything before it), while the TCP-level faults (FIN,
 * RST) are done on the raw socket the test server keeps.
 */
import * as http2 from 'node:http2'
import type { Duplex } from 'node:stream'
import { addField, bodyBytes, type ServerContext, type TestConnection } from './context.js'
import type { FieldRecord, RecordedRequest, RouteResponse } from './types.js'
import { chosenProtocol, runWebSocket } from './ws.js'

const { NGHTTP2_REFUSED_STREAM, NGHTTP2_INTERNAL_ERROR, NGHTTP2_NO_ERROR } = http2.constants

/**
 * RST_STREAM(`code`) and nothing else. `stream.close(code)` first ends a still-open writable
 * side, which puts an empty DATA frame with END_STREAM on the wire, and the client could see a
 * complete (short) response before the reset; marking the side as ending keeps node from
 * sending it (node's closeStream() then submits the RST_STREAM at once for a non-zero code).
 */
function resetStream(stream: http2.ServerHttp2Stream, code: number): void {
  const writable = (stream as unknown as { _writableState?: { ending: boolean } })._writableState
  if (writable !== undefined && code !== NGHTTP2_NO_ERROR) writable.ending = true
  stream.close(code)
}

export class H2Side {
  readonly #server: http2.Http2Server
  readonly #sessions = new Set<http2.ServerHttp2Session>()
  readonly #context: ServerContext
  #pending: TestConnection | undefined

  constructor(context: ServerContext, websocket: boolean) {
    this.#context = context
    // RFC 8441 §3: SETTINGS_ENABLE_CONNECT_PROTOCOL lets the client open WebSockets as streams.
    this.#server = http2.createServer({ settings: { enableConnectProtocol: websocket } })
    this.#server.on('session', (session) => {
      const connection = this.#pending
      if (connection === undefined) return
      this.#sessions.add(session)
      session.on('close', () => this.#sessions.delete(session))
      session.on('error', () => {})
      session.on('stream', (stream, headers) => this.#onStream(session, connection, stream, headers))
    })
  }

  /** Serve HTTP/2 on a socket (TLS after ALPN 'h2', or cleartext with prior knowledge). */
  serve(socket: Duplex, connection: TestConnection): void {
    // 'session' is emitted synchronously from the 'connection' listener.
    this.#pending = connection
    this.#server.emit('connection', socket)
    this.#pending = undefined
  }

  destroyAll(): void {
    for (const session of this.#sessions) session.destroy()
  }

  #onStream(session: http2.ServerHttp2Session, connection: TestConnection, stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    stream.on('error', () => {})
    if (headers[':method'] === 'CONNECT' && headers[':protocol'] === 'websocket') {
      this.#onWebSocket(connection, stream, headers)
      return
    }
    const chunks: Buffer[] = []
    stream.on('data', (chunk: Buffer) => chunks.push(chunk))
    stream.on('end', () => {
      const request = this.#requestOf(connection, headers, Buffer.concat(chunks))
      void this.#context.answer(request).then((answer) => {
        if (!stream.destroyed) this.#respond(session, connection, stream, request, answer)
      })
    })
  }

  /** RFC 8441 §4-5: an extended CONNECT for a WebSocket; a 200 accepts it and the stream carries the frames. */
  #onWebSocket(connection: TestConnection, stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    const request = this.#requestOf(connection, headers, Buffer.alloc(0))
    void this.#context.answer(request).then((answer) => {
      if (stream.destroyed) return
      if (!this.#context.acceptsWebSocket(request, answer)) {
        stream.respond({ ':status': answer.status ?? 404 })
        stream.end()
        return
      }
      const protocol = chosenProtocol(request)
      stream.respond({ ':status': 200, ...(protocol === undefined ? {} : { 'sec-websocket-protocol': protocol }) })
      runWebSocket(stream, Buffer.alloc(0), answer, this.#context)
    })
  }

  #requestOf(connection: TestConnection, headers: http2.IncomingHttpHeaders, body: Buffer): RecordedRequest {
    const fields: FieldRecord = {}
    for (const [name, value] of Object.entries(headers)) {
      if (name.startsWith(':') || value === undefined) continue
      for (const v of Array.isArray(value) ? value : [value]) addField(fields, name, String(v))
    }
    return {
      method: String(headers[':method'] ?? 'GET'),
      path: String(headers[':path'] ?? '/'),
      headers: fields,
      body,
      connectionId: connection.id,
      protocol: 'h2',
      sequence: connection.served++,
      fault: undefined,
    }
  }

  /** Run `then` once the client has read every frame written so far (its PING ACK comes after them). */
  #afterFlush(session: http2.ServerHttp2Session, then: () => void): void {
    if (session.destroyed) return
    session.ping((err) => {
      if (err === null) then()
    })
  }

  /** Send the head and the first `n` body bytes, then `then` once the client has them. */
  #partial(session: http2.ServerHttp2Session, stream: http2.ServerHttp2Stream, head: http2.OutgoingHttpHeaders, body: Buffer, n: number, then: () => void): void {
    stream.respond(head)
    const part = body.subarray(0, n)
    if (part.length === 0) this.#afterFlush(session, then)
    else stream.write(part, () => this.#afterFlush(session, then))
  }

  #respond(session: http2.ServerHttp2Session, connection: TestConnection, stream: http2.ServerHttp2Stream, request: RecordedRequest, answer: RouteResponse): void {
    const fault = answer.fault
    const body = request.method === 'HEAD' ? Buffer.alloc(0) : bodyBytes(answer.body)
    const head: http2.OutgoingHttpHeaders = { ':status': answer.status ?? 200 }
    for (const [name, value] of Object.entries(answer.headers ?? {})) head[name.toLowerCase()] = Array.isArray(value) ? [...value] : String(value)
    if (answer.trailers === undefined && fault === undefined) head['content-length'] = body.length
    else if (fault !== undefined && fault.kind !== 'drip' && fault.kind !== 'delay-head') head['content-length'] = bodyBytes(answer.body).length
    const whole = (): void => {
      if (answer.trailers !== undefined) {
        const trailers = answer.trailers
        stream.respond(head, { waitForTrailers: true })
        stream.on('wantTrailers', () => stream.sendTrailers(trailers))
      } else {
        stream.respond(head)
      }
      stream.end(body)
    }
    const raw = connection.raw
    switch (fault?.kind) {
      case undefined:
      case 'ws-no-pong':
      case 'ws-close':
        whole()
        return
      case 'close-before-head':
        raw.destroy()
        return
      case 'close-idle':
        if (request.sequence > 0) raw.destroy()
        else whole()
        return
      case 'close':
        this.#partial(session, stream, head, body, fault.afterBytes, () => raw.destroy())
        return
      case 'reset':
        if (fault.afterBytes === undefined) raw.resetAndDestroy()
        else this.#partial(session, stream, head, body, fault.afterBytes, () => raw.resetAndDestroy())
        return
      case 'stall':
        if (fault.afterBytes !== undefined) {
          stream.respond(head)
          stream.write(body.subarray(0, fault.afterBytes))
        }
        return
      case 'delay-head':
        this.#context.setTimer(whole, fault.delayMs)
        return
      case 'drip': {
        stream.respond(head)
        let at = 0
        const step = Math.max(1, fault.chunkSize)
        const tick = (): void => {
          if (stream.destroyed) return
          const piece = body.subarray(at, at + step)
          at += step
          if (at < body.length) {
            stream.write(piece)
            this.#context.setTimer(tick, fault.intervalMs)
          } else {
            stream.end(piece)
          }
        }
        if (body.length === 0) stream.end()
        else this.#context.setTimer(tick, fault.intervalMs)
        return
      }
      case 'refuse-stream':
        resetStream(stream, NGHTTP2_REFUSED_STREAM)
        return
      case 'rst-stream': {
        const code = fault.code ?? NGHTTP2_INTERNAL_ERROR
        if (fault.afterBytes === undefined) resetStream(stream, code)
        else this.#partial(session, stream, head, body, fault.afterBytes, () => resetStream(stream, code))
        return
      }
      case 'goaway': {
        // Streams up to the `afterStreams`-th are answered; from the next one on, a GOAWAY
        // whose last-stream-id is the one before this stream: the client knows this one was
        // not processed (RFC 9113 §6.8) and may send it again elsewhere.
        if (request.sequence < fault.afterStreams) {
          whole()
          return
        }
        session.goaway(NGHTTP2_NO_ERROR, Math.max(0, (stream.id ?? 1) - 2))
        resetStream(stream, NGHTTP2_REFUSED_STREAM)
        session.close()
        return
      }
    }
  }
}
