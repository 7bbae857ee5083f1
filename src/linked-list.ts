/**
 * An intrusive doubly linked list: the links live on the members, so adding and removing are
 * O(1) and allocate nothing, and a removed member keeps no pointer to the others.
 *
 * Used where members come and go all the time (a pool's idle connections, a dispatcher's
 * requests in flight) instead of a Set or an array. An array's indexOf + splice made closing
 * 10,000 idle connections quadratic. A Set whose members are short-lived objects costs more
 * than it seems: every few dozen add/delete pairs V8 rehashes it into a new table, and the
 * discarded table, already old-generation, still points at the members of that moment and at
 * its successor — so every young scavenge kept the requests those tables had seen alive, and
 * promoted them (measured: the undici dispatcher spent 4× undici's own scavenge time until
 * its in-flight Set became this list).
 */
export interface ListNode<T extends ListNode<T>> {
  listPrev: T | undefined
  listNext: T | undefined
  /** The list the node is on, if any (a node is on at most one list of its kind). */
  list: LinkedList<T> | undefined
}

export class LinkedList<T extends ListNode<T>> {
  #first: T | undefined
  #last: T | undefined
  #size = 0

  get size(): number {
    return this.#size
  }

  /** The node pushed longest ago. */
  get first(): T | undefined {
    return this.#first
  }

  /** The node pushed last. */
  get last(): T | undefined {
    return this.#last
  }

  /** Append at the `last` end; a node already on this list moves there. */
  push(node: T): void {
    if (node.list !== undefined) node.list.remove(node)
    node.list = this
    node.listNext = undefined
    node.listPrev = this.#last
    if (this.#last === undefined) this.#first = node
    else this.#last.listNext = node
    this.#last = node
    this.#size++
  }

  /** Unlink; a node that is not on this list is left alone. */
  remove(node: T): void {
    if (node.list !== this) return
    const { listPrev, listNext } = node
    if (listPrev === undefined) this.#first = listNext
    else listPrev.listNext = listNext
    if (listNext === undefined) this.#last = listPrev
    else listNext.listPrev = listPrev
    node.listPrev = undefined
    node.listNext = undefined
    node.list = undefined
    this.#size--
  }

  /** The members first to last, as an array: safe to remove members while walking it. */
  toArray(): T[] {
    const out: T[] = []
    for (let node = this.#first; node !== undefined; node = node.listNext) out.push(node)
    return out
  }
}
