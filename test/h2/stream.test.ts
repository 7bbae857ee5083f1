/**
 * stream.ts: the RFC 9113 §5.1 state machine — the transition table (every listed move, every
 * unlisted one refused), H2Stream.transition as its one writer (an unlisted move throws under
 * test, is an INTERNAL_ERROR in production), and the stream's send queue.
 */
import t, { type Test } from 'tap'
import { H2ProtocolError } from '../../src/errors.js'
import { ReceiveWindow, SendWindow } from '../../src/h2/flow.js'
import { H2Stream, INITIAL_STREAM_STATE, StreamEvent, canReceive, canSend, nextStreamState, type StreamState } from '../../src/h2/stream.js'
import { IllegalTransitionError } from '../../src/errors.js'
import { setStrictStates, strictStates } from '../../src/state-machine.js'
import { Collector, makeRequest } from './session-helpers.js'

const ALL_EVENTS = Object.values(StreamEvent)

function run(events: StreamEvent[]): StreamState | null {
  let state: StreamState | null = INITIAL_STREAM_STATE
  for (const event of events) {
    if (state === null) return null
    state = nextStreamState(state, event, 8)
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
  for (const event of ALL_EVENTS) if (event !== StreamEvent.SEND_HEADERS) t.equal(nextStreamState(INITIAL_STREAM_STATE, event), null, `idle + ${event}`)
  const closed = run([StreamEvent.SEND_HEADERS, StreamEvent.SEND_RESET]) as StreamState
  for (const event of ALL_EVENTS) t.equal(nextStreamState(closed, event), null, `closed + ${event}`)
  const open = run([StreamEvent.SEND_HEADERS]) as StreamState
  t.equal(nextStreamState(open, StreamEvent.SEND_HEADERS), null, 'open + send-headers')
  const local = run([StreamEvent.SEND_HEADERS, StreamEvent.SEND_END_STREAM]) as StreamState
  t.equal(nextStreamState(local, StreamEvent.SEND_END_STREAM), null, 'half-closed(local) + send ES')
  t.equal(nextStreamState(local, StreamEvent.SEND_HEADERS), null)
  const remote = run([StreamEvent.SEND_HEADERS, StreamEvent.RECV_END_STREAM]) as StreamState
  t.equal(nextStreamState(remote, StreamEvent.RECV_HEADERS), null, 'half-closed(remote) + recv H is STREAM_CLOSED')
  t.equal(nextStreamState(remote, StreamEvent.RECV_END_STREAM), null)
  t.ok(canSend(open) && canReceive(open))
  t.ok(canReceive(local) && !canSend(local))
  t.ok(canSend(remote) && !canReceive(remote))
  t.ok(!canSend(closed) && !canReceive(closed))
})

function newStream(id = 1): H2Stream {
  const s = new H2Stream(makeRequest(), new Collector(), new SendWindow(), new ReceiveWindow(), 0, () => {}, () => {})
  s.id = id
  return s
}

/** A stream driven to `events` through apply (the one writer of its state). */
function streamAfter(t: Test, events: StreamEvent[], code = 8): H2Stream {
  const s = newStream()
  for (const event of events) t.equal(s.transition(event, code), null, `apply ${event}`)
  return s
}

/** Every move §5.1 lists for a client without pushes: [events to reach the state, event, next state]. */
const LISTED: Array<[StreamEvent[], StreamEvent, StreamState]> = [
  [[], StreamEvent.SEND_HEADERS, { kind: 'open' }],
  [[StreamEvent.SEND_HEADERS], StreamEvent.SEND_END_STREAM, { kind: 'half-closed-local' }],
  [[StreamEvent.SEND_HEADERS], StreamEvent.RECV_END_STREAM, { kind: 'half-closed-remote' }],
  [[StreamEvent.SEND_HEADERS], StreamEvent.RECV_HEADERS, { kind: 'open' }],
  [[StreamEvent.SEND_HEADERS], StreamEvent.SEND_RESET, { kind: 'closed', cause: 'reset-sent', errorCode: 8 }],
  [[StreamEvent.SEND_HEADERS], StreamEvent.RECV_RESET, { kind: 'closed', cause: 'reset-received', errorCode: 8 }],
  [[StreamEvent.SEND_HEADERS, StreamEvent.SEND_END_STREAM], StreamEvent.RECV_HEADERS, { kind: 'half-closed-local' }],
  [[StreamEvent.SEND_HEADERS, StreamEvent.SEND_END_STREAM], StreamEvent.RECV_END_STREAM, { kind: 'closed', cause: 'end-stream', errorCode: 0 }],
  [[StreamEvent.SEND_HEADERS, StreamEvent.SEND_END_STREAM], StreamEvent.SEND_RESET, { kind: 'closed', cause: 'reset-sent', errorCode: 8 }],
  [[StreamEvent.SEND_HEADERS, StreamEvent.SEND_END_STREAM], StreamEvent.RECV_RESET, { kind: 'closed', cause: 'reset-received', errorCode: 8 }],
  [[StreamEvent.SEND_HEADERS, StreamEvent.RECV_END_STREAM], StreamEvent.SEND_END_STREAM, { kind: 'closed', cause: 'end-stream', errorCode: 0 }],
  [[StreamEvent.SEND_HEADERS, StreamEvent.RECV_END_STREAM], StreamEvent.SEND_RESET, { kind: 'closed', cause: 'reset-sent', errorCode: 8 }],
  [[StreamEvent.SEND_HEADERS, StreamEvent.RECV_END_STREAM], StreamEvent.RECV_RESET, { kind: 'closed', cause: 'reset-received', errorCode: 8 }],
]

