import t from 'tap'
import { H2ProtocolError, InvalidArgumentError } from '../../src/errors.js'
import { H2ErrorCode, MAX_WINDOW_SIZE } from '../../src/h2/frame.js'
import { BdpEstimator, MAX_BDP_WINDOW, ReceiveWindow, SendWindow } from '../../src/h2/flow.js'

/** The subtest object tap passes to a `t.test` callback. */
type Tap = Parameters<Parameters<typeof t.test>[0]>[0]

function flowControlError(t: Tap, fn: () => unknown, streamId: number, message: string): void {
  try {
    fn()
    t.fail(`${message}: expected FLOW_CONTROL_ERROR`)
  } catch (err) {
    t.type(err, H2ProtocolError, message)
    t.match(err, { h2Code: H2ErrorCode.FLOW_CONTROL_ERROR, h2CodeName: 'FLOW_CONTROL_ERROR', streamId }, `${message}: on stream ${streamId}`)
  }
}

t.test('SendWindow: consume and WINDOW_UPDATE (§6.9.1)', async (t) => {
  const w = new SendWindow()
  t.equal(w.window, 65535, 'starts at the default 65,535')
  t.equal(w.streamId, 0)
  w.consume(65000)
  t.equal(w.available, 535)
  w.consume(535)
  t.equal(w.available, 0)
  t.throws(() => w.consume(1), InvalidArgumentError, 'sending past the window is our bug')
  t.throws(() => w.consume(-1), InvalidArgumentError)
  w.increase(10)
  t.equal(w.available, 10)
  w.consume(0)
  t.equal(w.window, 10, 'consuming 0 changes nothing')
  t.throws(() => w.increase(0), InvalidArgumentError, 'increment 0 is the reader’s to refuse, never ours to apply')
  t.throws(() => w.increase(2 ** 31), InvalidArgumentError)
})

t.test('SendWindow: a window past 2^31-1 is FLOW_CONTROL_ERROR on the right scope', async (t) => {
  const conn = new SendWindow(65535, 0)
  conn.increase(MAX_WINDOW_SIZE - 65535)
  t.equal(conn.window, MAX_WINDOW_SIZE, 'exactly 2^31-1 is allowed')
  flowControlError(t, () => conn.increase(1), 0, 'connection window')
  t.equal(conn.window, MAX_WINDOW_SIZE, 'the failed update changed nothing')

  // h2spec client/6.9.1/2: several WINDOW_UPDATEs that add up past the limit on a stream.
  const stream = new SendWindow(65535, 3)
  stream.increase(2 ** 30)
  flowControlError(t, () => stream.increase(2 ** 30), 3, 'stream window: a stream error')
})

t.test('SendWindow: SETTINGS_INITIAL_WINDOW_SIZE changes move stream windows, below zero too (§6.9.2)', async (t) => {
  const w = new SendWindow(65535, 1)
  w.consume(60000)
  w.applyInitialWindowDelta(16384 - 65535)
  t.equal(w.window, 5535 - 49151, 'negative: the peer lowered the initial window after we sent')
  t.equal(w.available, 0, 'nothing may be sent while negative')
  w.increase(40000)
  t.equal(w.window, -3616)
  t.equal(w.available, 0, 'still negative after an update')
  w.increase(4000)
  t.equal(w.available, 384, 'back above zero')
  w.applyInitialWindowDelta(100)
  t.equal(w.window, 484, 'raising moves it up')

  const full = new SendWindow(MAX_WINDOW_SIZE - 10, 5)
  flowControlError(t, () => full.applyInitialWindowDelta(11), 0, 'a settings change past 2^31-1 is a connection error')
  t.throws(() => new SendWindow(65535, 0).applyInitialWindowDelta(1), InvalidArgumentError, 'not for the connection window')
  t.throws(() => w.applyInitialWindowDelta(0.5), InvalidArgumentError)
  t.throws(() => new SendWindow(2 ** 31), InvalidArgumentError)
  t.throws(() => new SendWindow(10, -1), InvalidArgumentError)
})

t.test('ReceiveWindow: the peer may not overrun it (§6.9.1)', async (t) => {
  const stream = new ReceiveWindow(1000, 7)
  stream.onDataReceived(600)
  stream.onDataReceived(400)
  t.equal(stream.window, 0, 'exactly the window is fine')
  t.equal(stream.buffered, 1000)
  flowControlError(t, () => stream.onDataReceived(1), 7, 'one octet too many on a stream: a stream error')
  const conn = new ReceiveWindow()
  flowControlError(t, () => conn.onDataReceived(65536), 0, 'on the connection: a connection error')
  t.equal(conn.window, 65535, 'the refused frame is not counted')
  conn.onDataReceived(0)
  t.equal(conn.window, 65535, 'an empty DATA frame costs nothing')
  t.throws(() => conn.onDataReceived(-1), InvalidArgumentError)
})

t.test('ReceiveWindow: WINDOW_UPDATE once half the target is consumed', async (t) => {
  const w = new ReceiveWindow(65535, 1)
  w.onDataReceived(16384)
  t.equal(w.onConsumed(16384), 0, 'a quarter: keep batching')
  t.equal(w.pending, 16384)
  w.onDataReceived(16384)
  t.equal(w.onConsumed(16383), 0, 'one octet short of half (32,767.5)')
  t.equal(w.onConsumed(1), 32768, 'half reached: hand it all back')
  t.equal(w.pending, 0)
  t.equal(w.window, 65535, 'the peer has its whole window again')
  t.equal(w.buffered, 0)

  // Padding is consumed on arrival: a padded DATA frame of 100 flow-controlled octets with
  // 10 octets of content and 89 + 1 of padding.
  w.onDataReceived(100)
  w.onConsumed(90)
  t.equal(w.buffered, 10)
  t.throws(() => w.onConsumed(11), InvalidArgumentError, 'cannot consume more than was received')
  t.throws(() => w.onConsumed(-1), InvalidArgumentError)
})

