// Credentials and redirects: one test per advisory of the class (other clients' bugs we must
// not repeat), over real loopback servers, HTTP/1.1 and HTTP/2. Two servers are two origins.
// Each test also checks the same fields DO reach the first origin, so it cannot pass by
// sending nothing.
import t from 'tap'
import { Agent, redirect, type RedirectRefusedError, type WirepoolError } from '../../src/index.js'
import { createTestServer } from '../../src/testing/index.js'
import { echo, failure, loopbackLookup, received, redirectUrl, rigs, serve, type Echo } from './redirect-support.js'

const SECRETS = {
  authorization: 'Bearer secret-token',
  cookie: 'session=secret-cookie',
  'proxy-authorization': 'Basic c2VjcmV0OnByb3h5',
  'x-api-key': 'secret-key',
  'x-harmless': 'kept',
}

t.test('CVE-2023-45143: cookie is not sent to another origin (nor authorization); both stay within one', async (t) => {
  // undici cleared Authorization on a cross-origin redirect but not Cookie (fixed in 5.26.2).
  for (const { label, a, b, agent } of await rigs(t)) {
    const client = agent.compose(redirect())
    for (const status of [302, 307]) {
      const cross = await echo(await client.request({ url: redirectUrl(a.origin, status, `${b.origin}/echo/cookie`), method: 'POST', body: 'x', headers: SECRETS }))
      t.equal(cross.headers['cookie'], undefined, `${label} ${status}: no cookie at the other origin`)
      t.equal(cross.headers['authorization'], undefined, `${label} ${status}: no authorization at the other origin`)
      t.equal(cross.headers['x-harmless'], 'kept', `${label} ${status}: other fields go on`)
    }
    const same = await echo(await client.request({ url: redirectUrl(a.origin, 307, '/echo/cookie'), headers: SECRETS }))
    t.equal(same.headers['cookie'], SECRETS.cookie, `${label}: the same origin gets its cookie`)
    t.equal(same.headers['authorization'], SECRETS.authorization, `${label}: and its authorization`)
    t.equal(received(a, '/r?').at(-1)?.headers['cookie'], SECRETS.cookie, `${label}: the first request carried them`)
  }
})

t.test('GHSA-3787-6prv-h9w3: proxy-authorization is not sent to another origin, nor a header the caller lists', async (t) => {
  // undici cleared Proxy-Authorization in fetch() but not in request()/dispatch(): every entry
  // point is checked here — the interceptor, a plain request({ redirect: 'follow' }) and dispatch().
  for (const { label, a, b, agent } of await rigs(t)) {
    const url = redirectUrl(a.origin, 301, `${b.origin}/echo/proxy`)
    const viaInterceptor = await echo(await agent.compose(redirect({ stripHeaders: ['X-Api-Key'] })).request({ url, headers: SECRETS }))
    t.equal(viaInterceptor.headers['proxy-authorization'], undefined, `${label}: redirect() drops proxy-authorization`)
    t.equal(viaInterceptor.headers['x-api-key'], undefined, `${label}: and the listed x-api-key (any case)`)
    t.equal(viaInterceptor.headers['x-harmless'], 'kept', `${label}: other fields go on`)

    const viaRequest = await echo(await agent.request({ url, headers: SECRETS, redirect: 'follow' }))
    t.equal(viaRequest.headers['proxy-authorization'], undefined, `${label}: request({ redirect: 'follow' }) drops it`)
    t.equal(viaRequest.headers['x-api-key'], 'secret-key', `${label}: an unlisted custom field goes on`)

    const viaDispatch = await new Promise<Echo>((resolve, reject) => {
      const chunks: Buffer[] = []
      agent.dispatch(
        { url, headers: SECRETS, redirect: 'follow' },
        {
          onHeaders: () => true,
          onData: (chunk) => {
            chunks.push(Buffer.from(chunk))
          },
          onComplete: () => resolve(JSON.parse(Buffer.concat(chunks).toString()) as Echo),
          onError: reject,
        },
      )
    })
    t.equal(viaDispatch.headers['proxy-authorization'], undefined, `${label}: dispatch() drops it`)
    t.equal(received(a, '/r?').at(-1)?.headers['proxy-authorization'], SECRETS['proxy-authorization'], `${label}: the first origin got it`)
  }
})

