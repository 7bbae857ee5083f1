/**
 * A minimal DER writer (ITU-T X.690 §8 with the DER restrictions of §10): just the types an
 * X.509 v3 certificate needs (RFC 5280 §4.1). Each function returns the complete
 * tag-length-value encoding, so a structure is written inside-out by nesting calls.
 */

/** Tag bytes (X.690 §8.1.2): universal class, plus the context-specific ones RFC 5280 uses. */
const Tag = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const

/** X.690 §8.1.3: short form below 128, else 0x80 | byte count, then the big-endian length. */
function encodeLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length])
  const bytes: number[] = []
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff)
  return Buffer.from([0x80 | bytes.length, ...bytes])
}

export function tlv(tag: number, content: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([tag]), encodeLength(content.length), content])
}

export function sequence(...items: Uint8Array[]): Buffer {
  return tlv(Tag.SEQUENCE, Buffer.concat(items))
}

export function set(...items: Uint8Array[]): Buffer {
  return tlv(Tag.SET, Buffer.concat(items))
}

export function boolean(value: boolean): Buffer {
  return tlv(Tag.BOOLEAN, Buffer.from([value ? 0xff : 0x00]))
}

/**
 * A non-negative INTEGER from its big-endian magnitude (X.690 §8.3: two's complement, minimal):
 * leading zero bytes are dropped, and one is added back when the top bit is set.
 */
export function unsignedInteger(magnitude: Uint8Array): Buffer {
  let start = 0
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++
  let body = Buffer.from(magnitude.subarray(start))
  if (body.length === 0) body = Buffer.from([0])
  if ((body[0] as number) & 0x80) body = Buffer.concat([Buffer.from([0]), body])
  return tlv(Tag.INTEGER, body)
}

export function smallInteger(value: number): Buffer {
  const bytes: number[] = []
  let n = value
  do {
    bytes.unshift(n & 0xff)
    n = Math.floor(n / 256)
  } while (n > 0)
  return unsignedInteger(Buffer.from(bytes))
}

/** X.690 §8.6: the first octet counts the unused bits of the last one. */
export function bitString(bytes: Uint8Array, unusedBits = 0): Buffer {
  return tlv(Tag.BIT_STRING, Buffer.concat([Buffer.from([unusedBits]), bytes]))
}

export function octetString(bytes: Uint8Array): Buffer {
  return tlv(Tag.OCTET_STRING, bytes)
}

export function utf8String(text: string): Buffer {
  return tlv(Tag.UTF8_STRING, Buffer.from(text, 'utf8'))
}

/** X.690 §8.19: the first two arcs fold into one subidentifier; each in base 128, high bit = more. */
export function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number)
  const [first = 0, second = 0, ...rest] = arcs
  const out: number[] = []
  for (const arc of [first * 40 + second, ...rest]) {
    const group: number[] = [arc & 0x7f]
    for (let n = Math.floor(arc / 128); n > 0; n = Math.floor(n / 128)) group.unshift((n & 0x7f) | 0x80)
    out.push(...group)
  }
  return tlv(Tag.OID, Buffer.from(out))
}

/**
 * RFC 5280 §4.1.2.5: UTCTime (YYMMDDHHMMSSZ) through 2049, GeneralizedTime
 * (YYYYMMDDHHMMSSZ) from 2050 on; seconds, no fractions, always Zulu.
 */
export function time(date: Date): Buffer {
  const iso = date.toISOString() // 2026-12-06T21:25:58.123Z
  const digits = iso.slice(0, 19).replace(/[-T:]/g, '') + 'Z'
  const year = date.getUTCFullYear()
  if (year >= 1950 && year < 2050) return tlv(Tag.UTC_TIME, Buffer.from(digits.slice(2), 'ascii'))
  return tlv(Tag.GENERALIZED_TIME, Buffer.from(digits, 'ascii'))
}

/** `[n] EXPLICIT`: a constructed context-specific tag wrapping a whole encoding. */
export function explicit(n: number, inner: Uint8Array): Buffer {
  return tlv(0xa0 | n, inner)
}

/** `[n] IMPLICIT` over a primitive type: the content with a context-specific tag. */
export function implicitPrimitive(n: number, content: Uint8Array): Buffer {
  return tlv(0x80 | n, content)
}
