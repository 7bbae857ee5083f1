/**
 * Reading and rewriting a request's `headers` option from inside an interceptor. The option
 * may be a record (values: string, number, string[]) or an iterable of pairs; interceptors
 * work on one flat form, lowercase names with their values as given, and hand that on (a
 * `HeadersInit` the core validates as usual, RFC 9110 §5.5).
 */
import type { HeadersInit } from '../request-options.js'

/** `[lowercase name, value]` for every field of a `headers` option, repeated fields apart. */
export function headerEntries(headers: HeadersInit | undefined): Array<[string, string]> {
  const out: Array<[string, string]> = []
  if (headers === undefined || headers === null) return out
  if (typeof (headers as Iterable<unknown>)[Symbol.iterator] === 'function') {
    for (const pair of headers as Iterable<readonly [string, string]>) out.push([String(pair[0]).toLowerCase(), String(pair[1])])
    return out
  }
  const record = headers as Record<string, string | number | readonly string[] | undefined>
  for (const name of Object.keys(record)) {
    const value = record[name]
    if (value === undefined) continue
    const lower = name.toLowerCase()
    if (typeof value === 'object') for (const v of value) out.push([lower, String(v)])
    else out.push([lower, String(value)])
  }
  return out
}

/** The first value of a field (name in lowercase), or undefined. */
export function headerValue(entries: ReadonlyArray<readonly [string, string]>, name: string): string | undefined {
  for (const [n, v] of entries) if (n === name) return v
  return undefined
}
