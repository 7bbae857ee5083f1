/**
 * h2load-style summary: the same lines, labels and column layout as h2load (nghttp2 1.52)
 * prints, so the two outputs line up, then the HDR percentiles. Also the `--json` shape.
 */
import { LATE_MS, histogramStats, sampleStats, type BenchTotals, type SampleStats } from './bench-stats.js'
import { PERCENTILES, percentileKey, type BenchDocument } from './bench-document.js'

/** h2load's duration format: whole µs below 1 ms, else 2 decimals in ms or s. */
export function formatDuration(us: number): string {
  if (us >= 1_000_000) return `${(us / 1_000_000).toFixed(2)}s`
  if (us >= 1000) return `${(us / 1000).toFixed(2)}ms`
  return `${Math.round(us)}us`
}

/** h2load's size format: bytes below 1 KiB, else 2 decimals in KB / MB / GB (powers of 1024). */
export function formatBytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(2)}GB`
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(2)}MB`
  if (n >= 1024) return `${(n / 1024).toFixed(2)}KB`
  return `${Math.round(n)}B`
}

const pad = (s: string, width: number): string => s.padStart(width)

/** One `label: min max mean sd +/-sd` row, columns as h2load aligns them. */
function row(label: string, s: SampleStats, format: (v: number) => string): string {
  return `${label} ${pad(format(s.min), 10)}  ${pad(format(s.max), 10)}  ${pad(format(s.mean), 10)}  ${pad(format(s.sd), 10)}${pad(s.withinSd.toFixed(2), 9)}%`
}

export const TABLE_HEADER = '                     min         max         mean         sd        +/- sd'

export interface ReportFigures {
  /** Wall time of the whole run (warm-up included), ms. */
  elapsedMs: number
  /** Time the rates are computed over (the measured phase), ms. */
  measuredMs: number
  requestsPerSecond: number
  bytesPerSecond: number
  requestTime: SampleStats
  connectTime: SampleStats
  firstByteTime: SampleStats
  clientRps: SampleStats
  percentiles: Record<'p50' | 'p90' | 'p99' | 'p99.9', number>
}

export function figures(t: BenchTotals): ReportFigures {
  const elapsedMs = Math.max(0, t.endedAt - t.startedAt)
  const measuredMs = Math.max(1, t.measureEndedAt - t.measureStartedAt)
  const h = t.requestTime
  return {
    elapsedMs,
    measuredMs,
    requestsPerSecond: t.done / (measuredMs / 1000),
    bytesPerSecond: t.bytesTotal / (measuredMs / 1000),
    requestTime: histogramStats(h),
    connectTime: sampleStats(t.connectTimes),
    firstByteTime: sampleStats(t.firstByteTimes),
    clientRps: sampleStats(t.clientRps),
    percentiles: { p50: h.percentile(50), p90: h.percentile(90), p99: h.percentile(99), 'p99.9': h.percentile(99.9) },
  }
}

export function renderSummary(t: BenchTotals): string {
  const f = figures(t)
  const [, c1, c2, c3, c4, c5] = t.statusClasses
  const savings = t.protocols.includes('h2') ? 'n/a' : '0.00%'
  const lines = [
    `finished in ${formatDuration(f.elapsedMs * 1000)}, ${f.requestsPerSecond.toFixed(2)} req/s, ${formatBytes(f.bytesPerSecond)}/s`,
    `requests: ${t.total} total, ${t.started} started, ${t.done} done, ${t.succeeded} succeeded, ${t.failed} failed, ${t.errored} errored, ${t.timeout} timeout`,
    `status codes: ${c2} 2xx, ${c3} 3xx, ${c4} 4xx, ${c5} 5xx`,
    `traffic: ${formatBytes(t.bytesTotal)} (${t.bytesTotal}) total, ${formatBytes(t.bytesHead)} (${t.bytesHead}) headers (space savings ${savings}), ${formatBytes(t.bytesData)} (${t.bytesData}) data`,
    TABLE_HEADER,
    row('time for request:', f.requestTime, formatDuration),
    row('time for connect:', f.connectTime, formatDuration),
    row('time to 1st byte:', f.firstByteTime, formatDuration),
    row('req/s           :', f.clientRps, (v) => v.toFixed(2)),
    '',
    `latency percentiles (HDR histogram, ${t.requestTime.count} requests):`,
    `  p50 ${formatDuration(f.percentiles.p50)}, p90 ${formatDuration(f.percentiles.p90)}, p99 ${formatDuration(f.percentiles.p99)}, p99.9 ${formatDuration(f.percentiles['p99.9'])}`,
  ]
  if (t.protocols.includes('h2')) {
    lines.splice(4, 0, '(h2: total counts header field and data bytes; frame and HPACK bytes are not exposed by the engine)')
  }
  if (c1 > 0) lines.splice(3, 0, `(${c1} 1xx responses)`)
  const codes = Object.entries(t.errors)
  if (codes.length > 0) lines.push(`errors: ${codes.map(([code, n]) => `${n} ${code}`).join(', ')}`)
  return `${lines.join('\n')}\n`
}

