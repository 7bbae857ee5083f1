/**
 * The pure half of `npm run bench:report`: results JSON in, README markdown and an SVG
 * chart out. No file or process access here (bench/report.ts does the I/O), so every
 * piece is unit-tested on fixtures (test/bench/report.test.ts).
 *
 * A results file is a "family" (h1, h2, tls, memory…): run metadata plus `scenarios[]`
 * (bench/h1.ts, bench/h2.ts) or `counts[]` (bench/memory.ts), each with `results[]` rows.
 * Row fields named `vs<Anchor>` are ratios of that row's req/s to the anchor's, measured
 * in the same run; wirepool's row supplies the chart's bars. Target checks come as
 * `targets[]` (bench/h2.ts) or per-count `verdicts[]` (bench/memory.ts).
 */

export interface Machine {
  /** Logical CPUs seen in /proc/cpuinfo. */
  readonly cores: number
  readonly cpuModel: string | null
  readonly ramBytes: number | null
}

export interface ResultRow {
  readonly tool: string
  readonly contender: string | null
  /** Numeric figures of the row in file order: `reqPerSec`, `mbPerSec`, `vsUndici`, … (null = failed). */
  readonly values: ReadonlyMap<string, number | null>
  readonly error: string | null
}

export interface FamilyScenario {
  readonly name: string
  readonly title: string | null
  readonly results: readonly ResultRow[]
}

export interface Family {
  /** `h1`, `h2`, … from the file's `benchmark` field, else its file name. */
  readonly name: string
  readonly date: string | null
  readonly node: string | null
  readonly server: string | null
  readonly settings: string | null
  readonly scenarios: readonly FamilyScenario[]
  /** The file's target checks, one sentence each (`targets[]` or `verdicts[]`). */
  readonly targets: readonly string[]
}

/** Titles of the families this repository benchmarks; others show their own name. */
const FAMILY_TITLES: Readonly<Record<string, string>> = {
  h1: 'HTTP/1.1 (`npm run bench:h1`)',
  h2: 'HTTP/2 (`npm run bench:h2`)',
  tls: 'TLS handshakes (`npm run bench:tls`)',
  memory: 'Memory (`npm run bench:memory`)',
}

/** Column headings of the figures we know; other fields are shown by their own name. */
const VALUE_LABELS: Readonly<Record<string, string>> = {
  reqPerSec: 'req/s',
  mbPerSec: 'MB/s',
  rssMiBPer100: 'RSS MiB / 100 conns',
  heapMiBPer100: 'heap MiB / 100 conns',
  openMs: 'open ms',
  cpuMicrosPerRequest: 'client CPU µs/req',
}

/** Display names of ratio anchors (`vsHttp2` → `node:http2`); others are lower-cased. */
const ANCHOR_LABELS: Readonly<Record<string, string>> = {
  undici: 'undici',
  wrk: 'wrk',
  http2: 'node:http2',
  h2load: 'h2load',
  http: 'node:http',
}

/** Row fields that are bookkeeping, not figures to tabulate. */
const IGNORED_FIELDS = new Set(['okRuns', 'runs', 'errors', 'perRound', 'connections'])

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

const optionalString = (value: unknown): string | null => (typeof value === 'string' && value !== '' ? value : null)

export function isRatioField(field: string): boolean {
  return /^vs[A-Z0-9]/.test(field)
}

export function anchorOf(field: string): string {
  const key = field.slice(2).toLowerCase()
  return ANCHOR_LABELS[key] ?? key
}

function fieldLabel(field: string): string {
  if (isRatioField(field)) return `vs ${anchorOf(field)}`
  return VALUE_LABELS[field] ?? field
}

function parseRow(raw: unknown, where: string): ResultRow {
  if (!isRecord(raw)) throw new Error(`${where}: a result is not an object`)
  const tool = optionalString(raw['tool']) ?? optionalString(raw['label']) ?? optionalString(raw['contender'])
  if (tool === null) throw new Error(`${where}: a result has no "tool", "label" or "contender"`)
  const values = new Map<string, number | null>()
  for (const [field, value] of Object.entries(raw)) {
    if (IGNORED_FIELDS.has(field)) continue
    // null is a figure that could not be measured (a failed contender, a missing anchor).
    if ((typeof value === 'number' && Number.isFinite(value)) || (value === null && field !== 'error')) values.set(field, value)
  }
  return { tool, contender: optionalString(raw['contender']), values, error: optionalString(raw['error']) }
}

/** A wirepool contender: `wirepool`, or a variant such as `wirepool-tls-h1`. */
export function isWirepool(contender: string | null): boolean {
  return contender !== null && /^wirepool(?:$|-)/.test(contender)
}

const formatRatioValue = (value: unknown): string => (typeof value === 'number' ? `${value.toFixed(2)}×` : '—')
const verdictOf = (met: unknown): string => (met === true ? 'met' : met === false ? 'missed' : 'not measured')

