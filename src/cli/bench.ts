/**
 * `wirepool bench [URL]`: an h2load-compatible load generator. Flags mean what h2load's
 * mean where they overlap; the summary prints h2load's lines (bench-report.ts). `-t N` runs
 * N worker threads, each with its own Agent. Without a URL it benchmarks an embedded
 * HTTPS server (h2 + http/1.1 by ALPN) in a child process, made for the occasion.
 * `--rate` makes it open-loop (bench-client.ts); `--json` / `--csv` / `--html` write what a run
 * leaves behind (bench-document.ts, bench-html.ts); `bench merge` adds such runs up.
 */
import { readFile } from 'node:fs/promises'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { Worker } from 'node:worker_threads'
import type { AgentOptions } from '../index.js'
import { UsageError, boolFlag, configOrExit, durationMs, listFlag, parseFlags, parseHeader, parseUrl, positiveInt, protocolChoice, stringFlag } from './args.js'
import { runClients, type ClientConfig, type Progress } from './bench-client.js'
import { buildDocument, renderDocument, type BenchParameters } from './bench-document.js'
import { runMerge, writeOutputs } from './bench-merge.js'
import { figures, formatDuration, renderOpenLoop, renderSummary } from './bench-report.js'
import { combine, type ThreadResult } from './bench-stats.js'
import { Histogram } from './histogram.js'
import { renderComparison, runReferenceTools, type CompareParams } from './compare.js'
import { startEmbeddedServer, type EmbeddedServer } from './embedded-server.js'
import { ExitCode, exitCodeForCode } from './exit-codes.js'
import type { CliIo } from './get.js'

export const BENCH_HELP = `Usage: wirepool bench [options] [URL]
       wirepool bench merge [--json] [--csv FILE] [--html FILE] RESULT.json...

Without URL, starts an embedded HTTPS server (h2 + http/1.1) in a child process and
benchmarks it (defaults then: -n 10000 -c 10).
  -n, --requests N          requests across all clients (default 1)
  -c, --clients N           concurrent clients = connections (default 1)
  -m, --max-concurrent-streams N
                            requests in flight per client: h2 streams, or HTTP/1.1
                            pipelining depth (default 1)
  -t, --threads N           worker threads, each with its own Agent (default 1)
  -D, --duration T          measure for T (10, 10s, 500ms, 1m) instead of -n requests
      --warm-up-time T      run T before measuring (with -D)
  -H, --header 'N: v'       add a request header (repeatable)
  -d, --data FILE           POST the contents of FILE
      --h1                  HTTP/1.1 only
      --h2c                 cleartext HTTP/2 with prior knowledge (h2load --no-tls-proto=h2c)
      --npn-list LIST       ALPN protocols, comma separated (h2, http/1.1)
      --cacert FILE         trust the CA certificate(s) in FILE (PEM)
  -k, --insecure            do NOT verify the server certificate (prints a warning)
  -v, --verbose             per-thread figures (and the embedded server's) on stderr
      --rate R              open loop: R requests per second in total, on a fixed timetable
                            (needs -n or -D); latency is measured from each request's
                            intended start (corrected for coordinated omission, as wrk2)
                            and from its actual send, and both are reported
      --json                print the results as JSON instead of the summary: h2load's
                            figures, the parameters, HDR histograms (HdrHistogram compressed
                            base64) and a per-second time series; 'bench merge' adds them up
      --csv FILE            write the per-second time series as CSV ('-' for stdout)
      --html FILE           write a self-contained HTML report (latency over time, percentiles)
      --compare             then run h2load (and wrk with --h1 -D) with the same parameters
                            against the same server and print both and the ratios`

