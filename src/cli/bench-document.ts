/**
 * The `--json` document of a bench run: h2load's figures, the run's parameters, the latency
 * histograms in HdrHistogram's compressed base64 form (with the exact count/min/max/sum that
 * format leaves out, so merges stay exact), open-loop counts, and the per-second series.
 * Documents merge (`wirepool bench merge`) into a document of the same shape: counts and rates
 * add, histograms merge, series add second by second, so a merge can be merged again.
 */
import { figures } from './bench-report.js'
import type { BenchTotals, OpenLoopCounts, SampleStats } from './bench-stats.js'
import { histogramStats } from './bench-stats.js'
import { mergeSeries, type SeriesPoint } from './bench-series.js'
import { decodeCompressedBase64, encodeCompressedBase64 } from './hdr-encoding.js'
import { Histogram, type HistogramSnapshot } from './histogram.js'

export const DOCUMENT_FORMAT = 'wirepool-bench/1'

export interface BenchParameters {
  url: string
  method: string
  clients: number
  threads: number
  maxConcurrentStreams: number
  /** Count mode: the requests asked for (absent with -D). */
  requests?: number
  durationMs?: number
  warmUpMs: number
  /** Open loop: requests per second asked for, total. */
  rate?: number
  protocol?: string
  headers: Array<[string, string]>
}

export const PERCENTILES = [50, 75, 90, 99, 99.9, 99.99, 100] as const

export interface HistogramJson {
  count: number
  min: number
  max: number
  mean: number
  sd: number
  sum: number
  sumSquares: number
  /** µs at p50 … p100 (keys "p50", "p99.9", …). */
  percentiles: Record<string, number>
  /** HdrHistogram V2 compressed base64 (readable by HdrHistogram, hdr-histogram-js, HdrHistogram_py…). */
  hdr: string
}

export interface SeriesJson {
  second: number
  requests: number
  errors: number
  bytes: number
  p50Us: number
  p99Us: number
  hdr: string
}

export interface OpenLoopJson extends OpenLoopCounts {
  askedPerSecond: number
}

export interface BenchDocument {
  format: typeof DOCUMENT_FORMAT
  parameters: BenchParameters
  /** How many runs this document adds up (1, or more after a merge) and, after a merge, their files. */
  runs: number
  mergedFrom?: string[]
  url: string
  method: string
  maxConcurrentStreams: number
  protocols: string[]
  threads: number
  clients: number
  elapsedMs: number
  measuredMs: number
  requestsPerSecond: number
  bytesPerSecond: number
  requests: { total: number; started: number; done: number; succeeded: number; failed: number; errored: number; timeout: number }
  statusCodes: Record<'1xx' | '2xx' | '3xx' | '4xx' | '5xx', number>
  traffic: { total: number; headers: number; data: number }
  timeForRequestUs: SampleStats
  timeForConnectUs: SampleStats
  timeToFirstByteUs: SampleStats
  requestsPerSecondPerClient: SampleStats
  /** From the actual send (uncorrected), as before --rate existed. */
  latencyPercentilesUs: Record<'p50' | 'p90' | 'p99' | 'p99.9', number>
  latency: { uncorrected: HistogramJson; corrected?: HistogramJson }
  openLoop?: OpenLoopJson
  errors: Record<string, number>
  timeSeries: SeriesJson[]
}

export function percentileKey(p: number): string {
  return `p${p}`
}

export function histogramJson(h: Histogram): HistogramJson {
  const snap = h.snapshot()
  const percentiles: Record<string, number> = {}
  for (const p of PERCENTILES) percentiles[percentileKey(p)] = h.percentile(p)
  return { count: snap.count, min: h.min, max: h.max, mean: h.mean, sd: h.stdDev, sum: snap.sum, sumSquares: snap.sumSquares, percentiles, hdr: encodeCompressedBase64(snap) }
}

/** The histogram back from its JSON, with the exact statistics the HdrHistogram format leaves out. */
export function histogramFromJson(j: HistogramJson): Histogram {
  const decoded = decodeCompressedBase64(j.hdr)
  const exact: HistogramSnapshot = { ...decoded, min: j.min, max: j.max, sum: j.sum, sumSquares: j.sumSquares }
  return Histogram.from(exact)
}

export function seriesJson(points: readonly SeriesPoint[]): SeriesJson[] {
  return points.map((p) => {
    const h = Histogram.from(p.latency)
    return { second: p.second, requests: p.requests, errors: p.errors, bytes: p.bytes, p50Us: h.percentile(50), p99Us: h.percentile(99), hdr: encodeCompressedBase64(p.latency) }
  })
}

