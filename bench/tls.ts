/**
 * TLS handshake time over loopback (`npm run bench:tls`, issue 4 "Scale and memory"):
 * full vs resumed handshakes, TLS 1.2 and 1.3, ECDSA P-256 and RSA 2048 certificates, for
 * wirepool's connect-to-ready time, bare `node:tls` and `openssl s_time`, all in the same
 * run against one node:https server process (bench/tls-server.ts, core 0); each client
 * runs in a process of its own on core 1. Also reports how often reconnects resume.
 *
 *   BENCH_SAMPLES=200 BENCH_WARMUP=20 BENCH_ROUNDS=3 BENCH_STIME_SECONDS=2 npm run bench:tls -- [--json]
 *
 * Targets (issue): every handshake under 5 ms (judged on wirepool's p99), wirepool's
 * median within 1.1× of bare node:tls, ≥ 95 % of wirepool's reconnects resumed.
 * `--json` writes bench/results/tls.json.
 */
import { writeFile } from 'node:fs/promises'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { makeCertificates } from '../test/support/certs.js'
import { canPin, pinned, runChild, startServerChild } from './children.js'
import { envNumber, errorMessage, rotate, runBenchmark, TSX, writeResults, type Stoppable } from './harness.js'
import { formatRatio, formatTable, median, ratio } from './table.js'
import { CASES, KEY_TYPES, MODES, NODE_CLIENTS, type CasePorts, type HandshakeRun, type Mode, type NodeClient, type TlsCase } from './tls-cases.js'
import { which } from '../test-interop/support/which.js'

interface Settings {
  readonly samples: number
  readonly warmup: number
  readonly rounds: number
  readonly stimeSeconds: number
  readonly json: boolean
}

type Client = NodeClient | 'openssl s_time'

/** What one client measured in one round of one case and mode. */
interface Measurement {
  /** Per-connection times (ms); s_time gives only its mean, as one value. */
  readonly samplesMs: readonly number[]
  readonly connections: number
  readonly resumed: number
  /** Client CPU µs per connection (Node clients only). */
  readonly cpuUs: number | null
}

type Outcome = { readonly ok: true; readonly m: Measurement } | { readonly ok: false; readonly error: string }

interface Row {
  /** What the README table shows: `full wirepool`, `resumed openssl s_time`… */
  readonly tool: string
  readonly contender: string
  readonly case: string
  readonly mode: Mode
  readonly client: Client
  /** Median over rounds of each round's median (s_time: of its mean). */
  readonly medianMs: number | null
  /** Percentiles over all samples of all rounds (Node clients only). */
  readonly p90Ms: number | null
  readonly p99Ms: number | null
  readonly resumedRate: number | null
  /** Median over rounds of the client's CPU µs per connection (Node clients only). */
  readonly clientCpuUs: number | null
  /**
   * Median time relative to bare node:tls in the same case and mode (lower is better).
   * Not named `vs…`: bench/report.ts charts `vs` fields as throughput ratios.
   */
  readonly ratioToNodeTls: number | null
  readonly runs: number
  readonly okRuns: number
  readonly error: string | null
}

const CLIENT_SCRIPT = fileURLToPath(new URL('./tls-client.ts', import.meta.url))
const SERVER_SCRIPT = fileURLToPath(new URL('./tls-server.ts', import.meta.url))
const RESULTS_FILE = fileURLToPath(new URL('./results/tls.json', import.meta.url))
const CHILD_SLACK_MS = 60_000
const TARGET_MS = 5
const TARGET_RATIO = 1.1
const TARGET_RESUMED = 0.95

function jsonFlag(argv: readonly string[]): boolean {
  const unknown = argv.filter((arg) => arg !== '--json')
  if (unknown.length > 0) throw new Error(`unknown argument ${unknown.join(' ')}; usage: tls.ts [--json]`)
  return argv.includes('--json')
}

function readSettings(argv: readonly string[]): Settings {
  return {
    samples: envNumber('BENCH_SAMPLES', 200, 'count'),
    warmup: envNumber('BENCH_WARMUP', 20, 'count'),
    rounds: envNumber('BENCH_ROUNDS', 3, 'count'),
    stimeSeconds: envNumber('BENCH_STIME_SECONDS', 2, 'seconds'),
    json: jsonFlag(argv),
  }
}

function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? null
}

function failure(out: { code: number | null; signal: NodeJS.Signals | null; stderr: string }): Error {
  const message = out.stderr.trim().split('\n')[0] ?? ''
  return new Error(`exited with ${out.signal ?? `code ${out.code}`}${message === '' ? '' : `: ${message}`}`)
}

async function runNodeClient(client: NodeClient, mode: Mode, port: number, caFile: string, s: Settings): Promise<Measurement> {
  const args = ['--import', TSX, CLIENT_SCRIPT, client, mode, String(port), String(s.samples), String(s.warmup), caFile]
  const out = await runChild(pinned(1, process.execPath, args), CHILD_SLACK_MS + (s.samples + s.warmup) * 100)
  if (out.code !== 0) throw failure(out)
  const run = JSON.parse(out.stdout) as HandshakeRun
  return { samplesMs: run.samplesMs, connections: run.samplesMs.length, resumed: run.resumed, cpuUs: run.cpuUsPerConnection }
}

