/**
 * Helpers for the H1Connection tests: a recording handler, request defaults, and a
 * connection on a fresh loopback socket closed by the test's teardown.
 */
import { once } from 'node:events'
import * as net from 'node:net'
import type { Duplex } from 'node:stream'
import type { ConnectionInfo, DispatchHandler, DispatchRequest, HeaderRecord } from '../../src/dispatch.js'
import type { WirepoolError } from '../../src/errors.js'
import { H1Connection, type H1ConnectionOptions } from '../../src/h1/connection.js'
import { watchConnection, type Watched } from '../support/lifecycle.js'
import { dispatchRequest } from '../support/requests.js'

interface Teardown {
  teardown(fn: () => unknown): void
}

export interface Recording {
  status: number | undefined
  statusText: string | undefined
  headers: HeaderRecord | undefined
  informational: Array<[number, HeaderRecord]>
  chunks: number
  bytes: number
  body: Buffer
  trailers: HeaderRecord | undefined
  error: WirepoolError | undefined
  info: ConnectionInfo | undefined
  upgrade: { status: number; headers: HeaderRecord; socket: Duplex; head: Buffer } | undefined
  /** Every callback in call order; a callback after a terminal one is recorded as `late:<name>`. */
  events: string[]
  abort: ((reason?: Error) => void) | undefined
  resume: (() => void) | undefined
}

export interface Collected {
  handler: DispatchHandler
  rec: Recording
  /** Resolves at the terminal callback (onComplete, onError or onUpgrade). */
  done: Promise<Recording>
}

export interface CollectOptions {
  onConnect?: (abort: (reason?: Error) => void, rec: Recording) => void
  onHeaders?: (rec: Recording) => boolean | void
  onData?: (chunk: Uint8Array, rec: Recording) => boolean | void
  onComplete?: (rec: Recording) => void
  /** Keep body bytes (default true); large transfers only count them. */
  keepBody?: boolean
  noUpgradeHandler?: boolean
}

export function collect(options: CollectOptions = {}): Collected {
  const keepBody = options.keepBody ?? true
  const parts: Buffer[] = []
  let terminal = false
  let resolveDone!: (rec: Recording) => void
  const done = new Promise<Recording>((resolve) => (resolveDone = resolve))
  const rec: Recording = {
    status: undefined,
    statusText: undefined,
    headers: undefined,
    informational: [],
    chunks: 0,
    bytes: 0,
    body: Buffer.alloc(0),
    trailers: undefined,
    error: undefined,
    info: undefined,
    upgrade: undefined,
    events: [],
    abort: undefined,
    resume: undefined,
  }
  const note = (name: string): void => {
    rec.events.push(terminal ? `late:${name}` : name)
  }
  const finish = (): void => {
    terminal = true
    rec.body = Buffer.concat(parts)
    resolveDone(rec)
  }
  const handler: DispatchHandler = {
    onConnect(abort, info) {
      note('connect')
      rec.abort = abort
      rec.info = info
      options.onConnect?.(abort, rec)
    },
    onInformational(status, headers) {
      note(`informational:${status}`)
      rec.informational.push([status, headers])
    },
    onHeaders(status, headers, resume, statusText) {
      note('headers')
      rec.status = status
      rec.headers = headers
      rec.statusText = statusText
      rec.resume = resume
      return options.onHeaders?.(rec)
    },
    onData(chunk) {
      if (terminal) note('data')
      rec.chunks++
      rec.bytes += chunk.byteLength
      if (keepBody) parts.push(Buffer.from(chunk))
      return options.onData?.(chunk, rec)
    },
    onTrailers(trailers) {
      note('trailers')
      rec.trailers = trailers
    },
    onComplete() {
      note('complete')
      finish()
      options.onComplete?.(rec)
    },
    onError(err) {
      note('error')
      rec.error = err
      finish()
    },
  }
  if (options.noUpgradeHandler !== true) {
    handler.onUpgrade = (status, headers, socket, head) => {
      note('upgrade')
      rec.upgrade = { status, headers, socket, head: Buffer.from(head) }
      finish()
    }
  }
  return { handler, rec, done }
}

/** A GET / with generous timeouts; override what the test is about. */
export function req(overrides: Partial<DispatchRequest> = {}): DispatchRequest {
  return dispatchRequest({ headersTimeout: 10_000, bodyTimeout: 10_000, ...overrides })
}

export interface Connected extends Watched {
  conn: H1Connection
  socket: net.Socket
}

export async function connect(t: Teardown, port: number, options: Partial<H1ConnectionOptions> = {}): Promise<Connected> {
  const socket = net.connect({ port, host: '127.0.0.1' })
  await once(socket, 'connect')
  const conn = new H1Connection(socket, {
    id: 1,
    origin: `http://127.0.0.1:${port}`,
    pipelining: 1,
    maxHeaderSize: 16 * 1024,
    maxHeaderCount: 128,
    tlsResumed: null,
    ...options,
  })
  return { conn, socket, ...watchConnection(t, conn, socket) }
}

/** Bytes from a raw server socket until `predicate(all bytes so far)` holds. */
export function readUntil(socket: net.Socket, predicate: (data: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = ''
    const onData = (chunk: Buffer): void => {
      data += chunk.toString('latin1')
      if (predicate(data)) {
        socket.off('data', onData)
        socket.off('close', onClose)
        resolve(data)
      }
    }
    const onClose = (): void => reject(new Error(`socket closed after ${JSON.stringify(data)}`))
    socket.on('data', onData)
    socket.on('close', onClose)
  })
}

/** A promise with its resolve function, for handing values out of server callbacks. */
export function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((r) => (resolve = r))
  return { promise, resolve }
}
