/**
 * `wirepool bench merge A.json B.json …`: runs of `wirepool bench --json` made at the same time
 * by several processes or machines (the user's own orchestration: ssh, Kubernetes jobs) as one
 * report, the way vegeta merges results files: counts and rates add, histograms merge, the
 * per-second series add up second by second since each run's start.
 */
import { readFile, writeFile } from 'node:fs/promises'
import { UsageError, boolFlag, configOrExit, parseFlags, stringFlag } from './args.js'
import { mergeDocuments, parseDocument, renderCsv, renderDocument, type BenchDocument } from './bench-document.js'
import { renderHtml } from './bench-html.js'
import { renderDocumentSummary } from './bench-report.js'
import { ExitCode } from './exit-codes.js'
import type { CliIo } from './get.js'

export const MERGE_HELP = `Usage: wirepool bench merge [options] RESULT.json...

Adds up results of 'wirepool bench --json' run at the same time (several processes or
machines): requests and rates are summed, latency histograms merged, time series added
second by second.
      --json                print the merged result as JSON (mergeable again)
      --csv FILE            write the merged per-second series as CSV ('-' for stdout)
      --html FILE           write a self-contained HTML report`

const OPTIONS = {
  json: { type: 'boolean' },
  csv: { type: 'string' },
  html: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const

interface MergeConfig {
  files: string[]
  json: boolean
  csvFile: string | undefined
  htmlFile: string | undefined
}

function parseMerge(argv: readonly string[]): MergeConfig | 'help' {
  const { values, positionals } = parseFlags(argv, OPTIONS)
  if (boolFlag(values, 'help')) return 'help'
  if (positionals.length === 0) throw new UsageError('merge needs at least one result file')
  const json = boolFlag(values, 'json')
  const csvFile = stringFlag(values, 'csv')
  if (json && csvFile === '-') throw new UsageError('--json and --csv - both want stdout')
  return { files: positionals, json, csvFile, htmlFile: stringFlag(values, 'html') }
}

export async function runMerge(argv: readonly string[], io: CliIo): Promise<number> {
  const config = await configOrExit('bench merge', MERGE_HELP, io, () => parseMerge(argv))
  if (typeof config === 'number') return config
  const docs = []
  for (const file of config.files) {
    let text: string
    try {
      text = await readFile(file, 'utf8')
    } catch (err) {
      io.stderr.write(`wirepool bench merge: ${file}: ${(err as Error).message}\n`)
      return ExitCode.READ
    }
    try {
      docs.push(parseDocument(text, file))
    } catch (err) {
      io.stderr.write(`wirepool bench merge: ${(err as Error).message}\n`)
      return ExitCode.USAGE
    }
  }
  const merged = mergeDocuments(docs, config.files)
  await writeOutputs(merged, config, io)
  if (config.json) io.stdout.write(renderDocument(merged))
  else if (config.csvFile !== '-') io.stdout.write(renderDocumentSummary(merged))
  return ExitCode.OK
}

/** --csv FILE (or - for stdout) and --html FILE, for a run and for a merge alike. */
export async function writeOutputs(doc: BenchDocument, config: { csvFile: string | undefined; htmlFile: string | undefined }, io: CliIo): Promise<void> {
  if (config.csvFile === '-') io.stdout.write(renderCsv(doc))
  else if (config.csvFile !== undefined) await writeFile(config.csvFile, renderCsv(doc))
  if (config.htmlFile !== undefined) await writeFile(config.htmlFile, renderHtml(doc))
}
