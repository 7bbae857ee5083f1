/**
 * HPACK conformance from ../shared/corpus (see each SOURCE.md):
 * - hpack-test-case: nghttp2, nghttp2-change-table-size and swift-nio-hpack-plain-text stories are
 *   decoded case by case with one decoder per story; raw-data stories are encoded with our
 *   encoder and decoded back with a fresh decoder per story (one context per story).
 * - rfc7541-appendix-c: integer examples, standalone blocks and request/response sequences,
 *   including the dynamic table after each block.
 */
import t from 'tap'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { HpackDecoder, HpackEncoder } from '../../src/h2/hpack.js'
import { corpusMissing, corpusUrl } from '../support/corpus.js'

/** The subtest object tap passes to a `t.test` callback. */
type Tap = Parameters<Parameters<typeof t.test>[0]>[0]

const HPACK_CORPUS = corpusUrl('hpack-test-case/')
const APPENDIX_C = corpusUrl('rfc7541-appendix-c/vectors.json')

interface StoryCase {
  seqno?: number
  header_table_size?: number | null
  wire?: string
  headers: Array<Record<string, string>>
}
interface Story {
  cases: StoryCase[]
}

function flatten(headers: Array<Record<string, string>>): string[] {
  const flat: string[] = []
  for (const field of headers) {
    for (const [name, value] of Object.entries(field)) flat.push(name, value)
  }
  return flat
}

/** JSON is UTF-8; the wire and our decoder carry octets as latin1 strings. */
function asOctets(s: string): string {
  return Buffer.from(s, 'utf8').toString('latin1')
}

function stories(dir: string): Array<[string, Story]> {
  const url = new URL(`${dir}/`, HPACK_CORPUS)
  return readdirSync(url)
    .filter((name) => name.endsWith('.json'))
    .sort()
    .map((name) => [name, JSON.parse(readFileSync(new URL(name, url), 'utf8')) as Story])
}

if (!existsSync(HPACK_CORPUS)) {
  t.test('hpack-test-case', async (t) => {
    t.plan(0, corpusMissing('hpack-test-case/'))
  })
} else {
  const expectedCases: Record<string, number> = { nghttp2: 3384, 'nghttp2-change-table-size': 3267, 'swift-nio-hpack-plain-text': 3384 }
  for (const dir of Object.keys(expectedCases)) {
    t.test(`hpack-test-case/${dir}: decode every case`, async (t) => {
      let cases = 0
      let sizeChanges = 0
      for (const [name, story] of stories(dir)) {
        // SOURCE.md harness: one decoder per story starting at 4096; a numeric
        // header_table_size is our SETTINGS_HEADER_TABLE_SIZE, acknowledged before that case;
        // null or absent means no change.
        const decoder = new HpackDecoder()
        let mismatch: { seqno: number | undefined; got: unknown; want: string[] } | undefined
        for (const c of story.cases) {
          if (typeof c.header_table_size === 'number') {
            decoder.setMaxTableSize(c.header_table_size)
            sizeChanges++
          }
          const want = flatten(c.headers).map(asOctets)
          let got: unknown
          try {
            got = decoder.decode(Buffer.from(c.wire ?? '', 'hex'))
          } catch (err) {
            got = err
          }
          cases++
          if (mismatch === undefined && JSON.stringify(got) !== JSON.stringify(want)) mismatch = { seqno: c.seqno, got, want }
        }
        if (mismatch !== undefined) t.same(mismatch.got, mismatch.want, `${name} case ${mismatch.seqno} is the first mismatch`)
        else t.pass(`${name}: ${story.cases.length} cases`)
      }
      t.equal(cases, expectedCases[dir], 'every case of the directory was decoded')
      if (dir === 'nghttp2-change-table-size') t.equal(sizeChanges, 62, 'with the 62 table size changes')
    })
  }

  t.test('hpack-test-case/raw-data: our encoder, then a fresh decoder, round trip', async (t) => {
    let cases = 0
    for (const [name, story] of stories('raw-data')) {
      const encoder = new HpackEncoder()
      const decoder = new HpackDecoder()
      let mismatch: { index: number; got: unknown; want: string[] } | undefined
      let wireBytes = 0
      let rawBytes = 0
      story.cases.forEach((c, index) => {
        const want = flatten(c.headers).map(asOctets)
        let got: unknown
        try {
          const block = encoder.encode(want)
          wireBytes += block.length
          rawBytes += want.reduce((n, s) => n + s.length, 0)
          got = decoder.decode(block)
        } catch (err) {
          got = err
        }
        cases++
        if (mismatch === undefined && JSON.stringify(got) !== JSON.stringify(want)) mismatch = { index, got, want }
      })
      if (mismatch !== undefined) t.same(mismatch.got, mismatch.want, `${name} case ${mismatch.index} is the first mismatch`)
      else t.ok(wireBytes < rawBytes, `${name}: ${story.cases.length} cases round-trip, ${wireBytes} octets for ${rawBytes} of names and values`)
    }
    t.equal(cases, 3384, 'every raw-data case')
  })
}

