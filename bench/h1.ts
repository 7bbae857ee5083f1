/**
 * HTTP/1.1 benchmark (`npm run bench:h1`): wirepool vs undici vs node:http Agent vs wrk
 * against one server, nginx (one process) when installed, else node:http in a child
 * process. Server on core 0, every client contender in a process of its own on core 1.
 * Contenders alternate inside each round, rounds repeat, medians and ratios measured in
 * the same run are reported (PERF.md).
 *
 *   BENCH_DURATION=3 BENCH_WARMUP=0.5 BENCH_ROUNDS=3 npm run bench:h1 -- [--json] [scenario…]
 *
 * BENCH_SERVER=node uses the node:http server even when nginx is installed.
 *
 * `--json` also writes bench/results/h1.json for the README generator.
 */
import { spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { canPin, killChildren, pinned, runChild, startChild } from './children.js'
import { cTool, type CTool } from './h1-c-tools.js'
import { BODIES, CONTENDERS, SCENARIOS, type Contender, type RunResult, type Scenario } from './h1-scenarios.js'
import { formatNumber, formatRatio, formatTable, median, ratio } from './table.js'
import { HELLO_BODY, startNginx } from '../test-interop/support/nginx.js'
import { which } from '../test-interop/support/which.js'

interface Settings {
  readonly durationSeconds: number
  readonly warmupSeconds: number
  readonly rounds: number
  readonly json: boolean
  readonly scenarios: readonly Scenario[]
  /** nginx when installed, unless BENCH_SERVER=node. */
  readonly server: 'nginx' | 'node'
}

interface BenchServer {
  readonly origin: string
  /** e.g. `nginx/1.22.1` or `node:http (v20.x)` */
  readonly name: string
  stop(): Promise<void>
}

/** One contender's outcome in one round: its result, or why it failed. */
type Outcome = { readonly ok: true; readonly result: RunResult } | { readonly ok: false; readonly error: string }

const CLIENT_SCRIPT = fileURLToPath(new URL('./h1-client.ts', import.meta.url))
const SERVER_SCRIPT = fileURLToPath(new URL('./h1-server.ts', import.meta.url))
const RESULTS_FILE = fileURLToPath(new URL('./results/h1.json', import.meta.url))
/** tsx's loader by absolute URL: children resolve it whatever their working directory. */
const TSX = import.meta.resolve('tsx')
/** A contender process gets its run time plus this much for start-up and shutdown. */
const CHILD_SLACK_MS = 30_000
const LABELS: Readonly<Record<Contender, string>> = { wirepool: 'wirepool', undici: 'undici 7', http: 'node:http Agent', wrk: 'wrk' }

/** A numeric setting from the environment: `kind` says what is accepted. */
function envNumber(name: string, fallback: number, kind: 'seconds' | 'seconds or 0' | 'count'): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  const valid = Number.isFinite(value) && (kind === 'seconds or 0' ? value >= 0 : value > 0) && (kind !== 'count' || Number.isInteger(value))
  if (!valid) throw new Error(`${name} must be ${kind === 'count' ? 'a positive integer' : `a number of ${kind}`}, got ${raw}`)
  return value
}

function readSettings(argv: readonly string[]): Settings {
  const names = argv.filter((arg) => !arg.startsWith('--'))
  const unknownFlags = argv.filter((arg) => arg.startsWith('--') && arg !== '--json')
  if (unknownFlags.length > 0) throw new Error(`unknown option ${unknownFlags.join(' ')}; usage: h1.ts [--json] [scenario…]`)
  const unknown = names.filter((name) => !SCENARIOS.some((s) => s.name === name))
  if (unknown.length > 0) throw new Error(`unknown scenario ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`)
  return {
    durationSeconds: envNumber('BENCH_DURATION', 3, 'seconds'),
    warmupSeconds: envNumber('BENCH_WARMUP', 0.5, 'seconds or 0'),
    rounds: envNumber('BENCH_ROUNDS', 3, 'count'),
    json: argv.includes('--json'),
    scenarios: names.length === 0 ? SCENARIOS : SCENARIOS.filter((s) => names.includes(s.name)),
    server: serverChoice(process.env['BENCH_SERVER']),
  }
}

function serverChoice(raw: string | undefined): 'nginx' | 'node' {
  const installed = which('nginx') !== null
  if (raw === 'node') return 'node'
  if (raw === 'nginx' && !installed) throw new Error('BENCH_SERVER=nginx but nginx is not installed')
  if (raw === undefined || raw === '' || raw === 'nginx') return installed ? 'nginx' : 'node'
  throw new Error(`BENCH_SERVER must be nginx or node, got ${raw}`)
}

