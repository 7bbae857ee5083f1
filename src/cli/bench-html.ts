/**
 * `--html FILE`: one self-contained page (no script, no external resource) with inline SVG
 * charts: latency over time (p50 and p99 of each second), throughput over time, and the
 * percentile distribution (HdrHistogram's classic plot: latency against percentile on a
 * log scale of 1 / (1 − p)), corrected and uncorrected side by side in open loop.
 */
import type { BenchDocument } from './bench-document.js'
import { formatBytes, formatDuration } from './bench-report.js'
import { histogramFromJson, PERCENTILES, percentileKey } from './bench-document.js'
import type { Histogram } from './histogram.js'

interface Line {
  name: string
  color: string
  points: Array<[number, number]>
}

interface Chart {
  title: string
  xLabel: string
  yLabel: string
  lines: Line[]
  /** Tick positions with labels; by default five even ticks. */
  xTicks?: Array<[number, string]>
  formatY: (v: number) => string
}

const W = 760
const H = 300
const M = { left: 70, right: 40, top: 30, bottom: 45 }

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

/** A round upper bound for an axis: 1, 2 or 5 × 10^k. */
function niceMax(v: number): number {
  if (!(v > 0)) return 1
  const k = 10 ** Math.floor(Math.log10(v))
  for (const m of [1, 2, 5, 10]) if (m * k >= v) return m * k
  return 10 * k
}

export function svgChart(chart: Chart): string {
  const all = chart.lines.flatMap((l) => l.points)
  const xMax = Math.max(1, ...all.map((p) => p[0]))
  const yMax = niceMax(Math.max(0, ...all.map((p) => p[1])))
  const pw = W - M.left - M.right
  const ph = H - M.top - M.bottom
  const x = (v: number): number => M.left + (v / xMax) * pw
  const y = (v: number): number => M.top + ph - (v / yMax) * ph
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${escape(chart.title)}">`,
    `<text x="${W / 2}" y="18" text-anchor="middle" font-size="14" font-weight="bold">${escape(chart.title)}</text>`,
    `<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`,
  ]
  for (let i = 0; i <= 5; i++) {
    const v = (yMax * i) / 5
    parts.push(`<line x1="${M.left}" x2="${M.left + pw}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#eee"/>`)
    parts.push(`<text x="${M.left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" font-size="11">${escape(chart.formatY(v))}</text>`)
  }
  const step = niceMax(xMax / 6)
  const xTicks = chart.xTicks ?? Array.from({ length: Math.floor(xMax / step) + 1 }, (_, i): [number, string] => [i * step, String(Number((i * step).toFixed(3)))])
  for (const [v, label] of xTicks) {
    if (v > xMax) continue
    parts.push(`<line x1="${x(v).toFixed(1)}" x2="${x(v).toFixed(1)}" y1="${M.top}" y2="${M.top + ph}" stroke="#eee"/>`)
    parts.push(`<text x="${x(v).toFixed(1)}" y="${M.top + ph + 16}" text-anchor="middle" font-size="11">${escape(label)}</text>`)
  }
  parts.push(`<text x="${M.left + pw / 2}" y="${H - 6}" text-anchor="middle" font-size="12">${escape(chart.xLabel)}</text>`)
  parts.push(`<text x="14" y="${M.top + ph / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 14 ${M.top + ph / 2})">${escape(chart.yLabel)}</text>`)
  chart.lines.forEach((line, i) => {
    if (line.points.length > 0) {
      const d = line.points.map(([a, b]) => `${x(a).toFixed(1)},${y(b).toFixed(1)}`).join(' ')
      parts.push(`<polyline fill="none" stroke="${line.color}" stroke-width="2" points="${d}"><title>${escape(line.name)}</title></polyline>`)
    }
    parts.push(`<rect x="${M.left + 10}" y="${M.top + 8 + i * 16}" width="12" height="3" fill="${line.color}"/>`)
    parts.push(`<text x="${M.left + 28}" y="${M.top + 13 + i * 16}" font-size="11">${escape(line.name)}</text>`)
  })
  parts.push('</svg>')
  return parts.join('\n')
}

/** Percentile plot points: x = log10(1 / (1 − p)), from p0 to p99.999 (and p100 at the end). */
function percentileCurve(h: Histogram): Array<[number, number]> {
  const points: Array<[number, number]> = []
  for (let i = 0; i <= 100; i++) {
    const x = i / 20 // 0 … 5 nines
    const p = (1 - 10 ** -x) * 100
    points.push([x, h.percentile(p) / 1000])
  }
  return points
}

