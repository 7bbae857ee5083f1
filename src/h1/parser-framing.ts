/**
 * Pure interpretation of the three fields that decide HTTP/1.1 message framing and
 * connection persistence: Content-Length, Transfer-Encoding and Connection. They work on
 * the final (trimmed, unfolded) field values and never throw: the parser turns their
 * results into H1ParseError with the offset of the field.
 */

/** parseContentLength() result for a value that is not `1*DIGIT` (or a list of them). */
export const CL_INVALID = -1
/** parseContentLength() result for a value above Number.MAX_SAFE_INTEGER. */
export const CL_OVERFLOW = -2
/** parseContentLength() result for a list whose members differ. */
export const CL_MISMATCH = -3

const MAX_DIV_10 = Math.floor(Number.MAX_SAFE_INTEGER / 10)

/**
 * RFC 9110 §8.6: Content-Length = 1*DIGIT. A list of identical values (`42, 42`, as sent by
 * some proxies that merge duplicate fields) may be accepted as that one value; anything
 * else — signs, hex, empty members, differing members — is invalid. Numbers beyond
 * Number.MAX_SAFE_INTEGER cannot be counted exactly in a JS number and are refused
 * ("a recipient MUST anticipate potentially large decimal numerals and prevent parsing
 * errors due to integer conversion overflows", §8.6).
 */
export function parseContentLength(value: string): number {
  const len = value.length
  let result = -1
  let i = 0
  for (;;) {
    // one list member: OWS 1*DIGIT OWS
    while (i < len && (value.charCodeAt(i) === 0x20 || value.charCodeAt(i) === 0x09)) i++
    const start = i
    let n = 0
    for (; i < len; i++) {
      const d = value.charCodeAt(i) - 0x30
      if (d < 0 || d > 9) break
      // n * 10 + d must stay <= MAX_SAFE_INTEGER
      if (n > MAX_DIV_10 || (n === MAX_DIV_10 && d > Number.MAX_SAFE_INTEGER % 10)) return CL_OVERFLOW
      n = n * 10 + d
    }
    if (i === start) return CL_INVALID
    while (i < len && (value.charCodeAt(i) === 0x20 || value.charCodeAt(i) === 0x09)) i++
    if (result !== -1 && n !== result) return CL_MISMATCH
    result = n
    if (i === len) return result
    if (value.charCodeAt(i) !== 0x2c) return CL_INVALID
    i++
  }
}

/** What the Transfer-Encoding fields of one message say, accumulated field by field. */
export interface TransferCodings {
  /** The last coding seen so far is `chunked`. */
  chunkedLast: boolean
  /** How many times `chunked` appeared over all fields. */
  chunkedCount: number
}

/**
 * RFC 9112 §6.1: Transfer-Encoding = #transfer-coding, codings applied in order, so only
 * the final one says whether the body is chunked. Several fields combine as one list.
 * Empty list members are ignored (RFC 9110 §5.6.1). Coding names are case-insensitive.
 */
export function addTransferCodings(value: string, into: TransferCodings): void {
  // Fast path: the overwhelmingly common single `chunked`.
  if (value === 'chunked') {
    into.chunkedLast = true
    into.chunkedCount++
    return
  }
  const members = value.split(',')
  for (const raw of members) {
    const coding = trimOws(raw).toLowerCase()
    if (coding === '') continue
    const chunked = coding === 'chunked'
    into.chunkedLast = chunked
    if (chunked) into.chunkedCount++
  }
}

/**
 * Strip OWS (SP / HTAB, RFC 9110 §5.6.3) only. String#trim() would also strip U+00A0,
 * which is the obs-text byte 0xA0 here: `chunked\xA0` must not become `chunked`, or we
 * would frame a body differently from an intermediary that reads the bytes literally.
 */
function trimOws(s: string): string {
  let start = 0
  let end = s.length
  while (start < end && (s.charCodeAt(start) === 0x20 || s.charCodeAt(start) === 0x09)) start++
  while (end > start && (s.charCodeAt(end - 1) === 0x20 || s.charCodeAt(end - 1) === 0x09)) end--
  return start === 0 && end === s.length ? s : s.slice(start, end)
}

/** Connection option bits (RFC 9110 §7.6.1). */
export const CONN_CLOSE = 1
export const CONN_KEEP_ALIVE = 2
export const CONN_UPGRADE = 4

/** Connection = #connection-option; returns the CONN_* bits of the options we act upon. */
export function connectionOptions(value: string): number {
  switch (value) {
    case 'close':
      return CONN_CLOSE
    case 'keep-alive':
      return CONN_KEEP_ALIVE
    case 'upgrade':
    case 'Upgrade':
      return CONN_UPGRADE
  }
  let bits = 0
  for (const raw of value.split(',')) {
    const option = trimOws(raw).toLowerCase()
    if (option === 'close') bits |= CONN_CLOSE
    else if (option === 'keep-alive') bits |= CONN_KEEP_ALIVE
    else if (option === 'upgrade') bits |= CONN_UPGRADE
  }
  return bits
}
