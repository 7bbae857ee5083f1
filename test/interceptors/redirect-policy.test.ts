// The redirect policy as values in, values out: no sockets (RFC 9110 §15.4, §10.2.2; fetch §4.4).
import t from 'tap'
import { RedirectChain, type BodyKind, type HopRequest, type RedirectRules } from '../../src/interceptors/redirect-policy.js'

const CLIENT: RedirectRules = { methodRewrite: 'client', maxRedirections: 20, allowDowngrade: false, stripHeaders: new Set(['x-api-key']), detectLoops: true, onlyOrigin: undefined }
const FETCH: RedirectRules = { ...CLIENT, methodRewrite: 'fetch', allowDowngrade: true, stripHeaders: new Set(), detectLoops: false }

function hop(url: string, method = 'GET', headers: Array<[string, string]> = [], body: BodyKind = 'none'): HopRequest {
  return { url: new URL(url), method, headers, body }
}

function follow(chain: RedirectChain, status: number, location: string): HopRequest {
  const d = chain.next(status, location)
  if (d.kind !== 'follow') throw new Error(`expected to follow, got ${d.reason}: ${d.message}`)
  return d.next
}

t.test('method rewrites: client (every method but GET/HEAD on 301/302/303) and fetch (§4.4 step 12)', async (t) => {
  const cases: Array<[string, number, string, string]> = [
    // method, status, client, fetch
    ['POST', 301, 'GET', 'GET'],
    ['POST', 302, 'GET', 'GET'],
    ['POST', 303, 'GET', 'GET'],
    ['PUT', 301, 'GET', 'PUT'],
    ['DELETE', 302, 'GET', 'DELETE'],
    ['PUT', 303, 'GET', 'GET'],
    ['HEAD', 301, 'HEAD', 'HEAD'],
    ['HEAD', 303, 'HEAD', 'HEAD'],
    ['GET', 303, 'GET', 'GET'],
    ['POST', 307, 'POST', 'POST'],
    ['PUT', 308, 'PUT', 'PUT'],
  ]
  for (const [method, status, client, fetch] of cases) {
    const body: BodyKind = method === 'GET' || method === 'HEAD' ? 'none' : 'replayable'
    const headers: Array<[string, string]> = [['content-type', 'text/plain'], ['content-length', '4'], ['expect', '100-continue'], ['x-other', '1']]
    const c = follow(new RedirectChain(hop('http://a.test/', method, headers, body), CLIENT), status, '/next')
    t.equal(c.method, client, `client: ${method} on ${status}`)
    t.equal(follow(new RedirectChain(hop('http://a.test/', method, [], body), FETCH), status, '/next').method, fetch, `fetch: ${method} on ${status}`)
    if (c.method !== method) {
      t.equal(c.body, 'none', `client: ${method} on ${status} drops the body`)
      t.same(c.headers, [['x-other', '1']], 'and the fields that described it')
    } else {
      t.equal(c.body, body, `client: ${method} on ${status} keeps the body`)
      t.equal(c.headers.length, 4)
    }
  }
})

t.test('Location resolved as RFC 3986 §5.4.1 resolves references against http://a/b/c/d;p?q', async (t) => {
  const base = 'http://a/b/c/d;p?q'
  const examples: Array<[string, string]> = [
    ['g', 'http://a/b/c/g'],
    ['./g', 'http://a/b/c/g'],
    ['g/', 'http://a/b/c/g/'],
    ['/g', 'http://a/g'],
    ['//g', 'http://g/'],
    ['?y', 'http://a/b/c/d;p?y'],
    ['g?y', 'http://a/b/c/g?y'],
    ['g#s', 'http://a/b/c/g#s'],
    [';x', 'http://a/b/c/;x'],
    ['.', 'http://a/b/c/'],
    ['..', 'http://a/b/'],
    ['../g', 'http://a/b/g'],
    ['../..', 'http://a/'],
    ['../../../g', 'http://a/g'],
    ['/./g', 'http://a/g'],
    ['g;x=1/../y', 'http://a/b/c/y'],
  ]
  for (const [reference, expected] of examples) {
    t.equal(follow(new RedirectChain(hop(base), CLIENT), 302, reference).url.href, expected, reference)
  }
})

t.test('a Location without a fragment inherits the request URL fragment (RFC 9110 §10.2.2)', async (t) => {
  t.equal(follow(new RedirectChain(hop('http://a.test/x#frag'), CLIENT), 302, '/y').url.href, 'http://a.test/y#frag')
  t.equal(follow(new RedirectChain(hop('http://a.test/x#frag'), CLIENT), 302, '/y#own').url.href, 'http://a.test/y#own')
  const chain = new RedirectChain(hop('http://a.test/x#frag'), CLIENT)
  follow(chain, 302, '/y')
  t.same(chain.followed, [{ status: 302, url: 'http://a.test/y' }], 'followed URLs are named without fragment')
  const userinfo = new RedirectChain(hop('http://a.test/x'), CLIENT)
  follow(userinfo, 302, 'http://u:secret@b.test/z#f')
  t.same(userinfo.followed, [{ status: 302, url: 'http://b.test/z' }], 'nor userinfo')
})

