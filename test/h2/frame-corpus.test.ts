/**
 * http2jp/http2-frame-test-case (../shared/corpus/http2-frame-test-case, see its SOURCE.md):
 * normal cases decode to the listed fields and encode back to the same wire; error cases fail
 * with one of the listed codes. Default SETTINGS (MAX_FRAME_SIZE 16384).
 */
import t from 'tap'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { H2ProtocolError } from '../../src/errors.js'
import { Flag, FrameType } from '../../src/h2/frame.js'
import { encodeContinuation, encodeData, encodeGoaway, encodeHeaders, encodePing, encodePriority, encodePushPromise, encodeRstStream, encodeSettings, encodeWindowUpdate } from '../../src/h2/frame-writer.js'
import type { SettingsEntry } from '../../src/h2/frame.js'
import type { Priority } from '../../src/h2/frame-reader.js'
import { feed } from './frame-recorder.js'
import { corpusMissing, corpusUrl } from '../support/corpus.js'
import type { FrameRecord } from './frame-recorder.js'

const CORPUS = corpusUrl('http2-frame-test-case/')

type Payload = Record<string, unknown>
interface CorpusFrame {
  length: number
  type: number
  flags: number
  stream_identifier: number
  frame_payload: Payload
}
interface CorpusCase {
  description: string
  wire: string
  frame: CorpusFrame | null
  error: number[] | null
}

if (!existsSync(CORPUS)) {
  t.plan(0, corpusMissing('http2-frame-test-case/'))
} else {
  const files: string[] = []
  for (const dir of readdirSync(CORPUS, { withFileTypes: true })) {
    if (!dir.isDirectory()) continue
    for (const name of readdirSync(new URL(`${dir.name}/`, CORPUS)).sort()) {
      if (name.endsWith('.json')) files.push(`${dir.name}/${name}`)
    }
  }
  files.sort()

  t.test('the corpus holds the 12 normal and 22 error cases SOURCE.md lists', async (t) => {
    t.equal(files.length, 34)
    t.equal(files.filter((f) => f.startsWith('error/')).length, 22)
  })

  for (const file of files) {
    const c = JSON.parse(readFileSync(new URL(file, CORPUS), 'utf8')) as CorpusCase
    const wire = Buffer.from(c.wire, 'hex')
    if (c.frame !== null) {
      const frame = c.frame
      t.test(`${file}: decode and re-encode`, async (t) => {
        // A CONTINUATION only exists after a field block left open: open one on its stream
        // first (HEADERS without END_HEADERS, empty fragment), as a peer would.
        const primer =
          frame.type === FrameType.CONTINUATION ? encodeHeaders(frame.stream_identifier, new Uint8Array(0), { endHeaders: false }) : null
        const input = primer === null ? wire : Buffer.concat([primer, wire])
        const { records, error } = feed(input)
        t.equal(error, undefined, 'decodes without error')
        const decoded = records.slice(primer === null ? 0 : 1)
        t.equal(decoded.length, 1, 'exactly one frame')
        const record = decoded[0]
        if (record === undefined) return
        t.same(toCorpusShape(record, wire), frame, 'decoded fields match')

        const encoded = encode(frame)
        t.equal(encoded.length, wire.length, 'same encoded length')
        // RFC 9113 §6.1: padding octets MUST be zero when sending; the vectors carry ASCII text
        // there. Our bytes must equal the wire everywhere else, and be zero in the padding.
        const padding = paddingLength(frame)
        const body = wire.length - padding
        t.same(encoded.subarray(0, body), wire.subarray(0, body), 'byte-identical outside the padding')
        t.ok(encoded.subarray(body).every((b) => b === 0), 'padding written as zeros')
        const withVectorPadding = Buffer.concat([encoded.subarray(0, body), wire.subarray(body)])
        t.same(withVectorPadding, wire, 'identical once the vector padding is put back')
      })
    } else {
      const allowed = c.error ?? []
      t.test(`${file}: fails with ${allowed.join(' or ')}`, async (t) => {
        const { records, error } = feed(wire)
        // A stream error (§5.4.2) is reported through onStreamError and reading continues; a
        // connection error (§5.4.1) is thrown.
        const streamErrors = records.filter((r) => r.kind === 'stream_error')
        if (error !== undefined) {
          t.type(error, H2ProtocolError)
          const code = (error as H2ProtocolError).h2Code
          t.ok(allowed.includes(code), `connection error code ${code} is one of ${allowed.join(',')}`)
          t.equal((error as H2ProtocolError).streamId, 0, 'thrown errors are connection errors')
        } else {
          t.equal(streamErrors.length, 1, 'reported as a stream error')
          const streamError = streamErrors[0]
          if (streamError?.kind === 'stream_error') {
            t.ok(allowed.includes(streamError.h2Code), `stream error code ${streamError.h2Code} is one of ${allowed.join(',')}`)
            t.not(streamError.streamId, 0)
          }
        }
        t.equal(records.filter((r) => r.kind !== 'stream_error').length, 0, 'no frame delivered')
      })
    }
  }
}

