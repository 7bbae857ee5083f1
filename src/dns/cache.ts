/**
 * A DNS cache that honours record TTLs (RFC 1035 §3.2.1, RFC 2181 §8): A and AAAA records
 * are asked for with their TTLs (`Resolver#resolve4/resolve6` with `{ ttl: true }`) and an
 * answer is used until the smallest TTL of its set runs out, never longer (`maxTtl` may
 * shorten it). Names DNS does not know (those only /etc/hosts knows, `localhost`) fall back
 * to `dns.lookup`, whose answers carry no TTL and are kept `hostsTtl` ms.
 *
 * - Bounded: one LRU per family, `maxEntries` names each.
 * - Coalescing: concurrent misses for one name and family share one query.
 * - A fresh entry is a Map hit returned as the array itself (no promise, no allocation):
 *   the connector then starts dialling in the same tick.
 * - Figures: hits, misses, coalesced and failures, for `stats()` and metrics.
 *
 * Opt-in (Agent/Pool option `dnsCache`), see README "Name resolution" for why.
 */
import dns from 'node:dns'
import net from 'node:net'
import { integerOption, msOption } from '../option-checks.js'
import { LruCache } from '../tls/lru.js'
import { dnsCodeOf, dnsError, isNoSuchName, lookupAll, type FamilyAnswer, type HostResolver, type LookupFunction, type Resolution } from './resolution.js'

/** The part of `dns.promises.Resolver` the cache uses (so tests can point one at a local server). */
export interface TtlResolver {
  resolve4(hostname: string, options: { ttl: true }): Promise<dns.RecordWithTtl[]>
  resolve6(hostname: string, options: { ttl: true }): Promise<dns.RecordWithTtl[]>
}

export interface DnsCacheOptions {
  /** Names kept per address family (LRU). Default 1000. */
  maxEntries?: number
  /** Upper bound on how long an answer is kept, ms, whatever its TTL. Default 300000 (5 min). */
  maxTtl?: number
  /** How long "this name has no records of this family" (NODATA) is kept, ms. Default 5000. */
  negativeTtl?: number
  /** How long an answer from the `lookup` fallback (no TTL known) is kept, ms. Default 30000. */
  hostsTtl?: number
  /** Default: a `dns.promises.Resolver` using the system's name servers. */
  resolver?: TtlResolver
  /** The fallback for names DNS does not know; default `dns.lookup`. */
  lookup?: LookupFunction
  /** Clock in ms (tests). Default `Date.now`. */
  now?: () => number
}

export interface DnsCacheStats {
  /** Names × families held. */
  entries: number
  hits: number
  misses: number
  /** Misses that joined a query already in flight. */
  coalesced: number
  /** Queries that failed (resolver unreachable, timed out, SERVFAIL…, and no answer from lookup either). */
  failures: number
  /** Queries for a family the name has no address of, in DNS or in /etc/hosts (NXDOMAIN / NODATA everywhere). */
  notFound: number
}

interface Entry {
  addresses: readonly string[]
  expires: number
}

type Family = 4 | 6

export class DnsCache implements HostResolver {
  readonly #v4: LruCache<Entry>
  readonly #v6: LruCache<Entry>
  readonly #pending4 = new Map<string, Promise<readonly string[]>>()
  readonly #pending6 = new Map<string, Promise<readonly string[]>>()
  readonly #resolver: TtlResolver
  readonly #lookup: LookupFunction
  readonly #maxTtl: number
  readonly #negativeTtl: number
  readonly #hostsTtl: number
  readonly #now: () => number
  #hits = 0
  #misses = 0
  #coalesced = 0
  #failures = 0
  #notFound = 0

  constructor(options: DnsCacheOptions = {}) {
    const maxEntries = integerOption('dnsCache.maxEntries', options.maxEntries, 1000)
    this.#v4 = new LruCache(maxEntries)
    this.#v6 = new LruCache(maxEntries)
    this.#maxTtl = msOption('dnsCache.maxTtl', options.maxTtl, 300_000)
    this.#negativeTtl = msOption('dnsCache.negativeTtl', options.negativeTtl, 5_000)
    this.#hostsTtl = msOption('dnsCache.hostsTtl', options.hostsTtl, 30_000)
    this.#resolver = options.resolver ?? new dns.promises.Resolver()
    this.#lookup = options.lookup ?? (dns.lookup as LookupFunction)
    this.#now = options.now ?? Date.now
  }

  resolve(hostname: string): Resolution {
    const v6 = this.resolveFamily(hostname, 6)
    const v4 = this.resolveFamily(hostname, 4)
    return { v6, v4, cached: Array.isArray(v6) && Array.isArray(v4) }
  }

