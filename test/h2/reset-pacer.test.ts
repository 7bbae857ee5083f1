/** reset-pacer.ts: the RST_STREAM token bucket. */
import t from 'tap'
import { ResetPacer } from '../../src/h2/reset-pacer.js'

t.test('reset pacer: a burst, then a steady rate', async (t) => {
  const pacer = new ResetPacer({ burst: 3, ratePerSecond: 10 })
  t.ok(pacer.tryTake(0) && pacer.tryTake(0) && pacer.tryTake(0))
  t.notOk(pacer.tryTake(0))
  t.equal(pacer.waitMs(0), 100)
  t.notOk(pacer.tryTake(50))
  t.ok(pacer.tryTake(100))
  t.equal(pacer.waitMs(10_000), 0, 'refills up to the burst')
  t.ok(pacer.tryTake(10_000) && pacer.tryTake(10_000) && pacer.tryTake(10_000))
  t.notOk(pacer.tryTake(10_000))
  t.ok(new ResetPacer().tryTake(5))
})
