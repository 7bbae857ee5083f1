import t from 'tap'
import { Pool, type RetryEvent, type WirepoolError } from '../../src/index.js'
import { resolvePoolOptions } from '../../src/options.js'
import { backoffDelay, parseRetryAfter } from '../../src/pool/retry.js'
import { httpServer, onRequestHeads, rawServer } from '../support/servers.js'

t.test('backoff: first retry at once, then capped exponential with equal jitter', async (t) => {
  const policy = resolvePoolOptions({ retry: { attempts: 10, minDelay: 100, maxDelay: 1000 } }).retry
  t.equal(backoffDelay(1, policy, () => 1), 0)
  t.equal(backoffDelay(2, policy, () => 0), 50, 'half fixed')
  t.equal(backoffDelay(2, policy, () => 1), 100)
  t.equal(backoffDelay(3, policy, () => 1), 200)
  t.equal(backoffDelay(5, policy, () => 1), 800)
  t.equal(backoffDelay(6, policy, () => 1), 1000, 'capped')
  t.equal(backoffDelay(30, policy, () => 0.5), 750)
})

t.test('Retry-After: delay-seconds and HTTP-date', async (t) => {
  const now = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT')
  t.equal(parseRetryAfter('120', now), 120_000)
  t.equal(parseRetryAfter('Wed, 21 Oct 2015 07:28:30 GMT', now), 30_000)
  t.equal(parseRetryAfter('Wed, 21 Oct 2015 07:27:00 GMT', now), 0, 'a past date means now')
  t.equal(parseRetryAfter(['5', '9'], now), 5000)
  t.equal(parseRetryAfter('soon', now), undefined)
  t.equal(parseRetryAfter(undefined, now), undefined)
  t.throws(() => resolvePoolOptions({ retry: { statuses: [42] } }), { code: 'WP_INVALID_ARG' })
  t.throws(() => resolvePoolOptions({ retry: 3 as never }), { code: 'WP_INVALID_ARG' })
  t.equal(resolvePoolOptions({ retry: false }).retry.attempts, 0)
})

t.test('opted-in statuses are retried after Retry-After; the caller sees only the final response', async (t) => {
  let hits = 0
  const srv = await httpServer(t, (_req, res) => {
    hits++
    if (hits < 3) {
      res.writeHead(503, { 'retry-after': '0', 'content-length': '4' })
      res.end('busy')
      return
    }
    res.end('done')
  })
  const pool = new Pool(srv.origin, { connections: 1, retry: { attempts: 3, statuses: [503] } })
  t.teardown(() => pool.destroy())
  const events: RetryEvent[] = []
  pool.on('retry', (e) => events.push(e))
  const res = await pool.request({ path: '/r' })
  t.equal(res.status, 200)
  t.equal(await res.body.text(), 'done')
  t.equal(hits, 3)
  t.same(events.map((e) => [e.attempt, e.reason, e.delayMs]), [[1, 'status:503', 0], [2, 'status:503', 0]])
  t.equal(res.connection.reused, true, 'the discarded responses were read to the end: one socket throughout')
  t.equal(pool.stats().retries, 2)

  // Out of attempts, or a Retry-After beyond maxRetryAfter: the 503 itself is returned.
  hits = 0
  const once = new Pool(srv.origin, { retry: { attempts: 1, statuses: [503] } })
  t.teardown(() => once.destroy())
  const r2 = await once.request({ path: '/' })
  t.equal(r2.status, 503)
  t.equal(await r2.body.text(), 'busy')
  // POST is not idempotent: never retried on a status either.
  hits = 0
  const r3 = await pool.request({ path: '/', method: 'POST', body: 'x' })
  t.equal(r3.status, 503)
  await r3.body.text()
})

t.test('a long Retry-After is not waited for', async (t) => {
  const srv = await httpServer(t, (_req, res) => {
    res.writeHead(429, { 'retry-after': '3600' })
    res.end('slow down')
  })
  const pool = new Pool(srv.origin, { retry: { statuses: [429], maxRetryAfter: 1000 } })
  t.teardown(() => pool.destroy())
  const res = await pool.request({ path: '/' })
  t.equal(res.status, 429)
  t.equal(res.headers['retry-after'], '3600')
  t.equal(await res.body.text(), 'slow down')
})

t.test('backoff between failed attempts; abort while backing off', async (t) => {
  // Every connection answers its first request and drops the socket on the second: each
  // retry goes to a fresh connection, whose first request succeeds.
  let connections = 0
  const srv = await rawServer(t, (socket) => {
    connections++
    onRequestHeads(socket, (_head, index) => {
      if (index === 0) socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok')
      else socket.destroy()
    })
  })
  const pool = new Pool(srv.origin, { connections: 1, retry: { attempts: 2, minDelay: 20 } })
  t.teardown(() => pool.destroy())
  const events: RetryEvent[] = []
  pool.on('retry', (e) => events.push(e))
  await (await pool.request({ path: '/a' })).body.text()
  t.equal(await (await pool.request({ path: '/b' })).body.text(), 'ok')
  t.same(events.map((e) => [e.reason, e.delayMs]), [['WP_SOCKET_CLOSED', 0]])

  // A 503 with backoff (no Retry-After), aborted while it waits.
  const busy = await httpServer(t, (_req, res) => {
    res.statusCode = 503
    res.end()
  })
  const slow = new Pool(busy.origin, { retry: { attempts: 5, statuses: [503], minDelay: 60_000, maxDelay: 60_000 } })
  t.teardown(() => slow.destroy())
  const ac = new AbortController()
  const retried = new Promise<RetryEvent>((resolve) => slow.once('retry', resolve))
  const p = slow.request({ path: '/', signal: ac.signal }).catch((e: unknown) => e)
  const first = await retried
  t.ok(first.delayMs >= 30_000, `backing off ${first.delayMs} ms`)
  ac.abort()
  const err = (await p) as WirepoolError
  t.equal(err.code, 'WP_ABORTED', 'the abort ends the wait at once')
  await slow.close()
  t.equal(connections, 2)
})
