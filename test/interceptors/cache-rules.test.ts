// The pure parts of cache(): Cache-Control and HTTP-date parsing, freshness with a hand-moved
// clock (RFC 9111 §4.2), Vary keys, selection, 304 merging, and MemoryCacheStore's bounds.
import t from 'tap'
import { deltaSeconds, parseCacheControl, requestDirectives, responseDirectives } from '../../src/interceptors/cache/cache-control.js'
import { parseHttpDate } from '../../src/interceptors/cache/http-date.js'
import { ageValue, currentAge, freshness, freshnessLifetime } from '../../src/interceptors/cache/freshness.js'
import { primaryKey, variantId, varyNames } from '../../src/interceptors/cache/key.js'
import { invalidationTargets, mayStore, notModifiedMatches, storedHeaders, updatedHeaders } from '../../src/interceptors/cache/policy.js'
import { select } from '../../src/interceptors/cache/select.js'
import { MemoryCacheStore } from '../../src/interceptors/cache/memory-store.js'
import type { CachedResponse } from '../../src/interceptors/cache/store.js'
import type { HeaderRecord } from '../../src/index.js'

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0)
const httpDate = (ms: number): string => new Date(ms).toUTCString()

function entry(headers: HeaderRecord, over: Partial<CachedResponse> = {}): CachedResponse {
  return { key: 'http://x/', vary: [], variant: '', status: 200, statusText: 'OK', headers, body: new Uint8Array(0), requestTime: T0, responseTime: T0, protocol: 'http/1.1', ...over }
}

t.test('Cache-Control parsing (§5.2)', async (t) => {
  const d = parseCacheControl('Max-Age=60, no-cache="a, b", foo="max-age=1", private')
  t.equal(d.get('max-age'), '60', 'names are case-insensitive')
  t.equal(d.get('no-cache'), 'a, b', 'quoted-string argument')
  t.equal(d.get('foo'), 'max-age=1', 'a directive inside a quoted string is not one')
  t.equal(d.get('private'), true)
  t.equal(parseCacheControl(['max-age=5', 'max-age=1']).get('max-age'), '5', 'first occurrence wins across lines (§4.2.1)')
  t.equal(responseDirectives('max-age="30"').maxAge, 30, 'quoted form accepted')
  t.equal(responseDirectives("max-age='30'").maxAge, 0, 'single quotes: invalid, so stale')
  t.equal(responseDirectives('max-age=30.5').maxAge, 0, 'not delta-seconds: stale')
  t.equal(responseDirectives('max-age =30').maxAge, 0, 'space before =: malformed, stale')
  t.equal(responseDirectives('max-age=003600').maxAge, 3600, 'leading zeros are digits')
  t.equal(deltaSeconds('99999999999'), 2147483648, 'capped at 2^31 (§1.2.2)')
  t.same(responseDirectives('no-cache="Set-Cookie, X-A"').noCacheFields, ['set-cookie', 'x-a'])
  t.equal(responseDirectives('no-cache="x"').noCache, false, 'qualified no-cache does not force validation of the rest')
  t.equal(requestDirectives('max-stale').maxStale, Infinity, 'max-stale without a value: any staleness')
  t.equal(requestDirectives(undefined, 'no-cache').noCache, true, 'Pragma: no-cache without Cache-Control')
  t.equal(requestDirectives('max-age=5', 'no-cache').noCache, false, 'Pragma is ignored beside Cache-Control')
})

