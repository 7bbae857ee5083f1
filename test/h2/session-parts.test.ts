/**
 * The sans-I/O parts H2Connection is built from: the §5.1 state machine, the write scheduler,
 * peer SETTINGS bookkeeping, request fields and response section checks, the reset pacer.
 */
import t from 'tap'
import { SettingsId } from '../../src/h2/frame.js'
import { ReceiveWindow, SendWindow } from '../../src/h2/flow.js'
import { parseResponseSection, requestFields } from '../../src/h2/fields.js'
import { ResetPacer } from '../../src/h2/reset-pacer.js'
import { WriteScheduler } from '../../src/h2/scheduler.js'
import { PeerSettings, localSettings } from '../../src/h2/settings.js'
import { H2Stream, INITIAL_STREAM_STATE, StreamEvent, canReceive, canSend, transition, type StreamState } from '../../src/h2/stream.js'
import { Collector, makeRequest } from './session-helpers.js'

const ALL_EVENTS = Object.values(StreamEvent)

function run(events: StreamEvent[]): StreamState | null {
  let state: StreamState | null = INITIAL_STREAM_STATE
  for (const event of events) {
    if (state === null) return null
    state = transition(state, event, 8)
  }
  return state
}

t.test('stream state machine follows RFC 9113 §5.1 and refuses every unlisted transition', async (t) => {
  t.equal(run([StreamEvent.SEND_HEADERS])?.kind, 'open')
  t.equal(run([StreamEvent.SEND_HEADERS, StreamEvent.SEND_END_STREAM])?.kind, 'half-closed-local')
  t.equal(run([StreamEvent.SEND_HEADERS, StreamEvent.RECV_END_STREAM])?.kind, 'half-closed-remote')
  t.equal(run([StreamEvent.SEND_HEADERS, StreamEvent.RECV_HEADERS, StreamEvent.SEND_END_STREAM, StreamEvent.RECV_HEADERS])?.kind, 'half-closed-local')
  t.same(run([StreamEvent.SEND_HEADERS, StreamEvent.SEND_END_STREAM, StreamEvent.RECV_END_STREAM]), { kind: 'closed', cause: 'end-stream', errorCode: 0 })
  t.same(run([StreamEvent.SEND_HEADERS, StreamEvent.RECV_END_STREAM, StreamEvent.SEND_END_STREAM]), { kind: 'closed', cause: 'end-stream', errorCode: 0 })
  for (const prefix of [[StreamEvent.SEND_HEADERS], [StreamEvent.SEND_HEADERS, StreamEvent.SEND_END_STREAM], [StreamEvent.SEND_HEADERS, StreamEvent.RECV_END_STREAM]]) {
    t.same(run([...prefix, StreamEvent.SEND_RESET]), { kind: 'closed', cause: 'reset-sent', errorCode: 8 })
    t.same(run([...prefix, StreamEvent.RECV_RESET]), { kind: 'closed', cause: 'reset-received', errorCode: 8 })
  }
  // Unlisted transitions.
  for (const event of ALL_EVENTS) if (event !== StreamEvent.SEND_HEADERS) t.equal(transition(INITIAL_STREAM_STATE, event), null, `idle + ${event}`)
  const closed = run([StreamEvent.SEND_HEADERS, StreamEvent.SEND_RESET]) as StreamState
  for (const event of ALL_EVENTS) t.equal(transition(closed, event), null, `closed + ${event}`)
  const open = run([StreamEvent.SEND_HEADERS]) as StreamState
  t.equal(transition(open, StreamEvent.SEND_HEADERS), null, 'open + send-headers')
  const local = run([StreamEvent.SEND_HEADERS, StreamEvent.SEND_END_STREAM]) as StreamState
  t.equal(transition(local, StreamEvent.SEND_END_STREAM), null, 'half-closed(local) + send ES')
  t.equal(transition(local, StreamEvent.SEND_HEADERS), null)
  const remote = run([StreamEvent.SEND_HEADERS, StreamEvent.RECV_END_STREAM]) as StreamState
  t.equal(transition(remote, StreamEvent.RECV_HEADERS), null, 'half-closed(remote) + recv H is STREAM_CLOSED')
  t.equal(transition(remote, StreamEvent.RECV_END_STREAM), null)
  t.ok(canSend(open) && canReceive(open))
  t.ok(canReceive(local) && !canSend(local))
  t.ok(canSend(remote) && !canReceive(remote))
  t.ok(!canSend(closed) && !canReceive(closed))
})

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

