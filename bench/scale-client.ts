/**
 * The wirepool side of the scale benchmark (bench/scale.ts), alone in its process with a
 * raised open-files limit:
 *
 *   node --expose-gc --import tsx bench/scale-client.ts <port> <n>
 *
 * Opens `n` HTTP/1.1 connections to the idle server with `pool.connect(n)`, checks that the
 * server holds them all, sends one request on each at once (every one must land on a
 * connection of its own, none may open a new one), then closes the pool. Prints one JSON
 * `ScaleResult` line with times, memory and every error seen.
 */
import { readFileSync } from 'node:fs'
import http from 'node:http'
import { performance } from 'node:perf_hooks'
import { setImmediate as nextTurn } from 'node:timers/promises'

export interface ScaleMemory {
  readonly rss: number
  readonly heapUsed: number
  readonly external: number
}

export interface ScaleResult {
  readonly connections: number
  /** The soft open-files limit the process ran with. */
  readonly fdLimit: number | null
  readonly openMs: number
  readonly requestsMs: number
  readonly closeMs: number
  /** Connections the server counted once the pool said they were open. */
  readonly serverOpen: number
  readonly idleAfterOpen: number
  readonly responsesOk: number
  readonly connectionsCreated: number
  /** Connections that served exactly one request. */
  readonly servedOne: number
  readonly errors: number
  readonly firstErrors: readonly string[]
  readonly memory: { readonly start: ScaleMemory; readonly open: ScaleMemory; readonly afterRequests: ScaleMemory; readonly closed: ScaleMemory }
}

const HOST = '127.0.0.1'

async function settledMemory(): Promise<ScaleMemory> {
  const gc = globalThis.gc
  if (gc === undefined) throw new Error('run with node --expose-gc')
  for (let i = 0; i < 3; i++) {
    gc()
    await nextTurn()
  }
  const { rss, heapUsed, external } = process.memoryUsage()
  return { rss, heapUsed, external }
}

/** `Max open files` soft limit from /proc (Linux); null elsewhere. */
function fdLimit(): number | null {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'))
    const soft = line === undefined ? NaN : Number(line.split(/\s{2,}/)[1])
    return Number.isFinite(soft) ? soft : null
  } catch {
    return null
  }
}

function serverCount(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: HOST, port, path: '/connections', agent: false }, (res) => {
        let body = ''
        res.setEncoding('utf8').on('data', (text: string) => (body += text))
        // The /connections request holds one connection of its own.
        res.once('end', () => resolve(((JSON.parse(body) as { plain: number }).plain ?? 0) - 1))
        res.once('error', reject)
      })
      .once('error', reject)
  })
}

async function main(argv: readonly string[]): Promise<void> {
  const port = Number(argv[0])
  const n = Number(argv[1])
  if (!Number.isInteger(port) || !Number.isInteger(n) || n < 1) throw new Error('usage: scale-client.ts <port> <n>')
  const built = new URL('../dist/index.js', import.meta.url).href
  const { Pool } = (await import(built)) as typeof import('../src/index.js')
  const errors: string[] = []
  const fail = (err: unknown): void => {
    errors.push(err instanceof Error ? `${(err as { code?: string }).code ?? err.name}: ${err.message}` : String(err))
  }
  // Idle eviction far beyond the run: the benchmark holds every connection on purpose.
  const pool = new Pool(`http://${HOST}:${port}`, { connections: n, keepAliveTimeout: 600_000 })
  const start = await settledMemory()

  let t = performance.now()
  await pool.connect(n).catch(fail)
  const openMs = performance.now() - t
  const idleAfterOpen = pool.connections().filter((c) => c.state === 'idle').length
  const serverOpen = await serverCount(port)
  const open = await settledMemory()

  t = performance.now()
  const outcomes = await Promise.all(
    Array.from({ length: n }, async () => {
      try {
        const res = await pool.request({ path: '/hello', method: 'GET' })
        const body = await res.body.text()
        if (res.status !== 200 || body !== 'hello') throw new Error(`status ${res.status}, body ${JSON.stringify(body.slice(0, 40))}`)
        return true
      } catch (err) {
        fail(err)
        return false
      }
    }),
  )
  const requestsMs = performance.now() - t
  const snapshots = pool.connections()
  const servedOne = snapshots.filter((c) => c.requests === 1).length
  const connectionsCreated = pool.stats().connectionsCreated
  const afterRequests = await settledMemory()

  t = performance.now()
  await pool.close().catch(fail)
  const closeMs = performance.now() - t
  const closed = await settledMemory()

  const result: ScaleResult = {
    connections: n,
    fdLimit: fdLimit(),
    openMs,
    requestsMs,
    closeMs,
    serverOpen,
    idleAfterOpen,
    responsesOk: outcomes.filter(Boolean).length,
    connectionsCreated,
    servedOne,
    errors: errors.length,
    firstErrors: [...new Set(errors)].slice(0, 5),
    memory: { start, open, afterRequests, closed },
  }
  process.stdout.write(`${JSON.stringify(result)}\n`)
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
    process.exit(1)
  },
)
