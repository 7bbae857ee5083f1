/**
 * undici's `ProxyAgent` options, mapped onto a wirepool Agent with the `proxy` option, so
 * code written as `new ProxyAgent({ uri, token, requestTls, proxyTls })` can switch to
 * `proxyDispatcher({ uri, token, requestTls, proxyTls })` unchanged. What wirepool cannot
 * honour fails loudly (WP_INVALID_ARG) rather than being dropped: custom `headers` to the
 * proxy, a non-Basic `token`, `clientFactory`.
 *
 * Differences, on purpose: wirepool forwards plain-http origins in absolute-form unless
 * `proxyTunnel: true` (undici's ProxyAgent tunnels them by default: pass `proxyTunnel: true`
 * for the same wire behaviour). undici's `EnvHttpProxyAgent` is `new WirepoolDispatcher({ proxy: 'env' })`.
 */
import { InvalidArgumentError } from '../errors.js'
import type { AgentOptions, TlsOptions } from '../options.js'
import { WirepoolDispatcher } from './undici.js'

/** The subset of undici's `ProxyAgent.Options` that has a wirepool meaning. */
export interface UndiciProxyAgentOptions {
  uri: string | URL
  /** `Proxy-Authorization` value: only `Basic <base64 user:pass>` is supported. */
  token?: string
  /** @deprecated in undici too: base64 `user:pass`. */
  auth?: string
  headers?: Record<string, unknown>
  /** TLS to the origin (inside the tunnel). */
  requestTls?: UndiciTls
  /** TLS to an https:// proxy. */
  proxyTls?: UndiciTls
  proxyTunnel?: boolean
  clientFactory?: unknown
  /** Anything else is handed to the wirepool Agent as is (connections, timeouts…). */
  [option: string]: unknown
}

interface UndiciTls {
  ca?: TlsOptions['ca']
  cert?: TlsOptions['cert']
  key?: TlsOptions['key']
  passphrase?: string
  servername?: string
  rejectUnauthorized?: boolean
}

function tlsOf(name: string, tls: UndiciTls | undefined): TlsOptions {
  if (tls === undefined) return {}
  if (typeof tls !== 'object' || tls === null) throw new InvalidArgumentError(`${name} must be an object`)
  const out: TlsOptions = {}
  for (const key of ['ca', 'cert', 'key', 'passphrase', 'servername', 'rejectUnauthorized'] as const) {
    if (tls[key] !== undefined) (out as Record<string, unknown>)[key] = tls[key]
  }
  return out
}

/** The proxy URL with `user:pass` from a Basic token put into it. */
function withCredentials(uri: string | URL, token: string | undefined, auth: string | undefined): URL {
  let url: URL
  try {
    url = new URL(String(uri))
  } catch {
    throw new InvalidArgumentError('ProxyAgent uri is not a valid URL')
  }
  const basic = token !== undefined ? /^Basic +([A-Za-z0-9+/=]+)$/i.exec(token.trim())?.[1] : auth
  if (token !== undefined && basic === undefined) {
    throw new InvalidArgumentError('ProxyAgent token: only "Basic <base64>" proxy credentials are supported by wirepool')
  }
  if (basic !== undefined) {
    const decoded = Buffer.from(basic, 'base64').toString('utf8')
    const colon = decoded.indexOf(':')
    if (colon < 0) throw new InvalidArgumentError('ProxyAgent token: Basic credentials must be base64 of user:password')
    url.username = encodeURIComponent(decoded.slice(0, colon))
    url.password = encodeURIComponent(decoded.slice(colon + 1))
  }
  return url
}

/** Agent options equivalent to undici's `new ProxyAgent(options)`. */
export function proxyAgentOptions(options: string | URL | UndiciProxyAgentOptions): AgentOptions {
  const o: UndiciProxyAgentOptions = typeof options === 'string' || options instanceof URL ? { uri: options } : options
  if (o === null || typeof o !== 'object' || o.uri === undefined) throw new InvalidArgumentError('ProxyAgent options need a uri')
  const { uri, token, auth, headers, requestTls, proxyTls, proxyTunnel, clientFactory, ...rest } = o
  if (headers !== undefined && Object.keys(headers).length > 0) {
    throw new InvalidArgumentError('ProxyAgent headers: extra headers to the proxy are not supported by wirepool')
  }
  if (clientFactory !== undefined) throw new InvalidArgumentError('ProxyAgent clientFactory is not supported by wirepool')
  const agentOptions = rest as AgentOptions
  return {
    ...agentOptions,
    proxy: { url: withCredentials(uri, token, auth), tls: tlsOf('proxyTls', proxyTls), tunnel: proxyTunnel === true },
    ...(requestTls === undefined ? {} : { tls: { ...agentOptions.tls, ...tlsOf('requestTls', requestTls) } }),
  }
}

/** A `Dispatcher` for undici that goes through a proxy: what `new ProxyAgent(options)` is for undici. */
export function proxyDispatcher(options: string | URL | UndiciProxyAgentOptions): WirepoolDispatcher {
  return new WirepoolDispatcher(proxyAgentOptions(options))
}
