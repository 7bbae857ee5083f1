/**
 * Finding the external programs the interop suites and benchmarks drive (nginx, wrk,
 * h2load, taskset), and skipping a suite visibly when one is missing: a fresh clone
 * without the Debian packages must pass with skips, never fail.
 */
import { accessSync, constants } from 'node:fs'
import { delimiter, join } from 'node:path'
import type { Test } from 'tap'

/**
 * Folders searched after PATH: Debian installs nginx in /usr/sbin, which a non-root
 * user's PATH usually lacks although the binary runs fine without privileges.
 */
const SBIN_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin'] as const

/** Absolute path of the executable `name`, or null when it is not installed. */
export function which(name: string): string | null {
  const fromPath = (process.env['PATH'] ?? '').split(delimiter).filter((dir) => dir !== '')
  for (const dir of [...fromPath, ...SBIN_DIRS]) {
    const candidate = join(dir, name)
    try {
      accessSync(candidate, constants.X_OK)
      return candidate
    } catch {
      // Not here (or not executable): keep looking in the next folder.
    }
  }
  return null
}

/**
 * The path of `name` for a suite that needs it. When it is missing, records a skipped
 * test whose name says so (`nginx not installed`) and returns null: the caller then
 * defines none of its tests, and the TAP output shows why.
 */
export function requireBinary(t: Test, name: string): string | null {
  const path = which(name)
  if (path === null) {
    void t.skip(`${name} not installed`, () => {})
  }
  return path
}
