/**
 * When to send a request again, and how long to wait first: capped exponential backoff
 * with jitter, and `Retry-After` (RFC 9110 §10.2.3) for the statuses a caller opted into.
 */
import type { ResolvedRetry } from '../options.js'

/**
 * Delay before retry number `n` (1 = the first retry). The first one goes at once: the
 * usual cause is a keep-alive socket the server had closed, not an overloaded server.
 * Later ones back off exponentially with "equal jitter" (half fixed, half random), so
 * clients that failed together do not come back together.
 */
export function backoffDelay(n: number, policy: ResolvedRetry, random: () => number = Math.random): number {
  if (n <= 1) return 0
  const exponential = Math.min(policy.maxDelay, policy.minDelay * 2 ** (n - 2))
  return exponential / 2 + (exponential / 2) * random()
}

/**
 * `Retry-After: 120` (delay-seconds) or `Retry-After: Wed, 21 Oct 2015 07:28:00 GMT`
 * (HTTP-date) → ms from `now`; undefined when absent or malformed.
 */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined
  const text = (Array.isArray(value) ? value[0] ?? '' : value).trim()
  if (/^\d{1,10}$/.test(text)) return Number(text) * 1000
  const date = Date.parse(text)
  if (Number.isNaN(date)) return undefined
  return Math.max(0, date - now)
}
