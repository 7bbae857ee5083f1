/**
 * Embedding benchmark (`npm run bench:adapters`): undici's own `request()` and `fetch()`
 * on undici's Agent vs the same calls on `WirepoolDispatcher`, against one node:http server
 * in a process of its own (bench/h1-server.ts, pinned to core 0 when taskset exists).
 * Contenders alternate inside each round; medians of rounds and the ratio measured in the
 * same run are reported (absolute numbers drift on a shared machine).
 *
 *   BENCH_DURATION=2 BENCH_ROUNDS=3 BENCH_CONCURRENCY=16 npm run bench:adapters
 *
 * HTTP/1.1 only today: the issue asks for HTTP/2 too, which needs the h2 engine in the
 * pool and an h2 bench server; the scenario table is where it goes.
 */
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import * as undici from 'undici'
import { WirepoolDispatcher } from '../src/adapters/undici.js'
import { canPin, killChildren, pinned, startChild } from './children.js'
import { formatNumber, formatRatio, formatTable, median, ratio } from './table.js'

const SERVER_SCRIPT = fileURLToPath(new URL('./h1-server.ts', import.meta.url))
const TSX = import.meta.resolve('tsx')

type Api = 'request' | 'fetch'
type Backend = 'undici' | 'wirepool'

interface Case {
  readonly name: string
  readonly api: Api
  readonly path: string
}

const CASES: readonly Case[] = [
  { name: 'h1_request_body5', api: 'request', path: '/hello' },
  { name: 'h1_fetch_body5', api: 'fetch', path: '/hello' },
  { name: 'h1_request_body1m', api: 'request', path: '/1m' },
  { name: 'h1_fetch_body1m', api: 'fetch', path: '/1m' },
]

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, got ${raw}`)
  return value
}

const DURATION_MS = envNumber('BENCH_DURATION', 2) * 1000
const ROUNDS = envNumber('BENCH_ROUNDS', 3)
const CONCURRENCY = envNumber('BENCH_CONCURRENCY', 16)
/** Both backends get the same connection budget. */
const CONNECTIONS = 8

async function startServer(): Promise<{ origin: string; stop: () => Promise<void> }> {
  const child = startChild(pinned(0, process.execPath, ['--import', TSX, SERVER_SCRIPT]))
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })
  const [line] = (await once(lines, 'line')) as [string]
  lines.close()
  const { port } = JSON.parse(line) as { port: number }
  return {
    origin: `http://127.0.0.1:${port}`,
    stop: async () => {
      child.kill('SIGTERM')
      await once(child, 'exit')
    },
  }
}

function makeDispatcher(backend: Backend): undici.Dispatcher {
  return backend === 'undici'
    ? new undici.Agent({ connections: CONNECTIONS })
    : new WirepoolDispatcher({ connections: CONNECTIONS, decompress: false })
}

async function fetchOne(api: Api, url: string, dispatcher: undici.Dispatcher): Promise<number> {
  if (api === 'request') {
    const res = await undici.request(url, { dispatcher })
    return (await res.body.arrayBuffer()).byteLength
  }
  const res = await undici.fetch(url, { dispatcher })
  return (await res.arrayBuffer()).byteLength
}

/** Closed loops for DURATION_MS; requests per second. */
async function run(c: Case, backend: Backend, origin: string): Promise<number> {
  const dispatcher = makeDispatcher(backend)
  const url = `${origin}${c.path}`
  // Warm the connections before the clock starts.
  await Promise.all(Array.from({ length: CONCURRENCY }, () => fetchOne(c.api, url, dispatcher)))
  let done = 0
  const deadline = performance.now() + DURATION_MS
  const started = performance.now()
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < deadline) {
        await fetchOne(c.api, url, dispatcher)
        done++
      }
    }),
  )
  const elapsed = performance.now() - started
  await dispatcher.close()
  return (done * 1000) / elapsed
}

async function main(): Promise<void> {
  const server = await startServer()
  try {
    const rows: string[][] = []
    for (const c of CASES) {
      const rates: Record<Backend, number[]> = { undici: [], wirepool: [] }
      for (let round = 0; round < ROUNDS; round++) {
        // Alternate which backend goes first so warm-up effects do not favour one side.
        const order: Backend[] = round % 2 === 0 ? ['undici', 'wirepool'] : ['wirepool', 'undici']
        for (const backend of order) rates[backend].push(await run(c, backend, server.origin))
      }
      const u = median(rates.undici)
      const w = median(rates.wirepool)
      rows.push([c.name, formatNumber(u), formatNumber(w), formatRatio(ratio(w, u))])
    }
    console.log(`undici Agent vs WirepoolDispatcher — ${CONCURRENCY} in flight, ${CONNECTIONS} connections, ${ROUNDS}×${DURATION_MS / 1000}s rounds, medians`)
    if (!canPin) console.log('(taskset not installed: server and client are not pinned to cores)')
    console.log(formatTable(['case', 'undici Agent req/s', 'WirepoolDispatcher req/s', 'wirepool / undici'], rows))
  } finally {
    await server.stop()
  }
}

main().catch((err: unknown) => {
  killChildren()
  console.error(err)
  process.exitCode = 1
})
