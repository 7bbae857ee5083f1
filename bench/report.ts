/**
 * `npm run bench:report`: regenerates the README's benchmark section (between
 * `<!-- bench:start -->` and `<!-- bench:end -->`) and bench/results/ratios.svg from the
 * results the benchmarks wrote with `--json` (bench/results/*.json: h1, h2, and tls /
 * memory when those were run). Fails, writing nothing, when the README lacks the markers.
 */
import { fileURLToPath } from 'node:url'
import { generateReport, readMachine } from './report-run.js'

const paths = {
  resultsDir: fileURLToPath(new URL('./results/', import.meta.url)),
  readme: fileURLToPath(new URL('../README.md', import.meta.url)),
}

try {
  const outcome = await generateReport(paths, await readMachine())
  for (const note of outcome.skipped) process.stderr.write(`${note}\n`)
  if (outcome.chart !== null) process.stdout.write(`wrote ${outcome.chart}\n`)
  process.stdout.write(`updated ${paths.readme}: ${outcome.families.length === 0 ? 'no results yet' : outcome.families.join(', ')}\n`)
} catch (err) {
  process.stderr.write(`bench:report failed: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exitCode = 1
}
