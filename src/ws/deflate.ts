/**
 * permessage-deflate (RFC 7692) on node:zlib: one raw-deflate stream per direction.
 *
 * §7.2.1: a message is compressed with DEFLATE ending in an empty stored block from a sync
 * flush, whose 4 bytes 00 00 ff ff are removed before sending; §7.2.2: the receiver appends
 * them again before inflating. With context takeover (the default) the LZ77 window carries
 * over between messages, so each direction is one long-lived zlib stream; a
 * *_no_context_takeover parameter resets it after every message (§7.1.1).
 *
 * zlib runs on the thread pool and calls back later, so each direction is a FIFO: one job
 * at a time, results handed back in submission order. The message order on the wire and to
 * the application is the order of `compress` / `decompress` calls.
 */
import * as zlib from 'node:zlib'
import { WsProtocolError } from '../errors.js'
import { CloseCode } from './frame.js'
import type { DeflateParams } from './handshake.js'

/** §7.2.1: the tail of a sync flush, stripped on send and appended on receive. */
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff])

export type DeflateCallback = (err: Error | null, result: Buffer) => void

interface Job {
  input: readonly Uint8Array[]
  callback: DeflateCallback
}

const EMPTY = Buffer.alloc(0)

export interface PerMessageDeflateCodecOptions {
  /** Max bytes of one inflated message: more fails the message with 1009 (RFC 6455 §7.4.1). */
  maxPayload: number
  /** zlib level for outgoing messages. */
  level?: number | undefined
}

export class PerMessageDeflate {
  readonly params: DeflateParams
  readonly #maxPayload: number
  readonly #level: number | undefined
  #deflate: zlib.DeflateRaw | undefined
  #inflate: zlib.InflateRaw | undefined
  readonly #deflateQueue: Job[] = []
  readonly #inflateQueue: Job[] = []
  #deflateBusy = false
  #inflateBusy = false
  #closed = false

  constructor(params: DeflateParams, options: PerMessageDeflateCodecOptions) {
    this.params = params
    this.#maxPayload = options.maxPayload
    this.#level = options.level
  }

  /** Compress one whole message; the callback gets the payload to send with RSV1 set. */
  compress(data: Uint8Array, callback: DeflateCallback): void {
    if (this.#closed) return
    this.#deflateQueue.push({ input: [data], callback })
    if (!this.#deflateBusy) this.#nextDeflate()
  }

  /**
   * Inflate one whole message, given as the pieces it arrived in. Fails with a
   * WsProtocolError: 1009 when the output would pass maxPayload (checked while inflating,
   * so a "zip bomb" is stopped early), 1007 when the data is not valid DEFLATE.
   */
  decompress(pieces: readonly Uint8Array[], callback: DeflateCallback): void {
    if (this.#closed) return
    this.#inflateQueue.push({ input: pieces, callback })
    if (!this.#inflateBusy) this.#nextInflate()
  }

  /** Release both zlib streams; pending jobs are dropped without a callback. */
  close(): void {
    this.#closed = true
    this.#deflateQueue.length = 0
    this.#inflateQueue.length = 0
    this.#deflate?.close()
    this.#inflate?.close()
    this.#deflate = undefined
    this.#inflate = undefined
  }

  #nextDeflate(): void {
    const job = this.#deflateQueue.shift()
    if (job === undefined || this.#closed) {
      this.#deflateBusy = false
      return
    }
    this.#deflateBusy = true
    const deflate = (this.#deflate ??= quiet(zlib.createDeflateRaw({
      // §7.1.2.2: our compressor stays within the window the server allowed.
      windowBits: this.params.clientMaxWindowBits,
      ...(this.#level === undefined ? {} : { level: this.#level }),
    })))
    const chunks: Buffer[] = []
    let length = 0
    let done = false
    const finish = (err: Error | null): void => {
      if (done) return
      done = true
      deflate.off('data', onData)
      deflate.off('error', finish)
      let out: Buffer = EMPTY
      if (err !== null) {
        // zlib fails only on resource exhaustion; the stream is unusable after it.
        deflate.close()
        if (this.#deflate === deflate) this.#deflate = undefined
      } else {
        out = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, length)
        // §7.2.1 step 3: remove the 4-octet tail of the empty stored block.
        if (out.length >= 4 && out.subarray(out.length - 4).equals(TAIL)) out = out.subarray(0, out.length - 4)
        // §7.1.1.2: without context takeover the next message starts from an empty window.
        if (this.params.clientNoContextTakeover) deflate.reset()
      }
      if (this.#closed) return
      const callback = job.callback
      this.#nextDeflate()
      callback(err, out)
    }
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk)
      length += chunk.length
    }
    deflate.on('data', onData)
    deflate.on('error', finish)
    for (const piece of job.input) deflate.write(piece)
    deflate.flush(zlib.constants.Z_SYNC_FLUSH, () => finish(null))
  }

  #nextInflate(): void {
    const job = this.#inflateQueue.shift()
    if (job === undefined || this.#closed) {
      this.#inflateBusy = false
      return
    }
    this.#inflateBusy = true
    // Any window up to 15 bits inflates data compressed with a smaller one (§7.1.2.1), so
    // server_max_window_bits needs no setting here.
    const inflate = (this.#inflate ??= quiet(zlib.createInflateRaw({ windowBits: 15 })))
    const chunks: Buffer[] = []
    let length = 0
    let done = false
    const finish = (err: Error | null): void => {
      if (done) return
      done = true
      inflate.off('data', onData)
      inflate.off('error', onError)
      if (err !== null) {
        // The stream is mid-message or broken: never reuse it. The connection fails anyway.
        inflate.close()
        if (this.#inflate === inflate) this.#inflate = undefined
      } else if (this.params.serverNoContextTakeover) {
        inflate.reset()
      }
      if (this.#closed) return
      const callback = job.callback
      const result = err === null ? (chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, length)) : EMPTY
      this.#nextInflate()
      callback(err, result)
    }
    const onData = (chunk: Buffer): void => {
      length += chunk.length
      if (length > this.#maxPayload) {
        finish(new WsProtocolError(CloseCode.MESSAGE_TOO_BIG, `inflated message exceeds maxPayload (${this.#maxPayload} bytes)`))
        return
      }
      chunks.push(chunk)
    }
    const onError = (err: Error): void => {
      finish(new WsProtocolError(CloseCode.INVALID_PAYLOAD, `invalid permessage-deflate data: ${err.message}`, { cause: err }))
    }
    inflate.on('data', onData)
    inflate.on('error', onError)
    for (const piece of job.input) inflate.write(piece)
    inflate.write(TAIL)
    inflate.flush(() => finish(null))
  }
}

/**
 * A zlib stream closed mid-job (1009, teardown) may still emit an error for the work it
 * dropped; with no listener that would crash the process. Each job reports its own errors
 * through its own listener; this one only keeps a late one from escaping.
 */
function quiet<S extends zlib.DeflateRaw | zlib.InflateRaw>(stream: S): S {
  stream.on('error', () => {})
  return stream
}
