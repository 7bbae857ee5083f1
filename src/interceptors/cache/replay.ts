/**
 * Answer a request from the cache: drive a `DispatchHandler` through the calls a connection
 * would make (onConnect → onHeaders → onData* → onComplete), with the same contract — body
 * chunks stop while `onData` returns false until `resume()`, `abort()` (or the request's
 * `signal`) ends it with onError, and a throw from the handler fails the request.
 */
import type { ConnectionInfo, DispatchHandler, HeaderRecord, Protocol } from '../../dispatch.js'
import { AbortedError, toWirepoolError } from '../../errors.js'

/** Bytes handed over per onData call. */
const CHUNK = 64 * 1024

/**
 * The connection a cached answer reports: id 0 (no connection has that id: real ones count
 * from 1), never reused, no address. `protocol` is the one the stored response came over.
 */
export function cacheConnectionInfo(protocol: Protocol): ConnectionInfo {
  return { id: 0, reused: false, tlsResumed: null, remoteAddress: undefined, remotePort: undefined, protocol }
}

export interface ReplayResponse {
  status: number
  statusText: string
  headers: HeaderRecord
  body: Uint8Array
  protocol: Protocol
}

export interface ReplayOptions {
  signal?: AbortSignal | undefined
  /**
   * The handler already had its onConnect (a revalidation went out on a real connection):
   * instead of another, `setAbort` receives the function that aborts this answer, for the
   * abort the handler was given to reach it.
   */
  connected?: { setAbort(abort: (reason?: Error) => void): void }
}

type ReplayState = { kind: 'flowing' } | { kind: 'paused' } | { kind: 'done' }

/** Starts now and runs on its own; the handler hears everything, errors included. */
export function replay(handler: DispatchHandler, response: ReplayResponse, options: ReplayOptions = {}): void {
  let state: ReplayState = { kind: 'flowing' }
  let offset = 0
  let pumping = false
  const body = response.body
  const signal = options.signal

  const finish = (err?: unknown): void => {
    if (state.kind === 'done') return
    state = { kind: 'done' }
    signal?.removeEventListener('abort', onSignal)
    if (err === undefined) {
      try {
        handler.onComplete()
      } catch (thrown) {
        handler.onError(toWirepoolError(thrown))
      }
    } else {
      handler.onError(toWirepoolError(err))
    }
  }
  const abort = (reason?: Error): void => finish(reason instanceof AbortedError ? reason : new AbortedError('request aborted', { cause: reason }))
  const onSignal = (): void => abort(signal?.reason instanceof Error ? signal.reason : undefined)

  const pump = (): void => {
    if (pumping) return
    pumping = true
    try {
      while (state.kind === 'flowing' && offset < body.byteLength) {
        const end = Math.min(body.byteLength, offset + CHUNK)
        // A copy: the caller may keep or transfer the chunk; the stored bytes stay intact.
        const chunk = Buffer.from(body.subarray(offset, end))
        offset = end
        if (handler.onData(chunk) === false && state.kind === 'flowing') state = { kind: 'paused' }
      }
      if (state.kind === 'flowing' && offset >= body.byteLength) finish()
    } catch (err) {
      finish(err)
    } finally {
      pumping = false
    }
  }
  const resume = (): void => {
    if (state.kind !== 'paused') return
    state = { kind: 'flowing' }
    // Not inside the caller's resume(): the next onData would otherwise run re-entrantly.
    queueMicrotask(pump)
  }

  if (signal?.aborted === true) {
    if (options.connected === undefined) {
      try {
        handler.onConnect?.(abort, cacheConnectionInfo(response.protocol))
      } catch {
        // aborted anyway
      }
    }
    onSignal()
    return
  }
  signal?.addEventListener('abort', onSignal, { once: true })
  try {
    if (options.connected !== undefined) options.connected.setAbort(abort)
    else handler.onConnect?.(abort, cacheConnectionInfo(response.protocol))
    if (state.kind !== 'flowing') return
    const go = handler.onHeaders(response.status, response.headers, resume, response.statusText)
    if ((state as ReplayState).kind === 'done') return
    if (go === false && state.kind === 'flowing') state = { kind: 'paused' }
  } catch (err) {
    finish(err)
    return
  }
  pump()
}
