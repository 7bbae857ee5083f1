/**
 * Idle memory per connection (`npm run bench:memory`, issue 4 "Scale and memory"):
 * wirepool (h1, h2c, TLS h1, TLS h2) next to Node's own floor measured in the same run
 * (bare net and TLS sockets, http.Agent, node:http2 sessions, undici). Every contender runs
 * in a child process of its own under `node --expose-gc` (bench/memory-client.ts) on core 1,
 * the server (bench/idle-server.ts) in another on core 0. Figures are the growth of RSS, of
 * the V8 heap and of external memory from `n` idle connections to `2n`, after full collections,
 * in MiB per 100 connections (the first `n` warm the process up; see memory-client.ts).
 *
 *   BENCH_COUNTS=100,1000 BENCH_ROUNDS=3 npm run bench:memory -- [--json] [--profile] [contender…]
 *
 * `--profile` also runs each selected contender once more with heap snapshots and lists
 * what each connection adds to the V8 heap, by object kind (bench/heap-diff.ts); name the
 * contenders to compare, e.g. `--profile tls-shared wirepool-tls-h1`. `--json` writes
 * bench/results/memory.json.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { makeCertificates } from '../test/support/certs.js'
import { canPin, pinned, runChild, startServerChild } from './children.js'
import { envNumber, errorMessage, rotate, runBenchmark, TSX, writeResults, type Stoppable } from './harness.js'
import { diffSnapshots, type HeapGroup } from './heap-diff.js'
import {
  CONTENDERS,
  isContender,
  LABELS,
  TARGETS,
  type Contender,
  type MemoryResult,
  type Ports,
  type Target,
  type WirepoolContender,
} from './memory-contenders.js'
import { formatRatio, formatTable, median, ratio } from './table.js'

interface Settings {
  readonly counts: readonly number[]
  readonly rounds: number
  readonly json: boolean
  readonly profile: boolean
  readonly contenders: readonly Contender[]
}

const CLIENT_SCRIPT = fileURLToPath(new URL('./memory-client.ts', import.meta.url))
const SERVER_SCRIPT = fileURLToPath(new URL('./idle-server.ts', import.meta.url))
const RESULTS_FILE = fileURLToPath(new URL('./results/memory.json', import.meta.url))
/** A contender opening 1,000 TLS connections takes a few seconds; this only stops a hang. */
const CHILD_TIMEOUT_MS = 180_000
const MiB = 1024 * 1024
/**
 * A fixed 1 MiB young generation and no memory reducer: without them V8 resized its
 * semi-spaces and released pages between the two measurements, and its heap alone moved
 * RSS by more than 100 idle connections cost. Native allocations (malloc arenas, thread
 * stacks) still move RSS by a few MiB from run to run, which is why rounds are repeated
 * and the range is shown; the V8 heap figure is the stable one. Every contender runs with
 * the same flags.
 */
const NODE_FLAGS = ['--expose-gc', '--min-semi-space-size=1', '--max-semi-space-size=1', '--no-memory-reducer']
const USAGE = 'memory.ts [--json] [--profile] [contender…]'

function readSettings(argv: readonly string[]): Settings {
  const flags = argv.filter((arg) => arg.startsWith('--'))
  const unknownFlags = flags.filter((flag) => flag !== '--json' && flag !== '--profile')
  if (unknownFlags.length > 0) throw new Error(`unknown option ${unknownFlags.join(' ')}; usage: ${USAGE}`)
  const names = argv.filter((arg) => !arg.startsWith('--'))
  const unknown = names.filter((name) => !isContender(name))
  if (unknown.length > 0) throw new Error(`unknown contender ${unknown.join(', ')}; known: ${CONTENDERS.join(', ')}`)
  return {
    counts: envCounts('BENCH_COUNTS', [100, 1000]),
    rounds: envNumber('BENCH_ROUNDS', 3, 'count'),
    json: flags.includes('--json'),
    profile: flags.includes('--profile'),
    contenders: names.length === 0 ? CONTENDERS : CONTENDERS.filter((c) => names.includes(c)),
  }
}

/** A comma-separated list of connection counts (`BENCH_COUNTS=100,1000`). */
function envCounts(name: string, fallback: readonly number[]): number[] {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return [...fallback]
  const values = raw.split(',').map((part) => Number(part.trim()))
  if (values.some((v) => !Number.isInteger(v) || v <= 0)) throw new Error(`${name} must be positive integers separated by commas, got ${raw}`)
  return values
}

/** MiB per 100 connections from a growth in bytes over `n` connections. */
function per100(bytes: number, n: number): number {
  return (bytes / n / MiB) * 100
}

interface Row {
  readonly contender: Contender
  readonly label: string
  readonly connections: number
  /** Medians over the rounds that succeeded; null when none did. */
  readonly rssMiBPer100: number | null
  /** V8 heap (heapUsed) growth; native socket and TLS state is outside it. */
  readonly heapMiBPer100: number | null
  /** Memory of ArrayBuffers and other V8-tracked native allocations. */
  readonly externalMiBPer100: number | null
  readonly bytesPerConnection: { readonly rss: number; readonly heap: number } | null
  readonly openMs: number | null
  readonly runs: number
  readonly okRuns: number
  readonly error: string | null
  readonly note: string | null
  readonly perRound: readonly (number | null)[]
}

