import t, { type Test } from 'tap'
import type { Socket } from 'node:net'
import http2 from 'node:http2'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { closedPort, httpServer, listenLoopback } from '../support/servers.js'
import { captureIo, count, runCli } from './run-cli.js'
import { runBench } from '../../src/cli/bench.js'

// Each case spawns a CLI process (about a second under tsx on a busy 2-core machine).
t.setTimeout(180_000)

/**
 * A node:http peer that counts requests, and the bytes it wrote on every socket: for
 * content-length responses over HTTP/1.1 that is exactly the response traffic.
 */
async function countingServer(t: Test, options: { notFoundEvery?: number } = {}) {
  let requests = 0
  let bodyBytes = 0
  const sockets: Socket[] = []
  const srv = await httpServer(t, (req, res) => {
    req.resume()
    req.on('end', () => {
      requests++
      res.sendDate = false
      const missing = options.notFoundEvery !== undefined && requests % options.notFoundEvery === 0
      const body = missing ? 'no' : 'hello, bench'
      bodyBytes += body.length
      res.writeHead(missing ? 404 : 200, { 'content-type': 'text/plain', 'content-length': body.length })
      res.end(body)
    })
  })
  srv.server.on('connection', (socket: Socket) => sockets.push(socket))
  return {
    ...srv,
    requests: () => requests,
    bodyBytes: () => bodyBytes,
    wireBytes: () => sockets.reduce((n, s) => n + s.bytesWritten, 0),
    connectionCount: () => sockets.length,
  }
}

function line(output: string, prefix: string): string {
  const found = output.split('\n').find((l) => l.startsWith(prefix))
  if (found === undefined) throw new Error(`no line starting with '${prefix}' in:\n${output}`)
  return found
}

