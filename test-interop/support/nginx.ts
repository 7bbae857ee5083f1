/**
 * Starts a private nginx on loopback for interop suites and the HTTP/1.1 benchmark:
 * one process, everything (config, pid, logs, temp paths, served files, certificates)
 * inside a fresh temp dir that `stop()` removes. Nothing in the system's nginx setup
 * (/etc/nginx, /var/lib/nginx, /run) is read or written.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync, rmSync, watch, type FSWatcher } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:net'
import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'
import { makeCertificates } from '../../test/support/certs.js'
import { which } from './which.js'

export interface NginxOptions {
  /** Also listen with TLS on a second port, with a fresh certificate for 127.0.0.1/localhost. */
  tls?: boolean
  /** Offer h2 by ALPN on the TLS port (nginx 1.22 syntax: `listen … ssl http2`). Cleartext stays HTTP/1.1. */
  http2?: boolean
  /**
   * Static files to serve: URL path → size in bytes. Each is written to the temp dir
   * with the content `fileBytes(size)`, so a test can compare what it received.
   */
  files?: Readonly<Record<string, number>>
  /** Extra directives for the server block, e.g. more `location` blocks. */
  serverConfig?: string
  /** Pin nginx to this CPU with taskset (benchmarks keep server and client apart). */
  cpu?: number
}

export interface NginxServer {
  /** Cleartext HTTP/1.1 port on 127.0.0.1. */
  readonly port: number
  /** TLS port on 127.0.0.1, or null without `tls`. */
  readonly tlsPort: number | null
  /** PEM of the CA that signed the TLS certificate, or null without `tls`. */
  readonly ca: string | null
  /** The temp dir holding config, logs and files; gone after `stop()`. */
  readonly dir: string
  readonly pid: number
  /** What nginx logged (level notice and above); useful in a failing test's diagnostics. */
  errorLog(): Promise<string>
  /** Terminates nginx and removes the temp dir. Safe to call more than once. */
  stop(): Promise<void>
}

/** `location = /hello` answers this body (5 bytes), the smallest useful response. */
export const HELLO_BODY = 'hello'

/**
 * Fill pattern of served files. Its length (37) is prime so an offset error in a
 * reader shows up as a mismatch instead of landing on the same bytes again.
 */
const FILE_PATTERN = 'abcdefghijklmnopqrstuvwxyz0123456789\n'

/** The exact content nginx serves for a `files` entry of this size. */
export function fileBytes(size: number): Buffer {
  return Buffer.alloc(size, FILE_PATTERN)
}

/** Upper bound for nginx to start serving; it takes milliseconds when healthy. */
const START_TIMEOUT_MS = 10_000
/** After SIGTERM nginx closes connections at once; SIGKILL only if it hangs. */
const STOP_TIMEOUT_MS = 5_000
/** Another process may grab a probed port before nginx binds it: retry with fresh ports. */
const BIND_ATTEMPTS = 5
const SAFE_URL_PATH = /^\/[A-Za-z0-9._~\/-]*$/