/** bench/h2.ts: `{ scenario, anchor, atLeast, ratio, met }`, a lower bound on a throughput ratio. */
function targetLine(t: Record<string, unknown>): string | null {
  const { scenario, anchor, atLeast, ratio, met } = t
  if (typeof scenario !== 'string' || typeof anchor !== 'string' || typeof atLeast !== 'number') return null
  return `\`${scenario}\`: wirepool ${formatRatioValue(ratio)} ${ANCHOR_LABELS[anchor] ?? anchor} (target ≥ ${atLeast}×): ${verdictOf(met)}`
}

/**
 * bench/memory.ts: `{ contender, connections, floor, vsFloor, node, vsNode, target, met }`;
 * each `vsX` ratio is named by the contender in field `x`.
 */
function verdictLine(v: Record<string, unknown>): string | null {
  const contender = optionalString(v['contender'])
  const target = optionalString(v['target'])
  if (contender === null || target === null) return null
  const at = typeof v['connections'] === 'number' ? ` at ${v['connections']} connections` : ''
  const ratios = Object.entries(v)
    .filter(([field]) => isRatioField(field))
    .map(([field, value]) => {
      const anchorField = `${field.charAt(2).toLowerCase()}${field.slice(3)}`
      return `${formatRatioValue(value)} ${optionalString(v[anchorField]) ?? anchorOf(field)}`
    })
  return `${contender}${at}: ${ratios.length === 0 ? '' : `${ratios.join(', ')} `}(target ${target}): ${verdictOf(v['met'])}`
}

function targetLines(raw: unknown, line: (entry: Record<string, unknown>) => string | null): string[] {
  if (!Array.isArray(raw)) return []
  return raw.filter(isRecord).flatMap((entry) => {
    const text = line(entry)
    return text === null ? [] : [text]
  })
}

/** `scenarios[]` as they are, or memory's `counts[]` as one scenario per connection count. */
function rawScenarios(fileName: string, json: Record<string, unknown>): { raw: Record<string, unknown>; name: string | null }[] {
  const scenarios = json['scenarios']
  if (Array.isArray(scenarios)) return scenarios.map((s, i) => ({ raw: asRecord(s, `${fileName}: scenario ${i}`), name: null }))
  const counts = json['counts']
  if (Array.isArray(counts)) {
    return counts.map((c, i) => {
      const raw = asRecord(c, `${fileName}: count ${i}`)
      return { raw, name: typeof raw['connections'] === 'number' ? `${raw['connections']} connections` : null }
    })
  }
  throw new Error(`${fileName}: no "scenarios" (or "counts") array`)
}

function asRecord(value: unknown, what: string): Record<string, unknown> {
  if (!isRecord(value)) throw new Error(`${what} is not an object`)
  return value
}

/**
 * Reads one results file's parsed JSON. Throws with the file name and what is wrong when
 * the shape is not the benchmarks' (the caller decides whether that is fatal).
 */
export function parseFamily(fileName: string, json: unknown): Family {
  if (!isRecord(json)) throw new Error(`${fileName}: not a JSON object`)
  const scenarios = rawScenarios(fileName, json)
  const duration = json['durationSeconds']
  const rounds = json['rounds']
  const warmup = json['warmupSeconds']
  const settings =
    typeof duration === 'number' && typeof rounds === 'number'
      ? `median of ${rounds} × ${duration} s${typeof warmup === 'number' ? ` after ${warmup} s warm-up` : ''}`
      : null
  return {
    name: optionalString(json['benchmark']) ?? fileName.replace(/\.json$/, ''),
    date: optionalString(json['date']),
    node: optionalString(json['node']),
    server: optionalString(json['server']),
    settings,
    scenarios: scenarios.map(({ raw, name: derived }, i) => {
      const name = optionalString(raw['name']) ?? derived ?? `scenario ${i + 1}`
      const results = raw['results']
      if (!Array.isArray(results)) throw new Error(`${fileName}: scenario ${name} has no "results" array`)
      return { name, title: optionalString(raw['title']), results: results.map((r) => parseRow(r, `${fileName} ${name}`)) }
    }),
    targets: [...targetLines(json['targets'], targetLine), ...scenarios.flatMap(({ raw }) => targetLines(raw['verdicts'], verdictLine))],
  }
}

/** Logical CPUs and the first model name from the text of /proc/cpuinfo. */
export function parseCpuInfo(text: string): { cores: number; cpuModel: string | null } {
  const lines = text.split('\n')
  const cores = lines.filter((line) => /^processor\s*:/.test(line)).length
  const model = lines.find((line) => /^model name\s*:/.test(line))
  return { cores, cpuModel: model === undefined ? null : model.slice(model.indexOf(':') + 1).trim() || null }
}