t.test('count mode: the printed figures are what the server counted', async (t) => {
  const srv = await countingServer(t)
  const run = await runCli(t, ['bench', '-n', '60', '-c', '3', srv.origin])
  t.equal(run.code, 0, run.stderr)
  const out = run.stdout
  t.match(out, /^starting benchmark\.\.\.\nspawning thread #0: 3 total client\(s\)\. 60 total requests\n/)
  t.match(out, /Application protocol: http\/1\.1\n/)
  t.match(out, /\nfinished in [\d.]+m?s, [\d.]+ req\/s, [\d.]+[KMG]?B\/s\n/)
  t.equal(line(out, 'requests:'), 'requests: 60 total, 60 started, 60 done, 60 succeeded, 0 failed, 0 errored, 0 timeout')
  t.equal(line(out, 'status codes:'), 'status codes: 60 2xx, 0 3xx, 0 4xx, 0 5xx')
  t.equal(srv.requests(), 60)
  t.equal(srv.connectionCount(), 3, 'one connection per client')
  const traffic = /^traffic: \S+ \((\d+)\) total, \S+ \((\d+)\) headers \(space savings 0\.00%\), \S+ \((\d+)\) data$/.exec(line(out, 'traffic:'))
  t.ok(traffic, 'traffic line in h2load layout')
  t.equal(Number(traffic?.[3]), srv.bodyBytes(), 'data bytes = body bytes the server sent')
  t.equal(Number(traffic?.[1]), srv.wireBytes(), 'total bytes = bytes the server wrote')
  t.match(out, /\n {21}min {9}max {9}mean {9}sd {8}\+\/- sd\n/)
  for (const label of ['time for request:', 'time for connect:', 'time to 1st byte:', 'req/s           :']) {
    t.match(line(out, label), /^.{17}( +\S+){4} +[\d.]+%$/, `${label} row`)
  }
  t.match(out, /p50 \S+, p90 \S+, p99 \S+, p99\.9 \S+\n/)
  t.notMatch(out, /progress:/, 'no live progress line when stdout is not a TTY')
})

t.test('pipelining with -m and status classes: 4xx count as failed, not errored', async (t) => {
  const srv = await countingServer(t, { notFoundEvery: 4 })
  const run = await runCli(t, ['bench', '-n', '40', '-c', '2', '-m', '4', '--h1', srv.origin])
  t.equal(run.code, 0, run.stderr)
  t.equal(line(run.stdout, 'requests:'), 'requests: 40 total, 40 started, 40 done, 30 succeeded, 10 failed, 0 errored, 0 timeout')
  t.equal(line(run.stdout, 'status codes:'), 'status codes: 30 2xx, 0 3xx, 10 4xx, 0 5xx')
  t.equal(srv.requests(), 40)
  t.ok(srv.connectionCount() <= 2, 'never more connections than clients')
})

t.test('--json parses and agrees with the server; -t runs worker threads', async (t) => {
  const srv = await countingServer(t)
  const run = await runCli(t, ['bench', '-n', '40', '-c', '2', '-t', '2', '--json', srv.origin])
  t.equal(run.code, 0, run.stderr)
  const result = JSON.parse(run.stdout) as {
    threads: number
    clients: number
    requests: Record<string, number>
    statusCodes: Record<string, number>
    traffic: { total: number; headers: number; data: number }
    latencyPercentilesUs: Record<string, number>
    protocols: string[]
  }
  t.equal(result.threads, 2)
  t.equal(result.clients, 2)
  t.same(result.requests, { total: 40, started: 40, done: 40, succeeded: 40, failed: 0, errored: 0, timeout: 0 })
  t.equal(result.statusCodes['2xx'], 40)
  t.equal(result.traffic.data, srv.bodyBytes())
  t.equal(result.traffic.total, srv.wireBytes())
  t.same(result.protocols, ['http/1.1'])
  const p = result.latencyPercentilesUs
  t.ok((p.p50 as number) > 0 && (p.p50 as number) <= (p.p90 as number) && (p.p90 as number) <= (p['p99.9'] as number), 'percentiles ordered')
  t.equal(srv.requests(), 40)
  t.match(run.stderr, /spawning thread #1: 1 total client\(s\)\. 20 total requests/, 'progress text goes to stderr with --json')
})

t.test('-d posts a file and -H adds headers, as h2load', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'wirepool-bench-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const file = join(dir, 'body.json')
  await writeFile(file, '{"n":1}')
  const seen: string[] = []
  const srv = await httpServer(t, (req, res) => {
    let body = ''
    req.setEncoding('utf8').on('data', (s: string) => (body += s))
    req.on('end', () => {
      seen.push(`${req.method} ${String(req.headers['x-bench'])} ${body}`)
      res.end('ok')
    })
  })
  const run = await runCli(t, ['bench', '-n', '6', '-c', '2', '-d', file, '-H', 'x-bench: yes', srv.origin])
  t.equal(run.code, 0, run.stderr)
  t.equal(count(line(run.stdout, 'requests:'), 'succeeded'), 6)
  t.same(seen, new Array(6).fill('POST yes {"n":1}'))
})

t.test('a live status line once a second on a terminal only: rate, p99 so far, errors', async (t) => {
  const srv = await countingServer(t)
  const { io, out } = captureIo()
  Object.assign(io.stdout, { isTTY: true })
  t.equal(await runBench(['-D', '1500ms', '-c', '1', srv.origin], io), 0)
  t.match(out(), /\r\[1s\] [\d.]+ req\/s, p99 \S+ so far, 0 errors, \d+ done\u001b\[K/, 'redrawn in place')
  t.equal(out().split('\r[').length - 1, 1, 'once a second, not per request')
  t.match(out(), /\r\u001b\[KApplication protocol: http\/1\.1\n\nfinished in/, 'and cleared before the summary')
  const rate = captureIo()
  Object.assign(rate.io.stdout, { isTTY: true })
  t.equal(await runBench(['--rate', '100', '-n', '120', '-c', '1', srv.origin], rate.io), 0)
  t.match(rate.out(), /\r\[\d+%\] [\d.]+ req\/s, p99 \S+ corrected so far, 0 errors, \d+ done\u001b\[K/, 'open loop: the corrected p99')
  const threads = captureIo()
  Object.assign(threads.io.stdout, { isTTY: true })
  t.equal(await runBench(['-D', '1500ms', '-c', '2', '-t', '2', srv.origin], threads.io), 0)
  t.match(threads.out(), /\r\[\d+s\] [\d.]+ req\/s, p99 \S+ so far, 0 errors, \d+ done\u001b\[K/, 'worker threads report to the same line')
})

t.test('duration mode counts only what finished while measuring', async (t) => {
  const srv = await countingServer(t)
  const run = await runCli(t, ['bench', '-D', '300ms', '--warm-up-time', '100ms', '-c', '2', srv.origin])
  t.equal(run.code, 0, run.stderr)
  t.match(run.stdout, /Timing-based test with 0\.1s of warm-up time and 0\.3s of main duration/)
  const m = /^requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, 0 failed, 0 errored, 0 timeout$/.exec(line(run.stdout, 'requests:'))
  t.ok(m, 'requests line')
  const [total, started, done, succeeded] = [m?.[1], m?.[2], m?.[3], m?.[4]].map(Number)
  t.ok((total as number) > 0, 'requests were made')
  t.equal(started, total)
  t.equal(done, total)
  t.equal(succeeded, total)
  t.ok(srv.requests() >= (total as number), 'the server saw at least the measured requests (warm-up ones too)')
})

t.test('the embedded server: bench with no URL, h2 by ALPN unless --h1', async (t) => {
  const run = await runCli(t, ['bench', '-n', '30', '-c', '2', '-m', '4', '-v'])
  t.equal(run.code, 0, run.stderr)
  t.match(run.stderr, /embedded server: node:http2 \(h2 \+ http\/1\.1 by ALPN\) in child process \d+, https:\/\/127\.0\.0\.1:\d+/)
  t.match(run.stdout, /Application protocol: h2\n/)
  t.equal(count(line(run.stdout, 'requests:'), 'succeeded'), 30)
  t.match(run.stderr, /embedded server: 30 requests, [12] TLS connections/, 'the server counted the same')
  t.match(run.stderr, /thread #0: 2 client\(s\), 30 done, 30 succeeded, 0 errored, [12] connection\(s\)/)
  const h1 = await runCli(t, ['bench', '-n', '20', '-c', '2', '--h1', '-v'])
  t.equal(h1.code, 0, h1.stderr)
  t.match(h1.stdout, /Application protocol: http\/1\.1\n/)
  t.match(h1.stderr, /embedded server: 20 requests, 2 TLS connections/)
})

t.test('--h2c: cleartext HTTP/2 with prior knowledge, -m streams per connection', async (t) => {
  const server = http2.createServer()
  let requests = 0
  let bodyBytes = 0
  const sessions = new Set<http2.ServerHttp2Session>()
  server.on('session', (session) => sessions.add(session))
  server.on('stream', (stream) => {
    requests++
    const body = 'h2c body'
    bodyBytes += body.length
    stream.respond({ ':status': 200, 'content-type': 'text/plain' })
    stream.end(body)
  })
  const origin = `http://127.0.0.1:${await listenLoopback(t, server, () => sessions)}`
  const run = await runCli(t, ['bench', '-n', '50', '-c', '2', '-m', '10', '--h2c', '--json', origin])
  t.equal(run.code, 0, run.stderr)
  const result = JSON.parse(run.stdout) as { protocols: string[]; requests: Record<string, number>; traffic: { data: number } }
  t.same(result.protocols, ['h2'])
  t.equal(result.requests.succeeded, 50)
  t.equal(requests, 50, 'the server counted the same')
  t.equal(result.traffic.data, bodyBytes)
  t.ok(sessions.size >= 1 && sessions.size <= 2, `never more connections than clients (${sessions.size})`)
})

t.test('a refused origin: every request errored, exit 7', async (t) => {
  const port = await closedPort()
  const run = await runCli(t, ['bench', '-n', '4', '-c', '2', `http://127.0.0.1:${port}/`])
  t.equal(run.code, 7)
  t.equal(line(run.stdout, 'requests:'), 'requests: 4 total, 4 started, 4 done, 0 succeeded, 4 failed, 4 errored, 0 timeout')
  t.match(run.stdout, /errors: 4 WP_CONNECT_REFUSED/)
})

t.test('bad arguments exit 2', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['-c', '2', '-t', '3', 'http://127.0.0.1/'], /-c \(2\) must be at least -t \(3\)/],
    [['-n', '1', '-c', '2', 'http://127.0.0.1/'], /-n \(1\) must be at least -c \(2\)/],
    [['--warm-up-time', '1s', 'http://127.0.0.1/'], /--warm-up-time needs -D/],
    [['-D', 'forever', 'http://127.0.0.1/'], /-D needs a duration/],
    [['-n', '0', 'http://127.0.0.1/'], /-n needs a positive integer/],
    [['--npn-list', 'spdy/3', 'http://127.0.0.1/'], /unknown protocol 'spdy\/3'/],
    [['--h1', '--npn-list', 'h2', 'http://127.0.0.1/'], /--npn-list offers h2 but --h1 forbids it/],
    [['--h2c', 'https://127.0.0.1/'], /--h2c is cleartext HTTP\/2/],
    [['--h2c'], /--h2c is cleartext HTTP\/2/],
    [['--json', '--compare'], /cannot be combined/],
    [['-k', '--cacert', 'x', 'https://127.0.0.1/'], /cannot be combined/],
    [['http://a/', 'http://b/'], /at most one URL/],
  ]
  for (const [args, message] of cases) {
    const { io, err } = captureIo()
    t.equal(await runBench(args, io), 2, args.join(' '))
    t.match(err(), message, args.join(' '))
  }
  const missingBody = captureIo()
  t.equal(await runBench(['-d', '/nonexistent/body', 'http://127.0.0.1/'], missingBody.io), 26)
  const missingCa = captureIo()
  t.equal(await runBench(['--cacert', '/nonexistent/ca.pem', 'https://127.0.0.1/'], missingCa.io), 2)
  const help = captureIo()
  t.equal(await runBench(['--help'], help.io), 0)
  t.match(help.out(), /--warm-up-time/)
  const run = await runCli(t, ['bench', '-n', 'many'])
  t.equal(run.code, 2, 'through the real entry point')
})

t.test('--compare runs h2load (and wrk for --h1 -D) against the same server', async (t) => {
  const srv = await countingServer(t)
  const run = await runCli(t, ['bench', '-n', '20', '-c', '2', '--h1', '--compare', srv.origin])
  t.equal(run.code, 0, run.stderr)
  t.match(run.stdout, /--- h2load \(same parameters, same server\) ---\n/)
  t.match(run.stdout, /--- wrk \(same parameters, same server\) ---\nskipped: wrk runs for a duration/)
  if (/skipped: h2load is not installed/.test(run.stdout)) {
    t.comment('h2load is not installed: only the skip message is checked')
    t.equal(srv.requests(), 20)
    return
  }
  t.equal(srv.requests(), 40, 'wirepool and h2load each sent 20 requests')
  t.match(run.stdout, /h2load {2}req\/s [\d.]+x \([\d.]+ vs [\d.]+\), mean time for request [\d.]+x/)
})
