/**
 * hpack.js 2.1.6 (a devDependency) as an oracle for our HPACK codec: used by
 * hpack-differential.test.ts and by bench/hpack.ts.
 *
 * hpack.js exposes a Duplex-stream API (readable-stream 2). Its `_write` runs synchronously
 * inside `write()` when nothing is queued — always the case here, because every write is read
 * out before the call returns — so `write()` followed by `read()` gives the result at once.
 * Strings are latin1 (one char per octet) on both sides.
 */
import { createRequire } from 'node:module'

interface HpackJsEntry {
  name: string
  value: string
  totalSize: number
}
/** lib/hpack/table.js. `protocolMaxSize` is the limit updates may not exceed. */
interface HpackJsTable {
  size: number
  maxSize: number
  protocolMaxSize: number
  /** Oldest first. */
  dynamic: HpackJsEntry[]
}
/** What hpack.js's Compressor takes per field. */
export interface OracleField {
  name: string
  value: string
  /** §6.2.3 never indexed (hpack.js then sends the name as a literal). */
  neverIndex?: boolean
  /** false: literal without indexing (§6.2.2). */
  incremental?: boolean
  /** false: raw strings; hpack.js Huffman-codes every string otherwise. */
  huffman?: boolean
}
interface HpackJsCompressor {
  write(fields: OracleField[]): boolean
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
  /** lib/hpack/huffman.js: `encode[symbol]` is `[bit length, code]`, for 0..256 (EOS). */
  huffman: { encode: Array<[number, number]> }
}

export const hpackJs = createRequire(import.meta.url)('hpack.js') as HpackJs

function tableOf(table: HpackJsTable): Array<[string, string, number]> {
  return table.dynamic.map((e): [string, string, number] => [e.name, e.value, e.totalSize]).reverse()
}

export class OracleEncoder {
  readonly #compressor: HpackJsCompressor

  constructor(maxTableSize = 4096) {
    this.#compressor = hpackJs.compressor.create({ table: { maxSize: maxTableSize } })
  }

  /** Signal a dynamic table size update at the start of the next block (RFC 7541 §6.3). */
  setTableSize(size: number): void {
    // hpack.js only writes the update when the size reaches its protocol limit: move the limit.
    this.#compressor._table.protocolMaxSize = size
    this.#compressor.updateTableSize(size)
  }

  encode(fields: OracleField[]): Buffer {
    this.#compressor.write(fields)
    return this.#compressor.read() ?? Buffer.alloc(0)
  }

  /** hpack.js's own dynamic table, newest first, as `[name, value, size]`. */
  dynamicTable(): Array<[string, string, number]> {
    return tableOf(this.#compressor._table)
  }
}

export class OracleDecoder {
  readonly #decompressor: HpackJsDecompressor
  #error: unknown = undefined

  constructor(maxTableSize = 4096) {
    this.#decompressor = hpackJs.decompressor.create({ table: { maxSize: maxTableSize } })
    this.#decompressor.on('error', (err) => {
      this.#error = err
    })
  }

  /** The flattened `[name, value, …]` list; throws what hpack.js reported. */
  decode(block: Uint8Array): string[] {
    this.#error = undefined
    this.#decompressor.write(Buffer.from(block.buffer, block.byteOffset, block.byteLength))
    this.#decompressor.execute()
    const fields: string[] = []
    for (let field = this.#decompressor.read(); field !== null; field = this.#decompressor.read()) fields.push(field.name, field.value)
    if (this.#error !== undefined) throw this.#error
    return fields
  }

  dynamicTable(): Array<[string, string, number]> {
    return tableOf(this.#decompressor._table)
  }
}