/** MemTotal in bytes from the text of /proc/meminfo (the kernel prints kB = KiB). */
export function parseMemInfo(text: string): number | null {
  const match = /^MemTotal:\s+(\d+) kB$/m.exec(text)
  return match === null ? null : Number(match[1]) * 1024
}

export function formatMachine(m: Machine): string {
  const ram = m.ramBytes === null ? 'RAM unknown' : `${(m.ramBytes / 1024 ** 3).toFixed(1)} GiB RAM`
  return `${m.cores} logical CPU${m.cores === 1 ? '' : 's'} (${m.cpuModel ?? 'model unknown'}), ${ram}`
}

/** Rates with thousands separators; two decimals below 10, so small MB/s stay readable. */
function formatValue(field: string, value: number | null): string {
  if (value === null) return '—'
  if (isRatioField(field)) return `${value.toFixed(2)}×`
  return value < 10 ? value.toFixed(2) : Math.round(value).toLocaleString('en-US')
}

/** A cell of a markdown table: pipes escaped, line breaks flattened. */
export function markdownCell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ')
}

/**
 * Figures in the order first seen, ratios after the other figures. A field that is null
 * in every row is no figure at all (a `note: null`), so it gets no column.
 */
function columnsOf(family: Family): string[] {
  const seen: string[] = []
  for (const s of family.scenarios) {
    for (const r of s.results) for (const [field, value] of r.values) if (value !== null && !seen.includes(field)) seen.push(field)
  }
  return [...seen.filter((f) => !isRatioField(f)), ...seen.filter(isRatioField)]
}

/**
 * One markdown table for a family: a row per (scenario, contender), its figures and its
 * ratios; the scenario name only on its first row. Metadata and target checks above and
 * below it.
 */
export function familyMarkdown(family: Family): string {
  const columns = columnsOf(family)
  const header = ['scenario', 'contender', ...columns.map(fieldLabel)]
  const align = [':--', ':--', ...columns.map(() => '--:')]
  const rows = family.scenarios.flatMap((s) =>
    s.results.map((r, i) => [
      i === 0 ? `\`${s.name}\`` : '',
      isWirepool(r.contender) ? `**${r.tool}**` : r.tool,
      ...columns.map((field) => (r.values.has(field) ? formatValue(field, r.values.get(field) ?? null) : '')),
    ]),
  )
  const line = (cells: readonly string[]): string => `| ${cells.map(markdownCell).join(' | ')} |`
  const meta = [
    family.date === null ? null : `run ${family.date.slice(0, 10)}`,
    family.node === null ? null : `Node.js ${family.node}`,
    family.server === null ? null : `server ${family.server}`,
    family.settings,
  ].filter((part): part is string => part !== null)
  const failures = family.scenarios.flatMap((s) => s.results.filter((r) => r.error !== null).map((r) => `- \`${s.name}\` ${r.tool}: ${markdownCell(r.error ?? '')}`))
  const targets = family.targets.map((line) => `- ${markdownCell(line)}`)
  return [
    `### ${FAMILY_TITLES[family.name] ?? family.name}`,
    '',
    ...(meta.length === 0 ? [] : [`${meta.join('; ')}.`, '']),
    line(header),
    line(align),
    ...rows.map(line),
    ...(targets.length === 0 ? [] : ['', 'Targets:', '', ...targets]),
    ...(failures.length === 0 ? [] : ['', 'Errors:', '', ...failures]),
  ].join('\n')
}

/** One bar of the chart: wirepool's ratio to one anchor in one scenario. */
export interface ChartBar {
  readonly group: string
  readonly anchor: string
  readonly ratio: number
}

/** wirepool's measured ratios, per family and scenario, in file order. */
export function chartBars(families: readonly Family[]): ChartBar[] {
  return families.flatMap((family) =>
    family.scenarios.flatMap((s) => {
      const wirepool = s.results.filter((r) => isWirepool(r.contender))
      return wirepool.flatMap((row) =>
        [...row.values]
          .filter((entry): entry is [string, number] => isRatioField(entry[0]) && entry[1] !== null)
          // wirepool against itself is 1× by definition: not a bar.
          .filter(([field]) => anchorOf(field) !== 'wirepool')
          // Several wirepool variants in one scenario each get a group of their own.
          .map(([field, ratio]) => ({ group: wirepool.length === 1 ? s.name : `${s.name} ${row.tool}`, anchor: anchorOf(field), ratio })),
      )
    }),
  )
}

/** Text for SVG: the five XML special characters escaped. */
export function xmlText(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] ?? c)
}

/** Distinguishable on white and for the common colour-vision deficiencies (Okabe–Ito). */
const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#000000'] as const

const CHART = { width: 760, labelWidth: 200, valueWidth: 56, barHeight: 14, barGap: 2, groupGap: 10, top: 44, bottom: 28 } as const

