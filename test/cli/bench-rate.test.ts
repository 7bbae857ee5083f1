import t from 'tap'
import http2 from 'node:http2'
import { listenLoopback } from '../support/servers.js'
import { runCli } from './run-cli.js'
import { startStallingServer } from '../../bench/stall-server.js'
import type { BenchDocument } from '../../src/cli/bench-document.js'

// Each case spawns a CLI process; the stall case measures for 4.5 s.
t.setTimeout(180_000)

/**
 * wrk2's README example scaled down: the server stalls STALL ms every PERIOD ms, 3 times in
 * a DURATION ms run at a fixed RATE. A closed-loop client (and our uncorrected figure) sees
 * only the few requests that were in flight when a stall began; a user arriving on the
 * timetable during a stall waits until it ends. Theory (wrk2): over the run a share S·3/D of
 * the intended starts fall in a stall, their waits spread evenly over (0, S], so the corrected
 * percentile q above 1 − 3S/D is S − (1 − q)·D/3 (plus the ordinary latency): p99 = 285 ms,
 * p99.9 = 298.5 ms, p90 = 150 ms. S is taken as the stalls the server actually made (a timer
 * ends a stall a little late on a busy machine).
 */
const STALL = 300
const PERIOD = 1500
const DURATION = 4500
/**
 * 400 req/s over 2 connections: a stall catches the 2 requests in flight, 6 of 1800 in the run
 * (0.33 %, well below the 1 % a p99 looks at, so a few ordinary hiccups do not reach it either).
 */
const RATE = 400
const ATTEMPTS = 3
/** The bands around the theory, as [low, high] factors (see below for why wider above). */
const P99_BAND = [0.93, 1.15] as const
const P999_BAND = [0.93, 1.2] as const

interface Attempt {
  doc: BenchDocument
  /** Mean length of the stalls the server actually made, ms. */
  stallMs: number
  stalls: number
}

/** wrk2's theory for the corrected percentile q (0..1), µs, for stalls of `stallMs`. */
const theory = (stallMs: number, q: number): number => (stallMs - (1 - q) * (DURATION / 3)) * 1000
const within = (actual: number, expected: number, [low, high]: readonly [number, number]): boolean => actual >= expected * low && actual <= expected * high
const pct = (h: { percentiles: Record<string, number> }, key: string): number => h.percentiles[key] as number

function inBand(a: Attempt): boolean {
  const c = a.doc.latency.corrected
  return c !== undefined && within(pct(c, 'p99'), theory(a.stallMs, 0.99), P99_BAND) && within(pct(c, 'p99.9'), theory(a.stallMs, 0.999), P999_BAND)
}

t.test('open loop over a stalling server: corrected p99 shows the stall, uncorrected does not, as theory says', async (t) => {
  // The theory leaves out one thing: after each stall the backlog (rate × stall = 120
  // requests) drains through 2 connections, and a request waits for those ahead of it. That
  // is real queueing, small for p99 and p99.9 (the first few of the backlog), but it grows
  // with the machine's load: seen here +2…+9 % for p99 and +1…+13 % for p99.9 at a load
  // average of 6–9 on 2 cores, and once, at a moment of heavier load, +60 % (the client
  // itself fell behind: the correction doing its job). So the band is wider above than
  // below, and a run outside it is made once more before the test fails.
  let attempt: Attempt | undefined
  for (let i = 1; i <= ATTEMPTS; i++) {
    const server = await startStallingServer({ stallMs: STALL, periodMs: PERIOD, firstAfterMs: 600 })
    t.teardown(() => server.close())
    const run = await runCli(t, ['bench', '--rate', String(RATE), '-D', `${DURATION}ms`, '-c', '2', '--h1', '--json', `http://127.0.0.1:${server.port}/`])
    t.equal(run.code, 0, run.stderr)
    const held = server.stalls.filter((s) => s.held > 0)
    const stallMs = held.reduce((n, s) => n + (s.releasedAt - s.start), 0) / Math.max(1, held.length)
    attempt = { doc: JSON.parse(run.stdout) as BenchDocument, stallMs, stalls: held.length }
    await server.close()
    if (inBand(attempt)) break
    if (i < ATTEMPTS) t.comment(`attempt ${i} outside the band (corrected p99 ${attempt.doc.latency.corrected?.percentiles.p99} µs for stalls of ${stallMs.toFixed(0)} ms): once more`)
  }
  if (attempt === undefined) throw new Error('no attempt was made')
  const { doc, stallMs } = attempt
  const corrected = doc.latency.corrected
  const open = doc.openLoop
  if (corrected === undefined || open === undefined) throw new Error('no open-loop figures in the JSON')
  const uncorrected = doc.latency.uncorrected

  t.equal(attempt.stalls, 3, 'three stalls fell inside the run')
  // (1 ms of slack below: a timer is armed against libuv's cached loop time, which may lag
  // performance.now() at the stall's start, so a 300 ms timer can measure 299.9 ms)
  t.ok(stallMs >= STALL - 1 && stallMs < STALL * 1.2, `the stalls lasted ${stallMs.toFixed(1)} ms`)
  const expected = (q: number): number => theory(stallMs, q)
  const figures = `corrected p90 ${pct(corrected, 'p90')} p99 ${pct(corrected, 'p99')} p99.9 ${pct(corrected, 'p99.9')}; uncorrected p99 ${pct(uncorrected, 'p99')} µs; theory p90 ${expected(0.9).toFixed(0)} p99 ${expected(0.99).toFixed(0)} p99.9 ${expected(0.999).toFixed(0)}`
  t.comment(figures)

  // The qualitative gap: an order of magnitude, and the uncorrected p99 well below the stall.
  t.ok(pct(uncorrected, 'p99') * 5 < pct(corrected, 'p99'), `uncorrected p99 hides the stall (${figures})`)
  t.ok(pct(uncorrected, 'p99') < (STALL * 1000) / 3, 'uncorrected p99 is far below the stall')
  // The numbers.
  t.ok(within(pct(corrected, 'p99'), expected(0.99), P99_BAND), `corrected p99 within −7 %/+15 % of theory (${figures})`)
  t.ok(within(pct(corrected, 'p99.9'), expected(0.999), P999_BAND), `corrected p99.9 within −7 %/+20 % of theory (${figures})`)
  // p90 sits in the middle of the backlog, so the drain adds the most there: at least the theory.
  t.ok(pct(corrected, 'p90') >= expected(0.9) * 0.85, `corrected p90 at least near theory (${figures})`)
  t.ok(pct(corrected, 'p50') < 100_000, 'the median is not in a stall')

  // The timetable was kept: everything sent, at the asked rate, and the stalls made requests wait.
  t.equal(open.askedPerSecond, RATE)
  t.ok(Math.abs(open.achievedPerSecond - RATE) / RATE < 0.05, `achieved ${open.achievedPerSecond.toFixed(1)} req/s`)
  t.equal(open.sent, open.scheduled)
  t.equal(open.dropped, 0)
  t.equal(open.unfinished, 0)
  t.equal(doc.requests.done, open.sent, 'every sent request was measured')
  t.ok(open.queued >= 3 * (RATE * STALL) / 1000 * 0.8, `requests waited for a free connection during the stalls (${open.queued})`)
  t.ok(open.maxBacklog >= (RATE * STALL) / 1000 * 0.8, `the backlog grew to about rate × stall (${open.maxBacklog})`)

  // The time series shows when: the seconds holding a stall have a p99 near the stall.
  const worst = Math.max(...doc.timeSeries.map((s) => s.p99Us))
  t.ok(worst > STALL * 1000 * 0.8, `a second's p99 shows the stall (${worst} µs)`)
  t.equal(doc.timeSeries.reduce((n, s) => n + s.requests, 0), doc.requests.done, 'the series adds up to the run')
})

