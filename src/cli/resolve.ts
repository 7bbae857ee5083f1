/**
 * curl's `--resolve HOST:PORT:ADDR[,ADDR…]`: connect to these addresses for that host and
 * port instead of resolving the name (the Host header, SNI and certificate check still use
 * the name). IPv6 addresses may be bracketed (`[::1]`). Names and ports that no entry
 * covers are resolved as usual (dns.lookup).
 */
import dns from 'node:dns'
import net from 'node:net'
import { UsageError } from './args.js'

export interface ResolveEntry {
  host: string
  port: number
  addresses: string[]
}

export function parseResolve(text: string): ResolveEntry {
  const m = /^([^:[\]]+):(\d{1,5}):(.+)$/.exec(text)
  if (m === null) throw new UsageError(`--resolve '${text}': expected HOST:PORT:ADDRESS[,ADDRESS…]`)
  const port = Number(m[2])
  if (port < 1 || port > 65535) throw new UsageError(`--resolve '${text}': port must be 1..65535`)
  const addresses = (m[3] as string).split(',').map((a) => (a.startsWith('[') && a.endsWith(']') ? a.slice(1, -1) : a))
  for (const address of addresses) {
    if (net.isIP(address) === 0) throw new UsageError(`--resolve '${text}': '${address}' is not an IP address`)
  }
  return { host: (m[1] as string).toLowerCase(), port, addresses }
}

/**
 * A `dns.lookup`-shaped function answering the entries for `port` (the URL's), and asking
 * dns.lookup for anything else. Several addresses race as Happy Eyeballs says.
 */
export function resolveLookup(entries: readonly ResolveEntry[], port: number): net.LookupFunction | undefined {
  const mine = new Map<string, dns.LookupAddress[]>()
  for (const entry of entries) {
    if (entry.port !== port) continue
    const list = mine.get(entry.host) ?? []
    for (const address of entry.addresses) list.push({ address, family: net.isIP(address) })
    mine.set(entry.host, list)
  }
  if (mine.size === 0) return undefined
  return ((hostname: string, options: dns.LookupOptions, callback: (err: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void) => {
    const fixed = mine.get(hostname.toLowerCase())
    if (fixed === undefined) {
      ;(dns.lookup as unknown as net.LookupFunction)(hostname, options, callback as Parameters<net.LookupFunction>[2])
      return
    }
    if (options.all === true) callback(null, fixed)
    else callback(null, (fixed[0] as dns.LookupAddress).address, (fixed[0] as dns.LookupAddress).family)
  }) as net.LookupFunction
}
