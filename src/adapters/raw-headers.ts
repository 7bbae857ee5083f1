/**
 * undici's handler API speaks header lists as flat `[name, value, name, value, …]` arrays of
 * latin1 Buffers (what llhttp hands it). wirepool's handler gets a record with lowercase
 * names and, from HTTP/1.1 connections, the same fields as the wire list of latin1 strings
 * (`DispatchHandler.onHeaders`' `rawHeaders`); this turns either into undici's form.
 *
 * Every list is encoded with one native call: the strings are joined, written once, and
 * each field becomes a view of that one Buffer. A Buffer per field would cost an allocation
 * and a trip into C++ each, which for a small response is a noticeable share of the
 * request. The views are fresh for every list and share memory with nothing else, as
 * llhttp's slices of a socket chunk do.
 */
import type { HeaderRecord } from '../dispatch.js'

/**
 * Wire-order strings → Buffers. Field names and values are octets decoded as latin1 (RFC
 * 9110 §5.5), so each UTF-16 unit is one byte again and a string's length is its byte length.
 */
export function rawHeadersToBuffers(raw: readonly string[]): Buffer[] {
  const count = raw.length
  let joined = ''
  for (let i = 0; i < count; i++) joined += raw[i] as string
  const bytes = Buffer.from(joined, 'latin1')
  const out = new Array<Buffer>(count)
  let at = 0
  for (let i = 0; i < count; i++) {
    const end = at + (raw[i] as string).length
    out[i] = bytes.subarray(at, end)
    at = end
  }
  return out
}

/**
 * Record → Buffers. A repeated field becomes repeated pairs rather than one pair with an
 * array value: both undici parsers (`parseHeaders`, fetch's HeadersList) accept that, and it
 * is the wire's own shape (RFC 9110 §5.3).
 */
export function recordToRawHeaders(record: HeaderRecord): Buffer[] {
  const flat: string[] = []
  for (const name of Object.keys(record)) {
    const value = record[name] as string | string[]
    if (typeof value === 'string') {
      flat.push(name, value)
    } else {
      for (const v of value) flat.push(name, v)
    }
  }
  return flat.length === 0 ? [] : rawHeadersToBuffers(flat)
}
