// redirect(): following redirects over real loopback servers, HTTP/1.1 and HTTP/2 (RFC 9110
// §15.4), with request({ redirect, maxRedirections }) on a plain Agent and Pool too.
import t from 'tap'
import { Readable } from 'node:stream'
import { Agent, Pool, redirect, type DispatchHandler, type RedirectRefusedError, type TooManyRedirectsError, type WirepoolError } from '../../src/index.js'
import { MockAgent } from '../../src/mock/index.js'
import { exitCodeFor } from '../../src/cli/exit-codes.js'
import { echo, failure, received, redirectUrl, rigs } from './redirect-support.js'

t.test('301/302/303 turn into GET without the body (HEAD stays HEAD); 307/308 keep method and body', async (t) => {
  for (const { label, a, agent, protocol } of await rigs(t)) {
    const client = agent.compose(redirect())
    const post = { method: 'POST', body: 'data', headers: { 'content-type': 'text/x', 'x-keep': 'yes' } }
    for (const status of [301, 302, 303]) {
      const res = await client.request({ url: redirectUrl(a.origin, status, '/echo'), ...post })
      t.equal(res.protocol, protocol)
      const e = await echo(res)
      t.equal(e.method, 'GET', `${label} ${status}: POST → GET`)
      t.equal(e.body, '', `${label} ${status}: no body`)
      t.equal(e.headers['content-type'], undefined, `${label} ${status}: the body's fields go with it`)
      t.equal(e.headers['x-keep'], 'yes', `${label} ${status}: other fields stay`)
    }
    const put = await echo(await client.request({ url: redirectUrl(a.origin, 301, '/echo'), method: 'PUT', body: 'x' }))
    t.equal(put.method, 'GET', `${label}: PUT on a 301 → GET`)
    const head = await client.request({ url: redirectUrl(a.origin, 302, '/echo'), method: 'HEAD' })
    t.equal(head.status, 200)
    await head.body.text()
    t.equal(received(a, '/echo').at(-1)?.method, 'HEAD', `${label}: HEAD on a 302 stays HEAD`)
    for (const status of [307, 308]) {
      const e = await echo(await client.request({ url: redirectUrl(a.origin, status, '/echo'), ...post }))
      t.equal(e.method, 'POST', `${label} ${status}: method kept`)
      t.equal(e.body, 'data', `${label} ${status}: body sent again`)
      t.equal(e.headers['content-type'], 'text/x')
    }
  }
})

t.test('307 re-sends every body that can be sent again: bytes, Blob, URLSearchParams, FormData, json', async (t) => {
  for (const { label, a, agent } of await rigs(t)) {
    const client = agent.compose(redirect())
    const url = redirectUrl(a.origin, 307, '/echo')
    const bodies: Array<[string, object, string | RegExp]> = [
      ['bytes', { body: Buffer.from('raw') }, 'raw'],
      ['Blob', { body: new Blob(['blob-bytes']) }, 'blob-bytes'],
      ['URLSearchParams', { body: new URLSearchParams({ q: '1' }) }, 'q=1'],
      ['FormData', { body: formData() }, /name="field"\r\n\r\nvalue/],
      ['json', { json: { n: 1 } }, '{"n":1}'],
    ]
    for (const [kind, options, expected] of bodies) {
      const e = await echo(await client.request({ url, method: 'POST', ...options }))
      if (typeof expected === 'string') t.equal(e.body, expected, `${label} ${kind}`)
      else t.match(e.body, expected, `${label} ${kind}`)
    }
  }
})

function formData(): FormData {
  const form = new FormData()
  form.append('field', 'value')
  return form
}

