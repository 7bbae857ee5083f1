/**
 * What the TCP connector asks of name resolution: the IPv6 and the IPv4 addresses of a
 * name, each family on its own, so that Happy Eyeballs (RFC 8305 §3) can start connecting
 * as soon as the AAAA answer is in, without waiting for the A answer (and the other way
 * round after the Resolution Delay).
 *
 * Two resolvers implement it: `LookupResolver` over any `dns.lookup`-shaped function (the
 * default is node's own, i.e. getaddrinfo with /etc/hosts and nsswitch), and `DnsCache`
 * (src/dns/cache.ts), which asks DNS for records with their TTLs and keeps them.
 */
import dns from 'node:dns'
import net from 'node:net'
import { DnsError } from '../errors.js'

/** The addresses of one family: an array when known now (a cache hit), else a promise. Empty = no records of that family. */
export type FamilyAnswer = readonly string[] | Promise<readonly string[]>

export interface Resolution {
  v6: FamilyAnswer
  v4: FamilyAnswer
  /** Both families came from a cache without asking anyone (for `stats().dns`). */
  cached: boolean
}

export interface HostResolver {
  /**
   * Starts both queries. A family with no records resolves to `[]`; a name with no address
   * in either family makes the connector fail with `DnsError`, so a family's promise may
   * also reject with one (the connector keeps the most telling of the two).
   */
  resolve(hostname: string): Resolution
}

/** node:dns codes that mean "the name has no address", as opposed to "the resolver failed". */
const NO_SUCH_NAME: ReadonlySet<string> = new Set(['ENOTFOUND', 'ENODATA', 'NXDOMAIN', 'EAI_NONAME', 'EAI_NODATA', 'EAI_ADDRFAMILY'])

export function isNoSuchName(code: string): boolean {
  return NO_SUCH_NAME.has(code)
}

export function dnsCodeOf(err: unknown): string {
  if (err instanceof DnsError) return err.dnsCode
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : 'UNKNOWN'
}

/** Any lookup or resolver failure as a WP_DNS error naming the host. */
export function dnsError(hostname: string, err: unknown, origin?: string): DnsError {
  if (err instanceof DnsError) return err
  return new DnsError(hostname, dnsCodeOf(err), origin === undefined ? { cause: err } : { cause: err, origin })
}

/** The `dns.lookup` signature, as node:net takes it. */
export type LookupFunction = net.LookupFunction

/**
 * One `lookup(name, { all: true })` call answers both families (getaddrinfo asks for A and
 * AAAA in parallel itself), so the two promises settle together. No cache: every
 * connection asks again, as Node, Go and undici do by default.
 */
export class LookupResolver implements HostResolver {
  readonly #lookup: LookupFunction

  constructor(lookup: LookupFunction = dns.lookup as LookupFunction) {
    this.#lookup = lookup
  }

  resolve(hostname: string): Resolution {
    const all = lookupAll(this.#lookup, hostname, 0)
    return {
      v6: all.then((list) => list.filter((a) => a.family === 6).map((a) => a.address)),
      v4: all.then((list) => list.filter((a) => a.family === 4).map((a) => a.address)),
      cached: false,
    }
  }
}

export interface LookedUp {
  address: string
  family: 4 | 6
}

/**
 * `lookup(name, { all: true, family })` as a promise. A user's lookup may ignore `all` and
 * answer one address (the `(err, address, family)` form); both shapes are accepted, and
 * whatever is not an IP literal is dropped rather than dialled.
 */
export function lookupAll(lookup: LookupFunction, hostname: string, family: 0 | 4 | 6): Promise<LookedUp[]> {
  return new Promise((resolve, reject) => {
    const done = (err: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], fam?: number): void => {
      if (err !== null && err !== undefined) {
        reject(dnsError(hostname, err))
        return
      }
      const raw = Array.isArray(address) ? address : [{ address, family: fam ?? net.isIP(address) }]
      const out: LookedUp[] = []
      for (const entry of raw) {
        const kind = net.isIP(entry.address)
        if (kind === 4 || kind === 6) out.push({ address: entry.address, family: kind })
      }
      resolve(out)
    }
    try {
      lookup(hostname, { all: true, family }, done as Parameters<LookupFunction>[2])
    } catch (err) {
      reject(dnsError(hostname, err))
    }
  })
}
