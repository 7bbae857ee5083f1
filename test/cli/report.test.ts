import t from 'tap'
import { formatBytes, formatDuration, renderSummary } from '../../src/cli/bench-report.js'
import { buildDocument } from '../../src/cli/bench-document.js'
import { combine, sampleStats, type ThreadResult } from '../../src/cli/bench-stats.js'
import { Histogram } from '../../src/cli/histogram.js'
import { h2loadArgs, parseDuration, parseH2load, parseWrk, renderComparison } from '../../src/cli/compare.js'
import { durationMs, parseHeader, secondsMs } from '../../src/cli/args.js'
import { ExitCode, exitCodeFor, exitCodeForCode } from '../../src/cli/exit-codes.js'
import { ConnectRefusedError, TlsVerifyError } from '../../src/errors.js'

// Lines printed by h2load 1.52 against a local server (the layout to match).
const H2LOAD = `finished in 46.05ms, 4342.82 req/s, 538.61KB/s
requests: 200 total, 200 started, 200 done, 200 succeeded, 0 failed, 0 errored, 0 timeout
status codes: 200 2xx, 0 3xx, 0 4xx, 0 5xx
traffic: 24.80KB (25400) total, 16.99KB (17400) headers (space savings 0.00%), 1000B (1000) data
                     min         max         mean         sd        +/- sd
time for request:      164us      8.17ms       875us      1.06ms    93.50%
time for connect:       55us       198us       127us       100us   100.00%
time to 1st byte:     5.07ms      8.06ms      6.56ms      2.11ms   100.00%
req/s           :    2224.50     2305.61     2265.05       57.35   100.00%
`

function result(overrides: Partial<ThreadResult> = {}): ThreadResult {
  const h = new Histogram()
  for (const v of [164, 875, 8170]) h.record(v)
  return {
    thread: 0,
    clients: 2,
    total: 200,
    started: 200,
    done: 200,
    succeeded: 200,
    failed: 0,
    errored: 0,
    timeout: 0,
    statusClasses: [0, 0, 200, 0, 0, 0],
    bytesTotal: 25400,
    bytesHead: 17400,
    bytesData: 1000,
    requestTime: h.snapshot(),
    connectTimes: [55, 198],
    firstByteTimes: [5070, 8060],
    clientRps: [2224.5, 2305.61],
    protocols: ['http/1.1'],
    errors: {},
    startedAt: 1000,
    endedAt: 1046.05,
    measureStartedAt: 1000,
    measureEndedAt: 1046.05,
    correctedTime: undefined,
    openLoop: undefined,
    series: [],
    ...overrides,
  }
}

t.test('h2load number formats', async (t) => {
  t.equal(formatDuration(164), '164us')
  t.equal(formatDuration(999.4), '999us')
  t.equal(formatDuration(8170), '8.17ms')
  t.equal(formatDuration(2_000_000), '2.00s')
  t.equal(formatBytes(1000), '1000B')
  t.equal(formatBytes(25400), '24.80KB')
  t.equal(formatBytes(3659886), '3.49MB')
  t.equal(formatBytes(5 * 1024 ** 3), '5.00GB')
})

t.test('the summary lines up with h2load line by line', async (t) => {
  const text = renderSummary(combine([result()]))
  const ours = text.split('\n')
  const theirs = H2LOAD.split('\n')
  t.equal(ours[0], 'finished in 46.05ms, 4343.11 req/s, 538.65KB/s')
  for (const i of [1, 2, 3, 4]) t.equal(ours[i], theirs[i], `line ${i}`)
  t.equal(ours[6], 'time for connect:       55us       198us       127us       101us   100.00%', 'connect row in h2load columns')
  t.equal(ours[7], 'time to 1st byte:     5.07ms      8.06ms      6.57ms      2.11ms   100.00%', 'sd divides by n − 1, as h2load')
  t.equal((ours[5] as string).length, (theirs[5] as string).length, 'request row as wide as h2load')
  t.equal(ours[8], 'req/s           :    2224.50     2305.61     2265.06       57.35   100.00%')
  t.match(text, /latency percentiles \(HDR histogram, 3 requests\):\n {2}p50 875us, p90 8\.17ms, p99 8\.17ms, p99\.9 8\.17ms\n/)
})

