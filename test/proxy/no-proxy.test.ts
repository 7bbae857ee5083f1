/** NO_PROXY matching as curl reads it, and the environment's choice of proxy per origin. */
import t from 'tap'
import { NoProxy } from '../../src/proxy/no-proxy.js'
import { EnvProxies } from '../../src/proxy/env.js'
import { proxyRouteFor, type ResolvedProxy } from '../../src/proxy/route.js'

t.test('host names: suffix at a label boundary, leading dot ignored, case, trailing dot', async (t) => {
  const np = new NoProxy('example.com, .corp.test,Internal')
  t.ok(np.matches('example.com', 443))
  t.ok(np.matches('www.example.com', 443))
  t.ok(np.matches('WWW.Example.COM.', 80))
  t.notOk(np.matches('badexample.com', 443))
  t.notOk(np.matches('example.com.evil.net', 443))
  t.ok(np.matches('corp.test', 80), 'a leading dot also matches the domain itself (curl ≥ 7.86)')
  t.ok(np.matches('a.b.corp.test', 80))
  t.ok(np.matches('internal', 80))
  t.notOk(np.matches('notinternal', 80))
})

t.test('IP literals, CIDR ranges, ports, *', async (t) => {
  const np = new NoProxy('127.0.0.1 10.0.0.0/8 ::1 [fd00::]/8 192.168.1.5:8080 [::2]:443 host.test:99 bad/99 300.1.1.1/8')
  t.ok(np.matches('127.0.0.1', 1))
  t.notOk(np.matches('127.0.0.2', 1))
  t.ok(np.matches('10.200.3.4', 80))
  t.notOk(np.matches('11.0.0.1', 80))
  t.ok(np.matches('[::1]', 80))
  t.ok(np.matches('fd12::5', 80))
  t.notOk(np.matches('fe80::1', 80))
  t.ok(np.matches('192.168.1.5', 8080))
  t.notOk(np.matches('192.168.1.5', 80), 'a port entry matches only that port')
  t.ok(np.matches('::2', 443))
  t.notOk(np.matches('::2', 80))
  t.ok(np.matches('host.test', 99))
  t.notOk(np.matches('host.test', 100))
  t.notOk(np.matches('10.example', 80), 'a name is never matched against a range')
  t.ok(new NoProxy('*').matches('anything', 1))
  t.ok(new NoProxy(' a , * ').matches('zzz', 1))
  t.notOk(new NoProxy('').matches('a', 1))
  t.notOk(new NoProxy(undefined).matches('a', 1))
})

t.test('env: scheme per origin, lowercase first, ALL_PROXY fallback, NO_PROXY, httpoxy', async (t) => {
  const env = new EnvProxies({ http_proxy: 'http://low:1', HTTP_PROXY: 'http://up:2', HTTPS_PROXY: 'https://sec:3', NO_PROXY: '.internal,10.0.0.0/8' })
  t.equal(env.forOrigin(false, 'a.test', 80)?.display, 'http://low:1')
  t.equal(env.forOrigin(true, 'a.test', 443)?.display, 'https://sec:3')
  t.equal(env.forOrigin(true, 'x.internal', 443), undefined)
  t.equal(env.forOrigin(false, '10.1.1.1', 80), undefined)
  const all = new EnvProxies({ ALL_PROXY: 'socks5h://s:1080', https_proxy: '' })
  t.equal(all.forOrigin(true, 'a', 443)?.display, 'socks5h://s:1080', 'an empty variable counts as unset')
  t.equal(all.forOrigin(false, 'a', 80)?.display, 'socks5h://s:1080')
  const cgi = new EnvProxies({ HTTP_PROXY: 'http://attacker:1', REQUEST_METHOD: 'GET' })
  t.equal(cgi.forOrigin(false, 'a', 80), undefined, 'HTTP_PROXY is ignored under CGI (httpoxy)')
  t.equal(new EnvProxies({}).forOrigin(false, 'a', 80), undefined)
  t.throws(() => new EnvProxies({ HTTPS_PROXY: 'ftp://user:pw@x' }), /HTTPS_PROXY is not a usable proxy URL/)
  try {
    new EnvProxies({ HTTPS_PROXY: 'ftp://user:pw@x' })
  } catch (err) {
    t.notOk((err as Error).message.includes('pw@'), 'the value (and its password) is not printed')
  }
})

t.test('route: forward for plain http via an HTTP proxy, tunnel otherwise', async (t) => {
  const fixed = (url: string, tunnel = false): ResolvedProxy => ({
    setting: { kind: 'fixed', endpoint: { ...(new EnvProxies({ http_proxy: url }).http as NonNullable<EnvProxies['http']>), tunnel } },
    env: undefined,
  })
  const http = { secure: false, hostname: 'o', port: 80 }
  const https = { secure: true, hostname: 'o', port: 443 }
  t.equal(proxyRouteFor(fixed('http://p:1'), http, false)?.mode, 'forward')
  t.equal(proxyRouteFor(fixed('http://p:1'), https, false)?.mode, 'tunnel')
  t.equal(proxyRouteFor(fixed('http://p:1'), http, true)?.mode, 'tunnel', 'h2c cannot be forwarded')
  t.equal(proxyRouteFor(fixed('http://p:1', true), http, false)?.mode, 'tunnel')
  t.equal(proxyRouteFor(fixed('socks5://p:1'), http, false)?.mode, 'tunnel')
  t.equal(proxyRouteFor(fixed('http://u:secret@p:1'), https, false)?.key, 'via http://p:1 (tunnel)')
  t.equal(proxyRouteFor(undefined, https, false), undefined)
})
