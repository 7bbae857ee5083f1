/**
 * Response header helpers shared by the protocol layers: the flattened wire list turned into
 * the record handlers receive, and the Keep-Alive hint a server gives about its idle timeout.
 */
import type { HeaderRecord } from '../dispatch.js'

/**
 * Lowercase spellings of the names servers send most, keyed by how they arrive. A hit skips
 * `toLowerCase()` (which allocates a new string whenever the name has any capital).
 */
const KNOWN_NAMES = new Map<string, string>()
for (const name of [
  'accept-ranges',
  'access-control-allow-origin',
  'age',
  'alt-svc',
  'cache-control',
  'connection',
  'content-encoding',
  'content-language',
  'content-length',
  'content-type',
  'date',
  'etag',
  'expires',
  'keep-alive',
  'last-modified',
  'link',
  'location',
  'server',
  'set-cookie',
  'strict-transport-security',
  'transfer-encoding',
  'upgrade',
  'vary',
  'via',
  'x-content-type-options',
  'x-frame-options',
  'x-powered-by',
]) {
  KNOWN_NAMES.set(name, name)
  // Title-Case as most servers write them ("Content-Type", "X-Powered-By").
  KNOWN_NAMES.set(name.replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase()), name)
}
// Spellings that Title-Case does not produce but servers do send.
KNOWN_NAMES.set('ETag', 'etag')
KNOWN_NAMES.set('WWW-Authenticate', 'www-authenticate')
KNOWN_NAMES.set('www-authenticate', 'www-authenticate')

/**
 * `[name, value, name, value, …]` → record with lowercase names (RFC 9110 §5.1: names are
 * case-insensitive). A repeated name becomes an array in arrival order (RFC 9110 §5.3 lets
 * a recipient combine them; we keep them apart so no comma inside a value gets confused
 * with a separator). `set-cookie` is always an array: it cannot be combined (RFC 6265 §3).
 */
export function rawHeadersToRecord(raw: readonly string[]): HeaderRecord {
  const record: HeaderRecord = {}
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const rawName = raw[i] as string
    const value = raw[i + 1] as string
    const name = KNOWN_NAMES.get(rawName) ?? rawName.toLowerCase()
    if (name === '__proto__') {
      addProtoField(record, value)
      continue
    }
    const existing = record[name]
    if (typeof existing === 'string') {
      record[name] = [existing, value]
    } else if (existing !== undefined && Array.isArray(existing)) {
      existing.push(value)
    } else {
      // New name (undefined), or one only inherited from Object.prototype ("toString",
      // "constructor"): the own property shadows it.
      record[name] = name === 'set-cookie' ? [value] : value
    }
  }
  return record
}

/**
 * A field named `__proto__`: on a plain object, reading it gives the prototype and assigning
 * it changes the prototype, so it is handled as an own property explicitly.
 */
function addProtoField(record: HeaderRecord, value: string): void {
  const existing = Object.hasOwn(record, '__proto__') ? (Object.getOwnPropertyDescriptor(record, '__proto__')?.value as string | string[]) : undefined
  const next = existing === undefined ? value : typeof existing === 'string' ? [existing, value] : [...existing, value]
  Object.defineProperty(record, '__proto__', { value: next, enumerable: true, writable: true, configurable: true })
}

/**
 * The idle timeout a server announces in `Keep-Alive: timeout=5, max=100` (RFC 2068
 * §19.7.1.1, kept by RFC 9112 §9.3 only as a hop-by-hop hint), in milliseconds; undefined
 * when there is no usable `timeout` parameter. Parameter names are case-insensitive and the
 * value may be quoted. Only the leading digits count, so `timeout=2s` reads as 2 s, which is
 * how servers that write a unit mean it.
 */
export function parseKeepAliveTimeout(value: string): number | undefined {
  for (const param of value.split(',')) {
    const eq = param.indexOf('=')
    if (eq === -1) continue
    if (param.slice(0, eq).trim().toLowerCase() !== 'timeout') continue
    let v = param.slice(eq + 1).trim()
    if (v.startsWith('"')) v = v.slice(1)
    const digits = /^[0-9]{1,9}/.exec(v)
    if (digits === null) return undefined
    return Number(digits[0]) * 1000
  }
  return undefined
}
