/**
 * One bench thread: an Agent with `clients` connections and `maxStreams` requests in flight
 * on each (HTTP/1.1 pipelining depth, or HTTP/2 streams), kept full until the thread's
 * quota is done (count mode) or the measurement time is over (duration mode). Requests go
 * through the low-level handler, so no Readable sits between the socket and the counters.
 *
 * With `rate` (open loop, `--rate`), requests are not started by the previous one's end but by
 * a timetable: request k is *intended* at start + offset + k / rate. One that finds every
 * connection/stream busy waits in a FIFO backlog and goes out when one frees. Its latency is
 * recorded twice: from its intended start (corrected for coordinated omission, as wrk2 does)
 * and from its actual send (what a closed-loop tool reports). A stall of the server then shows
 * in the corrected figures as the queue it would have built in front of real users.
 */
import { Agent, type AgentOptions, type ConnectionEvent, type ConnectionInfo, type DispatchHandler, type HeaderRecord, type WirepoolError } from '../index.js'
import { Histogram, type HistogramSnapshot } from './histogram.js'
import { LATE_MS, emptyStatusClasses, type OpenLoopCounts, type ThreadResult } from './bench-stats.js'
import { SeriesRecorder } from './bench-series.js'

export interface ClientConfig {
  thread: number
  url: string
  method: string
  headers: Array<[string, string]>
  body: Uint8Array | undefined
  clients: number
  maxStreams: number
  /** Count mode: requests for this thread. Ignored when durationMs is set. */
  requests: number
  durationMs: number | undefined
  warmUpMs: number
  agentOptions: AgentOptions
  /** Open loop: this thread's share of `--rate` in requests per second. */
  rate: number | undefined
  /** Open loop: this thread's first intended start, ms after the run's start (threads interleave). */
  rateOffsetMs: number
  /** Collect the per-second time series (for --json, --csv, --html). */
  series: boolean
  /** Report progress every `liveMs` (0: never). */
  liveMs: number
}

/** What a thread reports while it runs, for the live status line. */
export interface Progress {
  done: number
  failed: number
  /** Latency so far (corrected in open loop), µs. */
  latency: HistogramSnapshot
}

/** Open loop: requests kept waiting for a free connection/stream at most; beyond, dropped. */
const MAX_BACKLOG = 1_000_000
/** Open loop: how long in-flight requests may take to finish once the timetable is over. */
const GRACE_MS = 10_000

/**
 * warm-up → measuring → stopping → done. Only requests that start and end while measuring
 * are counted in duration mode (as h2load does); in count mode every request is.
 */
type Phase = 'warm-up' | 'measuring' | 'stopping' | 'done'

interface ConnectionRecord {
  openedAt: number
  connectUs: number | undefined
  firstByteUs: number | undefined
  succeeded: number
  lastDoneAt: number
}

/** Wall-clock ms with sub-ms precision, comparable across worker threads. */
const wallClock = (): number => performance.timeOrigin + performance.now()

const TIMEOUT_CODES: ReadonlySet<string> = new Set(['WP_CONNECT_TIMEOUT', 'WP_HEADERS_TIMEOUT', 'WP_BODY_TIMEOUT'])

