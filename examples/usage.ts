/**
 * The README's "Usage" block, verbatim between the markers (test/adoption/readme-examples.test.ts
 * checks that it is), type-checked under --strict by `npm run typecheck`. The names the README
 * leaves to the reader are declared above the block.
 */
import * as fs from 'node:fs'

declare const myCaPem: string

// README ─────────────────────────────────────────────────────────────────────────────────
import { Agent, Pool, request, WebSocket } from 'wirepool'

// One-shot, on a process-wide default Agent
const res = await request('https://example.test/api?q=1')
console.log(res.status, res.protocol, res.headers['content-type'], await res.body.json())

// An Agent: one Pool per origin, shared TLS session cache, one set of figures
const agent = new Agent({ connections: 16, keepAliveTimeout: 10_000, tls: { ca: myCaPem } })
const r = await agent.request({
  url: 'https://127.0.0.1:8443/upload',
  method: 'PUT',
  headers: { 'content-type': 'application/octet-stream' },
  body: fs.createReadStream('big.bin'),       // streamed, with backpressure
  signal: AbortSignal.timeout(5000),
})
for await (const chunk of r.body) process.stdout.write(chunk)   // the socket/stream pauses when you do
console.log(await r.trailers, r.connection)    // { id, reused, tlsResumed, remoteAddress, protocol }

agent.on('connection', (e) => console.log(`#${e.id} ${e.from} → ${e.to} (${e.reason})`))
agent.on('retry', (e) => console.log(`retry ${e.attempt} of ${e.path}: ${e.reason} in ${e.delayMs} ms`))
console.log(agent.stats().origins['https://127.0.0.1:8443'])
console.log(agent.metrics())   // Prometheus text format 0.0.4
await agent.close()            // finish in-flight requests, then close every socket

// One origin: HTTP/2 with prior knowledge, or HTTP/1.1 pipelining
const h2 = new Pool('http://127.0.0.1:8080', { h2c: true })
const h1 = new Pool('http://127.0.0.1:8081', { connections: 1, pipelining: 10 })
await h1.connect(1)            // warm-up: open and handshake ahead of traffic

// WebSocket (WHATWG shape), over the pool's TLS, sessions and pins
const ws = new WebSocket('wss://127.0.0.1:8443/chat', { agent, protocols: ['chat'], perMessageDeflate: true })
ws.addEventListener('message', (e) => console.log(e.data))
ws.addEventListener('open', () => ws.send('hello'))
for await (const message of ws) { /* … or iterate */ }
// ─────────────────────────────────────────────────────────────────────────────── README
