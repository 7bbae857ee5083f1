/**
 * Connect latency of fresh connections to `localhost` (DNS + TCP, loopback), one at a
 * time, through wirepool's connector: with the DNS cache (a Map hit after the first), with
 * node's dns.lookup on every connect (the default), and node:net's own connect
 * (autoSelectFamily) as the reference. Rounds alternate so drift hits every variant alike.
 *
 *   flock /work/bench.lock node --import tsx bench/dns-connect.ts [connections=1000]
 */
import { once } from 'node:events'
import net from 'node:net'
import { connectTcp } from '../src/tcp/connect.js'
import { DnsCache } from '../src/dns/cache.js'

const N = Number(process.argv[2] ?? 1000)
const ROUNDS = 5

// localhost may be ::1 and 127.0.0.1 (/etc/hosts): listen on both, one port.
const v4 = net.createServer((s) => s.destroy())
v4.listen(0, '127.0.0.1')
await once(v4, 'listening')
const port = (v4.address() as net.AddressInfo).port
const v6 = net.createServer((s) => s.destroy())
v6.listen(port, '::1')
await once(v6, 'listening')

const cache = new DnsCache()

type Variant = { name: string; connect: () => Promise<net.Socket> }
const variants: Variant[] = [
  { name: 'wirepool + dnsCache', connect: () => connectTcp({ host: 'localhost', port, connectTimeout: 5000, resolver: cache }) },
  { name: 'wirepool, dns.lookup each time', connect: () => connectTcp({ host: 'localhost', port, connectTimeout: 5000 }) },
  {
    name: 'node:net connect (reference)',
    connect: () =>
      new Promise((resolve, reject) => {
        const s = net.connect({ host: 'localhost', port })
        s.once('connect', () => resolve(s))
        s.once('error', reject)
      }),
  },
]

const samples = new Map<string, number[]>(variants.map((v) => [v.name, []]))
for (let round = 0; round < ROUNDS; round++) {
  for (const variant of variants) {
    const list = samples.get(variant.name) as number[]
    for (let i = 0; i < N / ROUNDS; i++) {
      const started = performance.now()
      const socket = await variant.connect()
      list.push(performance.now() - started)
      socket.destroy()
    }
  }
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number
}
console.log(`${N} fresh connections to localhost:${port} per variant (${ROUNDS} interleaved rounds)`)
console.log('variant                          mean µs   p50 µs   p99 µs')
for (const [name, list] of samples) {
  const sorted = [...list].sort((a, b) => a - b)
  const mean = list.reduce((a, b) => a + b, 0) / list.length
  console.log(`${name.padEnd(32)} ${(mean * 1000).toFixed(0).padStart(7)} ${(pct(sorted, 50) * 1000).toFixed(0).padStart(8)} ${(pct(sorted, 99) * 1000).toFixed(0).padStart(8)}`)
}
console.log('dnsCache stats:', JSON.stringify(cache.stats()))
v4.close()
v6.close()