t.test('a stream body cannot follow a 307/308 (WP_REDIRECT_REFUSED); a 303 drops it and goes on', async (t) => {
  for (const { label, a, agent } of await rigs(t)) {
    const client = agent.compose(redirect())
    for (const status of [307, 308]) {
      const err = (await failure(client.request({ url: redirectUrl(a.origin, status, '/echo'), method: 'POST', body: Readable.from([Buffer.from('once')]) }))) as RedirectRefusedError
      t.equal(err.code, 'WP_REDIRECT_REFUSED', `${label} ${status}`)
      t.equal(err.reason, 'body-not-replayable')
      t.equal(err.status, status)
      t.match(err.message, /streamed body can be sent only once/)
    }
    t.equal(received(a, '/echo').length, 0, `${label}: nothing was sent on`)
    const e = await echo(await client.request({ url: redirectUrl(a.origin, 303, '/echo'), method: 'POST', body: Readable.from([Buffer.from('once')]) }))
    t.equal(e.method, 'GET', `${label}: 303 with a stream body`)
  }
})

t.test('res.url and res.redirects; a relative Location is resolved against the request (RFC 9110 §10.2.2)', async (t) => {
  for (const { label, a, b, agent } of await rigs(t)) {
    a.route('GET', '/dir/page', { status: 302, headers: { location: '../echo?q=1' }, body: '' })
    const client = agent.compose(redirect())
    const res = await client.request({ url: `${a.origin}/dir/page#top` })
    t.equal((await echo(res)).path, '/echo?q=1', `${label}: ../echo resolved against /dir/page`)
    t.equal(res.url, `${a.origin}/echo?q=1`, `${label}: res.url is where it ended, without fragment`)
    t.same(res.redirects, [{ status: 302, url: `${a.origin}/echo?q=1` }])

    const cross = await client.request({ url: redirectUrl(a.origin, 301, redirectUrl(b.origin, 308, '/echo/x')) })
    await cross.body.text()
    t.same(
      cross.redirects.map((r) => [r.status, r.url]),
      [
        [301, redirectUrl(b.origin, 308, '/echo/x')],
        [308, `${b.origin}/echo/x`],
      ],
      `${label}: every hop, in order`,
    )
    t.equal(cross.url, `${b.origin}/echo/x`)

    // Without redirects: the request's URL, however it was given, and on the plain path too.
    for (const [how, res2] of [
      ['composed url', await client.request({ url: `${a.origin}/echo?z=1` })],
      ['composed origin+path', await client.request({ origin: a.origin, path: '/echo?z=1' })],
      ['plain agent', await agent.request({ url: `${a.origin}/echo?z=1` })],
      ['plain agent origin+path', await agent.request({ origin: a.origin, path: '/echo?z=1' })],
    ] as const) {
      await res2.body.text()
      t.equal(res2.url, `${a.origin}/echo?z=1`, `${label} ${how}: res.url`)
      t.same(res2.redirects, [], `${label} ${how}: no redirects`)
    }
  }
})

t.test("request({ redirect }): 'manual' by default; 'follow' and 'error' on a plain Agent; per-request options win", async (t) => {
  for (const { label, a, agent } of await rigs(t)) {
    const url = redirectUrl(a.origin, 302, '/echo')
    const manual = await agent.request({ url })
    t.equal(manual.status, 302, `${label}: a plain request is not redirected`)
    t.equal(await manual.body.text(), 'moved')

    const followed = await agent.request({ url, redirect: 'follow' })
    t.equal(followed.status, 200, `${label}: redirect: 'follow' without compose`)
    t.equal(followed.url, `${a.origin}/echo`)
    await followed.body.text()

    const err = (await failure(agent.request({ url, redirect: 'error' }))) as RedirectRefusedError
    t.equal(err.code, 'WP_REDIRECT_REFUSED', `${label}: redirect: 'error'`)
    t.equal(err.reason, 'mode-error')
    t.equal(err.location, '/echo')

    const interceptorManual = agent.compose(redirect({ mode: 'manual' }))
    t.equal((await interceptorManual.request({ url })).status, 302, `${label}: mode 'manual'`)
    const overridden = await interceptorManual.request({ url, redirect: 'follow' })
    t.equal(overridden.status, 200, `${label}: the request's redirect wins over the interceptor's mode`)
    await overridden.body.text()

    const one = agent.compose(redirect({ maxRedirections: 1 }))
    const tooMany = (await failure(one.request({ url: `${a.origin}/hop/2` }))) as TooManyRedirectsError
    t.equal(tooMany.code, 'WP_TOO_MANY_REDIRECTS', `${label}: the interceptor's maxRedirections`)
    const more = await one.request({ url: `${a.origin}/hop/2`, maxRedirections: 2 })
    t.equal(more.status, 200, `${label}: the request's maxRedirections wins`)
    await more.body.text()
    const plainLimit = (await failure(agent.request({ url: `${a.origin}/hop/3`, redirect: 'follow', maxRedirections: 2 }))) as TooManyRedirectsError
    t.equal(plainLimit.code, 'WP_TOO_MANY_REDIRECTS')
    t.equal(plainLimit.redirects.length, 2)

    const bad = await failure(agent.request({ url, redirect: 'sometimes' as never }))
    t.equal(bad.code, 'WP_INVALID_ARG', `${label}: a bad redirect value`)
    t.match(bad.message, /option redirect/)
    const badMax = await failure(agent.request({ url, redirect: 'manual', maxRedirections: -1 }))
    t.equal(badMax.code, 'WP_INVALID_ARG')
    t.throws(() => redirect({ maxRedirections: 1.5 }), { code: 'WP_INVALID_ARG' })
    t.throws(() => redirect({ stripheaders: [] } as never), { code: 'WP_INVALID_ARG', message: /stripheaders/ })
  }
})

