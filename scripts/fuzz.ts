/**
 * Long fuzz runs of the sans-I/O cores (issue #18): `npm run fuzz` runs every target in
 * test/fuzz/targets.ts for FUZZ_SECONDS (default 60) each, from a random seed that is printed
 * (FUZZ_SEED replays one); FUZZ_TARGET=name runs one target. Exits 1 on a finding, with the
 * counterexample: turn it into a regression test in test/fuzz/.
 */
import { fuzz } from '../test/fuzz/runner.js'
import { TARGETS, loadSeeds } from '../test/fuzz/targets.js'

const seconds = Number(process.env.FUZZ_SECONDS ?? 60)
const seed = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : Math.floor(Math.random() * 0x7fffffff)
const only = process.env.FUZZ_TARGET
const { seeds, missing } = loadSeeds(20_000)
for (const m of missing) console.log(`corpus seeds skipped: ${m}`)
console.log(`fuzz: seed ${seed} (FUZZ_SEED=${seed} replays), ${seconds} s per target`)
let failed = false
for (const [name, target] of Object.entries(TARGETS)) {
  if (only !== undefined && only !== name) continue
  const started = performance.now()
  const result = fuzz(target, seeds[name] ?? [], { seed, numRuns: Number.MAX_SAFE_INTEGER, untilMs: seconds * 1000 })
  const elapsed = (performance.now() - started) / 1000
  console.log(`${name.padEnd(16)} ${String(result.runs).padStart(10)} inputs in ${elapsed.toFixed(1)} s  ${result.failure === undefined ? 'no finding' : 'FINDING'}`)
  if (result.failure !== undefined) {
    failed = true
    console.log(result.failure)
  }
}
process.exit(failed ? 1 : 0)
