// cache(): the private HTTP cache interceptor against real loopback servers, over h1 and h2.
import t from 'tap'
import type { Test } from 'tap'
import { setImmediate as tick } from 'node:timers/promises'
import { Agent, cache, MemoryCacheStore, type CacheInterceptor, type CacheStore, type CachedResponse, type DispatchHandler, type WirepoolError } from '../../src/index.js'
import { createFetch } from '../../src/adapters/fetch.js'
import { createTestServer, type TestServer } from '../../src/testing/index.js'
import { peers } from './peers.js'

/** Wait (bounded, by turns of the event loop, not time) until `done()` holds. */
async function until(done: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 10_000; i++) {
    if (done()) return
    await tick()
  }
  throw new Error(`never happened: ${what}`)
}

/** GETs of `path` that reached the server. */
function hits(server: TestServer, path: string): number {
  return server.requests.filter((r) => r.method === 'GET' && r.path === path).length
}

t.test('a fresh response is served from the store, with Age and connection id 0', async (t) => {
  for (const { label, server, agent } of await peers(t)) {
    let n = 0
    server.route('GET', '/fresh', () => ({ headers: { 'cache-control': 'max-age=60', 'x-n': String(++n) }, body: 'fresh body' }))
    const c = cache()
    const composed = agent.compose(c)
    const first = await composed.request({ url: `${server.origin}/fresh` })
    t.equal(await first.body.text(), 'fresh body')
    t.not(first.connection.id, 0, `${label}: the first came over a connection`)
    const second = await composed.request({ url: `${server.origin}/fresh` })
    t.equal(await second.body.text(), 'fresh body', `${label}: same body`)
    t.equal(second.headers['x-n'], '1', `${label}: the stored response`)
    t.equal(second.connection.id, 0, `${label}: answered by the cache`)
    t.equal(second.protocol, label === 'h1' ? 'http/1.1' : 'h2', `${label}: the protocol it was stored from`)
    t.match(second.headers['age'], /^[0-9]+$/, `${label}: Age (RFC 9111 §5.1)`)
    t.equal(hits(server, '/fresh'), 1, `${label}: one request reached the server`)
    const s = c.stats()
    t.equal(s.hits, 1)
    t.equal(s.misses, 1)
    t.equal(s.stores, 1)
    t.equal(s.entries, 1)
    t.ok((s.bytes ?? 0) > 'fresh body'.length, 'bytes counted')
    // The agent itself does not cache.
    await (await agent.request({ url: `${server.origin}/fresh` })).body.text()
    t.equal(hits(server, '/fresh'), 2)
  }
})

t.test('ETag and Last-Modified revalidation: 304 merges headers and serves the stored body', async (t) => {
  for (const { label, server, agent } of await peers(t)) {
    let version = 0
    server.route('GET', '/etag', (req) => {
      version++
      if (req.headers['if-none-match'] === '"v1"') return { status: 304, headers: { etag: '"v1"', 'cache-control': 'max-age=0', 'x-version': String(version) } }
      return { headers: { etag: '"v1"', 'cache-control': 'max-age=0', 'x-version': String(version), 'content-type': 'text/plain' }, body: 'tagged' }
    })
    server.route('GET', '/lm', (req) => {
      const lm = 'Wed, 01 Jan 2020 00:00:00 GMT'
      if (req.headers['if-modified-since'] === lm) return { status: 304, headers: { 'last-modified': lm } }
      return { headers: { 'last-modified': lm }, body: 'dated' }
    })
    const c = cache()
    const composed = agent.compose(c)
    t.equal(await (await composed.request({ url: `${server.origin}/etag` })).body.text(), 'tagged')
    const again = await composed.request({ url: `${server.origin}/etag` })
    t.equal(again.status, 200, `${label}: a 200 for the caller`)
    t.equal(await again.body.text(), 'tagged', `${label}: the stored body`)
    t.equal(again.headers['x-version'], '2', `${label}: the 304's fields replace the stored ones (§3.2)`)
    t.equal(again.headers['content-type'], 'text/plain', `${label}: stored fields the 304 omits stay`)
    t.equal(server.requests.at(-1)?.headers['if-none-match'], '"v1"', `${label}: If-None-Match sent`)

    t.equal(await (await composed.request({ url: `${server.origin}/lm` })).body.text(), 'dated')
    const lm = await composed.request({ url: `${server.origin}/lm` })
    t.equal(await lm.body.text(), 'dated', `${label}: Last-Modified only: stored without a lifetime, revalidated`)
    t.equal(server.requests.at(-1)?.headers['if-modified-since'], 'Wed, 01 Jan 2020 00:00:00 GMT')
    const s = c.stats()
    t.equal(s.revalidations, 2)
    t.equal(s.notModified, 2)
  }
})