/**
 * `openssl s_time` makes connections back to back for `-time` seconds (full with `-new`,
 * resuming the first connection's session with `-reuse`) and prints `*` per full and `r`
 * per resumed handshake. Its own "real seconds" are whole seconds, so the wall time of the
 * process is measured here instead and divided by the connection count; that includes
 * start-up (a few ms over seconds) and each connection's close.
 */
async function runStime(c: TlsCase, mode: Mode, port: number, caFile: string, s: Settings): Promise<Measurement> {
  const openssl = which('openssl')
  if (openssl === null) throw new Error('openssl not installed')
  const versionFlag = c.version === 'TLSv1.2' ? '-tls1_2' : '-tls1_3'
  const args = ['s_time', '-connect', `127.0.0.1:${port}`, '-CAfile', caFile, versionFlag, mode === 'full' ? '-new' : '-reuse', '-time', String(s.stimeSeconds)]
  const started = performance.now()
  const out = await runChild(pinned(1, openssl, args), CHILD_SLACK_MS + s.stimeSeconds * 1000)
  const wallMs = performance.now() - started
  if (out.code !== 0) throw failure(out)
  const counted = /(\d+) connections in \d+ real seconds/.exec(out.stdout)
  if (counted === null) throw new Error(`unexpected s_time output: ${out.stdout.trim().split('\n').at(-1) ?? ''}`)
  const connections = Number(counted[1])
  // The progress marks: one character per connection, `r` when the session was reused.
  const marks = out.stdout.split('\n').filter((line) => /^[*r]+$/.test(line)).join('')
  return { samplesMs: [wallMs / connections], connections, resumed: [...marks].filter((m) => m === 'r').length, cpuUs: null }
}

function summarize(caseName: string, mode: Mode, client: Client, outcomes: readonly Outcome[]): Omit<Row, 'ratioToNodeTls'> {
  const ok = outcomes.flatMap((o) => (o.ok ? [o.m] : []))
  const all = ok.flatMap((m) => m.samplesMs)
  const connections = ok.reduce((n, m) => n + m.connections, 0)
  const isNode = client !== 'openssl s_time'
  const cpu = ok.flatMap((m) => (m.cpuUs === null ? [] : [m.cpuUs]))
  return {
    tool: `${mode} ${client}`,
    // `wirepool` marks wirepool's rows in the README; the others keep their client name.
    contender: client,
    case: caseName,
    mode,
    client,
    medianMs: ok.length === 0 ? null : median(ok.map((m) => median(m.samplesMs))),
    p90Ms: isNode ? percentile(all, 90) : null,
    p99Ms: isNode ? percentile(all, 99) : null,
    resumedRate: connections === 0 ? null : ok.reduce((n, m) => n + m.resumed, 0) / connections,
    clientCpuUs: cpu.length === 0 ? null : median(cpu),
    runs: outcomes.length,
    okRuns: ok.length,
    error: outcomes.map((o) => (o.ok ? undefined : o.error)).find((e) => e !== undefined) ?? null,
  }
}

function fmt(ms: number | null): string {
  return ms === null ? '—' : ms.toFixed(2)
}

function printCase(c: TlsCase, rows: readonly Row[], s: Settings): void {
  const pin = canPin ? 'server on core 0, clients on core 1' : 'unpinned (taskset not installed)'
  const body = rows.map((r) => [
    `${r.mode} ${r.client}`,
    r.medianMs === null ? 'failed' : fmt(r.medianMs),
    fmt(r.p90Ms),
    fmt(r.p99Ms),
    r.resumedRate === null ? '—' : `${(r.resumedRate * 100).toFixed(1)} %`,
    formatRatio(r.ratioToNodeTls),
    r.clientCpuUs === null ? '—' : Math.round(r.clientCpuUs).toLocaleString('en-US'),
    `${r.okRuns}/${r.runs}`,
  ])
  process.stdout.write(
    `\n${title(c)}: connect-to-ready ms; ${pin}; ` +
      `${s.rounds} round(s) of ${s.samples} connections after ${s.warmup} warm-up (s_time: ${s.stimeSeconds} s, mean incl. close)\n` +
      `${formatTable(['mode / client', 'median', 'p90', 'p99', 'resumed', 'vs node:tls', 'client CPU µs', 'runs ok'], body)}\n`,
  )
  for (const r of rows) if (r.error !== null) process.stdout.write(`  ${r.mode} ${r.client}: ${r.error}\n`)
}

