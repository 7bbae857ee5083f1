/**
 * An exact parser of the Prometheus text exposition format 0.0.4
 * (prometheus.io/docs/instrumenting/exposition_formats, "Text format details"), strict
 * where the format is: it throws on any line or family that a Prometheus server would
 * reject or misread, so a test that parses `metrics()` with it checks the format, not only
 * the numbers. (The npm parser we tried drops the labels of labelled histograms.)
 *
 * Rules enforced: HELP/TYPE lines with escapes; at most one HELP and one TYPE per family,
 * TYPE before its samples; a family's samples contiguous; metric and label names by their
 * grammar; label values with `\\`, `\"`, `\n` escapes only; no duplicate label names nor
 * duplicate series; values as Go's ParseFloat reads them (NaN, ±Inf); histograms as
 * `_bucket{le}` / `_sum` / `_count` with cumulative buckets, a `+Inf` bucket equal to
 * `_count`, per label set; counters and histogram counts non-negative.
 */

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped'

export interface Series {
  labels: Record<string, string>
  value: number
}

export interface HistogramSeries {
  labels: Record<string, string>
  /** Upper bound → cumulative count, in exposition order. */
  buckets: Array<[number, number]>
  sum: number
  count: number
}

export interface MetricFamily {
  name: string
  help: string | undefined
  type: MetricType
  /** Counters, gauges, untyped: one entry per label set. */
  series: Series[]
  /** Histograms: one entry per label set (without `le`). */
  histograms: HistogramSeries[]
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/
const TYPES: ReadonlySet<string> = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped'])
const FLOAT = /^[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)$/

export class ExpositionError extends Error {
  constructor(lineNumber: number, message: string) {
    super(`line ${lineNumber}: ${message}`)
    this.name = 'ExpositionError'
  }
}

function parseValue(text: string, line: number): number {
  if (text === 'NaN') return Number.NaN
  if (text === '+Inf' || text === 'Inf') return Infinity
  if (text === '-Inf') return -Infinity
  if (!FLOAT.test(text)) throw new ExpositionError(line, `bad value ${JSON.stringify(text)}`)
  return Number(text)
}

function unescapeHelp(text: string, line: number): string {
  return text.replace(/\\(.?)/g, (_, c: string) => {
    if (c === '\\') return '\\'
    if (c === 'n') return '\n'
    throw new ExpositionError(line, `bad escape \\${c} in HELP`)
  })
}

/** `{a="1",b="x\"y"}` from `start` (the `{`); returns the labels and the index after `}`. */
function parseLabels(text: string, start: number, line: number): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {}
  let i = start + 1
  for (;;) {
    if (text[i] === '}') return { labels, end: i + 1 }
    const eq = text.indexOf('=', i)
    if (eq === -1) throw new ExpositionError(line, 'label without =')
    const name = text.slice(i, eq)
    if (!LABEL_NAME.test(name)) throw new ExpositionError(line, `bad label name ${JSON.stringify(name)}`)
    if (Object.hasOwn(labels, name)) throw new ExpositionError(line, `label ${name} twice`)
    if (text[eq + 1] !== '"') throw new ExpositionError(line, `label ${name} value not quoted`)
    let value = ''
    let j = eq + 2
    for (;;) {
      const c = text[j]
      if (c === undefined) throw new ExpositionError(line, `unterminated value of label ${name}`)
      if (c === '"') break
      if (c === '\\') {
        const e = text[j + 1]
        if (e === '\\' || e === '"') value += e
        else if (e === 'n') value += '\n'
        else throw new ExpositionError(line, `bad escape in label ${name}`)
        j += 2
        continue
      }
      value += c
      j++
    }
    labels[name] = value
    i = j + 1
    if (text[i] === ',') i++
    else if (text[i] !== '}') throw new ExpositionError(line, `expected , or } after label ${name}`)
  }
}

function seriesKey(labels: Record<string, string>): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)))
}

/** The family a sample name belongs to, given the TYPE lines seen (histogram suffixes). */
function familyOf(name: string, types: Map<string, MetricType>): { family: string; suffix: string } {
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (name.endsWith(suffix)) {
      const base = name.slice(0, -suffix.length)
      const type = types.get(base)
      if (type === 'histogram' || (type === 'summary' && suffix !== '_bucket')) return { family: base, suffix }
    }
  }
  return { family: name, suffix: '' }
}

