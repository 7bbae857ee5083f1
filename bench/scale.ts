/**
 * Scale (`npm run bench:scale`, issue 4 "Scale and memory"): wirepool holds 10,000
 * concurrent HTTP/1.1 connections to a local node:http server, sends one request on each,
 * and closes them. Reports the time to open them, the time for the requests, the time to
 * close, memory, and errors (the target is zero). Client (bench/scale-client.ts) and server
 * (bench/idle-server.ts) each run in a process of their own, pinned to cores 1 and 0, with
 * the open-files limit raised through `sh -c 'ulimit -n …'` (to the hard limit when 65,536
 * is above it). Loopback only.
 *
 *   BENCH_CONNECTIONS=10000 npm run bench:scale -- [--json]
 *
 * `--json` writes bench/results/scale.json.
 */
import { writeFile } from 'node:fs/promises'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { makeCertificates } from '../test/support/certs.js'
import { canPin, pinned, runChild, startServerChild, withFdLimit } from './children.js'
import { envNumber, runBenchmark, TSX, writeResults, type Stoppable } from './harness.js'
import type { Ports } from './memory-contenders.js'
import type { ScaleMemory, ScaleResult } from './scale-client.js'
import { formatTable } from './table.js'

const CLIENT_SCRIPT = fileURLToPath(new URL('./scale-client.ts', import.meta.url))
const SERVER_SCRIPT = fileURLToPath(new URL('./idle-server.ts', import.meta.url))
const RESULTS_FILE = fileURLToPath(new URL('./results/scale.json', import.meta.url))
const FD_LIMIT = 65_536
const CHILD_TIMEOUT_MS = 300_000
const MiB = 1024 * 1024

function mib(bytes: number): string {
  return (bytes / MiB).toFixed(1)
}

function ms(value: number): string {
  return Math.round(value).toLocaleString('en-US')
}

function printResult(r: ScaleResult): void {
  const memoryRow = (name: string, m: ScaleMemory): string[] => [name, mib(m.rss), mib(m.heapUsed), mib(m.external)]
  const perConn = (bytes: number): string => `${((bytes / r.connections / MiB) * 100).toFixed(2)}`
  const pin = canPin ? 'server on core 0, client on core 1' : 'unpinned (taskset not installed)'
  process.stdout.write(
    `\nwirepool, ${r.connections.toLocaleString('en-US')} concurrent HTTP/1.1 connections to node:http ${process.version}; ${pin}; ` +
      `open-files limit ${r.fdLimit ?? 'unknown'}\n` +
      `${formatTable(
        ['phase', 'ms', 'per connection'],
        [
          ['open (pool.connect(n))', ms(r.openMs), `${((r.openMs * 1000) / r.connections).toFixed(0)} µs`],
          ['one request on each, all at once', ms(r.requestsMs), `${((r.requestsMs * 1000) / r.connections).toFixed(0)} µs`],
          ['close (pool.close())', ms(r.closeMs), `${((r.closeMs * 1000) / r.connections).toFixed(0)} µs`],
        ],
      )}\n\n` +
      `${formatTable(
        ['memory after gc', 'RSS MiB', 'heap MiB', 'external MiB'],
        [
          memoryRow('start', r.memory.start),
          memoryRow('all open, idle', r.memory.open),
          memoryRow('after the requests', r.memory.afterRequests),
          memoryRow('closed', r.memory.closed),
        ],
      )}\n` +
      `RSS growth per 100 open connections: ${perConn(r.memory.open.rss - r.memory.start.rss)} MiB after connect, ` +
      `${perConn(r.memory.afterRequests.rss - r.memory.start.rss)} MiB after one request each\n\n` +
      `server saw ${r.serverOpen} open, pool reported ${r.idleAfterOpen} idle; ${r.responsesOk} responses ok; ` +
      `${r.connectionsCreated} connections created, ${r.servedOne} served exactly one request; errors: ${r.errors}\n`,
  )
  for (const e of r.firstErrors) process.stdout.write(`  error: ${e}\n`)
}

