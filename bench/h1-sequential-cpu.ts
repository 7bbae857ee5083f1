/**
 * Client CPU per request of the plainest HTTP/1.1 case: one keep-alive connection, one
 * request at a time (`await agent.request(...)`, read the small body, repeat). The
 * node:http server runs in a child process so `process.cpuUsage()` here counts the client
 * alone. Built to compare two builds of the engine (a regression hunt), so it loads a
 * compiled dist/ named on the command line rather than the sources:
 *
 *   node bench/h1-sequential-cpu.ts <checkout with dist/> [requests=20000] [warm-up=5000]
 *   (run through `node --import tsx`; for callgrind, `WP_SERVER=<port>` reuses a running
 *   server started with `node --import tsx bench/h1-sequential-cpu.ts --server`)
 *
 * Prints one JSON line: the build, the request count and µs of CPU (user + system) per
 * request over the measured requests only (the warm-up lets the JIT settle first).
 */
import { fork } from 'node:child_process'
import http from 'node:http'
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'

const BODY = Buffer.alloc(64, 'x')

function serve(): void {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': BODY.length })
    res.end(BODY)
  })
  server.keepAliveTimeout = 60_000
  server.listen(0, '127.0.0.1', () => {
    const address = server.address()
    if (address === null || typeof address === 'string') throw new Error('no port')
    if (process.send !== undefined) process.send(address.port)
    else console.log(address.port)
  })
  // Ends with its parent (the IPC channel closes) or on SIGTERM.
  process.on('disconnect', () => process.exit(0))
}

async function startServer(): Promise<{ port: number; stop: () => void }> {
  const fixed = process.env['WP_SERVER']
  if (fixed !== undefined) return { port: Number(fixed), stop: () => {} }
  const child = fork(new URL(import.meta.url).pathname, ['--server'], { execArgv: process.execArgv })
  const port = await new Promise<number>((ok, fail) => {
    child.once('message', (m) => ok(Number(m)))
    child.once('exit', (code) => fail(new Error(`server exited ${code}`)))
  })
  return { port, stop: () => child.kill() }
}

async function client(checkout: string, requests: number, warmup: number): Promise<void> {
  const dist = pathToFileURL(resolve(checkout, 'dist/index.js')).href
  const { Agent } = (await import(dist)) as typeof import('../src/index.js')
  const { port, stop } = await startServer()
  const agent = new Agent({ connections: 1 })
  const url = `http://127.0.0.1:${port}/`
  const once = async (): Promise<void> => {
    const res = await agent.request({ url, method: 'GET' })
    let bytes = 0
    for await (const chunk of res.body) bytes += (chunk as Buffer).length
    if (res.status !== 200 || bytes !== BODY.length) throw new Error(`status ${res.status}, ${bytes} bytes`)
  }
  for (let i = 0; i < warmup; i++) await once()
  const start = process.cpuUsage()
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < requests; i++) await once()
  const cpu = process.cpuUsage(start)
  const wall = Number(process.hrtime.bigint() - t0) / 1000
  await agent.close()
  stop()
  const r = (x: number): number => Math.round(x * 100) / 100
  console.log(JSON.stringify({ build: checkout, requests, cpuUsPerReq: r((cpu.user + cpu.system) / requests), userUsPerReq: r(cpu.user / requests), wallUsPerReq: r(wall / requests) }))
}

const args = process.argv.slice(2)
if (args[0] === '--server') serve()
else {
  const checkout = args[0]
  if (checkout === undefined) throw new Error('usage: h1-sequential-cpu.ts <checkout with dist/> [requests] [warm-up]')
  await client(checkout, Number(args[1] ?? 20_000), Number(args[2] ?? 5_000))
}
