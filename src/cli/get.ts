/**
 * `wirepool get URL`: one request, curl-like. The body goes to stdout (or -o FILE) as it
 * arrives, with the handler's backpressure; -v traces the connection's life on stderr.
 * Returns the exit code (exit-codes.ts) instead of exiting, so main.ts owns the process.
 */
import { createWriteStream } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { once } from 'node:events'
import type { Writable } from 'node:stream'
import { Agent, type AgentOptions, type CertificateExpiringEvent, type ConnectionInfo, type DispatchHandler, type HeaderRecord, type RequestTimings, type WirepoolError } from '../index.js'
import {
  UsageError,
  boolFlag,
  configOrExit,
  listFlag,
  parseFlags,
  parseHeader,
  parseUrl,
  protocolChoice,
  secondsMs,
  stringFlag,
  type ParsedFlags,
} from './args.js'
import { ExitCode, exitCodeFor } from './exit-codes.js'
import { parseResolve, resolveLookup } from './resolve.js'
import { Trace, headerLines } from './trace.js'
import { proxyForCli } from '../proxy/env.js'

export const GET_HELP = `Usage: wirepool get [options] URL

  -X, --request METHOD     request method (default GET, or POST with -d)
  -H, --header 'N: v'      add a request header (repeatable)
  -d, --data DATA          request body; @FILE reads it from FILE, @- from stdin
  -o, --output FILE        write the body to FILE instead of stdout
  -i, --include            print the response head before the body
  -v, --verbose            trace the connection's life and both heads on stderr
  -f, --fail               exit 22 (and print no body) when the status is >= 400
      --h1                 HTTP/1.1 only (no h2 in ALPN)
      --h2                 offer h2 in ALPN over TLS (the default)
      --h2c                cleartext HTTP/2 with prior knowledge (http: URLs)
      --cacert FILE        trust the CA certificate(s) in FILE (PEM)
      --pin sha256/BASE64  require the server key to match this SPKI pin (repeatable)
  -k, --insecure           do NOT verify the server certificate (prints a warning)
      --connect-timeout S  seconds for DNS + TCP + TLS (default 10)
  -x, --proxy URL          use this proxy: http://[user:pass@]host:port, https://, socks5://,
                           socks5h://; without -x, http_proxy / https_proxy / all_proxy
                           are followed as curl does ('' turns them off)
      --noproxy LIST       hosts that go direct (as NO_PROXY: names, .domains, IPs, CIDRs, *)
  -p, --proxytunnel        tunnel http: URLs through an HTTP proxy with CONNECT
      --proxy-cacert FILE  trust the CA certificate(s) in FILE for an https:// proxy
      --resolve H:P:ADDR   connect to ADDR[,ADDR…] for host H, port P (repeatable)
      --unix-socket PATH   connect through this Unix domain socket (http: URLs)
  -m, --max-time S         give up after S seconds in all`

const OPTIONS = {
  request: { type: 'string', short: 'X' },
  header: { type: 'string', short: 'H', multiple: true },
  data: { type: 'string', short: 'd' },
  output: { type: 'string', short: 'o' },
  include: { type: 'boolean', short: 'i' },
  verbose: { type: 'boolean', short: 'v' },
  fail: { type: 'boolean', short: 'f' },
  h1: { type: 'boolean' },
  h2: { type: 'boolean' },
  h2c: { type: 'boolean' },
  cacert: { type: 'string' },
  pin: { type: 'string', multiple: true },
  insecure: { type: 'boolean', short: 'k' },
  'connect-timeout': { type: 'string' },
  proxy: { type: 'string', short: 'x' },
  noproxy: { type: 'string' },
  proxytunnel: { type: 'boolean', short: 'p' },
  'proxy-cacert': { type: 'string' },
  resolve: { type: 'string', multiple: true },
  'unix-socket': { type: 'string' },
  'max-time': { type: 'string', short: 'm' },
  help: { type: 'boolean', short: 'h' },
} as const

const CERTIFICATE_REPORT_DAYS = 36_500

export interface CliIo {
  stdout: Writable
  stderr: Writable
  stdin: NodeJS.ReadableStream
}

