/**
 * Fault injection (issue #18): a TCP fault proxy (test/support/fault-proxy.ts) between the
 * pool and a real server, every fault kind × HTTP/1.1, HTTP/1.1 pipelined, h2c and h2 over TLS,
 * with a mixed GET/POST workload. For every request: the body is exact (sha256) or the error
 * is a typed WirepoolError; no POST reaches the server twice; every request settles within a
 * bound its deadlines give; after the faults the pool serves again; after close() no client
 * socket is left. Seeds are fixed and printed (FAULT_SEED replays another).
 */
import t from 'tap'
import { createHash } from 'node:crypto'
import http from 'node:http'
import http2 from 'node:http2'
import type { AddressInfo, Server } from 'node:net'
import { Pool, WirepoolError, type PoolOptions } from '../../src/index.js'
import { makeCertificates } from '../support/certs.js'
import { FAULT_KINDS, FaultProxy } from '../support/fault-proxy.js'
import { prng } from '../support/prng.js'

const SEED = Number(process.env.FAULT_SEED ?? 0x18fa17)
const PER_KIND = Number(process.env.FAULT_REQUESTS ?? 16)
/** Settling later than this is a hang: retries × (headers + body deadlines) + a drip, with room. */
const SETTLE_BOUND_MS = 12_000

