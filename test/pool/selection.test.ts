/**
 * Connection selection: affinity keys, the health score (recent errors, PING RTT) and the
 * idle list's most-recently-used order, against real loopback servers.
 */
import t from 'tap'
import { once } from 'node:events'
import http2 from 'node:http2'
import type http from 'node:http'
import { Pool, WirepoolError } from '../../src/index.js'
import { decayedErrors, ERROR_HALF_LIFE_MS, healthScore, recordError } from '../../src/pool/health.js'
import { LinkedList } from '../../src/linked-list.js'
import { httpServer, listenLoopback } from '../support/servers.js'

/** An HTTP/1.1 server whose `/hold/<name>` requests wait until `release(name)`. */
async function holdingServer(t: Parameters<typeof httpServer>[0]) {
  const held = new Map<string, http.ServerResponse>()
  const waiters = new Map<string, () => void>()
  const srv = await httpServer(t, (req, res) => {
    const url = req.url as string
    if (url.startsWith('/hold/')) {
      const name = url.slice('/hold/'.length)
      held.set(name, res)
      waiters.get(name)?.()
      return
    }
    if (url === '/close') res.setHeader('connection', 'close')
    res.end(url)
  })
  return {
    ...srv,
    /** Resolves once the server holds `/hold/<name>`. */
    arrived(name: string): Promise<void> {
      if (held.has(name)) return Promise.resolve()
      return new Promise((resolve) => waiters.set(name, resolve))
    },
    release(name: string): void {
      held.get(name)?.end(`released ${name}`)
    },
  }
}

t.test('requests with one affinity key share a connection, and wait for it while it is busy', async (t) => {
  const srv = await holdingServer(t)
  const pool = new Pool(srv.origin, { connections: 4 })
  t.teardown(() => pool.destroy())
  await pool.connect(3)
  const first = await pool.request({ path: '/a1', affinity: 'user-a' })
  await first.body.text()
  const boundId = first.connection.id
  // Hold the bound connection busy with another keyed request.
  const holding = pool.request({ path: '/hold/a2', affinity: 'user-a' })
  await srv.arrived('a2')
  // A third keyed request queues for the bound connection instead of taking a free one…
  const queued = pool.request({ path: '/a3', affinity: 'user-a' })
  // …while requests without the key, and with another key, are not held up behind it.
  const other = await pool.request({ path: '/b1', affinity: 'user-b' })
  t.equal(await other.body.text(), '/b1')
  t.not(other.connection.id, boundId, 'another key binds another connection')
  const plain = await pool.request({ path: '/plain' })
  t.equal(await plain.body.text(), '/plain')
  t.not(plain.connection.id, boundId, 'an unkeyed request does not wait for the bound connection')
  t.equal(pool.stats().requestsQueued, 1, 'the keyed request is still waiting for its connection')
  srv.release('a2')
  const held = await holding
  t.equal(await held.body.text(), 'released a2')
  const third = await queued
  t.equal(await third.body.text(), '/a3')
  t.same([held.connection.id, third.connection.id], [boundId, boundId], 'every user-a request went to one connection')
  const b2 = await pool.request({ path: '/b2', affinity: 'user-b' })
  await b2.body.text()
  t.equal(b2.connection.id, other.connection.id, 'user-b stays on its connection')
})

t.test('a key rebinds when its connection closes', async (t) => {
  const srv = await holdingServer(t)
  const pool = new Pool(srv.origin, { connections: 2 })
  t.teardown(() => pool.destroy())
  const first = await pool.request({ path: '/close', affinity: 'k' })
  await first.body.text()
  const closed = once(pool, 'connection', { signal: AbortSignal.timeout(5000) })
  // The server's `Connection: close` retires the bound connection.
  while (pool.connections().some((c) => c.id === first.connection.id)) await closed
  const next = await pool.request({ path: '/after', affinity: 'k' })
  t.equal(await next.body.text(), '/after')
  t.not(next.connection.id, first.connection.id, 'bound anew to a live connection')
  const again = await pool.request({ path: '/again', affinity: 'k' })
  await again.body.text()
  t.equal(again.connection.id, next.connection.id)
})

t.test('bad affinity keys are rejected before anything is sent', async (t) => {
  const srv = await holdingServer(t)
  const pool = new Pool(srv.origin)
  t.teardown(() => pool.destroy())
  for (const bad of ['', 'x'.repeat(257), 42 as unknown as string]) {
    await t.rejects(pool.request({ path: '/', affinity: bad }), { code: 'WP_INVALID_ARG' })
  }
  t.equal(pool.stats().connectionsCreated, 0)
})

t.test('the health score decays errors and weighs PING round trips', async (t) => {
  const rec = { errorWeight: 0, errorAt: 0 }
  t.equal(healthScore(rec, undefined, 1000), 1, 'no error, no RTT: fully healthy')
  recordError(rec, 1000)
  recordError(rec, 1000)
  t.equal(decayedErrors(rec, 1000), 2)
  t.equal(healthScore(rec, undefined, 1000), 1 / 3)
  t.equal(decayedErrors(rec, 1000 + ERROR_HALF_LIFE_MS), 1, 'half the weight after one half-life')
  t.ok(healthScore(rec, undefined, 1000 + 20 * ERROR_HALF_LIFE_MS) > 0.999, 'recovered after ten minutes')
  t.equal(healthScore({ errorWeight: 0, errorAt: 0 }, 100, 0), 0.5, 'a 100 ms RTT halves the score')
})