interface GetConfig {
  url: URL
  method: string
  headers: Array<[string, string]>
  data: string | undefined
  output: string | undefined
  include: boolean
  verbose: boolean
  fail: boolean
  agentOptions: AgentOptions
  insecure: boolean
  maxTimeMs: number | undefined
}

async function parseGet(argv: readonly string[]): Promise<GetConfig | 'help'> {
  const { values, positionals } = parseFlags(argv, OPTIONS)
  if (boolFlag(values, 'help')) return 'help'
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'missing URL' : `one URL expected, got ${positionals.length}`)
  const url = parseUrl(positionals[0])
  const choice = protocolChoice(values, ['h1', 'h2', 'h2c'])
  if (choice === 'h2' && url.protocol === 'http:') {
    throw new UsageError('--h2 negotiates HTTP/2 by ALPN over TLS; for an http: URL use --h2c (prior knowledge)')
  }
  if (choice === 'h2c' && url.protocol === 'https:') throw new UsageError('--h2c is cleartext HTTP/2: it needs an http: URL')
  const pins = listFlag(values, 'pin')
  if (pins.length > 0 && url.protocol !== 'https:') throw new UsageError('--pin checks a TLS certificate: it needs an https: URL')
  const insecure = boolFlag(values, 'insecure')
  const cacert = stringFlag(values, 'cacert')
  if (insecure && cacert !== undefined) throw new UsageError('--insecure and --cacert cannot be combined')

  const tls: NonNullable<AgentOptions['tls']> = {}
  if (cacert !== undefined) {
    try {
      tls.ca = await readFile(cacert, 'utf8')
    } catch (err) {
      throw new UsageError(`--cacert ${cacert}: ${(err as Error).message}`)
    }
  }
  if (insecure) tls.rejectUnauthorized = false
  // The engine checks the pins (RFC 7469 §2.4) before any request byte is sent.
  if (pins.length > 0) tls.pins = pins
  const verbose = boolFlag(values, 'verbose')
  const agentOptions: AgentOptions = { connections: 1, tls, decompress: false }
  // -v shows the certificate's subject and expiry. The pool reports them through its
  // `certificate-expiring` event only, so -v makes every certificate "expiring" (within a
  // century) to receive it.
  if (verbose) agentOptions.certificateExpiryWarningDays = CERTIFICATE_REPORT_DAYS
  // Each flag maps to the engine's own option, so h2 support needs no change here.
  if (choice === 'h1') agentOptions.allowH2 = false
  if (choice === 'h2') agentOptions.allowH2 = true
  if (choice === 'h2c') agentOptions.h2c = true
  const connectTimeout = secondsMs('--connect-timeout', stringFlag(values, 'connect-timeout'))
  if (connectTimeout !== undefined) agentOptions.connectTimeout = connectTimeout
  await proxyOptions(values, url, agentOptions)
  const lookup = resolveLookup(listFlag(values, 'resolve').map(parseResolve), Number(url.port || (url.protocol === 'https:' ? 443 : 80)))
  if (lookup !== undefined) agentOptions.lookup = lookup
  const unixSocket = stringFlag(values, 'unix-socket')
  if (unixSocket !== undefined) {
    if (url.protocol !== 'http:') throw new UsageError('--unix-socket works with http: URLs (HTTP/1.1 or --h2c)')
    agentOptions.socketPath = unixSocket
  }

  const data = stringFlag(values, 'data')
  const method = stringFlag(values, 'request') ?? (data === undefined ? 'GET' : 'POST')
  return {
    url,
    method,
    headers: listFlag(values, 'header').map(parseHeader),
    data,
    output: stringFlag(values, 'output'),
    include: boolFlag(values, 'include'),
    verbose,
    fail: boolFlag(values, 'fail'),
    agentOptions,
    insecure,
    maxTimeMs: secondsMs('--max-time', stringFlag(values, 'max-time')),
  }
}

async function readBody(data: string | undefined, io: CliIo): Promise<Buffer | string | undefined> {
  if (data === undefined || !data.startsWith('@')) return data
  const source = data.slice(1)
  if (source === '-') {
    const chunks: Buffer[] = []
    for await (const chunk of io.stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk)
    return Buffer.concat(chunks)
  }
  return readFile(source)
}

