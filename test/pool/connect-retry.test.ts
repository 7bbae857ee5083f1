/**
 * Issue #18: one refused connect does not fail a whole queue. Queued requests wait while the
 * pool tries to connect again with a capped, jittered backoff; they fail with the connect
 * error only after CONNECT_ATTEMPTS failures in a row (README "Reliability").
 */
import t from 'tap'
import { once } from 'node:events'
import * as http from 'node:http'
import { Pool } from '../../src/index.js'
import { closedPort } from '../support/servers.js'

t.test('a listener that refuses for a moment, then accepts: the queued requests succeed', async (t) => {
  const port = await closedPort()
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 4, pipelining: 1 })
  t.teardown(() => pool.destroy())
  const results = Array.from({ length: 200 }, (_, i) =>
    pool.request({ path: `/${i}`, method: i % 2 === 0 ? 'GET' : 'POST', body: i % 2 === 0 ? null : 'x' }).then(
      async (res) => res.body.text(),
      (err: { code?: string }) => `error ${err.code}`,
    ),
  )
  // The first connect is refused before the server listens (its refusal comes back at once).
  await once(pool, 'connection')
  await new Promise((r) => setTimeout(r, 150))
  const server = http.createServer((req, res) => res.end(`ok ${req.url}`))
  server.listen(port, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => new Promise<void>((r) => server.close(() => r())))
  const texts = await Promise.all(results)
  t.equal(texts.filter((s, i) => s === `ok /${i}`).length, 200, `every queued request succeeded (${texts.find((s) => s.startsWith('error')) ?? 'no error'})`)
  await pool.close()
  server.closeAllConnections()
})

t.test('a port that never accepts: queued requests fail with the connect error after the attempts, not at once', async (t) => {
  const port = await closedPort()
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 2 })
  t.teardown(() => pool.destroy())
  const reasons: string[] = []
  pool.on('connection', (e) => {
    if (e.to === 'closed') reasons.push(e.reason)
  })
  const started = performance.now()
  const codes = await Promise.all(
    Array.from({ length: 50 }, () =>
      pool.request({ path: '/' }).then(
        () => 'answered',
        (err: { code?: string }) => err.code,
      ),
    ),
  )
  const elapsed = performance.now() - started
  t.same(new Set(codes), new Set(['WP_CONNECT_REFUSED']), 'every request fails with the connect error')
  // Four backoffs of at least 50, 100, 200 and 400 ms (half of each is fixed).
  t.ok(elapsed >= 700, `after the connect retries (${elapsed.toFixed(0)} ms), not at once`)
  t.ok(elapsed < 5000, 'and within the capped backoff')
  const refused = reasons.filter((r) => r === 'connect-failed:WP_CONNECT_REFUSED').length
  t.ok(refused >= 5 && refused <= 10, `five rounds of at most \`connections\` connects (${refused}), not one per queued request`)
  await pool.close()
})

t.test('retry: false keeps the old rule: the queue fails with the first refusal', async (t) => {
  const port = await closedPort()
  const pool = new Pool(`http://127.0.0.1:${port}`, { retry: false })
  t.teardown(() => pool.destroy())
  const codes = await Promise.all(Array.from({ length: 5 }, () => pool.request({ path: '/' }).then(() => 'answered', (err: { code?: string }) => err.code)))
  t.same(codes, Array(5).fill('WP_CONNECT_REFUSED'))
  await pool.close()
})