t.test('H2Stream.transition makes every listed §5.1 move', async (t) => {
  t.ok(strictStates(), 'tests run with strict state machines (TAP=1)')
  for (const [path, event, expected] of LISTED) {
    const s = streamAfter(t, path)
    t.equal(s.transition(event, 8), null, `${s.state.kind} + ${event}`)
    t.same(s.state, expected, `${path.join(' → ') || 'idle'} → ${event}`)
  }
})

t.test('H2Stream.transition: an unlisted move is a bug — it throws under test and leaves the state', async (t) => {
  const reach: Record<StreamState['kind'], StreamEvent[]> = {
    idle: [],
    open: [StreamEvent.SEND_HEADERS],
    'half-closed-local': [StreamEvent.SEND_HEADERS, StreamEvent.SEND_END_STREAM],
    'half-closed-remote': [StreamEvent.SEND_HEADERS, StreamEvent.RECV_END_STREAM],
    closed: [StreamEvent.SEND_HEADERS, StreamEvent.SEND_RESET],
  }
  let unlisted = 0
  for (const [kind, path] of Object.entries(reach)) {
    for (const event of ALL_EVENTS) {
      const listed = LISTED.some(([p, e]) => e === event && p.length === path.length && p.every((x, i) => x === path[i]))
      if (listed) continue
      unlisted++
      const s = streamAfter(t, path)
      const before = s.state
      t.throws(() => s.transition(event), IllegalTransitionError, `${kind} + ${event} throws`)
      t.equal(s.state, before, `${kind} + ${event} leaves the state`)
    }
  }
  t.equal(unlisted, 5 * ALL_EVENTS.length - LISTED.length, 'every unlisted move was tried')
})

t.test('H2Stream.transition in production: an unlisted move returns the internal error to fail the connection with', async (t) => {
  const before = setStrictStates(false)
  t.teardown(() => setStrictStates(before))
  const s = streamAfter(t, [StreamEvent.SEND_HEADERS, StreamEvent.SEND_RESET])
  const err = s.transition(StreamEvent.RECV_HEADERS)
  t.type(err, IllegalTransitionError)
  t.match(err, { code: 'WP_INTERNAL', initiator: 'library', machine: 'HTTP/2 stream 1', from: 'closed', to: 'recv-headers', message: /HTTP\/2 stream 1 has no transition closed -> recv-headers/ })
  t.equal(s.state.kind, 'closed')
})

t.test('the send queue: views when one chunk holds a frame, one copy across chunks', async (t) => {
  const s = newStream()
  const a = Buffer.from('hello')
  s.queue(a)
  s.queue(Buffer.from(' world'))
  t.equal(s.queuedBytes, 11)
  const first = s.takeBytes(3)
  t.equal(first.buffer, a.buffer, 'a view into the first chunk')
  t.equal(Buffer.from(first).toString(), 'hel')
  t.equal(Buffer.from(s.takeBytes(5)).toString(), 'lo wo', 'across two chunks')
  t.equal(s.queuedBytes, 3)
  t.equal(Buffer.from(s.takeBytes(3)).toString(), 'rld')
  t.equal(s.queuedBytes, 0)
  s.queue(Buffer.from('abc'))
  s.dropQueue()
  t.equal(s.queuedBytes, 0)
  s.queue(Buffer.from('xy'))
  t.equal(Buffer.from(s.takeBytes(2)).toString(), 'xy', 'a dropped queue starts over')
})