export async function startNginx(options: NginxOptions = {}): Promise<NginxServer> {
  const nginx = which('nginx')
  if (nginx === null) throw new Error('nginx not installed')
  const taskset = options.cpu === undefined ? null : which('taskset')
  if (options.cpu !== undefined && taskset === null) throw new Error('taskset not installed (needed for cpu pinning)')
  // nginx only negotiates h2 by ALPN on TLS; on the cleartext port it would expect prior knowledge and break HTTP/1.1.
  if (options.http2 === true && options.tls !== true) throw new Error('http2 needs tls: nginx offers h2 by ALPN on the TLS port')

  const dir = await mkdtemp(join(tmpdir(), 'wirepool-nginx-'))
  try {
    const ca = options.tls === true ? await writeCertificates(dir) : null
    const locations = await writeFiles(dir, options.files ?? {})
    // nginx creates each *_temp_path itself, but not their parent.
    await mkdir(join(dir, 'tmp'))
    for (let attempt = 1; ; attempt++) {
      const [port, tlsPort] = await freePorts(options.tls === true ? 2 : 1)
      if (port === undefined) throw new Error('no free port')
      const config = nginxConfig(dir, { ...options, port, tlsPort: tlsPort ?? null, locations })
      await writeFile(join(dir, 'nginx.conf'), config)
      // A fresh log per attempt, so a failure reports only its own reason.
      await writeFile(join(dir, 'error.log'), '')
      const nginxArgs = ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')]
      // detached: nginx leads its own process group, so one kill(-pid) reaches master and
      // worker alike. unref: a test that forgets stop() still ends (and the exit hook below
      // then kills nginx) instead of hanging on the child.
      const spawnOptions = { stdio: 'ignore', detached: true } as const
      const child =
        taskset === null
          ? spawn(nginx, nginxArgs, spawnOptions)
          : spawn(taskset, ['-c', String(options.cpu), nginx, ...nginxArgs], spawnOptions)
      child.unref()
      const failure = await waitUntilServing(child, join(dir, 'error.log'))
      if (failure === null) return running(child, dir, port, tlsPort ?? null, ca)
      const log = await readLog(dir)
      // Lost the race for a probed port to another process: try again with new ones.
      if (log.includes('Address already in use') && attempt < BIND_ATTEMPTS) continue
      throw new Error(`nginx did not start (${failure}): ${log.trim()}`)
    }
  } catch (err) {
    await rm(dir, { recursive: true, force: true })
    throw err
  }
}

interface ConfigInput extends NginxOptions {
  port: number
  tlsPort: number | null
  locations: string
}

/**
 * A master and one worker. Not `master_process off`: that mode can lose a SIGTERM that
 * arrives just before it blocks in epoll_wait, and hang; the master instead waits in
 * sigsuspend() and tells its worker over a socketpair, so stop() is prompt. Started as
 * root, the master would run its worker as `nobody`, which cannot read our 0700 temp dir:
 * the worker then keeps our own user. Level `notice` logs "start worker process", the
 * readiness signal (see waitUntilServing).
 */
function nginxConfig(dir: string, input: ConfigInput): string {
  const tls =
    input.tlsPort === null
      ? ''
      : `
    listen 127.0.0.1:${input.tlsPort} ssl${input.http2 === true ? ' http2' : ''};
    ssl_certificate ${join(dir, 'cert.pem')};
    ssl_certificate_key ${join(dir, 'key.pem')};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:wirepool:1m;`
  return `daemon off;
master_process on;
worker_processes 1;
${process.getuid?.() === 0 ? `user ${userInfo().username};\n` : ''}pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} notice;
events { worker_connections 4096; }
http {
  access_log off;
  default_type text/plain;
  sendfile on;
  keepalive_requests 1000000;
  keepalive_timeout 75s;
  client_body_temp_path ${join(dir, 'tmp', 'body')};
  proxy_temp_path ${join(dir, 'tmp', 'proxy')};
  fastcgi_temp_path ${join(dir, 'tmp', 'fastcgi')};
  uwsgi_temp_path ${join(dir, 'tmp', 'uwsgi')};
  scgi_temp_path ${join(dir, 'tmp', 'scgi')};
  server {
    listen 127.0.0.1:${input.port};${tls}
    location = /hello { return 200 "${HELLO_BODY}"; }
${input.locations}${input.serverConfig ?? ''}
  }
}
`
}

async function writeCertificates(dir: string): Promise<string> {
  const certs = await makeCertificates()
  await writeFile(join(dir, 'cert.pem'), certs.cert)
  await writeFile(join(dir, 'key.pem'), certs.key, { mode: 0o600 })
  return certs.ca
}

/** Writes each requested file and returns the `location` blocks serving them. */
async function writeFiles(dir: string, files: Readonly<Record<string, number>>): Promise<string> {
  await mkdir(join(dir, 'files'))
  let locations = ''
  let index = 0
  for (const [urlPath, size] of Object.entries(files)) {
    if (!SAFE_URL_PATH.test(urlPath)) throw new Error(`nginx file path must be a plain absolute path: ${urlPath}`)
    if (!Number.isSafeInteger(size) || size < 0) throw new Error(`nginx file size must be a byte count: ${size}`)
    const file = join(dir, 'files', `file-${index++}`)
    await writeFile(file, fileBytes(size))
    locations += `    location = ${urlPath} { alias ${file}; }\n`
  }
  return locations
}

