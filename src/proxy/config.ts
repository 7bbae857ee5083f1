/**
 * The `proxy` option: parsed and checked once (at Agent/Pool construction), into an endpoint
 * that knows how to name itself without its credentials. Nothing here does I/O.
 */
import { isIP } from 'node:net'
import { InvalidArgumentError } from '../errors.js'
import type { TlsOptions } from '../options.js'

export const PROXY_SCHEMES = ['http', 'https', 'socks5', 'socks5h'] as const
export type ProxyScheme = (typeof PROXY_SCHEMES)[number]

/** Default ports as Go's net/http and undici pick them (curl uses 1080 for every scheme). */
const DEFAULT_PORTS = { http: 80, https: 443, socks5: 1080, socks5h: 1080 } as const satisfies Record<ProxyScheme, number>

/** The object form of the option: a URL plus what a string cannot say. */
export interface ProxyOptionObject {
  url: string | URL
  /** TLS to an `https://` proxy itself (its own CA, servername, pins…); the origin's TLS is `tls`. */
  tls?: TlsOptions
  /** Tunnel plain-http origins with CONNECT too, rather than forwarding them in absolute-form. */
  tunnel?: boolean
}

/** `'env'`, a proxy URL, or the object form. */
export type ProxyOption = string | URL | ProxyOptionObject

/** One proxy, parsed. */
export interface ProxyEndpoint {
  scheme: ProxyScheme
  /** Bare host (no IPv6 brackets). */
  host: string
  port: number
  /** `scheme://host:port` — what errors, events, stats and `-v` print: never the credentials. */
  display: string
  /** Percent-decoded credentials from the URL; undefined when none were given. */
  username: string | undefined
  password: string | undefined
  /** `Basic …` for HTTP proxies with credentials (RFC 9110 §11.7.1, RFC 7617); else undefined. */
  authorization: string | undefined
  /** TLS options for an `https://` proxy. */
  tls: TlsOptions
  /** CONNECT-tunnel plain-http origins too. */
  tunnel: boolean
}

/**
 * `'env'` (the environment decides per origin, see env.ts) or a fixed endpoint for every
 * origin. `proxyTunnel` applies to both.
 */
export type ProxySetting = { kind: 'env'; tunnel: boolean } | { kind: 'fixed'; endpoint: ProxyEndpoint }

/** A bracketed IPv6 literal keeps its brackets in a URL's host: `[::1]:8080`. */
export function hostForUrl(host: string): string {
  return isIP(host) === 6 ? `[${host}]` : host
}

/**
 * Parses a proxy URL. A value without a scheme (`proxy.corp:3128`, as people write
 * HTTP_PROXY) is taken as `http://`, as curl and Go do.
 */
