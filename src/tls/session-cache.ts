/**
 * TLS sessions (TLS 1.2 session tickets or IDs, TLS 1.3 PSK tickets) kept per server so a
 * later connection can resume with an abbreviated handshake (RFC 8446 §2.2, RFC 5077).
 * The connector builds the key from everything that must match for a resumption to be
 * safe: server name, address, ALPN list and TLS configuration (see `connectTls`). One cache
 * is meant to be shared by all the pools of an agent.
 */
import { LruCache } from './lru.js'

export class TlsSessionCache extends LruCache<Buffer> {
  /** Sessions stored so far: `sessionSince` compares against it. */
  stores = 0
  #waiters: Array<() => void> | undefined

  constructor(maxEntries = 100) {
    super(maxEntries)
  }

  override set(key: string, value: Buffer): void {
    super.set(key, value)
    this.stores++
    const waiters = this.#waiters
    if (waiters === undefined) return
    this.#waiters = undefined
    // Woken after this I/O phase, not now: `set` runs inside node:tls's 'session' event,
    // which OpenSSL raises in the middle of a read, and a request a woken warm-up caller
    // writes on that same socket from there was seen never flushed (stuck until the idle
    // timeout) — a re-entrant TLS write.
    setImmediate(() => {
      for (const wake of waiters) wake()
    })
  }

  /**
   * Resolves once a session has been stored since `stores` was `since`, or after `timeoutMs`
   * regardless (the warm-up's bounded wait for a TLS 1.3 ticket, which a server sends after
   * the handshake: RFC 8446 §4.6.1).
   */
  sessionSince(since: number, timeoutMs: number): Promise<void> {
    if (this.stores > since) return Promise.resolve()
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs)
      ;(this.#waiters ??= []).push(() => {
        clearTimeout(timer)
        resolve()
      })
    })
  }
}
