/**
 * Cache keys and Vary matching (RFC 9111 §2, §4.1), pure. The primary key is the target URI
 * (a private cache keys on it alone; the method is always GET here). A stored response whose
 * `Vary` names request fields also remembers those fields' values; it is reused only for a
 * request whose values normalise to the same (§4.1), and `Vary: *` matches nothing.
 */
import type { HeaderRecord } from '../../dispatch.js'

/** The primary cache key: scheme, host, port (the URL's normalised origin), path and query; no fragment. */
export function primaryKey(url: URL): string {
  return `${url.origin}${url.pathname}${url.search}`
}

/** The field names a response's Vary lists (lowercase, deduplicated, sorted), or '*' (§4.1: never matches). */
export function varyNames(headers: HeaderRecord): string[] | '*' {
  const field = headers['vary']
  if (field === undefined) return []
  const names = new Set<string>()
  for (const line of typeof field === 'string' ? [field] : field) {
    for (const raw of line.split(',')) {
      const name = raw.trim().toLowerCase()
      if (name === '') continue
      if (name === '*') return '*'
      names.add(name)
    }
  }
  return [...names].sort()
}

/**
 * §4.1: a request field's value for matching: every line combined (RFC 9110 §5.3) and
 * whitespace around list separators removed, so `Foo: 1, 2` matches `Foo: 1` + `Foo: 2`
 * and `Foo: 1,2`. `null` when the request does not carry the field (which matches only
 * another absent one).
 */
export function normalisedField(entries: ReadonlyArray<readonly [string, string]>, name: string): string | null {
  let parts: string[] | undefined
  for (const [n, v] of entries) {
    if (n !== name) continue
    ;(parts ??= []).push(...v.split(',').map((s) => s.trim()))
  }
  return parts === undefined ? null : parts.join(',')
}

/**
 * The variant id of a request for a response that varies on `names`: the same string for two
 * requests exactly when §4.1 lets one's stored response answer the other. `''` without Vary.
 */
export function variantId(names: readonly string[], requestHeaders: ReadonlyArray<readonly [string, string]>): string {
  if (names.length === 0) return ''
  return JSON.stringify(names.map((name) => [name, normalisedField(requestHeaders, name)]))
}
