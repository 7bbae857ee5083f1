/**
 * Runs the `wirepool` command as a user would (`node --import tsx src/cli/main.ts …`) and
 * collects its exit code and output. A child still running when the test ends is killed.
 */
import { spawn } from 'node:child_process'
import { PassThrough } from 'node:stream'
import { fileURLToPath } from 'node:url'

export interface CliRun {
  code: number | null
  stdout: string
  stderr: string
}

interface Teardown {
  teardown(fn: () => unknown): void
}

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url))

export function runCli(t: Teardown, args: readonly string[], input?: string): Promise<CliRun> {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill()
  })
  child.stdin.end(input ?? '')
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s))
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s))
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

/** The number before `label` in an h2load-style line, e.g. `count(line, 'succeeded')`. */
export function count(text: string, label: string): number {
  const m = new RegExp(`(\\d+) ${label}`).exec(text)
  if (m === null) throw new Error(`no '${label}' in:\n${text}`)
  return Number(m[1])
}

/** Captured stdout / stderr for calling a sub-command in-process (runGet, runBench). */
export function captureIo(input = ''): { io: { stdout: PassThrough; stderr: PassThrough; stdin: PassThrough }; out: () => string; err: () => string } {
  const stdout = new PassThrough()
  const stderr = new PassThrough()
  const stdin = new PassThrough()
  stdin.end(input)
  let out = ''
  let err = ''
  stdout.setEncoding('utf8').on('data', (s: string) => (out += s))
  stderr.setEncoding('utf8').on('data', (s: string) => (err += s))
  return { io: { stdout, stderr, stdin }, out: () => out, err: () => err }
}
