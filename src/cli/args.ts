/**
 * Flag parsing for the `wirepool` command: node:util `parseArgs` in strict mode (unknown
 * flags and missing values are errors), plus the value checks both sub-commands share.
 * Every problem is a UsageError, which `configOrExit` turns into exit code 2, a one-line message and the help.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { ExitCode } from './exit-codes.js'
import type { CliIo } from './get.js'

export class UsageError extends Error {
  override get name(): string {
    return 'UsageError'
  }
}

/**
 * A sub-command's configuration, or the exit code when there is nothing to run: `--help`
 * prints the help to stdout (OK); a UsageError prints `wirepool <command>: <message>` and the
 * help to stderr (USAGE). Any other error propagates.
 */
export async function configOrExit<C extends object>(
  command: string,
  help: string,
  io: CliIo,
  parse: () => C | 'help' | Promise<C | 'help'>,
): Promise<C | number> {
  let config: C | 'help'
  try {
    config = await parse()
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`wirepool ${command}: ${err.message}\n${help}\n`)
      return ExitCode.USAGE
    }
    throw err
  }
  if (config === 'help') {
    io.stdout.write(`${help}\n`)
    return ExitCode.OK
  }
  return config
}

type ParsedValues = Record<string, string | boolean | Array<string | boolean> | undefined>

export interface ParsedFlags {
  values: ParsedValues
  positionals: string[]
}

/** parseArgs with its TypeErrors (ERR_PARSE_ARGS_*) turned into UsageErrors. */
export function parseFlags(argv: readonly string[], options: NonNullable<ParseArgsConfig['options']>): ParsedFlags {
  try {
    const { values, positionals } = parseArgs({ args: [...argv], options, strict: true, allowPositionals: true })
    return { values: values as ParsedValues, positionals }
  } catch (err) {
    const code = (err as { code?: unknown }).code
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) throw new UsageError((err as Error).message)
    throw err
  }
}

export function stringFlag(values: ParsedValues, name: string): string | undefined {
  const v = values[name]
  return typeof v === 'string' ? v : undefined
}

export function listFlag(values: ParsedValues, name: string): string[] {
  const v = values[name]
  if (v === undefined) return []
  return (Array.isArray(v) ? v : [v]).filter((x): x is string => typeof x === 'string')
}

export function boolFlag(values: ParsedValues, name: string): boolean {
  return values[name] === true
}

export function positiveInt(flag: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback
  if (!/^\d+$/.test(text) || Number(text) < 1 || !Number.isSafeInteger(Number(text))) {
    throw new UsageError(`${flag} needs a positive integer, got '${text}'`)
  }
  return Number(text)
}

const DURATION_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, '': 1000 }

/** h2load's duration syntax: a number with an optional unit (h, m, s, ms); no unit means seconds. */
export function durationMs(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text)
  if (m === null) throw new UsageError(`${flag} needs a duration such as 10, 10s, 500ms or 1m, got '${text}'`)
  const ms = Number(m[1]) * (DURATION_UNITS[m[2] ?? ''] as number)
  if (!(ms > 0)) throw new UsageError(`${flag} must be longer than 0, got '${text}'`)
  return ms
}

/** Seconds as curl takes them (`--max-time 2.5`), in ms. */
export function secondsMs(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined
  if (!/^\d+(?:\.\d+)?$/.test(text) || !(Number(text) > 0)) throw new UsageError(`${flag} needs a positive number of seconds, got '${text}'`)
  return Number(text) * 1000
}

/**
 * `-H 'Name: value'` as curl and h2load take it. Pseudo-headers (h2load's `-H ':method: POST'`)
 * are refused: the method has its own flag and the engine owns the others.
 */
export function parseHeader(text: string): [string, string] {
  const colon = text.indexOf(':')
  if (colon <= 0) {
    throw new UsageError(
      text.startsWith(':') ? `-H '${text}': pseudo-headers cannot be set; use -X for the method` : `-H '${text}': expected 'Name: value'`,
    )
  }
  return [text.slice(0, colon).trim(), text.slice(colon + 1).trim()]
}

/** An absolute http: or https: URL. */
export function parseUrl(text: string | undefined): URL {
  if (text === undefined) throw new UsageError('missing URL')
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new UsageError(`invalid URL '${text}'`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`unsupported URL scheme '${url.protocol}' (http: or https:)`)
  return url
}

/** `--h1`, `--h2`, `--h2c` are alternatives: at most one of them. */
export type ProtocolChoice = 'h1' | 'h2' | 'h2c' | undefined

export function protocolChoice(values: ParsedValues, allowed: readonly string[]): ProtocolChoice {
  const given = allowed.filter((name) => values[name] === true)
  if (given.length > 1) throw new UsageError(`--${given.join(' and --')} cannot be combined`)
  return given[0] as ProtocolChoice
}