t.test('too long a chain and a loop fail with their own codes (CLI exit 47)', async (t) => {
  for (const { label, a, agent } of await rigs(t)) {
    const client = agent.compose(redirect())
    const ok = await client.request({ url: `${a.origin}/hop/20` })
    t.equal(ok.redirects.length, 20, `${label}: 20 redirects are followed`)
    await ok.body.text()
    const long = (await failure(client.request({ url: `${a.origin}/hop/21` }))) as TooManyRedirectsError
    t.equal(long.code, 'WP_TOO_MANY_REDIRECTS', `${label}: the 21st is not`)
    t.equal(long.maxRedirections, 20)
    t.equal(long.redirects.length, 20)
    t.equal(exitCodeFor(long), 47)

    const before = received(a, '/loop').length
    const loop = await failure(client.request({ url: `${a.origin}/loop` }))
    t.equal(loop.code, 'WP_REDIRECT_LOOP', `${label}: a redirect back to the same request`)
    t.equal(received(a, '/loop').length - before, 1, `${label}: found before sending it again`)
    t.equal(exitCodeFor(loop), 47)
  }
})

t.test('a bad Location, another scheme, and a 3xx without Location', async (t) => {
  for (const { label, a, agent } of await rigs(t)) {
    const client = agent.compose(redirect())
    const invalid = (await failure(client.request({ url: redirectUrl(a.origin, 302, 'http://[::1') }))) as RedirectRefusedError
    t.equal(invalid.reason, 'invalid-location', label)
    const ftp = (await failure(client.request({ url: redirectUrl(a.origin, 302, 'ftp://127.0.0.1/file') }))) as RedirectRefusedError
    t.equal(ftp.reason, 'unsupported-scheme', label)
    t.equal(ftp.code, 'WP_REDIRECT_REFUSED')
    const noLocation = await client.request({ url: `${a.origin}/r?status=302` })
    t.equal(noLocation.status, 302, `${label}: nothing to follow, the response is the answer`)
    t.equal(await noLocation.body.text(), 'moved')
    const notModified = await client.request({ url: redirectUrl(a.origin, 300, '/echo') })
    t.equal(notModified.status, 300, `${label}: 300 is not followed`)
    await notModified.body.text()
  }
})

t.test("redirect bodies are read and dropped so the connection is reused; one over 64 KiB is aborted", async (t) => {
  for (const { label, a, agent } of await rigs(t)) {
    const client = agent.compose(redirect())
    const res = await client.request({ url: redirectUrl(a.origin, 302, '/echo/small', 1000) })
    await res.body.text()
    const [redirectReq, finalReq] = [received(a, '/r?').at(-1), received(a, '/echo/small').at(-1)]
    t.equal(finalReq?.connectionId, redirectReq?.connectionId, `${label}: the next hop went on the same connection`)
    t.equal(res.connection.reused, true, `${label}: res.connection is the final hop's`)

    const big = await client.request({ url: redirectUrl(a.origin, 302, '/echo/big', 100 * 1024) })
    t.equal(big.status, 200, `${label}: still followed`)
    await big.body.text()
  }
})

