/**
 * Soak (issue #18): many requests over HTTP/1.1 and h2c against local servers (a child
 * process), the client's heap after GC sampled at 10 %, 50 % and 100 % of the run; growth
 * from the 10 % sample to the end must stay ≤ 1 MiB. Every response body is checked; any
 * failed request is counted and fails the run.
 *
 *   npm run soak                         1,000,000 requests (half h1, half h2c)
 *   SOAK_SECONDS=30 npm run soak          time-bound (the CI version, test/faults/soak.test.ts)
 *   SOAK_REQUESTS=200000 npm run soak
 *
 * Needs --expose-gc (the npm script passes it).
 */
import { fork } from 'node:child_process'
import { once } from 'node:events'
import http from 'node:http'
import http2 from 'node:http2'
import { fileURLToPath } from 'node:url'
import { Pool } from '../src/index.js'

const BODY = Buffer.alloc(2048, 0x73)
const IN_FLIGHT = 64
const LIMIT_BYTES = 1024 * 1024

if (process.argv[2] === '--server') {
  process.on('disconnect', () => process.exit(0))
  const h1 = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    req.resume()
    req.on('end', () => {
      res.setHeader('content-length', BODY.length)
      res.end(BODY)
    })
  })
  const h2 = http2.createServer({ settings: { maxConcurrentStreams: 256 } })
  h2.on('stream', (stream) => {
    stream.on('error', () => {})
    stream.resume()
    stream.on('end', () => {
      stream.respond({ ':status': 200, 'content-length': BODY.length })
      stream.end(BODY)
    })
  })
  h1.listen(0, '127.0.0.1', () => {
    h2.listen(0, '127.0.0.1', () => {
      process.send?.([(h1.address() as import('node:net').AddressInfo).port, (h2.address() as import('node:net').AddressInfo).port])
    })
  })
} else {
  const code = await main()
  process.exit(code)
}

function heapAfterGc(): number {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) throw new Error('run with --expose-gc (npm run soak does)')
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

async function main(): Promise<number> {
  const seconds = process.env.SOAK_SECONDS === undefined ? undefined : Number(process.env.SOAK_SECONDS)
  const total = seconds === undefined ? Number(process.env.SOAK_REQUESTS ?? 1_000_000) : Infinity
  const child = fork(fileURLToPath(import.meta.url), ['--server'], { execArgv: ['--import', 'tsx'] })
  const [[h1Port, h2Port]] = (await once(child, 'message')) as [[number, number]]
  const pools = [new Pool(`http://127.0.0.1:${h1Port}`, { connections: 16 }), new Pool(`http://127.0.0.1:${h2Port}`, { h2c: true })]
  const post = Buffer.alloc(512, 0x70)
  let started = 0
  let done = 0
  let failed = 0
  let wrongBody = 0
  const samples: Array<[label: string, bytes: number]> = []
  const marks = [0.1, 0.5, 1]
  const t0 = performance.now()
  const progress = (): number => (seconds === undefined ? done / total : (performance.now() - t0) / (seconds * 1000))
  const more = (): boolean => (seconds === undefined ? started < total : performance.now() - t0 < seconds * 1000)

  async function worker(w: number): Promise<void> {
    while (more()) {
      const n = started++
      const pool = pools[(n + w) % 2]!
      try {
        const res = await pool.request(n % 10 === 0 ? { path: '/p', method: 'POST', body: post } : { path: `/g${n % 100}` })
        const bytes = await res.body.bytes()
        if (bytes.length !== BODY.length || bytes[0] !== 0x73) wrongBody++
      } catch {
        failed++
      }
      done++
      // Sample between requests, while this worker holds nothing (the others are in flight:
      // the samples compare like with like).
      while (marks.length > 1 && progress() >= marks[0]!) {
        const mark = marks.shift()!
        samples.push([`${mark * 100} %`, heapAfterGc()])
      }
    }
  }
  await Promise.all(Array.from({ length: IN_FLIGHT }, (_, w) => worker(w)))
  await Promise.all(pools.map((p) => p.close({ timeout: 5000 })))
  samples.push(['100 %', heapAfterGc()])
  child.kill()
  const elapsed = (performance.now() - t0) / 1000
  const first = samples[0]?.[1] ?? 0
  const last = samples[samples.length - 1]![1]
  const growth = last - first
  console.log(`soak: ${done} requests (h1 + h2c, 10 % POST) in ${elapsed.toFixed(1)} s, ${(done / elapsed).toFixed(0)} req/s`)
  console.log(`failed: ${failed}, wrong bodies: ${wrongBody}`)
  for (const [label, bytes] of samples) console.log(`heap after GC at ${label.padStart(6)}: ${(bytes / 1024 / 1024).toFixed(2)} MiB`)
  console.log(`heap growth 10 % → 100 %: ${(growth / 1024).toFixed(0)} KiB (limit ${LIMIT_BYTES / 1024} KiB)`)
  const ok = failed === 0 && wrongBody === 0 && growth <= LIMIT_BYTES
  console.log(ok ? 'soak: PASS' : 'soak: FAIL')
  return ok ? 0 : 1
}