function seriesFromJson(points: readonly SeriesJson[]): SeriesPoint[] {
  return points.map((p) => ({ second: p.second, requests: p.requests, errors: p.errors, bytes: p.bytes, latency: decodeCompressedBase64(p.hdr) }))
}

export function buildDocument(t: BenchTotals, parameters: BenchParameters): BenchDocument {
  const f = figures(t)
  const [, s1, s2, s3, s4, s5] = t.statusClasses
  const doc: BenchDocument = {
    format: DOCUMENT_FORMAT,
    parameters,
    runs: 1,
    url: parameters.url,
    method: parameters.method,
    maxConcurrentStreams: parameters.maxConcurrentStreams,
    protocols: t.protocols,
    threads: t.threads,
    clients: t.clients,
    elapsedMs: f.elapsedMs,
    measuredMs: f.measuredMs,
    requestsPerSecond: f.requestsPerSecond,
    bytesPerSecond: f.bytesPerSecond,
    requests: { total: t.total, started: t.started, done: t.done, succeeded: t.succeeded, failed: t.failed, errored: t.errored, timeout: t.timeout },
    statusCodes: { '1xx': s1, '2xx': s2, '3xx': s3, '4xx': s4, '5xx': s5 },
    traffic: { total: t.bytesTotal, headers: t.bytesHead, data: t.bytesData },
    timeForRequestUs: f.requestTime,
    timeForConnectUs: f.connectTime,
    timeToFirstByteUs: f.firstByteTime,
    requestsPerSecondPerClient: f.clientRps,
    latencyPercentilesUs: f.percentiles,
    latency: { uncorrected: histogramJson(t.requestTime) },
    errors: t.errors,
    timeSeries: seriesJson(t.series),
  }
  if (t.correctedTime !== undefined) doc.latency.corrected = histogramJson(t.correctedTime)
  if (t.openLoop !== undefined && parameters.rate !== undefined) {
    doc.openLoop = { askedPerSecond: parameters.rate, ...t.openLoop }
  }
  return doc
}

export function renderDocument(doc: BenchDocument): string {
  return `${JSON.stringify(doc, null, 2)}\n`
}

/** Checks the shape enough to merge it; the message names what is wrong. */
export function parseDocument(text: string, name: string): BenchDocument {
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch (err) {
    throw new Error(`${name}: not JSON (${(err as Error).message})`)
  }
  const d = doc as Partial<BenchDocument> | null
  if (d === null || typeof d !== 'object' || d.format !== DOCUMENT_FORMAT) throw new Error(`${name}: not a 'wirepool bench --json' result (format ${DOCUMENT_FORMAT})`)
  if (d.latency?.uncorrected?.hdr === undefined || !Array.isArray(d.timeSeries) || d.requests === undefined) throw new Error(`${name}: incomplete bench result`)
  return d as BenchDocument
}

/** Sample statistics of several runs, weighted by their clients (what connect/first-byte figures are per). */
function mergeSampleStats(parts: ReadonlyArray<{ s: SampleStats; weight: number }>): SampleStats {
  const live = parts.filter((p) => p.weight > 0 && p.s.max > 0)
  if (live.length === 0) return { min: 0, max: 0, mean: 0, sd: 0, withinSd: 0 }
  const w = live.reduce((n, p) => n + p.weight, 0)
  const mean = live.reduce((n, p) => n + p.s.mean * p.weight, 0) / w
  // Pooled variance: within-run variance plus the spread of the run means.
  const variance = live.reduce((n, p) => n + p.weight * (p.s.sd * p.s.sd + (p.s.mean - mean) ** 2), 0) / w
  return {
    min: Math.min(...live.map((p) => p.s.min)),
    max: Math.max(...live.map((p) => p.s.max)),
    mean,
    sd: Math.sqrt(variance),
    withinSd: live.reduce((n, p) => n + p.s.withinSd * p.weight, 0) / w,
  }
}

function add<K extends string>(a: Record<K, number>, b: Record<K, number>): Record<K, number> {
  const out = { ...a }
  for (const k of Object.keys(b) as K[]) out[k] = (out[k] ?? 0) + (b[k] ?? 0)
  return out
}

/**
 * Several runs (of several processes or machines, run at the same time) as one: counts and
 * rates add, histograms merge, series add by second since each run's start.
 */
