/**
 * The interop harness itself: which() and the nginx launcher the nginx suites and the
 * HTTP/1.1 benchmark stand on. Peers are node:http/https/tls clients, not wirepool, so a
 * failure here points at the harness and not at the engine.
 */
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import net from 'node:net'
import tls from 'node:tls'
import t from 'tap'
import { fileBytes, HELLO_BODY, startNginx } from '../support/nginx.js'
import { requireBinary, which } from '../support/which.js'

interface Fetched {
  status: number
  headers: http.IncomingHttpHeaders
  body: Buffer
}

function collect(req: http.ClientRequest): Promise<Fetched> {
  return new Promise((resolve, reject) => {
    req.on('response', (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }))
      res.on('error', reject)
    })
    req.on('error', reject)
  })
}

const get = (port: number, path: string): Promise<Fetched> => collect(http.get({ host: '127.0.0.1', port, path, agent: false }))

/** The protocol nginx selects by ALPN when the client offers `offered`. */
async function alpn(port: number, ca: string, offered: string[]): Promise<string | false | null> {
  const socket = tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost', ALPNProtocols: offered })
  await once(socket, 'secureConnect')
  const selected = socket.alpnProtocol
  socket.destroy()
  return selected
}

t.test('which', async (t) => {
  const sh = which('sh')
  t.type(sh, 'string', 'finds a binary every system has')
  t.match(sh ?? '', /\/sh$/, 'as an absolute path to it')
  t.equal(which('wirepool-no-such-binary'), null, 'null for a missing binary')
})

t.test('requireBinary records a visible skip for a missing binary', async (t) => {
  t.equal(requireBinary(t, 'wirepool-no-such-binary'), null)
})

const nginx = requireBinary(t, 'nginx')
if (nginx !== null) {
  t.test('serves /hello and files on cleartext, h1 and h2 on TLS', async (t) => {
    const server = await startNginx({ tls: true, http2: true, files: { '/data/f.bin': 100_003 } })
    t.teardown(() => server.stop())
    t.not(server.port, server.tlsPort, 'two distinct ports')

    const hello = await get(server.port, '/hello')
    t.equal(hello.status, 200)
    t.equal(hello.body.toString(), HELLO_BODY)
    t.equal(hello.headers['content-length'], String(HELLO_BODY.length), 'content-length framing')

    const file = await get(server.port, '/data/f.bin')
    t.equal(file.status, 200)
    t.ok(file.body.equals(fileBytes(100_003)), 'file content is fileBytes(size)')

    t.equal((await get(server.port, '/missing')).status, 404, 'unknown paths are 404')

    if (server.tlsPort === null || server.ca === null) throw new Error('tls requested but no TLS port or CA')
    const secure = await collect(https.get({ host: '127.0.0.1', port: server.tlsPort, path: '/hello', ca: server.ca, servername: 'localhost', agent: false }))
    t.equal(secure.status, 200, 'the certificate verifies against the returned CA')
    t.equal(secure.body.toString(), HELLO_BODY)
    t.equal(await alpn(server.tlsPort, server.ca, ['h2', 'http/1.1']), 'h2', 'h2 selected when offered')
    t.equal(await alpn(server.tlsPort, server.ca, ['http/1.1']), 'http/1.1', 'http/1.1 when only it is offered')
  })

  t.test('without http2 the TLS port speaks only http/1.1', async (t) => {
    const server = await startNginx({ tls: true })
    t.teardown(() => server.stop())
    if (server.tlsPort === null || server.ca === null) throw new Error('tls requested but no TLS port or CA')
    t.equal(await alpn(server.tlsPort, server.ca, ['h2', 'http/1.1']), 'http/1.1')
  })

  t.test('without tls there is no TLS port', async (t) => {
    const server = await startNginx()
    t.teardown(() => server.stop())
    t.equal(server.tlsPort, null)
    t.equal(server.ca, null)
  })

  t.test('serverConfig adds locations', async (t) => {
    const server = await startNginx({ serverConfig: '    location = /teapot { return 418 "short and stout"; }\n' })
    t.teardown(() => server.stop())
    const res = await get(server.port, '/teapot')
    t.equal(res.status, 418)
    t.equal(res.body.toString(), 'short and stout')
  })

  t.test('stop() ends nginx, frees the port and removes the temp dir; twice is harmless', async (t) => {
    const server = await startNginx({ files: { '/f': 10 } })
    t.ok(existsSync(server.dir), 'temp dir exists while running')
    await server.stop()
    await server.stop()
    t.notOk(existsSync(server.dir), 'temp dir removed')
    t.throws(() => process.kill(-server.pid, 0), { code: 'ESRCH' }, 'master and worker are gone')
    const socket = net.connect(server.port, '127.0.0.1')
    const [err] = (await once(socket, 'error')) as [NodeJS.ErrnoException]
    t.equal(err.code, 'ECONNREFUSED', 'nothing listens on the port any more')
  })

  t.test('a config nginx rejects fails start with its own message', async (t) => {
    await t.rejects(startNginx({ serverConfig: 'no_such_directive on;' }), /nginx did not start .*unknown directive "no_such_directive"/)
  })

  t.test('bad options are refused before nginx runs', async (t) => {
    await t.rejects(startNginx({ files: { 'relative/path': 1 } }), /plain absolute path/)
    await t.rejects(startNginx({ files: { '/x; root /': 1 } }), /plain absolute path/)
    await t.rejects(startNginx({ files: { '/x': -1 } }), /byte count/)
    await t.rejects(startNginx({ http2: true }), /http2 needs tls/)
  })

  t.test('errorLog() returns what nginx logged', async (t) => {
    const server = await startNginx()
    t.teardown(() => server.stop())
    // A missing file is logged at level "error" (above our "warn") before the 404 is sent.
    t.equal((await get(server.port, '/no-such-file')).status, 404)
    t.match(await server.errorLog(), /open\(\) ".*\/no-such-file" failed \(2: No such file or directory\)/)
  })
}
