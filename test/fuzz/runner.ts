/**
 * The fuzz driver over fast-check: inputs are either random bytes or corpus seeds with a few
 * byte-level mutations (flip, insert, delete, truncate), fed to a target (targets.ts) in
 * random chunks. A counterexample is reported with its seed and path, so it replays exactly.
 */
import fc from 'fast-check'
import type { Target } from './targets.js'

type Mutation = [kind: 0 | 1 | 2 | 3, at: number, byte: number]

function mutate(seed: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
  const bytes = Array.from(seed)
  for (const [kind, at, byte] of mutations) {
    const i = bytes.length === 0 ? 0 : at % bytes.length
    if (kind === 0 && bytes.length > 0) bytes[i] = (bytes[i]! ^ (1 << (byte & 7))) & 0xff
    else if (kind === 1) bytes.splice(i, 0, byte)
    else if (kind === 2 && bytes.length > 0) bytes.splice(i, 1)
    else if (kind === 3) bytes.length = i
  }
  return Uint8Array.from(bytes)
}

export function inputs(seeds: readonly Uint8Array[]): fc.Arbitrary<[Uint8Array, number[]]> {
  const mutation = fc.tuple(fc.constantFrom<0 | 1 | 2 | 3>(0, 1, 2, 3), fc.nat(), fc.integer({ min: 0, max: 255 })) as fc.Arbitrary<Mutation>
  const fromSeed =
    seeds.length === 0 ? fc.uint8Array({ maxLength: 512 }) : fc.tuple(fc.constantFrom(...seeds), fc.array(mutation, { maxLength: 8 })).map(([s, m]) => mutate(s, m))
  const data = fc.oneof({ weight: 1, arbitrary: fc.uint8Array({ maxLength: 512 }) }, { weight: 3, arbitrary: fromSeed })
  return fc.tuple(data, fc.array(fc.nat({ max: 8192 }), { maxLength: 6 }))
}

export interface FuzzRun {
  runs: number
  seed: number
  failure: string | undefined
}

/** Run `target` for `numRuns` inputs (or until `untilMs` passes) from `seed`. */
export function fuzz(target: Target, seeds: readonly Uint8Array[], options: { seed: number; numRuns: number; untilMs?: number }): FuzzRun {
  let runs = 0
  const details = fc.check(
    fc.property(inputs(seeds), ([data, cuts]) => {
      runs++
      target(data, cuts)
    }),
    { seed: options.seed, numRuns: options.numRuns, ...(options.untilMs === undefined ? {} : { interruptAfterTimeLimit: options.untilMs, markInterruptAsFailure: false }) },
  )
  return { runs, seed: options.seed, failure: details.failed ? `${fc.defaultReportMessage(details)}\n${String((details as { errorInstance?: unknown }).errorInstance)}` : undefined }
}
