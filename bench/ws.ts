/**
 * WebSocket benchmark (`npm run bench:ws`): the wirepool client vs the `ws` client against
 * the same `ws` server in another process. Server on core 0, each client run in a process
 * of its own on core 1 (taskset when installed). For 16 B, 1 KiB, 64 KiB and 1 MiB binary
 * messages:
 *
 * - echo: one message in flight, send → wait for the echo → repeat (round trips/s);
 * - one-way: messages sent as fast as the client's buffer allows, then a final marker the
 *   server acknowledges once it has everything (MB/s of payload delivered).
 *
 * Contenders alternate inside each round; medians of rounds and wirepool/ws ratios from
 * the same run are reported (PERF.md: absolute numbers drift on a shared machine).
 *
 *   BENCH_DURATION=1 BENCH_ROUNDS=3 npm run bench:ws
 *
 * BENCH_BASELINE=<checkout with dist/> adds that build as a third contender (before/after in one run).
 *
 * Each client first runs its case for BENCH_WARMUP ms (default 300, 0 for none), not counted.
 *
 * The same file is the server (`--server`) and the client (`--client …`) child.
 */
import { once } from 'node:events'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { WebSocketServer, WebSocket as WsClient } from 'ws'
import { canPin, killChildren, pinned, runChild, startChild } from './children.js'
import { formatNumber, formatRatio, formatTable, median, ratio } from './table.js'
import { baselineDist, engineBuild } from './harness.js'

const SIZES = [
  { name: '16B', bytes: 16 },
  { name: '1KiB', bytes: 1024 },
  { name: '64KiB', bytes: 64 * 1024 },
  { name: '1MiB', bytes: 1024 * 1024 },
] as const
const MODES = ['echo', 'oneway'] as const
type Mode = (typeof MODES)[number]
const ALL_CONTENDERS = ['wirepool', 'wirepool-base', 'ws'] as const
type Contender = (typeof ALL_CONTENDERS)[number]
/** wirepool-base (the BENCH_BASELINE checkout's build) runs only when asked for. */
const CONTENDERS = ALL_CONTENDERS.filter((c) => c !== 'wirepool-base' || baselineDist() !== undefined)

/** The marker that ends a one-way run: a text message (data messages are binary). */
const DONE = 'done'
/** One-way: keep at most this many bytes queued in the client before waiting for a drain. */
const HIGH_WATER = 4 * 1024 * 1024

interface RunResult {
  messages: number
  bytes: number
  ms: number
  /** The client process's CPU time (user + system) during the run, in µs. */
  cpuMicros: number
}

function cpuSince(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start)
  return used.user + used.system
}

// ── the client side, common to both contenders ──────────────────────────────────────────

interface Client {
  send(data: Buffer | string): void
  bufferedAmount(): number
  onMessage(fn: (data: Buffer | string) => void): void
  close(): Promise<void>
}

async function openClient(contender: Contender, url: string): Promise<Client> {
  if (contender === 'ws') {
    const ws = new WsClient(url, { perMessageDeflate: false })
    await once(ws, 'open')
    // One listener whose target is swapped, as `onmessage` is for wirepool: the warm-up's
    // handler must not keep answering during the measured run.
    let handler: (data: Buffer | string) => void = () => {}
    ws.on('message', (data, isBinary) => handler(isBinary ? (data as Buffer) : data.toString()))
    return {
      send: (data) => ws.send(data),
      bufferedAmount: () => ws.bufferedAmount,
      onMessage: (fn) => {
        handler = fn
      },
      close: async () => {
        ws.close()
        await once(ws, 'close')
      },
    }
  }
  // The compiled dist/ is measured (as users run it), not the sources through tsx, whose
  // import bindings cost a getter call on every access (bench/h1-client.ts does the same).
  const { Agent, WebSocket } = (await import(engineBuild(contender))) as typeof import('../src/index.js')
  const agent = new Agent()
  const ws = new WebSocket(url, { agent })
  ws.binaryType = 'nodebuffer'
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve()
    ws.onerror = (e) => reject(e.error)
  })
  return {
    send: (data) => ws.send(data),
    bufferedAmount: () => ws.bufferedAmount,
    onMessage: (fn) => {
      ws.onmessage = (e) => fn(e.data as Buffer | string)
    },
    close: async () => {
      const closed = new Promise((resolve) => (ws.onclose = resolve))
      ws.close()
      await closed
      await agent.close()
    },
  }
}

async function runEcho(client: Client, size: number, durationMs: number): Promise<RunResult> {
  const payload = Buffer.alloc(size, 0x61)
  let messages = 0
  const cpu = process.cpuUsage()
  const start = performance.now()
  const deadline = start + durationMs
  await new Promise<void>((resolve) => {
    client.onMessage(() => {
      messages++
      if (performance.now() >= deadline) resolve()
      else client.send(payload)
    })
    client.send(payload)
  })
  return { messages, bytes: messages * size, ms: performance.now() - start, cpuMicros: cpuSince(cpu) }
}

async function runOneWay(client: Client, size: number, durationMs: number): Promise<RunResult> {
  const payload = Buffer.alloc(size, 0x62)
  let messages = 0
  const cpu = process.cpuUsage()
  const start = performance.now()
  const deadline = start + durationMs
  const acked = new Promise<void>((resolve) => client.onMessage((data) => data === DONE && resolve()))
  // Fill up to the high-water mark, then yield to the event loop so the socket drains.
  while (performance.now() < deadline) {
    while (client.bufferedAmount() < HIGH_WATER && performance.now() < deadline) {
      client.send(payload)
      messages++
    }
    await new Promise<void>((resolve) => setImmediate(resolve))
  }
  client.send(DONE)
  await acked
  return { messages, bytes: messages * size, ms: performance.now() - start, cpuMicros: cpuSince(cpu) }
}

