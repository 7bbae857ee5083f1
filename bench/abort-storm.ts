/**
 * Abort storm (issue #18): 10,000 requests, 100 in flight at a time, ~30 % of them aborted a
 * random 0–3 ms after they start, against a local server in a child process that answers each
 * request after 0–20 ms (STORM_ANSWER_MS) with 1 KiB. Contenders: wirepool over ONE h2c connection and over
 * HTTP/1.1 (100 connections), node:http2 (one session) and undici (HTTP/1.1, 100 connections).
 * Prints wall time and outcomes per contender; seeds are fixed (printed).
 *
 *   flock /work/bench.lock npm run bench:abort-storm      (≤ 60 s)
 */
import { fork, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import http from 'node:http'
import http2 from 'node:http2'
import { fileURLToPath } from 'node:url'
import { Pool } from '../src/index.js'

const TOTAL = Number(process.env.STORM_REQUESTS ?? 10_000)
const IN_FLIGHT = 100
const ABORT_RATE = 0.3
/** The server answers each request after 0…ANSWER_MAX_MS ms. */
const ANSWER_MAX_MS = Number(process.env.STORM_ANSWER_MS ?? 20)
/** The h2c server's SETTINGS_MAX_CONCURRENT_STREAMS (100 as nghttp2/h2o; Go 250, nginx 128). */
const PEER_STREAMS = Number(process.env.STORM_PEER_STREAMS ?? 100)
/** wirepool's own maxConcurrentStreams (unset: its default, 1000). */
const OWN_CAP = process.env.STORM_OWN_CAP === undefined ? undefined : Number(process.env.STORM_OWN_CAP)
/** STORM_ONLY=h2: only the two HTTP/2 contenders. */
const ONLY_H2 = process.env.STORM_ONLY === 'h2'
const SEED = 0x5eed18
/** A contender still running after this long stops starting requests (the row says how many settled). */
const CAP_MS = 12_000
const BODY = Buffer.alloc(1024, 0x62)

function prng(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

// ── server (child) ─────────────────────────────────────────────────────────────────────
if (process.argv[2] === '--server') {
  const kind = process.argv[3]
  // The parent went away (finished, or killed): so does the server.
  process.on('disconnect', () => process.exit(0))
  const rand = prng(SEED ^ 0xff)
  const answer = (send: () => void): void => void setTimeout(send, Math.floor(rand() * (ANSWER_MAX_MS + 1)))
  const server =
    kind === 'h2c'
      ? http2.createServer({ settings: { maxConcurrentStreams: PEER_STREAMS } }).on('stream', (stream) => {
          stream.on('error', () => {})
          answer(() => {
            if (stream.destroyed || stream.closed) return
            stream.respond({ ':status': 200, 'content-length': BODY.length })
            stream.end(BODY)
          })
        })
      : http.createServer({ keepAliveTimeout: 60_000 }, (_req, res) => {
          res.on('error', () => {})
          answer(() => {
            if (res.destroyed) return
            res.setHeader('content-length', BODY.length)
            res.end(BODY)
          })
        })
  server.on('connection', (s: import('node:net').Socket) => s.on('error', () => {}))
  server.listen(0, '127.0.0.1', () => process.send?.((server.address() as import('node:net').AddressInfo).port))
} else {
  await main()
}

interface Outcome {
  name: string
  ms: number
  /** Requests settled (fewer than TOTAL when the contender hit the time cap). */
  settled: number
  ok: number
  aborted: number
  other: number
}

async function startServer(kind: 'h1' | 'h2c'): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(fileURLToPath(import.meta.url), ['--server', kind], { execArgv: ['--import', 'tsx'] })
  const [port] = (await once(child, 'message')) as [number]
  return { child, port }
}

/** Run TOTAL requests, IN_FLIGHT at a time; `one(abortAfterMs)` resolves 'ok' | 'aborted' | 'other'. */
async function storm(name: string, one: (abortAfter: number) => Promise<'ok' | 'aborted' | 'other'>): Promise<Outcome> {
  const rand = prng(SEED)
  const out: Outcome = { name, ms: 0, settled: 0, ok: 0, aborted: 0, other: 0 }
  let next = 0
  const started = performance.now()
  const deadline = started + CAP_MS
  async function worker(): Promise<void> {
    while (next < TOTAL && performance.now() < deadline) {
      next++
      const abortAfter = rand() < ABORT_RATE ? rand() * 3 : -1
      out[await one(abortAfter)]++
      out.settled++
    }
  }
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker))
  out.ms = performance.now() - started
  console.log(`${out.name.padEnd(34)} ${out.ms.toFixed(0).padStart(9)} ${String(out.settled).padStart(8)} ${String(out.ok).padStart(6)} ${String(out.aborted).padStart(8)} ${String(out.other).padStart(6)}`)
  return out
}