export async function runClients(config: ClientConfig, onProgress?: (progress: Progress) => void): Promise<ThreadResult> {
  const agent = new Agent({
    ...config.agentOptions,
    connections: config.clients,
    pipelining: config.maxStreams,
    maxConcurrentStreams: config.maxStreams,
    // A load generator reports what happened; a silent retry would hide a failure.
    retry: false,
    decompress: false,
  })
  const requestTime = new Histogram()
  const openLoop = config.rate !== undefined
  const corrected = openLoop ? new Histogram() : undefined
  const series = config.series ? new SeriesRecorder() : undefined
  /** Duration mode counts a request as started when it ends inside the measured phase (as h2load). */
  const startedAtEnd = config.durationMs !== undefined && !openLoop
  const counts: OpenLoopCounts = { scheduled: 0, sent: 0, late: 0, queued: 0, dropped: 0, unfinished: 0, maxBacklog: 0, achievedPerSecond: 0 }
  const connections = new Map<number, ConnectionRecord>()
  const result: ThreadResult = {
    thread: config.thread,
    clients: config.clients,
    total: config.durationMs === undefined ? config.requests : 0,
    started: 0,
    done: 0,
    succeeded: 0,
    failed: 0,
    errored: 0,
    timeout: 0,
    statusClasses: emptyStatusClasses(),
    bytesTotal: 0,
    bytesHead: 0,
    bytesData: 0,
    requestTime: requestTime.snapshot(),
    connectTimes: [],
    firstByteTimes: [],
    clientRps: [],
    protocols: [],
    errors: {},
    startedAt: wallClock(),
    endedAt: 0,
    measureStartedAt: 0,
    measureEndedAt: 0,
    correctedTime: undefined,
    openLoop: undefined,
    series: [],
  }

  agent.on('connection', (ev: ConnectionEvent) => {
    if (ev.from === undefined) {
      connections.set(ev.id, { openedAt: performance.now(), connectUs: undefined, firstByteUs: undefined, succeeded: 0, lastDoneAt: 0 })
      return
    }
    const rec = connections.get(ev.id)
    // Events are published synchronously with the state change, so our own clock is finer
    // than the event's millisecond `age`.
    if (rec !== undefined && ev.from === 'connecting' && ev.to !== 'closed') rec.connectUs = (performance.now() - rec.openedAt) * 1000
    if (ev.protocol !== undefined && !result.protocols.includes(ev.protocol)) result.protocols.push(ev.protocol)
  })

  // One origin: its pool takes the requests directly, so the URL is parsed once, not per request.
  const url = new URL(config.url)
  const pool = agent.pool(url.origin)
  const path = `${url.pathname}${url.search}`

  let phase: Phase = 'warm-up'
  let issued = 0
  let inFlight = 0
  let settle: () => void = () => {}
  const finished = new Promise<void>((resolve) => {
    settle = resolve
  })
  const timers: NodeJS.Timeout[] = []
  /** The one place the phase changes, with what each change starts or records. */
  const transition = (next: Phase): void => {
    if (next === phase) return
    phase = next
    switch (next) {
      case 'measuring':
        result.measureStartedAt = wallClock()
        series?.start(performance.now())
        if (config.durationMs !== undefined && !openLoop) timers.push(setTimeout(() => transition('stopping'), config.durationMs))
        break
      case 'stopping':
        if (!openLoop) result.measureEndedAt = wallClock()
        settle()
        break
      case 'done':
        for (const timer of timers) clearTimeout(timer)
        break
      case 'warm-up':
        break
    }
  }

  const wantsMore = (): boolean => {
    if (phase === 'stopping' || phase === 'done') return false
    return config.durationMs !== undefined || issued < config.requests
  }

  const issue = (): void => {
    issued++
    inFlight++
    const counted = phase === 'measuring'
    if (counted && config.durationMs === undefined) result.started++
    pool.dispatch({ path, method: config.method, headers: config.headers, body: config.body }, new Probe(performance.now(), counted, -1))
  }

  /** One request's handler: records it and starts the next one in its lane. */
  class Probe implements DispatchHandler {
    readonly #startedAt: number
    readonly #counted: boolean
    /** Open loop: the intended start (performance.now() ms); −1 in closed loop. */
    readonly #intendedAt: number
    #connection: ConnectionRecord | undefined
    #status = 0
    #head = 0
    #wire = 0
    #data = 0
    #h2 = false

    constructor(startedAt: number, counted: boolean, intendedAt: number) {
      this.#startedAt = startedAt
      this.#counted = counted
      this.#intendedAt = intendedAt
    }

    onConnect(_abort: (reason?: Error) => void, info: ConnectionInfo): void {
      this.#connection = connections.get(info.id)
      this.#h2 = info.protocol === 'h2'
    }

    onHeaders(status: number, headers: HeaderRecord, _resume: () => void, statusText: string): void {
      const now = performance.now()
      const conn = this.#connection
      if (conn !== undefined && conn.firstByteUs === undefined) conn.firstByteUs = (now - conn.openedAt) * 1000
      this.#status = status
      let head = 0
      let wire = `HTTP/1.1 ${status} ${statusText}\r\n`.length + 2
      for (const [name, value] of Object.entries(headers)) {
        for (const v of Array.isArray(value) ? value : [value]) {
          head += name.length + v.length
          wire += name.length + v.length + 4
        }
      }
      this.#head = head
      // HTTP/1.1: the head as it crossed the wire. HTTP/2: the engine does not expose frame
      // or HPACK byte counts, so only the field bytes are counted (bench-report says so).
      this.#wire = this.#h2 ? head : wire
    }

    onData(chunk: Uint8Array): void {
      this.#data += chunk.byteLength
    }

    onComplete(): void {
      const now = performance.now()
      if (this.#counting()) {
        if (startedAtEnd) result.started++
        result.done++
        const cls = Math.floor(this.#status / 100)
        if (cls >= 1 && cls <= 5) result.statusClasses[cls as 1 | 2 | 3 | 4 | 5]++
        const ok = this.#status >= 200 && this.#status < 400
        if (ok) {
          result.succeeded++
          const conn = this.#connection
          if (conn !== undefined) {
            conn.succeeded++
            conn.lastDoneAt = now
          }
        } else result.failed++
        result.bytesHead += this.#head
        result.bytesData += this.#data
        result.bytesTotal += this.#wire + this.#data
        requestTime.record((now - this.#startedAt) * 1000)
        if (corrected !== undefined) corrected.record((now - this.#intendedAt) * 1000)
        if (series !== undefined) series.record(now, (now - (openLoop ? this.#intendedAt : this.#startedAt)) * 1000, this.#wire + this.#data, !ok)
      }
      this.#next()
    }

    onError(err: WirepoolError): void {
      if (this.#counting()) {
        if (startedAtEnd) result.started++
        result.done++
        result.failed++
        result.errored++
        if (TIMEOUT_CODES.has(err.code)) result.timeout++
        result.errors[err.code] = (result.errors[err.code] ?? 0) + 1
        // The bytes that did arrive before the failure still crossed the wire.
        result.bytesData += this.#data
        if (series !== undefined) {
          const now = performance.now()
          series.record(now, (now - (openLoop ? this.#intendedAt : this.#startedAt)) * 1000, this.#data, true)
        }
      }
      this.#next()
    }

    #counting(): boolean {
      return this.#counted && phase === 'measuring'
    }

    #next(): void {
      inFlight--
      if (openLoop) laneFreed()
      else if (wantsMore()) issue()
      else if (inFlight === 0 && config.durationMs === undefined) transition('stopping')
    }
  }

  const lanes = config.clients * config.maxStreams

  // ---- open loop: the timetable, the backlog of requests waiting for a lane ----
  const interval = openLoop ? 1000 / (config.rate as number) : 0
  const runStart = performance.now()
  const origin = runStart + config.rateOffsetMs
  const measureFrom = runStart + config.warmUpMs
  /** Intended starts at or past this are not scheduled (duration mode). */
  const measureUntil = config.durationMs === undefined ? Infinity : measureFrom + config.durationMs
  const planned = config.durationMs === undefined ? config.requests : startsBefore(origin, interval, measureUntil)
  let nextIndex = 0
  let scheduleOver = false
  /** FIFO of intended starts; `backlogHead` is the next to go (compacted as it drains). */
  let backlog: number[] = []
  let backlogHead = 0
  let scheduleTimer: NodeJS.Timeout | undefined
  /** The measured part of the timetable, ms (set once it is over). */
  let windowMs = 1

  const inWindow = (intendedAt: number): boolean => intendedAt >= measureFrom && intendedAt < measureUntil
  const send = (intendedAt: number, now: number): void => {
    inFlight++
    const counted = inWindow(intendedAt)
    if (counted) {
      result.started++
      counts.sent++
      if (now - intendedAt > LATE_MS) counts.late++
    }
    pool.dispatch({ path, method: config.method, headers: config.headers, body: config.body }, new Probe(now, counted, intendedAt))
  }
  const maybeFinished = (): void => {
    if (scheduleOver && inFlight === 0 && backlogHead === backlog.length) transition('stopping')
  }
  const laneFreed = (): void => {
    if (phase !== 'measuring' && phase !== 'warm-up') return
    if (backlogHead < backlog.length) {
      send(backlog[backlogHead++] as number, performance.now())
      if (backlogHead > 4096 && backlogHead * 2 > backlog.length) {
        backlog = backlog.slice(backlogHead)
        backlogHead = 0
      }
    } else maybeFinished()
  }
  const tick = (): void => {
    scheduleTimer = undefined
    if (phase === 'stopping' || phase === 'done') return
    const now = performance.now()
    // Every request whose intended start has come: bounded by the plan.
    while (nextIndex < planned) {
      const intendedAt = origin + nextIndex * interval
      if (intendedAt > now) break
      nextIndex++
      if (inWindow(intendedAt)) counts.scheduled++
      if (inFlight < lanes && backlogHead === backlog.length) {
        send(intendedAt, now)
        continue
      }
      if (inWindow(intendedAt)) counts.queued++
      if (backlog.length - backlogHead >= MAX_BACKLOG) {
        if (inWindow(intendedAt)) counts.dropped++
        continue
      }
      backlog.push(intendedAt)
      counts.maxBacklog = Math.max(counts.maxBacklog, backlog.length - backlogHead)
    }
    if (nextIndex < planned) {
      scheduleTimer = setTimeout(tick, Math.max(0, origin + nextIndex * interval - performance.now()))
      return
    }
    scheduleOver = true
    const windowEnd = Math.min(measureUntil, origin + planned * interval)
    result.measureEndedAt = performance.timeOrigin + windowEnd
    windowMs = Math.max(1, windowEnd - measureFrom)
    timers.push(
      setTimeout(() => {
        // The grace is over: whatever is still waiting or in flight is reported, not awaited.
        for (let i = backlogHead; i < backlog.length; i++) if (inWindow(backlog[i] as number)) counts.dropped++
        backlogHead = backlog.length
        transition('stopping')
      }, GRACE_MS),
    )
    maybeFinished()
  }

  const liveTimer =
    onProgress !== undefined && config.liveMs > 0
      ? setInterval(() => {
          if (phase === 'measuring') onProgress({ done: result.done, failed: result.failed, latency: (corrected ?? requestTime).snapshot() })
        }, config.liveMs)
      : undefined

  if (openLoop) {
    if (config.warmUpMs > 0) timers.push(setTimeout(() => transition('measuring'), config.warmUpMs))
    else transition('measuring')
    tick()
  } else {
    if (config.durationMs !== undefined && config.warmUpMs > 0) timers.push(setTimeout(() => transition('measuring'), config.warmUpMs))
    else transition('measuring')
    for (let i = 0; i < lanes && wantsMore(); i++) issue()
    if (config.durationMs === undefined && config.requests === 0) transition('stopping')
  }
  await finished
  transition('done')
  if (scheduleTimer !== undefined) clearTimeout(scheduleTimer)
  if (liveTimer !== undefined) clearInterval(liveTimer)
  // Duration mode (or an open-loop run whose grace ran out) leaves requests in flight: they
  // are not counted, so drop them now.
  if (openLoop && inFlight > 0) counts.unfinished = counts.sent - result.done
  if (inFlight > 0) await agent.destroy()
  else await agent.close()

  result.endedAt = wallClock()
  // Duration mode has no quota: the total is what was measured (h2load prints it so too).
  if (config.durationMs !== undefined) result.total = result.started
  result.requestTime = requestTime.snapshot()
  if (corrected !== undefined) {
    result.correctedTime = corrected.snapshot()
    counts.achievedPerSecond = counts.sent / (windowMs / 1000)
    result.openLoop = counts
  }
  if (series !== undefined) result.series = series.snapshot()
  for (const rec of connections.values()) {
    if (rec.connectUs !== undefined) result.connectTimes.push(rec.connectUs)
    if (rec.firstByteUs !== undefined) result.firstByteTimes.push(rec.firstByteUs)
    const lifeMs = rec.lastDoneAt - rec.openedAt
    if (rec.succeeded > 0 && lifeMs > 0) result.clientRps.push(rec.succeeded / (lifeMs / 1000))
  }
  return result
}

/**
 * How many starts `origin + i × interval` (i = 0, 1, …) fall before `until`: the same test
 * `inWindow` makes, so no request is planned whose start floating point puts at the window's
 * very end (it would be sent, and the server would count it, but the run would not).
 */
function startsBefore(origin: number, interval: number, until: number): number {
  let n = Math.max(0, Math.ceil((until - origin) / interval))
  while (n > 0 && origin + (n - 1) * interval >= until) n--
  while (origin + n * interval < until) n++
  return n
}
