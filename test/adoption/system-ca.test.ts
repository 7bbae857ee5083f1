/**
 * `tls: { ca: 'system' }` (issue #13): a CA added to a system-style bundle named by
 * SSL_CERT_FILE is trusted, in a child process, on Node 20 (our reader) and on Node 24
 * (tls.getCACertificates('system')) when a Node 24 binary is at hand; the same server is
 * refused when the bundle does not hold the CA. Also the Unix reader's rules in process.
 */
import t from 'tap'
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import tls from 'node:tls'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { readUnixStore, systemAndBundledCertificates } from '../../src/tls/system-ca.js'
import { makeCertificates } from '../support/certs.js'
import { httpsServer } from '../support/servers.js'

const execFileAsync = promisify(execFile)
const CHILD = join(dirname(fileURLToPath(import.meta.url)), 'system-ca-child.ts')
const node24 = process.env['NODE24'] ?? '/work/node24/node_modules/.bin/node'
const DEBIAN_BUNDLE = '/etc/ssl/certs/ca-certificates.crt'

t.setTimeout(120_000)

t.test("a CA in the system bundle is trusted with ca: 'system'", async (t) => {
  const certs = await makeCertificates()
  const srv = await httpsServer(t, { key: certs.key, cert: certs.cert }, (_req, res) => res.end('trusted'))
  const dir = await mkdtemp(join(tmpdir(), 'wirepool-system-ca-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  // A system-style bundle: the distribution's, when there is one, with our CA appended.
  const base = existsSync(DEBIAN_BUNDLE) ? await readFile(DEBIAN_BUNDLE, 'utf8') : ''
  const withCa = join(dir, 'with-ca.pem')
  const withoutCa = join(dir, 'without-ca.pem')
  await writeFile(withCa, `${base}\n${certs.ca}\n`)
  await writeFile(withoutCa, base === '' ? tls.rootCertificates.join('\n') : base)

  const binaries: [string, string][] = [[`node ${process.version}`, process.execPath]]
  if (existsSync(node24)) binaries.push(['node 24', node24])
  else t.comment(`no Node 24 binary at ${node24} (set NODE24)`)
  for (const [label, bin] of binaries) {
    const run = async (bundle: string): Promise<string> => {
      // No NODE_OPTIONS (tap's hooks) and no NODE_EXTRA_CA_CERTS: only the bundle decides.
      const { stdout } = await execFileAsync('/bin/sh', ['-c', 'unset NODE_OPTIONS NODE_EXTRA_CA_CERTS SSL_CERT_DIR; exec "$0" "$@"', bin, '--import', 'tsx', CHILD, `${srv.origin}/`], {
        env: { ...process.env, SSL_CERT_FILE: bundle },
      })
      return stdout.trim()
    }
    t.equal(await run(withCa), '200 trusted', `${label}: SSL_CERT_FILE bundle with the CA → verified`)
    t.equal(await run(withoutCa), 'WP_TLS_VERIFY', `${label}: bundle without it → WP_TLS_VERIFY`)
  }
})

t.test("'system' adds to Node's bundled roots", async (t) => {
  const all = systemAndBundledCertificates()
  const roots = tls.rootCertificates
  t.ok(roots.every((pem) => all.includes(pem)), "every bundled root is kept")
  t.ok(all.length >= roots.length)
})

t.test('the Unix reader: SSL_CERT_FILE, SSL_CERT_DIR, then the distribution bundles in order', async (t) => {
  const certs = await makeCertificates()
  const dir = await mkdtemp(join(tmpdir(), 'wirepool-unix-store-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const one = join(dir, 'one.pem')
  await writeFile(one, `junk before\n${certs.ca}\njunk after\n`)
  await mkdir(join(dir, 'hashed'))
  await writeFile(join(dir, 'hashed', 'abcd1234.0'), certs.cert)
  await writeFile(join(dir, 'hashed', 'readme.txt'), certs.key)
  t.same(readUnixStore({ SSL_CERT_FILE: one }), [certs.ca.trim()], 'SSL_CERT_FILE: the certificates in it')
  t.same(readUnixStore({ SSL_CERT_DIR: join(dir, 'hashed') }), [certs.cert.trim()], 'SSL_CERT_DIR: hashed files, nothing else')
  t.same(readUnixStore({ SSL_CERT_FILE: one, SSL_CERT_DIR: join(dir, 'hashed') }).length, 2, 'both')
  t.same(readUnixStore({}, [join(dir, 'missing.pem'), one]), [certs.ca.trim()], 'the first bundle that exists')
  t.throws(() => readUnixStore({}, [join(dir, 'missing.pem')]), { code: 'WP_INVALID_ARG', message: /no CA bundle found.*SSL_CERT_FILE/ })
})
