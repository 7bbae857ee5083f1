/**
 * The one way an option is checked (Agent, Pool, per-request, connection, codec and
 * WebSocket options alike): each returns the value, the fallback when it is undefined, or
 * throws an `InvalidArgumentError` that names the option and says what it got.
 */
import { InvalidArgumentError } from './errors.js'

export interface IntegerRange {
  /** Smallest accepted value (default 1). */
  min?: number
  /** Largest accepted value (default Number.MAX_SAFE_INTEGER). */
  max?: number
}

/** An integer within `[min, max]` (default `[1, MAX_SAFE_INTEGER]`). */
export function integerOption(name: string, value: unknown, fallback: number, range: IntegerRange = {}): number {
  if (value === undefined) return fallback
  const min = range.min ?? 1
  const max = range.max ?? Number.MAX_SAFE_INTEGER
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(`option ${name} must be ${describeRange(min, max)}, got ${String(value)}`)
  }
  return value
}

/** Like `integerOption`, but undefined stays undefined (no default: "not set"). */
export function optionalIntegerOption(name: string, value: unknown, range: IntegerRange = {}): number | undefined {
  return value === undefined ? undefined : integerOption(name, value, 0, range)
}

/** Milliseconds: a finite number ≥ 0. What 0 means (usually "no timeout", as undici) is the caller's. */
export function msOption(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new InvalidArgumentError(`option ${name} must be a non-negative number of milliseconds, got ${String(value)}`)
  }
  return value
}

export function booleanOption(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') throw new InvalidArgumentError(`option ${name} must be a boolean, got ${String(value)}`)
  return value
}

function describeRange(min: number, max: number): string {
  if (max === Number.MAX_SAFE_INTEGER) {
    if (min === 1) return 'a positive integer'
    if (min === 0) return 'a non-negative integer'
    return `an integer >= ${min}`
  }
  return `an integer in [${min}, ${max}]`
}
