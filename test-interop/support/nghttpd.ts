/**
 * Starts nghttpd (nghttp2's reference HTTP/2 server, Debian package nghttp2-server) on a free
 * loopback port for the interop suites: h2c, or TLS with a certificate made for the run.
 * Serves a temp dir of files; `--echo-upload` answers POST/PUT with the request body, and
 * `--trailer` adds a trailer field to every response.
 */
import { spawn } from 'node:child_process'
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

/** Bounded wait for a port to accept connections (nghttpd prints nothing when it is ready). */
async function waitForPort(port: number, exited: () => boolean): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    if (exited()) throw new Error('nghttpd exited before listening')
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1')
      socket.once('connect', () => {
        socket.destroy()
        resolve(true)
      })
      socket.once('error', () => resolve(false))
    })
    if (ok) return
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  throw new Error(`nghttpd did not listen on ${port} within 5 s`)
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
    await waitForPort(port, () => exited)
  } catch (err) {
    await stop()
    throw err
  }
  return { port, origin: `${options.tls === true ? 'https' : 'http'}://127.0.0.1:${port}`, ca, stop }
}
