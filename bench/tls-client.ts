/**
 * One Node client of the TLS benchmark, alone in its process (bench/tls.ts runs it on
 * core 1):
 *
 *   node --import tsx bench/tls-client.ts <node:tls|wirepool> <full|resumed> <port> <samples> <warmup> <ca.pem>
 *
 * Opens `warmup + samples` connections one after the other to 127.0.0.1 and times each
 * from the connect call to ready: `secureConnect` for bare node:tls, the resolution of
 * `pool.connect(k)` for wirepool (TCP + TLS + the connection made ready for requests).
 * Both verify the certificate against the CA, offer ALPN h2 and http/1.1 (the server picks
 * http/1.1), and share one SecureContext, as wirepool does. Connections stay open until
 * the end, so both sides pay the same for what they hold.
 *
 * `full`: every handshake is a full one (no session offered; wirepool with
 * `tls.sessionCache: false`). `resumed`: one full handshake primes the session, then each
 * connection offers the newest session seen (node:tls by hand, wirepool through its
 * agent's session cache). Prints one JSON `HandshakeRun` line; `resumed` counts the
 * measured connections that really resumed.
 */
import { readFileSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import tls from 'node:tls'
import { NODE_CLIENTS, MODES, type HandshakeRun, type Mode, type NodeClient } from './tls-cases.js'

const HOST = '127.0.0.1'
const ALPN = ['h2', 'http/1.1']

interface Sample {
  readonly ms: number
  /** Client CPU time (user + system) from this connect call to the next one, µs. */
  readonly cpuUs: number
  readonly resumed: boolean
  readonly protocol: string | null
}

async function bareTls(mode: Mode, port: number, total: number, ca: Buffer): Promise<Sample[]> {
  const secureContext = tls.createSecureContext({ ca })
  const sockets: tls.TLSSocket[] = []
  let session: Buffer | undefined
  const open = (offer: Buffer | undefined): Promise<Omit<Sample, 'cpuUs'>> =>
    new Promise((resolve, reject) => {
      const started = performance.now()
      const options: tls.ConnectionOptions = { host: HOST, port, secureContext, ALPNProtocols: ALPN }
      if (offer !== undefined) options.session = offer
      const socket = tls.connect(options)
      sockets.push(socket)
      // TLS 1.3 tickets arrive after the handshake (RFC 8446 §4.6.1): keep the newest one.
      if (mode === 'resumed') socket.on('session', (s: Buffer) => (session = s))
      socket.once('secureConnect', () => {
        socket.off('error', reject)
        resolve({ ms: performance.now() - started, resumed: socket.isSessionReused(), protocol: socket.getProtocol() })
      })
      socket.once('error', reject)
    })
  const samples: Sample[] = []
  try {
    if (mode === 'resumed') await open(undefined)
    for (let i = 0; i < total; i++) {
      const cpu = process.cpuUsage()
      const sample = await open(mode === 'resumed' ? session : undefined)
      samples.push({ ...sample, cpuUs: cpuSince(cpu) })
    }
  } finally {
    for (const socket of sockets) socket.destroy()
  }
  return samples
}

async function wirepool(mode: Mode, port: number, total: number, ca: Buffer): Promise<Sample[]> {
  const built = new URL('../dist/index.js', import.meta.url).href
  const { Agent } = (await import(built)) as typeof import('../src/index.js')
  const agent = new Agent({
    connections: total + 1,
    // Held for the whole run, never evicted as idle.
    keepAliveTimeout: 600_000,
    tls: { ca, sessionCache: mode === 'resumed' },
  })
  // An Agent keeps one Pool per origin (closed ones too): each sample grows that pool by
  // one connection, which resumes through the agent's shared session cache.
  const pool = agent.pool(`https://${HOST}:${port}`)
  const samples: Sample[] = []
  try {
    if (mode === 'resumed') await pool.connect(1)
    for (let i = 0; i < total; i++) {
      const before = new Set(pool.connections().map((c) => c.id))
      const cpu = process.cpuUsage()
      const started = performance.now()
      await pool.connect(before.size + 1)
      const ms = performance.now() - started
      const cpuUs = cpuSince(cpu)
      const added = pool.connections().find((c) => !before.has(c.id))
      if (added === undefined) throw new Error('pool.connect did not open a connection')
      samples.push({ ms, cpuUs, resumed: added.tlsResumed === true, protocol: null })
    }
  } finally {
    await agent.destroy()
  }
  return samples
}

function cpuSince(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start)
  return used.user + used.system
}

function isClient(name: string | undefined): name is NodeClient {
  return (NODE_CLIENTS as readonly (string | undefined)[]).includes(name)
}

function isMode(name: string | undefined): name is Mode {
  return (MODES as readonly (string | undefined)[]).includes(name)
}

async function main(argv: readonly string[]): Promise<void> {
  const [client, mode, portArg, samplesArg, warmupArg, caFile] = argv
  const port = Number(portArg)
  const samples = Number(samplesArg)
  const warmup = Number(warmupArg)
  if (!isClient(client) || !isMode(mode) || !Number.isInteger(port) || !(samples > 0) || !(warmup >= 0) || caFile === undefined) {
    throw new Error(`usage: tls-client.ts <${NODE_CLIENTS.join('|')}> <${MODES.join('|')}> <port> <samples> <warmup> <ca.pem>`)
  }
  const ca = readFileSync(caFile)
  const all = client === 'node:tls' ? await bareTls(mode, port, warmup + samples, ca) : await wirepool(mode, port, warmup + samples, ca)
  // The first connections pay for JIT compilation and lazy module loading: not measured.
  const measured = all.slice(warmup)
  const run: HandshakeRun = {
    samplesMs: measured.map((s) => s.ms),
    resumed: measured.filter((s) => s.resumed).length,
    cpuUsPerConnection: measured.reduce((sum, s) => sum + s.cpuUs, 0) / measured.length,
    protocol: measured.find((s) => s.protocol !== null)?.protocol ?? null,
  }
  process.stdout.write(`${JSON.stringify(run)}\n`)
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
    process.exit(1)
  },
)
