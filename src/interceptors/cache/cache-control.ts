/**
 * `Cache-Control` parsing (RFC 9111 §5.2), pure. Directives are case-insensitive tokens with an
 * optional argument in token or quoted-string form; recipients accept both forms (§5.2), so
 * `max-age="5"` is 5 while `max-age` inside another directive's quoted string is not a
 * directive at all. Unknown directives are ignored (§5.2.3).
 */

/** A directive's argument: `true` when it has none. */
export type DirectiveValue = string | true

/** Directive name (lowercase) → its first occurrence's argument (§4.2.1: the first occurrence wins). */
export type Directives = ReadonlyMap<string, DirectiveValue>

/** RFC 9111 §1.2.2: a delta-seconds past what we can represent is taken as 2^31. */
export const DELTA_SECONDS_MAX = 2147483648

/** All field lines of the header (a repeated field is one list, RFC 9110 §5.3). */
export function parseCacheControl(value: string | readonly string[] | undefined): Directives {
  const out = new Map<string, DirectiveValue>()
  if (value === undefined) return out
  const lines = typeof value === 'string' ? [value] : value
  for (const line of lines) parseLine(line, out)
  return out
}

function parseLine(line: string, out: Map<string, DirectiveValue>): void {
  let i = 0
  const n = line.length
  while (i < n) {
    // skip OWS and empty list elements (RFC 9110 §5.6.1)
    while (i < n && (line[i] === ' ' || line[i] === '\t' || line[i] === ',')) i++
    if (i >= n) break
    let nameEnd = i
    while (nameEnd < n && isTokenChar(line.charCodeAt(nameEnd))) nameEnd++
    const name = line.slice(i, nameEnd).toLowerCase()
    i = nameEnd
    let value: DirectiveValue = true
    let valid = name.length > 0
    if (i < n && line[i] === '=') {
      i++
      if (line[i] === '"') {
        // quoted-string with quoted-pair (RFC 9110 §5.6.4)
        i++
        let text = ''
        let closed = false
        while (i < n) {
          const c = line[i] as string
          if (c === '\\' && i + 1 < n) {
            text += line[i + 1]
            i += 2
            continue
          }
          i++
          if (c === '"') {
            closed = true
            break
          }
          text += c
        }
        value = text
        if (!closed) valid = false
      } else {
        let end = i
        while (end < n && isTokenChar(line.charCodeAt(end))) end++
        value = line.slice(i, end)
        i = end
      }
    }
    // Whatever follows up to the next comma makes the element malformed (`max-age =5`,
    // `max-age= 5`, `max-age='5'` leave junk here): such a directive is not understood.
    let junk = false
    while (i < n && line[i] !== ',') {
      if (line[i] !== ' ' && line[i] !== '\t') junk = true
      i++
    }
    if (junk) valid = false
    if (!valid) {
      // Remember the name so a malformed freshness directive still makes the response stale
      // (§4.2.1 "invalid freshness information"), not fresh by some other directive.
      if (name.length > 0 && !out.has(name)) out.set(name, '\u0000invalid')
      continue
    }
    if (!out.has(name)) out.set(name, value)
  }
}

/** tchar (RFC 9110 §5.6.2) */
function isTokenChar(c: number): boolean {
  if (c >= 0x30 && c <= 0x39) return true // 0-9
  if ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a) return true // A-Z a-z
  return c === 0x21 || c === 0x23 || c === 0x24 || c === 0x25 || c === 0x26 || c === 0x27 || c === 0x2a || c === 0x2b || c === 0x2d || c === 0x2e || c === 0x5e || c === 0x5f || c === 0x60 || c === 0x7c || c === 0x7e
}

/**
 * A delta-seconds argument (§1.2.2: 1*DIGIT): the number, capped at 2^31; `null` when the
 * argument is missing or not digits (`3600.0`, `a100`, `'5'`): invalid.
 */
