/**
 * HPACK (RFC 7541) field block codec behind one small synchronous interface: integer (§5.1) and
 * string (§5.2) representations, block encoding and decoding (§6), dynamic table size updates
 * (§4.2, §6.3), plus what RFC 9113 asks of its user — error mapping to COMPRESSION_ERROR
 * (§4.3), the header-list limits of §6.5.2 / §10.5.1 — and never-indexed sensitive fields
 * (RFC 7541 §7.1.3).
 *
 * The tables live in hpack-tables.ts (static table, Huffman code), hpack-table.ts (index space
 * and dynamic table) and the Huffman coder in hpack-huffman.ts. hpack.js, which this file used
 * to wrap, is kept as the oracle of test/h2/hpack-differential.test.ts.
 *
 * Strings are latin1: one char per octet. Names must already be lowercase (RFC 9113 §8.2.1) and
 * values valid field values: the caller validates.
 */
import { H2ProtocolError, InvalidArgumentError } from '../errors.js'
import { integerOption } from '../option-checks.js'
import { H2ErrorCode, h2Error } from './frame.js'
import { huffmanDecode, huffmanEncode, huffmanLength } from './hpack-huffman.js'
import { HeaderTable } from './hpack-table.js'
import { STATIC_BY_NAME } from './hpack-tables.js'

/** RFC 7541 §4.2 / RFC 9113 §6.5.2: initial SETTINGS_HEADER_TABLE_SIZE on both sides. */
export const DEFAULT_HEADER_TABLE_SIZE = 4096
/** Our default for SETTINGS_MAX_HEADER_LIST_SIZE (RFC 9113 §6.5.2 accounting). */
export const DEFAULT_MAX_HEADER_LIST_SIZE = 64 * 1024
export const DEFAULT_MAX_HEADER_COUNT = 128
/** RFC 7541 §4.1 / RFC 9113 §6.5.2: each field costs name + value + 32 octets. */
export const FIELD_OVERHEAD = 32

/** RFC 7541 §6: the first octet of each representation, and the bits of its integer prefix. */
const INDEXED = 0x80 // §6.1, 7-bit index
const INCREMENTAL = 0x40 // §6.2.1, 6-bit name index
const WITHOUT_INDEXING = 0x00 // §6.2.2, 4-bit name index
const NEVER_INDEXED = 0x10 // §6.2.3, 4-bit name index
const SIZE_UPDATE = 0x20 // §6.3, 5-bit size
/** §5.2: the H bit in front of a string's 7-bit length. */
const HUFFMAN = 0x80

// ---- encoder ---------------------------------------------------------------------------------

export interface HpackEncoderOptions {
  /**
   * The most dynamic table memory our encoder will use, whatever the peer allows (default 4096).
   * The table size in force is min(this, peer's SETTINGS_HEADER_TABLE_SIZE).
   */
  maxTableSize?: number
}

/** Header fields as `[name, value]` pairs, or flattened `[name, value, name, value, …]`. */
export type HeaderFields = readonly string[] | ReadonlyArray<readonly [string, string]>

export class HpackEncoder {
  /** Our copy of the peer decoder's tables; its maxSize is the size the peer knows we use. */
  readonly #table = new HeaderTable(DEFAULT_HEADER_TABLE_SIZE, true)
  readonly #cap: number
  /** Size changes not yet signalled (RFC 7541 §4.2): the smallest one in the interval, and the last. */
  #pendingMin = -1
  #pendingFinal = -1

  constructor(options: HpackEncoderOptions = {}) {
    this.#cap = integerOption('maxTableSize', options.maxTableSize, DEFAULT_HEADER_TABLE_SIZE, TABLE_SIZE_RANGE)
    // Both sides start at 4096 (RFC 7541 §4.2 with RFC 9113 §6.5.2): a smaller cap of ours
    // must be signalled, or the peer's decoder would evict later than we do.
    this.#resize(Math.min(this.#cap, DEFAULT_HEADER_TABLE_SIZE))
  }

  /** Dynamic table size in force (or about to be signalled at the start of the next block). */
  get tableSize(): number {
    return this.#pendingFinal === -1 ? this.#table.maxSize : this.#pendingFinal
  }

