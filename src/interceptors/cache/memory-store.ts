/**
 * The default `CacheStore`: responses in memory, least recently used dropped first once the
 * store holds more than `maxEntries` responses or `maxBytes` bytes.
 */
import { InvalidArgumentError } from '../../errors.js'
import type { CachedResponse, CacheStore, CacheStoreStats } from './store.js'

export interface MemoryCacheStoreOptions {
  /** Bytes of bodies and heads kept at most. Default 64 MiB. */
  maxBytes?: number
  /** Responses kept at most (variants counted apart). Default 1024. */
  maxEntries?: number
  /** A response larger than this is not stored (nor buffered by `cache()`). Default 8 MiB, at most maxBytes. */
  maxEntrySize?: number
}

/** What an entry is counted as: body, head and a fixed overhead for the objects around them. */
function sizeOf(entry: CachedResponse): number {
  let size = entry.body.byteLength + 128 + entry.key.length + entry.variant.length
  for (const name of Object.keys(entry.headers)) {
    const value = entry.headers[name] as string | string[]
    size += name.length + (typeof value === 'string' ? value.length : value.reduce((n, v) => n + v.length + 2, 0))
  }
  return size
}

function checkSize(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) throw new InvalidArgumentError(`MemoryCacheStore: ${name} must be a positive integer`)
  return value
}

export class MemoryCacheStore implements CacheStore {
  readonly maxBytes: number
  readonly maxEntries: number
  readonly maxEntrySize: number
  /** Key → its variants; Map order is the recency order (oldest first). */
  readonly #entries = new Map<string, Array<{ entry: CachedResponse; size: number }>>()
  #count = 0
  #bytes = 0
  #evictions = 0

  constructor(options: MemoryCacheStoreOptions = {}) {
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('MemoryCacheStore: options must be an object')
    this.maxBytes = checkSize(options.maxBytes, 'maxBytes', 64 * 1024 * 1024)
    this.maxEntries = checkSize(options.maxEntries, 'maxEntries', 1024)
    this.maxEntrySize = Math.min(this.maxBytes, checkSize(options.maxEntrySize, 'maxEntrySize', 8 * 1024 * 1024))
  }

  get(key: string): readonly CachedResponse[] | undefined {
    const list = this.#entries.get(key)
    if (list === undefined) return undefined
    // Touch: most recently used goes last.
    this.#entries.delete(key)
    this.#entries.set(key, list)
    return list.map((v) => v.entry)
  }

  put(entry: CachedResponse): void {
    const size = sizeOf(entry)
    let list = this.#entries.get(entry.key)
    if (list !== undefined) {
      const at = list.findIndex((v) => v.entry.variant === entry.variant)
      if (at >= 0) {
        this.#bytes -= (list[at] as { size: number }).size
        this.#count--
        list.splice(at, 1)
      }
      this.#entries.delete(entry.key)
    } else {
      list = []
    }
    if (size > this.maxEntrySize) {
      if (list.length > 0) this.#entries.set(entry.key, list)
      return
    }
    list.push({ entry, size })
    this.#entries.set(entry.key, list)
    this.#bytes += size
    this.#count++
    this.#evict()
  }

  delete(key: string): void {
    const list = this.#entries.get(key)
    if (list === undefined) return
    this.#entries.delete(key)
    for (const v of list) this.#bytes -= v.size
    this.#count -= list.length
  }

  stats(): CacheStoreStats {
    return { entries: this.#count, bytes: this.#bytes, evictions: this.#evictions }
  }

  /** Drop least recently used variants until within both bounds. */
  #evict(): void {
    while (this.#count > this.maxEntries || this.#bytes > this.maxBytes) {
      const oldest = this.#entries.entries().next()
      if (oldest.done === true) return
      const [key, list] = oldest.value
      const victim = list.shift()
      if (list.length === 0) this.#entries.delete(key)
      if (victim === undefined) continue
      this.#bytes -= victim.size
      this.#count--
      this.#evictions++
    }
  }
}
