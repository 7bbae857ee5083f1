// agent.compose() / pool.compose(): interceptors wrap dispatch over real loopback servers.
import t from 'tap'
import { gzipSync } from 'node:zlib'
import { Agent, ComposedDispatcher, DelegatingHandler, Pool, type Dispatch, type DispatchHandler, type HeaderRecord, type Interceptor, type WirepoolError } from '../../src/index.js'
import { createFetch } from '../../src/adapters/fetch.js'
import { peers } from './peers.js'
import { headerEntries } from '../../src/interceptors/request-headers.js'

/** An interceptor that appends `x-trail: <name>` so the server shows the order they ran in. */
function tag(name: string): Interceptor {
  return (dispatch: Dispatch): Dispatch =>
    (options, handler) => {
      dispatch({ ...options, headers: [...headerEntries(options.headers), ['x-trail', name]] }, handler)
    }
}

t.test('interceptors run first-outermost, over h1 and h2', async (t) => {
  for (const { label, server, agent } of await peers(t)) {
    // (the test server records a repeated field as an array over h1, joined with ", " over h2)
    server.route('GET', '/order', (req) => ({ body: ([] as string[]).concat(req.headers['x-trail'] ?? []).join(', ') }))
    const composed = agent.compose(tag('a'), tag('b')).compose(tag('outer'))
    t.ok(composed instanceof ComposedDispatcher)
    t.equal(composed.base, agent, `${label}: base is the agent`)
    const res = await composed.request({ url: `${server.origin}/order` })
    t.equal(res.protocol, label === 'h1' ? 'http/1.1' : 'h2')
    t.equal(await res.body.text(), 'outer, a, b', `${label}: outer, then a, then b`)
    // The agent itself is unchanged.
    const plain = await agent.request({ url: `${server.origin}/order` })
    t.equal(await plain.body.text(), '', `${label}: a plain request carries no x-trail`)
  }
})

t.test('an interceptor may answer without the network', async (t) => {
  const [h1] = await peers(t)
  const answer: Interceptor = (dispatch) => (options, handler) => {
    if (!String(options.url).endsWith('/local')) return dispatch(options, handler)
    handler.onConnect?.(() => {}, { id: 0, reused: false, tlsResumed: null, remoteAddress: undefined, remotePort: undefined, protocol: 'http/1.1' })
    handler.onHeaders(203, { 'x-from': 'interceptor' }, () => {}, 'Non-Authoritative Information')
    handler.onData(Buffer.from('made here'))
    handler.onComplete()
  }
  const composed = h1.agent.compose(answer)
  const res = await composed.request({ url: `${h1.server.origin}/local` })
  t.equal(res.status, 203)
  t.equal(res.headers['x-from'], 'interceptor')
  t.equal(await res.body.text(), 'made here')
  t.equal(h1.server.requests.length, 0, 'no request reached the server')
})

t.test('a wrapping handler sees the response; request() decodes as the agent does', async (t) => {
  const [h1] = await peers(t)
  h1.server.route('GET', '/gz', (req) =>
    req.headers['accept-encoding'] === undefined ? { body: 'plain' } : { headers: { 'content-encoding': 'gzip' }, body: gzipSync('squeezed') },
  )
  const statuses: number[] = []
  let bytes = 0
  const watch: Interceptor = (dispatch) => (options, handler) =>
    dispatch(
      options,
      new (class extends DelegatingHandler {
        override onHeaders(status: number, headers: HeaderRecord, resume: () => void, statusText: string): boolean | void {
          statuses.push(status)
          return super.onHeaders(status, headers, resume, statusText)
        }
        override onData(chunk: Uint8Array): boolean | void {
          bytes += chunk.byteLength
          return super.onData(chunk)
        }
      })(handler),
    )
  const composed = h1.agent.compose(watch)
  const res = await composed.request({ url: `${h1.server.origin}/gz` })
  t.equal(await res.body.text(), 'squeezed', 'decoded')
  t.equal(res.headers['content-encoding'], undefined, 'decoded body: content-encoding removed')
  t.equal(res.rawHeaders['content-encoding'], 'gzip')
  t.same(statuses, [200])
  t.equal(bytes, gzipSync('squeezed').byteLength, 'the interceptor saw the bytes as sent')
  t.equal(h1.server.requests[0]?.headers['accept-encoding'], 'gzip, deflate, br', 'accept-encoding added before the chain')

  const noDecode = new Agent({ decompress: false })
  t.teardown(() => noDecode.destroy())
  const raw = await noDecode.compose(watch).request({ url: `${h1.server.origin}/gz` })
  t.equal(await raw.body.text(), 'plain', 'decompress: false sends no accept-encoding')
})

