/**
 * Byte-class lookup tables for the HTTP/1.1 response parser. One array load per byte in
 * the hot loops, no branches on character ranges and no per-byte function calls.
 */

export const CR = 0x0d
export const LF = 0x0a
export const SP = 0x20
export const HTAB = 0x09
export const COLON = 0x3a
export const SEMICOLON = 0x3b
export const EQUALS = 0x3d
export const DQUOTE = 0x22
export const BACKSLASH = 0x5c
export const COMMA = 0x2c

function table(accept: (c: number) => boolean): Uint8Array {
  const t = new Uint8Array(256)
  for (let c = 0; c < 256; c++) t[c] = accept(c) ? 1 : 0
  return t
}

const isAlpha = (c: number): boolean => (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)
const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39

/** RFC 9110 §5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA */
export const TOKEN = table((c) => isAlpha(c) || isDigit(c) || "!#$%&'*+-.^_`|~".includes(String.fromCharCode(c)))

/**
 * RFC 9110 §5.5: field-vchar = VCHAR / obs-text, plus SP and HTAB inside a value.
 * Every other control byte is refused, not only the NUL/CR/LF that §5.5 makes mandatory:
 * a response carrying raw C0 controls or DEL in a field is broken or hostile, and llhttp
 * (strict mode, Node's default) rejects them the same way. The same set is the
 * reason-phrase alphabet (RFC 9112 §4: HTAB / SP / VCHAR / obs-text).
 */
export const FIELD_VALUE = table((c) => c === HTAB || (c >= 0x20 && c !== 0x7f))

/** RFC 9110 §5.6.4: qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text */
export const QDTEXT = table((c) => c === HTAB || c === SP || c === 0x21 || (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e) || c >= 0x80)

/** Hex digit value, or -1 (RFC 9112 §7.1: chunk-size = 1*HEXDIG). */
export const HEX: Int8Array = (() => {
  const t = new Int8Array(256).fill(-1)
  for (let c = 0x30; c <= 0x39; c++) t[c] = c - 0x30
  for (let c = 0x61; c <= 0x66; c++) t[c] = c - 0x61 + 10
  for (let c = 0x41; c <= 0x46; c++) t[c] = c - 0x41 + 10
  return t
})()
