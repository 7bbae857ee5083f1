/**
 * Test-side driver for ResponseParser (used by the test/h1/parser*.test.ts files only):
 * feeds pieces, records every event into plain data, and turns the outcome into a
 * comparable value so "whole" and "split" runs can be checked for equality.
 */
import { existsSync } from 'node:fs'
import { corpusUrl } from '../support/corpus.js'
import { H1ParseError } from '../../src/errors.js'
import { ResponseParser } from '../../src/h1/parser.js'
import type { ResponseHead, ResponseParserOptions } from '../../src/h1/parser-events.js'

export interface Message {
  head: ResponseHead
  body: Buffer
  /** Number of onBody calls (split runs differ here; not part of the canonical form). */
  bodyCalls: number
  trailers: string[] | null
  complete: boolean
}

export interface Outcome {
  messages: Message[]
  /** The H1ParseError that stopped parsing, if any. */
  error: H1ParseError | null
  /** Bytes after the head of an upgrade (offset returned by execute + unfed pieces). */
  upgradeRest: Buffer | null
  state: string
  /** Sum of execute() return values. */
  consumed: number
}

export interface RunOptions {
  /**
   * The request every response answers (`ResponseParser#expectResponse`); default: a GET
   * that asked for an upgrade (a 101 switches, anything else is read by its framing).
   */
  request?: { method: string; upgrade: boolean }
  /** Call finish() after the last piece. */
  finish?: boolean
  parser?: ResponseParserOptions
}

/** A corpus field value as a parser reports it: without the OWS around it (RFC 9112 §5.1). */
export const trimOws = (s: string): string => s.replace(/^[ \t]+|[ \t]+$/g, '')

export const defaultRequest = { method: 'GET', upgrade: true } as const

/** Feed `pieces` in order to a fresh parser and record what happened. Non-parse errors propagate. */
export function run(pieces: readonly Uint8Array[], options: RunOptions = {}): Outcome {
  const messages: Message[] = []
  const request = options.request ?? defaultRequest
  let current: Message | null = null
  let bodies: Buffer[] = []
  const parser = new ResponseParser(
    {
      onHead(head) {
        if (current !== null) current.body = Buffer.concat(bodies)
        bodies = []
        current = { head, body: Buffer.alloc(0), bodyCalls: 0, trailers: null, complete: head.statusCode < 200 }
        messages.push(current)
      },
      onBody(chunk) {
        if (current === null) throw new Error('onBody before onHead')
        if (chunk.length === 0) throw new Error('empty onBody')
        // copy: the view is only valid during the call
        bodies.push(Buffer.from(chunk))
        current.bodyCalls++
      },
      onTrailers(trailers) {
        if (current === null) throw new Error('onTrailers before onHead')
        current.trailers = trailers
      },
      onMessageComplete() {
        if (current === null) throw new Error('onMessageComplete before onHead')
        if (current.complete) throw new Error('onMessageComplete twice')
        current.complete = true
      },
    },
    options.parser,
  )
  parser.expectResponse(request.method, request.upgrade)
  let error: H1ParseError | null = null
  let upgradeRest: Buffer | null = null
  let consumed = 0
  try {
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i]!
      const n = parser.execute(piece)
      consumed += n
      if (parser.state === 'upgraded') {
        upgradeRest = Buffer.concat([piece.subarray(n), ...pieces.slice(i + 1)])
        break
      }
      if (n !== piece.length) throw new Error(`execute returned ${n} for ${piece.length} bytes`)
    }
    if (options.finish === true) parser.finish()
  } catch (err) {
    if (!(err instanceof H1ParseError)) throw err
    error = err
  }
  if (current !== null) (current as Message).body = Buffer.concat(bodies)
  return { messages, error, upgradeRest, state: parser.state, consumed }
}

/** A canonical, JSON-comparable form of an outcome (body call counts left out). */
export function canonical(o: Outcome): unknown {
  return {
    messages: o.messages.map((m) => ({
      head: m.head,
      body: m.body.toString('latin1'),
      trailers: m.trailers,
      complete: m.complete,
    })),
    error: o.error === null ? null : { reason: o.error.reason, offset: o.error.offset },
    upgradeRest: o.upgradeRest === null ? null : o.upgradeRest.toString('latin1'),
    state: o.state,
  }
}

/** Every way of cutting `input` in two (both pieces non-empty). */
export function* twoSplits(input: Buffer): Generator<Buffer[]> {
  for (let i = 1; i < input.length; i++) yield [input.subarray(0, i), input.subarray(i)]
}

/** Every way of cutting `input` in three (all pieces non-empty). */
export function* threeSplits(input: Buffer): Generator<Buffer[]> {
  for (let i = 1; i < input.length - 1; i++) {
    for (let j = i + 1; j < input.length; j++) yield [input.subarray(0, i), input.subarray(i, j), input.subarray(j)]
  }
}

/** One byte per piece. */
export function bytewise(input: Buffer): Buffer[] {
  const out: Buffer[] = []
  for (let i = 0; i < input.length; i++) out.push(input.subarray(i, i + 1))
  return out
}

/**
 * Run `input` whole and at every split (every 2-split; one byte at a time when `bytewise`
 * is set) and return the whole outcome plus a list of splits whose canonical outcome
 * differs from it (empty when all agree).
 */
export function runAllSplits(
  input: Buffer,
  options: RunOptions & { bytewise?: boolean; threeWay?: boolean } = {},
): { whole: Outcome; mismatches: string[] } {
  const whole = run([input], options)
  const expected = JSON.stringify(canonical(whole))
  const mismatches: string[] = []
  const check = (pieces: Buffer[], label: string): void => {
    const got = JSON.stringify(canonical(run(pieces, options)))
    if (got !== expected && mismatches.length < 5) mismatches.push(`${label}: ${got}`)
  }
  for (const pieces of twoSplits(input)) check(pieces, `split@${pieces[0]!.length}`)
  if (options.threeWay === true) {
    for (const pieces of threeSplits(input)) check(pieces, `split@${pieces[0]!.length},${pieces[0]!.length + pieces[1]!.length}`)
  }
  if (options.bytewise === true) check(bytewise(input), 'bytewise')
  return { whole, mismatches }
}

/** Resolve a corpus folder next to the repository (../shared/corpus/<name>, see support/corpus.ts), or null if absent. */
export function corpusDir(name: string): URL | null {
  const url = corpusUrl(`${name}/`)
  return existsSync(url) ? url : null
}
