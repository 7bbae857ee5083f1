/**
 * The record lifecycle and the selection rules without sockets: fake connections, records
 * moved through Lifecycle#transition, and the pure pick functions of selection.ts.
 */
import t from 'tap'
import { EventEmitter } from 'node:events'
import type { DispatchRequest, PoolConnection, Protocol } from '../../src/dispatch.js'
import type { WirepoolError } from '../../src/errors.js'
import { ErrorCode, IllegalTransitionError } from '../../src/errors.js'
import { setStrictStates } from '../../src/state-machine.js'
import { recordError } from '../../src/pool/health.js'
import { Lifecycle, newestConnectionId, newRecord, observedState, type ConnectionRecord, type ConnectionState, type LifecycleOwner, type OpenRecord, type RecordState } from '../../src/pool/lifecycle.js'
import { anyExtendedConnect, countEstablished, pickCarrier, pickConnection, pickForUpgrade, pickFresh, pickPipelined } from '../../src/pool/selection.js'
import { PoolFigures } from '../../src/pool/stats.js'
import type { PeerCertificateInfo } from '../../src/tls/connect.js'

interface FakeShape {
  protocol?: Protocol
  capacity?: number
  inFlight?: number
  multiplexed?: boolean
  extendedConnect?: boolean
  rttMs?: number
  retired?: boolean
}

/** Just the fields selection and the lifecycle read; `destroyed` records a destroy(err). */
class FakeConnection extends EventEmitter {
  readonly id = 0
  protocol: Protocol
  capacity: number
  inFlight: number
  multiplexed: boolean
  extendedConnect: boolean
  rttMs: number | undefined
  retired: boolean
  readonly capacityKnown = true
  readonly requestsServed = 0
  readonly remoteAddress = undefined
  readonly tlsResumed = null
  readonly idleTimeoutHint = undefined
  destroyed: WirepoolError | undefined

  constructor(shape: FakeShape) {
    super()
    this.protocol = shape.protocol ?? (shape.multiplexed === true ? 'h2' : 'http/1.1')
    this.capacity = shape.capacity ?? 1
    this.inFlight = shape.inFlight ?? 0
    this.multiplexed = shape.multiplexed ?? false
    this.extendedConnect = shape.extendedConnect ?? false
    this.rttMs = shape.rttMs
    this.retired = shape.retired ?? false
  }

  dispatch(): void {}
  setKeepsProcessAlive(): void {}
  ping(): Promise<number> {
    return Promise.resolve(0)
  }
  close(): Promise<void> {
    return Promise.resolve()
  }
  destroy(err?: WirepoolError): void {
    this.destroyed = err
  }
}

interface Published {
  id: number
  from: ConnectionState | undefined
  to: ConnectionState
  reason: string
}

function newLifecycle(): { lifecycle: Lifecycle; events: Published[]; figures: PoolFigures } {
  const events: Published[] = []
  const owner: LifecycleOwner = {
    armIdleTimer: () => {},
    unbindAffinity: () => {},
    publish: (rec, from, to, reason) => events.push({ id: rec.id, from, to, reason }),
    recordClosed: () => {},
  }
  const figures = new PoolFigures()
  return { lifecycle: new Lifecycle('http://fake:1', figures, undefined, owner), events, figures }
}

/** A record moved to `state` through the lifecycle, on a fake connection of `shape`. */
function recordIn(lifecycle: Lifecycle, state: RecordState, shape: FakeShape = {}): ConnectionRecord {
  const rec = newRecord(false)
  lifecycle.add(rec, 'demand')
  if (state === 'connecting') return rec
  const conn = new FakeConnection(shape) as unknown as PoolConnection
  lifecycle.transition(rec, 'handshaking', 'connected', conn)
  const path: Partial<Record<RecordState, RecordState[]>> = {
    handshaking: [],
    idle: ['idle'],
    busy: ['idle', 'busy'],
    held: ['idle', 'busy', 'held'],
    draining: ['idle', 'draining'],
    closed: ['closed'],
  }
  for (const to of path[state] ?? []) lifecycle.transition(rec, to, 'test')
  return rec
}

