/**
 * Streaming UTF-8 validation for WebSocket text messages (sans-I/O).
 *
 * RFC 6455 §8.1: a text message whose payload is not valid UTF-8 fails the connection
 * (close code 1007). A message arrives in fragments and each fragment in socket chunks, and
 * a code point may be split anywhere, so the validator carries the state of an unfinished
 * sequence from one `push` to the next. It fails at the first byte that no valid message
 * could contain (Autobahn 6.4.x: "fail fast"), not at the end of the message.
 *
 * Well-formedness is that of Unicode 15 Table 3-7 / RFC 3629 §4: no overlong forms, no
 * surrogates (U+D800–U+DFFF), nothing above U+10FFFF. The byte-level automaton below is
 * the one the WHATWG Encoding Standard's UTF-8 decoder uses: a lead byte fixes how many
 * continuation bytes follow and narrows the range of the first of them, which rejects every
 * overlong, surrogate and out-of-range sequence at the earliest byte.
 */
import { isUtf8 } from 'node:buffer'

/**
 * Below this many bytes the JS automaton is cheaper than a call into the native validator
 * (`buffer.isUtf8`, simdutf); above it the native one wins by a wide margin.
 */
const NATIVE_MIN_BYTES = 64

/** A whole message in one buffer: the native validator. */
export function isValidUtf8(bytes: Uint8Array): boolean {
  return isUtf8(bytes)
}

export class Utf8Validator {
  /** Continuation bytes still expected by the sequence in progress (0 between code points). */
  #need = 0
  /** Inclusive range allowed for the next continuation byte (Table 3-7 narrows the first one). */
  #lower = 0x80
  #upper = 0xbf
  /** Bytes of the current message accepted so far. */
  #accepted = 0
  /** Message offset of the first invalid byte, or -1. */
  #errorOffset = -1

  /**
   * Offset, counted from the start of the message, of the first byte that made it invalid;
   * for a message that ended inside a sequence, the message length. -1 while valid.
   */
  get errorOffset(): number {
    return this.#errorOffset
  }

  /** False once an invalid byte was seen (or `end()` found an unfinished sequence), until `reset()`. */
  get valid(): boolean {
    return this.#errorOffset === -1
  }

  /**
   * Feed the next piece of the message. Returns false at the first invalid byte (and for
   * every later call until the validator is reset): the caller fails the connection then.
   */
  push(bytes: Uint8Array): boolean {
    if (this.#errorOffset !== -1) return false
    const length = bytes.length
    let i = this.#need === 0 ? 0 : this.#finishPending(bytes)
    if (i < 0) return false
    if (length - i >= NATIVE_MIN_BYTES) {
      const cut = completeEnd(bytes, i)
      if (!isUtf8(bytes.subarray(i, cut))) {
        // The native validator only says "no": rerun the automaton on this range to find
        // the exact byte (it is known to fail inside [i, cut)).
        this.#scan(bytes, i, cut)
        return false
      }
      this.#accepted += cut - i
      i = cut
    }
    return this.#scan(bytes, i, length)
  }

  /**
   * The message is complete. Returns whether it was valid UTF-8 as a whole: a sequence
   * left unfinished is invalid, with `errorOffset` the message length. Call `reset()`
   * before the next message.
   */
  end(): boolean {
    if (this.#errorOffset === -1 && this.#need !== 0) this.#errorOffset = this.#accepted
    return this.#errorOffset === -1
  }

  /** Start a new message. */
  reset(): void {
    this.#need = 0
    this.#lower = 0x80
    this.#upper = 0xbf
    this.#accepted = 0
    this.#errorOffset = -1
  }

  /** Consume the continuation bytes of a sequence begun in an earlier push. Returns the index after them, or -1. */
  #finishPending(bytes: Uint8Array): number {
    let i = 0
    while (this.#need !== 0 && i < bytes.length) {
      if (!this.#continuation(bytes[i] as number)) return -1
      i++
    }
    return i
  }

  /** Run the automaton over bytes[start, end). Returns false (with errorOffset set) at the first invalid byte. */
  #scan(bytes: Uint8Array, start: number, end: number): boolean {
    let i = start
    while (i < end) {
      const b = bytes[i] as number
      if (this.#need === 0) {
        if (b < 0x80) {
          // ASCII run: the common case in text protocols, one compare per byte.
          const run = i
          i++
          while (i < end && (bytes[i] as number) < 0x80) i++
          this.#accepted += i - run
          continue
        }
        if (!this.#lead(b)) return false
        this.#accepted++
      } else if (!this.#continuation(b)) {
        return false
      }
      i++
    }
    return true
  }

  /** A byte that must start a multi-byte sequence (Table 3-7, first column). */
  #lead(b: number): boolean {
    if (b >= 0xc2 && b <= 0xdf) {
      this.#need = 1
    } else if (b >= 0xe0 && b <= 0xef) {
      this.#need = 2
      // E0 A0..BF: below A0 would be an overlong 3-byte form; ED 80..9F: above 9F are surrogates.
      if (b === 0xe0) this.#lower = 0xa0
      else if (b === 0xed) this.#upper = 0x9f
    } else if (b >= 0xf0 && b <= 0xf4) {
      this.#need = 3
      // F0 90..BF: below 90 is an overlong 4-byte form; F4 80..8F: above 8F exceeds U+10FFFF.
      if (b === 0xf0) this.#lower = 0x90
      else if (b === 0xf4) this.#upper = 0x8f
    } else {
      // 80..BF without a lead, C0/C1 (always overlong), F5..FF (beyond U+10FFFF or not UTF-8).
      this.#errorOffset = this.#accepted
      return false
    }
    return true
  }

  #continuation(b: number): boolean {
    if (b < this.#lower || b > this.#upper) {
      this.#errorOffset = this.#accepted
      return false
    }
    this.#lower = 0x80
    this.#upper = 0xbf
    this.#need--
    this.#accepted++
    return true
  }
}

/**
 * The end of the longest prefix of bytes[start..] that does not stop inside a multi-byte
 * sequence: a lead byte within the last three bytes whose sequence would run past the end
 * is cut off (it goes to the automaton, which keeps its state for the next push).
 */
function completeEnd(bytes: Uint8Array, start: number): number {
  const end = bytes.length
  for (let back = 1; back <= 3 && end - back >= start; back++) {
    const b = bytes[end - back] as number
    if (b < 0x80) return end
    if (b >= 0xc0) {
      const size = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2
      return size > back ? end - back : end
    }
  }
  return end
}
