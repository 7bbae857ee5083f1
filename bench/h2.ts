/**
 * HTTP/2 benchmark (`npm run bench:h2`): wirepool vs the node:http2 client vs undici 7 vs
 * h2load against one server, nghttpd (one worker) when installed, else node:http2 in a
 * child process. Server on core 0, every client contender in a process of its own on
 * core 1. Contenders alternate inside each round, rounds repeat, medians and ratios
 * measured in the same run are reported (PERF.md). Every workload runs over h2c (prior
 * knowledge) and over TLS (ALPN).
 *
 *   BENCH_DURATION=3 BENCH_WARMUP=0.5 BENCH_ROUNDS=3 npm run bench:h2 -- [--json] [scenario…]
 *
 * BENCH_SERVER=node uses the node:http2 server even when nghttpd is installed.
 *
 * `--json` also writes bench/results/h2.json for the README generator.
 */
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { mkdir, writeFile } from 'node:fs/promises'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { canPin, pinned, runChild, startChild } from './children.js'
import { parseH2load } from './h1-c-tools.js'
import { BODIES, type RunResult } from './h1-scenarios.js'
import { H2_CONTENDERS, H2_SCENARIOS, H2_TARGETS, type H2Contender, type H2NodeContender, type H2Scenario, type H2Target } from './h2-scenarios.js'
import { TSX, baselineDist, readSelection, readTiming, runBenchmark, serverChoice, runNodeContender, runRounds, summarize, writeResults, type Stoppable, type Summary, type Timing } from './harness.js'
import { formatNumber, formatRatio, formatTable, ratio } from './table.js'
import { makeCertificates } from '../test/support/certs.js'
import { fileBytes, freePorts } from '../test-interop/support/nginx.js'
import { which } from '../test-interop/support/which.js'
import { acceptsConnections } from '../test-interop/support/nghttpd.js'

interface Settings extends Timing {
  readonly json: boolean
  readonly scenarios: readonly H2Scenario[]
  /** nghttpd when installed, unless BENCH_SERVER=node. */
  readonly server: 'nghttpd' | 'node'
}

interface BenchServer extends Stoppable {
  /** `http://127.0.0.1:N` (h2c) */
  readonly origin: string
  /** `https://127.0.0.1:M` (TLS, ALPN h2) */
  readonly tlsOrigin: string
  /** e.g. `nghttpd nghttp2/1.52.0` or `node:http2 v20.x` */
  readonly name: string
}

/** Certificate files in the scratch dir: the server's key and chain, the CA clients trust. */
interface CertFiles {
  readonly key: string
  readonly cert: string
  readonly ca: string
}

const CLIENT_SCRIPT = fileURLToPath(new URL('./h2-client.ts', import.meta.url))
const SERVER_SCRIPT = fileURLToPath(new URL('./h2-server.ts', import.meta.url))
const RESULTS_FILE = fileURLToPath(new URL('./results/h2.json', import.meta.url))
const LABELS: Readonly<Record<H2Contender, string>> = { wirepool: 'wirepool', 'wirepool-base': 'wirepool (BENCH_BASELINE)', http2: 'node:http2', undici: 'undici 7', h2load: 'h2load' }
/** Another process may grab a probed port before nghttpd binds it: retry with fresh ports. */
const BIND_ATTEMPTS = 5
/** Bound for an h2load run beyond its own duration (connect, start-up, exit). */
const H2LOAD_SLACK_MS = 30_000

function readSettings(argv: readonly string[]): Settings {
  const { json, selected } = readSelection(argv, H2_SCENARIOS, 'h2.ts', 'scenario')
  return { ...readTiming(), json, scenarios: selected, server: serverChoice(process.env['BENCH_SERVER'], 'nghttpd') }
}

async function writeCertFiles(scratch: string): Promise<CertFiles> {
  const certs = await makeCertificates()
  const files = { key: join(scratch, 'key.pem'), cert: join(scratch, 'cert.pem'), ca: join(scratch, 'ca.pem') }
  await writeFile(files.key, certs.key, { mode: 0o600 })
  await writeFile(files.cert, certs.cert)
  await writeFile(files.ca, certs.ca)
  return files
}


/** One nghttpd (one worker thread, its default) on core 0, h2c or TLS, serving `docroot`. */
async function startOneNghttpd(nghttpd: string, docroot: string, certs: CertFiles | null): Promise<{ port: number; stop(): Promise<void> }> {
  for (let attempt = 1; ; attempt++) {
    const [port] = await freePorts(1)
    if (port === undefined) throw new Error('no free port')
    const args = ['-a', '127.0.0.1', '-d', docroot, ...(certs === null ? ['--no-tls', String(port)] : [String(port), certs.key, certs.cert])]
    const child = startChild(pinned(0, nghttpd, args))
    let stderr = ''
    child.stderr?.setEncoding('utf8').on('data', (text: string) => {
      stderr += text
    })
    const exited = once(child, 'exit')
    try {
      await acceptsConnections(port, child)
    } catch (err) {
      child.kill('SIGKILL')
      await exited
      // Lost the race for a probed port to another process: try again with a new one.
      if (/address already in use/i.test(stderr) && attempt < BIND_ATTEMPTS) continue
      throw new Error(`nghttpd did not start (${err instanceof Error ? err.message : String(err)}): ${stderr.trim()}`)
    }
    return {
      port,
      async stop() {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM')
          await exited
        }
      },
    }
  }
}