async function startNginxServer(): Promise<BenchServer> {
  // The 5-byte scenario relies on the helper's /hello location.
  if (HELLO_BODY.length !== BODIES['/hello']) throw new Error('nginx /hello body does not match the scenario size')
  // `nginx -v` prints `nginx version: nginx/1.22.1` on stderr.
  const version = spawnSync(which('nginx') ?? 'nginx', ['-v'], { encoding: 'utf8' }).stderr.trim()
  const server = await startNginx({
    files: { '/1m': BODIES['/1m'], '/64m': BODIES['/64m'] },
    ...(canPin ? { cpu: 0 } : {}),
  })
  return { origin: `http://127.0.0.1:${server.port}`, name: version.replace(/^nginx version: /, ''), stop: () => server.stop() }
}

async function startNodeServer(): Promise<BenchServer> {
  const child = startChild(pinned(0, process.execPath, ['--import', TSX, SERVER_SCRIPT]))
  const exited = once(child, 'exit')
  if (child.stdout === null) throw new Error('server child has no stdout')
  const lines = createInterface({ input: child.stdout })
  const first = await Promise.race([once(lines, 'line'), exited.then(() => null)])
  lines.close()
  if (first === null) throw new Error('node:http bench server exited before listening')
  const { port } = JSON.parse(String(first[0])) as { port: number }
  return {
    origin: `http://127.0.0.1:${port}`,
    name: `node:http ${process.version}`,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM')
        await exited
      }
    },
  }
}

async function runNodeContender(contender: Contender, s: Scenario, origin: string, settings: Settings): Promise<RunResult> {
  const args = ['--import', TSX, CLIENT_SCRIPT, contender, s.name, origin, String(settings.warmupSeconds), String(settings.durationSeconds)]
  const timeoutMs = (settings.warmupSeconds + settings.durationSeconds) * 1000 + CHILD_SLACK_MS
  const out = await runChild(pinned(1, process.execPath, args), timeoutMs)
  if (out.code !== 0) {
    // The first stderr line of an uncaught error is its message; the stack follows.
    const message = out.stderr.trim().split('\n')[0] ?? ''
    throw new Error(`exited with ${out.signal ?? `code ${out.code}`}${message === '' ? '' : `: ${message}`}`)
  }
  return JSON.parse(out.stdout) as RunResult
}

/** Which contenders run a scenario: node:http cannot pipeline, wrk may be missing. */
function contendersFor(s: Scenario, tool: CTool | null): Contender[] {
  return CONTENDERS.filter((c) => !(c === 'http' && s.pipelining > 1) && !(c === 'wrk' && tool === null))
}

/** Round r starts at the r-th contender, so no contender always runs first or last. */
function rotate<T>(items: readonly T[], by: number): T[] {
  const k = by % Math.max(1, items.length)
  return [...items.slice(k), ...items.slice(0, k)]
}

interface Row {
  readonly contender: Contender
  /** The name shown: `undici 7`, `wrk`, `h2load --h1 -m10`… */
  readonly tool: string
  readonly reqPerSec: number | null
  readonly mbPerSec: number | null
  readonly okRuns: number
  readonly runs: number
  readonly errors: number
  readonly error: string | null
  readonly perRound: readonly (number | null)[]
  /** Median req/s relative to undici's and to the C reference's, from the same run. */
  readonly vsUndici: number | null
  readonly vsWrk: number | null
}

type Summary = Omit<Row, 'vsUndici' | 'vsWrk'>

function summarize(s: Scenario, contender: Contender, tool: string, outcomes: readonly Outcome[]): Summary {
  const rates = outcomes.map((o) => (o.ok ? o.result.requests / o.result.seconds : null))
  const okRates = rates.filter((r): r is number => r !== null)
  const reqPerSec = okRates.length === 0 ? null : median(okRates)
  const failure = outcomes.map((o) => (o.ok ? undefined : o.error)).find((e) => e !== undefined)
  const requestError = outcomes.map((o) => (o.ok ? o.result.firstError : undefined)).find((e) => e !== undefined)
  return {
    contender,
    tool,
    reqPerSec,
    // Body bytes of the responses completed in the window, in MB (10^6 bytes) per second.
    mbPerSec: reqPerSec === null ? null : (reqPerSec * s.bodySize) / 1e6,
    okRuns: okRates.length,
    runs: outcomes.length,
    errors: outcomes.reduce((n, o) => n + (o.ok ? o.result.errors : 0), 0),
    error: failure ?? requestError ?? null,
    perRound: rates,
  }
}

function withRatios(summaries: readonly Summary[]): Row[] {
  const undici = summaries.find((r) => r.contender === 'undici')?.reqPerSec ?? null
  const wrk = summaries.find((r) => r.contender === 'wrk')?.reqPerSec ?? null
  return summaries.map((r) => ({ ...r, vsUndici: ratio(r.reqPerSec, undici), vsWrk: ratio(r.reqPerSec, wrk) }))
}

