/**
 * One contender of the idle-memory benchmark, alone in its process (bench/memory.ts runs
 * it with `node --expose-gc`, so nothing else lives in its heap):
 *
 *   node --expose-gc --import tsx bench/memory-client.ts <contender> <n> <ports JSON> <ca.pem> [snapshot-dir]
 *
 * Opens `n` connections (one request on each; bare sockets send one raw HTTP/1.1 request) so that module
 * code, shared contexts, JIT code and heap spaces sized for `n` exist before the baseline;
 * measures after full collections; opens `n` more the same way and measures again once
 * all are idle. The growth is the marginal cost of `n` idle connections: with a single
 * warm-up connection instead, the young generation and code space growing for the burst
 * showed up as several MiB of noise per 100 connections. Asks the server how many connections it holds on the contender's listener, so
 * a contender that silently multiplexed or lost connections is caught. Prints one JSON
 * `MemoryResult` line. With a snapshot dir it also writes `before.heapsnapshot` and
 * `after.heapsnapshot` there (bench/heap-diff.ts compares them).
 */
import { readFileSync } from 'node:fs'
import http from 'node:http'
import http2 from 'node:http2'
import net from 'node:net'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { setImmediate as nextTurn } from 'node:timers/promises'
import tls from 'node:tls'
import { writeHeapSnapshot } from 'node:v8'
import { isContender, LISTENER, type Contender, type MemoryResult, type MemorySample, type Ports } from './memory-contenders.js'

/** Holds connections: `reach(total)` opens more until `total` exist, each one having served a request. */
interface Holder {
  reach(total: number): Promise<void>
  close(): Promise<void>
  /** Anything the table should say about how the connections were used. */
  note?(): string | undefined
}

const HOST = '127.0.0.1'
/** Far beyond the run: no client may close an idle connection while it is being measured. */
const KEEP_ALIVE_MS = 600_000

function connected(socket: net.Socket, event: 'connect' | 'secureConnect'): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once(event, () => {
      socket.off('error', reject)
      resolve()
    })
    socket.once('error', reject)
  })
}

/** A list of independent connections (sockets, sessions, one-connection clients). */
function listHolder<T>(open: () => Promise<T>, closeOne: (item: T) => void | Promise<void>): Holder {
  const items: T[] = []
  return {
    async reach(total) {
      const opening: Array<Promise<T>> = []
      for (let i = items.length; i < total; i++) opening.push(open())
      items.push(...(await Promise.all(opening)))
    },
    async close() {
      await Promise.all(items.map(closeOne))
    },
  }
}

/**
 * One raw HTTP/1.1 exchange on a bare socket, so that its buffers (TLS records, socket
 * read state) are in the state a client's are after a request; a socket that never carried
 * data would make the floor lower than any client could reach.
 */
function exchange(socket: net.Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    let received = ''
    const onData = (chunk: Buffer): void => {
      received += chunk.toString('latin1')
      // The idle server answers `/hello` with a 5-byte body and nothing after it.
      if (!received.endsWith('\r\n\r\nhello')) return
      socket.off('data', onData)
      socket.off('error', reject)
      resolve()
    }
    socket.on('data', onData)
    socket.once('error', reject)
    socket.write(`GET /hello HTTP/1.1\r\nhost: ${HOST}\r\n\r\n`)
  })
}

function bareNet(ports: Ports): Holder {
  return listHolder(
    async () => {
      const socket = net.connect({ host: HOST, port: ports.plain })
      await connected(socket, 'connect')
      await exchange(socket)
      return socket
    },
    (socket) => void socket.destroy(),
  )
}

/** Bare TLS sockets, no ALPN, verified against the test CA; `shared` reuses one SecureContext. */
function bareTls(ports: Ports, ca: Buffer, shared: boolean): Holder {
  const context = shared ? tls.createSecureContext({ ca }) : undefined
  return listHolder(
    async () => {
      const options: tls.ConnectionOptions = { host: HOST, port: ports.tlsH1 }
      if (context === undefined) options.ca = ca
      else options.secureContext = context
      const socket = tls.connect(options)
      await connected(socket, 'secureConnect')
      await exchange(socket)
      return socket
    },
    (socket) => void socket.destroy(),
  )
}

