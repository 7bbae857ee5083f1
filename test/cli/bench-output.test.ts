import t from 'tap'
import { createRequire } from 'node:module'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { httpServer } from '../support/servers.js'
import { captureIo, runCli } from './run-cli.js'
import { runBench } from '../../src/cli/bench.js'
import { histogramFromJson, type BenchDocument } from '../../src/cli/bench-document.js'
import { Histogram } from '../../src/cli/histogram.js'

t.setTimeout(120_000)

const require = createRequire(import.meta.url)
const hdr = require('hdr-histogram-js') as { decodeFromCompressedBase64(text: string, bitBucketSize?: number): { totalCount: number; getValueAtPercentile(p: number): number } }

async function tempDir(t: { teardown(fn: () => unknown): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'wirepool-bench-out-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

async function okServer(t: Parameters<typeof httpServer>[0]) {
  let requests = 0
  const srv = await httpServer(t, (req, res) => {
    req.resume()
    req.on('end', () => {
      requests++
      res.end(requests % 10 === 0 ? 'x'.repeat(100) : 'ok')
    })
  })
  return { ...srv, requests: () => requests }
}

/** One open-loop run in-process, its --json document, CSV and HTML files. */
async function run(origin: string, dir: string, name: string, extra: string[] = []): Promise<{ doc: BenchDocument; json: string; csv: string; html: string }> {
  const { io, out, err } = captureIo()
  const csv = join(dir, `${name}.csv`)
  const html = join(dir, `${name}.html`)
  const code = await runBench(['--rate', '150', '-D', '1200ms', '-c', '2', '--json', '--csv', csv, '--html', html, ...extra, origin], io)
  if (code !== 0) throw new Error(`bench exited ${code}: ${err()}`)
  const json = join(dir, `${name}.json`)
  await writeFile(json, out())
  return { doc: JSON.parse(out()) as BenchDocument, json, csv: await readFile(csv, 'utf8'), html: await readFile(html, 'utf8') }
}

t.test('--json carries the parameters, HDR histograms other tools read, and a per-second series; --csv and --html agree', async (t) => {
  const srv = await okServer(t)
  const dir = await tempDir(t)
  const { doc, csv, html } = await run(srv.origin, dir, 'a', ['-H', 'x-run: a'])
  t.equal(doc.format, 'wirepool-bench/1')
  t.same(doc.parameters, { url: `${srv.origin}/`, method: 'GET', clients: 2, threads: 1, maxConcurrentStreams: 1, warmUpMs: 0, headers: [['x-run', 'a']], durationMs: 1200, rate: 150 })
  t.equal(doc.requests.done, srv.requests())
  for (const which of ['uncorrected', 'corrected'] as const) {
    const h = doc.latency[which]
    if (h === undefined) throw new Error(`no ${which} histogram`)
    const theirs = hdr.decodeFromCompressedBase64(h.hdr, 64)
    t.equal(theirs.totalCount, doc.requests.done, `${which}: hdr-histogram-js reads the count`)
    t.equal(Math.min(theirs.getValueAtPercentile(99), h.max), h.percentiles.p99, `${which}: and the same p99`)
  }
  t.ok(doc.timeSeries.length >= 1 && doc.timeSeries.length <= 3, `${doc.timeSeries.length} seconds`)
  t.equal(doc.timeSeries.reduce((n, s) => n + s.requests, 0), doc.requests.done)
  t.equal(doc.timeSeries.reduce((n, s) => n + s.bytes, 0), doc.traffic.total)
  t.same(doc.timeSeries.map((s) => s.second), doc.timeSeries.map((_, i) => i))
  for (const s of doc.timeSeries) t.equal(hdr.decodeFromCompressedBase64(s.hdr, 64).totalCount, s.requests, `second ${s.second}: its histogram`)

  const rows = csv.trimEnd().split('\n')
  t.equal(rows[0], 'second,requests,errors,bytes,p50_us,p99_us')
  t.same(
    rows.slice(1),
    doc.timeSeries.map((s) => `${s.second},${s.requests},${s.errors},${s.bytes},${s.p50Us},${s.p99Us}`),
  )

  t.match(html, /^<!doctype html>/)
  t.equal(html.split('<svg').length - 1, 3, 'latency over time, percentiles, throughput')
  t.match(html, /Latency per second \(corrected: from intended start\)/)
  t.match(html, /Latency by percentile/)
  t.match(html, /<polyline fill="none" stroke="#d62728" stroke-width="2" points="[\d., ]+"><title>corrected/)
  t.notMatch(html, /<script|<link|src=|href=/, 'self-contained: nothing loaded from anywhere')
})

t.test('bench merge: counts and rates add, histograms merge, series add by second; a merge merges again', async (t) => {
  const srv = await okServer(t)
  const dir = await tempDir(t)
  const a = await run(srv.origin, dir, 'a')
  const b = await run(srv.origin, dir, 'b')
  const merged = await runCli(t, ['bench', 'merge', '--json', a.json, b.json])
  t.equal(merged.code, 0, merged.stderr)
  const m = JSON.parse(merged.stdout) as BenchDocument
  t.equal(m.runs, 2)
  t.same(m.mergedFrom, [a.json, b.json])
  t.equal(m.requests.done, a.doc.requests.done + b.doc.requests.done)
  t.equal(m.traffic.total, a.doc.traffic.total + b.doc.traffic.total)
  t.equal(m.clients, 4)
  t.ok(Math.abs(m.requestsPerSecond - (a.doc.requestsPerSecond + b.doc.requestsPerSecond)) < 1e-6, 'rates summed')
  t.equal(m.openLoop?.askedPerSecond, 300)
  t.equal(m.parameters.rate, 300)
  t.equal(m.openLoop?.sent, (a.doc.openLoop?.sent ?? 0) + (b.doc.openLoop?.sent ?? 0))
  const both = new Histogram()
  for (const d of [a.doc, b.doc]) both.merge(histogramFromJson(d.latency.corrected as NonNullable<BenchDocument['latency']['corrected']>).snapshot())
  t.equal(m.latency.corrected?.count, both.count)
  t.equal(m.latency.corrected?.percentiles.p99, both.percentile(99), 'the merged p99 is the p99 of all requests')
  t.equal(m.latency.corrected?.max, Math.max(a.doc.latency.corrected?.max ?? 0, b.doc.latency.corrected?.max ?? 0), 'exact max kept')
  t.equal(hdr.decodeFromCompressedBase64(m.latency.uncorrected.hdr, 64).totalCount, m.requests.done)
  const seconds = Math.max(a.doc.timeSeries.length, b.doc.timeSeries.length)
  t.equal(m.timeSeries.length, seconds)
  for (let i = 0; i < seconds; i++) {
    t.equal(m.timeSeries[i]?.requests, (a.doc.timeSeries[i]?.requests ?? 0) + (b.doc.timeSeries[i]?.requests ?? 0), `second ${i}`)
  }

  const again = join(dir, 'ab.json')
  await writeFile(again, merged.stdout)
  const { io, out } = captureIo()
  t.equal(await runBench(['merge', again, a.json], io), 0)
  t.match(out(), /^merged 3 run\(s\): /)
  t.match(out(), new RegExp(`\\nrequests: \\d+ total, \\d+ started, ${m.requests.done + a.doc.requests.done} done, `))
  t.match(out(), /\nopen loop: asked 450\.00 req\/s, /)
  t.match(out(), /latency +corrected \(from intended start\) +uncorrected \(from actual send\)\n/)

  const csv = captureIo()
  t.equal(await runBench(['merge', '--csv', '-', a.json, b.json], csv.io), 0)
  t.equal(csv.out().split('\n')[0], 'second,requests,errors,bytes,p50_us,p99_us')
  t.notMatch(csv.out(), /merged/, 'only the CSV on stdout')
})

t.test('bench merge refuses what it cannot read', async (t) => {
  const dir = await tempDir(t)
  const notBench = join(dir, 'x.json')
  await writeFile(notBench, '{"hello": 1}')
  const garbage = join(dir, 'y.json')
  await writeFile(garbage, 'not json')
  const cases: Array<[string[], number, RegExp]> = [
    [[], 2, /merge needs at least one result file/],
    [[join(dir, 'missing.json')], 26, /missing\.json/],
    [[notBench], 2, /not a 'wirepool bench --json' result/],
    [[garbage], 2, /y\.json: not JSON/],
  ]
  for (const [args, code, message] of cases) {
    const { io, err } = captureIo()
    t.equal(await runBench(['merge', ...args], io), code, args.join(' '))
    t.match(err(), message)
  }
  const help = captureIo()
  t.equal(await runBench(['merge', '--help'], help.io), 0)
  t.match(help.out(), /Usage: wirepool bench merge/)
})
