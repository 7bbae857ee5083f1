/**
 * The orchestration every load benchmark (bench/h1.ts, bench/h2.ts) shares: settings from
 * the environment, contenders alternated over rounds, Node contenders run as pinned
 * children, per-contender medians, the results file, and a cleanup that runs on success,
 * failure and Ctrl-C alike.
 */
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { killChildren, pinned, runChild } from './children.js'
import { LINGER_EXIT_CODE } from './closed-loop.js'
import type { RunResult } from './h1-scenarios.js'
import { formatNumber, median } from './table.js'
import { which } from '../test-interop/support/which.js'

/** tsx's loader by absolute URL: children resolve it whatever their working directory. */
export const TSX = import.meta.resolve('tsx')
/** A contender process gets its run time plus this much for start-up and shutdown. */
const CHILD_SLACK_MS = 30_000

/** One contender's outcome in one round: its result, or why it failed. */
export type Outcome = { readonly ok: true; readonly result: RunResult } | { readonly ok: false; readonly error: string }

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

/**
 * `BENCH_BASELINE=<checkout>`: another checkout of wirepool with a built `dist/` (e.g. a
 * `git worktree` of the commit before a change) runs as the contender `wirepool-base` in the
 * same rounds as this one, so a before/after comparison shares the machine's moment.
 */
export function baselineDist(): string | undefined {
  const raw = process.env['BENCH_BASELINE']
  if (raw === undefined || raw === '') return undefined
  return new URL('dist/index.js', pathToFileURL(raw.endsWith('/') ? raw : `${raw}/`)).href
}

/** The engine build a wirepool contender loads: this checkout's dist/, or the baseline's. */
export function engineBuild(contender: string): string {
  if (contender !== 'wirepool-base') return new URL('../dist/index.js', import.meta.url).href
  const base = baselineDist()
  if (base === undefined) throw new Error('wirepool-base needs BENCH_BASELINE=<checkout with dist/>')
  return base
}

/** A numeric setting from the environment: `kind` says what is accepted. */
export function envNumber(name: string, fallback: number, kind: 'seconds' | 'seconds or 0' | 'count'): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  const valid = Number.isFinite(value) && (kind === 'seconds or 0' ? value >= 0 : value > 0) && (kind !== 'count' || Number.isInteger(value))
  if (!valid) throw new Error(`${name} must be ${kind === 'count' ? 'a positive integer' : `a number of ${kind}`}, got ${raw}`)
  return value
}

/** The timing settings every load benchmark reads: BENCH_DURATION, BENCH_WARMUP, BENCH_ROUNDS. */
export interface Timing {
  readonly durationSeconds: number
  readonly warmupSeconds: number
  readonly rounds: number
}

export function readTiming(): Timing {
  return {
    durationSeconds: envNumber('BENCH_DURATION', 3, 'seconds'),
    warmupSeconds: envNumber('BENCH_WARMUP', 0.5, 'seconds or 0'),
    rounds: envNumber('BENCH_ROUNDS', 3, 'count'),
  }
}

/**
 * The command line every load benchmark takes: `[--json] [name…]`. Returns the named items
 * (all of them when none is named) and whether to write JSON; anything unknown is an error
 * that lists what is known.
 */
export function readSelection<T extends { readonly name: string }>(
  argv: readonly string[],
  known: readonly T[],
  script: string,
  noun: string,
): { json: boolean; selected: readonly T[] } {
  const names = argv.filter((arg) => !arg.startsWith('--'))
  const unknownFlags = argv.filter((arg) => arg.startsWith('--') && arg !== '--json')
  if (unknownFlags.length > 0) throw new Error(`unknown option ${unknownFlags.join(' ')}; usage: ${script} [--json] [${noun}…]`)
  const unknown = names.filter((name) => !known.some((k) => k.name === name))
  if (unknown.length > 0) throw new Error(`unknown ${noun} ${unknown.join(', ')}; known: ${known.map((k) => k.name).join(', ')}`)
  return { json: argv.includes('--json'), selected: names.length === 0 ? known : known.filter((k) => names.includes(k.name)) }
}

/**
 * BENCH_SERVER: the native server (nginx, nghttpd) when it is installed, unless `node` asks
 * for the node fallback; asking for a native server that is missing is an error.
 */
export function serverChoice<N extends string>(raw: string | undefined, native: N): N | 'node' {
  const installed = which(native) !== null
  if (raw === 'node') return 'node'
  if (raw === native && !installed) throw new Error(`BENCH_SERVER=${native} but ${native} is not installed`)
  if (raw === undefined || raw === '' || raw === native) return installed ? native : 'node'
  throw new Error(`BENCH_SERVER must be ${native} or node, got ${raw}`)
}

/** Round r starts at the r-th contender, so no contender always runs first or last. */
export function rotate<T>(items: readonly T[], by: number): T[] {
  const k = by % Math.max(1, items.length)
  return [...items.slice(k), ...items.slice(0, k)]
}

/**
 * Runs a Node contender script alone in a process on core 1 and reads the one JSON
 * `RunResult` line it prints. A crash or a hang (killed after the run time plus slack)
 * becomes an error naming the exit and the first stderr line; a client that lingered
 * after close() keeps its result, with the lingering noted as its first error.
 */