  /**
   * The peer's SETTINGS_HEADER_TABLE_SIZE changed (RFC 9113 §6.5.2). The new size is signalled
   * by a dynamic table size update at the start of the next block (RFC 7541 §4.2, §6.3); call
   * this when the SETTINGS frame is processed, before encoding any later block.
   */
  setMaxTableSize(peerLimit: number): void {
    this.#resize(Math.min(this.#cap, checkTableSize(peerLimit, 'SETTINGS_HEADER_TABLE_SIZE')))
  }

  #resize(size: number): void {
    if (size === this.tableSize) return
    this.#pendingMin = this.#pendingMin === -1 ? size : Math.min(size, this.#pendingMin)
    this.#pendingFinal = size
  }

  /** Encode one field block. The encoder's dynamic table changes: blocks must be sent in encoding order. */
  encode(headers: HeaderFields): Buffer {
    // Checked before anything changes state: a refused call leaves no update half-emitted.
    if (typeof headers[0] === 'string' && headers.length % 2 !== 0) throw new InvalidArgumentError('flattened header list has an odd length')
    let at = 0
    if (this.#pendingFinal !== -1) {
      // RFC 7541 §4.2: "the smallest maximum table size that occurs in that interval MUST be
      // signaled in a dynamic table size update. The final maximum size is always signaled".
      reserve(at, 2 * MAX_INTEGER_OCTETS)
      if (this.#pendingMin < this.#pendingFinal) {
        at = writeInteger(at, this.#pendingMin, 5, SIZE_UPDATE)
        this.#table.setMaxSize(this.#pendingMin)
      }
      at = writeInteger(at, this.#pendingFinal, 5, SIZE_UPDATE)
      this.#table.setMaxSize(this.#pendingFinal)
      this.#pendingMin = -1
      this.#pendingFinal = -1
    }
    if (typeof headers[0] === 'string') {
      const flat = headers as readonly string[]
      for (let i = 0; i < flat.length; i += 2) at = this.#field(at, flat[i]!, flat[i + 1]!)
    } else {
      const pairs = headers as ReadonlyArray<readonly [string, string]>
      for (let i = 0; i < pairs.length; i++) at = this.#field(at, pairs[i]![0], pairs[i]![1])
    }
    return takeBlock(at)
  }

  /**
   * One field, by the first rule that applies: never indexed when sensitive (§6.2.3); indexed
   * when the pair is in a table (§6.1); without indexing when the entry would crowd the table
   * (§6.2.2); else a literal with incremental indexing (§6.2.1), so a repeat costs one octet.
   * The name is referenced by index whenever a table has it.
   */
  #field(at: number, name: string, value: string): number {
    reserve(at, name.length + value.length + 3 * MAX_INTEGER_OCTETS)
    const statics = STATIC_BY_NAME.get(name)
    let nameIndex = statics === undefined ? 0 : statics.index
    if (isSensitive(name, value)) return writeLiteral(at, NEVER_INDEXED, 4, nameIndex, name, value)
    const staticIndex = statics?.values.get(value)
    if (staticIndex !== undefined) return writeInteger(at, staticIndex, 7, INDEXED)
    const found = this.#table.find(name, value)
    if (found > 0) return writeInteger(at, found, 7, INDEXED)
    // A static name index is smaller and never moves: prefer it over a dynamic one.
    if (nameIndex === 0) nameIndex = -found
    // An entry over 3/4 of the table would evict (nearly) everything else for one field that
    // rarely repeats: send it without indexing (nghttp2 makes the same call). With a table of
    // size 0 this sends everything without indexing.
    if ((name.length + value.length + FIELD_OVERHEAD) * 4 > this.#table.maxSize * 3) {
      return writeLiteral(at, WITHOUT_INDEXING, 4, nameIndex, name, value)
    }
    // The name index was taken before the insertion, as the peer resolves it (RFC 7541 §4.4:
    // the referenced entry may even be the one this insertion evicts).
    at = writeLiteral(at, INCREMENTAL, 6, nameIndex, name, value)
    this.#table.add(name, value)
    return at
  }
}

/**
 * RFC 7541 §7.1.3: fields whose values are worth guessing at must not go into a table an
 * attacker can probe (CRIME-style). Credentials always; short cookies (under 20 octets, the
 * threshold nghttp2 uses) because they are guessable, longer ones are left indexable because
 * they carry enough entropy and repeat on every request.
 */
