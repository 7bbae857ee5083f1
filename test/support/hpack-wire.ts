/**
 * Test-side HPACK wire helpers, written from RFC 7541 independently of src/h2 so that tests
 * can build blocks our encoder would never emit.
 */

/** RFC 7541 §5.1 integer with an `n`-bit prefix, first octet OR-ed with `pattern`. */
export function integer(value: number, prefixBits: number, pattern: number): number[] {
  const max = (1 << prefixBits) - 1
  if (value < max) return [pattern | value]
  const out = [pattern | max]
  let rest = value - max
  while (rest >= 128) {
    out.push((rest & 0x7f) | 0x80)
    rest = Math.floor(rest / 128)
  }
  out.push(rest)
  return out
}
