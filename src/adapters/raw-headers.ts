/**
 * undici's handler API speaks header lists as flat `[name, value, name, value, …]` arrays of
 * latin1 Buffers (what llhttp hands it). wirepool's handler gets a record with lowercase names;
 * this turns one into the other. A repeated field becomes repeated pairs rather than one pair
 * with an array value: both undici parsers (`parseHeaders`, fetch's HeadersList) accept that,
 * and it is the wire's own shape (RFC 9110 §5.3).
 */
import type { HeaderRecord } from '../dispatch.js'

export function recordToRawHeaders(record: HeaderRecord): Buffer[] {
  const raw: Buffer[] = []
  for (const name of Object.keys(record)) {
    const value = record[name] as string | string[]
    // Field values are octets; latin1 keeps every byte as it was received (RFC 9110 §5.5).
    const nameBytes = Buffer.from(name, 'latin1')
    if (typeof value === 'string') {
      raw.push(nameBytes, Buffer.from(value, 'latin1'))
    } else {
      for (const v of value) raw.push(nameBytes, Buffer.from(v, 'latin1'))
    }
  }
  return raw
}