/**
 * Ports the kernel hands out for port 0, all held at once so they differ, then released
 * for nginx to bind.
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = []
  try {
    const ports: number[] = []
    for (let i = 0; i < count; i++) {
      const server = createServer()
      servers.push(server)
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen(0, '127.0.0.1', resolve)
      })
      const address = server.address()
      if (address === null || typeof address === 'string') throw new Error('unexpected server address')
      ports.push(address.port)
    }
    return ports
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))))
  }
}

/**
 * The master logs "start worker process <pid>" after it bound every listening socket
 * (it exits if a bind fails), blocked its signals and forked the worker: from then on
 * connections are accepted (queued until the worker runs) and a SIGTERM is never lost.
 * Resolves null when serving, or a reason when nginx exited or took too long.
 */
function waitUntilServing(child: ChildProcess, logFile: string): Promise<string | null> {
  return new Promise((resolve) => {
    let watcher: FSWatcher | null = null
    const finish = (failure: string | null): void => {
      clearTimeout(timer)
      watcher?.close()
      child.off('exit', onExit)
      child.off('error', onError)
      resolve(failure)
    }
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
      finish(`exited with ${signal ?? `code ${code}`}`)
    }
    const onError = (err: Error): void => finish(err.message)
    const check = (): void => {
      if (/\bstart worker process \d+/.test(readFileSync(logFile, 'utf8'))) finish(null)
    }
    const timer = setTimeout(() => {
      if (child.pid !== undefined) killGroup(child.pid)
      finish(`not serving after ${START_TIMEOUT_MS} ms`)
    }, START_TIMEOUT_MS)
    child.once('exit', onExit)
    child.once('error', onError)
    watcher = watch(logFile, check)
    // The line may have been written before the watcher was in place.
    check()
  })
}

/** SIGKILL to nginx's process group: master and worker, no orphan left serving. */
function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL')
  } catch {
    // The group is already gone.
  }
}

/**
 * Servers not stopped yet, each with a synchronous last-resort cleanup: a test process
 * that ends (or a benchmark that crashes) without calling stop() leaves no nginx and no
 * temp dir behind. One 'exit' listener serves them all.
 */
const unstopped = new Set<() => void>()
let exitHookInstalled = false

function onProcessExit(cleanup: () => void): void {
  unstopped.add(cleanup)
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.once('exit', () => {
    for (const last of unstopped) last()
  })
}

function running(child: ChildProcess, dir: string, port: number, tlsPort: number | null, ca: string | null): NginxServer {
  // Only a failed spawn lacks a pid, and that was reported as a start failure already.
  if (child.pid === undefined) throw new Error('nginx has no pid')
  const pid = child.pid
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve()
    else child.once('exit', () => resolve())
  })
  const lastResort = (): void => {
    killGroup(pid)
    rmSync(dir, { recursive: true, force: true })
  }
  onProcessExit(lastResort)
  let stopping: Promise<void> | null = null
  const stop = async (): Promise<void> => {
    // Keep the event loop alive until nginx is really gone (the child was unref'd).
    child.ref()
    // Fast shutdown: the master terminates its worker, waits for it, then exits.
    child.kill('SIGTERM')
    const timer = setTimeout(() => killGroup(pid), STOP_TIMEOUT_MS)
    await exited
    clearTimeout(timer)
    unstopped.delete(lastResort)
    await rm(dir, { recursive: true, force: true })
  }
  return {
    port,
    tlsPort,
    ca,
    dir,
    pid,
    errorLog: () => readLog(dir),
    stop: () => (stopping ??= stop()),
  }
}

async function readLog(dir: string): Promise<string> {
  try {
    return await readFile(join(dir, 'error.log'), 'utf8')
  } catch {
    return ''
  }
}
