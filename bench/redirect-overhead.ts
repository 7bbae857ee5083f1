/**
 * What following redirects costs a request that is not redirected: client CPU µs per request
 * for `agent.request()`, `agent.compose().request()` (a composition without interceptors),
 * `agent.compose(redirect()).request()`, `agent.compose(cache()).request()` (a response the
 * cache cannot keep) and `agent.request({ redirect: 'follow' })`, against a local HTTP/1.1 server (bench/h1-server.ts,
 * node:http in a process of its own, pinned to core 0 when taskset is there) answering 5 bytes.
 * The variants take turns, several rounds each; the table gives each one's median and its
 * ratio to the plain request, measured in the same run.
 *
 *   node --import tsx bench/redirect-overhead.ts [requests per round, default 20000]
 */
import { Agent, cache, redirect, type Response } from '../src/index.js'
import { killChildren, pinned, startServerChild } from './children.js'

const REQUESTS = Number(process.argv[2] ?? 20_000)
const CONCURRENCY = 10
const ROUNDS = 5
const WARM_UP = 3_000

const server = await startServerChild<{ port: number }>(pinned(0, process.execPath, ['--import', 'tsx', new URL('./h1-server.ts', import.meta.url).pathname]))
const url = `http://127.0.0.1:${server.info.port}/hello`
const agent = new Agent({ connections: CONCURRENCY })
const bare = agent.compose()
const composed = agent.compose(redirect())
// /hello's response has no lifetime and no validator: cache() stores nothing (policy.ts
// mayStore), so every request goes to the server — the cost of a cache on a response it
// cannot keep (as for a no-store one).
const cached = agent.compose(cache())

type Variant = { name: string; send: () => Promise<Response> }
const variants: Variant[] = [
  { name: 'agent.request', send: () => agent.request({ url }) },
  { name: 'compose().request', send: () => bare.request({ url }) },
  { name: 'compose(redirect()).request', send: () => composed.request({ url }) },
  { name: 'compose(cache()).request', send: () => cached.request({ url }) },
  { name: "agent.request({ redirect: 'follow' })", send: () => agent.request({ url, redirect: 'follow' }) },
]

/** `count` requests, `CONCURRENCY` in flight; returns client CPU µs per request and wall ms. */
async function run(variant: Variant, count: number): Promise<{ cpuUs: number; wallMs: number }> {
  let started = 0
  const cpu = process.cpuUsage()
  const t0 = performance.now()
  const worker = async (): Promise<void> => {
    while (started < count) {
      started++
      const res = await variant.send()
      if (res.status !== 200) throw new Error(`${variant.name}: status ${res.status}`)
      await res.body.text()
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
  const used = process.cpuUsage(cpu)
  return { cpuUs: (used.user + used.system) / count, wallMs: performance.now() - t0 }
}

function median(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y)
  return sorted[Math.floor(sorted.length / 2)] as number
}

try {
  for (const v of variants) await run(v, WARM_UP)
  const cpu = new Map<string, number[]>(variants.map((v) => [v.name, []]))
  const rps = new Map<string, number[]>(variants.map((v) => [v.name, []]))
  for (let round = 0; round < ROUNDS; round++) {
    // Rotated order each round, so no variant always runs first (or after a GC-heavy one).
    for (let i = 0; i < variants.length; i++) {
      const v = variants[(i + round) % variants.length] as Variant
      const { cpuUs, wallMs } = await run(v, REQUESTS)
      cpu.get(v.name)?.push(cpuUs)
      rps.get(v.name)?.push((REQUESTS / wallMs) * 1000)
    }
  }
  const base = median(cpu.get('agent.request') ?? [])
  console.log(`redirect overhead: ${REQUESTS} requests x ${ROUNDS} rounds, ${CONCURRENCY} in flight, h1, 5 B body (Node ${process.version})`)
  console.log('| variant | client CPU µs/req (median) | vs agent.request | req/s (median) |')
  console.log('| --- | --- | --- | --- |')
  for (const v of variants) {
    const us = median(cpu.get(v.name) ?? [])
    console.log(`| ${v.name} | ${us.toFixed(2)} | ${(us / base).toFixed(3)} | ${median(rps.get(v.name) ?? []).toFixed(0)} |`)
  }
} finally {
  await agent.destroy()
  await server.stop()
  killChildren()
}
