/**
 * The Agent-wide `maxTotalConnections` cap: least-recently-used eviction across origins,
 * waiting for a slot when every connection is busy, and the figures that report it.
 */
import t from 'tap'
import type http from 'node:http'
import { Agent, type ConnectionEvent } from '../../src/index.js'
import { httpServer } from '../support/servers.js'

async function server(t: Parameters<typeof httpServer>[0]) {
  const held: http.ServerResponse[] = []
  let onHeld: (() => void) | undefined
  const srv = await httpServer(t, (req, res) => {
    if (req.url === '/hold') {
      held.push(res)
      onHeld?.()
      return
    }
    res.end(req.url)
  })
  return {
    ...srv,
    held: () => held.length,
    waitHeld: () => new Promise<void>((resolve) => (onHeld = resolve)),
    releaseAll: () => {
      for (const res of held.splice(0)) res.end('released')
    },
  }
}

/** Tracks how many connections are open across the agent, from its lifecycle events. */
function openCounter(agent: Agent): { max: () => number; closedWhy: (origin: string) => string[] } {
  let open = 0
  let max = 0
  const retired: ConnectionEvent[] = []
  agent.on('connection', (ev) => {
    if (ev.from === undefined) open++
    if (ev.to === 'closed') open--
    if (ev.to === 'draining') retired.push(ev)
    max = Math.max(max, open)
  })
  return { max: () => max, closedWhy: (origin) => retired.filter((e) => e.origin === origin).map((e) => e.reason) }
}

t.test('at the cap, the least recently used idle connection of any origin makes room', async (t) => {
  const [a, b, c] = await Promise.all([server(t), server(t), server(t)])
  const agent = new Agent({ maxTotalConnections: 2 })
  t.teardown(() => agent.destroy())
  const counter = openCounter(agent)
  const evictions: ConnectionEvent[] = []
  agent.on('connection', (ev) => {
    if (ev.to === 'draining' && ev.reason === 'evicted-lru') evictions.push(ev)
  })
  for (const [srv, path] of [[a, '/a'], [b, '/b']] as const) {
    const res = await agent.request({ url: `${srv.origin}${path}` })
    t.equal(await res.body.text(), path)
  }
  // Use A again so that B becomes the least recently used.
  await (await agent.request({ url: `${a.origin}/a2` })).body.text()
  const res = await agent.request({ url: `${c.origin}/c` })
  t.equal(await res.body.text(), '/c')
  t.equal(evictions.length, 1, 'one connection evicted')
  t.equal(evictions[0]?.origin, b.origin, 'the least recently used one, of origin B')
  t.ok(counter.max() <= 2, `never more than 2 open (max ${counter.max()})`)
  const stats = agent.stats()
  t.equal(stats.total.max, 2)
  t.equal(stats.total.evictedLru, 1)
  t.ok(stats.total.connections <= 2)
  t.equal(stats.origins[b.origin]?.connections.total, 0)
  t.equal(stats.origins[a.origin]?.connections.idle, 1, 'A kept its connection')
  t.match(agent.metrics(), /wirepool_connections_closed_by_reason_total\{[^}]*reason="evicted-lru"[^}]*\} 1/)
})

t.test('with every connection busy, a new origin waits for a slot and gets the first one freed', async (t) => {
  const [a, b] = await Promise.all([server(t), server(t)])
  const agent = new Agent({ maxTotalConnections: 2 })
  t.teardown(() => agent.destroy())
  const counter = openCounter(agent)
  const heldA = a.waitHeld()
  const first = agent.request({ url: `${a.origin}/hold` })
  await heldA
  const heldA2 = a.waitHeld()
  const second = agent.request({ url: `${a.origin}/hold` })
  await heldA2
  let bDone = false
  const waiting = agent.request({ url: `${b.origin}/b` }).then(async (res) => {
    bDone = true
    return res.body.text()
  })
  // Let the request reach the budget; it must not open a third connection.
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(b.connections(), 0, 'B got no connection while both slots were busy')
  t.equal(agent.stats().total.waitingOrigins, 1)
  t.equal(bDone, false)
  a.releaseAll()
  t.equal(await (await first).body.text(), 'released')
  t.equal(await (await second).body.text(), 'released')
  t.equal(await waiting, '/b', 'B was served once a slot freed')
  t.equal(b.connections(), 1)
  t.ok(counter.max() <= 2, `never more than 2 open (max ${counter.max()})`)
  t.same(counter.closedWhy(a.origin), ['evicted-lru'], 'one idle A connection was evicted for B')
})

t.test('warm-up stays within the cap, and bad values are rejected', async (t) => {
  const a = await server(t)
  const agent = new Agent({ maxTotalConnections: 3 })
  t.teardown(() => agent.destroy())
  await agent.preconnect(a.origin, 5)
  t.equal(agent.stats().total.connections, 3, 'preconnect opened only what the cap allows')
  for (const bad of [0, -1, 1.5, '3']) {
    t.throws(() => new Agent({ maxTotalConnections: bad as number }), { code: 'WP_INVALID_ARG' })
  }
  t.throws(() => new Agent({ coalesce: 'yes' as unknown as boolean }), { code: 'WP_INVALID_ARG' })
})