t.test('CVE-2023-45289: a host under the original name, or an IPv6 zone spelled to end in it, is another origin', async (t) => {
  // Go forwarded credentials to any host that was a "subdomain match", and
  // `[::1%25.example.com]` passed its suffix test. Here the origin is compared exactly.
  const h1 = serve(await createTestServer({ tls: false }))
  const h2 = serve(await createTestServer({ protocols: ['h2'], tls: true }))
  // Any name reaches the loopback server; over TLS the certificate is checked for `localhost`.
  const agents = {
    h1: new Agent({ lookup: loopbackLookup }),
    h2: new Agent({ lookup: loopbackLookup, tls: { ca: h2.ca as string, servername: 'localhost' } }),
  }
  t.teardown(async () => {
    await Promise.all([agents.h1.destroy(), agents.h2.destroy()])
    await Promise.all([h1.close(), h2.close()])
  })
  for (const [label, server, scheme] of [['h1', h1, 'http'], ['h2', h2, 'https']] as const) {
    const client = agents[label].compose(redirect())
    const parent = `${scheme}://example.test:${server.port}`
    const sub = await echo(await client.request({ url: redirectUrl(parent, 302, `${scheme}://sub.example.test:${server.port}/echo/sub`), headers: SECRETS }))
    t.equal(sub.headers['authorization'], undefined, `${label}: no authorization for sub.example.test`)
    t.equal(sub.headers['cookie'], undefined, `${label}: no cookie for sub.example.test`)
    t.equal(received(server, '/r?').at(-1)?.headers['authorization'], SECRETS.authorization, `${label}: example.test itself got them`)

    const before = server.requests.length
    const zone = (await failure(client.request({ url: redirectUrl(parent, 302, `${scheme}://[::1%25.example.test]:${server.port}/echo/zone`), headers: SECRETS }))) as RedirectRefusedError
    t.equal(zone.code, 'WP_REDIRECT_REFUSED', `${label}: an IPv6 zone is no URL host (WHATWG URL)`)
    t.equal(zone.reason, 'invalid-location')
    t.equal(server.requests.length - before, 1, `${label}: nothing was sent after the redirect`)
  }
})

t.test('CVE-2024-45336: credentials dropped at a cross-origin hop stay dropped, back on the original origin too', async (t) => {
  // Go copied the first request's fields into every hop and so restored them on a later
  // same-domain redirect (a → b/1 → b/2), or back at a.
  for (const { label, a, b, agent } of await rigs(t)) {
    const client = agent.compose(redirect({ stripHeaders: ['x-api-key'] }))
    const back = await echo(await client.request({ url: redirectUrl(a.origin, 302, redirectUrl(b.origin, 307, `${a.origin}/echo/back`)), headers: SECRETS }))
    for (const name of ['authorization', 'cookie', 'proxy-authorization', 'x-api-key']) {
      t.equal(back.headers[name], undefined, `${label}: ${name} not restored back at the first origin`)
    }
    t.equal(back.headers['x-harmless'], 'kept', `${label}: other fields go on`)
    const onward = await echo(await client.request({ url: redirectUrl(a.origin, 302, redirectUrl(b.origin, 302, '/echo/2')), headers: SECRETS }))
    t.equal(onward.headers['authorization'], undefined, `${label}: nor on a same-origin hop after the cross-origin one (a → b/1 → b/2)`)
    t.equal(onward.headers['cookie'], undefined, `${label}: nor cookie (a → b/1 → b/2)`)
    const sameOnly = await echo(await client.request({ url: redirectUrl(a.origin, 302, redirectUrl(a.origin, 302, '/echo/same')), headers: SECRETS }))
    t.equal(sameOnly.headers['authorization'], SECRETS.authorization, `${label}: a chain that never leaves keeps them`)
  }
})

t.test('https → http downgrade is refused unless allowDowngrade; allowed, credentials still do not follow', async (t) => {
  const plain = serve(await createTestServer({ tls: false }))
  const secureH1 = serve(await createTestServer({ protocols: ['http/1.1'], tls: true }))
  const secureH2 = serve(await createTestServer({ protocols: ['h2'], tls: true }))
  const agent = new Agent({ tls: { ca: [secureH1.ca as string, secureH2.ca as string] } })
  t.teardown(async () => {
    await agent.destroy()
    await Promise.all([plain.close(), secureH1.close(), secureH2.close()])
  })
  for (const [label, secure] of [['h1', secureH1], ['h2', secureH2]] as const) {
    const url = redirectUrl(secure.origin, 302, `${plain.origin}/echo/down`)
    const before = plain.requests.length
    const refused = (await failure(agent.compose(redirect()).request({ url, headers: SECRETS }))) as RedirectRefusedError
    t.equal(refused.code, 'WP_REDIRECT_REFUSED', label)
    t.equal(refused.reason, 'downgrade')
    t.match(refused.message, /allowDowngrade/)
    t.equal(plain.requests.length, before, `${label}: nothing went over cleartext`)
    const viaRequest = (await failure(agent.request({ url, redirect: 'follow' }))) as RedirectRefusedError
    t.equal(viaRequest.reason, 'downgrade', `${label}: request({ redirect: 'follow' }) refuses it too`)

    const allowed = await agent.compose(redirect({ allowDowngrade: true })).request({ url, headers: SECRETS })
    const e = await echo(allowed)
    t.equal(allowed.url, `${plain.origin}/echo/down`, `${label}: allowed, it is followed`)
    t.equal(e.headers['authorization'], undefined, `${label}: without credentials (another origin)`)
    t.equal(e.headers['cookie'], undefined, `${label}: no cookie over cleartext to another origin`)
  }
})
