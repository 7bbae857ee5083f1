/**
 * The benchmark's child processes (servers, client contenders, wrk/h2load): pinned to a
 * CPU with taskset when it is installed, bounded in time, and all killable at once when
 * the benchmark is interrupted or fails, so none outlives it.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { which } from '../test-interop/support/which.js'

const live = new Set<ChildProcess>()
const taskset = which('taskset')

/** Whether `pinned` really pins (taskset installed); the report says so when not. */
export const canPin = taskset !== null

/** `file args…` as a command that runs on `cpu` only (unpinned without taskset). */
export function pinned(cpu: number, file: string, args: readonly string[]): [string, string[]] {
  return taskset === null ? [file, [...args]] : [taskset, ['-c', String(cpu), file, ...args]]
}

/** Starts a long-lived child (a server); it is killed by `killChildren()` if still running. */
export function startChild(command: [string, string[]]): ChildProcess {
  const child = spawn(command[0], command[1], { stdio: ['ignore', 'pipe', 'pipe'] })
  live.add(child)
  child.once('exit', () => live.delete(child))
  return child
}

export interface ChildOutput {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/**
 * Runs a child to its end and collects its output. `timeoutMs` bounds a contender that
 * hangs: it is killed and the run reports the signal instead of stalling the benchmark.
 */
export function runChild(command: [string, string[]], timeoutMs: number): Promise<ChildOutput> {
  return new Promise((resolve, reject) => {
    const child = startChild(command)
    let stdout = ''
    let stderr = ''
    child.stdout?.setEncoding('utf8').on('data', (text: string) => {
      stdout += text
    })
    child.stderr?.setEncoding('utf8').on('data', (text: string) => {
      stderr += text
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.once('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr })
    })
  })
}

/** Kills every child still running (Ctrl-C, a fatal error). */
export function killChildren(): void {
  for (const child of live) child.kill('SIGKILL')
}

/**
 * `command` run through `sh -c` after raising the soft open-files limit to `limit`, or to
 * the hard limit when `limit` is above it (a container may cap the hard limit, and an
 * unprivileged process cannot raise it): holding thousands of sockets needs one fd each.
 */
export function withFdLimit(limit: number, command: [string, string[]]): [string, string[]] {
  const script = `ulimit -n ${limit} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$@"`
  return ['sh', ['-c', script, 'sh', command[0], ...command[1]]]
}

/** A long-lived child that announced itself with one JSON line on stdout. */
export interface ServerChild<Info> {
  readonly info: Info
  readonly child: ChildProcess
  /** SIGTERM, then waits for the exit. Safe to call more than once. */
  stop(): Promise<void>
}

/**
 * Starts a server child and waits for the first line it prints (its ports, as JSON); fails
 * when the child exits first, with its stderr in the message.
 */
export async function startServerChild<Info>(command: [string, string[]]): Promise<ServerChild<Info>> {
  const child = startChild(command)
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  let stderr = ''
  child.stderr?.setEncoding('utf8').on('data', (text: string) => {
    stderr += text
  })
  const firstLine = new Promise<string>((resolve) => {
    let buffered = ''
    const onData = (text: string): void => {
      buffered += text
      const end = buffered.indexOf('\n')
      if (end === -1) return
      child.stdout?.off('data', onData)
      resolve(buffered.slice(0, end))
    }
    child.stdout?.setEncoding('utf8').on('data', onData)
  })
  const line = await Promise.race([firstLine, exited.then(() => null)])
  if (line === null) throw new Error(`server child exited before it was ready: ${stderr.trim().split('\n')[0] ?? ''}`)
  return {
    info: JSON.parse(line) as Info,
    child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      await exited
    },
  }
}