function request(init: Partial<DispatchRequest> = {}): DispatchRequest {
  return { method: 'GET', path: '/', idempotent: true, upgrade: undefined, ...init } as DispatchRequest
}

function pick(lifecycle: Lifecycle, req: DispatchRequest, opts: { freshAfter?: number; bound?: ConnectionRecord; shareBusy?: boolean; pipeline?: boolean } = {}): OpenRecord | undefined {
  return pickConnection(lifecycle, req, opts.freshAfter, opts.bound, opts.shareBusy ?? false, opts.pipeline ?? false, Date.now())
}

t.test('lifecycle: the listed moves, what they publish and what figures observe', async (t) => {
  const { lifecycle, events, figures } = newLifecycle()
  const rec = recordIn(lifecycle, 'held')
  t.equal(rec.state, 'held')
  t.equal(observedState(rec), 'idle', 'a held connection with nothing in flight is idle to figures')
  t.same(
    events.map((e) => [e.from, e.to]),
    [
      [undefined, 'connecting'],
      ['connecting', 'idle'],
      ['idle', 'busy'],
    ],
    'connecting → handshaking and busy → held publish nothing (reported alike)',
  )
  lifecycle.transition(rec, 'idle', 'request-done')
  t.same(events.at(-1), { id: rec.id, from: 'busy', to: 'idle', reason: 'request-done' }, 'held → idle is reported as busy → idle')
  t.equal(lifecycle.idle.last, rec, 'an idle record is on the idle list')
  lifecycle.transition(rec, 'draining', 'max-age')
  t.equal(lifecycle.idle.size, 0, 'leaving idle unlinks it')
  t.equal(lifecycle.live, 0, 'draining records do not count as live')
  lifecycle.transition(rec, 'closed', 'closed')
  t.same(figures.closedByReason, { 'max-age': 1 }, 'closed by what retired it')
  t.equal(lifecycle.records.size, 0)
  t.equal(figures.connectionsClosed, 1)
  const connecting = recordIn(lifecycle, 'connecting')
  t.equal(observedState(connecting), 'connecting')
  t.equal(lifecycle.connecting, 1)
  const handshaking = recordIn(lifecycle, 'handshaking')
  t.equal(observedState(handshaking), 'connecting', 'handshaking is reported as connecting')
  t.equal(lifecycle.connecting, 2)
})

t.test('lifecycle: an unlisted move throws under tap and changes nothing', async (t) => {
  t.equal(process.env['TAP'], '1', 'tap sets TAP=1')
  const { lifecycle } = newLifecycle()
  const unlisted: Array<[RecordState, RecordState]> = [
    ['connecting', 'idle'],
    ['connecting', 'busy'],
    ['handshaking', 'busy'],
    ['idle', 'idle'],
    ['idle', 'held'],
    ['draining', 'idle'],
    ['draining', 'busy'],
    ['closed', 'idle'],
    ['closed', 'closed'],
  ]
  for (const [from, to] of unlisted) {
    const rec = recordIn(lifecycle, from)
    t.throws(() => lifecycle.transition(rec, to, 'test'), IllegalTransitionError, `${from} -> ${to}`)
    t.equal(rec.state, from, `${from} stays ${from}`)
  }
  const rec = recordIn(lifecycle, 'connecting')
  t.throws(() => lifecycle.transition(rec, 'handshaking', 'connected'), IllegalTransitionError, 'leaving connecting needs the connection')
})

t.test('lifecycle: in production an unlisted move fails the connection with an internal error', async (t) => {
  const { lifecycle, figures } = newLifecycle()
  const strict = setStrictStates(false)
  t.teardown(() => setStrictStates(strict))
  const rec = recordIn(lifecycle, 'draining')
  lifecycle.transition(rec, 'idle', 'test')
  t.equal(rec.state, 'draining', 'the move did not happen')
  const destroyed = (rec.conn as unknown as FakeConnection).destroyed
  t.equal(destroyed?.code, ErrorCode.INTERNAL)
  t.type(destroyed, IllegalTransitionError)
  t.match(destroyed?.message, /internal error: pool connection \d+ has no transition draining -> idle \(test\)/)
  t.equal(figures.errors['internal_error:illegal_transition'], 1)
  const connecting = recordIn(lifecycle, 'connecting')
  lifecycle.transition(connecting, 'busy', 'test')
  t.equal(connecting.state, 'closed', 'a connecting record is aborted and closed')
})

