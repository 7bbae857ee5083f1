/**
 * `npm run bench:proxy`: requests through the same squid (CONNECT tunnels), wirepool vs
 * undici's ProxyAgent, HTTP/1.1 and HTTP/2 over TLS inside the tunnel, 10 requests in
 * flight (closed loop), against one node:http2 server (allowHTTP1) in a child process.
 * Also the tunnel set-up latency: a fresh client's first request (TCP to squid + CONNECT +
 * TLS with the origin + one exchange), median over fresh clients.
 *
 *   BENCH_SECONDS=4 BENCH_ROUNDS=2 npm run bench:proxy
 *
 * Run it alone on the machine (`flock /work/bench.lock npm run bench:proxy`). Ratios are
 * measured in the same run, the contenders alternating, so drift hits both.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ProxyAgent, request as undiciRequest } from 'undici'
import { Agent } from '../src/index.js'
import { makeCertificates } from '../test/support/certs.js'
import { startSquid } from '../test-interop/proxy-servers.js'
import { freePorts } from '../test-interop/support/nginx.js'
import { acceptsConnections } from '../test-interop/support/nghttpd.js'
import { which } from '../test-interop/support/which.js'

const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 4)
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 2)
const CONCURRENCY = 10
const FRESH_CLIENTS = 20

type Protocol = 'h1' | 'h2'
interface Contender {
  name: string
  make(protocol: Protocol): { get(url: string): Promise<void>; close(): Promise<void> }
}

const SERVER = `
const http2 = require('node:http2'), fs = require('node:fs')
const server = http2.createSecureServer({ key: fs.readFileSync(process.env.KEY), cert: fs.readFileSync(process.env.CERT), allowHTTP1: true,
  settings: { maxConcurrentStreams: 1000 } }, (req, res) => { res.setHeader('x-http-version', req.httpVersion); res.end('hello') })
server.keepAliveTimeout = 60000
server.listen(Number(process.env.PORT), '127.0.0.1')
`

async function closedLoop(get: (url: string) => Promise<void>, url: string, seconds: number): Promise<number> {
  const end = performance.now() + seconds * 1000
  let done = 0
  const worker = async (): Promise<void> => {
    while (performance.now() < end) {
      await get(url)
      done++
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
  return done / seconds
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] as number
}

async function main(): Promise<void> {
  if (which('squid') === null) {
    console.log('bench:proxy: squid not installed (apt-get install squid); nothing measured')
    return
  }
  const certs = await makeCertificates()
  const dir = await mkdtemp(join(tmpdir(), 'wirepool-bench-proxy-'))
  await writeFile(join(dir, 'key.pem'), certs.key)
  await writeFile(join(dir, 'cert.pem'), certs.cert)
  const [port] = (await freePorts(1)) as [number]
  const child = spawn(process.execPath, ['-e', SERVER], { env: { ...process.env, KEY: join(dir, 'key.pem'), CERT: join(dir, 'cert.pem'), PORT: String(port) }, stdio: 'inherit' })
  const squid = await startSquid()
  try {
    await acceptsConnections(port, child)
    const url = `https://localhost:${port}/`
    const contenders: Contender[] = [
      {
        name: 'wirepool',
        make: (protocol) => {
          const agent = new Agent({ proxy: squid.url, tls: { ca: certs.ca }, allowH2: protocol === 'h2', connections: CONCURRENCY, keepAliveTimeout: 60_000 })
          return {
            get: async (u) => {
              const res = await agent.request({ url: u })
              await res.body.arrayBuffer()
            },
            close: () => agent.close(),
          }
        },
      },
      {
        name: 'undici ProxyAgent',
        make: (protocol) => {
          // undici's ProxyAgent builds the in-tunnel TLS connector from requestTls: ALPN h2 has
          // to be asked for there (allowH2), and the clients must accept it (allowH2 too).
          const dispatcher = new ProxyAgent({
            uri: squid.url,
            requestTls: { ca: certs.ca, allowH2: protocol === 'h2' } as NonNullable<ProxyAgent.Options['requestTls']>,
            allowH2: protocol === 'h2',
            connections: CONCURRENCY,
            keepAliveTimeout: 60_000,
          })
          return {
            get: async (u) => {
              const res = await undiciRequest(u, { dispatcher })
              await res.body.arrayBuffer()
            },
            close: () => dispatcher.close(),
          }
        },
      },
    ]

    // Sanity: each contender really speaks the protocol it is measured on.
    const probe = new Agent({ proxy: squid.url, tls: { ca: certs.ca } })
    const probed = await probe.request({ url })
    await probed.body.text()
    await probe.close()
    if (probed.protocol !== 'h2') throw new Error(`expected h2 through squid, got ${probed.protocol}`)
    const undiciH2 = new ProxyAgent({ uri: squid.url, requestTls: { ca: certs.ca, allowH2: true } as NonNullable<ProxyAgent.Options['requestTls']>, allowH2: true })
    const undiciProbe = await undiciRequest(url, { dispatcher: undiciH2 })
    await undiciProbe.body.text()
    await undiciH2.close()
    const undiciVersion = String(undiciProbe.headers['x-http-version'])
    console.log(`undici ProxyAgent with allowH2 spoke HTTP/${undiciVersion} to the origin`)

    const rates = new Map<string, number[]>()
    for (let round = 0; round < ROUNDS; round++) {
      for (const protocol of ['h1', 'h2'] as const) {
        const order = round % 2 === 0 ? contenders : [...contenders].reverse()
        for (const c of order) {
          const client = c.make(protocol)
          await closedLoop(client.get, url, 0.5) // warm-up: tunnels open, JIT warm
          const rate = await closedLoop(client.get, url, SECONDS)
          await client.close()
          const key = `${protocol} ${c.name}`
          rates.set(key, [...(rates.get(key) ?? []), rate])
        }
      }
    }

    const setup = new Map<string, number[]>()
    for (let i = 0; i < FRESH_CLIENTS; i++) {
      for (const c of i % 2 === 0 ? contenders : [...contenders].reverse()) {
        const client = c.make('h1')
        const started = performance.now()
        await client.get(url)
        const elapsed = performance.now() - started
        await client.close()
        if (i > 0) setup.set(c.name, [...(setup.get(c.name) ?? []), elapsed])
      }
    }

    console.log(`\nbench:proxy — through squid (CONNECT), TLS to a node:http2 origin, c=${CONCURRENCY}, ${ROUNDS} rounds × ${SECONDS} s\n`)
    console.log('| protocol | wirepool req/s | undici ProxyAgent req/s | ratio (wirepool / undici) |')
    console.log('| --- | ---: | ---: | ---: |')
    for (const protocol of ['h1', 'h2'] as const) {
      const w = median(rates.get(`${protocol} wirepool`) ?? [0])
      const u = median(rates.get(`${protocol} undici ProxyAgent`) ?? [0])
      console.log(`| ${protocol} over CONNECT | ${w.toFixed(0)} | ${u.toFixed(0)} | ${(w / u).toFixed(2)} |`)
    }
    console.log(`\nTunnel set-up + first request (fresh client: TCP to squid, CONNECT, TLS with the origin, one GET), median of ${FRESH_CLIENTS - 1}:`)
    for (const c of contenders) console.log(`  ${c.name}: ${median(setup.get(c.name) ?? [0]).toFixed(2)} ms`)
  } finally {
    child.kill('SIGTERM')
    await squid.stop()
    await rm(dir, { recursive: true, force: true })
  }
}

await main()
