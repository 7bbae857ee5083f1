#!/usr/bin/env node
/**
 * The `wirepool` command: argument dispatch to `get` and `bench`. Sub-commands return an
 * exit code; this file alone sets it, so every socket and child is closed by the time the
 * process ends by itself (no process.exit() cutting off buffered output).
 */
import { readFileSync } from 'node:fs'
import { runBench, BENCH_HELP } from './bench.js'
import { EXIT_CODE_HELP, ExitCode } from './exit-codes.js'
import { runGet, GET_HELP, type CliIo } from './get.js'

const HELP = `Usage: wirepool <command> [options]

Commands:
  get URL        one request, curl-like (-v traces the connection's life)
  bench [URL]    h2load-compatible load generator; without URL, benchmarks an embedded server;
                 --rate R for an open-loop run without coordinated omission
  bench merge F… add up 'bench --json' results of several processes or machines

Run 'wirepool <command> --help' for the options of each.

${EXIT_CODE_HELP}`

function version(): string {
  // dist/cli/main.js and src/cli/main.ts both sit two levels below package.json.
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string }
  return pkg.version ?? 'unknown'
}

export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv
  switch (command) {
    case 'get':
      return runGet(rest, io)
    case 'bench':
      return runBench(rest, io)
    case '-h':
    case '--help':
    case 'help':
      io.stdout.write(`${HELP}\n\n${GET_HELP}\n\n${BENCH_HELP}\n`)
      return ExitCode.OK
    case '--version':
    case '-V':
      io.stdout.write(`wirepool ${version()}\n`)
      return ExitCode.OK
    default:
      io.stderr.write(`wirepool: ${command === undefined ? 'missing command' : `unknown command '${command}'`}\n${HELP}\n`)
      return ExitCode.USAGE
  }
}

// Output piped into `head` closes early: that is the reader's choice, not a failure to report.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err
})

main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin }).then(
  (code) => {
    process.exitCode = code
  },
  (err: unknown) => {
    process.stderr.write(`wirepool: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
    process.exitCode = ExitCode.FAILURE
  },
)
