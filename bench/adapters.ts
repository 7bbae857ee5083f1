/**
 * Embedding benchmark (`npm run bench:adapters`): undici's own `request()` and `fetch()` on
 * undici's Agent vs the same calls on `WirepoolDispatcher`, over HTTP/1.1 (a node:http
 * server), HTTP/2 over TLS and cleartext h2c (one node:http2 server serving both). Servers
 * run in processes of their own on core 0, every contender alone in a process on core 1
 * (taskset, when installed). Contenders alternate inside each round, rounds repeat, and the
 * medians and the ratio measured in the same run are reported (absolute numbers drift on a
 * shared machine).
 *
 *   BENCH_DURATION=3 BENCH_WARMUP=0.5 BENCH_ROUNDS=3 npm run bench:adapters -- [--json] [case…]
 *
 * `--json` also writes bench/results/adapters.json.
 */
import { writeFile } from 'node:fs/promises'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ADAPTER_CASES, ADAPTER_CONCURRENCY, ADAPTER_CONNECTIONS, type AdapterBackend, type AdapterCase } from './adapters-cases.js'
import { canPin, pinned, startServerChild } from './children.js'
import { TSX, readSelection, readTiming, runBenchmark, runNodeContender, runRounds, summarize, writeResults, type Stoppable, type Summary, type Timing } from './harness.js'
import { formatNumber, formatRatio, formatTable, ratio } from './table.js'
import { makeCertificates } from '../test/support/certs.js'

interface Settings extends Timing {
  readonly json: boolean
  readonly cases: readonly AdapterCase[]
}

interface Origins {
  readonly h1: string
  readonly h2: string
  readonly h2c: string
}

const CLIENT_SCRIPT = fileURLToPath(new URL('./adapters-client.ts', import.meta.url))
const H1_SERVER = fileURLToPath(new URL('./h1-server.ts', import.meta.url))
const H2_SERVER = fileURLToPath(new URL('./h2-server.ts', import.meta.url))
const RESULTS_FILE = fileURLToPath(new URL('./results/adapters.json', import.meta.url))
const BACKENDS: readonly AdapterBackend[] = ['undici', 'wirepool']
const LABELS: Readonly<Record<AdapterBackend, string>> = { undici: 'undici Agent', wirepool: 'WirepoolDispatcher' }

function readSettings(argv: readonly string[]): Settings {
  const { json, selected } = readSelection(argv, ADAPTER_CASES, 'adapters.ts', 'case')
  return { ...readTiming(), json, cases: selected }
}

/** Starts the servers the selected cases need, pinned to core 0; registers them for cleanup. */
async function startServers(settings: Settings, scratch: string, caFile: string, servers: Stoppable[]): Promise<Origins> {
  const wants = (p: AdapterCase['protocol']): boolean => settings.cases.some((c) => c.protocol === p)
  let h1 = ''
  if (wants('h1')) {
    const server = await startServerChild<{ port: number }>(pinned(0, process.execPath, ['--import', TSX, H1_SERVER]))
    servers.push(server)
    h1 = `http://127.0.0.1:${server.info.port}`
  }
  let h2 = ''
  let h2c = ''
  if (wants('h2') || wants('h2c')) {
    const certs = await makeCertificates()
    const keyFile = join(scratch, 'key.pem')
    const certFile = join(scratch, 'cert.pem')
    await writeFile(keyFile, certs.key, { mode: 0o600 })
    await writeFile(certFile, certs.cert)
    await writeFile(caFile, certs.ca)
    const server = await startServerChild<{ port: number; tlsPort: number }>(pinned(0, process.execPath, ['--import', TSX, H2_SERVER, keyFile, certFile]))
    servers.push(server)
    h2 = `https://127.0.0.1:${server.info.tlsPort}`
    h2c = `http://127.0.0.1:${server.info.port}`
  }
  return { h1, h2, h2c }
}

interface Row extends Summary<AdapterBackend> {
  /** Median req/s relative to undici's Agent, from the same run. */
  readonly vsUndici: number | null
}

/** Client CPU per response: steadier than the rate on a shared machine (see RunResult). */
function formatCpu(micros: number | null): string {
  return micros === null ? '–' : micros.toFixed(1)
}

function printTable(rows: ReadonlyMap<AdapterCase, readonly Row[]>, settings: Settings): void {
  const body = [...rows].map(([c, [u, w]]) => [
    c.name,
    u?.reqPerSec == null ? 'failed' : formatNumber(u.reqPerSec),
    w?.reqPerSec == null ? 'failed' : formatNumber(w.reqPerSec),
    formatRatio(w?.vsUndici ?? null),
    formatCpu(u?.cpuMicrosPerRequest ?? null),
    formatCpu(w?.cpuMicrosPerRequest ?? null),
    `${(u?.okRuns ?? 0) + (w?.okRuns ?? 0)}/${(u?.runs ?? 0) + (w?.runs ?? 0)}`,
    String((u?.errors ?? 0) + (w?.errors ?? 0)),
  ])
  const pin = canPin ? 'servers on core 0, clients on core 1' : 'unpinned (taskset not installed)'
  process.stdout.write(
    `\nundici Agent vs WirepoolDispatcher: ${ADAPTER_CONCURRENCY} in flight, ${ADAPTER_CONNECTIONS} connections; ${pin}; ` +
      `median of ${settings.rounds} × ${settings.durationSeconds} s after ${settings.warmupSeconds} s warm-up\n` +
      `${formatTable(['case', 'undici Agent req/s', 'WirepoolDispatcher req/s', 'wirepool / undici', 'undici CPU µs/req', 'wirepool CPU µs/req', 'runs ok', 'errors'], body)}\n`,
  )
  for (const [c, list] of rows) {
    for (const r of list) if (r.error !== null) process.stdout.write(`  ${c.name} ${r.tool}: ${r.error}\n`)
  }
}

async function main(settings: Settings, scratch: string, servers: Stoppable[]): Promise<void> {
  const caFile = join(scratch, 'ca.pem')
  const origins = await startServers(settings, scratch, caFile, servers)
  const outcomes = await runRounds(settings.rounds, settings.cases, () => BACKENDS, (c, backend) => {
    const args = [backend, c.name, origins[c.protocol], String(settings.warmupSeconds), String(settings.durationSeconds), ...(c.protocol === 'h2' ? [caFile] : [])]
    return runNodeContender(CLIENT_SCRIPT, args, settings.warmupSeconds + settings.durationSeconds)
  })
  const table = new Map<AdapterCase, Row[]>()
  for (const c of settings.cases) {
    const summaries = BACKENDS.map((b) => summarize(c.bodySize, b, LABELS[b], outcomes.of(c, b)))
    const undici = summaries[0]?.reqPerSec ?? null
    table.set(c, summaries.map((s) => ({ ...s, vsUndici: ratio(s.reqPerSec, undici) })))
  }
  printTable(table, settings)
  if (settings.json) {
    await writeResults(RESULTS_FILE, {
      benchmark: 'adapters',
      date: new Date().toISOString(),
      node: process.version,
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? null,
      servers: { h1: `node:http ${process.version}`, h2: `node:http2 ${process.version}` },
      pinned: canPin,
      concurrency: ADAPTER_CONCURRENCY,
      connections: ADAPTER_CONNECTIONS,
      durationSeconds: settings.durationSeconds,
      warmupSeconds: settings.warmupSeconds,
      rounds: settings.rounds,
      cases: [...table].map(([c, results]) => ({ ...c, results })),
    })
  }
}

runBenchmark('bench:adapters', async (scratch, servers) => main(readSettings(process.argv.slice(2)), scratch, servers))