export function parseExposition(text: string): Map<string, MetricFamily> {
  if (text.length > 0 && !text.endsWith('\n')) throw new ExpositionError(0, 'the exposition must end with a line feed')
  const families = new Map<string, MetricFamily>()
  const types = new Map<string, MetricType>()
  const finished = new Set<string>()
  const seen = new Set<string>()
  const histogramParts = new Map<string, Map<string, { labels: Record<string, string>; buckets: Array<[number, number]>; sum?: number; count?: number }>>()
  let current: string | undefined
  const family = (name: string): MetricFamily => {
    let f = families.get(name)
    if (f === undefined) {
      f = { name, help: undefined, type: types.get(name) ?? 'untyped', series: [], histograms: [] }
      families.set(name, f)
    }
    return f
  }
  const enter = (name: string, line: number): void => {
    if (current === name) return
    if (finished.has(name)) throw new ExpositionError(line, `family ${name} is not contiguous`)
    if (current !== undefined) finished.add(current)
    current = name
  }
  const lines = text.split('\n')
  lines.pop()
  lines.forEach((raw, index) => {
    const line = index + 1
    if (raw.trim() === '') return
    if (raw.startsWith('#')) {
      const m = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s(.*))?$/.exec(raw)
      if (m === null) return // a plain comment
      const [, kind, name, rest = ''] = m as unknown as [string, string, string, string | undefined]
      if (!METRIC_NAME.test(name)) throw new ExpositionError(line, `bad metric name ${name}`)
      enter(name, line)
      const f = family(name)
      if (kind === 'HELP') {
        if (f.help !== undefined) throw new ExpositionError(line, `second HELP for ${name}`)
        f.help = unescapeHelp(rest, line)
      } else {
        if (types.has(name)) throw new ExpositionError(line, `second TYPE for ${name}`)
        if (f.series.length > 0 || histogramParts.has(name)) throw new ExpositionError(line, `TYPE after samples of ${name}`)
        if (!TYPES.has(rest.trim())) throw new ExpositionError(line, `unknown type ${rest}`)
        types.set(name, rest.trim() as MetricType)
        f.type = rest.trim() as MetricType
      }
      return
    }
    const brace = raw.indexOf('{')
    const space = raw.indexOf(' ')
    const nameEnd = brace !== -1 && (space === -1 || brace < space) ? brace : space
    if (nameEnd <= 0) throw new ExpositionError(line, 'sample without a value')
    const name = raw.slice(0, nameEnd)
    if (!METRIC_NAME.test(name)) throw new ExpositionError(line, `bad metric name ${name}`)
    let labels: Record<string, string> = {}
    let restStart = nameEnd
    if (raw[nameEnd] === '{') {
      const parsed = parseLabels(raw, nameEnd, line)
      labels = parsed.labels
      restStart = parsed.end
    }
    const fields = raw.slice(restStart).trim().split(/\s+/)
    if (fields.length < 1 || fields.length > 2 || fields[0] === '') throw new ExpositionError(line, 'expected a value and an optional timestamp')
    if (fields.length === 2 && !/^-?\d+$/.test(fields[1] as string)) throw new ExpositionError(line, 'bad timestamp')
    const value = parseValue(fields[0] as string, line)
    const { family: familyName, suffix } = familyOf(name, types)
    enter(familyName, line)
    const key = `${name}${seriesKey(labels)}`
    if (seen.has(key)) throw new ExpositionError(line, `duplicate series ${key}`)
    seen.add(key)
    const f = family(familyName)
    if (f.type === 'counter' && !(value >= 0)) throw new ExpositionError(line, `counter ${name} is ${value}`)
    if (f.type !== 'histogram') {
      if (suffix !== '') throw new ExpositionError(line, `${f.type} ${familyName} has a ${suffix} sample`)
      f.series.push({ labels, value })
      return
    }
    const { le, ...rest } = labels
    if (suffix === '') throw new ExpositionError(line, `histogram ${familyName} has a bare sample ${name}`)
    if (suffix !== '_bucket' && le !== undefined) throw new ExpositionError(line, `${name} must not have le`)
    let parts = histogramParts.get(familyName)
    if (parts === undefined) histogramParts.set(familyName, (parts = new Map()))
    const partKey = seriesKey(rest)
    let part = parts.get(partKey)
    if (part === undefined) parts.set(partKey, (part = { labels: rest, buckets: [] }))
    if (suffix === '_bucket') {
      if (le === undefined) throw new ExpositionError(line, `${name} without le`)
      const bound = parseValue(le, line)
      const previous = part.buckets[part.buckets.length - 1]
      if (previous !== undefined && (bound <= previous[0] || value < previous[1])) {
        throw new ExpositionError(line, `${name}: buckets must rise in le and be cumulative`)
      }
      part.buckets.push([bound, value])
    } else if (suffix === '_sum') part.sum = value
    else {
      if (!(value >= 0) || !Number.isInteger(value)) throw new ExpositionError(line, `${name} is ${value}`)
      part.count = value
    }
  })
  for (const [name, parts] of histogramParts) {
    const f = families.get(name) as MetricFamily
    for (const part of parts.values()) {
      const last = part.buckets[part.buckets.length - 1]
      if (last === undefined || last[0] !== Infinity) throw new ExpositionError(0, `histogram ${name} ${seriesKey(part.labels)} has no +Inf bucket`)
      if (part.count === undefined || part.sum === undefined) throw new ExpositionError(0, `histogram ${name} ${seriesKey(part.labels)} lacks _sum or _count`)
      if (last[1] !== part.count) throw new ExpositionError(0, `histogram ${name}: +Inf bucket ${last[1]} ≠ _count ${part.count}`)
      f.histograms.push({ labels: part.labels, buckets: part.buckets, sum: part.sum, count: part.count })
    }
  }
  return families
}

/** The value of the one series of `name` whose labels include `labels`. */
export function valueOf(families: Map<string, MetricFamily>, name: string, labels: Record<string, string>): number {
  const f = families.get(name)
  if (f === undefined) throw new Error(`no metric family ${name}`)
  const matches = f.series.filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))
  if (matches.length !== 1) throw new Error(`${matches.length} series of ${name} match ${JSON.stringify(labels)}`)
  return (matches[0] as Series).value
}

/** The one histogram of `name` whose labels include `labels`. */
export function histogramOf(families: Map<string, MetricFamily>, name: string, labels: Record<string, string>): HistogramSeries {
  const f = families.get(name)
  if (f === undefined) throw new Error(`no metric family ${name}`)
  const matches = f.histograms.filter((h) => Object.entries(labels).every(([k, v]) => h.labels[k] === v))
  if (matches.length !== 1) throw new Error(`${matches.length} histograms of ${name} match ${JSON.stringify(labels)}`)
  return matches[0] as HistogramSeries
}
