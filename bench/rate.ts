/**
 * `npm run bench:rate [-- steady|stalling]`: `wirepool bench --rate` against autocannon at the
 * same rate (200 req/s over 2 connections: room to spare on a shared 2-core machine) on
 * HTTP/1.1, over a steady server and over one that stalls 300 ms every 1.5 s (wrk2's README
 * example, 1 s every 10 s, scaled down). Each contender gets a fresh server child (its stall
 * clock starts at the first request, so the first stall falls in the 1 s warm-up and the 6 s
 * measured hold four), the server pinned to CPU 0 and the client to CPU 1. Printed: achieved
 * rate and percentiles; wirepool's corrected (from the intended start) and uncorrected (from
 * the actual send) side by side; autocannon by default (with -R it records each response with
 * HdrHistogram's after-the-fact `recordValueWithExpectedInterval(latency, ceil(1 / rate))`,
 * an expected interval of 1 ms at any rate) and with -C (no correction); for the stalling
 * server wrk2's theory: p_q = S − (1 − q)·P for q above 1 − S/P.
 *
 * Keep it short (one scenario ≈ 30 s) and run it alone on the machine:
 *   flock /work/bench.lock npm run bench:rate -- steady
 */
import { fileURLToPath } from 'node:url'
import { killChildren, pinned, runChild, startServerChild, canPin } from './children.js'
import { formatTable } from './table.js'

const RATE = 200
const CONNECTIONS = 2
const DURATION_S = 6
/** Both tools warm up for this long first (JIT, connections), then measure DURATION_S. */
const WARM_UP_S = 1
const STALL_MS = 300
const PERIOD_MS = 1500
const FIRST_STALL_MS = 600

interface Row {
  contender: string
  rate: number
  /** ms */
  p50: number
  p90: number
  p99: number
  p999: number
  max: number
}

const root = fileURLToPath(new URL('..', import.meta.url))
const node = process.execPath

async function withServer<T>(stallMs: number, run: (url: string) => Promise<T>): Promise<T> {
  const server = await startServerChild<{ port: number }>(
    pinned(0, node, ['--import', 'tsx', `${root}bench/stall-server.ts`, String(stallMs), String(PERIOD_MS), String(FIRST_STALL_MS)]),
  )
  try {
    return await run(`http://127.0.0.1:${server.info.port}/`)
  } finally {
    await server.stop()
  }
}

interface Percentiles {
  percentiles: Record<string, number>
  max: number
}

async function wirepool(url: string): Promise<Row[]> {
  const out = await runChild(
    pinned(1, node, ['--import', 'tsx', `${root}src/cli/main.ts`, 'bench', '--rate', String(RATE), '-D', `${DURATION_S}s`, '--warm-up-time', `${WARM_UP_S}s`, '-c', String(CONNECTIONS), '--h1', '--json', url]),
    (DURATION_S + 30) * 1000,
  )
  if (out.code !== 0) throw new Error(`wirepool bench exited ${out.code}: ${out.stderr}`)
  const doc = JSON.parse(out.stdout) as { openLoop: { achievedPerSecond: number }; requestsPerSecond: number; latency: { corrected: Percentiles; uncorrected: Percentiles } }
  const row = (contender: string, h: Percentiles): Row => {
    const ms = (key: string): number => (h.percentiles[key] ?? 0) / 1000
    return { contender, rate: doc.openLoop.achievedPerSecond, p50: ms('p50'), p90: ms('p90'), p99: ms('p99'), p999: ms('p99.9'), max: h.max / 1000 }
  }
  return [row('wirepool --rate, corrected', doc.latency.corrected), row('wirepool --rate, uncorrected', doc.latency.uncorrected)]
}

async function autocannon(url: string, ignoreCoordinatedOmission: boolean): Promise<Row> {
  const bin = `${root}node_modules/autocannon/autocannon.js`
  const args = [bin, '-c', String(CONNECTIONS), '-d', String(DURATION_S), '-R', String(RATE), '--warmup', '[', '-c', String(CONNECTIONS), '-d', String(WARM_UP_S), '-R', String(RATE), ']', '-j', ...(ignoreCoordinatedOmission ? ['-C'] : []), url]
  const out = await runChild(pinned(1, node, args), (DURATION_S + 30) * 1000)
  if (out.code !== 0) throw new Error(`autocannon exited ${out.code}: ${out.stderr}`)
  // Newline-delimited JSON: the warm-up's result, then the measured run's.
  const last = out.stdout.trim().split('\n').at(-1) ?? ''
  const r = JSON.parse(last) as { duration: number; requests: { total: number }; latency: Record<string, number> }
  const l = r.latency
  return {
    contender: `autocannon -R ${RATE}${ignoreCoordinatedOmission ? ' -C' : ' (default)'}`,
    rate: r.requests.total / r.duration,
    p50: l.p50 ?? 0,
    p90: l.p90 ?? 0,
    p99: l.p99 ?? 0,
    p999: l.p99_9 ?? 0,
    max: l.max ?? 0,
  }
}

function theory(): Row {
  const p = (q: number): number => Math.max(0, STALL_MS - (1 - q) * PERIOD_MS)
  return { contender: 'theory (wrk2), corrected', rate: RATE, p50: p(0.5), p90: p(0.9), p99: p(0.99), p999: p(0.999), max: STALL_MS }
}

const ms = (v: number): string => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2))

async function scenario(name: 'steady' | 'stalling'): Promise<string> {
  const stall = name === 'steady' ? 0 : STALL_MS
  const rows: Row[] = []
  rows.push(...(await withServer(stall, wirepool)))
  rows.push(await withServer(stall, (url) => autocannon(url, false)))
  rows.push(await withServer(stall, (url) => autocannon(url, true)))
  if (name === 'stalling') rows.push(theory())
  const title =
    name === 'steady'
      ? `steady server, h1, ${CONNECTIONS} connections, ${RATE} req/s for ${WARM_UP_S}s + ${DURATION_S}s (latency in ms)`
      : `server stalling ${STALL_MS} ms every ${PERIOD_MS} ms, h1, ${CONNECTIONS} connections, ${RATE} req/s for ${WARM_UP_S}s + ${DURATION_S}s (latency in ms)`
  const table = formatTable(
    ['contender', 'req/s', 'p50', 'p90', 'p99', 'p99.9', 'max'],
    rows.map((r) => [r.contender, r.rate.toFixed(1), ms(r.p50), ms(r.p90), ms(r.p99), ms(r.p999), ms(r.max)]),
  )
  return `${title}\n${table}\n`
}

process.on('SIGINT', () => {
  killChildren()
  process.exit(130)
})

const which = process.argv[2]
const names: Array<'steady' | 'stalling'> = which === 'steady' || which === 'stalling' ? [which] : ['steady', 'stalling']
if (!canPin) process.stdout.write('(taskset not installed: server and client are not pinned)\n')
try {
  for (const name of names) process.stdout.write(`\n${await scenario(name)}`)
} finally {
  killChildren()
}