interface Verdict {
  readonly contender: WirepoolContender
  readonly connections: number
  readonly floor: Contender
  readonly vsFloor: number | null
  readonly node: Contender
  readonly vsNode: number | null
  readonly target: string
  readonly met: boolean | null
}

type Outcome = { readonly ok: true; readonly result: MemoryResult } | { readonly ok: false; readonly error: string }

async function runContender(contender: Contender, n: number, ports: Ports, caFile: string, snapshotDir?: string): Promise<MemoryResult> {
  const args = [...NODE_FLAGS, '--import', TSX, CLIENT_SCRIPT, contender, String(n), JSON.stringify(ports), caFile]
  if (snapshotDir !== undefined) args.push(snapshotDir)
  const out = await runChild(pinned(1, process.execPath, args), CHILD_TIMEOUT_MS)
  if (out.code !== 0) {
    const message = out.stderr.trim().split('\n')[0] ?? ''
    throw new Error(`exited with ${out.signal ?? `code ${out.code}`}${message === '' ? '' : `: ${message}`}`)
  }
  const result = JSON.parse(out.stdout) as MemoryResult
  // n warm-up connections plus n measured: anything else means the contender did not hold what it claims.
  if (result.serverOpen !== 2 * n) throw new Error(`server saw ${result.serverOpen} open connections, expected ${2 * n}`)
  return result
}

function summarize(contender: Contender, n: number, outcomes: readonly Outcome[]): Row {
  const ok = outcomes.flatMap((o) => (o.ok ? [o.result] : []))
  const rss = ok.map((r) => r.after.rss - r.before.rss)
  const heap = ok.map((r) => r.after.heapUsed - r.before.heapUsed)
  const external = ok.map((r) => r.after.external - r.before.external)
  const rssBytes = rss.length === 0 ? null : median(rss)
  const heapBytes = heap.length === 0 ? null : median(heap)
  return {
    contender,
    label: LABELS[contender],
    connections: n,
    rssMiBPer100: rssBytes === null ? null : per100(rssBytes, n),
    heapMiBPer100: heapBytes === null ? null : per100(heapBytes, n),
    externalMiBPer100: external.length === 0 ? null : per100(median(external), n),
    bytesPerConnection: rssBytes === null || heapBytes === null ? null : { rss: Math.round(rssBytes / n), heap: Math.round(heapBytes / n) },
    openMs: ok.length === 0 ? null : median(ok.map((r) => r.openMs)),
    runs: outcomes.length,
    okRuns: ok.length,
    error: outcomes.map((o) => (o.ok ? undefined : o.error)).find((e) => e !== undefined) ?? null,
    note: ok.map((r) => r.note).find((x) => x !== undefined) ?? null,
    perRound: outcomes.map((o) => (o.ok ? per100(o.result.after.rss - o.result.before.rss, n) : null)),
  }
}

function judge(contender: WirepoolContender, target: Target, rows: readonly Row[]): Verdict | null {
  const row = rows.find((r) => r.contender === contender)
  if (row === undefined) return null
  const rssOf = (c: Contender): number | null => rows.find((r) => r.contender === c)?.rssMiBPer100 ?? null
  const vsFloor = ratio(row.rssMiBPer100, rssOf(target.floor))
  const vsNode = ratio(row.rssMiBPer100, rssOf(target.node))
  let met: boolean | null = null
  let text: string
  if (target.maxMiBPer100 !== undefined) {
    text = `≤ ${target.maxMiBPer100.toFixed(1)} MiB`
    met = row.rssMiBPer100 === null ? null : row.rssMiBPer100 <= target.maxMiBPer100
  } else {
    const max = target.maxRatio ?? 1
    text = `≤ ${max.toFixed(2)}× ${target.floor}`
    met = vsFloor === null ? null : vsFloor <= max
  }
  return { contender, connections: row.connections, floor: target.floor, vsFloor, node: target.node, vsNode, target: text, met }
}

function mib(value: number | null): string {
  return value === null ? 'failed' : value.toFixed(2)
}

/** `min–max` of the rounds' RSS figures, so the noise is visible next to the median. */
function range(values: readonly (number | null)[]): string {
  const ok = values.filter((v): v is number => v !== null)
  if (ok.length < 2) return '—'
  return `${Math.min(...ok).toFixed(1)}–${Math.max(...ok).toFixed(1)}`
}