/** What must hold for the run to count as clean; each failure is one line of the verdict. */
function problems(r: ScaleResult): string[] {
  const n = r.connections
  const found: string[] = []
  if (r.errors > 0) found.push(`${r.errors} errors`)
  if (r.serverOpen !== n) found.push(`server held ${r.serverOpen} connections, expected ${n}`)
  if (r.idleAfterOpen !== n) found.push(`pool had ${r.idleAfterOpen} idle connections after connect, expected ${n}`)
  if (r.responsesOk !== n) found.push(`${r.responsesOk} of ${n} responses ok`)
  if (r.connectionsCreated !== n) found.push(`${r.connectionsCreated} connections created, expected ${n}`)
  if (r.servedOne !== n) found.push(`${r.servedOne} of ${n} connections served exactly one request`)
  return found
}

function jsonFlag(argv: readonly string[]): boolean {
  const unknown = argv.filter((arg) => arg !== '--json')
  if (unknown.length > 0) throw new Error(`unknown argument ${unknown.join(' ')}; usage: scale.ts [--json]`)
  return argv.includes('--json')
}

async function main(json: boolean, scratch: string, servers: Stoppable[]): Promise<void> {
  const n = envNumber('BENCH_CONNECTIONS', 10_000, 'count')
  // The idle server also has TLS listeners; this benchmark does not use them.
  const certs = await makeCertificates()
  const key = join(scratch, 'key.pem')
  const cert = join(scratch, 'cert.pem')
  await Promise.all([writeFile(key, certs.key), writeFile(cert, certs.cert)])
  const server = await startServerChild<Ports>(withFdLimit(FD_LIMIT, pinned(0, process.execPath, ['--import', TSX, SERVER_SCRIPT, key, cert])))
  servers.push(server)
  const args = ['--expose-gc', '--import', TSX, CLIENT_SCRIPT, String(server.info.plain), String(n)]
  const out = await runChild(withFdLimit(FD_LIMIT, pinned(1, process.execPath, args)), CHILD_TIMEOUT_MS)
  if (out.code !== 0) {
    const message = out.stderr.trim().split('\n')[0] ?? ''
    throw new Error(`client exited with ${out.signal ?? `code ${out.code}`}${message === '' ? '' : `: ${message}`}`)
  }
  const result = JSON.parse(out.stdout) as ScaleResult
  printResult(result)
  const found = problems(result)
  process.stdout.write(found.length === 0 ? 'verdict: clean (zero errors, every connection held and used once)\n' : `verdict: FAILED: ${found.join('; ')}\n`)
  if (found.length > 0) process.exitCode = 1
  if (json) {
    await writeResults(RESULTS_FILE, {
      benchmark: 'scale',
      date: new Date().toISOString(),
      node: process.version,
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? null,
      server: `node:http ${process.version}`,
      pinned: canPin,
      // `scenarios[]` with `results[]` rows and `verdicts[]` is the shape bench/report.ts reads.
      scenarios: [
        {
          name: `${n} connections`,
          title: 'hold n concurrent HTTP/1.1 connections, one request on each, close',
          results: [
            {
              tool: 'wirepool',
              contender: 'wirepool',
              openMs: result.openMs,
              requestsMs: result.requestsMs,
              closeMs: result.closeMs,
              rssOpenMiB: (result.memory.open.rss - result.memory.start.rss) / MiB,
              rssAfterRequestsMiB: (result.memory.afterRequests.rss - result.memory.start.rss) / MiB,
              errors: result.errors,
              error: result.firstErrors[0] ?? null,
            },
          ],
          verdicts: [{ contender: 'wirepool', connections: n, target: 'zero errors, every connection held and used once', met: found.length === 0 }],
        },
      ],
      result,
      problems: found,
    })
  }
}

runBenchmark('bench:scale', (scratch, servers) => main(jsonFlag(process.argv.slice(2)), scratch, servers))
