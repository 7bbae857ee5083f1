/**
 * A loopback HTTP/1.1 server that stalls on a fixed schedule, as wrk2's README example does
 * with ^Z (there: 1 s every 10 s; scaled down here). Time is anchored at the first request:
 * stalls cover [first + firstAfter + k·period, … + stall). A request that arrives inside a
 * stall is answered when it ends (all of a stall's held responses go out together); any other
 * request is answered at once. Used by test/cli/bench-rate.test.ts and bench/rate.ts.
 *
 * Run alone: `node --import tsx bench/stall-server.ts [stallMs periodMs firstAfterMs]` prints {"port"}
 * as a JSON line (0 0 = never stall) and serves until SIGTERM.
 */
import http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { pathToFileURL } from 'node:url'

export interface StallSchedule {
  stallMs: number
  periodMs: number
  firstAfterMs: number
}

export interface Stall {
  /** performance.now() ms at which the stall began and at which its responses went out. */
  start: number
  releasedAt: number
  held: number
}

export interface StallingServer {
  server: http.Server
  port: number
  /** The stalls that held at least one response, in order. */
  stalls: Stall[]
  requests(): number
  close(): Promise<void>
}

const BODY = Buffer.from('hello, stall')

export async function startStallingServer(schedule: StallSchedule): Promise<StallingServer> {
  let first: number | undefined
  let requests = 0
  const stalls: Stall[] = []
  const held = new Map<number, { stall: Stall; responses: http.ServerResponse[]; timer: NodeJS.Timeout }>()
  const timers = new Set<NodeJS.Timeout>()
  const reply = (res: http.ServerResponse): void => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': BODY.length })
    res.end(BODY)
  }
  const server = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    req.resume()
    req.on('end', () => {
      requests++
      const now = performance.now()
      first ??= now
      const since = now - first - schedule.firstAfterMs
      if (schedule.stallMs <= 0 || since < 0) return reply(res)
      const k = Math.floor(since / schedule.periodMs)
      const start = first + schedule.firstAfterMs + k * schedule.periodMs
      const end = start + schedule.stallMs
      if (now >= end) return reply(res)
      let window = held.get(k)
      if (window === undefined) {
        const stall: Stall = { start, releasedAt: 0, held: 0 }
        stalls.push(stall)
        const timer = setTimeout(() => {
          timers.delete(timer)
          held.delete(k)
          stall.releasedAt = performance.now()
          for (const r of entry.responses) reply(r)
        }, end - now)
        timers.add(timer)
        const entry = { stall, responses: [] as http.ServerResponse[], timer }
        window = entry
        held.set(k, entry)
      }
      window.stall.held++
      window.responses.push(res)
    })
  })
  const sockets = new Set<Socket>()
  server.on('connection', (s: Socket) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    server,
    port: (server.address() as AddressInfo).port,
    stalls,
    requests: () => requests,
    close: async () => {
      for (const t of timers) clearTimeout(t)
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [stallMs = 0, periodMs = 0, firstAfterMs = 0] = process.argv.slice(2).map(Number)
  const s = await startStallingServer({ stallMs, periodMs: Math.max(1, periodMs), firstAfterMs })
  process.stdout.write(`${JSON.stringify({ port: s.port })}\n`)
  process.once('SIGTERM', () => void s.close())
}