function printTable(s: Scenario, rows: readonly Row[], settings: Settings, server: BenchServer): void {
  const reference = rows.find((r) => r.contender === 'wrk')
  const body = rows.map((r) => [
    r.tool,
    r.reqPerSec === null ? 'failed' : formatNumber(r.reqPerSec),
    r.mbPerSec === null ? '—' : formatNumber(r.mbPerSec),
    formatRatio(r.vsUndici),
    formatRatio(r.vsWrk),
    `${r.okRuns}/${r.runs}`,
    String(r.errors),
  ])
  const pin = canPin ? 'server on core 0, clients on core 1' : 'unpinned (taskset not installed)'
  process.stdout.write(
    `\n${s.name}: ${s.title}\n` +
      `server ${server.name}, ${pin}; median of ${settings.rounds} × ${settings.durationSeconds} s after ${settings.warmupSeconds} s warm-up; ` +
      `MB/s = response bodies, 10^6 B\n` +
      `${formatTable(['contender', 'req/s', 'MB/s', 'vs undici', `vs ${reference?.tool ?? 'wrk'}`, 'runs ok', 'errors'], body)}\n`,
  )
  for (const r of rows) {
    if (r.error !== null) process.stdout.write(`  ${r.tool}: ${r.error}\n`)
  }
}

async function writeJson(settings: Settings, server: BenchServer, tool: CTool | null, table: ReadonlyMap<Scenario, readonly Row[]>): Promise<void> {
  const report = {
    benchmark: 'h1',
    date: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? null,
    server: server.name,
    pinned: canPin,
    durationSeconds: settings.durationSeconds,
    warmupSeconds: settings.warmupSeconds,
    rounds: settings.rounds,
    cTool: tool === null ? null : 'wrk',
    scenarios: [...table].map(([s, rows]) => ({ ...s, results: rows })),
  }
  await mkdir(join(RESULTS_FILE, '..'), { recursive: true })
  // Written aside then renamed: the README generator never reads a half-written file.
  await writeFile(`${RESULTS_FILE}.tmp`, `${JSON.stringify(report, null, 2)}\n`)
  await rename(`${RESULTS_FILE}.tmp`, RESULTS_FILE)
  process.stdout.write(`\nwrote ${RESULTS_FILE}\n`)
}

async function main(settings: Settings, scratch: string, servers: BenchServer[]): Promise<void> {
  const server = settings.server === 'nginx' ? await startNginxServer() : await startNodeServer()
  servers.push(server)
  const tool = cTool(scratch)
  if (tool === null) process.stderr.write('wrk not installed: the C reference column is absent\n')
  const outcomes = new Map<string, Outcome[]>()
  const outcomesOf = (s: Scenario, contender: Contender): Outcome[] => {
    const key = `${s.name} ${contender}`
    const list = outcomes.get(key) ?? []
    outcomes.set(key, list)
    return list
  }
  for (let round = 0; round < settings.rounds; round++) {
    for (const s of settings.scenarios) {
      for (const contender of rotate(contendersFor(s, tool), round)) {
        let outcome: Outcome
        try {
          const result =
            contender === 'wrk' && tool !== null
              ? await tool.run(s, server.origin, settings.warmupSeconds, settings.durationSeconds)
              : await runNodeContender(contender, s, server.origin, settings)
          outcome = { ok: true, result }
        } catch (err) {
          outcome = { ok: false, error: err instanceof Error ? err.message : String(err) }
        }
        outcomesOf(s, contender).push(outcome)
        const shown = outcome.ok ? `${formatNumber(outcome.result.requests / outcome.result.seconds)} req/s` : `failed: ${outcome.error}`
        process.stderr.write(`round ${round + 1}/${settings.rounds} ${s.name} ${contender}: ${shown}\n`)
      }
    }
  }
  const table = new Map<Scenario, Row[]>()
  for (const s of settings.scenarios) {
    const rows = withRatios(contendersFor(s, tool).map((c) => summarize(s, c, c === 'wrk' && tool !== null ? tool.label(s) : LABELS[c], outcomesOf(s, c))))
    table.set(s, rows)
    printTable(s, rows, settings, server)
  }
  if (settings.json) await writeJson(settings, server, tool, table)
}

/**
 * Runs the benchmark and always cleans up: on success, on error and on Ctrl-C / SIGTERM
 * the contender children are killed, the server stopped and the temp dir removed.
 */
async function run(): Promise<void> {
  const settings = readSettings(process.argv.slice(2))
  const scratch = await mkdtemp(join(tmpdir(), 'wirepool-bench-'))
  const servers: BenchServer[] = []
  let cleaning: Promise<void> | null = null
  const cleanup = (): Promise<void> =>
    (cleaning ??= (async () => {
      killChildren()
      await Promise.allSettled(servers.map((s) => s.stop()))
      await rm(scratch, { recursive: true, force: true })
    })())
  const onSignal = (signal: NodeJS.Signals): void => {
    process.stderr.write(`\n${signal}: stopping\n`)
    void cleanup().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143))
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  try {
    await main(settings, scratch, servers)
  } finally {
    await cleanup()
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}

run().catch((err: unknown) => {
  process.stderr.write(`bench:h1 failed: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exitCode = 1
})