/**
 * nghttpd serves either cleartext or TLS, so two of them run, both on core 0 (only the
 * one a scenario uses does any work). Files are written into the scratch dir.
 */
async function startNghttpd(scratch: string, certs: CertFiles): Promise<BenchServer> {
  const nghttpd = which('nghttpd')
  if (nghttpd === null) throw new Error('nghttpd not installed')
  const docroot = join(scratch, 'htdocs')
  await mkdir(docroot)
  for (const [path, size] of Object.entries(BODIES)) await writeFile(join(docroot, path.slice(1)), fileBytes(size))
  const version = spawnSync(nghttpd, ['--version'], { encoding: 'utf8' }).stdout.trim()
  const cleartext = await startOneNghttpd(nghttpd, docroot, null)
  try {
    const secure = await startOneNghttpd(nghttpd, docroot, certs)
    return {
      origin: `http://127.0.0.1:${cleartext.port}`,
      tlsOrigin: `https://127.0.0.1:${secure.port}`,
      name: version,
      stop: async () => {
        await Promise.all([cleartext.stop(), secure.stop()])
      },
    }
  } catch (err) {
    await cleartext.stop()
    throw err
  }
}

async function startNodeServer(certs: CertFiles): Promise<BenchServer> {
  const child = startChild(pinned(0, process.execPath, ['--import', TSX, SERVER_SCRIPT, certs.key, certs.cert]))
  const exited = once(child, 'exit')
  if (child.stdout === null) throw new Error('server child has no stdout')
  const lines = createInterface({ input: child.stdout })
  const first = await Promise.race([once(lines, 'line'), exited.then(() => null)])
  lines.close()
  if (first === null) throw new Error('node:http2 bench server exited before listening')
  const { port, tlsPort } = JSON.parse(String(first[0])) as { port: number; tlsPort: number }
  return {
    origin: `http://127.0.0.1:${port}`,
    tlsOrigin: `https://127.0.0.1:${tlsPort}`,
    name: `node:http2 ${process.version}`,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM')
        await exited
      }
    },
  }
}

/** h2load's arguments for a scenario: one thread, like every other contender; TLS is not verified. */
function h2loadArgs(s: H2Scenario, url: string, warmupSeconds: number, durationSeconds: number): string[] {
  return ['-t1', `-c${s.connections}`, `-m${s.streams}`, '-D', `${Math.round(durationSeconds * 1000)}ms`, '--warm-up-time', `${Math.round(warmupSeconds * 1000)}ms`, url]
}

async function runH2load(h2load: string, s: H2Scenario, url: string, settings: Settings): Promise<RunResult> {
  const args = h2loadArgs(s, url, settings.warmupSeconds, settings.durationSeconds)
  const out = await runChild(pinned(1, h2load, args), (settings.warmupSeconds + settings.durationSeconds) * 1000 + H2LOAD_SLACK_MS)
  if (out.code !== 0) throw new Error(`h2load ended with ${out.signal ?? `code ${out.code}`}: ${out.stderr.trim()}`)
  // Over TLS h2load would fall back to HTTP/1.1 if ALPN did not pick h2.
  const protocol = /^Application protocol: (\S+)/m.exec(out.stdout)?.[1]
  if (protocol !== 'h2' && protocol !== 'h2c') throw new Error(`h2load spoke ${protocol ?? 'no protocol'}, not h2`)
  return parseH2load(out.stdout, settings.durationSeconds)
}

function runNodeClient(contender: H2NodeContender, s: H2Scenario, origin: string, settings: Settings, certs: CertFiles): Promise<RunResult> {
  const args = [contender, s.name, origin, String(settings.warmupSeconds), String(settings.durationSeconds), ...(s.tls ? [certs.ca] : [])]
  return runNodeContender(CLIENT_SCRIPT, args, settings.warmupSeconds + settings.durationSeconds)
}

interface Row extends Summary<H2Contender> {
  /** Median req/s relative to node:http2's and to h2load's, from the same run. */
  readonly vsHttp2: number | null
  readonly vsH2load: number | null
}

function withRatios(summaries: readonly Summary<H2Contender>[]): Row[] {
  const http2 = summaries.find((r) => r.contender === 'http2')?.reqPerSec ?? null
  const h2load = summaries.find((r) => r.contender === 'h2load')?.reqPerSec ?? null
  return summaries.map((r) => ({ ...r, vsHttp2: ratio(r.reqPerSec, http2), vsH2load: ratio(r.reqPerSec, h2load) }))
}