t.test('HTTP-date (RFC 9110 §5.6.7)', async (t) => {
  const ms = Date.UTC(1994, 10, 6, 8, 49, 37)
  t.equal(parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT'), ms, 'IMF-fixdate')
  t.equal(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT', T0), ms, 'RFC 850')
  t.equal(parseHttpDate('Sun Nov  6 08:49:37 1994'), ms, 'asctime')
  t.equal(parseHttpDate('Thursday, 18-Aug-50 02:01:18 GMT', T0), Date.UTC(2050, 7, 18, 2, 1, 18), 'two-digit year within 50 years ahead')
  t.equal(parseHttpDate('Thursday, 18-Aug-99 02:01:18 GMT', T0), Date.UTC(1999, 7, 18, 2, 1, 18), 'further ahead: the past century')
  for (const bad of ['0', 'Thu, 18 Aug 2050 02:01:18 UTC', 'Thu 18 Aug 2050 02:01:18 GMT', 'Thu, 18  Aug  2050 02:01:18 GMT', 'Thu, 18 Aug 2050 2:01:18 GMT', 'Thu, 31 Feb 2050 02:01:18 GMT']) {
    t.equal(parseHttpDate(bad), null, `invalid: ${bad}`)
  }
})

t.test('freshness with a hand-moved clock (§4.2)', async (t) => {
  const e = entry({ date: httpDate(T0), 'cache-control': 'max-age=100' })
  t.equal(freshness(e, T0 + 50_000, undefined).remaining, 50, 'fresh for 50 more seconds')
  t.ok(freshness(e, T0 + 100_000, undefined).remaining <= 0, 'stale once age reaches the lifetime')
  // §4.2.3: Age from upstream and the request's round trip count.
  const aged = entry({ date: httpDate(T0), age: '30', 'cache-control': 'max-age=100' }, { requestTime: T0 - 2000 })
  t.equal(currentAge(aged, T0), 32, 'corrected_age_value = age + response_delay')
  // A Date in the past (a slow origin clock) makes apparent_age.
  const slow = entry({ date: httpDate(T0 - 60_000), 'cache-control': 'max-age=100' })
  t.equal(currentAge(slow, T0 + 10_000), 70)
  t.equal(ageValue({ age: '0, old' }), 0)
  t.equal(ageValue({ age: 'old, 0' }), 0, 'invalid first member: ignored')
  t.equal(ageValue({ age: ['20', '0'] }), 20, 'first line')
  t.equal(ageValue({ age: '2147483649' }), 2147483648)
  // Expires − Date; an invalid Expires is already expired; several lines too.
  t.equal(freshnessLifetime(entry({ date: httpDate(T0), expires: httpDate(T0 + 30_000) }), undefined), 30)
  t.equal(freshnessLifetime(entry({ date: httpDate(T0), expires: '0' }), undefined), 0)
  t.equal(freshnessLifetime(entry({ date: httpDate(T0), expires: [httpDate(T0 + 30_000), httpDate(T0 + 60_000)] }), undefined), 0)
  t.equal(freshnessLifetime(entry({ date: httpDate(T0), expires: httpDate(T0 + 30_000), 'cache-control': 'max-age=5' }), undefined), 5, 'max-age wins over Expires')
  t.equal(freshnessLifetime(entry({ date: httpDate(T0), 'cache-control': 's-maxage=500' }), undefined), 0, 's-maxage is for shared caches')
  // Heuristic: only when asked, only for statuses cacheable by default.
  const lm = entry({ date: httpDate(T0), 'last-modified': httpDate(T0 - 1000_000) })
  t.equal(freshnessLifetime(lm, undefined), 0, 'no heuristic unless asked')
  t.equal(freshnessLifetime(lm, { fraction: 0.1, maxSeconds: 86400 }), 100)
  t.equal(freshnessLifetime({ ...lm, status: 500 }, { fraction: 0.1, maxSeconds: 86400 }), 0)
  t.equal(freshnessLifetime(lm, { fraction: 0.1, maxSeconds: 50 }), 50, 'capped')
})

t.test('keys and Vary (§4.1)', async (t) => {
  t.equal(primaryKey(new URL('HTTP://Example.COM:80/a?b=1#frag')), 'http://example.com/a?b=1')
  t.same(varyNames({ vary: ['Accept-Language, Foo', 'foo'] }), ['accept-language', 'foo'])
  t.equal(varyNames({ vary: 'Foo, *' }), '*')
  t.same(varyNames({ vary: ', ' }), [])
  const names = ['foo']
  t.equal(variantId(names, [['foo', '1, 2']]), variantId(names, [['foo', '1'], ['foo', '2']]), 'lines combine')
  t.equal(variantId(names, [['foo', '1,2']]), variantId(names, [['foo', '1 , 2']]), 'whitespace around commas')
  t.not(variantId(names, [['foo', '']]), variantId(names, []), 'empty differs from absent')
  t.equal(variantId([], [['foo', '1']]), '')
})

t.test('selection (§4): fresh, stale, request directives, conditionals', async (t) => {
  const fresh = entry({ date: httpDate(T0), 'cache-control': 'max-age=100', etag: '"e"' })
  const base = { headers: [] as Array<[string, string]>, cc: requestDirectives(undefined), stored: [fresh], heuristic: undefined }
  t.equal(select({ ...base, now: T0 + 10_000 }).kind, 'hit')
  t.equal(select({ ...base, now: T0 + 200_000 }).kind, 'revalidate', 'stale with a validator')
  t.equal(select({ ...base, stored: [entry({ date: httpDate(T0), 'cache-control': 'max-age=1' })], now: T0 + 5000 }).kind, 'fetch', 'stale without one')
  t.equal(select({ ...base, cc: requestDirectives('max-stale=200'), now: T0 + 200_000 }).kind, 'hit', 'max-stale accepts it')
  const mustRevalidate = entry({ date: httpDate(T0), 'cache-control': 'max-age=1, must-revalidate', etag: '"e"' })
  t.equal(select({ ...base, stored: [mustRevalidate], cc: requestDirectives('max-stale'), now: T0 + 5000 }).kind, 'revalidate', 'must-revalidate beats max-stale')
  t.equal(select({ ...base, cc: requestDirectives('only-if-cached'), stored: [], now: T0 }).kind, 'only-if-cached')
  t.equal(select({ ...base, headers: [['range', 'bytes=0-1']], now: T0 }).kind, 'bypass')
  const inm = select({ ...base, headers: [['if-none-match', 'W/"e"']], now: T0 + 1000 })
  t.equal(inm.kind === 'hit' && inm.notModified, true, 'weak comparison for If-None-Match')
  const swr = entry({ date: httpDate(T0), 'cache-control': 'max-age=10, stale-while-revalidate=30', etag: '"e"' })
  t.equal(select({ ...base, stored: [swr], now: T0 + 20_000 }).kind, 'stale-while-revalidate')
  t.equal(select({ ...base, stored: [swr], now: T0 + 60_000 }).kind, 'revalidate', 'past the window')
  const v1 = entry({ date: httpDate(T0), 'cache-control': 'max-age=100', vary: 'foo' }, { vary: ['foo'], variant: variantId(['foo'], [['foo', 'a']]) })
  t.equal(select({ ...base, stored: [v1], headers: [['foo', 'a']], now: T0 }).kind, 'hit')
  t.equal(select({ ...base, stored: [v1], headers: [['foo', 'b']], now: T0 }).kind, 'fetch', 'another variant')
})

t.test('storing and updating heads (§3, §3.1, §3.2, §4.3.4, §4.4)', async (t) => {
  const cc = (v: string): ReturnType<typeof responseDirectives> => responseDirectives(v)
  const req = requestDirectives(undefined)
  const base = { request: req, authorization: false, heuristic: false }
  t.equal(mayStore({ ...base, status: 200, headers: {}, cc: cc('max-age=60') }), true)
  t.equal(mayStore({ ...base, status: 200, headers: {}, cc: cc('no-store, max-age=60') }), false)
  t.equal(mayStore({ ...base, status: 200, headers: {}, cc: cc('no-store, must-understand, max-age=60') }), true, 'must-understand with an understood status ignores no-store')
  t.equal(mayStore({ ...base, status: 299, headers: {}, cc: cc('must-understand, max-age=60') }), false)
  t.equal(mayStore({ ...base, status: 201, headers: { 'last-modified': httpDate(T0) }, cc: cc('') }), false, '201 is not cacheable by default')
  t.equal(mayStore({ ...base, status: 200, headers: {}, cc: cc('') }), false, 'nothing to reuse it with')
  t.equal(mayStore({ ...base, status: 206, headers: {}, cc: cc('max-age=60') }), false)
  t.equal(mayStore({ ...base, authorization: true, status: 200, headers: {}, cc: cc('max-age=60') }), false)
  t.equal(mayStore({ ...base, authorization: true, status: 200, headers: {}, cc: cc('max-age=60, private') }), true)
  t.equal(mayStore({ ...base, request: requestDirectives('no-store'), status: 200, headers: {}, cc: cc('max-age=60') }), false)

  t.same(storedHeaders({ connection: 'x-hop', 'x-hop': '1', 'keep-alive': 'timeout=5', 'x-keep': '2', 'proxy-authenticate': 'Basic' }), { 'x-keep': '2' })
  t.same(storedHeaders({ 'set-cookie': ['a=1'], 'x-a': '1' }, ['set-cookie']), { 'x-a': '1' }, 'qualified no-cache fields')
  const merged = updatedHeaders({ 'content-length': '10', 'x-a': '1', etag: '"1"' }, { 'content-length': '0', 'x-a': '2', connection: 'close' })
  t.same(merged, { 'content-length': '10', 'x-a': '2', etag: '"1"' }, 'the 304 updates all but Content-Length and connection fields')
  t.equal(notModifiedMatches({ etag: '"1"' }, { etag: '"2"' }), false)
  t.equal(notModifiedMatches({ etag: '"1"' }, { etag: '"1"' }), true)
  t.equal(notModifiedMatches({ etag: '"1"' }, {}), true)

  const target = new URL('http://a.example/x')
  t.same(invalidationTargets(target, 201, { location: '/y', 'content-location': 'http://b.example/z' }).map(String), ['http://a.example/x', 'http://a.example/y'])
  t.same(invalidationTargets(target, 404, {}), [], 'an error answer invalidates nothing')
})

t.test('MemoryCacheStore: LRU within entries and bytes', async (t) => {
  const body = (n: number): Uint8Array => new Uint8Array(n)
  const store = new MemoryCacheStore({ maxEntries: 2, maxBytes: 10_000 })
  store.put(entry({}, { key: 'a' }))
  store.put(entry({}, { key: 'b' }))
  store.get('a') // a is now the most recently used
  store.put(entry({}, { key: 'c' }))
  t.ok(store.get('a'), 'a kept (recently used)')
  t.equal(store.get('b'), undefined, 'b evicted')
  t.equal(store.stats().evictions, 1)
  t.equal(store.stats().entries, 2)

  const bytes = new MemoryCacheStore({ maxBytes: 5000, maxEntrySize: 4000 })
  bytes.put(entry({}, { key: 'big', body: body(4500) }))
  t.equal(bytes.get('big'), undefined, 'over maxEntrySize: not kept')
  bytes.put(entry({}, { key: 'one', body: body(3000) }))
  bytes.put(entry({}, { key: 'two', body: body(3000) }))
  t.equal(bytes.get('one'), undefined, 'the older one made room')
  t.ok(bytes.get('two'))
  t.ok(bytes.stats().bytes <= 5000)

  const variants = new MemoryCacheStore()
  variants.put(entry({}, { key: 'k', variant: 'x' }))
  variants.put(entry({}, { key: 'k', variant: 'y' }))
  variants.put(entry({ 'x-new': '1' }, { key: 'k', variant: 'x' }))
  const list = variants.get('k') ?? []
  t.equal(list.length, 2, 'a put replaces the same variant only')
  t.equal(list.find((e) => e.variant === 'x')?.headers['x-new'], '1')
  variants.delete('k')
  t.equal(variants.get('k'), undefined)
  t.same(variants.stats(), { entries: 0, bytes: 0, evictions: 0 })
})
