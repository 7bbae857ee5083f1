import t from 'tap'
import v8 from 'node:v8'
import vm from 'node:vm'
import { Pool } from '../../src/index.js'
import { httpServer } from '../support/servers.js'

v8.setFlagsFromString('--expose-gc')
const gc = vm.runInNewContext('gc') as () => void

t.test('a response dropped unread is released when collected: its slot frees', async (t) => {
  const srv = await httpServer(t, (req, res) => {
    if (req.url === '/big') {
      // Far more than the socket and stream buffers hold: the request cannot finish unread.
      res.end(Buffer.alloc(16 * 1024 * 1024))
      return
    }
    res.end('small')
  })
  const pool = new Pool(srv.origin, { connections: 1 })
  t.teardown(() => pool.destroy())
  await (async () => {
    const dropped = await pool.request({ path: '/big' })
    t.equal(dropped.status, 200)
  })()
  t.equal(pool.stats().connections.busy, 1, 'the unread body holds the only connection')
  const next = pool.request({ path: '/small' })
  let freed = false
  // Finalizers run in a task after a collection: collect, yield, look; bounded.
  for (let i = 0; i < 200 && !freed; i++) {
    gc()
    await new Promise((r) => setImmediate(r))
    freed = pool.stats().connections.busy === 0 || pool.stats().requestsQueued === 0
  }
  t.ok(freed, 'the collected response released its connection')
  const res = await next
  t.equal(await res.body.text(), 'small')
  t.equal(res.connection.reused, false, 'the aborted socket was not reused')
})

t.test('an unread body whose connection fails does not crash the process; the error waits for its reader', async (t) => {
  const srv = await httpServer(t, (_req, res) => {
    res.write(Buffer.alloc(1024 * 1024))
  })
  const pool = new Pool(srv.origin)
  const res = await pool.request({ path: '/' })
  await pool.destroy(new Error('going down'))
  // Give the destroyed stream its error tick: nothing may throw uncaught here.
  await new Promise((r) => setImmediate(r))
  const err = (await res.body.text().catch((e: unknown) => e)) as Error
  t.match(err.message, /going down/)
  t.match(((await res.trailers.catch((e: unknown) => e)) as Error).message, /going down/)
})

t.test('a body whose reader waits for the next chunk is held strongly: collections do not cut the download', async (t) => {
  // The server sends 1 MiB (the body fills: backpressure, the engine holds it weakly), then
  // waits; the reader drains it and waits for more. Nothing but the body reaches the
  // reader then, so if the engine still held the body weakly, a collection would take body
  // and reader together, abort the request, and the rest would never be read.
  const first = 1024 * 1024
  const rest = 3 * 1024 * 1024
  let sendRest: (() => void) | undefined
  const srv = await httpServer(t, (_req, res) => {
    res.writeHead(200, { 'content-length': String(first + rest) })
    res.write(Buffer.alloc(first, 1))
    sendRest = () => res.end(Buffer.alloc(rest, 2))
  })
  const pool = new Pool(srv.origin)
  t.teardown(() => pool.destroy())
  // What the reader did, kept outside its own reach (a root the test can look at).
  const progress = { bytes: 0, finished: false, collected: false }
  const watch = new FinalizationRegistry<null>(() => {
    progress.collected = true
  })
  await (async () => {
    const res = await pool.request({ path: '/' })
    watch.register(res.body, null)
    void (async () => {
      for await (const chunk of res.body) progress.bytes += (chunk as Buffer).length
      progress.finished = true
    })()
  })()
  for (let i = 0; i < 500 && progress.bytes < first; i++) await new Promise((r) => setTimeout(r, 5))
  t.equal(progress.bytes, first, 'the first MiB was read; the reader now waits for more')
  for (let i = 0; i < 5; i++) {
    gc()
    await new Promise((r) => setImmediate(r))
  }
  t.equal(progress.collected, false, 'the waiting body was not collected')
  ;(sendRest as () => void)()
  for (let i = 0; i < 1000 && !progress.finished; i++) await new Promise((r) => setTimeout(r, 5))
  t.equal(progress.bytes, first + rest, 'the whole body arrived')
  t.equal(progress.finished, true)
})