/**
 * A horizontal grouped bar chart of ratios: one group per scenario, one bar per anchor,
 * a dashed line at 1× (parity). Plain SVG 1.1 text, no script, no external resource, so
 * GitHub renders it from the README as an image.
 */
export function ratioChartSvg(bars: readonly ChartBar[], title: string): string {
  const groups = [...new Set(bars.map((b) => b.group))]
  const anchors = [...new Set(bars.map((b) => b.anchor))]
  const color = (anchor: string): string => PALETTE[anchors.indexOf(anchor) % PALETTE.length] ?? '#000000'
  // The axis reaches at least 1.25×, so the parity line never sits on the right edge.
  const max = Math.max(1.25, ...bars.map((b) => b.ratio))
  const plotWidth = CHART.width - CHART.labelWidth - CHART.valueWidth
  const x = (ratio: number): number => CHART.labelWidth + (ratio / max) * plotWidth
  const parts: string[] = []
  let y = CHART.top
  for (const group of groups) {
    const inGroup = bars.filter((b) => b.group === group)
    const groupHeight = inGroup.length * (CHART.barHeight + CHART.barGap)
    parts.push(`<text x="${CHART.labelWidth - 8}" y="${(y + groupHeight / 2 + 4).toFixed(1)}" text-anchor="end">${xmlText(group)}</text>`)
    for (const bar of inGroup) {
      const w = Math.max(1, x(bar.ratio) - CHART.labelWidth)
      parts.push(
        `<rect x="${CHART.labelWidth}" y="${y}" width="${w.toFixed(1)}" height="${CHART.barHeight}" fill="${color(bar.anchor)}"><title>${xmlText(`${group}: ${bar.ratio.toFixed(2)}× ${bar.anchor}`)}</title></rect>`,
        `<text x="${(CHART.labelWidth + w + 4).toFixed(1)}" y="${y + CHART.barHeight - 3}">${bar.ratio.toFixed(2)}×</text>`,
      )
      y += CHART.barHeight + CHART.barGap
    }
    y += CHART.groupGap
  }
  const height = y + CHART.bottom
  const parity = x(1).toFixed(1)
  const legend = anchors.map((anchor, i) => {
    const lx = CHART.labelWidth + i * 130
    return `<rect x="${lx}" y="22" width="12" height="12" fill="${color(anchor)}"/><text x="${lx + 16}" y="32">vs ${xmlText(anchor)}</text>`
  })
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${CHART.width}" height="${height}" viewBox="0 0 ${CHART.width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="8" y="16" font-size="13" font-weight="bold">${xmlText(title)}</text>`,
    ...legend,
    ...parts,
    `<line x1="${parity}" y1="${CHART.top - 4}" x2="${parity}" y2="${y - CHART.groupGap + 4}" stroke="#444444" stroke-dasharray="4 3"/>`,
    `<text x="${parity}" y="${height - 10}" text-anchor="middle">1× (parity)</text>`,
    `</svg>`,
    '',
  ].join('\n')
}

export const SECTION_START = '<!-- bench:start -->'
export const SECTION_END = '<!-- bench:end -->'

/**
 * Replaces what lies between the markers, keeping them. Fails when a marker is missing,
 * repeated or out of order: guessing where the section goes could overwrite prose.
 */
export function replaceSection(readme: string, section: string): string {
  const count = (marker: string): number => readme.split(marker).length - 1
  for (const marker of [SECTION_START, SECTION_END]) {
    const n = count(marker)
    if (n !== 1) throw new Error(`README.md must contain the line ${marker} exactly once (found ${n})`)
  }
  const start = readme.indexOf(SECTION_START) + SECTION_START.length
  const end = readme.indexOf(SECTION_END)
  if (end < start) throw new Error(`README.md: ${SECTION_END} comes before ${SECTION_START}`)
  return `${readme.slice(0, start)}\n${section.trim()}\n${readme.slice(end)}`
}

/** The whole generated section: machine, one table per family, the chart link. */
export function reportSection(machine: Machine, families: readonly Family[], chartPath: string | null, skipped: readonly string[]): string {
  const lines = [
    '_Generated by `npm run bench:report` from `bench/results/*.json`; do not edit by hand._',
    '',
    `Machine: ${formatMachine(machine)}. Ratios compare contenders measured in the same run (medians of alternated rounds); absolute numbers drift on a shared machine.`,
    '',
  ]
  if (families.length === 0) lines.push('No results yet: run a benchmark with `--json` (e.g. `npm run bench:h2 -- --json`).', '')
  if (chartPath !== null) lines.push(`![wirepool's throughput relative to each anchor, per scenario](${chartPath})`, '')
  for (const family of families) lines.push(familyMarkdown(family), '')
  for (const note of skipped) lines.push(`- ${markdownCell(note)}`)
  return lines.join('\n')
}