interface IntegerExample {
  id: string
  value: number
  prefix_bits: number
  wire: string
}
interface Block {
  id: string
  wire: string
  headers: Array<[string, string]>
  dynamic_table_after: Array<[string, string, number]>
  dynamic_table_size_after: number
  max_table_size?: number
}
interface Sequence {
  id: string
  max_table_size: number
  blocks: Block[]
}
interface AppendixC {
  integer_examples: IntegerExample[]
  standalone_blocks: Block[]
  sequences: Sequence[]
}

if (!existsSync(APPENDIX_C)) {
  t.test('rfc7541-appendix-c', async (t) => {
    t.plan(0, corpusMissing('rfc7541-appendix-c/vectors.json'))
  })
} else {
  const vectors = JSON.parse(readFileSync(APPENDIX_C, 'utf8')) as AppendixC

  t.test('C.1 integer representation, through dynamic table size updates (5-bit prefix)', async (t) => {
    for (const example of vectors.integer_examples) {
      if (example.prefix_bits !== 5) {
        // HPACK has no 8-bit-prefix integer of its own (every representation spends at least one
        // bit on its type), so C.1.3 cannot be reached through a field block.
        t.comment(`${example.id}: a ${example.prefix_bits}-bit prefix has no field block form`)
        continue
      }
      // A dynamic table size update is `001` + the integer with a 5-bit prefix (RFC 7541 §6.3).
      const wire = Buffer.from(example.wire, 'hex')
      wire[0] = wire[0]! | 0x20
      const decoder = new HpackDecoder()
      t.same(decoder.decode(wire), [], `${example.id}: decodes`)
      t.equal(decoder.tableSize, example.value, `${example.id}: value ${example.value}`)
      const encoder = new HpackEncoder()
      encoder.setMaxTableSize(example.value)
      t.same(encoder.encode([]), wire, `${example.id}: our encoder writes the same octets`)
    }
  })

  function checkBlock(t: Tap, decoder: HpackDecoder, block: Block): void {
    t.same(decoder.decode(Buffer.from(block.wire, 'hex')), block.headers.flat(), `${block.id}: headers`)
    t.same(decoder.dynamicTable(), block.dynamic_table_after, `${block.id}: dynamic table`)
    t.equal(decoder.tableOccupancy, block.dynamic_table_size_after, `${block.id}: table size`)
  }

  t.test('C.2 standalone blocks', async (t) => {
    for (const block of vectors.standalone_blocks) checkBlock(t, new HpackDecoder({ maxTableSize: block.max_table_size ?? 4096 }), block)
  })

  for (const sequence of vectors.sequences) {
    t.test(`${sequence.id}: decode the sequence in one context`, async (t) => {
      const decoder = new HpackDecoder({ maxTableSize: sequence.max_table_size })
      for (const block of sequence.blocks) checkBlock(t, decoder, block)
    })
    t.test(`${sequence.id}: our encoder (table ${sequence.max_table_size}) round-trips the sequence`, async (t) => {
      const encoder = new HpackEncoder({ maxTableSize: sequence.max_table_size })
      const decoder = new HpackDecoder()
      for (const block of sequence.blocks) {
        const flat = block.headers.flat()
        t.same(decoder.decode(encoder.encode(flat)), flat, `${block.id}`)
      }
      t.ok(decoder.tableOccupancy <= sequence.max_table_size, 'the peer table never grew past our cap')
      t.equal(decoder.tableSize, sequence.max_table_size, 'our cap was signalled')
    })
  }
}
