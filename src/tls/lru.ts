/**
 * A bounded least-recently-used map with string keys. A `Map` iterates in insertion order,
 * so re-inserting on every hit keeps the least recently used entry first, and eviction
 * takes the first key: O(1) for get, set and evict.
 */
import { integerOption } from '../option-checks.js'

export class LruCache<V> {
  readonly maxEntries: number
  readonly #entries = new Map<string, V>()

  constructor(maxEntries: number) {
    this.maxEntries = integerOption('maxEntries', maxEntries ?? Number.NaN, 0)
  }

  get size(): number {
    return this.#entries.size
  }

  get(key: string): V | undefined {
    const value = this.#entries.get(key)
    if (value !== undefined) {
      this.#entries.delete(key)
      this.#entries.set(key, value)
    }
    return value
  }

  set(key: string, value: V): void {
    this.#entries.delete(key)
    this.#entries.set(key, value)
    if (this.#entries.size > this.maxEntries) {
      // The first key is the least recently used one (see above); size > maxEntries ≥ 1 means it exists.
      const oldest = this.#entries.keys().next().value as string
      this.#entries.delete(oldest)
    }
  }

  delete(key: string): boolean {
    return this.#entries.delete(key)
  }

  clear(): void {
    this.#entries.clear()
  }
}
