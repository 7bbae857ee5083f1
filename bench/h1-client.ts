/**
 * One Node.js contender of the HTTP/1.1 benchmark, alone in its process (started by
 * bench/h1.ts under `taskset -c 1`), so no contender shares a heap, a JIT or an event
 * loop with another or with the orchestrator.
 *
 *   node --import tsx bench/h1-client.ts <wirepool|undici|http> <scenario> <origin> <warmup s> <duration s>
 *
 * Runs `connections × pipelining` closed loops (each awaits its response, reads the whole
 * body, then sends the next request) for the warm-up plus the measured window, and prints
 * one JSON `RunResult` line on stdout.
 */
import http from 'node:http'
import { drive, runContender, seconds, type Client } from './closed-loop.js'
import { engineBuild } from './harness.js'
import { NODE_CONTENDERS, scenarioByName, type NodeContender, type RunResult, type Scenario } from './h1-scenarios.js'

async function wirepoolClient(origin: string, s: Scenario, built: string): Promise<Client> {
  // Loaded here, not at the top: a broken engine build fails only its own contender. The
  // compiled dist/ is measured (as users run it), not the TypeScript sources through tsx,
  // whose import bindings cost a getter call on every access.
  const { Pool } = (await import(built)) as typeof import('../src/index.js')
  const pool = new Pool(origin, { connections: s.connections, pipelining: s.pipelining })
  return {
    async fetch() {
      const res = await pool.request({ path: s.path, method: 'GET' })
      let bytes = 0
      for await (const chunk of res.body) bytes += (chunk as Buffer).length
      return { status: res.status, bytes }
    },
    close: () => pool.close(),
  }
}

async function undiciClient(origin: string, s: Scenario): Promise<Client> {
  const undici = await import('undici')
  const pool = new undici.Pool(origin, { connections: s.connections, pipelining: s.pipelining })
  return {
    async fetch() {
      const res = await pool.request({ path: s.path, method: 'GET' })
      let bytes = 0
      for await (const chunk of res.body) bytes += (chunk as Buffer).length
      return { status: res.statusCode, bytes }
    },
    close: () => pool.close(),
  }
}

function httpClient(origin: string, s: Scenario): Client {
  // node:http never pipelines: it would silently measure something else.
  if (s.pipelining !== 1) throw new Error('node:http does not support pipelining')
  const url = new URL(origin)
  const agent = new http.Agent({ keepAlive: true, maxSockets: s.connections })
  const options = { host: url.hostname, port: url.port, path: s.path, agent }
  return {
    fetch: () =>
      new Promise((resolve, reject) => {
        const req = http.get(options, (res) => {
          let bytes = 0
          res.on('data', (chunk: Buffer) => {
            bytes += chunk.length
          })
          res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }))
          res.on('error', reject)
        })
        req.on('error', reject)
      }),
    async close() {
      agent.destroy()
    },
  }
}

function makeClient(contender: NodeContender, origin: string, s: Scenario): Promise<Client> | Client {
  switch (contender) {
    case 'wirepool':
    case 'wirepool-base':
      return wirepoolClient(origin, s, engineBuild(contender))
    case 'undici':
      return undiciClient(origin, s)
    case 'http':
      return httpClient(origin, s)
  }
}

function isNodeContender(name: string): name is NodeContender {
  return (NODE_CONTENDERS as readonly string[]).includes(name)
}

async function main(argv: readonly string[]): Promise<RunResult> {
  const [contender, scenarioName, origin, warmup, duration] = argv
  if (contender === undefined || !isNodeContender(contender) || scenarioName === undefined || origin === undefined) {
    throw new Error(`usage: h1-client.ts <${NODE_CONTENDERS.join('|')}> <scenario> <origin> <warmup s> <duration s>`)
  }
  const scenario = scenarioByName(scenarioName)
  const client = await makeClient(contender, origin, scenario)
  const loops = scenario.connections * scenario.pipelining
  const result = await drive(client, loops, scenario.bodySize, seconds(warmup, 'warmup') * 1000, seconds(duration, 'duration') * 1000)
  await client.close()
  return result
}

runContender(() => main(process.argv.slice(2)))