const NINES: Array<[number, string]> = [
  [0, '0%'],
  [1, '90%'],
  [2, '99%'],
  [3, '99.9%'],
  [4, '99.99%'],
  [5, '99.999%'],
]

const ms = (v: number): string => `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)}ms`

export function renderHtml(doc: BenchDocument): string {
  const openLoop = doc.latency.corrected !== undefined
  const series = doc.timeSeries
  const latencyOverTime = svgChart({
    title: `Latency per second${openLoop ? ' (corrected: from intended start)' : ''}`,
    xLabel: 'seconds since start',
    yLabel: 'latency (ms)',
    formatY: ms,
    lines: [
      { name: 'p99', color: '#d62728', points: series.map((p) => [p.second + 0.5, p.p99Us / 1000]) },
      { name: 'p50', color: '#1f77b4', points: series.map((p) => [p.second + 0.5, p.p50Us / 1000]) },
    ],
  })
  const throughput = svgChart({
    title: 'Requests completed per second',
    xLabel: 'seconds since start',
    yLabel: 'requests / s',
    formatY: (v) => v.toFixed(0),
    lines: [
      { name: 'requests', color: '#2ca02c', points: series.map((p) => [p.second + 0.5, p.requests]) },
      { name: 'errors', color: '#ff7f0e', points: series.map((p) => [p.second + 0.5, p.errors]) },
    ],
  })
  const curves: Line[] = []
  if (doc.latency.corrected !== undefined) curves.push({ name: 'corrected (from intended start)', color: '#d62728', points: percentileCurve(histogramFromJson(doc.latency.corrected)) })
  curves.push({ name: openLoop ? 'uncorrected (from actual send)' : 'request time', color: '#1f77b4', points: percentileCurve(histogramFromJson(doc.latency.uncorrected)) })
  const distribution = svgChart({ title: 'Latency by percentile', xLabel: 'percentile', yLabel: 'latency (ms)', formatY: ms, xTicks: NINES, lines: curves })

  const rows = PERCENTILES.map((p) => {
    const key = percentileKey(p)
    const c = doc.latency.corrected?.percentiles[key]
    return `<tr><td>${key}</td>${c === undefined ? '' : `<td>${formatDuration(c)}</td>`}<td>${formatDuration(doc.latency.uncorrected.percentiles[key] ?? 0)}</td></tr>`
  }).join('\n')
  const p = doc.parameters
  const params = [
    `${escape(p.method)} ${escape(p.url)}`,
    `${p.clients} client(s), ${p.threads} thread(s), ${p.maxConcurrentStreams} in flight per client`,
    p.requests !== undefined ? `${p.requests} requests` : `${(p.durationMs ?? 0) / 1000}s`,
    p.rate !== undefined ? `open loop at ${p.rate} req/s` : 'closed loop',
    doc.protocols.join(', '),
  ].join(' · ')
  const o = doc.openLoop
  const openLoopLine =
    o === undefined
      ? ''
      : `<p>Open loop: asked ${o.askedPerSecond.toFixed(2)} req/s, achieved ${o.achievedPerSecond.toFixed(2)} req/s; ${o.scheduled} scheduled, ${o.sent} sent, ${o.late} late, ${o.queued} waited for a connection/stream, ${o.dropped} dropped, ${o.unfinished} unfinished.</p>`
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>wirepool bench report</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 10px;text-align:right}svg{display:block;margin:1em 0}</style>
</head><body>
<h1>wirepool bench</h1>
<p>${params}${doc.runs > 1 ? ` · ${doc.runs} runs merged` : ''}</p>
<p>${doc.requests.done} requests done (${doc.requests.succeeded} succeeded, ${doc.requests.failed} failed) in ${(doc.measuredMs / 1000).toFixed(2)}s: ${doc.requestsPerSecond.toFixed(2)} req/s, ${formatBytes(doc.bytesPerSecond)}/s</p>
${openLoopLine}
<table><tr><th>percentile</th>${openLoop ? '<th>corrected</th><th>uncorrected</th>' : '<th>request time</th>'}</tr>
${rows}
</table>
${latencyOverTime}
${distribution}
${throughput}
</body></html>
`
}
