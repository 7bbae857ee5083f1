/**
 * Which way a connection to an origin goes: direct (undefined), tunnelled through a proxy,
 * or forwarded to an HTTP proxy in absolute-form. Decided per origin from the resolved
 * `proxy` option; the pool keys its connections by origin *and* this route (`key`), so a
 * proxied and a direct connection to one origin never serve each other's requests.
 */
import { EnvProxies } from './env.js'
import { resolveProxyOption, type ProxyEndpoint, type ProxySetting } from './config.js'

/** Marks a setting already resolved (an Agent hands its own to the Pools it creates). */
const RESOLVED: unique symbol = Symbol('wirepool.resolvedProxy')

export interface ResolvedProxy {
  readonly [RESOLVED]?: true
  setting: ProxySetting
  /** For `'env'`: the environment as read when the options were resolved. */
  env: EnvProxies | undefined
}

export interface ProxyRoute {
  endpoint: ProxyEndpoint
  /**
   * `tunnel`: CONNECT / SOCKS5, the origin's bytes (and TLS) go end to end inside.
   * `forward`: plain-http requests go to an HTTP proxy in absolute-form (RFC 9112 §3.2.2).
   */
  mode: 'tunnel' | 'forward'
  /** `via <redacted proxy URL> (<mode>)`: part of the pool key, and what stats and events show. */
  key: string
}

/**
 * Parses the options once. `'env'` reads the environment here, at construction: an Agent
 * passes the result to every Pool it creates later, so all its origins see one environment.
 */
export function resolveProxy(option: unknown, proxyTunnel: unknown): ResolvedProxy | undefined {
  if (typeof option === 'object' && option !== null && RESOLVED in option) return option as ResolvedProxy
  const setting = resolveProxyOption(option, proxyTunnel)
  if (setting === undefined) return undefined
  return { [RESOLVED]: true, setting, env: setting.kind === 'env' ? new EnvProxies(process.env, setting.tunnel) : undefined }
}

/**
 * The route for an origin. Forwarding is only for plain http through an HTTP(S) proxy that
 * is not told to tunnel; SOCKS is always a tunnel, and so is h2c (prior-knowledge HTTP/2
 * cannot be forwarded by an HTTP/1.1 proxy).
 */
export function proxyRouteFor(
  proxy: ResolvedProxy | undefined,
  origin: { secure: boolean; hostname: string; port: number },
  h2c: boolean,
): ProxyRoute | undefined {
  if (proxy === undefined) return undefined
  const endpoint = proxy.setting.kind === 'fixed' ? proxy.setting.endpoint : proxy.env?.forOrigin(origin.secure, origin.hostname, origin.port)
  if (endpoint === undefined) return undefined
  const httpProxy = endpoint.scheme === 'http' || endpoint.scheme === 'https'
  const mode = !origin.secure && httpProxy && !endpoint.tunnel && !h2c ? 'forward' : 'tunnel'
  return { endpoint, mode, key: `via ${endpoint.display} (${mode})` }
}
