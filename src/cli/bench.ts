/**
 * `wirepool bench [URL]`: an h2load-compatible load generator. Flags mean what h2load's
 * mean where they overlap; the summary prints h2load's lines (bench-report.ts). `-t N` runs
 * N worker threads, each with its own Agent. Without a URL it benchmarks an embedded
 * HTTPS server (h2 + http/1.1 by ALPN) in a child process, made for the occasion.
 */
import { readFile } from 'node:fs/promises'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { Worker } from 'node:worker_threads'
import type { AgentOptions } from '../index.js'
import { UsageError, boolFlag, configOrExit, durationMs, listFlag, parseFlags, parseHeader, parseUrl, positiveInt, protocolChoice, stringFlag } from './args.js'
import { runClients, type ClientConfig } from './bench-client.js'
import { figures, renderJson, renderSummary } from './bench-report.js'
import { combine, type ThreadResult } from './bench-stats.js'
import { renderComparison, runReferenceTools, type CompareParams } from './compare.js'
import { startEmbeddedServer, type EmbeddedServer } from './embedded-server.js'
import { ExitCode, exitCodeForCode } from './exit-codes.js'
import type { CliIo } from './get.js'

export const BENCH_HELP = `Usage: wirepool bench [options] [URL]

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
      --json                print the results as JSON instead of the summary
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
function runThread(config: ClientConfig, inProcess: boolean, onProgress: (thread: number, done: number) => void): Promise<ThreadResult> {
  if (inProcess) return runClients(config, (done) => onProgress(config.thread, done))
  return new Promise((resolve, reject) => {
    const worker = workerFor(config)
    let result: ThreadResult | undefined
    worker.on('message', (message: { progress?: number; result?: ThreadResult }) => {
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
  const log = (line: string): void => {
    // --json keeps stdout for the JSON document alone.
    ;(config.json ? io.stderr : io.stdout).write(`${line}\n`)
  }
  const method = body === undefined ? 'GET' : 'POST'
  log('starting benchmark...')
  const configs: ClientConfig[] = []
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
    })
    log(
      config.durationMs === undefined
        ? `spawning thread #${i}: ${clients} total client(s). ${requests} total requests`
        : `spawning thread #${i}: ${clients} total client(s). Timing-based test with ${config.warmUpMs / 1000}s of warm-up time and ${config.durationMs / 1000}s of main duration for measurements.`,
    )
  }
  const progress = new Array<number>(config.threads).fill(0)
  const tty = (io.stdout as { isTTY?: boolean }).isTTY === true && !config.json
  const started = Date.now()
  const onProgress = (thread: number, done: number): void => {
    progress[thread] = done
  }
  // The live line is redrawn on a timer, never per request, and only on a terminal.
  const ticker = tty
    ? setInterval(() => {
        const done = progress.reduce((a, b) => a + b, 0)
        const text =
          config.durationMs === undefined
            ? `progress: ${Math.floor((done / config.requests) * 100)}% done (${done}/${config.requests})`
            : `progress: ${((Date.now() - started) / 1000).toFixed(1)}s, ${done} done`
        io.stdout.write(`\r${text}\u001b[K`)
      }, 200)
    : undefined
  let results: ThreadResult[]
  try {
    results = await Promise.all(configs.map((c) => runThread(c, config.threads === 1, onProgress)))
  } finally {
    if (ticker !== undefined) {
      clearInterval(ticker)
      io.stdout.write('\r\u001b[K')
    }
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
  if (config.json) io.stdout.write(renderJson(totals, { url: url.href, method, maxConcurrentStreams: config.maxStreams }))
  else {
    io.stdout.write(`\n${renderSummary(totals)}`)
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