/**
 * Open loop: corrected (from the intended start) and uncorrected (from the actual send)
 * percentiles side by side, then what the timetable asked and what was achieved.
 */
export function renderOpenLoop(doc: BenchDocument): string {
  const o = doc.openLoop
  const corrected = doc.latency.corrected
  if (o === undefined || corrected === undefined) return ''
  const uncorrected = doc.latency.uncorrected
  const lines = [
    `open loop: asked ${o.askedPerSecond.toFixed(2)} req/s, achieved ${o.achievedPerSecond.toFixed(2)} req/s; ${o.scheduled} scheduled, ${o.sent} sent, ${o.dropped} dropped, ${o.unfinished} unfinished`,
    `late sends (> ${LATE_MS}ms behind the timetable): ${o.late}; ${o.queued} found no free connection/stream and waited (longest backlog ${o.maxBacklog})`,
    'latency      corrected (from intended start)   uncorrected (from actual send)',
  ]
  for (const p of PERCENTILES) {
    const key = percentileKey(p)
    lines.push(`  ${key.padEnd(8)} ${pad(formatDuration(corrected.percentiles[key] ?? 0), 18)} ${pad(formatDuration(uncorrected.percentiles[key] ?? 0), 32)}`)
  }
  lines.push(`  ${'mean'.padEnd(8)} ${pad(formatDuration(corrected.mean), 18)} ${pad(formatDuration(uncorrected.mean), 32)}`)
  return `${lines.join('\n')}\n`
}

/** The summary of a merged document (no per-connection samples survive a merge, only their statistics). */
export function renderDocumentSummary(doc: BenchDocument): string {
  const s = doc.statusCodes
  const r = doc.requests
  const p = doc.latencyPercentilesUs
  const lines = [
    `merged ${doc.runs} run(s)${doc.mergedFrom === undefined ? '' : `: ${doc.mergedFrom.join(', ')}`}`,
    `${doc.requestsPerSecond.toFixed(2)} req/s, ${formatBytes(doc.bytesPerSecond)}/s (summed); ${doc.clients} client(s), ${doc.threads} thread(s)`,
    `requests: ${r.total} total, ${r.started} started, ${r.done} done, ${r.succeeded} succeeded, ${r.failed} failed, ${r.errored} errored, ${r.timeout} timeout`,
    `status codes: ${s['2xx']} 2xx, ${s['3xx']} 3xx, ${s['4xx']} 4xx, ${s['5xx']} 5xx`,
    `traffic: ${formatBytes(doc.traffic.total)} (${doc.traffic.total}) total, ${formatBytes(doc.traffic.headers)} (${doc.traffic.headers}) headers, ${formatBytes(doc.traffic.data)} (${doc.traffic.data}) data`,
    TABLE_HEADER,
    row('time for request:', doc.timeForRequestUs, formatDuration),
    row('time for connect:', doc.timeForConnectUs, formatDuration),
    row('time to 1st byte:', doc.timeToFirstByteUs, formatDuration),
    row('req/s           :', doc.requestsPerSecondPerClient, (v) => v.toFixed(2)),
    '',
    `latency percentiles (HDR histogram, ${doc.latency.uncorrected.count} requests):`,
    `  p50 ${formatDuration(p.p50)}, p90 ${formatDuration(p.p90)}, p99 ${formatDuration(p.p99)}, p99.9 ${formatDuration(p['p99.9'])}`,
  ]
  const codes = Object.entries(doc.errors)
  if (codes.length > 0) lines.push(`errors: ${codes.map(([code, n]) => `${n} ${code}`).join(', ')}`)
  return `${lines.join('\n')}\n${renderOpenLoop(doc)}`
}
