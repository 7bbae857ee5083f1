/**
 * The http-tests/cache-tests suite (../shared/corpus/cache-tests, SOURCE.md there), run in
 * place against a fetch we choose. The suite's own server handlers answer on a loopback port
 * (its server.mjs wires them to env-configured ports; the ten lines of routing are redone
 * here), and its client runner sends every test's requests through the global `fetch` — which
 * is swapped for the one under test while the run lasts.
 *
 * Which tests apply to a private client cache (docs/cache.md "Conformance"):
 * - `cdn_only` tests (CDN-Cache-Control, RFC 9213) target CDNs: not applicable;
 * - tests named for shared caches (s-maxage, proxy-revalidate, Authorization, `private`
 *   refused by a shared cache): not applicable;
 * - `interim` tests observe 1xx through an undici dispatcher the runner builds itself (the
 *   fetch under test never sees them): not applicable;
 * - `browser_only` tests are private-cache tests the runner would skip outside a browser:
 *   they are run.
 */
import * as http from 'node:http'
import type { AddressInfo } from 'node:net'
import { corpusUrl } from './corpus.js'

export interface SuiteTest {
  id: string
  name: string
  kind?: 'required' | 'optimal' | 'check'
  cdn_only?: boolean
  browser_only?: boolean
  browser_skip?: boolean
  depends_on?: string[]
  requests: unknown[]
}

interface Suite {
  id: string
  name: string
  tests: SuiteTest[]
}

/** A test's outcome: true, or the runner's [kind, message]. */
export type Outcome = true | [string, string]

export type Applicability = { applies: true } | { applies: false; why: string }

export function applicability(suite: string, test: SuiteTest): Applicability {
  if (test.cdn_only === true) return { applies: false, why: 'CDN-only (CDN-Cache-Control, RFC 9213)' }
  if (suite === 'interim') return { applies: false, why: '1xx are observed through an undici dispatcher the runner makes, not through the fetch under test' }
  if (/shared/i.test(test.name)) return { applies: false, why: 'shared-cache behaviour' }
  const requests = test.requests as Array<Record<string, unknown>>
  if (requests.some((r) => 'cache' in r)) return { applies: false, why: "relies on fetch's `cache` mode rewriting request headers (a browser's fetch); the runner's non-browser mode pins Cache-Control itself" }
  if (requests.some((r) => r['disconnect'] === true && Array.isArray(r['expected_response_headers_missing']) && (r['expected_response_headers_missing'] as unknown[]).includes('server-request-count'))) {
    return { applies: false, why: 'expects an error response generated when the origin drops the connection (an intermediary’s answer); a client cache reports the network error, which the runner records as a failure' }
  }
  return { applies: true }
}

export interface SuiteReport {
  results: Map<string, { suite: string; test: SuiteTest; outcome: Outcome | undefined; applicability: Applicability }>
  /** Applicable tests per kind: [passed, total]. */
  byKind: Record<'required' | 'optimal' | 'check', [number, number]>
  passed: number
  applicable: number
  notApplicable: number
}

/** Run every test through `fetchUnderTest`; `chunkSize` tests at a time. */
export async function runCacheTests(fetchUnderTest: typeof fetch, chunkSize = 1000): Promise<SuiteReport> {
  const root = corpusUrl('cache-tests/')
  const tests = ((await import(new URL('tests/index.mjs', root).href)) as { default: Suite[] }).default
  const runner = (await import(new URL('test-engine/client/runner.mjs', root).href)) as { runTests(tests: Suite[], browserCache: boolean, base: string, chunkSize?: number): Promise<void> }
  const testModule = (await import(new URL('test-engine/client/test.mjs', root).href)) as { testResults: Record<string, Outcome> }
  type Handler = (segments: string[], req: http.IncomingMessage, res: http.ServerResponse) => void
  const load = async (name: string): Promise<Handler> => ((await import(new URL(`test-engine/server/${name}`, root).href)) as { default: Handler }).default
  const [handleConfig, handleTest, handleState] = await Promise.all([load('handle-config.mjs'), load('handle-test.mjs'), load('handle-state.mjs')])

  const server = http.createServer((req, res) => {
    // server.mjs's handleMain: /config/<uuid>, /test/<uuid>, /state/<uuid>.
    const segments = new URL(req.url ?? '/', 'http://x').pathname.split('/')
    segments.shift()
    const route = segments.shift()
    if (route === 'config') handleConfig(segments, req, res)
    else if (route === 'test') handleTest(segments, req, res)
    else if (route === 'state') handleState(segments, req, res)
    else {
      res.statusCode = 404
      res.end()
    }
  })
  server.listen(0, '127.0.0.1')
  await new Promise<void>((resolve) => server.once('listening', () => resolve()))
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

  // The runner keeps results in a module-level object and refuses a test id twice: a fresh run starts empty.
  for (const id of Object.keys(testModule.testResults)) delete testModule.testResults[id]
  const selection: Suite[] = tests.map((suite) => ({
    ...suite,
    tests: suite.tests.filter((t) => applicability(suite.id, t).applies).map((t) => ({ ...t, browser_only: false })),
  }))
  const saved = globalThis.fetch
  const log = console.log
  globalThis.fetch = fetchUnderTest
  // The suite's server warns when a test's state is asked for and no request reached it —
  // which is what a test answered wholly from the cache looks like. Those lines are dropped.
  console.log = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && args[0].startsWith('SERVER WARNING: State not found')) return
    log(...args)
  }
  try {
    await runner.runTests(selection, false, base, chunkSize)
  } finally {
    globalThis.fetch = saved
    console.log = log
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }

  const report: SuiteReport = { results: new Map(), byKind: { required: [0, 0], optimal: [0, 0], check: [0, 0] }, passed: 0, applicable: 0, notApplicable: 0 }
  for (const suite of tests) {
    for (const test of suite.tests) {
      const app = applicability(suite.id, test)
      const outcome = testModule.testResults[test.id]
      report.results.set(test.id, { suite: suite.id, test, outcome, applicability: app })
      if (!app.applies) {
        report.notApplicable++
        continue
      }
      const kind = test.kind ?? 'required'
      const tally = report.byKind[kind]
      tally[1]++
      report.applicable++
      if (outcome === true) {
        tally[0]++
        report.passed++
      }
    }
  }
  return report
}

export function summarise(label: string, r: SuiteReport): string {
  const pct = (a: number, b: number): string => `${((100 * a) / Math.max(1, b)).toFixed(1)}%`
  const k = r.byKind
  return (
    `${label}: ${r.passed}/${r.applicable} applicable tests pass (${pct(r.passed, r.applicable)}); ` +
    `required ${k.required[0]}/${k.required[1]}, optimal ${k.optimal[0]}/${k.optimal[1]}, checks answered yes ${k.check[0]}/${k.check[1]}; ` +
    `${r.notApplicable} not applicable`
  )
}
