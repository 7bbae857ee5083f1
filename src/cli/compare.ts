/**
 * `bench --compare`: run the C reference load generators with the same parameters against
 * the same server right after wirepool, then print their summaries and the ratios. h2load
 * takes the same flags; wrk (HTTP/1.1 only) has no request count and no pipelining, so it
 * runs only for `--h1 -D` without `-m`.
 */
import { spawn, spawnSync } from 'node:child_process'
import type { ReportFigures } from './bench-report.js'

export interface CompareParams {
  url: string
  requests: number
  clients: number
  maxStreams: number
  threads: number
  durationMs: number | undefined
  warmUpMs: number
  headers: Array<[string, string]>
  dataFile: string | undefined
  protocol: 'h1' | 'h2c' | undefined
  npnList: string | undefined
}

export interface ToolRun {
  tool: 'h2load' | 'wrk'
  /** Why it did not run, when it did not. */
  skipped?: string
  summary: string
  requestsPerSecond: number | undefined
  meanRequestUs: number | undefined
}

function installed(tool: string): boolean {
  const probe = spawnSync(tool, ['--version'], { stdio: 'ignore' })
  return probe.error === undefined
}

function run(tool: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(tool, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s))
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

/** `1.23ms` / `456us` / `2.00s` (h2load, wrk) → µs. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(us|ms|s)$/.exec(text)
  if (m === null) return undefined
  const scale = m[2] === 'us' ? 1 : m[2] === 'ms' ? 1000 : 1_000_000
  return Number(m[1]) * scale
}

export function h2loadArgs(p: CompareParams): string[] {
  const args = ['-c', String(p.clients), '-m', String(p.maxStreams), '-t', String(p.threads)]
  if (p.durationMs === undefined) args.push('-n', String(p.requests))
  else {
    args.push('-D', `${Math.round(p.durationMs)}ms`)
    if (p.warmUpMs > 0) args.push(`--warm-up-time=${Math.round(p.warmUpMs)}ms`)
  }
  for (const [name, value] of p.headers) args.push('-H', `${name}: ${value}`)
  if (p.dataFile !== undefined) args.push('-d', p.dataFile)
  if (p.protocol === 'h1') args.push('--h1')
  if (p.protocol === 'h2c') args.push('--no-tls-proto=h2c')
  if (p.npnList !== undefined) args.push(`--npn-list=${p.npnList}`)
  args.push(p.url)
  return args
}

/** The h2load summary (from `finished in` on) and the two figures the ratios use. */
export function parseH2load(stdout: string): Omit<ToolRun, 'tool'> {
  const start = stdout.indexOf('finished in')
  const summary = start === -1 ? stdout : stdout.slice(start)
  const rps = /finished in [^,]+, ([\d.]+) req\/s/.exec(stdout)
  const row = /time for request:\s+(\S+)\s+(\S+)\s+(\S+)/.exec(stdout)
  return {
    summary,
    requestsPerSecond: rps === null ? undefined : Number(rps[1]),
    meanRequestUs: row === null ? undefined : parseDuration(row[3] as string),
  }
}

export function parseWrk(stdout: string): Omit<ToolRun, 'tool'> {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(stdout)
  const latency = /Latency\s+(\S+)/.exec(stdout)
  return {
    summary: stdout,
    requestsPerSecond: rps === null ? undefined : Number(rps[1]),
    meanRequestUs: latency === null ? undefined : parseDuration(latency[1] as string),
  }
}

export async function runReferenceTools(p: CompareParams): Promise<ToolRun[]> {
  const runs: ToolRun[] = []
  if (!installed('h2load')) runs.push({ tool: 'h2load', skipped: 'h2load is not installed (Debian: nghttp2-client)', summary: '', requestsPerSecond: undefined, meanRequestUs: undefined })
  else {
    const out = await run('h2load', h2loadArgs(p))
    runs.push({ tool: 'h2load', ...parseH2load(out.stdout), ...(out.code === 0 ? {} : { skipped: `h2load exited with ${String(out.code)}: ${out.stderr.trim()}` }) })
  }
  if (p.protocol !== 'h1') return runs
  const skip = (why: string): void => {
    runs.push({ tool: 'wrk', skipped: why, summary: '', requestsPerSecond: undefined, meanRequestUs: undefined })
  }
  if (p.durationMs === undefined) skip('wrk runs for a duration, not a request count: give -D')
  else if (p.maxStreams > 1) skip('wrk does not pipeline: drop -m')
  else if (p.dataFile !== undefined) skip('wrk sends no body without a Lua script: drop -d')
  else if (!installed('wrk')) skip('wrk is not installed')
  else {
    // wrk needs at least one connection per thread; its latency covers the whole run.
    const threads = Math.min(p.threads, p.clients)
    const args = ['-t', String(threads), '-c', String(p.clients), '-d', `${Math.max(1, Math.round((p.durationMs + p.warmUpMs) / 1000))}s`]
    for (const [name, value] of p.headers) args.push('-H', `${name}: ${value}`)
    args.push(p.url)
    const out = await run('wrk', args)
    runs.push({ tool: 'wrk', ...parseWrk(out.stdout), ...(out.code === 0 ? {} : { skipped: `wrk exited with ${String(out.code)}` }) })
  }
  return runs
}

const ratio = (a: number | undefined, b: number | undefined): string =>
  a === undefined || b === undefined || b === 0 ? 'n/a' : `${(a / b).toFixed(2)}x`

export function renderComparison(ours: ReportFigures, runs: readonly ToolRun[]): string {
  const out: string[] = []
  for (const r of runs) {
    out.push('', `--- ${r.tool} (same parameters, same server) ---`)
    if (r.skipped !== undefined) out.push(`skipped: ${r.skipped}`)
    if (r.summary !== '') out.push(r.summary.trimEnd())
  }
  out.push('', '--- ratios (wirepool / tool; req/s above 1.00x = wirepool faster, mean time above 1.00x = wirepool slower) ---')
  for (const r of runs) {
    if (r.skipped !== undefined) continue
    out.push(
      `${r.tool.padEnd(7)} req/s ${ratio(ours.requestsPerSecond, r.requestsPerSecond)} (${ours.requestsPerSecond.toFixed(2)} vs ${r.requestsPerSecond?.toFixed(2) ?? '?'}), ` +
        `mean time for request ${ratio(ours.requestTime.mean, r.meanRequestUs)}`,
    )
  }
  return `${out.join('\n')}\n`
}
