/**
 * A tiny authoritative DNS responder over UDP (RFC 1035 §4) for tests: A and AAAA answers
 * with chosen TTLs, NXDOMAIN for unknown names, NODATA for known names without records of
 * the asked type, or silence (a resolver that never answers). It counts the queries it gets,
 * so a test can prove a cache did or did not ask.
 *
 * Point a resolver at it: `const r = new dns.promises.Resolver({ timeout: 200, tries: 1 });
 * r.setServers([server.address])`.
 */
import dgram from 'node:dgram'
import { once } from 'node:events'
import net from 'node:net'

export interface ZoneEntry {
  a?: string[]
  aaaa?: string[]
  /** Seconds; default 60. */
  ttl?: number
  /** Never answer queries for this name (the resolver times out). */
  silent?: boolean
  /** Answer SERVFAIL (RCODE 2). */
  servfail?: boolean
}

export interface DnsServer {
  /** `127.0.0.1:port`, for Resolver#setServers. */
  address: string
  port: number
  /** Names (lowercase, no trailing dot) → what to answer; edit freely between queries. */
  zone: Map<string, ZoneEntry>
  /** Queries received, as `A name` / `AAAA name`, in order. */
  queries: string[]
  count(type: 'A' | 'AAAA', name: string): number
  close(): Promise<void>
}

const TYPE_A = 1
const TYPE_AAAA = 28
const CLASS_IN = 1

export async function startDnsServer(zone: Record<string, ZoneEntry> = {}): Promise<DnsServer> {
  const socket = dgram.createSocket('udp4')
  const entries = new Map(Object.entries(zone))
  const queries: string[] = []
  socket.on('message', (msg, rinfo) => {
    const query = parseQuery(msg)
    if (query === null) return
    const typeName = query.type === TYPE_A ? 'A' : query.type === TYPE_AAAA ? 'AAAA' : `TYPE${query.type}`
    queries.push(`${typeName} ${query.name}`)
    const entry = entries.get(query.name)
    if (entry?.silent === true) return
    let rcode = 0
    let answers: Buffer[] = []
    if (entry === undefined) rcode = 3 // NXDOMAIN
    else if (entry.servfail === true) rcode = 2
    else if (query.type === TYPE_A) answers = (entry.a ?? []).map((ip) => record(TYPE_A, entry.ttl ?? 60, ipv4Bytes(ip)))
    else if (query.type === TYPE_AAAA) answers = (entry.aaaa ?? []).map((ip) => record(TYPE_AAAA, entry.ttl ?? 60, ipv6Bytes(ip)))
    const header = Buffer.alloc(12)
    header.writeUInt16BE(msg.readUInt16BE(0), 0) // ID
    // QR=1, opcode 0, AA=1, RD copied, RA=1, RCODE.
    const rd = (msg[2] as number) & 0x01
    header[2] = 0x84 | rd
    header[3] = 0x80 | rcode
    header.writeUInt16BE(1, 4)
    header.writeUInt16BE(answers.length, 6)
    socket.send(Buffer.concat([header, query.question, ...answers]), rinfo.port, rinfo.address)
  })
  socket.bind(0, '127.0.0.1')
  await once(socket, 'listening')
  const port = socket.address().port
  return {
    address: `127.0.0.1:${port}`,
    port,
    zone: entries,
    queries,
    count: (type, name) => queries.filter((q) => q === `${type} ${name}`).length,
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  }
}

interface Query {
  name: string
  type: number
  /** The question section as received, echoed in the answer. */
  question: Buffer
}

/** One question, uncompressed name (what resolvers send); null for anything else. */
function parseQuery(msg: Buffer): Query | null {
  if (msg.length < 12 || msg.readUInt16BE(4) !== 1) return null
  const labels: string[] = []
  let offset = 12
  for (let guard = 0; guard < 128; guard++) {
    if (offset >= msg.length) return null
    const length = msg[offset] as number
    if (length === 0) {
      offset++
      break
    }
    if (length > 63 || offset + 1 + length > msg.length) return null
    labels.push(msg.toString('latin1', offset + 1, offset + 1 + length))
    offset += 1 + length
  }
  if (offset + 4 > msg.length) return null
  const type = msg.readUInt16BE(offset)
  if (msg.readUInt16BE(offset + 2) !== CLASS_IN) return null
  return { name: labels.join('.').toLowerCase(), type, question: msg.subarray(12, offset + 4) }
}

/** An answer RR whose name points at the question (offset 12, RFC 1035 §4.1.4). */
function record(type: number, ttl: number, rdata: Buffer): Buffer {
  const rr = Buffer.alloc(12 + rdata.length)
  rr.writeUInt16BE(0xc00c, 0)
  rr.writeUInt16BE(type, 2)
  rr.writeUInt16BE(CLASS_IN, 4)
  rr.writeUInt32BE(ttl, 6)
  rr.writeUInt16BE(rdata.length, 10)
  rdata.copy(rr, 12)
  return rr
}

function ipv4Bytes(ip: string): Buffer {
  if (net.isIPv4(ip) === false) throw new Error(`not IPv4: ${ip}`)
  return Buffer.from(ip.split('.').map(Number))
}

/** IPv6 text → 16 bytes (handles `::` compression; no embedded IPv4 form needed here). */
function ipv6Bytes(ip: string): Buffer {
  if (net.isIPv6(ip) === false) throw new Error(`not IPv6: ${ip}`)
  const [head = '', tail] = ip.split('::')
  const left = head === '' ? [] : head.split(':')
  const right = tail === undefined || tail === '' ? [] : tail.split(':')
  const groups = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right]
  const out = Buffer.alloc(16)
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2))
  return out
}
