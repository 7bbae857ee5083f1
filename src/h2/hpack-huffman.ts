/**
 * The HPACK Huffman code (RFC 7541 §5.2, Appendix B) over latin1 strings: one char per octet.
 *
 * Decoding runs a finite automaton that consumes 4 bits per step (the approach of nghttp2's
 * `nghttp2_hd_huffman.c`, our own table): its states are the 256 internal nodes of the code
 * tree, built here at module load from the code table. No code is shorter than 5 bits, so one
 * 4-bit step completes at most one symbol, and a transition is a single table entry.
 *
 * Invalid input is reported by throwing a `RangeError` (the caller, hpack.ts, maps it to
 * COMPRESSION_ERROR and keeps it as the cause).
 */
import { HUFFMAN_CODES, HUFFMAN_EOS, HUFFMAN_LENGTHS } from './hpack-tables.js'

// ---- decoding automaton ----------------------------------------------------------------------

/** Transition entry layout: bits 0-7 next state, bit 8 a symbol is emitted, bits 9-16 the symbol. */
const EMITS = 0x100
const SYMBOL_SHIFT = 9
/** The step decoded the EOS symbol: RFC 7541 §5.2 "MUST be treated as a decoding error". */
const FAILS = 0x20000

/** `TRANSITIONS[state << 4 | nibble]`, for the 256 states × 16 nibbles. */
const TRANSITIONS = new Uint32Array(256 * 16)
/**
 * States in which a string may end (RFC 7541 §5.2): the root, or a node reached from the root by
 * at most 7 one bits — padding is the most significant bits of EOS (all ones) and shorter than
 * 8 bits. Any other state means a truncated code, padding of zeros, or padding of 8+ bits.
 */
const ACCEPTS = new Uint8Array(256)

buildAutomaton()

function buildAutomaton(): void {
  // The code tree: node 0 is the root; a child is an internal node id (> 0) or a leaf stored as
  // -(symbol + 1). A complete prefix code with 257 leaves has exactly 256 internal nodes.
  const children = new Int16Array(256 * 2)
  let nodes = 1
  for (let symbol = 0; symbol <= HUFFMAN_EOS; symbol++) {
    const code = HUFFMAN_CODES[symbol]!
    let node = 0
    for (let bit = HUFFMAN_LENGTHS[symbol]! - 1; bit >= 0; bit--) {
      const slot = node * 2 + ((code >>> bit) & 1)
      if (bit === 0) children[slot] = -(symbol + 1)
      else {
        if (children[slot] === 0) children[slot] = nodes++
        node = children[slot]!
      }
    }
  }

  for (let state = 0; state < 256; state++) {
    for (let nibble = 0; nibble < 16; nibble++) {
      let node = state
      let entry = 0
      for (let bit = 3; bit >= 0; bit--) {
        const child = children[node * 2 + ((nibble >>> bit) & 1)]!
        if (child >= 0) {
          node = child
          continue
        }
        const symbol = -child - 1
        if (symbol === HUFFMAN_EOS) entry |= FAILS
        else entry |= EMITS | (symbol << SYMBOL_SHIFT)
        node = 0
      }
      TRANSITIONS[(state << 4) | nibble] = entry | node
    }
  }

  let node = 0
  for (let depth = 0; depth <= 7; depth++) {
    ACCEPTS[node] = 1
    node = children[node * 2 + 1]!
  }
}

/** Decoded octets land here before becoming a string; grown on demand, shared (decode is synchronous). */
let scratch = Buffer.allocUnsafe(256)

/**
 * Decode the Huffman-coded string in `src[start, end)` into a latin1 string. Throws a RangeError
 * when it contains EOS or ends in anything but 0-7 bits of EOS padding (RFC 7541 §5.2).
 */
export function huffmanDecode(src: Uint8Array, start: number, end: number): string {
  // Shortest code is 5 bits: at most 8/5 symbols per input octet.
  const most = Math.ceil(((end - start) * 8) / 5)
  if (most > scratch.length) scratch = Buffer.allocUnsafe(Math.max(most, scratch.length * 2))
  const out = scratch
  let n = 0
  let state = 0
  for (let i = start; i < end; i++) {
    const octet = src[i]!
    let entry = TRANSITIONS[(state << 4) | (octet >>> 4)]!
    if ((entry & EMITS) !== 0) out[n++] = entry >>> SYMBOL_SHIFT
    else if ((entry & FAILS) !== 0) throw new RangeError('Huffman string contains EOS (RFC 7541 §5.2)')
    entry = TRANSITIONS[((entry & 0xff) << 4) | (octet & 0x0f)]!
    if ((entry & EMITS) !== 0) out[n++] = entry >>> SYMBOL_SHIFT
    else if ((entry & FAILS) !== 0) throw new RangeError('Huffman string contains EOS (RFC 7541 §5.2)')
    state = entry & 0xff
  }
  if (ACCEPTS[state] === 0) throw new RangeError('Huffman padding is not 0-7 bits of EOS prefix (RFC 7541 §5.2)')
  return out.toString('latin1', 0, n)
}

// ---- encoding ----------------------------------------------------------------------------------

/** Octets `str` takes Huffman-coded, padding included (chars are taken modulo 256, as latin1). */
export function huffmanLength(str: string): number {
  let bits = 0
  for (let i = 0; i < str.length; i++) bits += HUFFMAN_LENGTHS[str.charCodeAt(i) & 0xff]!
  return (bits + 7) >>> 3
}

/**
 * Write `str` Huffman-coded into `out` at `at` (room for `huffmanLength(str)` octets must exist);
 * returns the position after it. The last octet is padded with the high bits of EOS, i.e. ones
 * (RFC 7541 §5.2).
 */
export function huffmanEncode(str: string, out: Uint8Array, at: number): number {
  // `bits` pending bits (< 8 between symbols) sit in the low end of `acc`. Codes of up to 24
  // bits are appended whole (7 + 24 < 32, so int32 arithmetic holds); longer ones in two parts.
  let acc = 0
  let bits = 0
  for (let i = 0; i < str.length; i++) {
    const symbol = str.charCodeAt(i) & 0xff
    const code = HUFFMAN_CODES[symbol]!
    const length = HUFFMAN_LENGTHS[symbol]!
    if (length > 24) {
      acc = (acc << (length - 16)) | (code >>> 16)
      bits += length - 16
      while (bits >= 8) {
        bits -= 8
        out[at++] = acc >>> bits
      }
      acc = ((acc & ((1 << bits) - 1)) << 16) | (code & 0xffff)
      bits += 16
    } else {
      acc = (acc << length) | code
      bits += length
    }
    while (bits >= 8) {
      bits -= 8
      out[at++] = acc >>> bits
    }
    acc &= (1 << bits) - 1
  }
  if (bits > 0) out[at++] = (acc << (8 - bits)) | (0xff >>> bits)
  return at
}