/** `total` concurrent requests through `get`, each read to the end. */
async function burst(total: number, get: () => Promise<string>): Promise<void> {
  const bodies = await Promise.all(Array.from({ length: total }, get))
  const wrong = bodies.find((body) => body !== 'hello')
  if (wrong !== undefined) throw new Error(`unexpected body ${JSON.stringify(wrong.slice(0, 40))}`)
}

function httpAgent(ports: Ports, n: number): Holder {
  // maxFreeSockets defaults to 256: above that http.Agent closes idle sockets.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 2 * n, maxFreeSockets: 2 * n })
  const get = (): Promise<string> =>
    new Promise((resolve, reject) => {
      http
        .get({ host: HOST, port: ports.plain, path: '/hello', agent }, (res) => {
          let body = ''
          res.setEncoding('utf8').on('data', (text: string) => (body += text))
          res.once('end', () => resolve(body))
          res.once('error', reject)
        })
        .once('error', reject)
    })
  return { reach: (total) => burst(total, get), close: async () => agent.destroy() }
}

function http2Sessions(origin: string, ca: Buffer | undefined): Holder {
  return listHolder(
    async () => {
      const session = http2.connect(origin, ca === undefined ? {} : { ca })
      const body = await new Promise<string>((resolve, reject) => {
        session.once('error', reject)
        const stream = session.request({ ':path': '/hello' })
        let text = ''
        stream.setEncoding('utf8').on('data', (chunk: string) => (text += chunk))
        stream.once('end', () => resolve(text))
        stream.once('error', reject)
      })
      if (body !== 'hello') throw new Error(`unexpected body ${JSON.stringify(body)}`)
      return session
    },
    (session) => void session.destroy(),
  )
}

async function undiciPool(origin: string, n: number, ca: Buffer | undefined): Promise<Holder> {
  const undici = await import('undici')
  const pool = new undici.Pool(origin, {
    connections: 2 * n,
    keepAliveTimeout: KEEP_ALIVE_MS,
    keepAliveMaxTimeout: KEEP_ALIVE_MS,
    ...(ca === undefined ? {} : { connect: { ca } }),
  })
  const get = async (): Promise<string> => (await pool.request({ path: '/hello', method: 'GET' })).body.text()
  return { reach: (total) => burst(total, get), close: () => pool.close() }
}

/** undici multiplexes a Pool's requests onto one h2 connection: one Client per connection instead. */
async function undiciH2(ports: Ports, ca: Buffer): Promise<Holder> {
  const undici = await import('undici')
  return listHolder(
    async () => {
      const client = new undici.Client(`https://${HOST}:${ports.tlsH2}`, {
        allowH2: true,
        keepAliveTimeout: KEEP_ALIVE_MS,
        keepAliveMaxTimeout: KEEP_ALIVE_MS,
        connect: { ca },
      })
      const body = await (await client.request({ path: '/hello', method: 'GET' })).body.text()
      if (body !== 'hello') throw new Error(`unexpected body ${JSON.stringify(body)}`)
      return client
    },
    (client) => client.destroy(),
  )
}

async function wirepool(contender: Contender, ports: Ports, n: number, ca: Buffer): Promise<Holder> {
  // The compiled build, as users run it (see bench/h1-client.ts).
  const built = new URL('../dist/index.js', import.meta.url).href
  const { Pool } = (await import(built)) as typeof import('../src/index.js')
  const common = { connections: 2 * n, keepAliveTimeout: KEEP_ALIVE_MS }
  const pool =
    contender === 'wirepool-h1'
      ? new Pool(`http://${HOST}:${ports.plain}`, common)
      : contender === 'wirepool-h2c'
        ? new Pool(`http://${HOST}:${ports.h2c}`, { ...common, h2c: true })
        : contender === 'wirepool-tls-h1'
          ? new Pool(`https://${HOST}:${ports.tlsH1}`, { ...common, allowH2: false, tls: { ca } })
          : new Pool(`https://${HOST}:${ports.tlsH2}`, { ...common, tls: { ca } })
  const get = async (): Promise<string> => (await pool.request({ path: '/hello', method: 'GET' })).body.text()
  const idle = (): number => pool.connections().filter((c) => c.state === 'idle').length
  // connect(n) resolves once the sockets are up; an HTTP/2 connection turns idle only when
  // the peer's SETTINGS arrived, so the holder waits for those transitions too.
  const allIdle = (total: number): Promise<void> =>
    new Promise((resolve) => {
      const check = (): void => {
        if (idle() < total) return
        pool.off('connection', check)
        resolve()
      }
      pool.on('connection', check)
      check()
    })
  return {
    async reach(total) {
      await pool.connect(total)
      await allIdle(total)
      await burst(total, get)
      await allIdle(total)
      const live = pool.connections().length
      if (live !== total) throw new Error(`wirepool holds ${live} connections, expected ${total}`)
    },
    note() {
      const used = pool.connections().filter((c) => c.requests > 0).length
      return used === pool.connections().length ? undefined : `${used} of ${pool.connections().length} connections served a request (the pool's choice)`
    },
    close: () => pool.destroy(),
  }
}

