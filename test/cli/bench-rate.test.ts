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
const RATE = 400

t.test('open loop over a stalling server: corrected p99 shows the stall, uncorrected does not, as theory says', async (t) => {
  const server = await startStallingServer({ stallMs: STALL, periodMs: PERIOD, firstAfterMs: 600 })
  t.teardown(() => server.close())
  const run = await runCli(t, ['bench', '--rate', String(RATE), '-D', `${DURATION}ms`, '-c', '2', '--h1', '--json', `http://127.0.0.1:${server.port}/`])
  t.equal(run.code, 0, run.stderr)
  const doc = JSON.parse(run.stdout) as BenchDocument
  const corrected = doc.latency.corrected
  const open = doc.openLoop
  if (corrected === undefined || open === undefined) throw new Error('no open-loop figures in the JSON')
  const uncorrected = doc.latency.uncorrected

  const stalls = server.stalls.filter((s) => s.held > 0)
  t.equal(stalls.length, 3, 'three stalls fell inside the run')
  const stallMs = stalls.reduce((n, s) => n + (s.releasedAt - s.start), 0) / stalls.length
  t.ok(stallMs >= STALL && stallMs < STALL * 1.2, `the stalls lasted ${stallMs.toFixed(1)} ms`)

  const theory = (q: number): number => (stallMs - (1 - q) * (DURATION / 3)) * 1000
  const p = (h: typeof corrected, key: string): number => h.percentiles[key] as number
  const figures = `corrected p90 ${p(corrected, 'p90')} p99 ${p(corrected, 'p99')} p99.9 ${p(corrected, 'p99.9')}; uncorrected p99 ${p(uncorrected, 'p99')} µs; theory p90 ${theory(0.9).toFixed(0)} p99 ${theory(0.99).toFixed(0)} p99.9 ${theory(0.999).toFixed(0)}`
  t.comment(figures)

  // The qualitative gap: an order of magnitude.
  t.ok(p(uncorrected, 'p99') * 5 < p(corrected, 'p99'), `uncorrected p99 hides the stall (${figures})`)
  t.ok(p(uncorrected, 'p99') < 60_000, 'uncorrected p99 is an ordinary request time')
  // The numbers: within a band around the theory. After each stall the backlog (rate × stall
  // = 120 requests) drains through 2 connections, and a request waits for those ahead of it:
  // real queueing the theory leaves out, small for p99 and p99.9 (the first few of the
  // backlog) but larger on a loaded machine, so the band is wider above than below (seen
  // here: +2…+5 % for p99, +1…+9 % for p99.9 at a load average of 6 on 2 cores). p90 sits in
  // the middle of the backlog: only near the theory.
  const within = (actual: number, expected: number, low: number, high: number): boolean => actual >= expected * low && actual <= expected * high
  t.ok(within(p(corrected, 'p99'), theory(0.99), 0.93, 1.12), `corrected p99 within −7 %/+12 % of theory (${figures})`)
  t.ok(within(p(corrected, 'p99.9'), theory(0.999), 0.93, 1.15), `corrected p99.9 within −7 %/+15 % of theory (${figures})`)
  t.ok(within(p(corrected, 'p90'), theory(0.9), 0.85, 1.5), `corrected p90 near theory (${figures})`)
  t.ok(p(corrected, 'p50') < 50_000, 'the median is not in a stall')

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
