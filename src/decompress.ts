/**
 * Response body decoding for `request()` (the `decompress` option): the content codings of
 * RFC 9110 §8.4.1 that node:zlib implements, decoded as the body streams.
 */
import { pipeline, Transform, type Duplex, type TransformCallback } from 'node:stream'
import zlib from 'node:zlib'

/** What `request()` advertises when decompression is on (RFC 9110 §12.5.3). */
export const ACCEPT_ENCODING = 'gzip, deflate, br'

/**
 * RFC 9110 §8.4.1.2 defines "deflate" as the zlib format (RFC 1950), but servers have long
 * sent raw deflate (RFC 1951) under that name; the first byte tells them apart: a zlib
 * stream starts with a CMF byte whose low nibble is 8 (the deflate method).
 */
class InflateEither extends Transform {
  #inner: zlib.Inflate | zlib.InflateRaw | undefined

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.#inner === undefined) {
      const inner = ((chunk[0] as number) & 0x0f) === 0x08 ? zlib.createInflate() : zlib.createInflateRaw()
      inner.on('data', (out: Buffer) => this.push(out))
      inner.on('error', (err) => this.destroy(err))
      this.#inner = inner
    }
    this.#inner.write(chunk, callback)
  }

  override _flush(callback: TransformCallback): void {
    const inner = this.#inner
    if (inner === undefined) return callback()
    inner.once('end', () => callback())
    inner.end()
  }
}

function decoderFor(coding: string): Duplex | null | undefined {
  switch (coding) {
    case 'gzip':
    case 'x-gzip':
      // Servers sometimes close a gzip member without its trailer; be as lenient as curl.
      return zlib.createGunzip({ finishFlush: zlib.constants.Z_SYNC_FLUSH, flush: zlib.constants.Z_SYNC_FLUSH })
    case 'deflate':
      return new InflateEither()
    case 'br':
      return zlib.createBrotliDecompress({ finishFlush: zlib.constants.BROTLI_OPERATION_FLUSH })
    case 'identity':
    case '':
      return null
    default:
      return undefined
  }
}

export interface Decoder {
  /** Write compressed bytes here. */
  input: Duplex
  /** Read decoded bytes here. */
  output: Duplex
  /** The codings being undone, outermost first, for error messages. */
  codings: string
}

/**
 * A decoder for a `content-encoding` field, or null when there is nothing to decode or a
 * coding we do not know (the body is then delivered as sent, headers untouched).
 * Codings are listed in the order they were applied (RFC 9110 §8.4), so they are undone
 * from the last to the first.
 */
export function createDecoder(contentEncoding: string | string[] | undefined, onError: (err: Error) => void): Decoder | null {
  if (contentEncoding === undefined) return null
  const codings = (Array.isArray(contentEncoding) ? contentEncoding.join(',') : contentEncoding)
    .split(',')
    .map((c) => c.trim().toLowerCase())
  const stages: Duplex[] = []
  for (let i = codings.length - 1; i >= 0; i--) {
    const stage = decoderFor(codings[i] as string)
    if (stage === undefined) return null
    if (stage !== null) stages.push(stage)
  }
  if (stages.length === 0) return null
  const first = stages[0] as Duplex
  const last = stages[stages.length - 1] as Duplex
  if (stages.length === 1) {
    first.on('error', onError)
  } else {
    pipeline(stages as unknown as [Duplex, Duplex], (err) => {
      if (err) onError(err)
    })
  }
  return { input: first, output: last, codings: codings.join(', ') }
}
