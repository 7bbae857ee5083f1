// Conformance: the http-tests/cache-tests suite (../shared/corpus/cache-tests), run in place
// through wirepool/fetch over an Agent composed with cache(), and — for comparison, same
// harness — through undici's fetch over an undici Agent composed with undici's cache
// interceptor (type 'private'). docs/cache.md lists what does not apply and what fails, and why.
import t from 'tap'
import * as undici from 'undici'
import { createRequire } from 'node:module'
import { Agent, cache } from '../../src/index.js'
import { createFetch } from '../../src/adapters/fetch.js'
import { corpusMissing } from '../support/corpus.js'
import { runCacheTests, summarise, type SuiteReport } from '../support/cache-tests.js'

/**
 * Floors measured on this suite (commit b55b8bd of cache-tests): 263 of 325 applicable tests
 * pass, 139 of the 141 required ones. A few tests turn on 2–3 s pauses, so a loaded machine
 * may lose one or two (stale-while-revalidate-window was seen to, once in five runs): the
 * floors leave that margin and no more.
 */
const FLOOR_PASSED = 256
const FLOOR_REQUIRED = 137

const undiciVersion = (createRequire(import.meta.url)('undici/package.json') as { version: string }).version

const missing = corpusMissing('cache-tests/tests/index.mjs')

function unanswered(report: SuiteReport): string[] {
  return [...report.results].filter(([, r]) => r.applicability.applies && r.outcome === undefined).map(([id]) => id)
}

t.test('cache-tests through wirepool/fetch over cache()', { skip: missing ?? false, timeout: 120_000 }, async (t) => {
  const agent = new Agent()
  t.teardown(() => agent.destroy())
  const c = cache()
  const report = await runCacheTests(createFetch(agent.compose(c)) as typeof fetch)
  t.comment(summarise('wirepool cache()', report))
  t.comment(`stats: ${JSON.stringify(c.stats())}`)
  for (const [id, r] of report.results) {
    if (r.applicability.applies && r.outcome !== true && (r.test.kind ?? 'required') === 'required') t.comment(`required, failing: ${id} — ${JSON.stringify(r.outcome)}`)
  }
  t.same(unanswered(report), [], 'every applicable test ran to an outcome')
  t.ok(report.passed >= FLOOR_PASSED, `pass count ${report.passed} ≥ floor ${FLOOR_PASSED}`)
  t.ok(report.byKind.required[0] >= FLOOR_REQUIRED, `required passes ${report.byKind.required[0]} ≥ floor ${FLOOR_REQUIRED}`)
  t.ok(c.stats().hits > 0 && c.stats().notModified > 0, 'the suite exercised hits and revalidations')
})

t.test('cache-tests through undici fetch over undici.interceptors.cache() (comparison)', { skip: missing ?? false, timeout: 120_000 }, async (t) => {
  const dispatcher = new undici.Agent().compose(undici.interceptors.cache({ type: 'private' }))
  t.teardown(() => dispatcher.close())
  const undiciFetch = ((input: Parameters<typeof fetch>[0], init?: RequestInit) => undici.fetch(input as never, { ...(init as object), dispatcher } as never)) as unknown as typeof fetch
  const report = await runCacheTests(undiciFetch)
  t.comment(summarise(`undici ${undiciVersion} interceptors.cache({ type: 'private' })`, report))
  t.same(unanswered(report), [], 'every applicable test ran to an outcome')
})