t.test('errors: a throwing interceptor rejects the request; bad compose arguments throw', async (t) => {
  const [h1] = await peers(t)
  const boom: Interceptor = () => () => {
    throw new Error('interceptor broke')
  }
  const err = (await h1.agent.compose(boom).request({ url: `${h1.server.origin}/` }).catch((e: WirepoolError) => e)) as WirepoolError
  t.match(err.message, /interceptor broke/)
  t.ok(typeof err.code === 'string' && err.code.startsWith('WP_'), 'a wirepool error code')
  t.throws(() => h1.agent.compose(42 as unknown as Interceptor), { code: 'WP_INVALID_ARG', message: /interceptor 0 is not a function/ })
  t.throws(() => h1.agent.compose((() => 'nope') as unknown as Interceptor), { code: 'WP_INVALID_ARG' })
  // Validation still happens at the end of the chain, reported through the handler.
  const bad = (await h1.agent.compose(tag('x')).request({ url: `${h1.server.origin}/`, timeot: 5 } as never).catch((e: WirepoolError) => e)) as WirepoolError
  t.equal(bad.code, 'WP_INVALID_ARG')
  t.match(bad.message, /timeot/)
})

t.test('pool.compose: a path-only request gets the origin; another origin is refused', async (t) => {
  const [h1] = await peers(t)
  h1.server.route('GET', '/p', (req) => ({ body: `${req.path} ${String(req.headers['x-trail'])}` }))
  const pool = new Pool(h1.server.origin)
  t.teardown(() => pool.destroy())
  const seen: string[] = []
  const spy: Interceptor = (dispatch) => (options, handler) => {
    seen.push(String(options.origin ?? options.url))
    dispatch(options, handler)
  }
  const composed = pool.compose(spy, tag('p'))
  const res = await composed.request({ path: '/p?q=1' })
  t.equal(await res.body.text(), '/p?q=1 p')
  t.same(seen, [h1.server.origin], 'the interceptor saw the whole target')
  const byUrl = await composed.request({ url: `${h1.server.origin}/p` })
  t.equal(await byUrl.body.text(), '/p p')
  const err = (await composed.request({ url: 'http://127.0.0.1:1/p' }).catch((e: WirepoolError) => e)) as WirepoolError
  t.equal(err.code, 'WP_INVALID_ARG')
  t.match(err.message, /compose on an Agent/)
})

t.test('fetch and dispatch() go through the composition', async (t) => {
  const [, h2] = await peers(t)
  h2.server.route('GET', '/f', (req) => ({ body: String(req.headers['x-trail']) }))
  const composed = h2.agent.compose(tag('f'))
  const fetch = createFetch(composed)
  const res = await fetch(`${h2.server.origin}/f`)
  t.equal(await res.text(), 'f')
  const body = await new Promise<string>((resolve, reject) => {
    let text = ''
    const handler: DispatchHandler = {
      onHeaders: () => true,
      onData: (chunk) => {
        text += Buffer.from(chunk).toString()
      },
      onComplete: () => resolve(text),
      onError: reject,
    }
    composed.dispatch({ url: `${h2.server.origin}/f` }, handler)
  })
  t.equal(body, 'f')
  await composed.close()
  const closed = (await composed.request({ url: `${h2.server.origin}/f` }).catch((e: WirepoolError) => e)) as WirepoolError
  t.equal(closed.code, 'WP_POOL_CLOSED', 'close() closed the agent under it')
})