/** A target checked against the rows: wirepool's ratio to the anchor, and whether it is met. */
interface TargetResult extends H2Target {
  readonly ratio: number | null
  readonly met: boolean | null
}

function checkTargets(table: ReadonlyMap<string, readonly Row[]>): TargetResult[] {
  return H2_TARGETS.filter((target) => table.has(target.scenario)).map((target) => {
    const wirepool = table.get(target.scenario)?.find((r) => r.contender === 'wirepool')
    const value = wirepool === undefined ? null : target.anchor === 'http2' ? wirepool.vsHttp2 : wirepool.vsH2load
    return { ...target, ratio: value, met: value === null ? null : value >= target.atLeast }
  })
}

function printTable(s: H2Scenario, rows: readonly Row[], settings: Settings, server: BenchServer): void {
  const body = rows.map((r) => [
    r.tool,
    r.reqPerSec === null ? 'failed' : formatNumber(r.reqPerSec),
    r.mbPerSec === null ? '—' : formatNumber(r.mbPerSec),
    formatRatio(r.vsHttp2),
    formatRatio(r.vsH2load),
    `${r.okRuns}/${r.runs}`,
    String(r.errors),
  ])
  const pin = canPin ? 'server on core 0, clients on core 1' : 'unpinned (taskset not installed)'
  process.stdout.write(
    `\n${s.name}: ${s.title}\n` +
      `server ${server.name}, ${pin}; median of ${settings.rounds} × ${settings.durationSeconds} s after ${settings.warmupSeconds} s warm-up; ` +
      `MB/s = response bodies, 10^6 B\n` +
      `${formatTable(['contender', 'req/s', 'MB/s', 'vs node:http2', 'vs h2load', 'runs ok', 'errors'], body)}\n`,
  )
  for (const r of rows) {
    if (r.error !== null) process.stdout.write(`  ${r.tool}: ${r.error}\n`)
  }
}

function printTargets(targets: readonly TargetResult[]): void {
  if (targets.length === 0) return
  const anchorName = (t: H2Target): string => LABELS[t.anchor]
  const lines = targets.map((t) => {
    const verdict = t.met === null ? 'not measured' : t.met ? 'met' : 'MISSED'
    return `  ${t.scenario}: wirepool ${formatRatio(t.ratio)} ${anchorName(t)} (target ≥ ${t.atLeast}×): ${verdict}`
  })
  process.stdout.write(`\ntargets\n${lines.join('\n')}\n`)
}

async function main(settings: Settings, scratch: string, servers: Stoppable[]): Promise<void> {
  const certs = await writeCertFiles(scratch)
  const server = settings.server === 'nghttpd' ? await startNghttpd(scratch, certs) : await startNodeServer(certs)
  servers.push(server)
  const h2load = which('h2load')
  if (h2load === null) process.stderr.write('h2load not installed: the C reference column is absent\n')
  const contendersFor = (): H2Contender[] => H2_CONTENDERS.filter((c) => (c !== 'h2load' || h2load !== null) && (c !== 'wirepool-base' || baselineDist() !== undefined))
  const outcomes = await runRounds(settings.rounds, settings.scenarios, contendersFor, (s, contender) => {
    const origin = s.tls ? server.tlsOrigin : server.origin
    if (contender === 'h2load') {
      if (h2load === null) throw new Error('h2load not installed')
      return runH2load(h2load, s, `${origin}${s.path}`, settings)
    }
    // The Node clients take the origin; the path comes from the scenario.
    return runNodeClient(contender, s, origin, settings, certs)
  })
  const table = new Map<string, Row[]>()
  for (const s of settings.scenarios) {
    const rows = withRatios(contendersFor().map((c) => summarize(s.bodySize, c, c === 'h2load' ? `h2load -c${s.connections} -m${s.streams}` : LABELS[c], outcomes.of(s, c))))
    table.set(s.name, rows)
    printTable(s, rows, settings, server)
  }
  const targets = checkTargets(table)
  printTargets(targets)
  if (settings.json) {
    await writeResults(RESULTS_FILE, {
      benchmark: 'h2',
      date: new Date().toISOString(),
      node: process.version,
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? null,
      server: server.name,
      pinned: canPin,
      durationSeconds: settings.durationSeconds,
      warmupSeconds: settings.warmupSeconds,
      rounds: settings.rounds,
      cTool: h2load === null ? null : 'h2load',
      scenarios: settings.scenarios.map((s) => ({ ...s, results: table.get(s.name) ?? [] })),
      targets,
    })
  }
}

runBenchmark('bench:h2', async (scratch, servers) => main(readSettings(process.argv.slice(2)), scratch, servers))
