/**
 * TLS sessions (TLS 1.2 session tickets or IDs, TLS 1.3 PSK tickets) kept per server so a
 * later connection can resume with an abbreviated handshake (RFC 8446 §2.2, RFC 5077).
 * The connector builds the key from everything that must match for a resumption to be
 * safe: server name, address, ALPN list and TLS configuration (see `connectTls`). One cache
 * is meant to be shared by all the pools of an agent.
 */
import { LruCache } from './lru.js'

export class TlsSessionCache extends LruCache<Buffer> {
  constructor(maxEntries = 100) {
    super(maxEntries)
  }
}