function printCount(n: number, rows: readonly Row[], verdicts: readonly Verdict[], rounds: number): void {
  const body = rows.map((r) => {
    const v = verdicts.find((x) => x.contender === r.contender)
    return [
      r.label,
      mib(r.rssMiBPer100),
      range(r.perRound),
      mib(r.heapMiBPer100),
      mib(r.externalMiBPer100),
      r.openMs === null ? '—' : Math.round(r.openMs).toLocaleString('en-US'),
      v === undefined ? '' : `${formatRatio(v.vsFloor)} ${v.floor}`,
      v === undefined ? '' : `${formatRatio(v.vsNode)} ${v.node}`,
      v === undefined ? '' : `${v.target} ${v.met === null ? '?' : v.met ? 'met' : 'MISSED'}`,
    ]
  })
  const pin = canPin ? 'server on core 0, contenders on core 1' : 'unpinned (taskset not installed)'
  process.stdout.write(
    `\n${n.toLocaleString('en-US')} idle connections (each carried one request, bare sockets a raw one); ${pin}; ` +
      `median of ${rounds} round(s); MiB per 100 connections\n` +
      `${formatTable(['contender', 'RSS', 'RSS range', 'heap', 'external', 'open ms', 'RSS vs floor', 'RSS vs Node client', 'target (RSS)'], body)}\n`,
  )
  for (const r of rows) {
    if (r.error !== null) process.stdout.write(`  ${r.label}: ${r.error}\n`)
    if (r.note !== null) process.stdout.write(`  ${r.label}: ${r.note}\n`)
  }
}

function printProfile(contender: Contender, n: number, groups: readonly HeapGroup[]): void {
  const top = groups.slice(0, 25)
  const total = groups.reduce((sum, g) => sum + g.bytesPerConnection, 0)
  process.stdout.write(
    `\n${LABELS[contender]}: V8 heap growth per connection over ${n} connections, ${Math.round(total).toLocaleString('en-US')} B shallow in all ` +
      `(native memory of sockets and TLS is outside the V8 heap)\n` +
      `${formatTable(
        ['object group', 'count/conn', 'bytes/conn'],
        top.map((g) => [g.group, g.countPerConnection.toFixed(2), Math.round(g.bytesPerConnection).toLocaleString('en-US')]),
      )}\n`,
  )
}

async function main(settings: Settings, scratch: string, servers: Stoppable[]): Promise<void> {
  const certs = await makeCertificates()
  const files = { key: join(scratch, 'key.pem'), cert: join(scratch, 'cert.pem'), ca: join(scratch, 'ca.pem') }
  await Promise.all([writeFile(files.key, certs.key), writeFile(files.cert, certs.cert), writeFile(files.ca, certs.ca)])
  const server = await startServerChild<Ports>(pinned(0, process.execPath, ['--import', TSX, SERVER_SCRIPT, files.key, files.cert]))
  servers.push(server)
  const ports = server.info
  const report: { counts: Array<{ connections: number; results: Row[]; verdicts: Verdict[]; profiles: Record<string, HeapGroup[]> }> } = { counts: [] }
  for (const n of settings.counts) {
    const outcomes = new Map<Contender, Outcome[]>()
    for (let round = 0; round < settings.rounds; round++) {
      for (const contender of rotate(settings.contenders, round)) {
        let outcome: Outcome
        try {
          outcome = { ok: true, result: await runContender(contender, n, ports, files.ca) }
        } catch (err) {
          outcome = { ok: false, error: errorMessage(err) }
        }
        outcomes.set(contender, [...(outcomes.get(contender) ?? []), outcome])
        const shown = outcome.ok ? `${per100(outcome.result.after.rss - outcome.result.before.rss, n).toFixed(2)} MiB/100 RSS` : `failed: ${outcome.error}`
        process.stderr.write(`n=${n} round ${round + 1}/${settings.rounds} ${contender}: ${shown}\n`)
      }
    }
    const rows = settings.contenders.map((c) => summarize(c, n, outcomes.get(c) ?? []))
    const verdicts = (Object.entries(TARGETS) as Array<[WirepoolContender, Target]>)
      .map(([c, target]) => judge(c, target, rows))
      .filter((v): v is Verdict => v !== null)
    printCount(n, rows, verdicts, settings.rounds)
    const profiles: Record<string, HeapGroup[]> = {}
    if (settings.profile) {
      for (const contender of settings.contenders) {
        const dir = join(scratch, `${contender}-${n}`)
        await mkdir(dir, { recursive: true })
        await runContender(contender, n, ports, files.ca, dir)
        const groups = await diffSnapshots(join(dir, 'before.heapsnapshot'), join(dir, 'after.heapsnapshot'), n)
        // Snapshots of 1,000 connections are tens of MB: gone as soon as they are read.
        await rm(dir, { recursive: true, force: true })
        profiles[contender] = groups.slice(0, 40)
        printProfile(contender, n, groups)
      }
    }
    report.counts.push({ connections: n, results: rows, verdicts, profiles })
  }
  if (settings.json) {
    await writeResults(RESULTS_FILE, {
      benchmark: 'memory',
      date: new Date().toISOString(),
      node: process.version,
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? null,
      server: `node:http, node:https, node:http2 ${process.version}`,
      pinned: canPin,
      rounds: settings.rounds,
      ...report,
    })
  }
}

runBenchmark('bench:memory', (scratch, servers) => main(readSettings(process.argv.slice(2)), scratch, servers))
