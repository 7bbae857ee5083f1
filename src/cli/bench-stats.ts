/**
 * What one bench thread measured, as plain data (it crosses worker_threads by structured
 * clone), and how several threads' results add up. Counters follow h2load's definitions
 * (h2load(1) "OUTPUT"): succeeded = status 2xx or 3xx; failed = every other completion and
 * every error; errored = failures without an HTTP status (network, protocol, reset);
 * timeout = the errored ones that were timeouts; done = succeeded + failed.
 */
import { Histogram, type HistogramSnapshot } from './histogram.js'
import { mergeSeries, type SeriesPoint } from './bench-series.js'

/** Open loop: a send more than this (ms) behind its intended start is late. */
export const LATE_MS = 10

/**
 * Open loop (`--rate`), counting only requests intended inside the measured phase: scheduled
 * on the timetable; sent; late = sent more than LATE_MS after the intended start; queued = found
 * no free connection/stream at the intended start and waited (k6's dropped_iterations, except
 * that we still send it and count its wait); dropped = never sent (backlog full or the run
 * ended); unfinished = sent but not done when the run ended; maxBacklog = longest wait queue.
 */
export interface OpenLoopCounts {
  scheduled: number
  sent: number
  late: number
  queued: number
  dropped: number
  unfinished: number
  maxBacklog: number
  /** Sent per second of the thread's own timetable (threads' rates add up). */
  achievedPerSecond: number
}

export function addOpenLoop(a: OpenLoopCounts | undefined, b: OpenLoopCounts): OpenLoopCounts {
  if (a === undefined) return { ...b }
  return {
    scheduled: a.scheduled + b.scheduled,
    sent: a.sent + b.sent,
    late: a.late + b.late,
    queued: a.queued + b.queued,
    dropped: a.dropped + b.dropped,
    unfinished: a.unfinished + b.unfinished,
    maxBacklog: Math.max(a.maxBacklog, b.maxBacklog),
    achievedPerSecond: a.achievedPerSecond + b.achievedPerSecond,
  }
}

export interface ThreadResult {
  thread: number
  clients: number
  /** Requests this thread was asked for (count mode) or ended up making (duration mode). */
  total: number
  started: number
  done: number
  succeeded: number
  failed: number
  errored: number
  timeout: number
  /** Responses by status class: index 1 = 1xx … 5 = 5xx. */
  statusClasses: [number, number, number, number, number, number]
  /**
   * Response bytes: HTTP/1.1 heads as the text that crossed the wire (status line, fields,
   * CRLFs; chunked framing excluded) plus body bytes; HTTP/2 field bytes plus body bytes.
   */
  bytesTotal: number
  /** Σ (name + value) lengths of response fields: h2load's uncompressed header figure. */
  bytesHead: number
  bytesData: number
  /** Request times in µs (dispatch → last body byte). */
  requestTime: HistogramSnapshot
  /** Per connection, µs from the pool opening it to it being usable (DNS + TCP + TLS). */
  connectTimes: number[]
  /** Per connection, µs from the pool opening it to its first response head. */
  firstByteTimes: number[]
  /** Per connection, successful requests per second over its life in the measurement. */
  clientRps: number[]
  protocols: string[]
  /** Error counts by WirepoolError code. */
  errors: Record<string, number>
  /** Wall-clock bounds (ms since the epoch) of the whole run and of the measured phase. */
  startedAt: number
  endedAt: number
  measureStartedAt: number
  measureEndedAt: number
  /** Open loop: request times in µs from the intended start (corrected for coordinated omission). */
  correctedTime: HistogramSnapshot | undefined
  openLoop: OpenLoopCounts | undefined
  /** Per second of the measured phase (empty unless asked for). */
  series: SeriesPoint[]
}

export interface BenchTotals extends Omit<ThreadResult, 'thread' | 'requestTime' | 'correctedTime'> {
  threads: number
  requestTime: Histogram
  correctedTime: Histogram | undefined
}

