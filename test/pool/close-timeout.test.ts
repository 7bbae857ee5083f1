/**
 * Issue #18: close() always resolves. In-flight requests keep their own deadlines while the
 * pool closes; `close({ timeout })` bounds the grace period and then destroys what is left.
 */
import t from 'tap'
import { Pool } from '../../src/index.js'
import { rawServer } from '../support/servers.js'

t.test('close({ timeout }) destroys what is still open after the grace period', async (t) => {
  const srv = await rawServer(t, (socket) => {
    socket.on('error', () => {})
    socket.resume() // reads the request, never answers
  })
  const pool = new Pool(srv.origin, { headersTimeout: 0, bodyTimeout: 0 })
  t.teardown(() => pool.destroy())
  const pending = pool.request({ path: '/never' })
  const outcome = pending.then(
    () => 'answered',
    (err: { code?: string }) => err.code,
  )
  // Let the request reach the connection first.
  while (pool.stats().connections.busy === 0) await new Promise((r) => setImmediate(r))
  const started = performance.now()
  await pool.close({ timeout: 200 })
  const elapsed = performance.now() - started
  t.ok(elapsed >= 190 && elapsed < 2000, `resolved after the grace period (${elapsed.toFixed(0)} ms)`)
  t.equal(await outcome, 'WP_POOL_CLOSED', 'the in-flight request failed with PoolClosedError')
  t.equal(pool.connections().length, 0, 'no connection left')
  await t.rejects(pool.close({ timeout: -1 }), { code: 'WP_INVALID_ARG' })
})

t.test('close() without a timeout: in-flight requests still get their deadlines, then it resolves', async (t) => {
  const srv = await rawServer(t, (socket) => {
    socket.on('error', () => {})
    socket.resume()
  })
  const pool = new Pool(srv.origin, { headersTimeout: 300 })
  t.teardown(() => pool.destroy())
  const outcome = pool.request({ path: '/never' }).then(
    () => 'answered',
    (err: { code?: string }) => err.code,
  )
  while (pool.stats().connections.busy === 0) await new Promise((r) => setImmediate(r))
  await pool.close()
  t.equal(await outcome, 'WP_HEADERS_TIMEOUT')
  t.equal(pool.connections().length, 0)
})

t.test('close({ timeout }) resolves at once when nothing is in flight', async (t) => {
  const srv = await rawServer(t, (socket) => socket.on('error', () => {}))
  const pool = new Pool(srv.origin)
  const started = performance.now()
  await pool.close({ timeout: 10_000 })
  t.ok(performance.now() - started < 1000)
  t.equal(srv.connections(), 0)
})