/** The response body for request `id`: 0–16 KiB, its bytes derived from the id. */
function bodyFor(id: number): Buffer {
  const size = (id * 2654435761) % (16 * 1024)
  const body = Buffer.allocUnsafe(size)
  for (let i = 0; i < size; i++) body[i] = (id + i * 31) & 0xff
  return body
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

interface Upstream {
  port: number
  posts: Map<number, number>
  close(): Promise<void>
}

function handle(posts: Map<number, number>, method: string, path: string, reqBody: AsyncIterable<Buffer>, respond: (body: Buffer) => void): void {
  const id = Number(path.split('/')[2])
  void (async () => {
    for await (const _ of reqBody) {
      // (drained)
    }
    if (method === 'POST') posts.set(id, (posts.get(id) ?? 0) + 1)
    respond(bodyFor(id))
  })().catch(() => {})
}

let tlsCa = ''

async function upstream(kind: 'h1' | 'h2c' | 'h2'): Promise<Upstream> {
  const posts = new Map<number, number>()
  let server: Server
  const sessions = new Set<{ destroy(): void }>()
  if (kind === 'h1') {
    const s = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
      res.on('error', () => {})
      handle(posts, req.method ?? 'GET', req.url ?? '/', req, (body) => {
        res.setHeader('content-length', body.length)
        res.end(body)
      })
    })
    s.on('connection', (c) => sessions.add(c))
    server = s
  } else {
    let s: http2.Http2Server | http2.Http2SecureServer
    if (kind === 'h2c') s = http2.createServer()
    else {
      const certs = await makeCertificates()
      tlsCa = certs.ca
      s = http2.createSecureServer({ key: certs.key, cert: certs.cert })
    }
    s.on('session', (session) => sessions.add(session))
    s.on('stream', (stream, headers) => {
      stream.on('error', () => {})
      handle(posts, String(headers[':method']), String(headers[':path']), stream, (body) => {
        if (stream.destroyed || stream.closed) return
        stream.respond({ ':status': 200, 'content-length': body.length })
        stream.end(body)
      })
    })
    server = s as unknown as Server
  }
  server.on('error', () => {})
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  return {
    port: (server.address() as AddressInfo).port,
    posts,
    close: async () => {
      for (const s of sessions) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

interface Tally {
  requests: number
  ok: number
  typedErrors: number
  untyped: number
  wrongBodies: number
  hangs: number
  duplicatedPosts: number
  faults: number
}

const CONFIGS: Array<{ name: string; server: 'h1' | 'h2c' | 'h2'; options: PoolOptions }> = [
  { name: 'h1', server: 'h1', options: { connections: 4 } },
  { name: 'h1 pipelined', server: 'h1', options: { connections: 2, pipelining: 4 } },
  { name: 'h2c', server: 'h2c', options: { h2c: true, connections: 2 } },
  { name: 'h2 over TLS', server: 'h2', options: { connections: 2 } },
]

const totals: Tally = { requests: 0, ok: 0, typedErrors: 0, untyped: 0, wrongBodies: 0, hangs: 0, duplicatedPosts: 0, faults: 0 }
// Longer than tap's 30 s default per file: the suite is bounded by its own deadlines.
t.setTimeout(120_000)
t.comment(`fault seed 0x${SEED.toString(16)} (FAULT_SEED to replay another), ${PER_KIND} requests per fault kind per protocol`)

for (const [c, config] of CONFIGS.entries()) {
  t.test(config.name, async (t) => {
    const up = await upstream(config.server)
    t.teardown(() => up.close())
    const proxy = new FaultProxy({ upstreamPort: up.port, seed: SEED + c, rate: 0.6 })
    const port = await proxy.listen()
    t.teardown(() => proxy.close())
    const scheme = config.server === 'h2' ? 'https' : 'http'
    const tally: Tally = { requests: 0, ok: 0, typedErrors: 0, untyped: 0, wrongBodies: 0, hangs: 0, duplicatedPosts: 0, faults: 0 }
    const random = prng(SEED ^ (c + 1))
    let nextId = c * 100_000
    const perKind: string[] = []

    // One pool per fault kind: faults are drawn per connection, and a pool keeps its connections.
    for (const kind of FAULT_KINDS) {
      proxy.kinds = [kind]
      // Every new connection of the phase gets the fault (an HTTP/2 pool opens only one or two).
      proxy.rate = 1
      const pool = new Pool(`${scheme}://127.0.0.1:${port}`, {
        ...config.options,
        connectTimeout: 1000,
        headersTimeout: 1000,
        bodyTimeout: 1000,
        readIdleTimeout: 500,
        pingTimeout: 500,
        ...(scheme === 'https' ? { tls: { ca: tlsCa } } : {}),
      })
      t.teardown(() => pool.destroy())
      const one = async (): Promise<'ok' | 'typed' | 'untyped' | 'wrong' | 'hang'> => {
        const id = nextId++
        const isPost = random() < 0.3
        const attempt = (async (): Promise<'ok' | 'wrong'> => {
          const res = await pool.request(isPost ? { path: `/r/${id}`, method: 'POST', body: Buffer.alloc(1024, 0x70) } : { path: `/r/${id}` })
          const bytes = await res.body.bytes()
          return sha(bytes) === sha(bodyFor(id)) ? 'ok' : 'wrong'
        })()
        let timer: NodeJS.Timeout | undefined
        const bound = new Promise<'hang'>((resolve) => (timer = setTimeout(() => resolve('hang'), SETTLE_BOUND_MS)))
        try {
          const out = await Promise.race([attempt, bound])
          if (out === 'hang') attempt.catch(() => {})
          return out
        } catch (err) {
          return err instanceof WirepoolError ? 'typed' : 'untyped'
        } finally {
          clearTimeout(timer)
        }
      }
      const outcomes = await Promise.all(Array.from({ length: PER_KIND }, () => one()))
      const counts: Record<string, number> = {}
      for (const o of outcomes) {
        counts[o] = (counts[o] ?? 0) + 1
        tally.requests++
        if (o === 'ok') tally.ok++
        else if (o === 'typed') tally.typedErrors++
        else if (o === 'untyped') tally.untyped++
        else if (o === 'wrong') tally.wrongBodies++
        else tally.hangs++
      }
      perKind.push(`${kind} (${proxy.injected.get(kind) ?? 0}×): ${JSON.stringify(counts)}`)
      // The faults stop: the same pool serves again — at once, or once its deadlines found a
      // connection the fault had left as a black hole (a stall that already struck).
      proxy.heal()
      let rounds = 0
      let after: string[] = []
      while (rounds++ < 4) {
        after = await Promise.all(Array.from({ length: 5 }, () => one()))
        if (after.every((o) => o === 'ok')) break
      }
      t.same(after, Array(5).fill('ok'), `${kind}: after the faults the pool serves again (round ${rounds})`)
      await pool.close({ timeout: 5000 })
      // The proxy sees the client's sockets close (bounded wait: a FIN takes a turn of the loop).
      for (let i = 0; i < 200 && proxy.openClientSockets > 0; i++) await new Promise((r) => setTimeout(r, 10))
      t.equal(proxy.openClientSockets, 0, `${kind}: no socket left after close()`)
    }
    tally.faults = proxy.faults
    for (const line of perKind) t.comment(line)
    t.equal(proxy.injected.size, FAULT_KINDS.length, `${proxy.faults} faults injected, every kind`)
    t.equal(tally.untyped, 0, 'no untyped error')
    t.equal(tally.wrongBodies, 0, 'every body that arrived is exact (sha256)')
    t.equal(tally.hangs, 0, `every request settled within ${SETTLE_BOUND_MS} ms`)
    tally.duplicatedPosts = [...up.posts.values()].filter((n) => n > 1).length
    t.equal(tally.duplicatedPosts, 0, 'no POST reached the server twice')
    t.comment(`${config.name}: ${JSON.stringify(tally)}`)
    for (const key of Object.keys(totals) as Array<keyof Tally>) totals[key] += tally[key]
  })
}

t.teardown(() => {
  console.log(`# fault totals: ${JSON.stringify(totals)}`)
})
