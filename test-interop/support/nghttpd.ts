/**
 * Starts nghttpd (nghttp2's reference HTTP/2 server, Debian package nghttp2-server) on a free
 * loopback port for the interop suites: h2c, or TLS with a certificate made for the run.
 * Serves a temp dir of files; `--echo-upload` answers POST/PUT with the request body, and
 * `--trailer` adds a trailer field to every response.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { connect } from 'node:net'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { makeCertificates } from '../../test/support/certs.js'
import { fileBytes, freePorts } from './nginx.js'
import { which } from './which.js'

export interface NghttpdServer {
  port: number
  origin: string
  /** CA that signed the TLS certificate, or null for h2c. */
  ca: string | null
  stop(): Promise<void>
}

export interface NghttpdOptions {
  tls?: boolean
  /** URL path → size: files served with `fileBytes(size)` content. */
  files?: Readonly<Record<string, number>>
  /** A `name: value` trailer field added to every response. */
  trailer?: string
}

/**
 * Resolves once something accepts TCP connections on the port (nghttpd says nothing when it
 * listens: a connection is the only readiness signal); rejects when `child` exits first or
 * after 200 × 25 ms.
 */
export async function acceptsConnections(port: number, child: ChildProcess): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`exited with ${child.signalCode ?? `code ${child.exitCode}`}`)
    const accepted = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1')
      socket.once('connect', () => {
        socket.destroy()
        resolve(true)
      })
      socket.once('error', () => resolve(false))
    })
    if (accepted) return
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  throw new Error(`not accepting connections on ${port} after 5 s`)
}

export async function startNghttpd(options: NghttpdOptions = {}): Promise<NghttpdServer> {
  const binary = which('nghttpd')
  if (binary === null) throw new Error('nghttpd not installed')
  const dir = await mkdtemp(join(tmpdir(), 'wirepool-nghttpd-'))
  for (const [path, size] of Object.entries(options.files ?? {})) await writeFile(join(dir, path.slice(1)), fileBytes(size))
  const [port] = (await freePorts(1)) as [number]
  const args = ['--address=127.0.0.1', '--echo-upload', `--htdocs=${dir}`]
  if (options.trailer !== undefined) args.push(`--trailer=${options.trailer}`)
  let ca: string | null = null
  if (options.tls === true) {
    const certs = await makeCertificates()
    await writeFile(join(dir, 'key.pem'), certs.key)
    await writeFile(join(dir, 'cert.pem'), certs.cert)
    ca = certs.ca
    args.push(String(port), join(dir, 'key.pem'), join(dir, 'cert.pem'))
  } else {
    args.push('--no-tls', String(port))
  }
  const child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] })
  let exited = false
  const closed = new Promise<void>((resolve) => child.once('exit', () => {
    exited = true
    resolve()
  }))
  const stop = async (): Promise<void> => {
    if (!exited) child.kill('SIGTERM')
    await closed
    await rm(dir, { recursive: true, force: true })
  }
  try {
    await acceptsConnections(port, child)
  } catch (err) {
    await stop()
    throw err
  }
  return { port, origin: `${options.tls === true ? 'https' : 'http'}://127.0.0.1:${port}`, ca, stop }
}