class CliError extends Error {
  readonly exitCode: ExitCode
  constructor(exitCode: ExitCode, message: string) {
    super(message)
    this.exitCode = exitCode
  }
}

export async function runGet(argv: readonly string[], io: CliIo): Promise<number> {
  const config = await configOrExit('get', GET_HELP, io, () => parseGet(argv))
  if (typeof config === 'number') return config
  if (config.insecure) {
    io.stderr.write('wirepool: WARNING: --insecure: the server certificate is NOT verified; anyone on the network path can read and change this exchange\n')
  }
  let body: Buffer | string | undefined
  try {
    body = await readBody(config.data, io)
  } catch (err) {
    io.stderr.write(`wirepool get: -d ${config.data ?? ''}: ${(err as Error).message}\n`)
    return ExitCode.READ
  }
  let agent: Agent
  try {
    agent = new Agent(config.agentOptions)
  } catch (err) {
    io.stderr.write(`wirepool get: ${(err as Error).message}\n`)
    return exitCodeFor(err)
  }
  const origin = config.url.origin
  const trace = config.verbose ? new Trace(io.stderr, origin) : undefined
  trace?.attach()
  let exitCode: number = ExitCode.FAILURE
  try {
    exitCode = await exchange(agent, config, body, io, trace)
    return exitCode
  } catch (err) {
    if (err instanceof CliError) {
      io.stderr.write(`wirepool get: ${err.message}\n`)
      return err.exitCode
    }
    const code = (err as { code?: unknown }).code
    io.stderr.write(`wirepool get: ${typeof code === 'string' ? `${code}: ` : ''}${(err as Error).message}\n`)
    return exitCodeFor(err)
  } finally {
    // Graceful after a success, so -v shows the connection draining and closing.
    if (exitCode === ExitCode.OK) await agent.close()
    else await agent.destroy()
    trace?.detach()
  }
}

/**
 * -x / --noproxy / -p / --proxy-cacert, as curl reads them: -x wins over the environment,
 * `-x ''` turns proxies off, --noproxy replaces NO_PROXY. The one URL decides the proxy here.
 */
