/**
 * Gathers one field block from a HEADERS frame and the CONTINUATION frames that follow it
 * (RFC 9113 §4.3, §6.10), bounding what a peer can make us hold before the block is decoded:
 * the number of CONTINUATION frames and the encoded size. A block over either bound cannot be
 * skipped (HPACK state would go out of step), so it is a connection error, ENHANCE_YOUR_CALM
 * (§10.5.1 and the CONTINUATION-flood advisories of 2024).
 *
 * The frame reader has already enforced the sequence (nothing but CONTINUATION on the same
 * stream until END_HEADERS). Sans-I/O.
 */
import { Flag, H2ErrorCode, h2Error } from './frame.js'

export class FieldBlockAssembler {
  readonly #maxBytes: number
  readonly #maxContinuations: number
  #flags = 0
  #parts: Uint8Array[] = []
  #bytes = 0

  constructor(maxBytes: number, maxContinuations: number) {
    this.#maxBytes = maxBytes
    this.#maxContinuations = maxContinuations
  }

  /** Flags of the HEADERS frame that opened the block being gathered (END_STREAM lives there). */
  get flags(): number {
    return this.#flags
  }

  /**
   * A HEADERS frame. Returns its fragment when it carries END_HEADERS (the whole block, no
   * copy), else null: CONTINUATION frames follow.
   */
  headers(streamId: number, flags: number, fragment: Uint8Array): Uint8Array | null {
    this.#check(streamId, fragment.byteLength)
    this.#flags = flags
    if ((flags & Flag.END_HEADERS) !== 0) return fragment
    this.#parts = [fragment]
    this.#bytes = fragment.byteLength
    return null
  }

  /** A CONTINUATION frame. Returns the complete block (one copy) at END_HEADERS, else null. */
  continuation(streamId: number, flags: number, fragment: Uint8Array): Uint8Array | null {
    this.#parts.push(fragment)
    this.#bytes += fragment.byteLength
    if (this.#parts.length > this.#maxContinuations + 1) {
      throw h2Error(H2ErrorCode.ENHANCE_YOUR_CALM, 0, `field block of stream ${streamId} spans more than ${this.#maxContinuations} CONTINUATION frames`)
    }
    this.#check(streamId, this.#bytes)
    if ((flags & Flag.END_HEADERS) === 0) return null
    const block = Buffer.concat(this.#parts, this.#bytes)
    this.#parts = []
    this.#bytes = 0
    return block
  }

  #check(streamId: number, bytes: number): void {
    if (bytes > this.#maxBytes) {
      throw h2Error(H2ErrorCode.ENHANCE_YOUR_CALM, 0, `field block of stream ${streamId} exceeds ${this.#maxBytes} octets before decoding`)
    }
  }
}
