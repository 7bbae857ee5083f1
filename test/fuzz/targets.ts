/**
 * Fuzz targets for the sans-I/O cores (issue #18): each takes arbitrary bytes, cut into
 * arbitrary chunks, and must either accept them or throw a typed WirepoolError (H1ParseError,
 * H2ProtocolError, WsProtocolError…) — never another exception, never a hang, never a body
 * byte it did not receive. Shared by the bounded CI run (test/fuzz/cores.test.ts) and the
 * long run (`npm run fuzz`, scripts/fuzz.ts).
 *
 * @jazzer.js/core (the choice, as OSS-Fuzz uses for llhttp and nghttp2) is blocked on
 * this machine: its only linux-x64 binary, shipped in the npm tarball, needs GLIBC_2.38 (Debian
 * 12 has 2.36), and building it from source fetches Node headers from outside the registry.
 * These targets are written so that a jazzer `fuzz(data)` wrapper can call them unchanged.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs'
import { WirepoolError } from '../../src/errors.js'
import { ResponseParser } from '../../src/h1/parser.js'
import { FrameReader, type FrameHandler } from '../../src/h2/frame-reader.js'
import { HpackDecoder } from '../../src/h2/hpack.js'
import { FrameDecoder, type FrameHandler as WsFrameHandler } from '../../src/ws/frame.js'
import { corpusMissing, corpusUrl } from '../support/corpus.js'

export type Target = (data: Uint8Array, cuts: readonly number[]) => void

/** `data` in pieces at the (sorted, in-range) `cuts`. */
export function pieces(data: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b)
  const out: Uint8Array[] = []
  let at = 0
  for (const p of points) {
    if (p > at) out.push(data.subarray(at, p))
    at = Math.max(at, p)
  }
  if (at < data.length) out.push(data.subarray(at))
  return out
}

/** A thrown value that is not one of ours is a finding. */
function typedOnly(err: unknown): void {
  if (!(err instanceof WirepoolError)) throw err
}

/** HTTP/1.1 response parser (head, Content-Length and chunked bodies, trailers, pipelining). */
export const h1Parser: Target = (data, cuts) => {
  let bodyBytes = 0
  const parser = new ResponseParser({
    onHead: () => {},
    onBody: (chunk) => {
      bodyBytes += chunk.byteLength
    },
    onTrailers: () => {},
    onMessageComplete: () => {},
  }, { maxHeaderSize: 4096, maxHeaderCount: 64 })
  try {
    for (const piece of pieces(data, cuts)) parser.execute(piece)
    parser.finish()
  } catch (err) {
    typedOnly(err)
  }
  if (bodyBytes > data.length) throw new Error(`the parser delivered ${bodyBytes} body bytes out of ${data.length} input bytes`)
}

/** The chunked decoder: the same parser, always on a chunked response, so the bytes land in chunk framing. */
const CHUNKED_HEAD = Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', 'latin1')
export const chunkedDecoder: Target = (data, cuts) => {
  const whole = Buffer.concat([CHUNKED_HEAD, data])
  h1Parser(whole, cuts.map((c) => c + CHUNKED_HEAD.length))
}

function noop(): void {}

/** HTTP/2 FrameReader: every frame-local check of RFC 9113 §4 and §6. */
export const h2FrameReader: Target = (data, cuts) => {
  const handler: FrameHandler = {
    onData: noop, onHeaders: noop, onPriority: noop, onRstStream: noop, onSettings: noop, onPushPromise: noop,
    onPing: noop, onGoaway: noop, onWindowUpdate: noop, onContinuation: noop, onUnknown: noop, onStreamError: noop,
  }
  const reader = new FrameReader(handler)
  try {
    for (const piece of pieces(data, cuts)) reader.push(piece)
  } catch (err) {
    typedOnly(err)
  }
}

/** HPACK decoder (RFC 7541): `cuts` split the input into successive header blocks on one decoder (its dynamic table carries over). */
export const hpackDecoder: Target = (data, cuts) => {
  const decoder = new HpackDecoder({ maxHeaderListSize: 16 * 1024 })
  for (const block of pieces(data, cuts)) {
    try {
      decoder.decode(block, 1)
    } catch (err) {
      typedOnly(err)
      return // a decoding error is a connection error: the decoder is not used again
    }
  }
}