t.test('the idle list (an intrusive linked list) keeps most-recently-used order with O(1) removal', async (t) => {
  interface Node { name: string; listPrev: Node | undefined; listNext: Node | undefined; list: LinkedList<Node> | undefined }
  const make = (name: string): Node => ({ name, listPrev: undefined, listNext: undefined, list: undefined })
  const [a, b, c] = [make('a'), make('b'), make('c')] as [Node, Node, Node]
  const list = new LinkedList<Node>()
  const order = (): string[] => {
    const out: string[] = []
    for (let n = list.last; n !== undefined; n = n.listPrev) out.push(n.name)
    return out
  }
  list.push(a)
  list.push(b)
  list.push(c)
  t.same(order(), ['c', 'b', 'a'])
  list.push(a)
  t.same(order(), ['a', 'c', 'b'], 'pushing again moves to the most recent end')
  list.remove(c)
  list.remove(c)
  t.same(order(), ['a', 'b'])
  t.equal(list.size, 2)
  t.equal(list.first?.name, 'b')
  t.same([c.listPrev, c.listNext, c.list], [undefined, undefined, undefined], 'a removed node points at nothing (no garbage kept alive through it)')
  t.same(list.toArray().map((n) => n.name), ['b', 'a'], 'toArray: first to last')
  const other = new LinkedList<Node>()
  other.remove(a)
  t.equal(list.size, 2, 'removing through another list leaves the node where it is')
  other.push(a)
  t.same([list.toArray().map((n) => n.name), other.toArray().map((n) => n.name)], [['b'], ['a']], 'pushing onto another list moves it there')
  other.remove(a)
  list.push(a)
  list.remove(a)
  list.remove(b)
  t.equal(list.size, 0)
  t.equal(list.last, undefined)
  t.equal(list.first, undefined)
})

t.test('HTTP/2: requests avoid a connection whose streams recently failed', async (t) => {
  const sessions = new Set<http2.ServerHttp2Session>()
  const server = http2.createServer()
  server.on('session', (s) => {
    sessions.add(s)
    s.on('close', () => sessions.delete(s))
  })
  server.on('stream', (stream, headers) => {
    stream.on('error', () => {})
    if (headers[':path'] === '/reset') stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR)
    else {
      stream.respond({ ':status': 200 })
      stream.end('ok')
    }
  })
  const port = await listenLoopback(t, server, () => sessions)
  const pool = new Pool(`http://127.0.0.1:${port}`, { h2c: true, connections: 2 })
  t.teardown(() => pool.destroy())
  await pool.connect(2)
  t.equal(pool.connections().length, 2)
  const failed = await pool.request({ path: '/reset' }).then(
    () => undefined,
    (err: unknown) => err,
  )
  t.type(failed, WirepoolError)
  t.equal((failed as WirepoolError).code, 'WP_H2_STREAM_RESET')
  const damaged = pool.connections().find((c) => c.recentErrors > 0)
  t.ok(damaged, 'the connection that carried the reset stream has an error on record')
  t.ok((damaged?.health ?? 1) < 0.6, `its health dropped (${damaged?.health})`)
  const healthy = pool.connections().find((c) => c.recentErrors === 0)
  t.equal(healthy?.health, 1)
  for (let i = 0; i < 5; i++) {
    const res = await pool.request({ path: `/ok${i}` })
    t.equal(await res.body.text(), 'ok')
    t.equal(res.connection.id, healthy?.id, `request ${i} went to the healthy connection`)
  }
})

t.test('the idle timer is re-armed per idle period: a busy spell longer than keepAliveTimeout does not evict', async (t) => {
  const srv = await holdingServer(t)
  const pool = new Pool(srv.origin, { connections: 1, keepAliveTimeout: 50 })
  t.teardown(() => pool.destroy())
  const retired: string[] = []
  pool.on('connection', (ev) => {
    if (ev.to === 'draining') retired.push(ev.reason)
  })
  await (await pool.request({ path: '/warm' })).body.text()
  // Busy for longer than keepAliveTimeout: the timer armed at the first idle spell expires
  // meanwhile and must be ignored.
  const held = pool.request({ path: '/hold/slow' })
  await srv.arrived('slow')
  await new Promise((resolve) => setTimeout(resolve, 120))
  srv.release('slow')
  await (await held).body.text()
  const next = await pool.request({ path: '/next' })
  t.equal(await next.body.text(), '/next')
  t.equal(next.connection.reused, true, 'the same connection served the next request')
  t.same(retired, [], 'not evicted while busy')
  // Idle now for longer than keepAliveTimeout: evicted.
  const evicted = new Promise<void>((resolve) => pool.on('connection', (ev) => ev.to === 'closed' && resolve()))
  await evicted
  t.same(retired, ['idle-timeout'])
})