const OPTIONS = {
  requests: { type: 'string', short: 'n' },
  clients: { type: 'string', short: 'c' },
  'max-concurrent-streams': { type: 'string', short: 'm' },
  threads: { type: 'string', short: 't' },
  duration: { type: 'string', short: 'D' },
  'warm-up-time': { type: 'string' },
  header: { type: 'string', short: 'H', multiple: true },
  data: { type: 'string', short: 'd' },
  h1: { type: 'boolean' },
  h2c: { type: 'boolean' },
  'npn-list': { type: 'string' },
  cacert: { type: 'string' },
  insecure: { type: 'boolean', short: 'k' },
  verbose: { type: 'boolean', short: 'v' },
  json: { type: 'boolean' },
  rate: { type: 'string' },
  csv: { type: 'string' },
  html: { type: 'string' },
  compare: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const

/** ALPN identifiers the engine can speak (RFC 7301 registry names). */
const KNOWN_ALPN = new Set(['h2', 'http/1.1'])

/** The run's parameters are the ones `--compare` hands the reference tools, with the URL parsed. */
interface BenchConfig extends Omit<CompareParams, 'url'> {
  url: URL | undefined
  cacert: string | undefined
  insecure: boolean
  verbose: boolean
  json: boolean
  compare: boolean
  /** Open loop: requests per second in total. */
  rate: number | undefined
  csvFile: string | undefined
  htmlFile: string | undefined
}

/** A positive decimal number of requests per second. */
function rateFlag(text: string | undefined): number | undefined {
  if (text === undefined) return undefined
  if (!/^\d+(?:\.\d+)?$/.test(text) || !(Number(text) > 0)) throw new UsageError(`--rate needs a positive number of requests per second, got '${text}'`)
  return Number(text)
}

function parseBench(argv: readonly string[]): BenchConfig | 'help' {
  const { values, positionals } = parseFlags(argv, OPTIONS)
  if (boolFlag(values, 'help')) return 'help'
  if (positionals.length > 1) throw new UsageError(`at most one URL, got ${positionals.length}`)
  const url = positionals.length === 1 ? parseUrl(positionals[0]) : undefined
  const demo = url === undefined && stringFlag(values, 'requests') === undefined && stringFlag(values, 'duration') === undefined
  const threads = positiveInt('-t', stringFlag(values, 'threads'), 1)
  const clients = positiveInt('-c', stringFlag(values, 'clients'), demo ? 10 : 1)
  const requests = positiveInt('-n', stringFlag(values, 'requests'), demo ? 10_000 : 1)
  const duration = durationMs('-D', stringFlag(values, 'duration'))
  const warmUp = durationMs('--warm-up-time', stringFlag(values, 'warm-up-time'))
  // The same consistency rules h2load enforces.
  if (clients < threads) throw new UsageError(`-c (${clients}) must be at least -t (${threads})`)
  if (duration === undefined && requests < clients) throw new UsageError(`-n (${requests}) must be at least -c (${clients})`)
  if (warmUp !== undefined && duration === undefined) throw new UsageError('--warm-up-time needs -D')
  const choice = protocolChoice(values, ['h1', 'h2c'])
  const protocol = choice === 'h1' || choice === 'h2c' ? choice : undefined
  if (protocol === 'h2c' && url?.protocol !== 'http:') throw new UsageError('--h2c is cleartext HTTP/2: it needs an http: URL')
  const npnList = stringFlag(values, 'npn-list')
  if (npnList !== undefined) {
    for (const id of npnList.split(',')) if (!KNOWN_ALPN.has(id)) throw new UsageError(`--npn-list: unknown protocol '${id}' (h2, http/1.1)`)
    if (protocol === 'h1' && npnList.split(',').includes('h2')) throw new UsageError('--npn-list offers h2 but --h1 forbids it')
  }
  const insecure = boolFlag(values, 'insecure')
  const cacert = stringFlag(values, 'cacert')
  if (insecure && cacert !== undefined) throw new UsageError('--insecure and --cacert cannot be combined')
  const json = boolFlag(values, 'json')
  const compare = boolFlag(values, 'compare')
  if (json && compare) throw new UsageError('--json and --compare cannot be combined')
  const rate = rateFlag(stringFlag(values, 'rate'))
  if (rate !== undefined && url !== undefined && stringFlag(values, 'requests') === undefined && duration === undefined) {
    throw new UsageError('--rate needs -n or -D (how many requests, or for how long)')
  }
  if (rate !== undefined && compare) throw new UsageError('--rate and --compare cannot be combined (h2load and wrk are closed-loop)')
  const csvFile = stringFlag(values, 'csv')
  if (csvFile === '-' && json) throw new UsageError('--json and --csv - both want stdout')
  return {
    url,
    requests,
    clients,
    maxStreams: positiveInt('-m', stringFlag(values, 'max-concurrent-streams'), 1),
    threads,
    durationMs: duration,
    warmUpMs: warmUp ?? 0,
    headers: listFlag(values, 'header').map(parseHeader),
    dataFile: stringFlag(values, 'data'),
    protocol,
    npnList,
    cacert,
    insecure,
    verbose: boolFlag(values, 'verbose'),
    json,
    compare,
    rate,
    csvFile,
    htmlFile: stringFlag(values, 'html'),
  }
}

/** Flags → the engine's options; each maps to an Agent option, so h2 needs no change here. */
function agentOptionsFor(config: BenchConfig, ca: string | undefined): AgentOptions {
  const options: AgentOptions = {}
  if (config.protocol === 'h1') options.allowH2 = false
  if (config.protocol === 'h2c') options.h2c = true
  if (config.npnList !== undefined) options.allowH2 = config.npnList.split(',').includes('h2')
  const tls: NonNullable<AgentOptions['tls']> = {}
  if (ca !== undefined) tls.ca = ca
  if (config.insecure) tls.rejectUnauthorized = false
  options.tls = tls
  return options
}

/** `share(i)` of `total` split over `parts` as evenly as possible (the first ones get the rest). */
function share(total: number, parts: number, i: number): number {
  return Math.floor(total / parts) + (i < total % parts ? 1 : 0)
}

function workerFor(config: ClientConfig): Worker {
  const self = fileURLToPath(import.meta.url)
  const file = fileURLToPath(new URL(`./bench-worker${self.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url))
  if (!file.endsWith('.ts')) return new Worker(file, { workerData: config })
  // Under tsx (development) the loader hooks of the main thread do not reach a worker on
  // Node 20: the worker registers tsx itself, then loads the TypeScript entry.
  const api = import.meta.resolve('tsx/esm/api')
  const code = `import(${JSON.stringify(api)}).then(({ register }) => { register(); return import(${JSON.stringify(pathToFileURL(file).href)}) })`
  return new Worker(code, { eval: true, workerData: config, execArgv: [] })
}

/** With `inProcess` (one thread, as h2load -t 1) the clients run on the main thread. */
function runThread(config: ClientConfig, inProcess: boolean, onProgress: (thread: number, progress: Progress) => void): Promise<ThreadResult> {
  if (inProcess) return runClients(config, (progress) => onProgress(config.thread, progress))
  return new Promise((resolve, reject) => {
    const worker = workerFor(config)
    let result: ThreadResult | undefined
    worker.on('message', (message: { progress?: Progress; result?: ThreadResult }) => {
      if (message.progress !== undefined) onProgress(config.thread, message.progress)
      if (message.result !== undefined) result = message.result
    })
    worker.on('error', reject)
    worker.on('exit', (code) => {
      if (result !== undefined) resolve(result)
      else reject(new Error(`bench thread #${config.thread} exited with code ${code} without a result`))
    })
  })
}