export function parseProxyUrl(input: string | URL, tls: TlsOptions = {}, tunnel = false): ProxyEndpoint {
  let url: URL
  try {
    url = typeof input === 'string' ? new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(input) ? input : `http://${input}`) : input
  } catch (cause) {
    // The input may hold a password: say what is wrong without printing it.
    throw new InvalidArgumentError('option proxy is not a valid URL', { cause: redactedCause(cause) })
  }
  const scheme = url.protocol.slice(0, -1).toLowerCase()
  if (!(PROXY_SCHEMES as readonly string[]).includes(scheme)) {
    throw new InvalidArgumentError(`option proxy: unsupported scheme ${url.protocol} (use http:, https:, socks5: or socks5h:)`)
  }
  const s = scheme as ProxyScheme
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname
  if (host === '') throw new InvalidArgumentError('option proxy has no host')
  if ((url.pathname !== '' && url.pathname !== '/') || url.search !== '' || url.hash !== '') {
    throw new InvalidArgumentError('option proxy must be scheme://[user:pass@]host[:port] with no path or query')
  }
  const port = url.port === '' ? DEFAULT_PORTS[s] : Number(url.port)
  const username = url.username === '' && url.password === '' ? undefined : decode(url.username)
  const password = username === undefined ? undefined : decode(url.password)
  if (username !== undefined && (s === 'socks5' || s === 'socks5h')) {
    // RFC 1929 §2: ULEN and PLEN are one byte each, and a length of 0 is not allowed.
    const u = Buffer.byteLength(username)
    const p = Buffer.byteLength(password ?? '')
    if (u < 1 || u > 255 || p < 1 || p > 255) throw new InvalidArgumentError('option proxy: SOCKS5 username and password must each be 1..255 bytes')
  }
  let authorization: string | undefined
  if (username !== undefined && (s === 'http' || s === 'https')) {
    // RFC 7617 §2: user-id ":" password, base64; a user-id with ':' cannot be expressed.
    if (username.includes(':')) throw new InvalidArgumentError('option proxy: a Basic user name cannot contain ":"')
    const credentials = `${username}:${password ?? ''}`
    if (/[\0\r\n]/.test(credentials)) throw new InvalidArgumentError('option proxy: credentials contain a control character')
    authorization = `Basic ${Buffer.from(credentials, 'utf8').toString('base64')}`
  }
  if (typeof tls !== 'object' || tls === null) throw new InvalidArgumentError('option proxy.tls must be an object')
  return {
    scheme: s,
    host,
    port,
    display: `${s}://${hostForUrl(host)}:${port}`,
    username,
    password,
    authorization,
    tls,
    tunnel,
  }
}

/** The `proxy` / `proxyTunnel` options → a setting, or undefined for "connect directly". */
export function resolveProxyOption(option: unknown, proxyTunnel: unknown): ProxySetting | undefined {
  if (proxyTunnel !== undefined && typeof proxyTunnel !== 'boolean') throw new InvalidArgumentError(`option proxyTunnel must be a boolean, got ${String(proxyTunnel)}`)
  if (option === undefined || option === null || option === false) {
    if (proxyTunnel === true) throw new InvalidArgumentError('option proxyTunnel needs option proxy')
    return undefined
  }
  let tunnel = proxyTunnel === true
  if (option === 'env') return { kind: 'env', tunnel }
  if (typeof option === 'string' || option instanceof URL) return { kind: 'fixed', endpoint: parseProxyUrl(option, {}, tunnel) }
  if (typeof option === 'object') {
    const o = option as ProxyOptionObject
    if (o.tunnel !== undefined) {
      if (typeof o.tunnel !== 'boolean') throw new InvalidArgumentError('option proxy.tunnel must be a boolean')
      tunnel ||= o.tunnel
    }
    if (typeof o.url !== 'string' && !(o.url instanceof URL)) throw new InvalidArgumentError('option proxy.url must be a string')
    if (o.url === 'env') return { kind: 'env', tunnel }
    return { kind: 'fixed', endpoint: parseProxyUrl(o.url, o.tls ?? {}, tunnel) }
  }
  throw new InvalidArgumentError(`option proxy must be a URL string, 'env' or { url, tls?, tunnel? }`)
}

function decode(part: string): string {
  try {
    return decodeURIComponent(part)
  } catch {
    throw new InvalidArgumentError('option proxy: credentials are not valid percent-encoding')
  }
}

/** URL's TypeError quotes its input, password included: keep only the kind of failure. */
function redactedCause(cause: unknown): Error {
  const code = (cause as { code?: unknown } | null)?.code
  return new Error(typeof code === 'string' ? code : 'invalid URL')
}

/** `text` with every occurrence of the endpoint's password (raw and percent-encoded) masked. */
export function redactSecrets(text: string, endpoint: ProxyEndpoint): string {
  let out = text
  for (const secret of [endpoint.password, endpoint.authorization]) {
    if (secret === undefined || secret.length < 1) continue
    out = out.split(secret).join('***')
    const encoded = encodeURIComponent(secret)
    if (encoded !== secret) out = out.split(encoded).join('***')
  }
  return out
}
