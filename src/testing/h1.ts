/**
 * The test server's HTTP/1.1 side, written on the socket itself (plain `node:net` or a
 * `node:tls` socket) rather than on `node:http`: every fault needs to decide which bytes go
 * out and when the socket ends or is reset, and `node:http` hides both (it writes its own
 * head, buffers, and answers a half-closed socket for us). Requests on a connection are
 * served one at a time, in order (pipelined ones wait in the buffer).
 */
import type { Duplex } from 'node:stream'
import { addField, bodyBytes, STATUS_TEXT, type ServerContext, type TestConnection } from './context.js'
import type { FieldRecord, RecordedRequest, ResponseFault, RouteResponse } from './types.js'
import { serveWebSocket } from './ws.js'

/** Request heads larger than this close the connection (a test server, not a fortress). */
const MAX_HEAD = 64 * 1024

interface ParsedHead {
  method: string
  path: string
  headers: FieldRecord
  /** Bytes of the head, CRLFCRLF included. */
  length: number
}

function parseHead(buffer: Buffer): ParsedHead | null | 'invalid' {
  const end = buffer.indexOf('\r\n\r\n')
  if (end === -1) return buffer.length > MAX_HEAD ? 'invalid' : null
  const lines = buffer.subarray(0, end).toString('latin1').split('\r\n')
  const [method, path, version] = (lines[0] ?? '').split(' ')
  if (method === undefined || path === undefined || version === undefined || !version.startsWith('HTTP/1.')) return 'invalid'
  const headers: FieldRecord = {}
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':')
    if (colon <= 0) return 'invalid'
    addField(headers, line.slice(0, colon).trim(), line.slice(colon + 1).trim())
  }
  return { method, path, headers, length: end + 4 }
}

/** A chunked body (RFC 9112 §7.1) complete in `buffer` from `at`: its bytes and where it ends; null when more is needed. */
function parseChunked(buffer: Buffer, at: number): { body: Buffer; end: number } | null | 'invalid' {
  const parts: Buffer[] = []
  let pos = at
  for (;;) {
    const lineEnd = buffer.indexOf('\r\n', pos)
    if (lineEnd === -1) return null
    const size = parseInt(buffer.subarray(pos, lineEnd).toString('latin1').split(';')[0] ?? '', 16)
    if (Number.isNaN(size)) return 'invalid'
    pos = lineEnd + 2
    if (size === 0) {
      // Trailer section, then the final CRLF.
      const trailerEnd = buffer.indexOf('\r\n', pos)
      if (trailerEnd === -1) return null
      if (trailerEnd === pos) return { body: Buffer.concat(parts), end: pos + 2 }
      const sectionEnd = buffer.indexOf('\r\n\r\n', pos)
      if (sectionEnd === -1) return null
      return { body: Buffer.concat(parts), end: sectionEnd + 4 }
    }
    if (buffer.length < pos + size + 2) return null
    parts.push(buffer.subarray(pos, pos + size))
    pos += size + 2
  }
}

export function serveH1(socket: Duplex, connection: TestConnection, context: ServerContext): void {
  let buffer: Buffer = Buffer.alloc(0)
  let busy = false
  /** The head whose `Expect: 100-continue` was answered (RFC 9110 §10.1.1), so it is answered once. */
  let continued: ParsedHead | undefined
  let closed = false
  socket.on('close', () => {
    closed = true
  })
  socket.on('error', () => {})

  const next = (): void => {
    if (busy || closed) return
    const head = parseHead(buffer)
    if (head === null) return
    if (head === 'invalid') {
      socket.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n')
      return
    }
    const expect = head.headers.expect
    if (typeof expect === 'string' && expect.toLowerCase() === '100-continue' && continued?.length !== head.length) {
      continued = head
      socket.write('HTTP/1.1 100 Continue\r\n\r\n')
    }
    let body: Buffer
    let end: number
    const te = head.headers['transfer-encoding']
    if (typeof te === 'string' && te.toLowerCase().includes('chunked')) {
      const chunked = parseChunked(buffer, head.length)
      if (chunked === null) return
      if (chunked === 'invalid') {
        socket.destroy()
        return
      }
      ;({ body, end } = chunked)
    } else {
      const length = Number(head.headers['content-length'] ?? 0)
      if (buffer.length < head.length + length) return
      body = buffer.subarray(head.length, head.length + length)
      end = head.length + length
    }
    buffer = buffer.subarray(end)
    busy = true
    continued = undefined
    const request: RecordedRequest = {
      method: head.method,
      path: head.path,
      headers: head.headers,
      body: Buffer.from(body),
      connectionId: connection.id,
      protocol: 'http/1.1',
      sequence: connection.served++,
      fault: undefined,
    }
    void context.answer(request).then((answer) => {
      if (closed) return
      const upgrade = head.headers.upgrade
      if (typeof upgrade === 'string' && upgrade.toLowerCase() === 'websocket' && context.acceptsWebSocket(request, answer)) {
        socket.removeAllListeners('data')
        serveWebSocket(socket, buffer, request, answer, context)
        return
      }
      respond(socket, connection, request, answer, context, () => {
        busy = false
        next()
      })
    })
  }

  socket.on('data', (chunk: Buffer) => {
    buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk])
    next()
  })
}