export async function runBench(argv: readonly string[], io: CliIo): Promise<number> {
  if (argv[0] === 'merge') return runMerge(argv.slice(1), io)
  const config = await configOrExit('bench', BENCH_HELP, io, () => parseBench(argv))
  if (typeof config === 'number') return config
  let body: Buffer | undefined
  let ca: string | undefined
  try {
    if (config.dataFile !== undefined) body = await readFile(config.dataFile)
  } catch (err) {
    io.stderr.write(`wirepool bench: -d ${config.dataFile}: ${(err as Error).message}\n`)
    return ExitCode.READ
  }
  try {
    if (config.cacert !== undefined) ca = await readFile(config.cacert, 'utf8')
  } catch (err) {
    io.stderr.write(`wirepool bench: --cacert ${config.cacert}: ${(err as Error).message}\n`)
    return ExitCode.USAGE
  }
  if (config.insecure) io.stderr.write('wirepool: WARNING: --insecure: the server certificate is NOT verified\n')

  let server: EmbeddedServer | undefined
  try {
    let url = config.url
    if (url === undefined) {
      if (config.protocol === 'h2c') throw new UsageError('--h2c needs an http: URL; the embedded server speaks TLS')
      server = await startEmbeddedServer()
      ca = server.ca
      url = new URL('/', server.origin)
      io.stderr.write(`embedded server: node:http2 (h2 + http/1.1 by ALPN) in child process ${server.pid ?? '?'}, ${server.origin}\n`)
    }
    return await benchmark(config, url, body, agentOptionsFor(config, ca), io, server)
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`wirepool bench: ${err.message}\n`)
      return ExitCode.USAGE
    }
    const code = (err as { code?: unknown }).code
    io.stderr.write(`wirepool bench: ${typeof code === 'string' ? `${code}: ` : ''}${(err as Error).message}\n`)
    return typeof code === 'string' ? exitCodeForCode(code) : ExitCode.FAILURE
  } finally {
    await server?.stop()
  }
}

