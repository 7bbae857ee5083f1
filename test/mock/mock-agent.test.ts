import t from 'tap'
import diagnosticsChannel from 'node:diagnostics_channel'
import { Readable } from 'node:stream'
import { gzipSync } from 'node:zlib'
import * as undici from 'undici'
import { request, setDefaultAgent, SocketClosedError, type DispatchHandler, type HeaderRecord, type WirepoolError } from '../../src/index.js'
import { MockAgent, MockNotMatchedError } from '../../src/mock/index.js'
import { createFetch, fetch as defaultFetch } from '../../src/adapters/fetch.js'
import { WirepoolDispatcher } from '../../src/adapters/undici.js'
import { createTestServer } from '../../src/testing/index.js'

const ORIGIN = 'https://api.test'

function newMock(t: { teardown(fn: () => unknown): void }, options: ConstructorParameters<typeof MockAgent>[0] = {}): MockAgent {
  const mock = new MockAgent(options)
  mock.disableNetConnect()
  t.teardown(() => mock.destroy())
  return mock
}

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p
    return undefined
  } catch (err) {
    return (err as WirepoolError).code
  }
}

t.test('reply with JSON, headers; one-shot, times(n), persist()', async (t) => {
  const mock = newMock(t)
  mock.get(ORIGIN).intercept({ path: '/users/1', method: 'GET' }).reply(200, { id: 1 }, { headers: { 'x-a': '1' } })
  mock.get(ORIGIN).intercept({ path: '/twice' }).reply(200, 'two').times(2)
  mock.get(ORIGIN).intercept({ path: '/always' }).reply(204).persist()

  const res = await mock.request({ url: `${ORIGIN}/users/1` })
  t.equal(res.status, 200)
  t.equal(res.protocol, 'http/1.1')
  t.equal(res.headers['content-type'], 'application/json')
  t.equal(res.headers['x-a'], '1')
  t.same(await res.body.json(), { id: 1 })
  t.equal(await codeOf(mock.request({ url: `${ORIGIN}/users/1` })), 'WP_CONNECT_REFUSED', 'one-shot: the second is unmatched')

  for (let i = 0; i < 2; i++) t.equal(await (await mock.request({ url: `${ORIGIN}/twice` })).body.text(), 'two')
  t.equal(await codeOf(mock.request({ url: `${ORIGIN}/twice` })), 'WP_CONNECT_REFUSED')
  for (let i = 0; i < 3; i++) t.equal((await mock.request({ url: `${ORIGIN}/always` })).status, 204)

  t.same(mock.pendingInterceptors(), [])
  mock.assertNoPendingInterceptors()
  t.equal(mock.calls.length, 8)
  t.match(mock.calls[0], { method: 'GET', url: `${ORIGIN}/users/1`, answeredBy: 'mock' })
  t.match(mock.calls[1], { answeredBy: 'unmatched' })
})

