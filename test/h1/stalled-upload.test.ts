/**
 * Issue #18, HTTP/1.1: a streamed upload to a server that stops reading must end with
 * WP_SEND_TIMEOUT after `bodyTimeout` without progress (before, no timer ran while a streamed
 * body was written and the request, and close(), never settled); a connection whose request
 * timed out with no byte from the peer is not reused.
 */
import t from 'tap'
import { Readable } from 'node:stream'
import { Pool } from '../../src/index.js'
import { rawServer } from '../support/servers.js'

function settleWithin<T>(p: Promise<T>, ms: number, what: string): Promise<{ ok: T } | { err: { code?: string; name?: string } }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms)
    p.then(
      (ok) => {
        clearTimeout(timer)
        resolve({ ok })
      },
      (err: { code?: string; name?: string }) => {
        clearTimeout(timer)
        resolve({ err })
      },
    )
  })
}

/** 16 MiB in 64 KiB chunks, produced on demand (the source itself is never the slow side). */
function sixteenMiB(): { body: Readable; produced: () => number } {
  let produced = 0
  const chunk = Buffer.alloc(64 * 1024, 0x61)
  const body = Readable.from(
    (function* () {
      for (let i = 0; i < 256; i++) {
        produced += chunk.length
        yield chunk
      }
    })(),
  )
  return { body, produced: () => produced }
}

t.test('a streamed 16 MiB upload to a server that stops reading fails with WP_SEND_TIMEOUT; close() resolves', async (t) => {
  const srv = await rawServer(t, (socket) => {
    socket.on('error', () => {})
    // Read the first bytes, then never again: the client's writes back up.
    socket.once('data', () => socket.pause())
  })
  const pool = new Pool(srv.origin, { headersTimeout: 500, bodyTimeout: 500 })
  t.teardown(() => pool.destroy())
  const { body, produced } = sixteenMiB()
  const started = performance.now()
  const out = await settleWithin(pool.request({ path: '/upload', method: 'PUT', body }), 8000, 'the streamed upload')
  const elapsed = performance.now() - started
  t.equal('err' in out && out.err.code, 'WP_SEND_TIMEOUT', 'the upload fails with the send timeout')
  t.equal('err' in out && out.err.name, 'SendTimeoutError')
  t.ok(produced() < 16 * 1024 * 1024, `the body was not all sent (${produced()} bytes read from the source)`)
  t.ok(elapsed < 6000, `settled in ${elapsed.toFixed(0)} ms`)
  t.ok(body.destroyed, 'the body source was let go')
  const closed = await settleWithin(pool.close(), 5000, 'pool.close()')
  t.ok('ok' in closed, 'close() resolves')
})

t.test('a request that timed out with no byte from the peer leaves its connection unused afterwards', async (t) => {
  let silent = true
  const srv = await rawServer(t, (socket) => {
    socket.on('error', () => {})
    socket.on('data', () => {
      if (silent) return
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok')
    })
  })
  const pool = new Pool(srv.origin, { headersTimeout: 200, connections: 1 })
  t.teardown(() => pool.destroy())
  const first = await settleWithin(pool.request({ path: '/silent' }), 5000, 'the first GET')
  t.equal('err' in first && first.err.code, 'WP_HEADERS_TIMEOUT')
  silent = false
  const res = await pool.request({ path: '/again' })
  t.equal(await res.body.text(), 'ok')
  t.equal(srv.connections(), 2, 'the second request went on a new connection')
  await pool.close()
})
