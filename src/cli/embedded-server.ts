/**
 * Starts the embedded bench server (embedded-server-child.ts) in a child process with a
 * certificate made now, and hands back its origin and CA. Runs from src/ under tsx (the
 * child inherits `--import tsx` through execArgv) and from dist/ as plain JavaScript.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createInterface, type Interface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { makeServerCertificate } from './certificates.js'

export interface EmbeddedServer {
  origin: string
  /** PEM of the CA that signed the server certificate. */
  ca: string
  pid: number | undefined
  /** Requests and TLS connections the server has seen so far. */
  stats(): Promise<{ requests: number; connections: number }>
  stop(): Promise<void>
}

/** This module's sibling, with this module's extension (.ts under tsx, .js in dist/). */
function sibling(name: string): string {
  const self = fileURLToPath(import.meta.url)
  const ext = self.endsWith('.ts') ? '.ts' : '.js'
  return fileURLToPath(new URL(`./${name}${ext}`, import.meta.url))
}

async function nextLine(lines: Interface, child: ChildProcess): Promise<string> {
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(`embedded server exited with code ${String(code)} before answering`)
  })
  const line = once(lines, 'line').then(([text]) => text as string)
  return Promise.race([line, exited])
}

export async function startEmbeddedServer(): Promise<EmbeddedServer> {
  const certificate = await makeServerCertificate()
  const child = spawn(process.execPath, [...process.execArgv, sibling('embedded-server-child')], {
    env: { ...process.env, WIREPOOL_BENCH_KEY: certificate.key, WIREPOOL_BENCH_CERT: certificate.cert },
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  const lines = createInterface({ input: child.stdout as NonNullable<typeof child.stdout> })
  const { port } = JSON.parse(await nextLine(lines, child)) as { port: number }
  return {
    origin: `https://127.0.0.1:${port}`,
    ca: certificate.ca,
    pid: child.pid,
    async stats() {
      child.stdin?.write('stats\n')
      return JSON.parse(await nextLine(lines, child)) as { requests: number; connections: number }
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = once(child, 'exit')
      child.stdin?.end()
      await exited
      lines.close()
    },
  }
}