t.test('--rate with -n, -t, -m over h2c: the requests asked for, at the rate asked for', async (t) => {
  const server = http2.createServer()
  let requests = 0
  const sessions = new Set<http2.ServerHttp2Session>()
  server.on('session', (session) => sessions.add(session))
  server.on('stream', (stream) => {
    requests++
    stream.respond({ ':status': 200 })
    stream.end('ok')
  })
  const origin = `http://127.0.0.1:${await listenLoopback(t, server, () => sessions)}`
  const run = await runCli(t, ['bench', '--rate', '300', '-n', '150', '-c', '2', '-m', '4', '-t', '2', '--h2c', '--json', origin])
  t.equal(run.code, 0, run.stderr)
  const doc = JSON.parse(run.stdout) as BenchDocument
  t.same(doc.protocols, ['h2'])
  t.equal(doc.requests.succeeded, 150)
  t.equal(requests, 150, 'the server counted the same')
  t.equal(doc.openLoop?.scheduled, 150)
  t.equal(doc.openLoop?.sent, 150)
  t.equal(doc.parameters.rate, 300)
  const achieved = doc.openLoop?.achievedPerSecond ?? 0
  t.ok(achieved > 300 * 0.85 && achieved < 300 * 1.1, `two threads add up to the rate (${achieved.toFixed(1)} req/s)`)
  t.equal(doc.latency.corrected?.count, 150)
  t.equal(doc.latency.uncorrected.count, 150)
  t.ok((doc.latency.corrected?.percentiles.p50 ?? 0) >= (doc.latency.uncorrected.percentiles.p50 ?? 0) - 1, 'corrected ≥ uncorrected')
})

t.test('--rate over h2 (TLS, the embedded server) prints both columns in the summary', async (t) => {
  const run = await runCli(t, ['bench', '--rate', '200', '-n', '40', '-c', '2'])
  t.equal(run.code, 0, run.stderr)
  t.match(run.stdout, /Application protocol: h2\n/)
  t.match(run.stdout, /\nopen loop: asked 200\.00 req\/s, achieved [\d.]+ req\/s; 40 scheduled, 40 sent, 0 dropped, 0 unfinished\n/)
  t.match(run.stdout, /\nlate sends \(> 10ms behind the timetable\): \d+; \d+ found no free connection\/stream and waited \(longest backlog \d+\)\n/)
  t.match(run.stdout, /latency +corrected \(from intended start\) +uncorrected \(from actual send\)\n {2}p50 +\S+ +\S+\n/)
})

t.test('--rate usage errors', async (t) => {
  for (const [args, message] of [
    [['--rate', 'fast', 'http://127.0.0.1/'], /--rate needs a positive number/],
    [['--rate', '0', '-n', '5', 'http://127.0.0.1/'], /--rate needs a positive number/],
    [['--rate', '10', 'http://127.0.0.1/'], /--rate needs -n or -D/],
    [['--rate', '10', '-n', '5', '--compare', 'http://127.0.0.1/'], /--rate and --compare cannot be combined/],
    [['--json', '--csv', '-', '-n', '5', 'http://127.0.0.1/'], /both want stdout/],
  ] as Array<[string[], RegExp]>) {
    const run = await runCli(t, ['bench', ...args])
    t.equal(run.code, 2, args.join(' '))
    t.match(run.stderr, message)
  }
})