export function mergeDocuments(docs: readonly BenchDocument[], names: readonly string[]): BenchDocument {
  const [first] = docs
  if (first === undefined) throw new Error('nothing to merge')
  const uncorrected = new Histogram()
  let corrected: Histogram | undefined
  let openLoop: OpenLoopJson | undefined
  for (const d of docs) {
    uncorrected.merge(histogramFromJson(d.latency.uncorrected).snapshot())
    if (d.latency.corrected !== undefined) (corrected ??= new Histogram()).merge(histogramFromJson(d.latency.corrected).snapshot())
    if (d.openLoop !== undefined) {
      const o = d.openLoop
      openLoop =
        openLoop === undefined
          ? { ...o }
          : {
              askedPerSecond: openLoop.askedPerSecond + o.askedPerSecond,
              achievedPerSecond: openLoop.achievedPerSecond + o.achievedPerSecond,
              scheduled: openLoop.scheduled + o.scheduled,
              sent: openLoop.sent + o.sent,
              late: openLoop.late + o.late,
              queued: openLoop.queued + o.queued,
              dropped: openLoop.dropped + o.dropped,
              unfinished: openLoop.unfinished + o.unfinished,
              maxBacklog: Math.max(openLoop.maxBacklog, o.maxBacklog),
            }
    }
  }
  const sum = (pick: (d: BenchDocument) => number): number => docs.reduce((n, d) => n + pick(d), 0)
  const weighted = (pick: (d: BenchDocument) => SampleStats): SampleStats => mergeSampleStats(docs.map((d) => ({ s: pick(d), weight: d.clients })))
  const protocols: string[] = []
  for (const d of docs) for (const p of d.protocols) if (!protocols.includes(p)) protocols.push(p)
  let errors: Record<string, number> = {}
  let statusCodes = { ...first.statusCodes }
  let requests = { ...first.requests }
  let traffic = { ...first.traffic }
  for (const d of docs.slice(1)) {
    errors = add(errors, d.errors)
    statusCodes = add(statusCodes, d.statusCodes)
    requests = add(requests, d.requests)
    traffic = add(traffic, d.traffic)
  }
  errors = add(errors, first.errors)
  const parameters: BenchParameters = {
    ...first.parameters,
    clients: sum((d) => d.parameters.clients),
    threads: sum((d) => d.parameters.threads),
  }
  if (first.parameters.requests !== undefined) parameters.requests = sum((d) => d.parameters.requests ?? 0)
  if (openLoop !== undefined) parameters.rate = openLoop.askedPerSecond
  const stats = histogramStats(uncorrected)
  const merged: BenchDocument = {
    format: DOCUMENT_FORMAT,
    parameters,
    runs: sum((d) => d.runs),
    mergedFrom: [...names],
    url: first.url,
    method: first.method,
    maxConcurrentStreams: first.maxConcurrentStreams,
    protocols,
    threads: sum((d) => d.threads),
    clients: sum((d) => d.clients),
    elapsedMs: Math.max(...docs.map((d) => d.elapsedMs)),
    measuredMs: Math.max(...docs.map((d) => d.measuredMs)),
    requestsPerSecond: sum((d) => d.requestsPerSecond),
    bytesPerSecond: sum((d) => d.bytesPerSecond),
    requests,
    statusCodes,
    traffic,
    timeForRequestUs: stats,
    timeForConnectUs: weighted((d) => d.timeForConnectUs),
    timeToFirstByteUs: weighted((d) => d.timeToFirstByteUs),
    requestsPerSecondPerClient: weighted((d) => d.requestsPerSecondPerClient),
    latencyPercentilesUs: { p50: uncorrected.percentile(50), p90: uncorrected.percentile(90), p99: uncorrected.percentile(99), 'p99.9': uncorrected.percentile(99.9) },
    latency: { uncorrected: histogramJson(uncorrected) },
    errors,
    timeSeries: seriesJson(mergeSeries(docs.map((d) => seriesFromJson(d.timeSeries)))),
  }
  if (corrected !== undefined) merged.latency.corrected = histogramJson(corrected)
  if (openLoop !== undefined) merged.openLoop = openLoop
  return merged
}

/** `--csv`: the time series, one row per second. */
export function renderCsv(doc: BenchDocument): string {
  const rows = ['second,requests,errors,bytes,p50_us,p99_us']
  for (const p of doc.timeSeries) rows.push(`${p.second},${p.requests},${p.errors},${p.bytes},${p.p50Us},${p.p99Us}`)
  return `${rows.join('\n')}\n`
}