async function proxyOptions(values: ParsedFlags['values'], url: URL, agentOptions: AgentOptions): Promise<void> {
  const noproxy = stringFlag(values, 'noproxy')
  let proxy: string | undefined
  try {
    proxy = proxyForCli(url, stringFlag(values, 'proxy'), noproxy, process.env)
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
  const tunnel = boolFlag(values, 'proxytunnel')
  const cacert = stringFlag(values, 'proxy-cacert')
  if (proxy === undefined) return
  let tls: NonNullable<AgentOptions['tls']> = {}
  if (cacert !== undefined) {
    try {
      tls = { ca: await readFile(cacert, 'utf8') }
    } catch (err) {
      throw new UsageError(`--proxy-cacert ${cacert}: ${(err as Error).message}`)
    }
  }
  agentOptions.proxy = { url: proxy, tls, tunnel }
}

/** One request through the low-level handler; resolves with the exit code. */
function exchange(agent: Agent, config: GetConfig, body: Buffer | string | undefined, io: CliIo, trace: Trace | undefined): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const secure = config.url.protocol === 'https:'
    let sink: Writable | undefined
    let status = 0
    let protocol = 'http/1.1'
    let failed = false
    let timedOut = false
    const controller = new AbortController()
    const maxTimeMs = config.maxTimeMs
    const timer =
      maxTimeMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true
            controller.abort(new Error(`--max-time ${maxTimeMs / 1000} s reached`))
          }, maxTimeMs)
    const onSigint = (): void => controller.abort(new Error('interrupted'))
    process.once('SIGINT', onSigint)
    const finish = (result: number | Error): void => {
      if (timer !== undefined) clearTimeout(timer)
      process.off('SIGINT', onSigint)
      if (typeof result === 'number') resolve(result)
      else reject(result)
    }
    const openSink = (): Writable => {
      if (sink !== undefined) return sink
      sink = config.output === undefined ? io.stdout : createWriteStream(config.output)
      sink.on('error', (err) => {
        abortRequest?.(err)
        finish(new CliError(ExitCode.WRITE, `writing ${config.output ?? 'stdout'}: ${err.message}`))
      })
      return sink
    }
    let abortRequest: ((reason?: Error) => void) | undefined
    let timings: RequestTimings | undefined
    let certificate: CertificateExpiringEvent | undefined
    if (trace !== undefined) agent.on('certificate-expiring', (event) => (certificate = event))
    if (trace !== undefined) agent.on('retry', (event) => trace.note(`retry #${event.attempt} of ${event.method} ${event.path} in ${event.delayMs} ms (${event.reason})`))

    const handler: DispatchHandler = {
      onConnect(abort: (reason?: Error) => void, info: ConnectionInfo): void {
        abortRequest = abort
        protocol = info.protocol
        timings = info.timings
        if (trace === undefined) return
        const snapshot = agent.pool(config.url.origin).connections().find((c) => c.id === info.id)
        trace.connectionInfo(info, secure, { snapshot, certificate })
        // The proxy by its URL without credentials (the peer above is the proxy's address).
        const pool = agent.pool(config.url.origin)
        if (pool.proxy !== null) trace.note(pool.routeKey.slice(pool.origin.length + 1))
        trace.requestHead(requestHeadLines(config, info, body))
      },
      onInformational(code: number, headers: HeaderRecord): void {
        trace?.responseHead(`${code} (interim)`, headers)
      },
      onHeaders(code: number, headers: HeaderRecord, resume: () => void, statusText: string): boolean {
        status = code
        const statusLine = protocol === 'h2' ? `HTTP/2 ${code}` : `HTTP/1.1 ${code} ${statusText}`.trimEnd()
        trace?.responseHead(statusLine, headers)
        failed = config.fail && code >= 400
        if (failed) return true
        const out = openSink()
        if (config.include) out.write(`${[statusLine, ...headerLines(headers)].join('\r\n')}\r\n\r\n`)
        out.on('drain', resume)
        return true
      },
      onData(chunk: Uint8Array): boolean {
        if (failed) return true
        return (sink as Writable).write(chunk)
      },
      onTrailers(trailers: HeaderRecord): void {
        trace?.trailers(trailers)
      },
      onComplete(): void {
        trace?.requestTimings(timings)
        if (failed) {
          finish(new CliError(ExitCode.HTTP_ERROR, `the requested URL returned error: ${status}`))
          return
        }
        const out = openSink()
        if (out === io.stdout) {
          finish(ExitCode.OK)
          return
        }
        out.end()
        once(out, 'finish').then(() => finish(ExitCode.OK), (err: Error) => finish(new CliError(ExitCode.WRITE, err.message)))
      },
      onError(err: WirepoolError): void {
        if (timedOut) finish(new CliError(ExitCode.TIMEOUT, `operation timed out after ${maxTimeMs} ms (--max-time)`))
        else finish(err)
      },
    }
    const headers: Array<[string, string]> = config.headers
    agent.dispatch({ url: config.url, method: config.method, headers, body, signal: controller.signal }, handler)
  })
}

/**
 * The request head as the engine writes it for HTTP/1.1 (host first, the caller's fields,
 * then framing: src/h1/serialize.ts), or as HTTP/2 pseudo-header fields.
 */
function requestHeadLines(config: GetConfig, info: ConnectionInfo, body: Buffer | string | undefined): string[] {
  const length = body === undefined ? 0 : Buffer.byteLength(body)
  const own = config.headers.map(([n, v]) => `${n}: ${v}`)
  const path = `${config.url.pathname}${config.url.search}`
  if (info.protocol === 'h2') {
    return [`:method: ${config.method}`, `:scheme: ${config.url.protocol.slice(0, -1)}`, `:authority: ${config.url.host}`, `:path: ${path}`, ...own]
  }
  const framing = body === undefined ? [] : [`content-length: ${length}`]
  return [`${config.method} ${path} HTTP/1.1`, `host: ${config.url.host}`, ...own, ...framing]
}