t.test('errors, 1xx, h2 header savings and combining threads', async (t) => {
  const a = result({ errors: { WP_CONNECT_REFUSED: 2 }, statusClasses: [0, 3, 200, 0, 0, 0], protocols: ['h2'] })
  const b = result({ thread: 1, errors: { WP_CONNECT_REFUSED: 1, WP_HEADERS_TIMEOUT: 1 }, startedAt: 900, endedAt: 1100 })
  const totals = combine([a, b])
  t.equal(totals.done, 400)
  t.same(totals.errors, { WP_CONNECT_REFUSED: 3, WP_HEADERS_TIMEOUT: 1 })
  t.same(totals.protocols, ['h2', 'http/1.1'])
  t.equal(totals.startedAt, 900)
  t.equal(totals.requestTime.count, 6)
  const text = renderSummary(totals)
  t.match(text, /\(space savings n\/a\), .* data\n\(h2: total counts header field and data bytes; frame and HPACK bytes are not exposed by the engine\)\n/, 'h2 header compression is not measured, and the summary says so')
  t.match(text, /\(3 1xx responses\)/)
  t.match(text, /errors: 3 WP_CONNECT_REFUSED, 1 WP_HEADERS_TIMEOUT/)
  const json = JSON.parse(JSON.stringify(buildDocument(totals, { url: 'http://x/', method: 'GET', clients: 2, threads: 2, maxConcurrentStreams: 1, warmUpMs: 0, headers: [] }))) as Record<string, unknown>
  t.equal(json.url, 'http://x/')
  t.same(json.statusCodes, { '1xx': 3, '2xx': 400, '3xx': 0, '4xx': 0, '5xx': 0 })
  t.same(json.requests, { total: 400, started: 400, done: 400, succeeded: 400, failed: 0, errored: 0, timeout: 0 })
  const empty = combine([])
  t.equal(empty.done, 0)
  t.match(renderSummary(empty), /requests: 0 total/)
})

t.test('sample statistics as h2load computes them', async (t) => {
  t.same(sampleStats([]), { min: 0, max: 0, mean: 0, sd: 0, withinSd: 0 })
  const s = sampleStats([1, 2, 3, 4, 100])
  t.equal(s.min, 1)
  t.equal(s.max, 100)
  t.equal(s.mean, 22)
  t.ok(Math.abs(s.sd - Math.sqrt(7610 / 4)) < 1e-9, `sd ${s.sd}`)
  t.equal(s.withinSd, 80)
})

t.test('reading h2load and wrk output, building h2load arguments', async (t) => {
  const parsed = parseH2load(`starting benchmark...\n${H2LOAD}`)
  t.equal(parsed.requestsPerSecond, 4342.82)
  t.equal(parsed.meanRequestUs, 875)
  t.match(parsed.summary, /^finished in/)
  const wrk = parseWrk('  Thread Stats   Avg      Stdev     Max   +/- Stdev\n    Latency    77.42us  164.81us   2.94ms   96.97%\nRequests/sec:  35220.28\n')
  t.equal(wrk.requestsPerSecond, 35220.28)
  t.equal(wrk.meanRequestUs, 77.42)
  t.equal(parseWrk('garbage').requestsPerSecond, undefined)
  t.equal(parseDuration('1.5s'), 1_500_000)
  t.equal(parseDuration('2.5ms'), 2500)
  t.equal(parseDuration('soon'), undefined)
  const base = { url: 'http://h/', requests: 10, clients: 2, maxStreams: 3, threads: 1, durationMs: undefined, warmUpMs: 0, headers: [['x-a', '1']] as Array<[string, string]>, dataFile: 'b.txt', protocol: 'h1' as const, npnList: undefined }
  t.same(h2loadArgs(base), ['-c', '2', '-m', '3', '-t', '1', '-n', '10', '-H', 'x-a: 1', '-d', 'b.txt', '--h1', 'http://h/'])
  t.same(h2loadArgs({ ...base, durationMs: 1500, warmUpMs: 200, headers: [], dataFile: undefined, protocol: 'h2c', npnList: 'h2' }), [
    '-c', '2', '-m', '3', '-t', '1', '-D', '1500ms', '--warm-up-time=200ms', '--no-tls-proto=h2c', '--npn-list=h2', 'http://h/',
  ])
  const ours = { requestsPerSecond: 2000, requestTime: { mean: 1000 } } as Parameters<typeof renderComparison>[0]
  const text = renderComparison(ours, [
    { tool: 'h2load', summary: H2LOAD, requestsPerSecond: 4000, meanRequestUs: 500 },
    { tool: 'wrk', skipped: 'wrk is not installed', summary: '', requestsPerSecond: undefined, meanRequestUs: undefined },
  ])
  t.match(text, /h2load {2}req\/s 0\.50x \(2000\.00 vs 4000\.00\), mean time for request 2\.00x/)
  t.match(text, /--- wrk \(same parameters, same server\) ---\nskipped: wrk is not installed/)
})

t.test('flag values and exit codes', async (t) => {
  t.equal(durationMs('-D', '10'), 10_000)
  t.equal(durationMs('-D', '1.5m'), 90_000)
  t.equal(durationMs('-D', '250ms'), 250)
  t.equal(durationMs('-D', undefined), undefined)
  t.throws(() => durationMs('-D', '0'), /longer than 0/)
  t.equal(secondsMs('-m', '2.5'), 2500)
  t.same(parseHeader('X-A:  b: c '), ['X-A', 'b: c'])
  t.throws(() => parseHeader(':method: POST'), /pseudo-headers/)
  t.equal(exitCodeFor(new ConnectRefusedError('no')), ExitCode.CONNECT)
  t.equal(exitCodeFor(new TlsVerifyError('CERT_HAS_EXPIRED', 'expired')), ExitCode.TLS_VERIFY)
  t.equal(exitCodeFor(new Error('plain')), ExitCode.FAILURE)
  t.equal(exitCodeForCode('WP_SOMETHING_NEW'), ExitCode.FAILURE)
  t.equal(exitCodeForCode('WP_DECOMPRESS'), 61)
})