function ascii(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('latin1')
}

/** Back to the corpus JSON shape. Padding content is not exposed by the reader: take it from the wire's tail. */
function toCorpusShape(r: FrameRecord, wire: Buffer): CorpusFrame {
  const length = wire.readUIntBE(0, 3)
  const header = { length, type: wire[3]!, flags: wire[4]!, stream_identifier: wire.readUInt32BE(5) & 0x7fffffff }
  const padLength = (header.flags & Flag.PADDED) !== 0 && (header.type <= 1 || header.type === 5) ? wire[9]! : null
  const padding = padLength === null ? null : ascii(wire.subarray(wire.length - padLength))
  const priority = (p: Priority | undefined) =>
    p === undefined ? { stream_dependency: null, weight: null, exclusive: null } : { stream_dependency: p.streamDependency, weight: p.weight, exclusive: p.exclusive }
  switch (r.kind) {
    case 'data':
      return { ...header, frame_payload: { data: ascii(r.data), padding_length: padLength, padding } }
    case 'headers':
      return {
        ...header,
        frame_payload: { ...priority(r.priority), header_block_fragment: ascii(r.fragment), padding_length: padLength, padding },
      }
    case 'priority':
      return { ...header, frame_payload: { ...priority(r.priority), padding_length: null, padding: null } }
    case 'rst_stream':
      return { ...header, frame_payload: { error_code: r.errorCode } }
    case 'settings':
      return { ...header, frame_payload: { settings: r.settings.map(([id, value]) => [id, value]) } }
    case 'push_promise':
      return {
        ...header,
        frame_payload: { header_block_fragment: ascii(r.fragment), padding_length: padLength, promised_stream_id: r.promisedStreamId, padding },
      }
    case 'ping':
      return { ...header, frame_payload: { opaque_data: ascii(r.opaque) } }
    case 'goaway':
      return {
        ...header,
        frame_payload: { error_code: r.errorCode, additional_debug_data: ascii(r.debugData), last_stream_id: r.lastStreamId },
      }
    case 'window_update':
      return { ...header, frame_payload: { window_size_increment: r.increment } }
    case 'continuation':
      return { ...header, frame_payload: { header_block_fragment: ascii(r.fragment) } }
    default:
      throw new Error(`unexpected record ${r.kind}`)
  }
}

function paddingLength(frame: CorpusFrame): number {
  const n = frame.frame_payload['padding_length']
  return typeof n === 'number' ? n : 0
}

/** Encode the corpus frame with our writers. */
function encode(frame: CorpusFrame): Buffer {
  const p = frame.frame_payload
  const sid = frame.stream_identifier
  const bytes = (key: string) => Buffer.from(String(p[key]), 'latin1')
  const pad = typeof p['padding_length'] === 'number' ? { padLength: p['padding_length'] } : {}
  const priority = (): Priority | undefined =>
    typeof p['stream_dependency'] === 'number'
      ? { streamDependency: p['stream_dependency'], weight: p['weight'] as number, exclusive: p['exclusive'] === true }
      : undefined
  switch (frame.type) {
    case FrameType.DATA:
      return encodeData(sid, bytes('data'), { endStream: (frame.flags & Flag.END_STREAM) !== 0, ...pad })
    case FrameType.HEADERS: {
      const prio = priority()
      return encodeHeaders(sid, bytes('header_block_fragment'), {
        endStream: (frame.flags & Flag.END_STREAM) !== 0,
        endHeaders: (frame.flags & Flag.END_HEADERS) !== 0,
        ...(prio === undefined ? {} : { priority: prio }),
        ...pad,
      })
    }
    case FrameType.PRIORITY:
      return encodePriority(sid, priority() as Priority)
    case FrameType.RST_STREAM:
      return encodeRstStream(sid, p['error_code'] as number)
    case FrameType.SETTINGS:
      return encodeSettings(p['settings'] as SettingsEntry[])
    case FrameType.PUSH_PROMISE:
      return encodePushPromise(sid, p['promised_stream_id'] as number, bytes('header_block_fragment'), {
        endHeaders: (frame.flags & Flag.END_HEADERS) !== 0,
        ...pad,
      })
    case FrameType.PING:
      return encodePing(bytes('opaque_data'), (frame.flags & Flag.ACK) !== 0)
    case FrameType.GOAWAY:
      return encodeGoaway(p['last_stream_id'] as number, p['error_code'] as number, bytes('additional_debug_data'))
    case FrameType.WINDOW_UPDATE:
      return encodeWindowUpdate(sid, p['window_size_increment'] as number)
    case FrameType.CONTINUATION:
      return encodeContinuation(sid, bytes('header_block_fragment'), (frame.flags & Flag.END_HEADERS) !== 0)
    default:
      throw new Error(`no writer for type ${frame.type}`)
  }
}