function headBytes(status: number, answer: RouteResponse, length: number, close: boolean): Buffer {
  const lines = [`HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Status'}`]
  let hasDate = false
  let hasLength = false
  for (const [name, value] of Object.entries(answer.headers ?? {})) {
    const lower = name.toLowerCase()
    if (lower === 'date') hasDate = true
    if (lower === 'content-length') hasLength = true
    for (const v of Array.isArray(value) ? value : [value]) lines.push(`${name}: ${String(v)}`)
  }
  if (!hasDate) lines.push(`date: ${new Date().toUTCString()}`)
  if (answer.trailers !== undefined) {
    lines.push('transfer-encoding: chunked', `trailer: ${Object.keys(answer.trailers).join(', ')}`)
  } else if (!hasLength && status !== 204 && status !== 304 && !(status >= 100 && status < 200)) {
    lines.push(`content-length: ${length}`)
  }
  lines.push(close ? 'connection: close' : 'connection: keep-alive')
  return Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1')
}

function chunkedBody(body: Buffer, trailers: Record<string, string>): Buffer {
  const parts: Buffer[] = []
  if (body.length > 0) parts.push(Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n'))
  const fields = Object.entries(trailers).map(([n, v]) => `${n}: ${v}\r\n`).join('')
  parts.push(Buffer.from(`0\r\n${fields}\r\n`, 'latin1'))
  return Buffer.concat(parts)
}

/** Write one response, applying its fault; `done` when the connection may serve the next request. */
function respond(socket: Duplex, connection: TestConnection, request: RecordedRequest, answer: RouteResponse, context: ServerContext, done: () => void): void {
  const fault: ResponseFault | undefined = answer.fault
  const status = answer.status ?? 200
  const body = request.method === 'HEAD' ? Buffer.alloc(0) : bodyBytes(answer.body)
  const declared = bodyBytes(answer.body).length
  const closeAfter = fault?.kind === 'goaway' && connection.served >= fault.afterStreams
  const head = headBytes(status, answer, declared, closeAfter)
  const full = (): Buffer => (answer.trailers !== undefined ? chunkedBody(body, answer.trailers) : body)
  const finish = (): void => {
    if (closeAfter) socket.end()
    else done()
  }
  const resetAfterWrite = (bytes: Buffer): void => {
    if (bytes.length === 0) connection.raw.resetAndDestroy()
    else socket.write(bytes, () => connection.raw.resetAndDestroy())
  }
  switch (fault?.kind) {
    case undefined:
    case 'goaway':
    case 'ws-no-pong':
    case 'ws-close':
      socket.write(Buffer.concat([head, full()]))
      finish()
      return
    case 'close-before-head':
    case 'refuse-stream':
      socket.destroy()
      return
    case 'close-idle':
      if (request.sequence > 0) {
        socket.destroy()
        return
      }
      socket.write(Buffer.concat([head, full()]))
      finish()
      return
    case 'close':
      socket.end(Buffer.concat([head, body.subarray(0, fault.afterBytes)]))
      return
    case 'reset':
    case 'rst-stream':
      resetAfterWrite(fault.afterBytes === undefined ? Buffer.alloc(0) : Buffer.concat([head, body.subarray(0, fault.afterBytes)]))
      return
    case 'stall':
      if (fault.afterBytes !== undefined) socket.write(Buffer.concat([head, body.subarray(0, fault.afterBytes)]))
      return
    case 'delay-head':
      context.setTimer(() => {
        socket.write(Buffer.concat([head, full()]))
        finish()
      }, fault.delayMs)
      return
    case 'drip': {
      const bytes = full()
      socket.write(head)
      let at = 0
      const step = Math.max(1, fault.chunkSize)
      const tick = (): void => {
        if (socket.destroyed) return
        socket.write(bytes.subarray(at, at + step))
        at += step
        if (at < bytes.length) context.setTimer(tick, fault.intervalMs)
        else finish()
      }
      if (bytes.length === 0) finish()
      else context.setTimer(tick, fault.intervalMs)
      return
    }
  }
}
