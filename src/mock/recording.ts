/**
 * Record and replay: while recording, the exchanges a MockAgent passes to the network are
 * captured (the response as it came off the wire, before any decoding) and can be saved as
 * JSON; a saved file turns back into interceptors. Credential headers are redacted in what
 * is saved.
 */
import { readFile, writeFile } from 'node:fs/promises'
import type { DispatchHandler, HeaderRecord } from '../dispatch.js'
import type { WirepoolError } from '../errors.js'
import type { MockRequest } from './matchers.js'

/** Header names whose values never reach a recording file (lowercase). */
export const DEFAULT_REDACTED_HEADERS: readonly string[] = ['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-api-key', 'x-auth-token']
export const REDACTED = '[REDACTED]'

export interface RecordedExchange {
  request: { method: string; url: string; headers: HeaderRecord; body: string }
  response: {
    status: number
    statusText: string
    headers: HeaderRecord
    /** UTF-8 text, or base64 when `bodyEncoding` says so (binary or content-encoded bodies). */
    body: string
    bodyEncoding: 'utf8' | 'base64'
    trailers?: HeaderRecord
  }
}

export interface RecordingFile {
  version: 1
  exchanges: RecordedExchange[]
}

export function redactHeaders(headers: HeaderRecord, names: readonly string[]): HeaderRecord {
  const out: HeaderRecord = {}
  const redacted = new Set(names.map((n) => n.toLowerCase()))
  for (const [name, value] of Object.entries(headers)) {
    out[name] = redacted.has(name.toLowerCase()) ? (Array.isArray(value) ? value.map(() => REDACTED) : REDACTED) : value
  }
  return out
}

export function redactExchange(exchange: RecordedExchange, names: readonly string[]): RecordedExchange {
  return {
    request: { ...exchange.request, headers: redactHeaders(exchange.request.headers, names) },
    response: { ...exchange.response, headers: redactHeaders(exchange.response.headers, names) },
  }
}

/** A handler that passes everything on to `inner` and reports the whole exchange at its end. */
export function recordingHandler(request: MockRequest, inner: DispatchHandler, done: (exchange: RecordedExchange) => void): DispatchHandler {
  let status = 0
  let statusText = ''
  let headers: HeaderRecord = {}
  let trailers: HeaderRecord | undefined
  const chunks: Buffer[] = []
  const handler: DispatchHandler = {
    onHeaders(s, h, resume, text, raw) {
      status = s
      statusText = text
      headers = h
      return inner.onHeaders(s, h, resume, text, raw)
    },
    onData(chunk) {
      chunks.push(Buffer.from(chunk))
      return inner.onData(chunk)
    },
    onTrailers(t) {
      trailers = t
      inner.onTrailers?.(t)
    },
    onComplete() {
      const body = Buffer.concat(chunks)
      const text = body.toString('utf8')
      const binary = headers['content-encoding'] !== undefined || !Buffer.from(text, 'utf8').equals(body)
      done({
        request: { method: request.method, url: request.url, headers: request.headers, body: request.body },
        response: { status, statusText, headers, body: binary ? body.toString('base64') : text, bodyEncoding: binary ? 'base64' : 'utf8', ...(trailers === undefined ? {} : { trailers }) },
      })
      inner.onComplete()
    },
    onError(err: WirepoolError) {
      inner.onError(err)
    },
  }
  if (inner.onConnect !== undefined) handler.onConnect = inner.onConnect.bind(inner)
  if (inner.onInformational !== undefined) handler.onInformational = inner.onInformational.bind(inner)
  if (inner.onUpgrade !== undefined) handler.onUpgrade = inner.onUpgrade.bind(inner)
  return handler
}

export async function saveRecording(file: string, exchanges: readonly RecordedExchange[], redact: readonly string[]): Promise<void> {
  const data: RecordingFile = { version: 1, exchanges: exchanges.map((e) => redactExchange(e, redact)) }
  await writeFile(file, JSON.stringify(data, null, 2) + '\n')
}

export async function readRecording(file: string): Promise<RecordedExchange[]> {
  const data = JSON.parse(await readFile(file, 'utf8')) as Partial<RecordingFile>
  if (data.version !== 1 || !Array.isArray(data.exchanges)) throw new Error(`${file} is not a wirepool recording (version 1)`)
  return data.exchanges
}
