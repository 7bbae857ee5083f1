/**
 * `npm start`: the main job on a fresh machine. Makes a CA and a server certificate, starts
 * an HTTPS server in a child process, drives it through a wirepool Agent and prints what
 * happened to every connection: protocol, TLS version and resumption, reuse, timings.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { Agent, type ConnectionEvent } from '../src/index.js'
import { makeCertificates } from '../test/support/certs.js'

const started = performance.now()
const ms = (n: number) => `${n.toFixed(2)} ms`

const certs = await makeCertificates()
console.log(`certificates   CA + server certificate for 127.0.0.1 made in ${ms(performance.now() - started)}`)

const serverPath = fileURLToPath(new URL('./demo-server.ts', import.meta.url))
const child = spawn(process.execPath, ['--import', 'tsx', serverPath], {
  env: { ...process.env, WIREPOOL_DEMO_KEY: certs.key, WIREPOOL_DEMO_CERT: certs.cert },
  stdio: ['ignore', 'pipe', 'inherit'],
})
const stopServer = () => {
  if (child.exitCode === null) child.kill('SIGTERM')
}
process.on('exit', stopServer)
const [line] = (await once(createInterface({ input: child.stdout }), 'line')) as [string]
const { port } = JSON.parse(line) as { port: number }
const origin = `https://127.0.0.1:${port}`
console.log(`server         node:http2 (h2 + http/1.1 by ALPN) in child process ${child.pid}, ${origin}`)

const agent = new Agent({ connections: 10, tls: { ca: certs.ca } })
const h1Agent = new Agent({ connections: 10, tls: { ca: certs.ca }, allowH2: false })
const events: ConnectionEvent[] = []
agent.on('connection', (event) => events.push(event))

try {
  // 1. A cold request: TCP connect + full TLS handshake.
  let t0 = performance.now()
  let res = await agent.request({ url: `${origin}/` })
  const text = await res.body.text()
  console.log(
    `cold request   ${res.status} ${JSON.stringify(text)} over ${res.protocol}, connection #${res.connection.id}, ` +
      `reused=${res.connection.reused}, tlsResumed=${res.connection.tlsResumed}, ${ms(performance.now() - t0)}`,
  )

  // 2. Sequential requests reuse the same keep-alive connection.
  t0 = performance.now()
  const ids = new Set<number>()
  for (let i = 0; i < 100; i++) {
    res = await agent.request({ url: `${origin}/` })
    await res.body.text()
    ids.add(res.connection.id)
  }
  const seqMs = performance.now() - t0
  console.log(`sequential     100 requests on ${ids.size} connection(s), ${ms(seqMs / 100)} each, ${Math.round(100_000 / seqMs)} req/s`)

  // 3. A concurrent burst: HTTP/2 multiplexes it over the one connection.
  t0 = performance.now()
  const burst = await Promise.all(
    Array.from({ length: 1000 }, async () => {
      const r = await agent.request({ url: `${origin}/` })
      await r.body.arrayBuffer()
      return r.connection
    }),
  )
  const burstMs = performance.now() - t0
  console.log(
    `burst h2       1000 concurrent requests on ${new Set(burst.map((c) => c.id)).size} connection(s) in ${ms(burstMs)}, ${Math.round(1_000_000 / burstMs)} req/s`,
  )

  // 3b. The same burst over HTTP/1.1: up to 10 connections; after one warm connection has
  // cached a TLS session, the nine others resume it.
  await h1Agent.preconnect(origin, 1)
  t0 = performance.now()
  const burst1 = await Promise.all(
    Array.from({ length: 1000 }, async () => {
      const r = await h1Agent.request({ url: `${origin}/` })
      await r.body.arrayBuffer()
      return r.connection
    }),
  )
  const burst1Ms = performance.now() - t0
  const h1Stats = h1Agent.stats().origins[origin]
  console.log(
    `burst http/1.1 1000 concurrent requests on ${new Set(burst1.map((c) => c.id)).size} connections in ${ms(burst1Ms)}, ` +
      `${Math.round(1_000_000 / burst1Ms)} req/s; TLS handshakes ${h1Stats?.tlsHandshakes}, resumed ${h1Stats?.tlsResumed}`,
  )

  // 4. A 1 MiB body, streamed.
  t0 = performance.now()
  res = await agent.request({ url: `${origin}/1mb` })
  let bytes = 0
  for await (const chunk of res.body) bytes += (chunk as Buffer).length
  const bigMs = performance.now() - t0
  console.log(`1 MiB body     ${bytes} bytes in ${ms(bigMs)} (${((bytes / bigMs) * 1000 / 1e6).toFixed(0)} MB/s)`)

  const stats = agent.stats().origins[origin]
  if (stats === undefined) throw new Error('no stats for the origin')
  console.log('\nconnections')
  const opened = events.filter((e) => e.from === 'connecting' && e.to === 'idle')
  console.log(`  opened ${stats.connectionsCreated} (${JSON.stringify(stats.protocols)}), TLS handshakes ${stats.tlsHandshakes}, resumed ${stats.tlsResumed}`)
  const first = agent.pool(origin).connections()[0]
  console.log(
    `  first connection ready in ${opened[0] === undefined ? '?' : ms(opened[0].age)}: TCP ${ms(first?.tcpMs ?? 0)}, TLS ${ms(first?.tlsMs ?? 0)}, ` +
      `certificate expires in ${first?.certificateDaysLeft} days`,
  )
  console.log(`  states now: ${JSON.stringify(stats.connections)}`)
  console.log('\nrequests')
  console.log(`  ${stats.requests} sent, ${stats.reused} on reused connections (reuse rate ${stats.reuseRate.toFixed(3)}), ${stats.retries} retried`)
  console.log(`  acquire p50 ${ms(stats.acquireMs.p50)}, p99 ${ms(stats.acquireMs.p99)}, max ${ms(stats.acquireMs.max)}`)
  console.log('\nlifecycle of the first connection (idle ⇄ busy round trips folded)')
  let folded = 0
  for (const e of events.filter((ev) => ev.id === (events[0]?.id ?? 1))) {
    const roundTrip = (e.from === 'idle' && e.to === 'busy') || (e.from === 'busy' && e.to === 'idle')
    if (roundTrip && folded++ > 1) continue
    if (!roundTrip && folded > 2) console.log(`  … ${folded - 2} more idle ⇄ busy transitions`)
    if (!roundTrip) folded = 0
    console.log(`  +${ms(e.age).padStart(10)}  ${String(e.from ?? '-').padEnd(10)} → ${e.to.padEnd(10)} (${e.reason})`)
  }
  if (folded > 2) console.log(`  … ${folded - 2} more idle ⇄ busy transitions`)
} finally {
  await agent.close()
  await h1Agent.close()
  stopServer()
}
const closedEvents = events.filter((e) => e.to === 'closed').length
console.log(`\nclosed         agent closed, ${closedEvents} connections closed gracefully; total ${ms(performance.now() - started)}`)