t.test('peer SETTINGS apply in order; net INITIAL_WINDOW_SIZE delta', async (t) => {
  const peer = new PeerSettings()
  t.equal(peer.maxConcurrentStreams, Infinity)
  const change = peer.apply([
    [SettingsId.INITIAL_WINDOW_SIZE, 100],
    [SettingsId.INITIAL_WINDOW_SIZE, 70_000],
    [SettingsId.MAX_FRAME_SIZE, 20_000],
    [SettingsId.HEADER_TABLE_SIZE, 0],
    [SettingsId.MAX_CONCURRENT_STREAMS, 7],
    [SettingsId.MAX_HEADER_LIST_SIZE, 1000],
    [SettingsId.ENABLE_PUSH, 0],
    [SettingsId.ENABLE_CONNECT_PROTOCOL, 1],
    [SettingsId.NO_RFC7540_PRIORITIES, 1],
  ])
  t.same(change, { windowDelta: 70_000 - 65_535, headerTableSize: 0, maxFrameSize: 20_000, concurrencyChanged: true })
  t.match(peer, { maxConcurrentStreams: 7, maxHeaderListSize: 1000, enablePush: 0, enableConnectProtocol: 1, received: 1 })
  t.same(peer.apply([]), { windowDelta: 0, headerTableSize: -1, maxFrameSize: -1, concurrencyChanged: false })
  t.same(localSettings({ initialWindowSize: 65_535, maxHeaderListSize: 10 }), [
    [SettingsId.ENABLE_PUSH, 0],
    [SettingsId.MAX_HEADER_LIST_SIZE, 10],
  ])
  t.same(localSettings({ initialWindowSize: 1 << 20, maxHeaderListSize: 10 }), [
    [SettingsId.ENABLE_PUSH, 0],
    [SettingsId.INITIAL_WINDOW_SIZE, 1 << 20],
    [SettingsId.MAX_HEADER_LIST_SIZE, 10],
  ])
})

t.test('request fields: pseudo-headers first, lowercase, no connection-specific fields', async (t) => {
  const fields = requestFields(
    makeRequest({ method: 'POST', path: '', headers: ['Accept', 'a', 'TE', 'trailers', 'Host', 'h', 'content-length', '99', 'Expect', '100-continue'] }),
    'https',
    5,
  )
  t.same(fields, [':method', 'POST', ':scheme', 'https', ':authority', 'localhost', ':path', '/', 'accept', 'a', 'te', 'trailers', 'content-length', '5'])
  t.same(requestFields(makeRequest({ headers: ['content-length', '0'] }), 'http', 0).slice(8), ['content-length', '0'])
  t.same(requestFields(makeRequest({ method: 'PUT' }), 'http', 0).slice(8), ['content-length', '0'])
  t.same(requestFields(makeRequest({ method: 'POST', headers: ['content-length', '3'] }), 'http', -1).slice(8), ['content-length', '3'])
  t.throws(() => requestFields(makeRequest({ method: '' }), 'http', 0), { code: 'WP_INVALID_ARG' })
  t.same(requestFields(makeRequest({ method: 'PUT', expectContinue: true }), 'http', 3).slice(8), ['content-length', '3', 'expect', '100-continue'])
  t.same(requestFields(makeRequest({ method: 'PUT', expectContinue: true }), 'http', 0).slice(8), ['content-length', '0'])
})

t.test('response sections: valid heads, trailers and each malformation', async (t) => {
  t.same(parseResponseSection([':status', '200', 'content-length', '5', 'content-length', '5', 'x', ''], false), {
    status: 200,
    fields: ['content-length', '5', 'content-length', '5', 'x', ''],
    contentLength: 5,
  })
  t.same(parseResponseSection(['x-t', '1'], true), { status: -1, fields: ['x-t', '1'], contentLength: -1 })
  const bad: Array<[string[], boolean]> = [
    [['', 'x'], false],
    [[':status', '099'], false],
    [[':status', '20'], false],
    [[':status', '200', 'content-length', 'x'], false],
    [[':status', '200', 'content-length', '1', 'content-length', '2'], false],
    [[':status', '200', 'content-length', ''], false],
    [[':status', '200', 'x', 'a\nb'], false],
    [[':status', '200', 'x', 'a\t'], false],
    [[':status', '200', 'bad name', '1'], false],
    [[':status', '200', 'x\u00ff', '1'], false],
    [[':status', '200', 'keep-alive', '1'], false],
  ]
  for (const [section, trailers] of bad) t.type(parseResponseSection(section, trailers), 'string', JSON.stringify(section))
})

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