function isSensitive(name: string, value: string): boolean {
  switch (name) {
    case 'authorization':
    case 'proxy-authorization':
    case 'set-cookie':
      return true
    case 'cookie':
      return value.length < 20
    default:
      return false
  }
}

// ---- block writer: one scratch buffer shared by every encoder --------------------------------

/** A §5.1 integer below 2^32: the prefix octet and at most 5 continuation octets. */
const MAX_INTEGER_OCTETS = 6
const SCRATCH_SIZE = 4096
/** `encode` is synchronous and never re-entered, so one scratch buffer serves every encoder. */
let scratch = Buffer.allocUnsafeSlow(SCRATCH_SIZE)

/** Make room for `extra` more octets after position `at`, keeping what is written. */
function reserve(at: number, extra: number): void {
  if (at + extra <= scratch.length) return
  const bigger = Buffer.allocUnsafeSlow(Math.max(scratch.length * 2, at + extra))
  scratch.copy(bigger, 0, 0, at)
  scratch = bigger
}

/** The block written so far, copied out of the scratch buffer into a Buffer of its own. */
function takeBlock(length: number): Buffer {
  const block = Buffer.allocUnsafe(length)
  scratch.copy(block, 0, 0, length)
  // One huge block must not keep a huge scratch buffer alive for the process lifetime.
  if (scratch.length > 16 * SCRATCH_SIZE) scratch = Buffer.allocUnsafeSlow(SCRATCH_SIZE)
  return block
}

/** §5.1: `value` with a `prefixBits`-bit prefix, the octet's high bits set to `pattern`. */
function writeInteger(at: number, value: number, prefixBits: number, pattern: number): number {
  const max = (1 << prefixBits) - 1
  if (value < max) {
    scratch[at++] = pattern | value
    return at
  }
  scratch[at++] = pattern | max
  let rest = value - max
  while (rest >= 0x80) {
    scratch[at++] = (rest & 0x7f) | 0x80
    rest >>>= 7
  }
  scratch[at++] = rest
  return at
}

/** §6.2: a literal representation, with its name as an index or (index 0) as a string. */
function writeLiteral(at: number, pattern: number, prefixBits: number, nameIndex: number, name: string, value: string): number {
  at = writeInteger(at, nameIndex, prefixBits, pattern)
  if (nameIndex === 0) at = writeString(at, name)
  return writeString(at, value)
}

/** §5.2: Huffman-coded when that is strictly shorter (equal lengths decode faster raw). */
function writeString(at: number, str: string): number {
  const huffman = huffmanLength(str)
  if (huffman < str.length) return huffmanEncode(str, scratch, writeInteger(at, huffman, 7, HUFFMAN))
  at = writeInteger(at, str.length, 7, 0)
  // Short strings are cheaper to copy here than through Buffer#write's native call.
  if (str.length > 32) return at + scratch.write(str, at, 'latin1')
  for (let i = 0; i < str.length; i++) scratch[at++] = str.charCodeAt(i)
  return at
}

// ---- decoder ---------------------------------------------------------------------------------

export interface HpackDecoderOptions {
  /** Our SETTINGS_MAX_HEADER_LIST_SIZE: sum of name + value + 32 per field (default 64 KiB). */
  maxHeaderListSize?: number
  /** Most fields one block may carry (default 128). */
  maxHeaderCount?: number
  /** Dynamic table size both sides start with (default 4096, RFC 7541 §4.2). */
  maxTableSize?: number
}

export class HpackDecoder {
  readonly #table: HeaderTable
  readonly #maxHeaderListSize: number
  readonly #maxHeaderCount: number
  /** Our SETTINGS_HEADER_TABLE_SIZE: no size update may exceed it (RFC 7541 §6.3). */
  #limit: number
  /** Smallest limit set since the last block, when it is below the table size in use; else -1. */
  #pendingMinLimit = -1
  /** After a COMPRESSION_ERROR the table state is unknown: every later call fails with it. */
  #failure: H2ProtocolError | undefined = undefined

  constructor(options: HpackDecoderOptions = {}) {
    this.#maxHeaderListSize = integerOption('maxHeaderListSize', options.maxHeaderListSize, DEFAULT_MAX_HEADER_LIST_SIZE)
    this.#maxHeaderCount = integerOption('maxHeaderCount', options.maxHeaderCount, DEFAULT_MAX_HEADER_COUNT)
    this.#limit = integerOption('maxTableSize', options.maxTableSize, DEFAULT_HEADER_TABLE_SIZE, TABLE_SIZE_RANGE)
    this.#table = new HeaderTable(this.#limit, false)
  }

