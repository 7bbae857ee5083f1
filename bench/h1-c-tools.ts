/**
 * The C reference contender of the HTTP/1.1 benchmark: wrk for the closed-loop scenarios,
 * and for pipelining h2load --h1 (which keeps N requests in flight all the time, as undici
 * and wirepool do) when installed, else wrk with a Lua script that writes batches of N
 * pipelined requests (the next batch only after the whole previous one was answered).
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pinned, runChild } from './children.js'
import type { RunResult, Scenario } from './h1-scenarios.js'
import { which } from '../test-interop/support/which.js'

export interface CTool {
  /** How the table names the tool for a scenario, e.g. `h2load --h1 -m10`. */
  label(s: Scenario): string
  run(s: Scenario, origin: string, warmupSeconds: number, durationSeconds: number): Promise<RunResult>
}

/** wrk prints its summary through this marker from our `done()` hook: no text scraping. */
const WRK_MARKER = 'WRKJSON '

/**
 * `done()` reports the summary as one JSON line. With a pipelining depth, `init()` builds
 * one string of `depth` requests that wrk writes at once (wrk counts each response).
 */
function wrkScript(depth: number): string {
  const pipeline =
    depth > 1
      ? `init = function(args)
  local r = {}
  for i = 1, ${depth} do r[i] = wrk.format(nil, nil) end
  batch = table.concat(r)
end
request = function() return batch end
`
      : ''
  return `${pipeline}done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('${WRK_MARKER}{"requests":%d,"statusErrors":%d,"errors":%d,"durationUs":%d}\\n',
    summary.requests, e.status, e.connect + e.read + e.write + e.timeout, summary.duration))
end
`
}

/** Parses the line our `done()` hook printed. */
export function parseWrk(stdout: string): RunResult {
  const line = stdout.split('\n').find((l) => l.startsWith(WRK_MARKER))
  if (line === undefined) throw new Error(`wrk printed no summary: ${stdout.trim()}`)
  const s = JSON.parse(line.slice(WRK_MARKER.length)) as { requests: number; statusErrors: number; errors: number; durationUs: number }
  const errors = s.errors + s.statusErrors
  return {
    // A response with a 4xx/5xx status is counted by wrk as a request; here it is an error.
    requests: s.requests - s.statusErrors,
    seconds: s.durationUs / 1e6,
    errors,
    ...(errors > 0 ? { firstError: `wrk: ${s.errors} socket errors, ${s.statusErrors} error statuses` } : {}),
  }
}

/**
 * Parses h2load's `requests:` line. In timing-based mode (-D) its counts cover the main
 * duration only, not the warm-up (its `traffic:` byte counts include the warm-up, so
 * they are not used).
 */
export function parseH2load(stdout: string, seconds: number): RunResult {
  const match = /^requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/m.exec(stdout)
  if (match === null) throw new Error(`h2load printed no request counts: ${stdout.trim()}`)
  const [succeeded, failed, errored, timeout] = [match[4], match[5], match[6], match[7]].map(Number) as [number, number, number, number]
  const errors = failed + errored + timeout
  return {
    requests: succeeded,
    seconds,
    errors,
    ...(errors > 0 ? { firstError: `h2load: ${failed} failed, ${errored} errored, ${timeout} timeouts` } : {}),
  }
}

/** Bound for a C tool run beyond its own duration (connect, start-up, exit). */
const SLACK_MS = 30_000

function outputError(tool: string, out: { code: number | null; signal: NodeJS.Signals | null; stderr: string }): Error {
  return new Error(`${tool} ended with ${out.signal ?? `code ${out.code}`}: ${out.stderr.trim()}`)
}

/**
 * The reference tool. `scriptDir` receives the wrk Lua scripts (the benchmark's temp dir).
 * Returns null when wrk is not installed.
 */
export function cTool(scriptDir: string): CTool | null {
  const wrk = which('wrk')
  if (wrk === null) return null
  const h2load = which('h2load')
  const useH2load = (s: Scenario): boolean => s.pipelining > 1 && h2load !== null
  return {
    label: (s) => (useH2load(s) ? `h2load --h1 -m${s.pipelining}` : s.pipelining > 1 ? `wrk + lua pipeline ${s.pipelining}` : 'wrk'),
    async run(s, origin, warmupSeconds, durationSeconds) {
      const url = `${origin}${s.path}`
      if (useH2load(s) && h2load !== null) {
        const args = ['--h1', '-t1', `-c${s.connections}`, `-m${s.pipelining}`, '-D', `${Math.round(durationSeconds * 1000)}ms`, '--warm-up-time', `${Math.round(warmupSeconds * 1000)}ms`, url]
        const out = await runChild(pinned(1, h2load, args), (warmupSeconds + durationSeconds) * 1000 + SLACK_MS)
        if (out.code !== 0) throw outputError('h2load', out)
        return parseH2load(out.stdout, durationSeconds)
      }
      const script = join(scriptDir, `wrk-depth-${s.pipelining}.lua`)
      await writeFile(script, wrkScript(s.pipelining))
      // wrk takes whole seconds and has no warm-up phase: the warm-up is a separate run
      // whose result is dropped. The measured run's own duration is used for the rates.
      const runWrk = async (seconds: number): Promise<string> => {
        const args = ['-t1', `-c${s.connections}`, `-d${seconds}s`, '--timeout', '10s', '-s', script, url]
        const out = await runChild(pinned(1, wrk, args), seconds * 1000 + SLACK_MS)
        if (out.code !== 0) throw outputError('wrk', out)
        return out.stdout
      }
      if (warmupSeconds > 0) await runWrk(Math.ceil(warmupSeconds))
      const stdout = await runWrk(Math.max(1, Math.ceil(durationSeconds)))
      return parseWrk(stdout)
    },
  }
}