t.test('a 304 that matches nothing stored: the cache asks again, unconditionally', async (t) => {
  for (const { label, server, agent } of await peers(t)) {
    let n = 0
    server.route('GET', '/changed', (req) => {
      n++
      if (req.headers['if-none-match'] !== undefined) return { status: 304, headers: { etag: '"other"' } }
      return { headers: { etag: `"v${n}"`, 'cache-control': 'max-age=0' }, body: `body ${n}` }
    })
    const composed = agent.compose(cache())
    t.equal(await (await composed.request({ url: `${server.origin}/changed` })).body.text(), 'body 1')
    const res = await composed.request({ url: `${server.origin}/changed` })
    t.equal(res.status, 200, `${label}: a full response, not the stray 304`)
    t.equal(await res.body.text(), 'body 3', `${label}: from the unconditional request`)
    t.equal(server.requests.at(-1)?.headers['if-none-match'], undefined)
  }
})

t.test('Vary: variants are kept apart and matched on the request fields', async (t) => {
  for (const { label, server, agent } of await peers(t)) {
    server.route('GET', '/vary', (req) => ({ headers: { vary: 'Accept-Language', 'cache-control': 'max-age=60' }, body: `lang=${String(req.headers['accept-language'])}` }))
    const composed = agent.compose(cache())
    const get = async (lang: string): Promise<string> => (await composed.request({ url: `${server.origin}/vary`, headers: { 'accept-language': lang } })).body.text()
    t.equal(await get('fr'), 'lang=fr')
    t.equal(await get('de'), 'lang=de')
    t.equal(await get('fr'), 'lang=fr', `${label}: fr from the store`)
    t.equal(await get('de'), 'lang=de', `${label}: de from the store`)
    t.equal(hits(server, '/vary'), 2, `${label}: two variants fetched once each`)
    server.route('GET', '/star', () => ({ headers: { vary: '*', 'cache-control': 'max-age=60' }, body: 'star' }))
    await (await composed.request({ url: `${server.origin}/star` })).body.text()
    await (await composed.request({ url: `${server.origin}/star` })).body.text()
    t.equal(hits(server, '/star'), 2, `${label}: Vary: * is never reused`)
  }
})

