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
import { cpus } from 'node:os'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { canPin, pinned, startChild } from './children.js'
import { cTool, type CTool } from './h1-c-tools.js'
import { BODIES, CONTENDERS, SCENARIOS, type Contender, type RunResult, type Scenario } from './h1-scenarios.js'
import { TSX, baselineDist, readSelection, readTiming, runBenchmark, serverChoice, runNodeContender, runRounds, summarize, writeResults, type Stoppable, type Summary } from './harness.js'
import { formatNumber, formatRatio, formatTable, ratio } from './table.js'
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

interface BenchServer extends Stoppable {
  readonly origin: string
  /** e.g. `nginx/1.22.1` or `node:http (v20.x)` */
  readonly name: string
}

const CLIENT_SCRIPT = fileURLToPath(new URL('./h1-client.ts', import.meta.url))
const SERVER_SCRIPT = fileURLToPath(new URL('./h1-server.ts', import.meta.url))
const RESULTS_FILE = fileURLToPath(new URL('./results/h1.json', import.meta.url))
const LABELS: Readonly<Record<Contender, string>> = { wirepool: 'wirepool', 'wirepool-base': 'wirepool (BENCH_BASELINE)', undici: 'undici 7', http: 'node:http Agent', wrk: 'wrk' }

function readSettings(argv: readonly string[]): Settings {
  const { json, selected } = readSelection(argv, SCENARIOS, 'h1.ts', 'scenario')
  return { ...readTiming(), json, scenarios: selected, server: serverChoice(process.env['BENCH_SERVER'], 'nginx') }
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

function runNodeClient(contender: Contender, s: Scenario, origin: string, settings: Settings): Promise<RunResult> {
  const args = [contender, s.name, origin, String(settings.warmupSeconds), String(settings.durationSeconds)]
  return runNodeContender(CLIENT_SCRIPT, args, settings.warmupSeconds + settings.durationSeconds)
}

/** Which contenders run a scenario: node:http cannot pipeline, wrk may be missing. */
function contendersFor(s: Scenario, tool: CTool | null): Contender[] {
  return CONTENDERS.filter((c) => !(c === 'http' && s.pipelining > 1) && !(c === 'wrk' && tool === null) && !(c === 'wirepool-base' && baselineDist() === undefined))
}

interface Row extends Summary<Contender> {
  /** Median req/s relative to undici's and to the C reference's, from the same run. */
  readonly vsUndici: number | null
  readonly vsWrk: number | null
}

function withRatios(summaries: readonly Summary<Contender>[]): Row[] {
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
  await writeResults(RESULTS_FILE, report)
}

async function main(settings: Settings, scratch: string, servers: Stoppable[]): Promise<void> {
  const server = settings.server === 'nginx' ? await startNginxServer() : await startNodeServer()
  servers.push(server)
  const tool = cTool(scratch)
  if (tool === null) process.stderr.write('wrk not installed: the C reference column is absent\n')
  const outcomes = await runRounds(settings.rounds, settings.scenarios, (s) => contendersFor(s, tool), (s, contender) =>
    contender === 'wrk' && tool !== null
      ? tool.run(s, server.origin, settings.warmupSeconds, settings.durationSeconds)
      : runNodeClient(contender, s, server.origin, settings),
  )
  const table = new Map<Scenario, Row[]>()
  for (const s of settings.scenarios) {
    const rows = withRatios(contendersFor(s, tool).map((c) => summarize(s.bodySize, c, c === 'wrk' && tool !== null ? tool.label(s) : LABELS[c], outcomes.of(s, c))))
    table.set(s, rows)
    printTable(s, rows, settings, server)
  }
  if (settings.json) await writeJson(settings, server, tool, table)
}

runBenchmark('bench:h1', async (scratch, servers) => main(readSettings(process.argv.slice(2)), scratch, servers))