t.test('unmatched requests list the pending interceptors; assertNoPendingInterceptors throws', async (t) => {
  const mock = newMock(t)
  mock.get(ORIGIN).intercept({ path: '/a', method: 'POST' }).reply(201, 'created')
  mock.get(ORIGIN).intercept({ path: /^\/items/ }).reply(200, 'x').persist()
  const err = await mock.request({ url: `${ORIGIN}/nope` }).catch((e: unknown) => e)
  t.ok(err instanceof MockNotMatchedError)
  t.equal((err as MockNotMatchedError).code, 'WP_CONNECT_REFUSED')
  t.match((err as Error).message, /GET https:\/\/api\.test\/nope/)
  t.match((err as Error).message, /POST https:\/\/api\.test\/a \(1 left/)
  t.match((err as Error).message, /GET https:\/\/api\.test\/\^\\\/items\/ \(persistent/)
  t.equal(mock.pendingInterceptors().length, 2)
  t.throws(() => mock.assertNoPendingInterceptors(), /2 interceptors are still pending/)
})

t.test('matchers: path RegExp and function, query, headers, body', async (t) => {
  const mock = newMock(t)
  mock.get(ORIGIN).intercept({ path: /^\/items\/\d+$/, method: 'POST', body: (b) => b.includes('x') }).reply(201, 'regexp+body')
  mock.get(ORIGIN).intercept({ path: (p) => p.startsWith('/fn'), method: 'PUT' }).reply(200, 'function')
  mock.get(ORIGIN).intercept({ path: '/search', query: { q: 'cats', page: 2 } }).reply(200, 'query')
  mock.get(ORIGIN).intercept({ path: '/auth', headers: { authorization: /^Bearer / } }).reply(200, 'headers')
  mock.get(/api\.test/).intercept({ path: '/any-origin', method: /^(GET|HEAD)$/ }).reply(200, 'origin regexp')

  t.equal(await codeOf(mock.request({ url: `${ORIGIN}/items/1`, method: 'POST', body: 'nothing' })), 'WP_CONNECT_REFUSED', 'body did not match')
  t.equal(await (await mock.request({ url: `${ORIGIN}/items/1`, method: 'POST', body: Readable.from([Buffer.from('has x')]) })).body.text(), 'regexp+body')
  t.equal(await (await mock.request({ url: `${ORIGIN}/fn/1`, method: 'PUT', body: 'b' })).body.text(), 'function')
  t.equal(await codeOf(mock.request({ url: `${ORIGIN}/search?q=cats&page=2&extra=1` })), 'WP_CONNECT_REFUSED', 'extra query parameter')
  t.equal(await (await mock.request({ url: `${ORIGIN}/search?page=2&q=cats` })).body.text(), 'query')
  t.equal(await codeOf(mock.request({ url: `${ORIGIN}/auth`, headers: { authorization: 'Basic x' } })), 'WP_CONNECT_REFUSED')
  t.equal(await (await mock.request({ url: `${ORIGIN}/auth`, headers: { Authorization: 'Bearer t' } })).body.text(), 'headers')
  t.equal(await (await mock.request({ origin: ORIGIN, path: '/any-origin' })).body.text(), 'origin regexp')
  t.equal(mock.calls.find((c) => c.path.startsWith('/items') && c.answeredBy === 'mock')?.body, 'has x', 'a streamed body is recorded')
})

t.test('reply functions, stream bodies, trailers', async (t) => {
  const mock = newMock(t)
  mock.get(ORIGIN).intercept({ path: '/echo', method: 'POST' }).reply((req) => ({ status: 200, body: `you sent ${req.body} to ${req.path}`, headers: { 'x-method': req.method } }))
  mock.get(ORIGIN).intercept({ path: '/stream' }).reply(200, Readable.from(['a', 'b', 'c'].map((s) => Buffer.from(s))), { trailers: { 'x-sum': 'abc' } })
  const echo = await mock.request({ url: `${ORIGIN}/echo?x=1`, method: 'POST', body: 'hi' })
  t.equal(echo.headers['x-method'], 'POST')
  t.equal(await echo.body.text(), 'you sent hi to /echo?x=1')
  const stream = await mock.request({ url: `${ORIGIN}/stream` })
  t.equal(await stream.body.text(), 'abc')
  t.same(await stream.trailers, { 'x-sum': 'abc' })
})

t.test('errors: replyWithError, a failure mid-body, delay past headersTimeout, bodyTimeout, abort', async (t) => {
  const mock = newMock(t, { headersTimeout: 100, bodyTimeout: 100 })
  mock.get(ORIGIN).intercept({ path: '/err' }).replyWithError(new SocketClosedError('mocked reset', { responseStarted: false }))
  mock.get(ORIGIN).intercept({ path: '/mid' }).reply(200, Buffer.alloc(100_000, 1), { failAfterBytes: 40_000, error: new SocketClosedError('reset mid-body') })
  mock.get(ORIGIN).intercept({ path: '/slow' }).reply(200, 'late').delay(300)
  mock.get(ORIGIN).intercept({ path: '/quick' }).reply(200, 'soon').delay(10)
  mock.get(ORIGIN).intercept({ path: '/stuck' }).reply(200, new Readable({ read() {} }))
  mock.get(ORIGIN).intercept({ path: '/abort' }).reply(200, 'never').delay(50)

  t.equal(await codeOf(mock.request({ url: `${ORIGIN}/err` })), 'WP_SOCKET_CLOSED')
  const mid = await mock.request({ url: `${ORIGIN}/mid` })
  let got = 0
  const midCode = await codeOf(
    (async () => {
      for await (const chunk of mid.body) got += (chunk as Buffer).length
    })(),
  )
  t.equal(midCode, 'WP_SOCKET_CLOSED')
  // Chunks queued in the body but not yet read are dropped with the error, as on a socket.
  t.ok(got > 0 && got <= 40_000, 'only bytes before the failure')
  t.equal(await codeOf(mid.trailers), 'WP_SOCKET_CLOSED')
  t.equal(await codeOf(mock.request({ url: `${ORIGIN}/slow` })), 'WP_HEADERS_TIMEOUT')
  t.equal(await (await mock.request({ url: `${ORIGIN}/quick` })).body.text(), 'soon')
  const stuck = await mock.request({ url: `${ORIGIN}/stuck` })
  t.equal(await codeOf(stuck.body.text()), 'WP_BODY_TIMEOUT')
  const controller = new AbortController()
  const aborted = mock.request({ url: `${ORIGIN}/abort`, signal: controller.signal })
  controller.abort()
  t.equal(await codeOf(aborted), 'WP_ABORTED')
})

t.test('decompression when the mock sends content-encoding', async (t) => {
  const mock = newMock(t)
  mock.get(ORIGIN).intercept({ path: '/gz' }).reply(200, gzipSync('hello, compressed'), { headers: { 'content-encoding': 'gzip' } })
  mock.get(ORIGIN).intercept({ path: '/bad' }).reply(200, 'not gzip at all', { headers: { 'content-encoding': 'gzip' } })
  const res = await mock.request({ url: `${ORIGIN}/gz` })
  t.equal(await res.body.text(), 'hello, compressed')
  t.equal(mock.calls[0]?.headers['accept-encoding'] !== undefined, true, 'accept-encoding sent, as the real agent does')
  t.equal(await codeOf((await mock.request({ url: `${ORIGIN}/bad` })).body.text()), 'WP_DECOMPRESS')
})

t.test('dispatch(): handler order and backpressure', async (t) => {
  const mock = newMock(t)
  mock.get(ORIGIN).intercept({ path: '/big' }).reply(200, Buffer.alloc(64 * 1024, 7), { trailers: { 'x-t': '1' } })
  const events: string[] = []
  let resume: (() => void) | undefined
  let bytes = 0
  const done = new Promise<void>((resolve, reject) => {
    const handler: DispatchHandler = {
      onConnect: () => events.push('connect'),
      onHeaders: (status, _headers: HeaderRecord, r) => {
        events.push(`headers ${status}`)
        resume = r
      },
      onData: (chunk) => {
        bytes += chunk.length
        events.push('data')
        return false // pause after every chunk
      },
      onTrailers: (trailers) => events.push(`trailers ${String(trailers['x-t'])}`),
      onComplete: () => {
        events.push('complete')
        resolve()
      },
      onError: reject,
    }
    mock.dispatch({ url: `${ORIGIN}/big` }, handler)
  })
  // Bounded: 64 KiB in 16 KiB chunks is 4 chunks, each delivered only after resume().
  for (let i = 0; i < 10 && !events.includes('complete'); i++) {
    await new Promise((r) => setImmediate(r))
    await new Promise((r) => setImmediate(r))
    const dataSoFar = events.filter((e) => e === 'data').length
    t.ok(dataSoFar <= i + 1, `paused: at most ${i + 1} chunks before ${i + 1} resumes`)
    resume?.()
  }
  await done
  t.equal(bytes, 64 * 1024)
  t.same(events, ['connect', 'headers 200', 'data', 'data', 'data', 'data', 'trailers 1', 'complete'])
})

t.test('entry points: createFetch, WirepoolDispatcher (undici), setDefaultAgent', async (t) => {
  const mock = newMock(t)
  mock.get(ORIGIN).intercept({ path: '/fetch', method: 'POST', body: '{"a":1}' }).reply(201, { ok: true })
  mock.get(ORIGIN).intercept({ path: '/undici' }).reply(200, 'via undici', { headers: { 'x-u': 'y' } })
  mock.get(ORIGIN).intercept({ path: '/default' }).reply(200, 'via default agent')
  mock.get(ORIGIN).intercept({ path: '/default-fetch' }).reply(200, 'via default fetch')

  const fetch = createFetch(mock)
  const res = await fetch(`${ORIGIN}/fetch`, { method: 'POST', body: JSON.stringify({ a: 1 }) })
  t.equal(res.status, 201)
  t.same(await res.json(), { ok: true })

  const dispatcher = new WirepoolDispatcher(mock)
  const u = await undici.request(`${ORIGIN}/undici`, { dispatcher })
  t.equal(u.statusCode, 200)
  t.equal(u.headers['x-u'], 'y')
  t.equal(await u.body.text(), 'via undici')

  const previous = setDefaultAgent(mock)
  t.teardown(() => setDefaultAgent(previous))
  const d = await request(`${ORIGIN}/default`)
  t.equal(await d.body.text(), 'via default agent')
  const f = await defaultFetch(`${ORIGIN}/default-fetch`)
  t.equal(await f.text(), 'via default fetch', "wirepool/fetch's default fetch follows setDefaultAgent too")
  mock.assertNoPendingInterceptors()
})

t.test('enableNetConnect lets chosen hosts reach the network', async (t) => {
  const server = await createTestServer({ protocols: ['http/1.1'], tls: false })
  server.route('POST', '/real', async (req) => ({ status: 200, body: `real ${req.body.toString()}` }))
  const mock = newMock(t)
  t.teardown(() => server.close())
  t.equal(await codeOf(mock.request({ url: `${server.origin}/real`, method: 'POST', body: 'x' })), 'WP_CONNECT_REFUSED')
  mock.enableNetConnect('127.0.0.1')
  const res = await mock.request({ url: `${server.origin}/real`, method: 'POST', body: Readable.from([Buffer.from('streamed')]) })
  t.equal(await res.body.text(), 'real streamed')
  t.equal(server.requests.length, 1)
  t.match(mock.calls.at(-1), { answeredBy: 'net' })
})

t.test('stats() and the wirepool:request channel count mocked requests, marked as mocked', async (t) => {
  const mock = newMock(t)
  mock.get(ORIGIN).intercept({ path: '/ok' }).reply(200, 'fine').times(2)
  mock.get(ORIGIN).intercept({ path: '/err' }).replyWithError(new SocketClosedError('mocked'))
  const events: Array<{ event: string; mocked?: boolean; status?: number }> = []
  const listener = (message: unknown): void => {
    events.push(message as { event: string })
  }
  diagnosticsChannel.subscribe('wirepool:request', listener)
  t.teardown(() => diagnosticsChannel.unsubscribe('wirepool:request', listener))
  for (let i = 0; i < 2; i++) await (await mock.request({ url: `${ORIGIN}/ok` })).body.text()
  await mock.request({ url: `${ORIGIN}/err` }).catch(() => undefined)
  t.same(mock.stats().mocked, { [ORIGIN]: { requests: 3, completed: 2, failed: 1, errors: { WP_SOCKET_CLOSED: 1 } } })
  t.same(mock.stats().origins, {}, 'no pool was made')
  t.same(
    events.map((e) => `${e.event}${e.status === undefined ? '' : ` ${e.status}`}${e.mocked === true ? ' (mocked)' : ''}`),
    ['dispatched (mocked)', 'completed 200 (mocked)', 'dispatched (mocked)', 'completed 200 (mocked)', 'dispatched (mocked)', 'failed (mocked)'],
  )
})

t.test('a closed MockAgent takes no more requests', async (t) => {
  const mock = newMock(t)
  mock.get(ORIGIN).intercept({ path: '/x' }).reply(200, 'x').persist()
  t.equal((await mock.request({ url: `${ORIGIN}/x` })).status, 200)
  await mock.close()
  t.equal(await codeOf(mock.request({ url: `${ORIGIN}/x` })), 'WP_POOL_CLOSED')
})
