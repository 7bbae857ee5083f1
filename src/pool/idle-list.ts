/**
 * The idle connections of a pool, least recently used first, as an intrusive doubly linked
 * list: adding and removing are O(1) whatever the pool size (closing 10,000 idle
 * connections was quadratic with an array's indexOf + splice), and the pool walks it from
 * the most recently used end without allocating.
 */
export interface IdleNode<T> {
  idlePrev: T | undefined
  idleNext: T | undefined
  inIdleList: boolean
}

export class IdleList<T extends IdleNode<T>> {
  #leastRecent: T | undefined
  #mostRecent: T | undefined
  #size = 0

  get size(): number {
    return this.#size
  }

  /** The end HTTP/1.1 reuses first (RFC 9112 §9.3: let rarely used connections age out). */
  get mostRecent(): T | undefined {
    return this.#mostRecent
  }

  /** The end eviction takes first. */
  get leastRecent(): T | undefined {
    return this.#leastRecent
  }

  /** Append as the most recently used. */
  push(node: T): void {
    if (node.inIdleList) this.remove(node)
    node.inIdleList = true
    node.idleNext = undefined
    node.idlePrev = this.#mostRecent
    if (this.#mostRecent === undefined) this.#leastRecent = node
    else this.#mostRecent.idleNext = node
    this.#mostRecent = node
    this.#size++
  }

  remove(node: T): void {
    if (!node.inIdleList) return
    const { idlePrev, idleNext } = node
    if (idlePrev === undefined) this.#leastRecent = idleNext
    else idlePrev.idleNext = idleNext
    if (idleNext === undefined) this.#mostRecent = idlePrev
    else idleNext.idlePrev = idlePrev
    node.idlePrev = undefined
    node.idleNext = undefined
    node.inIdleList = false
    this.#size--
  }
}
