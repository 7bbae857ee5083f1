/**
 * Outgoing request validation shared by HTTP/1.1 and HTTP/2: methods, header names, header
 * values and request-targets. Every check is a walk over a precomputed 256-entry table, so
 * validating a request costs one pass over its bytes and no regular expression.
 *
 * Strings are checked per UTF-16 code unit: anything above 0xFF is refused because the
 * HTTP/1.1 head is written as latin1, where U+010A would silently become "\n" (the
 * response-splitting trick of Node's test-http-response-splitting).
 */
import { InvalidArgumentError } from '../errors.js'

function table(allowed: (byte: number) => boolean): Uint8Array {
  const t = new Uint8Array(256)
  for (let b = 0; b < 256; b++) t[b] = allowed(b) ? 1 : 0
  return t
}

/**
 * RFC 9110 §5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
 * "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
 */
const TCHAR = table((b) => {
  if (b >= 0x30 && b <= 0x39) return true // DIGIT
  if ((b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a)) return true // ALPHA
  return "!#$%&'*+-.^_`|~".includes(String.fromCharCode(b))
})

/**
 * RFC 9110 §5.5: field-value = *field-content, built from VCHAR (0x21-0x7E), obs-text
 * (0x80-0xFF), SP and HTAB. NUL, CR and LF are forbidden outright ("MUST reject or replace");
 * the other CTLs and DEL are not field-content either, so we refuse them too.
 */
const FIELD_VALUE = table((b) => b === 0x09 || (b >= 0x20 && b !== 0x7f))

/**
 * RFC 9112 §3.2.1 origin-form = absolute-path [ "?" query ]. Only visible ASCII may go on
 * the wire: SP would end the request-target early (RFC 9112 §3), and non-ASCII bytes must be
 * percent-encoded by the caller (RFC 3986 §2.1), so we refuse rather than guess an encoding.
 */
const TARGET = table((b) => b > 0x20 && b < 0x7f)

/** Render a rejected value for an error message: quoted, escaped, bounded. */
function show(value: string): string {
  const shown = value.length > 64 ? `${value.slice(0, 64)}…` : value
  return JSON.stringify(shown)
}

/** True when every code unit of `s` is ≤ 0xFF and allowed by `t`. */
function allIn(t: Uint8Array, s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c > 0xff || t[c] === 0) return false
  }
  return true
}

/**
 * A method or header name must be a non-empty token (RFC 9110 §9.1, §5.1).
 * @param what names the thing in the error, e.g. `'method'` or `'header name'`.
 */
export function assertToken(value: string, what: string): void {
  if (value.length === 0 || !allIn(TCHAR, value)) {
    throw new InvalidArgumentError(`invalid ${what}: ${show(value)} is not an HTTP token (RFC 9110 §5.6.2)`)
  }
}

/** A header value must not carry CTLs (other than HTAB) or anything above 0xFF (RFC 9110 §5.5). */
export function assertFieldValue(name: string, value: string): void {
  if (!allIn(FIELD_VALUE, value)) {
    throw new InvalidArgumentError(
      `invalid value for header "${name}": ${show(value)} contains a control character or a character above U+00FF (RFC 9110 §5.5)`,
    )
  }
}

/** The request-target must be origin-form of visible ASCII (RFC 9112 §3.2.1). */
export function assertRequestTarget(path: string): void {
  if (path.charCodeAt(0) !== 0x2f /* '/' */) {
    throw new InvalidArgumentError(`invalid request path ${show(path)}: origin-form must start with "/" (RFC 9112 §3.2.1)`)
  }
  if (!allIn(TARGET, path)) {
    throw new InvalidArgumentError(
      `invalid request path ${show(path)}: spaces, control characters and non-ASCII must be percent-encoded (RFC 3986 §2.1)`,
    )
  }
}