t.test('credentials: dropped when the origin changes (scheme, host or port), and for the rest of the chain', async (t) => {
  const secrets: Array<[string, string]> = [['authorization', 'a'], ['cookie', 'c'], ['proxy-authorization', 'p'], ['x-api-key', 'k'], ['host', 'a.test'], ['x-other', 'o']]
  const names = (h: HopRequest): string[] => h.headers.map(([n]) => n)
  t.same(names(follow(new RedirectChain(hop('http://a.test/', 'GET', secrets), CLIENT), 302, '/same')), ['authorization', 'cookie', 'proxy-authorization', 'x-api-key', 'host', 'x-other'], 'same origin: all kept')
  for (const other of ['http://b.test/', 'http://a.test:8080/', 'https://a.test/', 'http://sub.a.test/', 'http://xa.test/']) {
    t.same(names(follow(new RedirectChain(hop('http://a.test/', 'GET', secrets), CLIENT), 302, other)), ['x-other'], `to ${other}: dropped`)
  }
  const chain = new RedirectChain(hop('http://a.test/', 'GET', secrets), CLIENT)
  follow(chain, 302, 'http://b.test/1')
  t.same(names(follow(chain, 302, '/2')), ['x-other'], 'b/1 → b/2: still dropped')
  t.same(names(follow(chain, 302, 'http://a.test/back')), ['x-other'], 'back at a: still dropped')
})

t.test('refusals: scheme, downgrade, bad location, stream bodies, a Pool origin, too many, loops', async (t) => {
  const refuse = (chain: RedirectChain, status: number, location: string): string => {
    const d = chain.next(status, location)
    return d.kind === 'refuse' ? d.reason : 'follow'
  }
  t.equal(refuse(new RedirectChain(hop('http://a.test/'), CLIENT), 302, 'ftp://a.test/'), 'unsupported-scheme')
  t.equal(refuse(new RedirectChain(hop('http://a.test/'), CLIENT), 302, 'javascript:alert(1)'), 'unsupported-scheme')
  t.equal(refuse(new RedirectChain(hop('http://a.test/'), CLIENT), 302, 'http://[::1'), 'invalid-location')
  t.equal(refuse(new RedirectChain(hop('http://a.test/'), CLIENT), 302, 'http://[::1%25.a.test]/'), 'invalid-location', 'an IPv6 zone is no URL host')
  t.equal(refuse(new RedirectChain(hop('https://a.test/'), CLIENT), 302, 'http://a.test/'), 'downgrade')
  t.equal(refuse(new RedirectChain(hop('https://a.test/'), { ...CLIENT, allowDowngrade: true }), 302, 'http://a.test/'), 'follow')
  t.equal(refuse(new RedirectChain(hop('http://a.test/'), CLIENT), 302, 'https://a.test/'), 'follow', 'an upgrade is fine')
  t.equal(refuse(new RedirectChain(hop('http://a.test/', 'POST', [], 'once'), CLIENT), 307, '/x'), 'body-not-replayable')
  t.equal(refuse(new RedirectChain(hop('http://a.test/', 'POST', [], 'once'), CLIENT), 308, '/x'), 'body-not-replayable')
  t.equal(refuse(new RedirectChain(hop('http://a.test/', 'POST', [], 'once'), CLIENT), 303, '/x'), 'follow', '303: the body is dropped anyway')
  t.equal(refuse(new RedirectChain(hop('http://a.test/', 'POST', [], 'replayable'), CLIENT), 307, '/x'), 'follow')
  const pool = { ...CLIENT, onlyOrigin: 'http://a.test' }
  t.equal(refuse(new RedirectChain(hop('http://a.test/'), pool), 302, '/x'), 'follow')
  t.equal(refuse(new RedirectChain(hop('http://a.test/'), pool), 302, 'http://b.test/'), 'cross-origin')

  const limited = new RedirectChain(hop('http://a.test/0'), { ...CLIENT, maxRedirections: 2 })
  follow(limited, 302, '/1')
  follow(limited, 302, '/2')
  t.equal(refuse(limited, 302, '/3'), 'too-many')
  t.equal(refuse(new RedirectChain(hop('http://a.test/0'), { ...CLIENT, maxRedirections: 0 }), 302, '/1'), 'too-many', '0: no redirect is followed')

  t.equal(refuse(new RedirectChain(hop('http://a.test/loop'), CLIENT), 302, '/loop'), 'loop')
  const twice = new RedirectChain(hop('http://a.test/a'), CLIENT)
  follow(twice, 302, '/b')
  t.equal(refuse(twice, 302, '/a'), 'loop', 'a → b → a')
  const changed = new RedirectChain(hop('http://a.test/a', 'POST', [], 'replayable'), CLIENT)
  t.equal(refuse(changed, 302, '/a'), 'follow', 'POST /a → GET /a is another request')
  const credentials = new RedirectChain(hop('http://a.test/a', 'GET', [['authorization', 'x']]), CLIENT)
  follow(credentials, 302, 'http://b.test/b')
  t.equal(refuse(credentials, 302, 'http://a.test/a'), 'follow', 'a without its credentials is another request')
  t.equal(refuse(credentials, 302, 'http://b.test/b'), 'loop', 'and b again is a loop')
  const fetchLoop = new RedirectChain(hop('http://a.test/loop'), FETCH)
  for (let i = 0; i < 20; i++) follow(fetchLoop, 302, '/loop')
  t.equal(refuse(fetchLoop, 302, '/loop'), 'too-many', 'fetch counts to 20 instead')
})
