/**
 * `proxy: 'env'`: the proxy an origin goes through, read from the environment once (when the
 * Agent or Pool is built) the way curl reads it:
 *   - http: origins use `http_proxy`, https: origins `https_proxy`, either falls back to
 *     `all_proxy`; each in lowercase first, then uppercase;
 *   - uppercase `HTTP_PROXY` is ignored when `REQUEST_METHOD` is set: in a CGI program any
 *     client can set it with a `Proxy:` request header ("httpoxy", CVE-2016-5385; curl never
 *     reads it, Go ignores it under CGI as we do);
 *   - `no_proxy` / `NO_PROXY` (no-proxy.ts) sends matching origins direct.
 * An empty variable counts as unset. A malformed one fails the construction with
 * WP_INVALID_ARG naming the variable (never its value, which may carry a password).
 */
import { InvalidArgumentError } from '../errors.js'
import { parseProxyUrl, type ProxyEndpoint } from './config.js'
import { NoProxy } from './no-proxy.js'

export type Env = Readonly<Record<string, string | undefined>>

function pick(env: Env, lower: string, upper: string | undefined): { name: string; value: string } | undefined {
  for (const name of upper === undefined ? [lower] : [lower, upper]) {
    const value = env[name]
    if (value !== undefined && value.trim() !== '') return { name, value: value.trim() }
  }
  return undefined
}

function parse(found: { name: string; value: string } | undefined, tunnel: boolean): ProxyEndpoint | undefined {
  if (found === undefined) return undefined
  try {
    return parseProxyUrl(found.value, {}, tunnel)
  } catch (err) {
    throw new InvalidArgumentError(`environment variable ${found.name} is not a usable proxy URL: ${(err as Error).message}`, { cause: err })
  }
}

export class EnvProxies {
  readonly http: ProxyEndpoint | undefined
  readonly https: ProxyEndpoint | undefined
  readonly noProxy: NoProxy

  constructor(env: Env = process.env, tunnel = false) {
    const cgi = env['REQUEST_METHOD'] !== undefined
    const all = parse(pick(env, 'all_proxy', 'ALL_PROXY'), tunnel)
    this.http = parse(pick(env, 'http_proxy', cgi ? undefined : 'HTTP_PROXY'), tunnel) ?? all
    this.https = parse(pick(env, 'https_proxy', 'HTTPS_PROXY'), tunnel) ?? all
    this.noProxy = new NoProxy(pick(env, 'no_proxy', 'NO_PROXY')?.value)
  }

  /** The proxy for an origin, or undefined to connect directly. */
  forOrigin(secure: boolean, hostname: string, port: number): ProxyEndpoint | undefined {
    const endpoint = secure ? this.https : this.http
    if (endpoint === undefined || this.noProxy.matches(hostname, port)) return undefined
    return endpoint
  }
}

/**
 * The proxy URL for one request of the CLI, as curl picks it: `-x` wins (an empty value
 * means none), else the environment; `--noproxy` replaces NO_PROXY. Undefined: direct.
 */
export function proxyForCli(url: URL, flag: string | undefined, noproxy: string | undefined, env: Env): string | undefined {
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname
  const secure = url.protocol === 'https:'
  const port = url.port === '' ? (secure ? 443 : 80) : Number(url.port)
  const bypass = new NoProxy(noproxy ?? pick(env, 'no_proxy', 'NO_PROXY')?.value)
  if (bypass.matches(hostname, port)) return undefined
  if (flag !== undefined) {
    if (flag.trim() === '') return undefined
    parseProxyUrl(flag)
    return flag
  }
  const cgi = env['REQUEST_METHOD'] !== undefined
  const found = (secure ? pick(env, 'https_proxy', 'HTTPS_PROXY') : pick(env, 'http_proxy', cgi ? undefined : 'HTTP_PROXY')) ?? pick(env, 'all_proxy', 'ALL_PROXY')
  if (found === undefined) return undefined
  parse(found, false)
  return found.value
}
