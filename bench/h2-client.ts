/**
 * One Node.js contender of the HTTP/2 benchmark, alone in its process (started by
 * bench/h2.ts under `taskset -c 1`), so no contender shares a heap, a JIT or an event
 * loop with another or with the orchestrator.
 *
 *   node --import tsx bench/h2-client.ts <wirepool|http2|undici> <scenario> <origin> <warmup s> <duration s> [ca.pem]
 *
 * Runs `connections × streams` closed loops (bench/closed-loop.ts) and prints one JSON
 * `RunResult` line on stdout. TLS scenarios verify the server against the CA file given.
 */
import { readFile } from 'node:fs/promises'
import http2 from 'node:http2'
import { drive, runContender, seconds, type Client } from './closed-loop.js'
import { engineBuild } from './harness.js'
import type { RunResult } from './h1-scenarios.js'
import { H2_NODE_CONTENDERS, h2ScenarioByName, type H2NodeContender, type H2Scenario } from './h2-scenarios.js'

/** The response body, counted and dropped: every contender reads it whole, none keeps it. */
async function drain(body: AsyncIterable<unknown>): Promise<number> {
  let bytes = 0
  for await (const chunk of body) bytes += (chunk as Buffer).length
  return bytes
}

async function wirepoolClient(origin: string, s: H2Scenario, ca: string | null, built: string): Promise<Client> {
  // The compiled dist/ is measured (as users run it), not the TypeScript sources through
  // tsx; loaded here so a broken engine build fails only its own contender.
  const { Pool } = (await import(built)) as typeof import('../src/index.js')
  const pool = new Pool(origin, {
    connections: s.connections,
    // The pool fills a connection up to this many streams before it opens the next one.
    maxConcurrentStreams: s.streams,
    // node:http2 and undici send no accept-encoding: the same request for everyone.
    decompress: false,
    ...(ca === null ? { h2c: true } : { tls: { ca } }),
  })
  return {
    async fetch() {
      const res = await pool.request({ path: s.path, method: 'GET' })
      // A silent fallback to HTTP/1.1 would measure the wrong protocol.
      if (res.protocol !== 'h2') throw new Error(`wirepool negotiated ${res.protocol}, not h2`)
      return { status: res.status, bytes: await drain(res.body) }
    },
    close: () => pool.close(),
  }
}

async function undiciClient(origin: string, s: H2Scenario, ca: string | null): Promise<Client> {
  const undici = await import('undici')
  // undici 7 multiplexes h2 up to `pipelining` streams per connection (capped by the
  // server's SETTINGS_MAX_CONCURRENT_STREAMS). Cleartext h2 needs the connector's
  // `useH2c` (what undici's H2CClient sets), which its .d.ts does not declare yet.
  const h2c = { allowH2: true, useH2c: true }
  const pool = new undici.Pool(origin, {
    allowH2: true,
    connections: s.connections,
    pipelining: s.streams,
    connect: ca === null ? h2c : { ca },
  })
  return {
    async fetch() {
      const res = await pool.request({ path: s.path, method: 'GET' })
      return { status: res.statusCode, bytes: await drain(res.body) }
    },
    close: () => pool.close(),
  }
}

/**
 * node:http2: `connections` sessions; requests go to them in turn, so with
 * `connections × streams` loops each session carries about `streams` streams.
 */
async function http2Client(origin: string, s: H2Scenario, ca: string | null): Promise<Client> {
  const sessions = await Promise.all(
    Array.from({ length: s.connections }, async () => {
      const session = http2.connect(origin, ca === null ? {} : { ca })
      await new Promise<void>((resolve, reject) => {
        session.once('connect', () => resolve())
        session.once('error', reject)
      })
      // A session error also fails its streams, which the loops report; never an uncaught one.
      session.on('error', () => {})
      return session
    }),
  )
  let next = 0
  return {
    fetch() {
      const session = sessions[next++ % sessions.length] as http2.ClientHttp2Session
      return new Promise((resolve, reject) => {
        const stream = session.request({ ':method': 'GET', ':path': s.path })
        let status = 0
        let bytes = 0
        stream.on('response', (headers) => {
          status = Number(headers[':status'])
        })
        stream.on('data', (chunk: Buffer) => {
          bytes += chunk.length
        })
        stream.on('end', () => resolve({ status, bytes }))
        stream.on('error', reject)
      })
    },
    async close() {
      await Promise.all(sessions.map((session) => new Promise<void>((resolve) => session.close(() => resolve()))))
    },
  }
}

function makeClient(contender: H2NodeContender, origin: string, s: H2Scenario, ca: string | null): Promise<Client> {
  switch (contender) {
    case 'wirepool':
    case 'wirepool-base':
      return wirepoolClient(origin, s, ca, engineBuild(contender))
    case 'undici':
      return undiciClient(origin, s, ca)
    case 'http2':
      return http2Client(origin, s, ca)
  }
}

function isContender(name: string): name is H2NodeContender {
  return (H2_NODE_CONTENDERS as readonly string[]).includes(name)
}

async function main(argv: readonly string[]): Promise<RunResult> {
  const [contender, scenarioName, origin, warmup, duration, caFile] = argv
  if (contender === undefined || !isContender(contender) || scenarioName === undefined || origin === undefined) {
    throw new Error(`usage: h2-client.ts <${H2_NODE_CONTENDERS.join('|')}> <scenario> <origin> <warmup s> <duration s> [ca.pem]`)
  }
  const scenario = h2ScenarioByName(scenarioName)
  if (scenario.tls !== (caFile !== undefined)) throw new Error(`${scenario.name} needs ${scenario.tls ? 'a CA file' : 'no CA file'}`)
  const ca = caFile === undefined ? null : await readFile(caFile, 'utf8')
  const client = await makeClient(contender, origin, scenario, ca)
  const loops = scenario.connections * scenario.streams
  const result = await drive(client, loops, scenario.bodySize, seconds(warmup, 'warmup') * 1000, seconds(duration, 'duration') * 1000)
  await client.close()
  return result
}

runContender(() => main(process.argv.slice(2)))
