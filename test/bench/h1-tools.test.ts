/**
 * The pure parts of the HTTP/1.1 benchmark: reading wrk's and h2load's summaries, and the
 * statistics and table formatting the report is built from. The outputs below are what
 * wrk 4.1.0 (with our done() hook) and h2load 1.52.0 printed on this machine.
 */
import t from 'tap'
import { parseH2load, parseWrk } from '../../bench/h1-c-tools.js'
import { formatNumber, formatRatio, formatTable, median, ratio } from '../../bench/table.js'

const WRK_OUTPUT = `Running 1s test @ http://127.0.0.1:18089/hello
  1 threads and 1 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    60.12us   20.51us   1.20ms   95.12%
    Req/Sec    32.80k     1.36k   35.10k    81.82%
  36059 requests in 1.10s, 5.23MB read
Requests/sec:  32782.43
Transfer/sec:      4.75MB
WRKJSON {"requests":36059,"statusErrors":0,"errors":0,"durationUs":1099911}
`

const H2LOAD_OUTPUT = `starting benchmark...
spawning thread #0: 1 total client(s). Timing-based test with 0.3s of warm-up time and 0.7s of main duration for measurements.
Application protocol: http/1.1

finished in 999.91ms, 94151.43 req/s, 13.65MB/s
requests: 65906 total, 65906 started, 65906 done, 65906 succeeded, 0 failed, 0 errored, 0 timeout
status codes: 65906 2xx, 0 3xx, 0 4xx, 0 5xx
traffic: 13.65MB (14312024) total, 13.31MB (13955304) headers (space savings 0.00%), 643.61KB (659060) data
`

t.test('parseWrk reads the done() hook line and uses wrk’s measured duration', async (t) => {
  t.same(parseWrk(WRK_OUTPUT), { requests: 36059, seconds: 1.099911, errors: 0 })
})

t.test('parseWrk counts error statuses as errors, not requests', async (t) => {
  const out = 'WRKJSON {"requests":100,"statusErrors":40,"errors":2,"durationUs":2000000}\n'
  const result = parseWrk(out)
  t.equal(result.requests, 60)
  t.equal(result.errors, 42)
  t.equal(result.seconds, 2)
  t.match(result.firstError, /2 socket errors, 40 error statuses/)
})

t.test('parseWrk refuses output without the summary line', async (t) => {
  t.throws(() => parseWrk('unable to connect to 127.0.0.1:1 Connection refused\n'), /wrk printed no summary: unable to connect/)
})

t.test('parseH2load takes succeeded requests of the main duration', async (t) => {
  t.same(parseH2load(H2LOAD_OUTPUT, 0.7), { requests: 65906, seconds: 0.7, errors: 0 })
})

t.test('parseH2load sums failed, errored and timed-out requests', async (t) => {
  const out = 'requests: 10 total, 10 started, 9 done, 5 succeeded, 3 failed, 1 errored, 2 timeout\n'
  const result = parseH2load(out, 1)
  t.equal(result.requests, 5)
  t.equal(result.errors, 6)
  t.match(result.firstError, /3 failed, 1 errored, 2 timeouts/)
})

t.test('parseH2load refuses output without request counts', async (t) => {
  t.throws(() => parseH2load('connect error\n', 1), /h2load printed no request counts/)
})

t.test('median', async (t) => {
  t.equal(median([3]), 3)
  t.equal(median([5, 1, 3]), 3, 'odd count: the middle after sorting')
  t.equal(median([4, 1, 3, 2]), 2.5, 'even count: mean of the two middle values')
  t.equal(median([10, 2, 33]), 10, 'numeric, not lexicographic, order')
  t.throws(() => median([]), /median of no values/)
})

t.test('ratio and formatRatio', async (t) => {
  t.equal(ratio(50, 100), 0.5)
  t.equal(ratio(null, 100), null)
  t.equal(ratio(100, null), null)
  t.equal(ratio(100, 0), null, 'no division by zero')
  t.equal(formatRatio(1.2345), '1.23×')
  t.equal(formatRatio(0.5), '0.50×')
  t.equal(formatRatio(null), '—')
})

t.test('formatNumber', async (t) => {
  t.equal(formatNumber(1234567.4), '1,234,567')
  t.equal(formatNumber(0.03106), '0.03')
  t.equal(formatNumber(10), '10')
})

t.test('formatTable pads names left and numbers right', async (t) => {
  const table = formatTable(
    ['contender', 'req/s'],
    [
      ['wirepool', '12,345'],
      ['wrk', '9'],
    ],
  )
  t.equal(table, ['contender   req/s', '---------  ------', 'wirepool   12,345', 'wrk             9'].join('\n'))
})
