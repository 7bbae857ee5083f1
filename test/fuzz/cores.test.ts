/**
 * Bounded fuzzing of the sans-I/O cores in CI (issue #18): each target (targets.ts) gets a few
 * thousand inputs from a fixed, printed seed — corpus seeds from ../shared/corpus/ mutated, and
 * random bytes — and must only ever throw typed errors. Long runs: `npm run fuzz`.
 */
import t from 'tap'
import { fuzz } from './runner.js'
import { TARGETS, loadSeeds } from './targets.js'

const SEED = Number(process.env.FUZZ_SEED ?? 0x18f022)
const RUNS = Number(process.env.FUZZ_RUNS ?? 5000)
const { seeds, missing } = loadSeeds()

t.comment(`fuzz seed 0x${SEED.toString(16)}, ${RUNS} inputs per target (FUZZ_SEED / FUZZ_RUNS to change)`)
for (const m of missing) t.comment(`corpus seeds skipped: ${m}`)

for (const [name, target] of Object.entries(TARGETS)) {
  t.test(name, { skip: false }, (tt) => {
    const result = fuzz(target, seeds[name] ?? [], { seed: SEED, numRuns: RUNS })
    tt.equal(result.failure, undefined, `${result.runs} inputs (${(seeds[name] ?? []).length} seeds), only typed errors`)
    tt.end()
  })
}

t.test('the driver reports an untyped exception (a planted bug is found)', (tt) => {
  const planted = (data: Uint8Array): void => {
    if (data.includes(0x42)) throw new TypeError('planted')
  }
  const result = fuzz(planted, [], { seed: SEED, numRuns: 2000 })
  tt.match(result.failure, /planted/, 'the counterexample names the exception')
  tt.end()
})
