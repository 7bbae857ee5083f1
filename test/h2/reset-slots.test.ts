/**
 * Issue #18: a cancelled stream whose RST_STREAM waits in the reset pacer no longer takes a
 * slot of OUR cap (maxConcurrentStreams), while it keeps its slot under the PEER's
 * SETTINGS_MAX_CONCURRENT_STREAMS (RFC 9113 §5.1.2: open streams count toward the peer's limit
 * until the reset is sent).
 */
import { once } from 'node:events'
import t from 'tap'
import { Collector, connectH2c, h2cServer, send, type Teardown } from './session-helpers.js'

async function abortedBeyondBurst(t: Teardown, peerLimit: number, ourCap: number) {
  const peer = await h2cServer(t, () => {}, { settings: { maxConcurrentStreams: peerLimit } })
  const conn = await connectH2c(t, peer.port, { maxConcurrentStreams: ourCap })
  await conn.ping()
  const collectors: Collector[] = []
  // 210 cancels: the pacer's burst is 200, so 10 resets wait.
  for (let i = 0; i < 210; i++) collectors.push(send(conn))
  while (peer.live.size === 0) await once(peer.server, 'session')
  await conn.ping()
  for (const c of collectors) c.abort!()
  await Promise.all(collectors.map((c) => c.done.catch(() => {})))
  return conn
}

t.test('our own cap: cancelled streams waiting for the pacer free their slot at once', async (t) => {
  const conn = await abortedBeyondBurst(t, 1000, 300)
  const waiting = conn.streamsOpen
  t.ok(waiting > 0, `${waiting} resets wait for the pacer`)
  t.equal(conn.inFlight, 0)
  t.equal(conn.capacity, 300, 'the whole of our cap is free again (before issue #18: 300 minus the waiting resets)')
  while (conn.streamsOpen > 0) await once(conn, 'free')
})

t.test("the peer's limit: a stream whose reset has not been sent still counts (RFC 9113 §5.1.2)", async (t) => {
  const conn = await abortedBeyondBurst(t, 215, 1000)
  const waiting = conn.streamsOpen
  t.ok(waiting > 0, `${waiting} resets wait for the pacer`)
  t.equal(conn.capacity, 215 - waiting, 'only the slots whose RST_STREAM went out are free under the peer limit')
  while (conn.streamsOpen > 0) await once(conn, 'free')
  t.equal(conn.capacity, 215)
})