export async function runNodeContender(script: string, args: readonly string[], runSeconds: number): Promise<RunResult> {
  const out = await runChild(pinned(1, process.execPath, ['--import', TSX, script, ...args]), runSeconds * 1000 + CHILD_SLACK_MS)
  if (out.code === LINGER_EXIT_CODE) {
    // The measurement is complete; the leak at shutdown is reported next to it.
    const result = JSON.parse(out.stdout) as RunResult
    return { ...result, firstError: result.firstError ?? out.stderr.split('\n').find((line) => line.includes('after close()')) ?? 'did not exit after close()' }
  }
  if (out.code !== 0) {
    // The first stderr line of an uncaught error is its message; the stack follows.
    const message = out.stderr.trim().split('\n')[0] ?? ''
    throw new Error(`exited with ${out.signal ?? `code ${out.code}`}${message === '' ? '' : `: ${message}`}`)
  }
  return JSON.parse(out.stdout) as RunResult
}

/** The outcomes of every (scenario, contender) pair, in round order. */
export class Outcomes<S extends { readonly name: string }, C extends string> {
  readonly #byKey = new Map<string, Outcome[]>()

  of(s: S, contender: C): Outcome[] {
    const key = `${s.name} ${contender}`
    const list = this.#byKey.get(key) ?? []
    this.#byKey.set(key, list)
    return list
  }
}

/**
 * `rounds` passes over the scenarios, contenders rotated each round, one at a time (the
 * machine is shared: two contenders at once would measure each other). Progress goes to
 * stderr; a failed run is recorded, never fatal.
 */
export async function runRounds<S extends { readonly name: string }, C extends string>(
  rounds: number,
  scenarios: readonly S[],
  contendersFor: (s: S) => readonly C[],
  runOne: (s: S, contender: C) => Promise<RunResult>,
): Promise<Outcomes<S, C>> {
  const outcomes = new Outcomes<S, C>()
  for (let round = 0; round < rounds; round++) {
    for (const s of scenarios) {
      for (const contender of rotate(contendersFor(s), round)) {
        let outcome: Outcome
        try {
          outcome = { ok: true, result: await runOne(s, contender) }
        } catch (err) {
          outcome = { ok: false, error: errorMessage(err) }
        }
        outcomes.of(s, contender).push(outcome)
        const shown = outcome.ok ? `${formatNumber(outcome.result.requests / outcome.result.seconds)} req/s` : `failed: ${outcome.error}`
        process.stderr.write(`round ${round + 1}/${rounds} ${s.name} ${contender}: ${shown}\n`)
      }
    }
  }
  return outcomes
}

/** One contender's medians over the rounds of one scenario. */
export interface Summary<C extends string> {
  readonly contender: C
  /** The name shown: `undici 7`, `wrk`, `h2load -m100`… */
  readonly tool: string
  readonly reqPerSec: number | null
  readonly mbPerSec: number | null
  readonly okRuns: number
  readonly runs: number
  readonly errors: number
  readonly error: string | null
  readonly perRound: readonly (number | null)[]
  /** Median client CPU µs per response (closed-loop Node contenders only), else null. */
  readonly cpuMicrosPerRequest: number | null
}

export function summarize<C extends string>(bodySize: number, contender: C, tool: string, outcomes: readonly Outcome[]): Summary<C> {
  const rates = outcomes.map((o) => (o.ok ? o.result.requests / o.result.seconds : null))
  const okRates = rates.filter((r): r is number => r !== null)
  const reqPerSec = okRates.length === 0 ? null : median(okRates)
  const failure = outcomes.map((o) => (o.ok ? undefined : o.error)).find((e) => e !== undefined)
  const requestError = outcomes.map((o) => (o.ok ? o.result.firstError : undefined)).find((e) => e !== undefined)
  const cpu = outcomes.flatMap((o) => (o.ok && o.result.cpuMicrosPerRequest !== undefined ? [o.result.cpuMicrosPerRequest] : []))
  return {
    contender,
    tool,
    reqPerSec,
    // Body bytes of the responses completed in the window, in MB (10^6 bytes) per second.
    mbPerSec: reqPerSec === null ? null : (reqPerSec * bodySize) / 1e6,
    okRuns: okRates.length,
    runs: outcomes.length,
    errors: outcomes.reduce((n, o) => n + (o.ok ? o.result.errors : 0), 0),
    error: failure ?? requestError ?? null,
    perRound: rates,
    cpuMicrosPerRequest: cpu.length === 0 ? null : median(cpu),
  }
}

/** Written aside then renamed: the README generator never reads a half-written file. */
export async function writeResults(file: string, report: unknown): Promise<void> {
  await mkdir(dirname(file), { recursive: true })
  await writeFile(`${file}.tmp`, `${JSON.stringify(report, null, 2)}\n`)
  await rename(`${file}.tmp`, file)
  process.stdout.write(`\nwrote ${file}\n`)
}

/** What `main` registers to be stopped at the end (servers). */
export interface Stoppable {
  stop(): Promise<void>
}

/**
 * Runs a benchmark's `main` and always cleans up: on success, on error and on Ctrl-C /
 * SIGTERM the contender children are killed, the registered servers stopped and the
 * scratch dir removed. Failures are reported as `<name> failed: …` with exit code 1.
 */
export function runBenchmark(name: string, main: (scratch: string, servers: Stoppable[]) => Promise<void>): void {
  const run = async (): Promise<void> => {
    const scratch = await mkdtemp(join(tmpdir(), 'wirepool-bench-'))
    const servers: Stoppable[] = []
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
      await main(scratch, servers)
    } finally {
      await cleanup()
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
    }
  }
  run().catch((err: unknown) => {
    process.stderr.write(`${name} failed: ${errorMessage(err)}\n`)
    process.exitCode = 1
  })
}
