/**
 * `npm run bench:parser`: ResponseParser vs http-parser-js (HTTPParser.RESPONSE) over a
 * size ladder, measured with mitata in one run; prints ns per response and the ratio.
 * Inputs are built once; each parser is reused across iterations (every input is a
 * complete keep-alive response, so both return to their start state), so the figures are
 * parsing only, not construction.
 */
import { bench, do_not_optimize, run } from 'mitata'
import { HTTPParser } from 'http-parser-js'
import { ResponseParser } from '../src/h1/parser.js'
import type { ResponseParserHandler } from '../src/h1/parser-events.js'
import { formatRatio, formatTable } from './table.js'

interface Case {
  name: string
  /** The response, as the socket reads that deliver it. */
  pieces: Buffer[]
}

const DATE = 'Date: Sat, 09 Oct 2010 14:28:02 GMT\r\n'

function smallHead(): Case {
  const raw = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n' + DATE + 'Content-Length: 5\r\n\r\nhello'
  return { name: 'small_head_3h_cl5', pieces: [Buffer.from(raw, 'latin1')] }
}

function twentyHeaders(): Case {
  let raw = 'HTTP/1.1 200 OK\r\n' + DATE + 'Content-Type: application/json; charset=utf-8\r\nContent-Length: 5\r\n'
  const names = ['Server', 'Cache-Control', 'Vary', 'ETag', 'Last-Modified', 'X-Request-Id', 'X-Frame-Options', 'Strict-Transport-Security']
  for (let i = 0; raw.split('\r\n').length - 2 < 20; i++) {
    raw += `${names[i % names.length]}${i >= names.length ? `-${i}` : ''}: value-${i} with some text in it\r\n`
  }
  raw += '\r\nhello'
  return { name: 'head_20h_cl5', pieces: [Buffer.from(raw, 'latin1')] }
}

/** 1 MiB body in 16 KiB chunks, delivered as 64 KiB socket reads. */
function chunkedMiB(): Case {
  const chunk = Buffer.alloc(16 * 1024, 0x61)
  const parts: Buffer[] = [Buffer.from('HTTP/1.1 200 OK\r\n' + DATE + 'Transfer-Encoding: chunked\r\n\r\n')]
  for (let i = 0; i < 64; i++) parts.push(Buffer.from('4000\r\n'), chunk, Buffer.from('\r\n'))
  parts.push(Buffer.from('0\r\n\r\n'))
  const all = Buffer.concat(parts)
  const pieces: Buffer[] = []
  for (let at = 0; at < all.length; at += 64 * 1024) pieces.push(all.subarray(at, at + 64 * 1024))
  return { name: 'chunked_1MiB_16k_chunks', pieces }
}

const cases = [smallHead(), twentyHeaders(), chunkedMiB()]

let sink = 0

function ours(): (pieces: Buffer[]) => void {
  const handler: ResponseParserHandler = {
    onHead: (head) => {
      sink += head.rawHeaders.length
    },
    onBody: (chunk) => {
      sink += chunk.length
    },
    onTrailers: () => undefined,
    onMessageComplete: () => {
      sink++
    },
  }
  const parser = new ResponseParser(handler)
  return (pieces) => {
    for (const piece of pieces) parser.execute(piece)
  }
}

function httpParserJs(): (pieces: Buffer[]) => void {
  const parser = new HTTPParser(HTTPParser.RESPONSE)
  parser[HTTPParser.kOnHeadersComplete] = (info) => {
    sink += info.headers.length
  }
  parser[HTTPParser.kOnBody] = (_chunk, _offset, length) => {
    sink += length
  }
  parser[HTTPParser.kOnMessageComplete] = () => {
    sink++
  }
  parser[HTTPParser.kOnHeaders] = () => undefined
  return (pieces) => {
    for (const piece of pieces) {
      const r = parser.execute(piece)
      if (r instanceof Error) throw r
    }
  }
}

// Both parsers must agree on what they parse before their speed means anything.
for (const c of cases) {
  const before = sink
  ours()(c.pieces)
  const a = sink - before
  httpParserJs()(c.pieces)
  const b = sink - before - a
  if (a !== b) throw new Error(`${c.name}: the parsers disagree (${a} vs ${b})`)
}

for (const c of cases) {
  const a = ours()
  const b = httpParserJs()
  bench(`wirepool ${c.name}`, () => do_not_optimize(a(c.pieces)))
  bench(`http-parser-js ${c.name}`, () => do_not_optimize(b(c.pieces)))
}

const { benchmarks } = await run({ format: 'quiet' })
const avg = new Map<string, number>()
for (const trial of benchmarks) {
  const stats = trial.runs[0]?.stats
  if (stats !== undefined) avg.set(trial.alias, stats.avg)
}

const fmt = (ns: number | undefined): string => (ns === undefined ? '—' : ns < 10_000 ? ns.toFixed(0) : Math.round(ns).toLocaleString('en-US'))
const rows = cases.map((c) => {
  const w = avg.get(`wirepool ${c.name}`)
  const h = avg.get(`http-parser-js ${c.name}`)
  const bytes = c.pieces.reduce((n, p) => n + p.length, 0)
  const mbps = w === undefined ? '—' : ((bytes / w) * 1e9 / 2 ** 20).toFixed(0)
  return [c.name, String(bytes), fmt(w), fmt(h), formatRatio(w === undefined || h === undefined ? null : h / w), mbps]
})
console.log(formatTable(['case', 'bytes', 'wirepool ns/op', 'http-parser-js ns/op', 'speedup', 'wirepool MiB/s'], rows))
console.log(`\n(speedup = http-parser-js time / wirepool time, same run; sink ${sink % 10})`)