t.test('selection: the healthiest idle connection, most recently used first', async (t) => {
  const { lifecycle } = newLifecycle()
  t.equal(pick(lifecycle, request()), undefined, 'nothing to pick')
  const older = recordIn(lifecycle, 'idle')
  const newer = recordIn(lifecycle, 'idle')
  t.equal(pick(lifecycle, request()), newer, 'most recently used first')
  recordError(newer, Date.now())
  t.equal(pick(lifecycle, request()), older, 'a recent error makes a connection less healthy')
  const full = recordIn(lifecycle, 'idle', { capacity: 0 })
  t.not(pick(lifecycle, request()), full, 'no connection without room')
  recordIn(lifecycle, 'connecting')
  recordIn(lifecycle, 'handshaking')
  t.equal(pick(lifecycle, request()), older, 'connecting and handshaking records take nothing')
})

t.test('selection: stale-socket retries go to a connection never used or made after the failure', async (t) => {
  const { lifecycle } = newLifecycle()
  const used = recordIn(lifecycle, 'idle')
  used.requests = 3
  const oldBusy = recordIn(lifecycle, 'busy', { multiplexed: true, capacity: 50, inFlight: 1 })
  oldBusy.requests = 1
  const failedAt = newestConnectionId()
  t.equal(pick(lifecycle, request(), { freshAfter: failedAt, shareBusy: true }), undefined, 'used connections of the failed generation take no retry')
  t.equal(pickFresh(lifecycle, failedAt, true), undefined)

  // Made after the failure: a busy HTTP/2 connection with room takes it (every stream of a
  // connection that closed belongs on the one new connection), only on a multiplexed origin.
  const newBusy = recordIn(lifecycle, 'busy', { multiplexed: true, capacity: 99, inFlight: 1 })
  newBusy.requests = 1
  t.equal(pick(lifecycle, request(), { freshAfter: failedAt, shareBusy: true }), newBusy)
  t.equal(pick(lifecycle, request(), { freshAfter: failedAt }), undefined, 'busy connections are shared only on an HTTP/2 origin')
  const newFull = recordIn(lifecycle, 'busy', { multiplexed: true, capacity: 0, inFlight: 100 })
  newFull.requests = 100
  t.equal(pick(lifecycle, request(), { freshAfter: failedAt, shareBusy: true }), newBusy, 'not one without room')

  // An idle one made after the failure (used since) comes first; one with no room does not.
  const newIdleFull = recordIn(lifecycle, 'idle', { capacity: 0 })
  newIdleFull.requests = 1
  t.equal(pick(lifecycle, request(), { freshAfter: failedAt, shareBusy: true }), newBusy)
  const newIdle = recordIn(lifecycle, 'idle')
  newIdle.requests = 2
  t.equal(pick(lifecycle, request(), { freshAfter: failedAt, shareBusy: true }), newIdle)

  // Never used, even if made before the failure (it carried no request: it is no kept-alive socket).
  const { lifecycle: other } = newLifecycle()
  const unused = recordIn(other, 'idle')
  const later = newestConnectionId()
  t.equal(pick(other, request(), { freshAfter: later }), unused)
})

t.test('selection: a keyed request waits for its bound connection', async (t) => {
  const { lifecycle } = newLifecycle()
  recordIn(lifecycle, 'idle')
  const bound = recordIn(lifecycle, 'busy', { capacity: 0, inFlight: 1 })
  t.equal(pick(lifecycle, request(), { bound }), undefined, 'bound and full: wait, even with an idle one free')
  ;(bound.conn as unknown as FakeConnection).capacity = 1
  t.equal(pick(lifecycle, request(), { bound }), bound, 'bound with room: go')
})

