/**
 * What each extra connection keeps alive, from two V8 heap snapshots taken before and
 * after opening `n` connections (bench/memory-client.ts writes them): the objects grouped
 * by kind and constructor or function name, with the growth in count and shallow size per
 * connection. Shallow sizes add up to the heap growth; a group's retained size would
 * count shared objects several times.
 */
import { readFile } from 'node:fs/promises'

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: unknown[] } }
  nodes: number[]
  strings: string[]
}

export interface HeapGroup {
  /** `object Foo`, `closure onData`, `native TLSWrap`, `string`, … */
  readonly group: string
  /** Objects of the group added per connection. */
  readonly countPerConnection: number
  /** Shallow bytes added per connection. */
  readonly bytesPerConnection: number
}

/** Objects that are unique strings or code would make thousands of groups of one: kinds whose names are not types. */
const NAMELESS_KINDS = new Set(['string', 'concatenated string', 'sliced string', 'number', 'code', 'hidden', 'array', 'symbol', 'bigint'])

async function groupSizes(file: string): Promise<Map<string, { count: number; size: number }>> {
  const parsed = JSON.parse(await readFile(file, 'utf8')) as Snapshot
  const fields = parsed.snapshot.meta.node_fields
  const kinds = parsed.snapshot.meta.node_types[0] as string[]
  const stride = fields.length
  const typeAt = fields.indexOf('type')
  const nameAt = fields.indexOf('name')
  const sizeAt = fields.indexOf('self_size')
  const groups = new Map<string, { count: number; size: number }>()
  for (let i = 0; i < parsed.nodes.length; i += stride) {
    const kind = kinds[parsed.nodes[i + typeAt] as number] ?? 'unknown'
    const name = parsed.strings[parsed.nodes[i + nameAt] as number] ?? ''
    // `array` nodes are the backing stores of JS arrays and internal lists: keep their
    // name (e.g. `(object elements)`), since listener arrays and queues show up there.
    const key = NAMELESS_KINDS.has(kind) && kind !== 'array' && kind !== 'hidden' ? kind : `${kind} ${name}`
    const entry = groups.get(key) ?? { count: 0, size: 0 }
    entry.count++
    entry.size += parsed.nodes[i + sizeAt] as number
    groups.set(key, entry)
  }
  return groups
}

/** The groups that grew, biggest growth per connection first. */
export async function diffSnapshots(beforeFile: string, afterFile: string, connections: number): Promise<HeapGroup[]> {
  const before = await groupSizes(beforeFile)
  const after = await groupSizes(afterFile)
  const rows: HeapGroup[] = []
  for (const [group, grown] of after) {
    const was = before.get(group) ?? { count: 0, size: 0 }
    const bytes = grown.size - was.size
    if (bytes <= 0) continue
    rows.push({ group, countPerConnection: (grown.count - was.count) / connections, bytesPerConnection: bytes / connections })
  }
  return rows.sort((a, b) => b.bytesPerConnection - a.bytesPerConnection)
}
