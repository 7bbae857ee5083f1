/**
 * Issue "Scale and memory", reuse: 10,000 requests over 10 keep-alive connections report a
 * reuse rate of at least 0.999 (only each connection's first request is not a reuse).
 */
import t from 'tap'
import { Pool } from '../../src/index.js'
import { httpServer } from '../support/servers.js'

t.test('10,000 requests over 10 connections: reuseRate ≥ 0.999', async (t) => {
  const srv = await httpServer(t, (req, res) => res.end('ok'))
  const pool = new Pool(srv.origin, { connections: 10 })
  t.teardown(() => pool.destroy())
  const TOTAL = 10_000
  let next = 0
  let failed = 0
  // Ten workers, each sending its next request once the previous body was read.
  await Promise.all(
    Array.from({ length: 10 }, async () => {
      while (next < TOTAL) {
        next++
        const res = await pool.request({ path: '/' })
        if ((await res.body.text()) !== 'ok') failed++
      }
    }),
  )
  const stats = pool.stats()
  t.equal(failed, 0)
  t.equal(stats.requests, TOTAL)
  t.equal(stats.connectionsCreated, 10)
  t.equal(srv.connections(), 10, 'the server accepted ten connections')
  t.equal(stats.reused, TOTAL - 10)
  t.ok(stats.reuseRate >= 0.999, `reuseRate ${stats.reuseRate}`)
})
