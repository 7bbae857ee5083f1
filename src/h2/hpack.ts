/**
 * HPACK (RFC 7541) field block codec behind one small synchronous interface. The compression
 * itself is done by the `hpack.js` package (STYLE.md "Notes on hpack.js"); this file adds what it
 * lacks: synchronous calls, error mapping to RFC 9113 codes, the header-list limits of RFC 9113
 * §6.5.2 / §10.5.1, the dynamic table size update rules of RFC 7541 §4.2, and never-indexed
 * sensitive fields (RFC 7541 §7.1.3).
 *
 * hpack.js exposes a Duplex-stream API (readable-stream 2). Its `_write` runs synchronously inside
 * `write()` when nothing is queued — which is always the case here, because every write is read
 * out before the call returns — so `write()` followed by `read()` gives the result at once. The
 * stream machinery still schedules its own `process.nextTick` bookkeeping (drain/readable
 * checks); nothing of ours waits on it.
 *
 * Strings are latin1: one char per octet, as hpack.js decodes them. Names must already be
 * lowercase (RFC 9113 §8.2.1) and values valid field values: the caller validates.
 */
import { createRequire } from 'node:module'
import { InvalidArgumentError } from '../errors.js'
import { H2ErrorCode, h2Error } from './frame.js'

/** RFC 7541 §4.2 / RFC 9113 §6.5.2: initial SETTINGS_HEADER_TABLE_SIZE on both sides. */
export const DEFAULT_HEADER_TABLE_SIZE = 4096
/** Our default for SETTINGS_MAX_HEADER_LIST_SIZE (RFC 9113 §6.5.2 accounting). */
export const DEFAULT_MAX_HEADER_LIST_SIZE = 64 * 1024
export const DEFAULT_MAX_HEADER_COUNT = 128
/** RFC 7541 §4.1 / RFC 9113 §6.5.2: each field costs name + value + 32 octets. */
export const FIELD_OVERHEAD = 32

// ---- the part of hpack.js 2.1.6 we use ---------------------------------------------------------

interface HpackJsEntry {
  name: string
  value: string
  totalSize: number
}
/** lib/hpack/table.js. `protocolMaxSize` is the limit updates may not exceed (our SETTINGS). */
interface HpackJsTable {
  size: number
  maxSize: number
  protocolMaxSize: number
  /** Oldest first. */
  dynamic: HpackJsEntry[]
}
interface HpackJsField {
  name: string
  value: string
  neverIndex?: boolean
  /** false: literal without indexing. */
  incremental?: boolean
}
interface HpackJsCompressor {
  write(fields: HpackJsField[]): boolean
  read(): Buffer | null
  /** Emits a dynamic table size update when `size >= protocolMaxSize`, then resizes the table. */
  updateTableSize(size: number): void
  _table: HpackJsTable
}
interface HpackJsDecompressor {
  write(block: Buffer): boolean
  /** Without a callback, failures are emitted as 'error' events, synchronously. */
  execute(): void
  read(): { name: string; value: string; neverIndex: boolean } | null
  on(event: 'error', listener: (err: unknown) => void): unknown
  _table: HpackJsTable
}
interface HpackJs {
  compressor: { create(options: { table: { maxSize: number } }): HpackJsCompressor }
  decompressor: { create(options: { table: { maxSize: number } }): HpackJsDecompressor }
}

