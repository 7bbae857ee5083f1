/**
 * `NO_PROXY` as curl reads it (and Go's httpproxy, which agrees on these points): a list
 * separated by commas (and spaces) of
 *   - `*` alone: no proxy for anything;
 *   - host names: `example.com` matches example.com and every name below it (a suffix at a
 *     label boundary, so not `badexample.com`); a leading dot (`.example.com`) is ignored,
 *     as curl ≥ 7.86 does: it matches the same names;
 *   - IP literals (`10.1.2.3`, `::1`, `[::1]`): that address only;
 *   - CIDR ranges (`10.0.0.0/8`, `fd00::/8`): any literal address inside;
 *   - any of the above with `:port`: only on that port (Go's rule; curl ignores ports).
 * Names compare case-insensitively, without a trailing dot. Matching is against the URL's
 * host as written: a name is never resolved to check it against an address range (curl
 * and Go do not either).
 */
import { BlockList, isIP } from 'node:net'

interface NameEntry {
  /** Lowercase, no leading or trailing dot. */
  name: string
  port: number | undefined
}

export class NoProxy {
  /** `*`: bypass the proxy for every host. */
  readonly all: boolean
  readonly #names: NameEntry[] = []
  /** Address literals and ranges, per port (undefined: any port). */
  readonly #addresses = new Map<number | undefined, BlockList>()
  readonly empty: boolean

  constructor(value: string | undefined) {
    let all = false
    let count = 0
    for (const raw of (value ?? '').split(/[\s,]+/)) {
      const entry = raw.trim().toLowerCase()
      if (entry === '') continue
      count++
      if (entry === '*') {
        all = true
        continue
      }
      this.#add(entry)
    }
    this.all = all
    this.empty = count === 0
  }

  #add(entry: string): void {
    let host = entry
    let port: number | undefined
    // `[v6]:port`, `[v6]`, `v4:port`, `name:port`; a bare IPv6 literal has several colons.
    const bracketed = /^\[([^\]]+)\](\/\d+)?(?::(\d+))?$/.exec(host)
    if (bracketed !== null) {
      host = (bracketed[1] as string) + (bracketed[2] ?? '')
      port = bracketed[3] === undefined ? undefined : Number(bracketed[3])
    } else {
      const hostPort = /^([^:]+):(\d+)$/.exec(host)
      if (hostPort !== null) {
        host = hostPort[1] as string
        port = Number(hostPort[2])
      }
    }
    const slash = host.indexOf('/')
    if (slash >= 0) {
      const address = host.slice(0, slash)
      const prefix = Number(host.slice(slash + 1))
      const family = isIP(address)
      if (family === 0 || !Number.isInteger(prefix) || prefix < 0 || prefix > (family === 4 ? 32 : 128)) return
      this.#list(port).addSubnet(address, prefix, family === 4 ? 'ipv4' : 'ipv6')
      return
    }
    const family = isIP(host)
    if (family !== 0) {
      this.#list(port).addAddress(host, family === 4 ? 'ipv4' : 'ipv6')
      return
    }
    const name = host.replace(/^\.+/, '').replace(/\.+$/, '')
    if (name !== '') this.#names.push({ name, port })
  }

  #list(port: number | undefined): BlockList {
    let list = this.#addresses.get(port)
    if (list === undefined) {
      list = new BlockList()
      this.#addresses.set(port, list)
    }
    return list
  }

  /** True when a request to `host:port` must go direct. `host` may keep IPv6 brackets. */
  matches(host: string, port: number): boolean {
    if (this.all) return true
    if (this.empty) return false
    let h = host.toLowerCase()
    if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1)
    const family = isIP(h)
    if (family !== 0) {
      const type = family === 4 ? 'ipv4' : 'ipv6'
      for (const key of [undefined, port]) {
        if (this.#addresses.get(key)?.check(h, type) === true) return true
      }
      return false
    }
    h = h.replace(/\.+$/, '')
    for (const entry of this.#names) {
      if (entry.port !== undefined && entry.port !== port) continue
      if (h === entry.name || (h.length > entry.name.length && h.endsWith(entry.name) && h[h.length - entry.name.length - 1] === '.')) return true
    }
    return false
  }
}
