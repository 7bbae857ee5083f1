/**
 * The I/O half of `npm run bench:report`: reads the results files of a directory and the
 * machine's description, writes the ratio chart next to the results and the generated
 * section into a README. bench/report.ts runs it on this repository; the unit test runs
 * it on a temp dir.
 */
import { readdir, readFile, rename, writeFile } from 'node:fs/promises'
import { cpus, totalmem } from 'node:os'
import { dirname, join, relative, sep } from 'node:path'
import { chartBars, parseCpuInfo, parseFamily, parseMemInfo, ratioChartSvg, replaceSection, reportSection, type Family, type Machine } from './report-format.js'

export interface ReportPaths {
  /** Folder of the `*.json` results (bench/results); the chart is written there too. */
  readonly resultsDir: string
  /** The README holding the `<!-- bench:start -->` / `<!-- bench:end -->` markers. */
  readonly readme: string
}

export interface ReportOutcome {
  /** The chart written, or null when no result had a ratio to draw. */
  readonly chart: string | null
  readonly families: readonly string[]
  /** Result files left out, each with the reason. */
  readonly skipped: readonly string[]
}

export const CHART_FILE = 'ratios.svg'
/** Families in the order the section shows them; any other results file follows, by name. */
const ORDER = ['h1.json', 'h2.json', 'tls.json', 'memory.json']

async function readOptional(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw err
  }
}

/** /proc when it is there (Linux, where the benchmarks run), node:os otherwise. */
export async function readMachine(): Promise<Machine> {
  const cpuinfo = await readOptional('/proc/cpuinfo')
  const meminfo = await readOptional('/proc/meminfo')
  const parsed = cpuinfo === null ? null : parseCpuInfo(cpuinfo)
  return {
    cores: parsed !== null && parsed.cores > 0 ? parsed.cores : cpus().length,
    cpuModel: parsed?.cpuModel ?? cpus()[0]?.model ?? null,
    ramBytes: (meminfo === null ? null : parseMemInfo(meminfo)) ?? totalmem(),
  }
}

async function resultFiles(dir: string): Promise<string[]> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw err
  }
  const rank = (n: string): number => (ORDER.includes(n) ? ORDER.indexOf(n) : ORDER.length)
  return names.filter((n) => n.endsWith('.json')).sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))
}

/**
 * Every results file that parses. One that does not is named in the section and in the
 * outcome instead of failing the whole report: another benchmark's file may be newer
 * than this generator.
 */
async function readFamilies(dir: string): Promise<{ families: Family[]; skipped: string[] }> {
  const families: Family[] = []
  const skipped: string[] = []
  for (const name of await resultFiles(dir)) {
    const text = await readFile(join(dir, name), 'utf8')
    try {
      families.push(parseFamily(name, JSON.parse(text)))
    } catch (err) {
      skipped.push(`${name} not shown: ${err instanceof Error ? err.message : String(err)}`)
    }
  }
  return { families, skipped }
}

/** Written aside then renamed, so an interrupted run never leaves a truncated file. */
async function replaceFile(path: string, text: string): Promise<void> {
  await writeFile(`${path}.tmp`, text)
  await rename(`${path}.tmp`, path)
}

export async function generateReport(paths: ReportPaths, machine: Machine): Promise<ReportOutcome> {
  // The markers are checked before anything is written.
  const readme = await readFile(paths.readme, 'utf8')
  replaceSection(readme, '')
  const { families, skipped } = await readFamilies(paths.resultsDir)
  const bars = chartBars(families)
  let chart: string | null = null
  if (bars.length > 0) {
    chart = join(paths.resultsDir, CHART_FILE)
    await replaceFile(chart, ratioChartSvg(bars, "wirepool's req/s relative to each anchor (same run, median of rounds)"))
  }
  // Markdown links use forward slashes, relative to the README's folder.
  const link = chart === null ? null : relative(dirname(paths.readme), chart).split(sep).join('/')
  await replaceFile(paths.readme, replaceSection(readme, reportSection(machine, families, link, skipped)))
  return { chart, families: families.map((f) => f.name), skipped }
}
