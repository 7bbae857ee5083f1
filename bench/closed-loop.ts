/**
 * The measuring loop of every Node.js load contender (bench/h1-client.ts,
 * bench/h2-client.ts): `loops` closed loops, each awaiting its response and reading the
 * whole body before it sends the next request, for the warm-up plus the measured window.
 */
import { performance } from 'node:perf_hooks'
import type { RunResult } from './h1-scenarios.js'

export interface Client {
  /** One GET of the scenario path: resolves with the status and the body length read. */
  fetch(): Promise<{ status: number; bytes: number }>
  close(): Promise<void>
}

/**
 * Runs the closed loops. A response counts when it completes inside the measured window
 * (after the warm-up, before the end) with status 200 and the full body; a loop that
 * meets an error stops, so a broken client shows as errors and a low rate, never a hang.
 */
export async function drive(client: Client, loops: number, bodySize: number, warmupMs: number, durationMs: number): Promise<RunResult> {
  const measureFrom = performance.now() + warmupMs
  const end = measureFrom + durationMs
  let requests = 0
  let errors = 0
  let firstError: string | undefined
  // CPU used inside the window: sampled by timers at its two edges.
  let cpuAtStart: NodeJS.CpuUsage | undefined
  let cpuInWindow: NodeJS.CpuUsage | undefined
  const startTimer = setTimeout(() => (cpuAtStart = process.cpuUsage()), warmupMs)
  const endTimer = setTimeout(() => (cpuInWindow = process.cpuUsage(cpuAtStart)), warmupMs + durationMs)
  const loop = async (): Promise<void> => {
    while (performance.now() < end) {
      try {
        const { status, bytes } = await client.fetch()
        if (status !== 200) throw new Error(`status ${status}`)
        if (bytes !== bodySize) throw new Error(`body of ${bytes} bytes, expected ${bodySize}`)
      } catch (err) {
        errors++
        firstError ??= err instanceof Error ? err.message : String(err)
        return
      }
      const now = performance.now()
      if (now >= measureFrom && now <= end) requests++
    }
  }
  await Promise.all(Array.from({ length: loops }, loop))
  clearTimeout(startTimer)
  clearTimeout(endTimer)
  // The loops can all finish in the tick before the end timer's turn: read the clock now.
  if (cpuInWindow === undefined && cpuAtStart !== undefined) cpuInWindow = process.cpuUsage(cpuAtStart)
  const cpu = cpuInWindow !== undefined && requests > 0 ? { cpuMicrosPerRequest: (cpuInWindow.user + cpuInWindow.system) / requests } : {}
  return { requests, seconds: durationMs / 1000, errors, ...cpu, ...(firstError === undefined ? {} : { firstError }) }
}

/** A command-line number of seconds (warm-up, duration). */
export function seconds(arg: string | undefined, what: string): number {
  const value = Number(arg)
  if (!Number.isFinite(value) || value < 0) throw new Error(`${what} must be a number of seconds, got ${arg}`)
  return value
}

/** Exit code of a contender that printed its result but stayed alive after closing its client. */
export const LINGER_EXIT_CODE = 3
/** How long a contender may take to exit on its own once its client is closed. */
const LINGER_MS = 5000

/**
 * A contender script's entry point: prints one JSON RunResult line, or the error on
 * stderr with exit code 1. A client whose close() resolves while a socket or timer still
 * holds the event loop is a leak worth seeing: after LINGER_MS the process names what is
 * still open on stderr and exits with LINGER_EXIT_CODE, instead of hanging until the
 * orchestrator kills it and the measurement is lost.
 */
export function runContender(main: () => Promise<RunResult>): void {
  main().then(
    (result) => {
      process.stdout.write(`${JSON.stringify(result)}\n`)
      setTimeout(() => {
        process.stderr.write(`still running ${LINGER_MS} ms after close(): ${process.getActiveResourcesInfo().join(', ')}\n`)
        process.exit(LINGER_EXIT_CODE)
      }, LINGER_MS).unref()
    },
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
      process.exitCode = 1
    },
  )
}
