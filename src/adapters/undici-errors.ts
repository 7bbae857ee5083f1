/**
 * wirepool errors → the undici error classes undici's callers test for: `RetryHandler` retries
 * on `UND_ERR_SOCKET` and on `ECONNREFUSED`-style codes, `request()` users catch
 * `HeadersTimeoutError` / `BodyTimeoutError`, fetch turns anything into `TypeError('fetch
 * failed', { cause })`. The WirepoolError always stays reachable as `cause`. undici's classes
 * recognise instances by a `Symbol.for` brand, so these also pass `instanceof` in the undici
 * bundled with Node (v6).
 */
import { errors } from 'undici'
import { ErrorCode, WirepoolError, type TlsVerifyError } from '../errors.js'

function withCause<E extends Error>(err: E, cause: WirepoolError): E {
  // undici's constructors take no options bag, so `cause` is set the way `new Error(m, { cause })` would.
  Object.defineProperty(err, 'cause', { value: cause, writable: true, configurable: true, enumerable: false })
  return err
}

/** An Error shaped like Node's system error (`code`, and `errno`/`syscall` when known). */
function systemError(code: string, err: WirepoolError): Error {
  const out = new Error(err.message, { cause: err }) as Error & { code?: string; errno?: unknown; syscall?: unknown }
  out.code = code
  const sys = err.cause as { errno?: unknown; syscall?: unknown } | undefined
  if (sys !== undefined && sys !== null && typeof sys === 'object') {
    if (sys.errno !== undefined) out.errno = sys.errno
    if (sys.syscall !== undefined) out.syscall = sys.syscall
  }
  return out
}

function causeCode(err: WirepoolError): string | undefined {
  const code = (err.cause as { code?: unknown } | null | undefined)?.code
  return typeof code === 'string' ? code : undefined
}

export function toUndiciError(err: WirepoolError): Error {
  switch (err.code) {
    case ErrorCode.ABORTED: {
      // undici hands the caller's own abort reason back through onError (its Client does the
      // same): fetch and request() compare it with signal.reason.
      // The pool wraps a signal's abort once more (pool → connection): unwrap to the reason.
      let reason = err.cause
      while (reason instanceof WirepoolError && reason.code === ErrorCode.ABORTED && reason.cause !== undefined) reason = reason.cause
      if (reason instanceof Error && !(reason instanceof WirepoolError)) return reason
      return withCause(new errors.RequestAbortedError(err.message), err)
    }
    case ErrorCode.HEADERS_TIMEOUT:
      return withCause(new errors.HeadersTimeoutError(err.message), err)
    case ErrorCode.BODY_TIMEOUT:
      return withCause(new errors.BodyTimeoutError(err.message), err)
    case ErrorCode.CONNECT_TIMEOUT:
      return withCause(new errors.ConnectTimeoutError(err.message), err)
    case ErrorCode.CONNECT_REFUSED:
      // undici surfaces the socket's own error here; retry logic matches on its code.
      return systemError(causeCode(err) ?? 'ECONNREFUSED', err)
    case ErrorCode.TLS_VERIFY:
      return systemError((err as TlsVerifyError).reason, err)
    case ErrorCode.SOCKET_CLOSED:
    case ErrorCode.H2_STREAM_RESET:
    case ErrorCode.H2_GOAWAY:
      return withCause(new errors.SocketError(err.message), err)
    case ErrorCode.H1_PARSE:
      return withCause(new errors.HTTPParserError(err.message), err)
    case ErrorCode.INVALID_ARG:
      return withCause(new errors.InvalidArgumentError(err.message), err)
    case ErrorCode.POOL_CLOSED:
      return withCause(new errors.ClientDestroyedError(err.message), err)
    default:
      // No undici counterpart (pin mismatch, h2 protocol, decompression…): the error itself,
      // which is an Error with a stable `code` like undici's own.
      return err
  }
}
