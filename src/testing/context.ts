/**
 * What the protocol servers (h1.ts, h2.ts, ws.ts) share with the test server: the connection
 * record, routing, recording, and timers that `close()` clears.
 */
import type { Socket } from 'node:net'
import type { RecordedRequest, RouteResponse } from './types.js'

export interface TestConnection {
  id: number
  /** The TCP socket: what a RST or a FIN is done on, under TLS too. */
  raw: Socket
  /** Requests that reached this connection. */
  served: number
}

export interface ServerContext {
  /** Record the request, run its route (404 when none), and return the answer. */
  answer(request: RecordedRequest): Promise<RouteResponse>
  /** Is a route registered for this upgrade request, or are upgrades on by default? */
  acceptsWebSocket(request: RecordedRequest, answer: RouteResponse): boolean
  /** A timer cleared by `server.close()`. */
  setTimer(fn: () => void, ms: number): NodeJS.Timeout
  clearTimer(timer: NodeJS.Timeout): void
}

export const STATUS_TEXT: Readonly<Record<number, string>> = {
  101: 'Switching Protocols',
  200: 'OK',
  201: 'Created',
  204: 'No Content',
  301: 'Moved Permanently',
  302: 'Found',
  304: 'Not Modified',
  400: 'Bad Request',
  404: 'Not Found',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
}

export function bodyBytes(body: RouteResponse['body']): Buffer {
  if (body === undefined) return Buffer.alloc(0)
  if (typeof body === 'string') return Buffer.from(body, 'utf8')
  return Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength)
}

/** Add a field to a lowercase record, making an array on repetition. */
export function addField(record: Record<string, string | string[]>, name: string, value: string): void {
  const key = name.toLowerCase()
  const prior = record[key]
  if (prior === undefined) record[key] = value
  else if (Array.isArray(prior)) prior.push(value)
  else record[key] = [prior, value]
}