t.test('the timeout option spans the whole chain', async (t) => {
  for (const { label, a, agent } of await rigs(t)) {
    a.route('GET', '/slow-redirect', { status: 302, headers: { location: '/slow-echo' }, body: '', fault: { kind: 'delay-head', delayMs: 150 } })
    a.route('GET', '/slow-echo', { body: 'late', fault: { kind: 'delay-head', delayMs: 150 } })
    const err = await failure(agent.request({ url: `${a.origin}/slow-redirect`, redirect: 'follow', timeout: 250 }))
    t.equal(err.code, 'WP_REQUEST_TIMEOUT', `${label}: each hop was under the timeout, the two together were not`)
    t.match(err.message, /within 250 ms/, `${label}: the whole request's timeout`)
  }
})

t.test('Pool: follows hops within its origin, refuses others', async (t) => {
  for (const { label, a, b, agent } of await rigs(t)) {
    const tls = label === 'h2' ? { tls: { ca: a.ca as string } } : {}
    const pool = new Pool(a.origin, tls)
    t.teardown(() => pool.destroy())
    const res = await pool.request({ path: '/r?status=302&to=%2Fecho%2Fpool', redirect: 'follow' })
    t.equal((await echo(res)).path, '/echo/pool', `${label}: same-origin hop`)
    t.equal(res.url, `${a.origin}/echo/pool`)
    const err = (await failure(pool.request({ path: `/r?status=302&to=${encodeURIComponent(`${b.origin}/echo`)}`, redirect: 'follow' }))) as RedirectRefusedError
    t.equal(err.code, 'WP_REDIRECT_REFUSED', `${label}: another origin`)
    t.equal(err.reason, 'cross-origin')
    t.match(err.message, /Agent/)
    const plain = await pool.request({ path: '/r?status=302&to=%2Fecho' })
    t.equal(plain.status, 302, `${label}: not without the option`)
    await plain.body.text()
    void agent
  }
})

t.test('dispatch(): onRedirect before each hop, then one onConnect with the final connection', async (t) => {
  for (const { label, a, b, agent } of await rigs(t)) {
    const calls: string[] = []
    const done = new Promise<void>((resolve, reject) => {
      const handler: DispatchHandler = {
        onRedirect: (status, location) => calls.push(`redirect ${status} ${location.href}`),
        onConnect: (_abort, info) => calls.push(`connect ${info.protocol}`),
        onHeaders: (status) => {
          calls.push(`headers ${status}`)
          return true
        },
        onData: () => true,
        onComplete: () => resolve(),
        onError: reject,
      }
      agent.dispatch({ url: redirectUrl(a.origin, 307, `${b.origin}/echo/d`), redirect: 'follow' }, handler)
    })
    await done
    t.same(calls, [`redirect 307 ${b.origin}/echo/d`, `connect ${label === 'h1' ? 'http/1.1' : 'h2'}`, 'headers 200'], label)
  }
})

t.test('MockAgent: mocked redirects are followed too', async (t) => {
  const mock = new MockAgent()
  mock.disableNetConnect()
  t.teardown(() => mock.destroy())
  mock.get('https://api.test').intercept({ path: '/old' }).reply(301, '', { headers: { location: '/new' } })
  mock.get('https://api.test').intercept({ path: '/new' }).reply(200, 'here')
  const res = await mock.request({ url: 'https://api.test/old', redirect: 'follow' })
  t.equal(res.status, 200)
  t.equal(await res.body.text(), 'here')
  t.equal(res.url, 'https://api.test/new')
  mock.assertNoPendingInterceptors()
})

t.test('an Agent with nothing asked of it costs no redirect work: compose(redirect()) is another object', async (t) => {
  const agent = new Agent()
  t.teardown(() => agent.destroy())
  const composed = agent.compose(redirect())
  t.not(composed, agent)
  t.equal(composed.base, agent)
})