async function benchmark(
  config: BenchConfig,
  url: URL,
  body: Buffer | undefined,
  agentOptions: AgentOptions,
  io: CliIo,
  server: EmbeddedServer | undefined,
): Promise<number> {
  // --json (and --csv -) keep stdout for the document alone.
  const quietStdout = config.json || config.csvFile === '-'
  const log = (line: string): void => {
    ;(quietStdout ? io.stderr : io.stdout).write(`${line}\n`)
  }
  const method = body === undefined ? 'GET' : 'POST'
  log('starting benchmark...')
  const configs: ClientConfig[] = []
  const tty = (io.stdout as { isTTY?: boolean }).isTTY === true && !quietStdout
  for (let i = 0; i < config.threads; i++) {
    const clients = share(config.clients, config.threads, i)
    const requests = share(config.requests, config.threads, i)
    configs.push({
      thread: i,
      url: url.href,
      method,
      headers: config.headers,
      body,
      clients,
      maxStreams: config.maxStreams,
      requests,
      durationMs: config.durationMs,
      warmUpMs: config.warmUpMs,
      agentOptions,
      // Threads share the rate and interleave: together their timetables are one of rate R.
      rate: config.rate === undefined ? undefined : config.rate / config.threads,
      rateOffsetMs: config.rate === undefined ? 0 : (i * 1000) / config.rate,
      series: config.json || config.csvFile !== undefined || config.htmlFile !== undefined,
      liveMs: tty ? LIVE_MS : 0,
    })
    log(
      config.durationMs === undefined
        ? `spawning thread #${i}: ${clients} total client(s). ${requests} total requests`
        : `spawning thread #${i}: ${clients} total client(s). Timing-based test with ${config.warmUpMs / 1000}s of warm-up time and ${config.durationMs / 1000}s of main duration for measurements.`,
    )
  }
  const live = tty ? liveLine(config, io) : undefined
  let results: ThreadResult[]
  try {
    results = await Promise.all(configs.map((c) => runThread(c, config.threads === 1, (thread, p) => live?.update(thread, p))))
  } finally {
    if (live?.drawn() === true) io.stdout.write('\r\u001b[K')
  }
  const totals = combine(results)
  for (const p of totals.protocols) log(`Application protocol: ${p}`)
  if (config.verbose) {
    for (const r of results) {
      io.stderr.write(
        `thread #${r.thread}: ${r.clients} client(s), ${r.done} done, ${r.succeeded} succeeded, ${r.errored} errored, ${r.connectTimes.length} connection(s)${Object.keys(r.errors).length > 0 ? `, errors ${JSON.stringify(r.errors)}` : ''}\n`,
      )
    }
    if (server !== undefined) {
      const s = await server.stats()
      io.stderr.write(`embedded server: ${s.requests} requests, ${s.connections} TLS connections\n`)
    }
  }
  const parameters: BenchParameters = {
    url: url.href,
    method,
    clients: config.clients,
    threads: config.threads,
    maxConcurrentStreams: config.maxStreams,
    warmUpMs: config.warmUpMs,
    headers: config.headers,
  }
  if (config.durationMs === undefined) parameters.requests = config.requests
  else parameters.durationMs = config.durationMs
  if (config.rate !== undefined) parameters.rate = config.rate
  if (config.protocol !== undefined) parameters.protocol = config.protocol
  const doc = buildDocument(totals, parameters)
  await writeOutputs(doc, config, io)
  if (config.json) io.stdout.write(renderDocument(doc))
  else if (config.csvFile !== '-') {
    io.stdout.write(`\n${renderSummary(totals)}${renderOpenLoop(doc)}`)
    if (config.compare) {
      const params: CompareParams = {
        url: url.href,
        requests: config.requests,
        clients: config.clients,
        maxStreams: config.maxStreams,
        threads: config.threads,
        durationMs: config.durationMs,
        warmUpMs: config.warmUpMs,
        headers: config.headers,
        dataFile: config.dataFile,
        protocol: config.protocol,
        npnList: config.npnList,
      }
      io.stdout.write(renderComparison(figures(totals), await runReferenceTools(params)))
    }
  }
  // As h2load, failed requests are results, not a failure of the tool; a run where nothing
  // succeeded reports why through the exit code of its most frequent error.
  if (totals.succeeded > 0 || totals.done === 0) return ExitCode.OK
  const [worst] = Object.entries(totals.errors).sort((a, b) => b[1] - a[1])
  return worst === undefined ? ExitCode.OK : exitCodeForCode(worst[0])
}

/** The live status line is redrawn once a second (when thread #0 reports), never per request. */
const LIVE_MS = 1000

function liveLine(config: BenchConfig, io: CliIo): { update(thread: number, p: Progress): void; drawn(): boolean } {
  const latest = new Array<Progress | undefined>(config.threads).fill(undefined)
  const started = performance.now()
  let last = { at: started, done: 0 }
  let drawn = false
  return {
    update(thread, p) {
      latest[thread] = p
      if (thread !== 0) return
      const now = performance.now()
      let done = 0
      let failed = 0
      const latency = new Histogram()
      for (const q of latest) {
        if (q === undefined) continue
        done += q.done
        failed += q.failed
        latency.merge(q.latency)
      }
      const rate = ((done - last.done) * 1000) / Math.max(1, now - last.at)
      last = { at: now, done }
      const where = config.durationMs === undefined ? `${Math.floor((done / config.requests) * 100)}%` : `${((now - started) / 1000).toFixed(0)}s`
      const p99 = `p99 ${formatDuration(latency.percentile(99))}${config.rate === undefined ? '' : ' corrected'}`
      io.stdout.write(`\r[${where}] ${rate.toFixed(1)} req/s, ${p99} so far, ${failed} errors, ${done} done\u001b[K`)
      drawn = true
    },
    drawn: () => drawn,
  }
}
