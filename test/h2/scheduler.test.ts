/** scheduler.ts: the round-robin write scheduler. */
import t from 'tap'
import { ReceiveWindow, SendWindow } from '../../src/h2/flow.js'
import { WriteScheduler } from '../../src/h2/scheduler.js'
import { H2Stream } from '../../src/h2/stream.js'
import { Collector, makeRequest } from './session-helpers.js'

function stream(): H2Stream {
  return new H2Stream(makeRequest(), new Collector(), new SendWindow(), new ReceiveWindow(), 0, () => {}, () => {})
}

t.test('write scheduler is a round robin that grows and clears', async (t) => {
  const scheduler = new WriteScheduler()
  const streams = Array.from({ length: 40 }, (_, i) => {
    const s = stream()
    s.id = 1 + 2 * i
    return s
  })
  for (const s of streams) scheduler.add(s)
  scheduler.add(streams[0]!)
  t.equal(scheduler.size, 40, 'adding twice is a no-op')
  const first = scheduler.take()!
  t.equal(first.id, 1)
  scheduler.add(first)
  const order: number[] = []
  for (let i = 0; i < 40; i++) order.push(scheduler.take()!.id)
  t.same(order, [...streams.slice(1), streams[0]!].map((s) => s.id), 'the stream that went again waits its turn')
  t.equal(scheduler.take(), undefined)
  for (const s of streams.slice(0, 3)) scheduler.add(s)
  scheduler.clear()
  t.equal(scheduler.size, 0)
  t.notOk(streams[0]!.scheduled)
  t.equal(stream().done, false)
})

