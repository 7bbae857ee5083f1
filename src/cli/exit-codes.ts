/**
 * Exit codes of the `wirepool` command, chosen to match curl's where the meaning is the
 * same, so scripts written for curl keep working. Documented in `wirepool --help`.
 */
import { ErrorCode, WirepoolError } from '../errors.js'

export const ExitCode = {
  OK: 0,
  /** Anything not listed below. */
  FAILURE: 1,
  /** Bad flags or arguments (and options the engine refuses: WP_INVALID_ARG). */
  USAGE: 2,
  /** curl 6: could not resolve the host name (WP_DNS). */
  RESOLVE: 6,
  /** curl 7: could not connect (refused, unreachable, DNS failure). */
  CONNECT: 7,
  /** curl 8: the server's reply could not be parsed (WP_H1_PARSE, WP_H2_PROTOCOL). */
  PROTOCOL: 8,
  /** curl 16: an HTTP/2 stream was reset or the connection went away (RST_STREAM, GOAWAY). */
  HTTP2: 16,
  /** curl 18: the body arrived partially, the server closed first (WP_BODY_INCOMPLETE). */
  PARTIAL: 18,
  /** curl 22: HTTP status ≥ 400 with --fail. */
  HTTP_ERROR: 22,
  /** curl 23: writing the output failed. */
  WRITE: 23,
  /** curl 26: reading the request body (-d @file) failed. */
  READ: 26,
  /** curl 28: a connect, head, body or --max-time timeout. */
  TIMEOUT: 28,
  /** curl 35: the TLS handshake failed other than by verification (WP_TLS_HANDSHAKE). */
  TLS_HANDSHAKE: 35,
  /** curl 42: aborted (SIGINT, WP_ABORTED). */
  ABORTED: 42,
  /** curl 47: too many redirects, or a redirect loop (WP_TOO_MANY_REDIRECTS, WP_REDIRECT_LOOP). */
  TOO_MANY_REDIRECTS: 47,
  /** curl 56: the connection closed while receiving (WP_SOCKET_CLOSED). */
  RECV: 56,
  /** curl 60: the server certificate failed verification (WP_TLS_VERIFY). */
  TLS_VERIFY: 60,
  /** curl 61: a compressed body could not be decoded (WP_DECOMPRESS). */
  BAD_ENCODING: 61,
  /** curl 90: the server key matched none of the pins (WP_TLS_PIN_MISMATCH). */
  TLS_PIN: 90,
  /** curl 97: the proxy refused the route or our credentials (WP_PROXY_CONNECT, WP_PROXY_AUTH). */
  PROXY: 97,
} as const

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode]

/**
 * Keyed by code string rather than typed as Record<ErrorCode, …>: a code the engine adds
 * later falls back to FAILURE instead of breaking this table.
 */
const BY_ERROR_CODE: Readonly<Partial<Record<string, ExitCode>>> = {
  [ErrorCode.CONNECT_TIMEOUT]: ExitCode.TIMEOUT,
  [ErrorCode.CONNECT_REFUSED]: ExitCode.CONNECT,
  [ErrorCode.TLS_VERIFY]: ExitCode.TLS_VERIFY,
  [ErrorCode.TLS_PIN_MISMATCH]: ExitCode.TLS_PIN,
  [ErrorCode.HEADERS_TIMEOUT]: ExitCode.TIMEOUT,
  [ErrorCode.BODY_TIMEOUT]: ExitCode.TIMEOUT,
  [ErrorCode.ABORTED]: ExitCode.ABORTED,
  [ErrorCode.SOCKET_CLOSED]: ExitCode.RECV,
  [ErrorCode.H1_PARSE]: ExitCode.PROTOCOL,
  [ErrorCode.H2_PROTOCOL]: ExitCode.PROTOCOL,
  [ErrorCode.H2_STREAM_RESET]: ExitCode.HTTP2,
  [ErrorCode.H2_GOAWAY]: ExitCode.HTTP2,
  [ErrorCode.INVALID_ARG]: ExitCode.USAGE,
  [ErrorCode.POOL_CLOSED]: ExitCode.FAILURE,
  [ErrorCode.WS_PROTOCOL]: ExitCode.PROTOCOL,
  [ErrorCode.WS_HANDSHAKE]: ExitCode.PROTOCOL,
  // curl 61: the content encoding could not be decoded.
  WP_DECOMPRESS: ExitCode.BAD_ENCODING,
  [ErrorCode.PROXY_CONNECT]: ExitCode.PROXY,
  [ErrorCode.PROXY_AUTH]: ExitCode.PROXY,
  // curl 6: couldn't resolve host.
  WP_DNS: ExitCode.RESOLVE,
  WP_TLS_HANDSHAKE: ExitCode.TLS_HANDSHAKE,
  WP_BODY_INCOMPLETE: ExitCode.PARTIAL,
  // --max-time style: the per-request overall deadline.
  WP_REQUEST_TIMEOUT: ExitCode.TIMEOUT,
  // curl 47: "Maximum (N) redirects followed"; a loop is the same failure found sooner.
  [ErrorCode.TOO_MANY_REDIRECTS]: ExitCode.TOO_MANY_REDIRECTS,
  [ErrorCode.REDIRECT_LOOP]: ExitCode.TOO_MANY_REDIRECTS,
}

export function exitCodeFor(err: unknown): ExitCode {
  if (err instanceof WirepoolError) return exitCodeForCode(err.code)
  return ExitCode.FAILURE
}

/** By WirepoolError code string (what bench results carry across threads). */
export function exitCodeForCode(code: string): ExitCode {
  return BY_ERROR_CODE[code] ?? ExitCode.FAILURE
}

/** The `Exit codes` section of `wirepool --help`. */
export const EXIT_CODE_HELP = `Exit codes (as curl's where they overlap):
  0 success            2 bad arguments       6 cannot resolve host   7 connect failed      8 bad reply (parse/protocol)
  16 HTTP/2 reset/GOAWAY  18 body cut short  22 HTTP >= 400 with --fail   23 write error   26 read error (-d @file)
  28 timeout           35 TLS handshake failed   42 aborted   47 too many redirects (or a loop)   56 connection closed
  60 certificate verification failed   61 bad content encoding   90 certificate pin mismatch
  97 the proxy refused (CONNECT, SOCKS or credentials)   1 anything else`