const hpackJs = createRequire(import.meta.url)('hpack.js') as HpackJs

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
  readonly #compressor: HpackJsCompressor
  readonly #cap: number
  /** The dynamic table size the peer's decoder knows we use. */
  #tableSize = DEFAULT_HEADER_TABLE_SIZE
  /** Size changes not yet signalled (RFC 7541 §4.2): the smallest one in the interval, and the last. */
  #pendingMin = -1
  #pendingFinal = -1

  constructor(options: HpackEncoderOptions = {}) {
    this.#cap = checkTableSize(options.maxTableSize ?? DEFAULT_HEADER_TABLE_SIZE, 'maxTableSize')
    this.#compressor = hpackJs.compressor.create({ table: { maxSize: DEFAULT_HEADER_TABLE_SIZE } })
    // Both sides start at 4096 (RFC 7541 §4.2 with RFC 9113 §6.5.2): a smaller cap of ours
    // must be signalled, or the peer's decoder would evict later than we do.
    this.#resize(Math.min(this.#cap, DEFAULT_HEADER_TABLE_SIZE))
  }

  /** Dynamic table size in force (or about to be signalled at the start of the next block). */
  get tableSize(): number {
    return this.#pendingFinal === -1 ? this.#tableSize : this.#pendingFinal
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
    const compressor = this.#compressor
    if (this.#pendingFinal !== -1) {
      // RFC 7541 §4.2: "the smallest maximum table size that occurs in that interval MUST be
      // signaled in a dynamic table size update. The final maximum size is always signaled".
      // hpack.js writes an update when the size reaches its protocol limit, so move the limit
      // with the size; the bytes wait in its output, ahead of the block written below.
      if (this.#pendingMin < this.#pendingFinal) {
        compressor._table.protocolMaxSize = this.#pendingMin
        compressor.updateTableSize(this.#pendingMin)
      }
      compressor._table.protocolMaxSize = this.#pendingFinal
      compressor.updateTableSize(this.#pendingFinal)
      this.#tableSize = this.#pendingFinal
      this.#pendingMin = -1
      this.#pendingFinal = -1
    }
    // Built after the resize: the indexing choice depends on the table size in force.
    compressor.write(this.#fields(headers))
    return compressor.read() ?? Buffer.alloc(0)
  }

  #fields(headers: HeaderFields): HpackJsField[] {
    const fields: HpackJsField[] = []
    if (headers.length === 0) return fields
    if (typeof headers[0] === 'string') {
      const flat = headers as readonly string[]
      for (let i = 0; i < flat.length; i += 2) fields.push(this.#field(flat[i]!, flat[i + 1]!))
    } else {
      for (const [name, value] of headers as ReadonlyArray<readonly [string, string]>) fields.push(this.#field(name, value))
    }
    return fields
  }

  #field(name: string, value: string): HpackJsField {
    if (isSensitive(name, value)) return { name, value, neverIndex: true }
    // An entry over 3/4 of the table would evict (nearly) everything else for one field that
    // rarely repeats: send it without indexing (nghttp2 makes the same call).
    if ((name.length + value.length + FIELD_OVERHEAD) * 4 > this.#tableSize * 3) return { name, value, incremental: false }
    return { name, value }
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
  readonly #decompressor: HpackJsDecompressor
  readonly #maxHeaderListSize: number
  readonly #maxHeaderCount: number
  /** Smallest limit set since the last block, when it is below the table size in use; else -1. */
  #pendingMinLimit = -1
  /** What hpack.js emitted as 'error' during the current execute(). */
  #libraryError: unknown = undefined
  /** After a COMPRESSION_ERROR the table state is unknown: every later call fails with it. */
  #failure: Error | undefined = undefined

  constructor(options: HpackDecoderOptions = {}) {
    this.#maxHeaderListSize = checkLimit(options.maxHeaderListSize ?? DEFAULT_MAX_HEADER_LIST_SIZE, 'maxHeaderListSize')
    this.#maxHeaderCount = checkLimit(options.maxHeaderCount ?? DEFAULT_MAX_HEADER_COUNT, 'maxHeaderCount')
    const maxTableSize = checkTableSize(options.maxTableSize ?? DEFAULT_HEADER_TABLE_SIZE, 'maxTableSize')
    this.#decompressor = hpackJs.decompressor.create({ table: { maxSize: maxTableSize } })
    this.#decompressor.on('error', (err) => {
      this.#libraryError = err
    })
  }

  /** Dynamic table size the peer's encoder has set (RFC 7541 §6.3). */
  get tableSize(): number {
    return this.#decompressor._table.maxSize
  }

  /** Octets the dynamic table holds now (RFC 7541 §4.1 accounting). */
  get tableOccupancy(): number {
    return this.#decompressor._table.size
  }

  /** The dynamic table, newest entry first (index 62 first), as `[name, value, size]`. */
  dynamicTable(): Array<[string, string, number]> {
    return this.#decompressor._table.dynamic.map((e): [string, string, number] => [e.name, e.value, e.totalSize]).reverse()
  }

  /**
   * Our SETTINGS_HEADER_TABLE_SIZE changed and the peer acknowledged it (RFC 9113 §6.5.3).
   * Later size updates may not exceed it; if it is below the table size in use, the next block
   * must start with an update to at most the smallest such limit (RFC 7541 §4.2).
   */
  setMaxTableSize(limit: number): void {
    checkTableSize(limit, 'SETTINGS_HEADER_TABLE_SIZE')
    const table = this.#decompressor._table
    table.protocolMaxSize = limit
    if (limit < table.maxSize) this.#pendingMinLimit = this.#pendingMinLimit === -1 ? limit : Math.min(limit, this.#pendingMinLimit)
  }

  /**
   * Decode one complete field block (HEADERS/PUSH_PROMISE + CONTINUATION fragments joined) into
   * `[name, value, name, value, …]`.
   *
   * Throws `H2ProtocolError`:
   * - COMPRESSION_ERROR, stream 0 (a connection error, RFC 9113 §4.3): malformed block, bad
   *   index, size update out of place or over the limit. The decoder is unusable afterwards.
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

    // hpack.js accepts a size update anywhere in a block; RFC 7541 §4.2 only at its start.
    // Walk the representations first (no string is decoded) to check that and collect them.
    const updates = sizeUpdatesOf(block)
    if (typeof updates === 'string') this.#fail(updates)
    if (this.#pendingMinLimit !== -1) {
      const smallest = updates.length === 0 ? -1 : Math.min(...updates)
      if (smallest === -1 || smallest > this.#pendingMinLimit) {
        this.#fail(
          `the block after SETTINGS_HEADER_TABLE_SIZE ${this.#pendingMinLimit} must start with a size update to at most that (RFC 7541 §4.2)`,
        )
      }
      this.#pendingMinLimit = -1
    }

    this.#libraryError = undefined
    this.#decompressor.write(Buffer.isBuffer(block) ? block : Buffer.from(block.buffer, block.byteOffset, block.byteLength))
    this.#decompressor.execute()
    if (this.#libraryError !== undefined) {
      const reason = this.#libraryError instanceof Error ? this.#libraryError.message : String(this.#libraryError)
      this.#fail(`hpack.js: ${reason}`, this.#libraryError)
    }

    // Drain every decoded field even past a limit: they are already in hpack.js's queue, and
    // the next block must start from an empty one.
    const fields: string[] = []
    let listSize = 0
    let count = 0
    for (let field = this.#decompressor.read(); field !== null; field = this.#decompressor.read()) {
      count++
      listSize += field.name.length + field.value.length + FIELD_OVERHEAD
      if (count <= this.#maxHeaderCount && listSize <= this.#maxHeaderListSize) fields.push(field.name, field.value)
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

  #fail(reason: string, cause?: unknown): never {
    // RFC 9113 §4.3: a field block that cannot be decoded is a connection error of type COMPRESSION_ERROR.
    const error = h2Error(H2ErrorCode.COMPRESSION_ERROR, 0, `invalid field block: ${reason}`, cause)
    this.#failure = error
    throw error
  }
}

/** Where `readInteger` leaves its result: one reused object, no allocation per integer. */
const cursor = { at: 0, value: 0 }

/**
 * Walk the representations of a block (RFC 7541 §6) without decoding any string: the values of
 * the dynamic table size updates it starts with, or the reason it is malformed — cut short, an
 * integer longer than hpack.js accepts, or an update after a field (§4.2: updates "MUST occur
 * at the beginning of the first header block following the change").
 */
function sizeUpdatesOf(block: Uint8Array): number[] | string {
  const updates: number[] = []
  let fields = 0
  cursor.at = 0
  while (cursor.at < block.length) {
    const first = block[cursor.at]!
    if ((first & 0x80) !== 0) {
      // §6.1 indexed field: 1 + index (7-bit prefix)
      if (!readInteger(block, 7)) return 'truncated indexed field'
    } else if ((first & 0xe0) === 0x20) {
      // §6.3 dynamic table size update: 001 + size (5-bit prefix)
      if (fields > 0) return 'dynamic table size update after a field (RFC 7541 §4.2)'
      if (!readInteger(block, 5)) return 'truncated dynamic table size update'
      updates.push(cursor.value)
      continue
    } else {
      // §6.2.1 literal with incremental indexing (01, 6-bit index), §6.2.2 / §6.2.3 without or
      // never indexed (0000 / 0001, 4-bit index); index 0 means a literal name follows.
      if (!readInteger(block, (first & 0x40) !== 0 ? 6 : 4)) return 'truncated literal field'
      if (cursor.value === 0 && !skipString(block)) return 'truncated field name'
      if (!skipString(block)) return 'truncated field value'
    }
    fields++
  }
  return updates
}

/** §5.2 string literal: H bit + length (7-bit prefix), then the octets. */
function skipString(block: Uint8Array): boolean {
  if (cursor.at >= block.length || !readInteger(block, 7)) return false
  cursor.at += cursor.value
  return cursor.at <= block.length
}

/**
 * §5.1 integer with an `prefixBits`-bit prefix at `cursor.at`, into `cursor.value`. At most 4
 * continuation octets (values below 2^28 + 2^prefix), the most hpack.js decodes.
 */
function readInteger(block: Uint8Array, prefixBits: number): boolean {
  const max = (1 << prefixBits) - 1
  let value = block[cursor.at++]! & max
  if (value === max) {
    let shift = 0
    let octet: number
    do {
      if (cursor.at >= block.length || shift >= 28) return false
      octet = block[cursor.at++]!
      value += (octet & 0x7f) * 2 ** shift
      shift += 7
    } while ((octet & 0x80) !== 0)
  }
  cursor.value = value
  return true
}

function checkTableSize(size: number, name: string): number {
  if (!Number.isInteger(size) || size < 0 || size > 0xffffffff) throw new InvalidArgumentError(`${name} must be an integer in [0, 2^32-1], got ${size}`)
  return size
}

function checkLimit(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) throw new InvalidArgumentError(`${name} must be a positive integer, got ${value}`)
  return value
}
