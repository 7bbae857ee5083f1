/**
 * The HPACK index address space (RFC 7541 §2.3.3): the static table at indices 1-61, then the
 * dynamic table, newest entry first, from 62 on.
 *
 * The dynamic table is a ring buffer (RFC 7541 §2.3.2 "first-in, first-out"). Every entry gets a
 * sequence number when inserted (0, 1, 2, … over the table's life) and lives in slot
 * `sequence & mask`; the oldest is `inserted - count`, so insertion and eviction are O(1) and an
 * index is `STATIC_COUNT + inserted - sequence`. The encoder's lookups keep sequence numbers,
 * not indices, so they stay valid as entries are added in front of them (the idea of Go's
 * x/net/http2/hpack `headerFieldTable`).
 *
 * Sizes count a JS string's length as its octet length: names and values are latin1 strings,
 * one char per octet (hpack.ts).
 */
import { STATIC_COUNT, STATIC_NAMES, STATIC_VALUES } from './hpack-tables.js'

/** RFC 7541 §4.1: "The size of an entry is the sum of its name's length in octets …, its value's length in octets, and 32." */
export const ENTRY_OVERHEAD = 32

/** Encoder lookup for one name: its newest entry, and the newest entry for each of its values. */
interface NameEntries {
  sequence: number
  readonly values: Map<string, number>
}

export class HeaderTable {
  #names: string[]
  #values: string[]
  #mask: number
  /** Entries inserted over the table's life: the sequence number of the next one. */
  #inserted = 0
  #count = 0
  /** Octets held (§4.1 accounting). */
  #size = 0
  #maxSize: number
  /** name → entries, for the encoder; absent in a decoder, which never searches. */
  readonly #byName: Map<string, NameEntries> | undefined

  constructor(maxSize: number, withLookups: boolean) {
    this.#maxSize = maxSize
    this.#names = new Array<string>(16).fill('')
    this.#values = new Array<string>(16).fill('')
    this.#mask = 15
    this.#byName = withLookups ? new Map() : undefined
  }

  /** The maximum size set by the last dynamic table size update (RFC 7541 §4.2). */
  get maxSize(): number {
    return this.#maxSize
  }

  /** Octets the dynamic table holds. */
  get size(): number {
    return this.#size
  }

  /** RFC 7541 §4.3: a new maximum size evicts from the end until the table fits. */
  setMaxSize(maxSize: number): void {
    this.#maxSize = maxSize
    while (this.#size > maxSize) this.#evictOldest()
  }

  /**
   * RFC 7541 §4.4: evict until the new entry fits, then insert it at the front. An entry larger
   * than the maximum size empties the table and is not added ("not an error").
   */
  add(name: string, value: string): void {
    const size = name.length + value.length + ENTRY_OVERHEAD
    while (this.#count > 0 && this.#size + size > this.#maxSize) this.#evictOldest()
    if (size > this.#maxSize) return
    if (this.#count > this.#mask) this.#grow()
    const sequence = this.#inserted++
    const slot = sequence & this.#mask
    this.#names[slot] = name
    this.#values[slot] = value
    this.#count++
    this.#size += size
    const byName = this.#byName
    if (byName !== undefined) {
      const entries = byName.get(name)
      if (entries === undefined) byName.set(name, { sequence, values: new Map([[value, sequence]]) })
      else {
        entries.sequence = sequence
        entries.values.set(value, sequence)
      }
    }
  }

  /** Name at HPACK `index`; a RangeError for 0 or past the end (RFC 7541 §2.3.3: "MUST be treated as a decoding error"). */
  name(index: number): string {
    if (index <= STATIC_COUNT && index > 0) return STATIC_NAMES[index]!
    return this.#names[this.#slot(index)]!
  }

  /** Value at HPACK `index`, as `name`. */
  value(index: number): string {
    if (index <= STATIC_COUNT && index > 0) return STATIC_VALUES[index]!
    return this.#values[this.#slot(index)]!
  }

  /**
   * Encoder search of the dynamic table: the index of an entry equal to `name: value`, else
   * minus the index of the newest entry named `name`, else 0.
   */
  find(name: string, value: string): number {
    const entries = this.#byName?.get(name)
    if (entries === undefined) return 0
    const exact = entries.values.get(value)
    if (exact !== undefined) return STATIC_COUNT + this.#inserted - exact
    return -(STATIC_COUNT + this.#inserted - entries.sequence)
  }

  /** The dynamic entries, newest first (index 62 first), as `[name, value, size]`. */
  entries(): Array<[string, string, number]> {
    const out: Array<[string, string, number]> = []
    for (let index = STATIC_COUNT + 1; index <= STATIC_COUNT + this.#count; index++) {
      const name = this.name(index)
      const value = this.value(index)
      out.push([name, value, name.length + value.length + ENTRY_OVERHEAD])
    }
    return out
  }

  #slot(index: number): number {
    const position = index - STATIC_COUNT - 1
    if (index <= 0 || position >= this.#count) {
      throw new RangeError(`index ${index} is outside the tables (1-${STATIC_COUNT + this.#count}, RFC 7541 §2.3.3)`)
    }
    return (this.#inserted - 1 - position) & this.#mask
  }

  #evictOldest(): void {
    const sequence = this.#inserted - this.#count
    const slot = sequence & this.#mask
    const name = this.#names[slot]!
    const value = this.#values[slot]!
    // Drop the references: an evicted string must not outlive its entry.
    this.#names[slot] = ''
    this.#values[slot] = ''
    this.#count--
    this.#size -= name.length + value.length + ENTRY_OVERHEAD
    const byName = this.#byName
    if (byName === undefined) return
    const entries = byName.get(name)!
    // A newer entry for the same value (or name) replaced the mapping: leave it in place.
    if (entries.values.get(value) === sequence) entries.values.delete(value)
    // The newest entry of this name is the oldest of the table: it was the only one left.
    if (entries.sequence === sequence) byName.delete(name)
  }

  /** Double the ring; each entry moves to the slot its sequence number selects under the new mask. */
  #grow(): void {
    const capacity = (this.#mask + 1) * 2
    const names = new Array<string>(capacity).fill('')
    const values = new Array<string>(capacity).fill('')
    for (let sequence = this.#inserted - this.#count; sequence < this.#inserted; sequence++) {
      names[sequence & (capacity - 1)] = this.#names[sequence & this.#mask]!
      values[sequence & (capacity - 1)] = this.#values[sequence & this.#mask]!
    }
    this.#names = names
    this.#values = values
    this.#mask = capacity - 1
  }
}