/** WebSocket frame parser (RFC 6455 §5), with permessage-deflate's RSV1 allowed. */
export const wsFrameParser: Target = (data, cuts) => {
  const handler: WsFrameHandler = { onMessageStart: noop, onMessageData: noop, onMessageEnd: noop, onPing: noop, onPong: noop, onClose: noop }
  const decoder = new FrameDecoder(handler, { maxPayload: 64 * 1024, allowRsv1: true })
  try {
    for (const piece of pieces(data, cuts)) decoder.push(piece)
  } catch (err) {
    typedOnly(err)
  }
}

export const TARGETS: Record<string, Target> = { h1Parser, chunkedDecoder, h2FrameReader, hpackDecoder, wsFrameParser }

// ── seeds ──────────────────────────────────────────────────────────────────────────────

const hex = (s: string): Uint8Array => Buffer.from(s, 'hex')

/** Every *.json file under `dir` (bounded depth), parsed. */
function jsonFiles(dir: URL, depth = 3): unknown[] {
  const out: unknown[] = []
  for (const name of readdirSync(dir)) {
    const url = new URL(name, dir)
    const stat = statSync(url)
    if (stat.isDirectory() && depth > 0) out.push(...jsonFiles(new URL(`${name}/`, dir), depth - 1))
    else if (name.endsWith('.json') && stat.size < 4 * 1024 * 1024) {
      try {
        out.push(JSON.parse(readFileSync(url, 'utf8')))
      } catch {
        // not a vector file
      }
    }
  }
  return out
}

export interface Seeds {
  seeds: Record<string, Uint8Array[]>
  /** Corpus folders that were missing (the seeds then are the built-in ones only). */
  missing: string[]
}

/**
 * Seeds per target: a few built-in inputs, plus, when ../shared/corpus/ is there, the
 * response bytes of http1-client-robustness, the frames of http2-frame-test-case and the
 * header blocks of hpack-test-case (read in place).
 */
export function loadSeeds(maxPerTarget = 2000): Seeds {
  const seeds: Record<string, Uint8Array[]> = {
    h1Parser: [Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 204 No Content\r\n\r\n'), Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nT: 1\r\n\r\n')],
    chunkedDecoder: [Buffer.from('5\r\nhello\r\n0\r\n\r\n'), Buffer.from('a;ext="q"\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\n')],
    h2FrameReader: [hex('0000080600000000006465616462656566'), hex('000004080000000032000003e8'), hex('000000040000000000')],
    hpackDecoder: [hex('828684418cf1e3c2e5f23a6ba0ab90f4ff'), hex('8286844186a0e41d139d09')],
    wsFrameParser: [hex('810548656c6c6f'), hex('010348656c80026c6f'), hex('8a00'), hex('880203e8')],
  }
  const missing: string[] = []
  const h1 = corpusMissing('http1-client-robustness/vectors.json')
  if (h1 === undefined) {
    const vectors = JSON.parse(readFileSync(corpusUrl('http1-client-robustness/vectors.json'), 'utf8')) as { response_side: Array<{ server_writes: string[] }> }
    for (const v of vectors.response_side) seeds.h1Parser!.push(Buffer.from(v.server_writes.join(''), 'latin1'))
  } else missing.push(h1)
  const frames = corpusMissing('http2-frame-test-case/')
  if (frames === undefined) {
    for (const v of jsonFiles(corpusUrl('http2-frame-test-case/'))) {
      const wire = (v as { wire?: unknown }).wire
      if (typeof wire === 'string' && /^[0-9a-fA-F]*$/.test(wire)) seeds.h2FrameReader!.push(hex(wire))
    }
  } else missing.push(frames)
  const hpack = corpusMissing('hpack-test-case/')
  if (hpack === undefined) {
    for (const v of jsonFiles(corpusUrl('hpack-test-case/'))) {
      const cases = (v as { cases?: Array<{ wire?: unknown }> }).cases
      if (!Array.isArray(cases)) continue
      for (const c of cases) if (typeof c.wire === 'string') seeds.hpackDecoder!.push(hex(c.wire))
    }
  } else missing.push(hpack)
  for (const key of Object.keys(seeds)) seeds[key] = seeds[key]!.slice(0, maxPerTarget)
  return { seeds, missing }
}
