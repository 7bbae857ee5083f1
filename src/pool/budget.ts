/**
 * The Agent-wide cap on open connections (`maxTotalConnections`). Every connection record,
 * from `connecting` until `closed` (draining ones hold a socket too), takes a slot. When
 * none is free, a pool that wants one waits, and the least recently used idle connection of
 * any origin is evicted to make room; each freed slot wakes the waiting pools in turn.
 */

/** What the budget needs from a pool. */
export interface BudgetMember {
  /** When its least recently used idle connection was last used (ms epoch), or undefined. */
  oldestIdleUse(): number | undefined
  /** Close that connection, reason `evicted-lru`. */
  evictOldestIdle(): void
  /** Slots may be free: open the connections its queue wants (taking them with tryTake). */
  budgetAvailable(): void
}

export class ConnectionBudget {
  readonly max: number
  #open = 0
  /** Pools waiting for a slot, first come first served. */
  readonly #waiting = new Set<BudgetMember>()
  readonly #members = new Set<BudgetMember>()
  #wakeScheduled = false
  #evictScheduled = false
  /** Evicted connections whose slot has not come back yet: no more are closed for the same wait. */
  #evicting = 0
  /** Connections closed to make room. */
  evictions = 0

  constructor(max: number) {
    this.max = max
  }

  get waiting(): number {
    return this.#waiting.size
  }

  join(member: BudgetMember): void {
    this.#members.add(member)
  }

  leave(member: BudgetMember): void {
    this.#members.delete(member)
    this.#waiting.delete(member)
  }

  /**
   * Take a slot for a new connection. When none is free and `wait` is set, the member is
   * woken (`budgetAvailable`) once one may be, and an idle connection is evicted for it.
   */
  tryTake(member: BudgetMember, wait: boolean): boolean {
    if (this.#open < this.max) {
      this.#open++
      return true
    }
    if (wait) {
      this.#waiting.add(member)
      this.#scheduleEviction()
    }
    return false
  }

  /** A connection closed: its slot goes to the first waiting pool. */
  release(): void {
    this.#open--
    if (this.#evicting > 0) this.#evicting--
    if (this.#waiting.size > 0 && !this.#wakeScheduled) {
      this.#wakeScheduled = true
      // Not from inside the closing pool's transition: the woken pool opens its connection
      // after the current call stack has settled.
      queueMicrotask(() => this.#wake())
    }
  }

  /** A connection went idle: if a pool is waiting for a slot, the LRU idle connection goes. */
  idleAvailable(): void {
    if (this.#waiting.size > 0) this.#scheduleEviction()
  }

  #scheduleEviction(): void {
    if (this.#evictScheduled) return
    this.#evictScheduled = true
    queueMicrotask(() => {
      this.#evictScheduled = false
      // One eviction in flight per waiting pool: its slot is on its way.
      if (this.#waiting.size > this.#evicting) this.#evictLeastRecentlyUsed()
    })
  }

  #evictLeastRecentlyUsed(): void {
    let oldest: BudgetMember | undefined
    let oldestUse = Infinity
    for (const member of this.#members) {
      const use = member.oldestIdleUse()
      if (use !== undefined && use < oldestUse) {
        oldest = member
        oldestUse = use
      }
    }
    if (oldest === undefined) return
    this.evictions++
    this.#evicting++
    oldest.evictOldestIdle()
  }

  #wake(): void {
    this.#wakeScheduled = false
    for (const member of this.#waiting) {
      if (this.#open >= this.max) return
      this.#waiting.delete(member)
      member.budgetAvailable()
    }
  }
}