export function emptyStatusClasses(): ThreadResult['statusClasses'] {
  return [0, 0, 0, 0, 0, 0]
}

/** Adds the threads' results up (the main thread's view of the run). */
export function combine(results: readonly ThreadResult[]): BenchTotals {
  const requestTime = new Histogram()
  const totals: BenchTotals = {
    threads: results.length,
    clients: 0,
    total: 0,
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
    requestTime,
    connectTimes: [],
    firstByteTimes: [],
    clientRps: [],
    protocols: [],
    errors: {},
    startedAt: Infinity,
    endedAt: 0,
    measureStartedAt: Infinity,
    measureEndedAt: 0,
    correctedTime: undefined,
    openLoop: undefined,
    series: mergeSeries(results.map((r) => r.series)),
  }
  for (const r of results) {
    if (r.correctedTime !== undefined) (totals.correctedTime ??= new Histogram()).merge(r.correctedTime)
    if (r.openLoop !== undefined) totals.openLoop = addOpenLoop(totals.openLoop, r.openLoop)
    totals.clients += r.clients
    totals.total += r.total
    totals.started += r.started
    totals.done += r.done
    totals.succeeded += r.succeeded
    totals.failed += r.failed
    totals.errored += r.errored
    totals.timeout += r.timeout
    for (let i = 0; i < 6; i++) totals.statusClasses[i] = (totals.statusClasses[i] as number) + (r.statusClasses[i] as number)
    totals.bytesTotal += r.bytesTotal
    totals.bytesHead += r.bytesHead
    totals.bytesData += r.bytesData
    requestTime.merge(r.requestTime)
    totals.connectTimes.push(...r.connectTimes)
    totals.firstByteTimes.push(...r.firstByteTimes)
    totals.clientRps.push(...r.clientRps)
    for (const p of r.protocols) if (!totals.protocols.includes(p)) totals.protocols.push(p)
    for (const [code, n] of Object.entries(r.errors)) totals.errors[code] = (totals.errors[code] ?? 0) + n
    totals.startedAt = Math.min(totals.startedAt, r.startedAt)
    totals.endedAt = Math.max(totals.endedAt, r.endedAt)
    totals.measureStartedAt = Math.min(totals.measureStartedAt, r.measureStartedAt)
    totals.measureEndedAt = Math.max(totals.measureEndedAt, r.measureEndedAt)
  }
  if (results.length === 0) {
    totals.startedAt = totals.endedAt = totals.measureStartedAt = totals.measureEndedAt = Date.now()
  }
  return totals
}

/** min / max / mean / sd / share within mean ± sd of a list of samples (h2load's SDStat). */
export interface SampleStats {
  min: number
  max: number
  mean: number
  sd: number
  withinSd: number
}

export function sampleStats(samples: readonly number[]): SampleStats {
  if (samples.length === 0) return { min: 0, max: 0, mean: 0, sd: 0, withinSd: 0 }
  let min = Infinity
  let max = -Infinity
  let sum = 0
  for (const s of samples) {
    if (s < min) min = s
    if (s > max) max = s
    sum += s
  }
  const mean = sum / samples.length
  let squares = 0
  for (const s of samples) squares += (s - mean) * (s - mean)
  // h2load divides by n − 1 (the sample standard deviation); one sample has sd 0.
  const sd = samples.length > 1 ? Math.sqrt(squares / (samples.length - 1)) : 0
  let within = 0
  for (const s of samples) if (s >= mean - sd && s <= mean + sd) within++
  return { min, max, mean, sd, withinSd: (within / samples.length) * 100 }
}

export function histogramStats(h: Histogram): SampleStats {
  const mean = h.mean
  const sd = h.stdDev
  return { min: h.min, max: h.max, mean, sd, withinSd: h.percentWithin(mean - sd, mean + sd) }
}
