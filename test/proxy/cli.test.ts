/** `wirepool get` with -x / --noproxy / -p and the environment, as curl reads them. */
import t from 'tap'
import { proxyForCli } from '../../src/proxy/env.js'
import { makeCertificates } from '../support/certs.js'
import { httpServer, httpsServer } from '../support/servers.js'
import { runCli } from '../cli/run-cli.js'
import { startConnectProxy } from './support.js'
import { writeFile, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

t.test('proxyForCli: -x wins, -x "" disables, --noproxy replaces NO_PROXY, env per scheme', async (t) => {
  const env = { https_proxy: 'http://envs:1', http_proxy: 'http://envh:2', NO_PROXY: 'skip.test' }
  t.equal(proxyForCli(new URL('https://a.test/'), undefined, undefined, env), 'http://envs:1')
  t.equal(proxyForCli(new URL('http://a.test/'), undefined, undefined, env), 'http://envh:2')
  t.equal(proxyForCli(new URL('https://skip.test/'), undefined, undefined, env), undefined)
  t.equal(proxyForCli(new URL('https://skip.test/'), undefined, 'other.test', env), 'http://envs:1', '--noproxy replaces NO_PROXY')
  t.equal(proxyForCli(new URL('https://a.test/'), 'socks5h://x:9', undefined, env), 'socks5h://x:9')
  t.equal(proxyForCli(new URL('https://a.test/'), '', undefined, env), undefined)
  t.equal(proxyForCli(new URL('https://a.test/'), 'socks5h://x:9', '*', env), undefined)
  t.throws(() => proxyForCli(new URL('https://a.test/'), 'ftp://x', undefined, env))
})

t.test('get -x through a CONNECT proxy: -v names the proxy, never the password', async (t) => {
  const certs = await makeCertificates()
  const dir = await mkdtemp(join(tmpdir(), 'wirepool-cli-proxy-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await writeFile(join(dir, 'ca.pem'), certs.ca)
  const origin = await httpsServer(t, { key: certs.key, cert: certs.cert }, (req, res) => res.end(`auth=${req.headers['proxy-authorization'] ?? 'none'}`))
  const proxy = await startConnectProxy(t, { credentials: 'cli:Sup3rSecret' })
  const run = await runCli(t, ['get', '-v', '--cacert', join(dir, 'ca.pem'), '-x', `http://cli:Sup3rSecret@127.0.0.1:${proxy.port}`, `https://localhost:${origin.port}/`])
  t.equal(run.code, 0, run.stderr)
  t.equal(run.stdout, 'auth=none')
  t.match(run.stderr, `via http://127.0.0.1:${proxy.port} (tunnel)`)
  t.notOk(run.stderr.includes('Sup3rSecret') || run.stderr.includes(Buffer.from('cli:Sup3rSecret').toString('base64')))
  const wrong = await runCli(t, ['get', '--cacert', join(dir, 'ca.pem'), '-x', `http://cli:nope@127.0.0.1:${proxy.port}`, `https://localhost:${origin.port}/`])
  t.not(wrong.code, 0)
  t.match(wrong.stderr, /WP_PROXY_AUTH/)
  t.notOk(wrong.stderr.includes('nope'))
})

t.test('get: --noproxy and -p', async (t) => {
  const origin = await httpServer(t, (req, res) => res.end(`target=${req.url}`))
  const proxy = await startConnectProxy(t)
  const direct = await runCli(t, ['get', '-x', proxy.url, '--noproxy', '127.0.0.1', `${origin.origin}/d`])
  t.equal(direct.stdout, 'target=/d')
  t.equal(proxy.tunnels(), 0)
  const tunnelled = await runCli(t, ['get', '-p', '-x', proxy.url, `${origin.origin}/t`])
  t.equal(tunnelled.stdout, 'target=/t', tunnelled.stderr)
  t.equal(proxy.tunnels(), 1)
  const bad = await runCli(t, ['get', '-x', 'ftp://nope', `${origin.origin}/`])
  t.equal(bad.code, 2)
})