  /** The addresses of one family: the cached array when fresh, else the (shared) query. */
  resolveFamily(hostname: string, family: Family): FamilyAnswer {
    const entry = (family === 4 ? this.#v4 : this.#v6).get(hostname)
    if (entry !== undefined && entry.expires > this.#now()) {
      this.#hits++
      return entry.addresses
    }
    const pending = family === 4 ? this.#pending4 : this.#pending6
    const inFlight = pending.get(hostname)
    if (inFlight !== undefined) {
      this.#coalesced++
      return inFlight
    }
    this.#misses++
    const query = this.#query(hostname, family).finally(() => pending.delete(hostname))
    pending.set(hostname, query)
    return query
  }

  /**
   * The `dns.lookup` signature over the cache, for code that takes one (node:net, node:tls,
   * other clients). Answers IPv6 first when `family` is 0, as `verbatim` order would.
   */
  readonly lookup = ((hostname: string, options: dns.LookupOptions, callback: (err: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void): void => {
    const family = options.family === 4 || options.family === 'IPv4' ? 4 : options.family === 6 || options.family === 'IPv6' ? 6 : 0
    const wanted: Family[] = family === 0 ? [6, 4] : [family]
    const answers = wanted.map((f) => this.resolveFamily(hostname, f))
    Promise.allSettled(answers).then((settled) => {
      const all: dns.LookupAddress[] = []
      let firstError: unknown
      settled.forEach((s, i) => {
        if (s.status === 'fulfilled') for (const address of s.value) all.push({ address, family: wanted[i] as Family })
        else firstError ??= s.reason
      })
      if (all.length === 0) {
        const err = Object.assign(new Error(`lookup ${dnsCodeOf(firstError ?? { code: 'ENOTFOUND' })} ${hostname}`), {
          code: dnsCodeOf(firstError ?? { code: 'ENOTFOUND' }),
          hostname,
        })
        callback(err, options.all === true ? [] : '')
        return
      }
      if (options.all === true) callback(null, all)
      else callback(null, (all[0] as dns.LookupAddress).address, (all[0] as dns.LookupAddress).family)
    }, (err: unknown) => callback(err as NodeJS.ErrnoException, ''))
  }) as LookupFunction

  stats(): DnsCacheStats {
    return { entries: this.#v4.size + this.#v6.size, hits: this.#hits, misses: this.#misses, coalesced: this.#coalesced, failures: this.#failures, notFound: this.#notFound }
  }

  /** Forget every answer (e.g. after a network change). Queries in flight still complete. */
  clear(): void {
    this.#v4.clear()
    this.#v6.clear()
  }

  async #query(hostname: string, family: Family): Promise<readonly string[]> {
    // RFC 6761 §6.3: localhost names are loopback and SHOULD NOT be sent to DNS.
    if (isLocalhostName(hostname)) return this.#fromLookup(hostname, family)
    let records: dns.RecordWithTtl[]
    try {
      records = family === 4 ? await this.#resolver.resolve4(hostname, { ttl: true }) : await this.#resolver.resolve6(hostname, { ttl: true })
    } catch (err) {
      // NODATA: the name exists but has no record of this family (RFC 2308 §2.2): remembered briefly.
      if (dnsCodeOf(err) === 'ENODATA') return this.#store(hostname, family, [], this.#negativeTtl)
      // NXDOMAIN or no answer from DNS: getaddrinfo may still know the name (/etc/hosts, mDNS…).
      return this.#fromLookup(hostname, family, err)
    }
    let ttl = Infinity
    const addresses: string[] = []
    for (const record of records) {
      addresses.push(record.address)
      if (record.ttl < ttl) ttl = record.ttl
    }
    // RFC 2181 §8: the set's TTL; a TTL of 0 means "use for this transaction only".
    return this.#store(hostname, family, addresses, addresses.length === 0 ? this.#negativeTtl : ttl * 1000)
  }

  async #fromLookup(hostname: string, family: Family, dnsFailure?: unknown): Promise<readonly string[]> {
    try {
      const found = await lookupAll(this.#lookup, hostname, family)
      const addresses = found.filter((a) => a.family === family).map((a) => a.address)
      return this.#store(hostname, family, addresses, addresses.length === 0 ? this.#negativeTtl : this.#hostsTtl)
    } catch (err) {
      const cause = dnsFailure ?? err
      // Neither DNS nor getaddrinfo has an address of this family for the name: remembered
      // briefly like NODATA (the connector reports WP_DNS when the other family has none either).
      if (isNoSuchName(dnsCodeOf(err)) && isNoSuchName(dnsCodeOf(cause))) {
        this.#notFound++
        return this.#store(hostname, family, [], this.#negativeTtl)
      }
      this.#failures++
      // A resolver that failed says more than getaddrinfo's answer (e.g. ETIMEOUT vs ENOTFOUND).
      throw dnsError(hostname, cause)
    }
  }

  #store(hostname: string, family: Family, addresses: readonly string[], ttlMs: number): readonly string[] {
    const keep = Math.min(ttlMs, this.#maxTtl)
    if (keep > 0) (family === 4 ? this.#v4 : this.#v6).set(hostname, { addresses, expires: this.#now() + keep })
    return addresses
  }
}

/** `localhost` and `*.localhost` (RFC 6761 §6.3), case-insensitive, with or without the root dot. */
export function isLocalhostName(hostname: string): boolean {
  const name = (hostname.endsWith('.') ? hostname.slice(0, -1) : hostname).toLowerCase()
  return name === 'localhost' || name.endsWith('.localhost')
}

/** IP literals never go to a resolver. */
export function isIpLiteral(host: string): boolean {
  return net.isIP(host) !== 0
}
