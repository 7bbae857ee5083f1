/** Parsing and normalising origins (`scheme://host:port`, RFC 6454 §4). */
import { isIP } from 'node:net'
import { InvalidArgumentError } from '../errors.js'

export interface Origin {
  /** `http://host:port` as URL.origin prints it (default ports omitted). */
  origin: string
  secure: boolean
  /** Host name or IP literal without IPv6 brackets, as net.connect wants it. */
  hostname: string
  port: number
  /** `host[:port]` for the Host header / :authority (brackets kept for IPv6). */
  authority: string
  isIpLiteral: boolean
}

export function parseOrigin(input: string | URL): Origin {
  let url: URL
  try {
    url = typeof input === 'string' ? new URL(input) : input
  } catch (cause) {
    throw new InvalidArgumentError(`invalid origin ${String(input)}`, { cause })
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidArgumentError(`unsupported protocol ${url.protocol} in ${url.href}: use http: or https:`)
  }
  if (url.username !== '' || url.password !== '') {
    throw new InvalidArgumentError('credentials in the origin are not supported: send an authorization header')
  }
  const secure = url.protocol === 'https:'
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname
  if (hostname === '') throw new InvalidArgumentError(`origin ${url.href} has no host`)
  const port = url.port === '' ? (secure ? 443 : 80) : Number(url.port)
  return { origin: url.origin, secure, hostname, port, authority: url.host, isIpLiteral: isIP(hostname) !== 0 }
}

/** Split an absolute URL into its origin and origin-form request-target (`/path?query`). */
export function splitUrl(input: string | URL): { origin: Origin; path: string } {
  let url: URL
  try {
    url = typeof input === 'string' ? new URL(input) : input
  } catch (cause) {
    throw new InvalidArgumentError(`invalid URL ${String(input)}`, { cause })
  }
  return { origin: parseOrigin(url), path: `${url.pathname}${url.search}` }
}