async function clientMain(contender: Contender, url: string, mode: Mode, size: number, durationMs: number): Promise<void> {
  const client = await openClient(contender, `${url}/${mode}`)
  // Warm-up, not counted: the same loop until the JIT has compiled both clients' hot paths.
  // Without it a 1 s run measures tier-up as much as round trips: the first second of echo
  // 16 B ran ~25 % below the steady rate for wirepool (a larger, freshly imported library)
  // and ~10 % below for ws, which skewed the ratio by ~15 %.
  const warmupMs = Number(process.env.BENCH_WARMUP ?? 300)
  if (warmupMs > 0) {
    if (mode === 'echo') await runEcho(client, size, warmupMs)
    else await runOneWay(client, size, warmupMs)
  }
  const result = mode === 'echo' ? await runEcho(client, size, durationMs) : await runOneWay(client, size, durationMs)
  await client.close()
  process.stdout.write(JSON.stringify(result) + '\n')
}

// ── the server child ────────────────────────────────────────────────────────────────────

async function serverMain(): Promise<void> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 })
  await once(wss, 'listening')
  wss.on('connection', (socket, req) => {
    const echo = req.url === '/echo'
    socket.on('message', (data, isBinary) => {
      if (echo) socket.send(data, { binary: isBinary })
      else if (!isBinary) socket.send(DONE)
    })
  })
  process.stdout.write(`${(wss.address() as AddressInfo).port}\n`)
}

// ── the conductor ───────────────────────────────────────────────────────────────────────

async function main(): Promise<void> {
  const durationMs = Number(process.env.BENCH_DURATION ?? 1) * 1000
  const rounds = Number(process.env.BENCH_ROUNDS ?? 3)
  if (!(durationMs > 0) || !Number.isInteger(rounds) || rounds < 1) throw new Error('BENCH_DURATION > 0 and BENCH_ROUNDS ≥ 1, please')
  const self = fileURLToPath(import.meta.url)
  const node = (args: string[]): string[] => ['--import', 'tsx', self, ...args]

  const server = startChild(pinned(0, process.execPath, node(['--server'])))
  const lines = createInterface({ input: server.stdout as NodeJS.ReadableStream })
  const [portLine] = (await once(lines, 'line')) as [string]
  const url = `ws://127.0.0.1:${portLine.trim()}`
  console.log(`ws server (ws ${wsVersion()}) on ${url}, node ${process.version}, ${canPin ? 'server core 0, clients core 1' : 'unpinned (no taskset)'}`)
  console.log(`${rounds} round(s) of ${durationMs} ms per contender and case\n`)

  const rows: string[][] = []
  for (const mode of MODES) {
    for (const size of SIZES) {
      const results: Record<Contender, number[]> = { wirepool: [], 'wirepool-base': [], ws: [] }
      const cpuPerMessage: Record<Contender, number[]> = { wirepool: [], 'wirepool-base': [], ws: [] }
      for (let round = 0; round < rounds; round++) {
        // Alternate who goes first so neither always runs on a warmer (or busier) machine.
        const order = round % 2 === 0 ? CONTENDERS : [...CONTENDERS].reverse()
        for (const contender of order) {
          const args = node(['--client', contender, url, mode, String(size.bytes), String(durationMs)])
          const out = await runChild(pinned(1, process.execPath, args), durationMs * 4 + 30_000)
          if (out.code !== 0) throw new Error(`${contender} ${mode} ${size.name} failed (${out.code ?? out.signal}): ${out.stderr}`)
          const r = JSON.parse(out.stdout.trim().split('\n').pop() as string) as RunResult
          results[contender].push(mode === 'echo' ? (r.messages / r.ms) * 1000 : r.bytes / 1e6 / (r.ms / 1000))
          cpuPerMessage[contender].push(r.cpuMicros / r.messages)
        }
      }
      const wp = median(results.wirepool)
      const ws = median(results.ws)
      const cpu = (c: Contender): string => median(cpuPerMessage[c]).toFixed(2)
      const base = CONTENDERS.includes('wirepool-base') ? median(results['wirepool-base']) : undefined
      const baseColumns = base === undefined ? [] : [formatNumber(base), formatRatio(ratio(base, ws)), cpu('wirepool-base')]
      rows.push([`${mode}_${size.name}`, formatNumber(wp), formatNumber(ws), formatRatio(ratio(wp, ws)), cpu('wirepool'), cpu('ws'), ...baseColumns])
    }
  }
  // Client CPU per message: what each client costs, steadier than the rates on a shared machine.
  const baseHeads = CONTENDERS.includes('wirepool-base') ? ['base', 'base/ws', 'base CPU µs/msg'] : []
  console.log(formatTable(['case (echo: round trips/s, oneway: MB/s)', 'wirepool', 'ws', 'wirepool/ws', 'wirepool CPU µs/msg', 'ws CPU µs/msg', ...baseHeads], rows))
  server.kill('SIGTERM')
}

function wsVersion(): string {
  return (createRequire(import.meta.url)('ws/package.json') as { version: string }).version
}

const [role, ...rest] = process.argv.slice(2)
if (role === '--server') {
  await serverMain()
} else if (role === '--client') {
  const [contender, url, mode, size, duration] = rest as [Contender, string, Mode, string, string]
  await clientMain(contender, url, mode, Number(size), Number(duration))
} else {
  process.on('SIGINT', () => {
    killChildren()
    process.exit(130)
  })
  try {
    await main()
  } catch (err) {
    killChildren()
    throw err
  }
}