async function main(s: Settings, scratch: string, servers: Stoppable[]): Promise<void> {
  for (const keyType of KEY_TYPES) {
    const certs = await makeCertificates({ keyType })
    await Promise.all([
      writeFile(join(scratch, `${keyType}-key.pem`), certs.key),
      writeFile(join(scratch, `${keyType}-cert.pem`), certs.cert),
      writeFile(join(scratch, `${keyType}-ca.pem`), certs.ca),
    ])
  }
  const server = await startServerChild<CasePorts>(pinned(0, process.execPath, ['--import', TSX, SERVER_SCRIPT, scratch]))
  servers.push(server)
  const clients: Client[] = [...NODE_CLIENTS, 'openssl s_time']
  const outcomes = new Map<string, Outcome[]>()
  for (let round = 0; round < s.rounds; round++) {
    for (const c of CASES) {
      const port = server.info[c.name]
      if (port === undefined) throw new Error(`server has no listener for ${c.name}`)
      const caFile = join(scratch, `${c.keyType}-ca.pem`)
      for (const mode of MODES) {
        for (const client of rotate(clients, round)) {
          let outcome: Outcome
          try {
            const m = client === 'openssl s_time' ? await runStime(c, mode, port, caFile, s) : await runNodeClient(client, mode, port, caFile, s)
            outcome = { ok: true, m }
          } catch (err) {
            outcome = { ok: false, error: errorMessage(err) }
          }
          const key = `${c.name} ${mode} ${client}`
          outcomes.set(key, [...(outcomes.get(key) ?? []), outcome])
          const shown = outcome.ok ? `${median(outcome.m.samplesMs).toFixed(2)} ms, ${outcome.m.resumed}/${outcome.m.connections} resumed` : `failed: ${outcome.error}`
          process.stderr.write(`round ${round + 1}/${s.rounds} ${key}: ${shown}\n`)
        }
      }
    }
  }
  const scenarios: Array<{ name: string; title: string; results: Row[]; verdicts: Verdict[] }> = []
  for (const c of CASES) {
    const rows: Row[] = []
    for (const mode of MODES) {
      const summaries = clients.map((client) => summarize(c.name, mode, client, outcomes.get(`${c.name} ${mode} ${client}`) ?? []))
      const nodeTls = summaries.find((r) => r.client === 'node:tls')?.medianMs ?? null
      rows.push(...summaries.map((r) => ({ ...r, ratioToNodeTls: ratio(r.medianMs, nodeTls) })))
    }
    printCase(c, rows, s)
    scenarios.push({ name: c.name, title: title(c), results: rows, verdicts: judge(rows) })
  }
  const verdicts = scenarios.flatMap((sc) => sc.verdicts.map((v) => ({ ...v, case: sc.name })))
  process.stdout.write(
    `\ntargets (wirepool):\n${verdicts.map((v) => `  ${v.met === true ? 'met   ' : v.met === false ? 'MISSED' : '?     '} ${v.case} ${v.contender}: ${v.target}, measured ${v.measured}`).join('\n')}\n`,
  )
  if (s.json) {
    await writeResults(RESULTS_FILE, {
      benchmark: 'tls',
      date: new Date().toISOString(),
      node: process.version,
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? null,
      server: `node:https ${process.version}`,
      pinned: canPin,
      samples: s.samples,
      warmup: s.warmup,
      rounds: s.rounds,
      stimeSeconds: s.stimeSeconds,
      // `scenarios[]` with `results[]` rows and per-scenario `verdicts[]`: what bench/report.ts reads.
      scenarios,
    })
  }
}

function title(c: TlsCase): string {
  return `${c.keyType === 'ec' ? 'ECDSA P-256' : 'RSA 2048'}, ${c.version}`
}

/** One target check, in the shape bench/report.ts reads (`vsNodeTls` is named by `nodeTls`). */
interface Verdict {
  readonly contender: string
  readonly target: string
  readonly measured: string
  readonly met: boolean | null
  readonly vsNodeTls?: number | null
  readonly nodeTls?: string
}

/** The issue's three targets, checked on wirepool's rows of one case. */
function judge(rows: readonly Row[]): Verdict[] {
  return rows
    .filter((r) => r.client === 'wirepool')
    .flatMap((r): Verdict[] => {
      const who = `wirepool ${r.mode}`
      const checks: Verdict[] = [
        {
          contender: who,
          target: `p99 under ${TARGET_MS} ms`,
          measured: `${fmt(r.p99Ms)} ms`,
          met: r.p99Ms === null ? null : r.p99Ms < TARGET_MS,
        },
        {
          contender: who,
          target: `median within ${TARGET_RATIO}× of bare node:tls`,
          measured: formatRatio(r.ratioToNodeTls),
          met: r.ratioToNodeTls === null ? null : r.ratioToNodeTls <= TARGET_RATIO,
          vsNodeTls: r.ratioToNodeTls,
          nodeTls: 'bare node:tls',
        },
      ]
      if (r.mode === 'resumed') {
        checks.push({
          contender: who,
          target: `≥ ${TARGET_RESUMED * 100} % of reconnects resumed`,
          measured: r.resumedRate === null ? '—' : `${(r.resumedRate * 100).toFixed(1)} %`,
          met: r.resumedRate === null ? null : r.resumedRate >= TARGET_RESUMED,
        })
      }
      return checks
    })
}

runBenchmark('bench:tls', (scratch, servers) => main(readSettings(process.argv.slice(2)), scratch, servers))