export function deltaSeconds(value: DirectiveValue | undefined): number | null {
  if (typeof value !== 'string' || value.length === 0 || !/^[0-9]+$/.test(value)) return null
  const n = Number(value)
  return n > DELTA_SECONDS_MAX ? DELTA_SECONDS_MAX : n
}

/** The response directives a private cache acts on (§5.2.2). */
export interface ResponseDirectives {
  /** max-age: seconds; 0 also when the argument is invalid (stale, §4.2.1); undefined when absent. */
  maxAge: number | undefined
  noStore: boolean
  /** Unqualified no-cache: never reused without validation (§5.2.2.4). */
  noCache: boolean
  /**
   * no-cache="field, …": only those fields need validation (§5.2.2.4), so they are not
   * stored at all and the rest of the response is reused as usual.
   */
  noCacheFields: readonly string[]
  mustRevalidate: boolean
  proxyRevalidate: boolean
  public: boolean
  private: boolean
  mustUnderstand: boolean
  /** s-maxage is present: ignored for freshness in a private cache, but it still marks an authenticated response as reusable (§3.5). */
  sMaxage: boolean
  immutable: boolean
  /** RFC 5861 §3 */
  staleWhileRevalidate: number | undefined
  /** RFC 5861 §4 */
  staleIfError: number | undefined
}

export function responseDirectives(value: string | readonly string[] | undefined): ResponseDirectives {
  const d = parseCacheControl(value)
  const maxAge = d.has('max-age') ? (deltaSeconds(d.get('max-age')) ?? 0) : undefined
  const noCache = d.get('no-cache')
  return {
    maxAge,
    noStore: d.has('no-store'),
    noCache: noCache === true || noCache === '\u0000invalid',
    noCacheFields: typeof noCache === 'string' && noCache !== '\u0000invalid' ? noCache.split(',').map((f) => f.trim().toLowerCase()).filter((f) => f !== '') : [],
    mustRevalidate: d.has('must-revalidate'),
    proxyRevalidate: d.has('proxy-revalidate'),
    public: d.has('public'),
    private: d.has('private'),
    mustUnderstand: d.has('must-understand'),
    sMaxage: d.has('s-maxage'),
    immutable: d.has('immutable'),
    staleWhileRevalidate: optionalDelta(d, 'stale-while-revalidate'),
    staleIfError: optionalDelta(d, 'stale-if-error'),
  }
}

/** The request directives (§5.2.1). */
export interface RequestDirectives {
  maxAge: number | undefined
  /** max-stale: seconds, or Infinity when given without an argument (any staleness). */
  maxStale: number | undefined
  minFresh: number | undefined
  noCache: boolean
  noStore: boolean
  onlyIfCached: boolean
  staleIfError: number | undefined
}

export function requestDirectives(value: string | readonly string[] | undefined, pragma?: string | readonly string[]): RequestDirectives {
  const d = parseCacheControl(value)
  let noCache = d.has('no-cache')
  // RFC 9111 §5.4: Pragma is deprecated; a cache may still honour `Pragma: no-cache` of a
  // request that carries no Cache-Control (HTTP/1.0 clients), as RFC 7234 §5.4 required.
  if (!noCache && value === undefined && pragma !== undefined) noCache = parseCacheControl(pragma).has('no-cache')
  let maxStale: number | undefined
  if (d.has('max-stale')) {
    const v = d.get('max-stale')
    maxStale = v === true ? Infinity : (deltaSeconds(v) ?? undefined)
  }
  return {
    maxAge: optionalDelta(d, 'max-age'),
    maxStale,
    minFresh: optionalDelta(d, 'min-fresh'),
    noCache,
    noStore: d.has('no-store'),
    onlyIfCached: d.has('only-if-cached'),
    staleIfError: optionalDelta(d, 'stale-if-error'),
  }
}

function optionalDelta(d: Directives, name: string): number | undefined {
  return d.has(name) ? (deltaSeconds(d.get(name)) ?? undefined) : undefined
}