function signalAfter(ms: number): AbortSignal | undefined {
  if (ms < 0) return undefined
  const ac = new AbortController()
  setTimeout(() => ac.abort(), ms)
  return ac.signal
}

async function wirepool(name: string, origin: string, options: ConstructorParameters<typeof Pool>[1]): Promise<Outcome> {
  const pool = new Pool(origin, options)
  const result = await storm(name, async (abortAfter) => {
    const signal = signalAfter(abortAfter)
    try {
      const res = await pool.request({ path: '/', ...(signal === undefined ? {} : { signal }) })
      await res.body.bytes()
      return 'ok'
    } catch (err) {
      return (err as { code?: string }).code === 'WP_ABORTED' ? 'aborted' : 'other'
    }
  })
  await pool.close({ timeout: 2000 })
  return result
}

async function nodeHttp2(origin: string): Promise<Outcome> {
  // A session the server closes (node's own server sends GOAWAY ENHANCE_YOUR_CALM to a client
  // that resets too fast) is replaced, and counted.
  let session: http2.ClientHttp2Session | undefined
  let sessions = 0
  async function live(): Promise<http2.ClientHttp2Session> {
    if (session !== undefined && !session.closed && !session.destroyed) return session
    const s = http2.connect(origin)
    session = s
    sessions++
    s.on('error', () => {})
    s.on('goaway', () => {})
    await once(s, 'connect')
    return s
  }
  const result = await storm('node:http2 (1 session at a time)', async (abortAfter) => {
    let s: http2.ClientHttp2Session
    try {
      s = await live()
    } catch {
      return 'other'
    }
    return new Promise((resolve) => {
      let req: http2.ClientHttp2Stream
      try {
        req = s.request({ ':path': '/' })
      } catch {
        resolve('other')
        return
      }
      let done = false
      const finish = (what: 'ok' | 'aborted' | 'other'): void => {
        if (done) return
        done = true
        resolve(what)
      }
      if (abortAfter >= 0) setTimeout(() => {
        if (done) return
        req.close(http2.constants.NGHTTP2_CANCEL)
        finish('aborted')
      }, abortAfter)
      req.on('error', () => finish('other'))
      req.on('close', () => finish('other'))
      req.on('data', () => {})
      req.on('end', () => finish('ok'))
    })
  })
  console.log(`  (node:http2 used ${sessions} session(s))`)
  session?.close()
  return result
}

async function undiciH1(origin: string): Promise<Outcome> {
  const undici = await import('undici')
  const pool = new undici.Pool(origin, { connections: IN_FLIGHT })
  const result = await storm('undici (h1, 100 connections)', async (abortAfter) => {
    const signal = signalAfter(abortAfter)
    try {
      const res = await pool.request({ path: '/', method: 'GET', ...(signal === undefined ? {} : { signal }) })
      await res.body.arrayBuffer()
      return 'ok'
    } catch (err) {
      const name = (err as { name?: string; code?: string }).name
      return name === 'AbortError' || (err as { code?: string }).code === 'UND_ERR_ABORTED' ? 'aborted' : 'other'
    }
  })
  await pool.close()
  return result
}

async function main(): Promise<void> {
  console.log(`abort storm: ${TOTAL} requests, ${IN_FLIGHT} in flight, ${ABORT_RATE * 100} % aborted 0–3 ms in, answers after 0–${ANSWER_MAX_MS} ms, h2 peer MAX_CONCURRENT_STREAMS ${PEER_STREAMS}, seed 0x${SEED.toString(16)}`)
  console.log('contender                          time (ms)  settled    ok   aborted  other')
  const results: Outcome[] = []
  const h2 = await startServer('h2c')
  const h2origin = `http://127.0.0.1:${h2.port}`
  results.push(await wirepool('wirepool h2c (1 connection)', h2origin, { h2c: true, connections: 1, ...(OWN_CAP === undefined ? {} : { maxConcurrentStreams: OWN_CAP }) }))
  results.push(await nodeHttp2(h2origin))
  h2.child.kill()
  if (ONLY_H2) return
  const h1 = await startServer('h1')
  const h1origin = `http://127.0.0.1:${h1.port}`
  results.push(await wirepool('wirepool h1 (100 connections)', h1origin, { connections: IN_FLIGHT }))
  results.push(await undiciH1(h1origin))
  h1.child.kill()
  const slowest = results.reduce((a, b) => (a.settled / a.ms < b.settled / b.ms ? a : b))
  console.log(`slowest (requests per second): ${slowest.name}`)
}
