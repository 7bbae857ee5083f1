/**
 * One bench thread: an Agent with `clients` connections and `maxStreams` requests in flight
 * on each (HTTP/1.1 pipelining depth, or HTTP/2 streams), kept full until the thread's
 * quota is done (count mode) or the measurement time is over (duration mode). Requests go
 * through the low-level handler, so no Readable sits between the socket and the counters.
 */
import { Agent, type AgentOptions, type ConnectionEvent, type ConnectionInfo, type DispatchHandler, type HeaderRecord, type WirepoolError } from '../index.js'
import { Histogram } from './histogram.js'
import { emptyStatusClasses, type ThreadResult } from './bench-stats.js'

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
}

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

export async function runClients(config: ClientConfig, onProgress?: (done: number) => void): Promise<ThreadResult> {
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
        if (config.durationMs !== undefined) timers.push(setTimeout(() => transition('stopping'), config.durationMs))
        break
      case 'stopping':
        result.measureEndedAt = wallClock()
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
    pool.dispatch({ path, method: config.method, headers: config.headers, body: config.body }, new Probe(performance.now(), counted))
  }

  /** One request's handler: records it and starts the next one in its lane. */
  class Probe implements DispatchHandler {
    readonly #startedAt: number
    readonly #counted: boolean
    #connection: ConnectionRecord | undefined
    #status = 0
    #head = 0
    #wire = 0
    #data = 0
    #h2 = false

    constructor(startedAt: number, counted: boolean) {
      this.#startedAt = startedAt
      this.#counted = counted
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
        if (config.durationMs !== undefined) result.started++
        result.done++
        const cls = Math.floor(this.#status / 100)
        if (cls >= 1 && cls <= 5) result.statusClasses[cls as 1 | 2 | 3 | 4 | 5]++
        if (this.#status >= 200 && this.#status < 400) {
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
      }
      this.#next()
    }

    onError(err: WirepoolError): void {
      if (this.#counting()) {
        if (config.durationMs !== undefined) result.started++
        result.done++
        result.failed++
        result.errored++
        if (TIMEOUT_CODES.has(err.code)) result.timeout++
        result.errors[err.code] = (result.errors[err.code] ?? 0) + 1
        // The bytes that did arrive before the failure still crossed the wire.
        result.bytesData += this.#data
      }
      this.#next()
    }

    #counting(): boolean {
      return this.#counted && phase === 'measuring'
    }

    #next(): void {
      inFlight--
      if (onProgress !== undefined && phase === 'measuring') onProgress(result.done)
      if (wantsMore()) issue()
      else if (inFlight === 0 && config.durationMs === undefined) transition('stopping')
    }
  }

  if (config.durationMs !== undefined && config.warmUpMs > 0) timers.push(setTimeout(() => transition('measuring'), config.warmUpMs))
  else transition('measuring')
  const lanes = config.clients * config.maxStreams
  for (let i = 0; i < lanes && wantsMore(); i++) issue()
  if (config.durationMs === undefined && config.requests === 0) transition('stopping')
  await finished
  transition('done')
  // Duration mode leaves requests in flight: they are not counted, so drop them now.
  if (inFlight > 0) await agent.destroy()
  else await agent.close()

  result.endedAt = wallClock()
  // Duration mode has no quota: the total is what was measured (h2load prints it so too).
  if (config.durationMs !== undefined) result.total = result.started
  result.requestTime = requestTime.snapshot()
  for (const rec of connections.values()) {
    if (rec.connectUs !== undefined) result.connectTimes.push(rec.connectUs)
    if (rec.firstByteUs !== undefined) result.firstByteTimes.push(rec.firstByteUs)
    const lifeMs = rec.lastDoneAt - rec.openedAt
    if (rec.succeeded > 0 && lifeMs > 0) result.clientRps.push(rec.succeeded / (lifeMs / 1000))
  }
  return result
}