t.test('selection: HTTP/2 shares the least loaded busy connection, weighted by health', async (t) => {
  const { lifecycle } = newLifecycle()
  const loaded = recordIn(lifecycle, 'busy', { multiplexed: true, capacity: 10, inFlight: 5 })
  const light = recordIn(lifecycle, 'busy', { multiplexed: true, capacity: 10, inFlight: 1 })
  recordIn(lifecycle, 'busy', { multiplexed: true, capacity: 0, inFlight: 100 })
  t.equal(pick(lifecycle, request()), undefined, 'busy connections are not shared unless the origin speaks h2')
  t.equal(pick(lifecycle, request(), { shareBusy: true }), light)
  recordError(light, Date.now())
  recordError(light, Date.now())
  recordError(light, Date.now())
  t.equal(pick(lifecycle, request(), { shareBusy: true }), loaded, 'errors weigh against the lighter one')
})

t.test('selection: pipelining takes the least loaded busy or held HTTP/1.1 connection, idempotent requests only', async (t) => {
  const { lifecycle } = newLifecycle()
  const a = recordIn(lifecycle, 'busy', { capacity: 2, inFlight: 3 })
  const held = recordIn(lifecycle, 'held', { capacity: 2, inFlight: 0 })
  t.equal(pick(lifecycle, request(), { pipeline: false }), undefined, 'not while a new connection may be opened')
  t.equal(pick(lifecycle, request({ idempotent: false }), { pipeline: true }), undefined, 'never a non-idempotent request')
  t.equal(pick(lifecycle, request(), { pipeline: true }), held)
  t.equal(pickPipelined(lifecycle.records), held)
  ;(held.conn as unknown as FakeConnection).capacity = 0
  t.equal(pickPipelined(lifecycle.records), a)
})

t.test('selection: upgrades go to an extended CONNECT stream first, else an idle HTTP/1.1 connection', async (t) => {
  const { lifecycle } = newLifecycle()
  const upgrade = request({ upgrade: 'websocket' })
  recordIn(lifecycle, 'busy', { multiplexed: true, capacity: 5, inFlight: 1 })
  t.notOk(anyExtendedConnect(lifecycle.records))
  t.equal(pick(lifecycle, upgrade), undefined, 'an h2 connection without extended CONNECT takes no upgrade')
  const h1 = recordIn(lifecycle, 'idle')
  t.equal(pickForUpgrade(lifecycle), h1)
  const h2 = recordIn(lifecycle, 'busy', { multiplexed: true, extendedConnect: true, capacity: 5, inFlight: 2 })
  t.ok(anyExtendedConnect(lifecycle.records))
  t.equal(pick(lifecycle, upgrade), h2)
})

t.test('selection: a coalescing carrier reached the address and holds a certificate for the name', async (t) => {
  const { lifecycle } = newLifecycle()
  const cert = { subject: 'CN=a.test', issuer: 'CN=ca', validTo: new Date(Date.now() + 86_400_000), subjectAltName: 'DNS:a.test, DNS:b.test' } as unknown as PeerCertificateInfo
  const rec = recordIn(lifecycle, 'busy', { multiplexed: true, capacity: 5, inFlight: 1 })
  rec.remoteAddress = '127.0.0.1'
  rec.certificate = cert
  const elsewhere = recordIn(lifecycle, 'busy', { multiplexed: true, capacity: 5, inFlight: 0 })
  elsewhere.remoteAddress = '10.0.0.1'
  elsewhere.certificate = cert
  t.equal(pickCarrier(lifecycle.records, 'b.test', new Set(['127.0.0.1'])), rec)
  t.equal(pickCarrier(lifecycle.records, 'c.test', new Set(['127.0.0.1'])), undefined, 'not covered by the certificate')
  t.equal(pickCarrier(lifecycle.records, 'b.test', new Set(['127.0.0.2'])), undefined, 'not an address of the name')
  t.equal(countEstablished(lifecycle.records), 2)
})