function makeHolder(contender: Contender, ports: Ports, n: number, ca: Buffer): Holder | Promise<Holder> {
  switch (contender) {
    case 'net':
      return bareNet(ports)
    case 'tls-shared':
      return bareTls(ports, ca, true)
    case 'tls-context':
      return bareTls(ports, ca, false)
    case 'http-agent':
      return httpAgent(ports, n)
    case 'http2-h2c':
      return http2Sessions(`http://${HOST}:${ports.h2c}`, undefined)
    case 'http2-tls':
      return http2Sessions(`https://${HOST}:${ports.tlsH2}`, ca)
    case 'undici-h1':
      return undiciPool(`http://${HOST}:${ports.plain}`, n, undefined)
    case 'undici-tls':
      return undiciPool(`https://${HOST}:${ports.tlsH1}`, n, ca)
    case 'undici-h2':
      return undiciH2(ports, ca)
    case 'wirepool-h1':
    case 'wirepool-h2c':
    case 'wirepool-tls-h1':
    case 'wirepool-tls-h2':
      return wirepool(contender, ports, n, ca)
  }
}

/**
 * Memory once garbage is gone: several full collections with turns of the event loop in
 * between, so objects freed by finalizers or weak callbacks of the previous pass go too.
 */
async function settledMemory(): Promise<MemorySample> {
  const gc = globalThis.gc
  if (gc === undefined) throw new Error('run with node --expose-gc')
  for (let i = 0; i < 4; i++) {
    gc()
    await nextTurn()
  }
  const { rss, heapUsed, external, arrayBuffers } = process.memoryUsage()
  return { rss, heapUsed, external, arrayBuffers }
}

/** The server's count of open connections per listener (over a connection of its own). */
function serverCounts(ports: Ports): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: HOST, port: ports.plain, path: '/connections', agent: false }, (res) => {
        let body = ''
        res.setEncoding('utf8').on('data', (text: string) => (body += text))
        res.once('end', () => resolve(JSON.parse(body) as Record<string, number>))
        res.once('error', reject)
      })
      .once('error', reject)
  })
}

async function main(argv: readonly string[]): Promise<void> {
  const [name, count, portsJson, caFile, snapshotDir] = argv
  const n = Number(count)
  if (name === undefined || !isContender(name) || !Number.isInteger(n) || n < 1 || portsJson === undefined || caFile === undefined) {
    throw new Error('usage: memory-client.ts <contender> <n> <ports JSON> <ca.pem> [snapshot-dir]')
  }
  const ports = JSON.parse(portsJson) as Ports
  const ca = readFileSync(caFile)
  const holder = await makeHolder(name, ports, n, ca)
  await holder.reach(n)
  const before = await settledMemory()
  if (snapshotDir !== undefined) writeHeapSnapshot(join(snapshotDir, 'before.heapsnapshot'))
  const started = performance.now()
  await holder.reach(2 * n)
  const openMs = performance.now() - started
  const after = await settledMemory()
  if (snapshotDir !== undefined) writeHeapSnapshot(join(snapshotDir, 'after.heapsnapshot'))
  const counts = await serverCounts(ports)
  const listener = LISTENER[name]
  // The /connections request itself holds one connection on `plain`.
  const serverOpen = (counts[listener] ?? 0) - (listener === 'plain' ? 1 : 0)
  const note = holder.note?.()
  const result: MemoryResult = { contender: name, connections: n, before, after, serverOpen, openMs, ...(note === undefined ? {} : { note }) }
  await holder.close()
  process.stdout.write(`${JSON.stringify(result)}\n`)
}

main(process.argv.slice(2)).then(
  // Exit at once: a client library's lingering timers must not hold the child open.
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
    process.exit(1)
  },
)