t.test('ReceiveWindow: setTarget grows at once, shrinks by withholding updates', async (t) => {
  const w = new ReceiveWindow()
  t.equal(w.setTarget(1 << 20), (1 << 20) - 65535, 'growing by more than half the new target is granted now')
  t.equal(w.window, 1 << 20)
  t.equal(w.target, 1 << 20)
  t.equal(w.setTarget((1 << 20) + 1000), 0, 'a small growth waits for the next batch')
  t.equal(w.pending, 1000)
  w.onDataReceived(600000)
  t.equal(w.onConsumed(600000), 601000, 'and goes out with it')

  const s = new ReceiveWindow(100000, 3)
  s.onDataReceived(80000)
  t.equal(s.setTarget(40000), 0, 'shrinking sends nothing')
  t.equal(s.pending, -60000)
  t.equal(s.window, 20000, 'the credit already granted stays')
  t.equal(s.onConsumed(60000), 0, 'consumption first repays the cut')
  t.equal(s.onConsumed(20000), 20000, 'then updates resume against the new target')
  t.equal(s.window, 40000)
  t.throws(() => s.setTarget(2 ** 31), InvalidArgumentError)
  t.equal(new ReceiveWindow(10).setTarget(0), 0, 'a zero target never asks for an update')
})

t.test('ReceiveWindow: our SETTINGS_INITIAL_WINDOW_SIZE change (§6.9.2)', async (t) => {
  const w = new ReceiveWindow(65535, 1)
  w.onDataReceived(1000)
  w.applyInitialWindowDelta((1 << 20) - 65535)
  t.equal(w.target, 1 << 20)
  t.equal(w.window, (1 << 20) - 1000)
  t.equal(w.buffered, 1000, 'what was received is still buffered')
  t.throws(() => new ReceiveWindow().applyInitialWindowDelta(1), InvalidArgumentError, 'not for the connection window')
  t.throws(() => w.applyInitialWindowDelta(MAX_WINDOW_SIZE), InvalidArgumentError, 'target past 2^31-1')
  t.throws(() => w.applyInitialWindowDelta(-(1 << 21)), InvalidArgumentError, 'target below 0')
})

t.test('BdpEstimator: doubles while one RTT brings 2/3 of the window, up to 16 MiB', async (t) => {
  const bdp = new BdpEstimator()
  t.equal(bdp.window, 65535)
  t.equal(MAX_BDP_WINDOW, 16 * 1024 * 1024)
  // A fast link: each RTT (10 ms) fills the window the peer was given.
  const windows: number[] = []
  let window = bdp.window
  for (let round = 0; round < 12; round++) {
    const grown = bdp.sample(window, 10)
    if (grown !== 0) window = grown
    windows.push(grown)
  }
  t.same(windows, [131070, 262140, 524280, 1048560, 2097120, 4194240, 8388480, 16776960, 16777216, 0, 0, 0], 'doubling to the cap, then nothing')
  t.equal(bdp.window, MAX_BDP_WINDOW)
  t.equal(bdp.rttMs, 10)
})

t.test('BdpEstimator: no growth below 2/3 of the window, or when bandwidth falls', async (t) => {
  const bdp = new BdpEstimator({ initialWindow: 90000 })
  t.equal(bdp.sample(59999, 10), 0, 'under 2/3 of 90,000: the window is not the limit')
  t.equal(bdp.sample(60000, 10), 120000, 'exactly 2/3: double the sample')
  t.equal(bdp.sample(100000, 80), 0, 'more octets but over a much longer RTT: slower, so no growth')
  t.ok(bdp.rttMs > 10 && bdp.rttMs < 80, 'the RTT is smoothed (1/8 weight)')
  t.equal(bdp.window, 120000)

  const capped = new BdpEstimator({ initialWindow: 1000, maxWindow: 1500 })
  t.equal(capped.sample(1000, 1), 1500, 'capped at maxWindow')
  t.equal(capped.sample(1500, 1), 0, 'at the cap: nothing more')

  const coarse = new BdpEstimator({ initialWindow: 3000 })
  t.equal(coarse.sample(3000, 0), 6000, 'a zero RTT skips the bandwidth test')
  t.equal(coarse.sample(6000, 0), 12000)
  t.equal(coarse.sample(12000, 2), 24000, 'and a later real RTT starts the average')

  t.throws(() => bdp.sample(-1, 1), InvalidArgumentError)
  t.throws(() => bdp.sample(1, Number.NaN), InvalidArgumentError)
  t.throws(() => new BdpEstimator({ maxWindow: 2 ** 31 }), InvalidArgumentError)
})

t.test('BdpEstimator: ping pacing', async (t) => {
  const bdp = new BdpEstimator()
  t.equal(bdp.pingDelayMs, 100)
  bdp.sample(65535, 10)
  t.equal(bdp.pingDelayMs, 50, 'halved after a growth')
  bdp.sample(10, 10)
  t.equal(bdp.pingDelayMs, 50, 'one quiet sample: unchanged')
  bdp.sample(10, 10)
  t.equal(bdp.pingDelayMs, 200, 'two in a row: four times longer')
  const delays: number[] = []
  for (let i = 0; i < 16; i++) {
    bdp.sample(10, 10)
    delays.push(bdp.pingDelayMs)
  }
  t.equal(delays.at(-1), 12800, 'levels off once past 10 s')
  t.same(delays.slice(-4), [12800, 12800, 12800, 12800], 'and stays there')
})