  /** Dynamic table size the peer's encoder has set (RFC 7541 §6.3). */
  get tableSize(): number {
    return this.#table.maxSize
  }

  /** Octets the dynamic table holds now (RFC 7541 §4.1 accounting). */
  get tableOccupancy(): number {
    return this.#table.size
  }

  /** The dynamic table, newest entry first (index 62 first), as `[name, value, size]`. */
  dynamicTable(): Array<[string, string, number]> {
    return this.#table.entries()
  }

  /**
   * Our SETTINGS_HEADER_TABLE_SIZE changed and the peer acknowledged it (RFC 9113 §6.5.3).
   * Later size updates may not exceed it; if it is below the table size in use, the next block
   * must start with an update to at most the smallest such limit (RFC 7541 §4.2).
   */
  setMaxTableSize(limit: number): void {
    this.#limit = checkTableSize(limit, 'SETTINGS_HEADER_TABLE_SIZE')
    if (limit < this.#table.maxSize) this.#pendingMinLimit = this.#pendingMinLimit === -1 ? limit : Math.min(limit, this.#pendingMinLimit)
  }

  /**
   * Decode one complete field block (HEADERS/PUSH_PROMISE + CONTINUATION fragments joined) into
   * `[name, value, name, value, …]`.
   *
   * Throws `H2ProtocolError`:
   * - COMPRESSION_ERROR, stream 0 (a connection error, RFC 9113 §4.3): malformed block, bad
   *   index, bad Huffman string, size update out of place or over the limit. The decoder is
   *   unusable afterwards. When a table or the Huffman decoder rejected the content, their
   *   RangeError is the `cause`; a block cut short or out of order has none.
   * - ENHANCE_YOUR_CALM on `streamId`: the list exceeds maxHeaderListSize or maxHeaderCount.
   *   The block was still decoded to the end, so the dynamic table stays in step with the
   *   peer's and the connection can go on (RFC 9113 §10.5.1: "A client can discard responses
   *   that it cannot process"; "the field block MUST be processed to ensure a consistent
   *   connection state"). ENHANCE_YOUR_CALM, as nghttp2 uses for the same case, tells the
   *   peer it sent more than we said we would take; pass the block's stream so that the
   *   session answers with RST_STREAM (with the default 0 it reads as a connection error).
   */
  decode(block: Uint8Array, streamId = 0): string[] {
    if (this.#failure !== undefined) throw this.#failure
    const bytes = Buffer.isBuffer(block) ? block : Buffer.from(block.buffer, block.byteOffset, block.byteLength)
    const table = this.#table
    const fields: string[] = []
    let count = 0
    let listSize = 0
    try {
      // §4.2: size updates only before the first field; the smallest one is checked against
      // the limit we lowered once that first field (or the end of the block) is reached.
      let started = false
      let smallestUpdate = -1
      cursor.at = 0
      while (cursor.at < bytes.length) {
        const first = bytes[cursor.at]!
        if ((first & 0xe0) === SIZE_UPDATE) {
          if (started) throw malformed('dynamic table size update after a field (RFC 7541 §4.2)')
          const size = readInteger(bytes, 5, 'dynamic table size update')
          if (size > this.#limit) throw malformed(`dynamic table size update to ${size}, above SETTINGS_HEADER_TABLE_SIZE ${this.#limit} (RFC 7541 §6.3)`)
          table.setMaxSize(size)
          if (smallestUpdate === -1 || size < smallestUpdate) smallestUpdate = size
          continue
        }
        if (!started) {
          started = true
          if (this.#pendingMinLimit !== -1) this.#checkSizeUpdates(smallestUpdate)
        }
        let name: string
        let value: string
        if ((first & INDEXED) !== 0) {
          const index = readInteger(bytes, 7, 'indexed field')
          name = table.name(index)
          value = table.value(index)
        } else {
          const incremental = (first & INCREMENTAL) !== 0
          const index = readInteger(bytes, incremental ? 6 : 4, 'literal field')
          name = index === 0 ? readString(bytes, 'field name') : table.name(index)
          value = readString(bytes, 'field value')
          if (incremental) table.add(name, value)
        }
        // Past a limit, keep decoding (the table must follow the peer's) but drop the fields.
        count++
        listSize += name.length + value.length + FIELD_OVERHEAD
        if (count <= this.#maxHeaderCount && listSize <= this.#maxHeaderListSize) fields.push(name, value)
      }
      if (!started && this.#pendingMinLimit !== -1) this.#checkSizeUpdates(smallestUpdate)
    } catch (err) {
      // RFC 9113 §4.3: a field block that cannot be decoded is a connection error of type
      // COMPRESSION_ERROR. Content the tables or the Huffman decoder rejected comes as a RangeError.
      const failure = err instanceof RangeError ? h2Error(H2ErrorCode.COMPRESSION_ERROR, 0, `invalid field block: ${err.message}`, err) : err
      if (failure instanceof H2ProtocolError) this.#failure = failure
      throw failure
    }

    if (count > this.#maxHeaderCount) {
      throw h2Error(H2ErrorCode.ENHANCE_YOUR_CALM, streamId, `field block has ${count} fields, more than the limit of ${this.#maxHeaderCount}`)
    }
    if (listSize > this.#maxHeaderListSize) {
      throw h2Error(
        H2ErrorCode.ENHANCE_YOUR_CALM,
        streamId,
        `field block decodes to ${listSize} octets, over SETTINGS_MAX_HEADER_LIST_SIZE ${this.#maxHeaderListSize} (RFC 9113 §6.5.2)`,
      )
    }
    return fields
  }

  /** RFC 7541 §4.2: after our limit went below the table size, the block must shrink the table to it. */
  #checkSizeUpdates(smallestUpdate: number): void {
    if (smallestUpdate === -1 || smallestUpdate > this.#pendingMinLimit) {
      throw malformed(`the block after SETTINGS_HEADER_TABLE_SIZE ${this.#pendingMinLimit} must start with a size update to at most that (RFC 7541 §4.2)`)
    }
    this.#pendingMinLimit = -1
  }
}

// ---- block reader ----------------------------------------------------------------------------

/** Read position of `readInteger` / `readString`: one reused object (decode is synchronous). */
const cursor = { at: 0 }

/** A block that is cut short or out of order: a COMPRESSION_ERROR without a cause. */
function malformed(reason: string): H2ProtocolError {
  return h2Error(H2ErrorCode.COMPRESSION_ERROR, 0, `invalid field block: ${reason}`)
}

/**
 * §5.1 integer with a `prefixBits`-bit prefix at `cursor.at` (which must be inside `bytes`). At
 * most 4 continuation octets, i.e. values below 2^28 + 2^prefixBits: §5.1 lets a decoder limit
 * them, and no index, length or table size we accept needs more.
 */
function readInteger(bytes: Uint8Array, prefixBits: number, what: string): number {
  const max = (1 << prefixBits) - 1
  let value = bytes[cursor.at++]! & max
  if (value < max) return value
  for (let shift = 0; shift < 28; shift += 7) {
    if (cursor.at >= bytes.length) throw malformed(`${what} cut short`)
    const octet = bytes[cursor.at++]!
    value += (octet & 0x7f) << shift
    if (octet < 0x80) return value
  }
  throw malformed(`${what}: integer longer than 4 continuation octets`)
}

/** §5.2 string literal at `cursor.at`: H bit + length (7-bit prefix), then the octets, as latin1. */
function readString(bytes: Buffer, what: string): string {
  if (cursor.at >= bytes.length) throw malformed(`${what} cut short`)
  const huffman = (bytes[cursor.at]! & HUFFMAN) !== 0
  const length = readInteger(bytes, 7, what)
  const start = cursor.at
  const end = start + length
  if (end > bytes.length) throw malformed(`${what} cut short`)
  cursor.at = end
  return huffman ? huffmanDecode(bytes, start, end) : bytes.toString('latin1', start, end)
}

/** SETTINGS_HEADER_TABLE_SIZE is a 32-bit value (RFC 9113 §6.5.2). */
const TABLE_SIZE_RANGE = { min: 0, max: 0xffffffff } as const

/** A table size the peer announced (options go through integerOption with TABLE_SIZE_RANGE). */
function checkTableSize(size: number, name: string): number {
  if (!Number.isInteger(size) || size < 0 || size > 0xffffffff) throw new InvalidArgumentError(`${name} must be an integer in [0, 2^32-1], got ${size}`)
  return size
}

