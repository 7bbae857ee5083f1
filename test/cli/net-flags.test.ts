/**
 * `wirepool get --resolve HOST:PORT:ADDR` and `--unix-socket PATH`, as curl spells them,
 * and exit code 6 (curl's "could not resolve host") for WP_DNS.
 */
import fs from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { once } from 'node:events'
import t from 'tap'
import { runGet } from '../../src/cli/get.js'
import { parseResolve } from '../../src/cli/resolve.js'
import { exitCodeFor } from '../../src/cli/exit-codes.js'
import { DnsError } from '../../src/errors.js'
import { httpServer } from '../support/servers.js'
import { captureIo } from './run-cli.js'

t.test('--resolve sends the request to the given address, Host stays the URL name', async (t) => {
  const srv = await httpServer(t, (req, res) => res.end(`host=${req.headers.host}`))
  const { io, out } = captureIo()
  const code = await runGet(['--resolve', `api.example.invalid:${srv.port}:127.0.0.1`, `http://api.example.invalid:${srv.port}/x`], io)
  t.equal(code, 0)
  t.equal(out(), `host=api.example.invalid:${srv.port}`)
})

t.test('--resolve with several addresses (IPv6 bracketed) races them; other ports are not covered', async (t) => {
  const srv = await httpServer(t, (_req, res) => res.end('raced'))
  const { io, out } = captureIo()
  // ::1 refuses on this port (the server listens on 127.0.0.1 only): the race moves on at once.
  const code = await runGet(['--resolve', `svc.invalid:${srv.port}:[::1],127.0.0.1`, `http://svc.invalid:${srv.port}/`], io)
  t.equal(code, 0)
  t.equal(out(), 'raced')
  t.same(parseResolve('h:80:[::1],10.0.0.1'), { host: 'h', port: 80, addresses: ['::1', '10.0.0.1'] })
  t.throws(() => parseResolve('h:80:not-an-ip'), /not an IP address/)
  t.throws(() => parseResolve('h:99999:127.0.0.1'), /port/)
  t.throws(() => parseResolve('nocolon'), /HOST:PORT:ADDRESS/)
})

t.test('a bad --resolve is a usage error (exit 2)', async (t) => {
  const { io, err } = captureIo()
  t.equal(await runGet(['--resolve', 'x:80:nope', 'http://x/'], io), 2)
  t.match(err(), /--resolve 'x:80:nope'/)
})

t.test('--unix-socket: the request goes through the socket (Docker API shape)', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirepool-cli-unix-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  const file = path.join(dir, 'docker.sock')
  const server = http.createServer((req, res) => res.end(JSON.stringify({ url: req.url, host: req.headers.host })))
  server.listen(file)
  await once(server, 'listening')
  t.teardown(() => {
    server.closeAllConnections()
    server.close()
  })
  const { io, out } = captureIo()
  t.equal(await runGet(['--unix-socket', file, 'http://localhost/v1.43/containers/json'], io), 0)
  t.same(JSON.parse(out()), { url: '/v1.43/containers/json', host: 'localhost' })

  const https = captureIo()
  t.equal(await runGet(['--unix-socket', file, 'https://localhost/'], https.io), 2, 'https over a Unix socket is refused')
})

t.test('WP_DNS exits 6, as curl does for an unresolvable host', async (t) => {
  t.equal(exitCodeFor(new DnsError('nope.invalid', 'ENOTFOUND')), 6)
})