t.test('what is not stored or not reused: no-store, Authorization, request directives, POST', async (t) => {
  const [{ server, agent }] = await peers(t)
  server.route('GET', '/no-store', () => ({ headers: { 'cache-control': 'no-store, max-age=60' }, body: 'x' }))
  server.route('GET', '/auth', () => ({ headers: { 'cache-control': 'max-age=60' }, body: 'secret' }))
  server.route('GET', '/auth-private', () => ({ headers: { 'cache-control': 'private, max-age=60' }, body: 'mine' }))
  server.route('GET', '/c', () => ({ headers: { 'cache-control': 'max-age=60', etag: '"c"' }, body: 'c' }))
  server.route('POST', '/c', () => ({ status: 204 }))
  const c = cache()
  const composed = agent.compose(c)
  const text = async (path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<string> => (await composed.request({ url: `${server.origin}${path}`, method, headers })).body.text()

  await text('/no-store')
  await text('/no-store')
  t.equal(hits(server, '/no-store'), 2, 'no-store: never stored')

  await text('/auth', { authorization: 'Bearer a' })
  await text('/auth', { authorization: 'Bearer a' })
  t.equal(hits(server, '/auth'), 2, 'a response to Authorization without public/private/must-revalidate is not stored')
  await text('/auth-private', { authorization: 'Bearer a' })
  await text('/auth-private', { authorization: 'Bearer a' })
  t.equal(hits(server, '/auth-private'), 1, 'private: this cache may keep it')

  await text('/c')
  await text('/c')
  t.equal(hits(server, '/c'), 1)
  await text('/c', { 'cache-control': 'no-cache' })
  t.equal(hits(server, '/c'), 2, 'request no-cache: validated with the origin')
  t.equal(server.requests.at(-1)?.headers['if-none-match'], '"c"')
  await text('/c', { 'cache-control': 'max-age=0' })
  t.equal(hits(server, '/c'), 3, 'request max-age=0: validated')
  await text('/c', { 'cache-control': 'min-fresh=3600' })
  t.equal(hits(server, '/c'), 4, 'min-fresh past the lifetime: validated')
  await text('/c', { 'cache-control': 'max-age=3600' })
  t.equal(hits(server, '/c'), 4, 'request max-age within: served')

  const oic = await composed.request({ url: `${server.origin}/never`, headers: { 'cache-control': 'only-if-cached' } })
  t.equal(oic.status, 504, 'only-if-cached with nothing stored: 504 (§5.2.1.7)')
  t.equal(hits(server, '/never'), 0)

  // §4.4: a successful POST invalidates the target URI.
  await text('/c', {}, 'POST')
  await text('/c')
  t.equal(hits(server, '/c'), 5, 'after the POST the GET goes to the origin')
  t.ok(c.stats().invalidations >= 1)
})

t.test('unsafe methods invalidate Location and Content-Location of the same origin only', async (t) => {
  const [{ server, agent }] = await peers(t)
  for (const p of ['/a', '/b', '/d']) server.route('GET', p, () => ({ headers: { 'cache-control': 'max-age=60' }, body: p }))
  server.route('PUT', '/a', () => ({ status: 201, headers: { location: '/b', 'content-location': 'http://elsewhere.example/d' } }))
  server.route('DELETE', '/a', () => ({ status: 500 }))
  const composed = agent.compose(cache())
  const get = async (p: string): Promise<void> => void (await (await composed.request({ url: `${server.origin}${p}` })).body.text())
  for (const p of ['/a', '/b', '/d']) await get(p)
  await (await composed.request({ url: `${server.origin}/a`, method: 'DELETE' })).body.text()
  await get('/a')
  t.equal(hits(server, '/a'), 1, 'an error answer invalidates nothing')
  await (await composed.request({ url: `${server.origin}/a`, method: 'PUT', body: 'x' })).body.text()
  for (const p of ['/a', '/b', '/d']) await get(p)
  t.equal(hits(server, '/a'), 2, 'target invalidated')
  t.equal(hits(server, '/b'), 2, 'same-origin Location invalidated')
  t.equal(hits(server, '/d'), 1, 'another origin’s Content-Location is left alone')
})

t.test('stale-while-revalidate: stale served at once, one background revalidation per key', async (t) => {
  for (const { label, server, agent } of await peers(t)) {
    let clock = Date.now()
    let version = 0
    server.route('GET', '/swr', () => {
      version++
      return { headers: { 'cache-control': 'max-age=10, stale-while-revalidate=60', date: new Date(clock).toUTCString(), 'x-version': String(version) }, body: `v${version}` }
    })
    const c = cache({ now: () => clock })
    const composed = agent.compose(c)
    t.equal(await (await composed.request({ url: `${server.origin}/swr` })).body.text(), 'v1')
    clock += 20_000 // stale by 10 s, within the 60 s window
    const [a, b] = await Promise.all([composed.request({ url: `${server.origin}/swr` }), composed.request({ url: `${server.origin}/swr` })])
    t.equal(await a.body.text(), 'v1', `${label}: stale answer`)
    t.equal(await b.body.text(), 'v1', `${label}: stale answer`)
    await until(() => c.stats().stores === 2, 'the background response stored')
    t.equal(hits(server, '/swr'), 2, `${label}: one background request for two stale hits`)
    t.equal(c.stats().staleWhileRevalidate, 2)
    const after = await composed.request({ url: `${server.origin}/swr` })
    t.equal(await after.body.text(), 'v2', `${label}: the revalidated response`)
    clock += 120_000 // past the window: a plain fetch
    t.equal(await (await composed.request({ url: `${server.origin}/swr` })).body.text(), 'v3')
    t.equal(c.stats().backgroundErrors, 0)
  }
})

t.test('stale-while-revalidate: a failing background request is counted, never thrown', async (t) => {
  const [{ server, agent }] = await peers(t)
  let clock = Date.now()
  let first = true
  server.route('GET', '/swr-fail', () => {
    if (first) {
      first = false
      return { headers: { 'cache-control': 'max-age=1, stale-while-revalidate=60', date: new Date(clock).toUTCString() }, body: 'kept' }
    }
    return { fault: { kind: 'reset' } }
  })
  const c = cache({ now: () => clock })
  const composed = agent.compose(c)
  await (await composed.request({ url: `${server.origin}/swr-fail` })).body.text()
  clock += 5_000
  t.equal(await (await composed.request({ url: `${server.origin}/swr-fail` })).body.text(), 'kept')
  await until(() => c.stats().backgroundErrors === 1, 'the background failure counted')
  t.equal(await (await composed.request({ url: `${server.origin}/swr-fail` })).body.text(), 'kept', 'a later request may try again')
})

t.test('stale-if-error: a 503 or a lost connection serves the stale response within the window', async (t) => {
  for (const { label, server, agent } of await peers(t)) {
    let clock = Date.now()
    let mode: 'ok' | '503' | 'reset' = 'ok'
    server.route('GET', '/sie', () => {
      if (mode === '503') return { status: 503, body: 'down' }
      if (mode === 'reset') return { fault: { kind: 'reset' } }
      return { headers: { 'cache-control': 'max-age=1, stale-if-error=60', date: new Date(clock).toUTCString() }, body: 'good' }
    })
    server.route('GET', '/no-sie', () => (mode === 'ok' ? { headers: { 'cache-control': 'max-age=1', date: new Date(clock).toUTCString() }, body: 'good' } : { status: 503, body: 'down' }))
    const c = cache({ now: () => clock })
    const composed = agent.compose(c)
    await (await composed.request({ url: `${server.origin}/sie` })).body.text()
    await (await composed.request({ url: `${server.origin}/no-sie` })).body.text()
    clock += 10_000
    mode = '503'
    const r1 = await composed.request({ url: `${server.origin}/sie` })
    t.equal(r1.status, 200, `${label}: stale 200 instead of the 503`)
    t.equal(await r1.body.text(), 'good')
    const r2 = await composed.request({ url: `${server.origin}/no-sie` })
    t.equal(r2.status, 503, `${label}: without stale-if-error the error is the answer`)
    await r2.body.text()
    mode = 'reset'
    const r3 = await composed.request({ url: `${server.origin}/sie` })
    t.equal(await r3.body.text(), 'good', `${label}: stale instead of a network error`)
    clock += 120_000
    const err = (await composed.request({ url: `${server.origin}/sie` }).catch((e: WirepoolError) => e)) as WirepoolError
    t.ok(typeof err.code === 'string', `${label}: past the window the error reaches the caller (${err.code})`)
    t.equal(c.stats().staleIfError, 2)
  }
})

t.test('bodies stream through while stored; past maxEntrySize nothing is stored', async (t) => {
  for (const { label, server, agent } of await peers(t)) {
    const big = Buffer.alloc(300 * 1024, 7)
    server.route('GET', '/big', () => ({ headers: { 'cache-control': 'max-age=60' }, body: big }))
    server.route('GET', '/small', () => ({ headers: { 'cache-control': 'max-age=60' }, body: Buffer.alloc(100 * 1024, 1) }))
    const c = cache({ store: new MemoryCacheStore({ maxEntrySize: 200 * 1024 }) })
    const composed = agent.compose(c)
    const got = await (await composed.request({ url: `${server.origin}/big` })).body.bytes()
    t.equal(got.length, big.length, `${label}: the caller gets every byte`)
    await (await composed.request({ url: `${server.origin}/big` })).body.bytes()
    t.equal(hits(server, '/big'), 2, `${label}: too large to store`)
    await (await composed.request({ url: `${server.origin}/small` })).body.bytes()
    const again = await (await composed.request({ url: `${server.origin}/small` })).body.bytes()
    t.equal(again.length, 100 * 1024)
    t.ok(again.every((b) => b === 1), 'stored bytes intact')
    t.equal(hits(server, '/small'), 1)
  }
})

t.test('a stored answer honours backpressure and abort', async (t) => {
  const [{ server, agent }] = await peers(t)
  const body = Buffer.alloc(512 * 1024, 3)
  server.route('GET', '/bp', () => ({ headers: { 'cache-control': 'max-age=60' }, body }))
  const composed = agent.compose(cache())
  await (await composed.request({ url: `${server.origin}/bp` })).body.bytes()

  // Pause after every chunk; resume only from a later turn: no onData may arrive meanwhile.
  const result = await new Promise<{ chunks: number; bytes: number; early: number }>((resolve, reject) => {
    let paused = false
    let early = 0
    let chunks = 0
    let bytes = 0
    let resume: () => void = () => {}
    const handler: DispatchHandler = {
      onHeaders: (_s, _h, r) => {
        resume = r
        return true
      },
      onData: (chunk) => {
        if (paused) early++
        chunks++
        bytes += chunk.byteLength
        paused = true
        setImmediate(() => {
          paused = false
          resume()
        })
        return false
      },
      onComplete: () => resolve({ chunks, bytes, early }),
      onError: reject,
    }
    composed.dispatch({ url: `${server.origin}/bp` }, handler)
  })
  t.equal(result.bytes, body.length)
  t.ok(result.chunks > 1, 'in several chunks')
  t.equal(result.early, 0, 'nothing delivered while paused')

  const aborted = await new Promise<WirepoolError>((resolve) => {
    let abort: (reason?: Error) => void = () => {}
    const handler: DispatchHandler = {
      onConnect: (a, info) => {
        t.equal(info.id, 0, 'onConnect: the cache’s connection id')
        abort = a
      },
      onHeaders: () => {
        abort(new Error('enough'))
        return true
      },
      onData: () => {
        t.fail('no data after abort')
      },
      onComplete: () => t.fail('no completion after abort'),
      onError: resolve,
    }
    composed.dispatch({ url: `${server.origin}/bp` }, handler)
  })
  t.equal(aborted.code, 'WP_ABORTED')

  const ac = new AbortController()
  ac.abort()
  const signalled = (await composed.request({ url: `${server.origin}/bp`, signal: ac.signal }).catch((e: WirepoolError) => e)) as WirepoolError
  t.equal(signalled.code, 'WP_ABORTED', 'an aborted signal ends a stored answer too')
})

t.test('wirepool/fetch over a cached composition; the caller’s own conditional gets a 304', async (t) => {
  for (const { label, server, agent } of await peers(t)) {
    server.route('GET', '/f', () => ({ headers: { 'cache-control': 'max-age=60', etag: '"f1"' }, body: 'fetched' }))
    const fetch = createFetch(agent.compose(cache()))
    t.equal(await (await fetch(`${server.origin}/f`)).text(), 'fetched')
    const cached = await fetch(`${server.origin}/f`)
    t.equal(await cached.text(), 'fetched')
    t.ok(cached.headers.has('age'), `${label}: Age on the cached answer`)
    const conditional = await fetch(`${server.origin}/f`, { headers: { 'if-none-match': '"f1"' } })
    t.equal(conditional.status, 304, `${label}: a fresh stored response answers If-None-Match`)
    t.equal(conditional.headers.get('etag'), '"f1"')
    t.equal(hits(server, '/f'), 1)
  }
})

t.test('a custom store: failures never fail the request', async (t) => {
  const [{ server, agent }] = await peers(t)
  server.route('GET', '/s', () => ({ headers: { 'cache-control': 'max-age=60' }, body: 's' }))
  const puts: CachedResponse[] = []
  const broken: CacheStore = {
    get: async () => {
      throw new Error('store down')
    },
    put: (entry) => {
      puts.push(entry)
      throw new Error('store full')
    },
    delete: () => {},
  }
  const c: CacheInterceptor = cache({ store: broken })
  t.equal(c.store, broken)
  const composed = agent.compose(c)
  t.equal(await (await composed.request({ url: `${server.origin}/s` })).body.text(), 's')
  await until(() => c.stats().storeErrors === 2, 'both failures counted')
  t.equal(puts.length, 1)
  t.equal(puts[0]?.key, `${server.origin}/s`)
  t.equal(c.stats().entries, undefined, 'no store figures from a store without stats()')
})

t.test('options are checked', async (t) => {
  t.throws(() => cache({ store: {} as CacheStore }), { code: 'WP_INVALID_ARG', message: /store/ })
  t.throws(() => cache({ maxEntrySize: -1 }), { code: 'WP_INVALID_ARG', message: /maxEntrySize/ })
  t.throws(() => cache({ heuristic: { fraction: 2 } }), { code: 'WP_INVALID_ARG', message: /heuristic.fraction/ })
  t.throws(() => new MemoryCacheStore({ maxBytes: 0 }), { code: 'WP_INVALID_ARG', message: /maxBytes/ })
})
