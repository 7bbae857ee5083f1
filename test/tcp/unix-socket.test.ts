/**
 * `socketPath`: HTTP/1.1 and h2c over a Unix domain socket, the way the Docker Engine API is
 * reached (`GET /v1.43/containers/json` on /var/run/docker.sock), against node:http and
 * node:http2 servers listening on a socket in a temp dir.
 */
import { once } from 'node:events'
import fs from 'node:fs'
import http from 'node:http'
import http2 from 'node:http2'
import os from 'node:os'
import path from 'node:path'
import type net from 'node:net'
import t, { type Test } from 'tap'
import { Agent, ErrorCode, Pool } from '../../src/index.js'
import { connectTcp } from '../../src/tcp/connect.js'

function socketFile(t: Test): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirepool-unix-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  return path.join(dir, 'docker.sock')
}

async function listenOn(t: Test, server: net.Server, file: string): Promise<void> {
  const open = new Set<{ destroy(): void }>()
  server.on('connection', (s: net.Socket) => {
    open.add(s)
    s.on('close', () => open.delete(s))
  })
  server.listen(file)
  await once(server, 'listening')
  t.teardown(async () => {
    for (const s of open) s.destroy()
    await new Promise((r) => server.close(r))
  })
}

t.test('HTTP/1.1 over a Unix socket: a Docker-API-shaped exchange, Host is the origin, connections reused', async (t) => {
  const file = socketFile(t)
  const seen: Array<{ url: string | undefined; host: string | undefined }> = []
  const server = http.createServer((req, res) => {
    seen.push({ url: req.url, host: req.headers.host })
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify([{ Id: 'abc123', Names: ['/web'], State: 'running' }]))
  })
  await listenOn(t, server, file)
  const pool = new Pool('http://docker', { socketPath: file })
  t.teardown(() => pool.destroy())
  for (let i = 0; i < 3; i++) {
    const res = await pool.request({ path: '/v1.43/containers/json?all=1' })
    t.equal(res.status, 200)
    t.same(await res.body.json(), [{ Id: 'abc123', Names: ['/web'], State: 'running' }])
  }
  t.same(seen[0], { url: '/v1.43/containers/json?all=1', host: 'docker' })
  const stats = pool.stats()
  t.equal(stats.connectionsCreated, 1, 'one connection served all three')
  t.equal(stats.reused, 2)
})

t.test('h2c (prior knowledge) over a Unix socket', async (t) => {
  const file = socketFile(t)
  const server = http2.createServer()
  server.on('stream', (stream, headers) => {
    stream.respond({ ':status': 200, 'x-authority': String(headers[':authority']) })
    stream.end('h2 over unix')
  })
  const sessions = new Set<http2.ServerHttp2Session>()
  server.on('session', (s) => sessions.add(s))
  t.teardown(() => {
    for (const s of sessions) s.destroy()
  })
  await listenOn(t, server, file)
  const agent = new Agent({ socketPath: file, h2c: true })
  t.teardown(() => agent.destroy())
  const res = await agent.request({ url: 'http://engine.local:2375/_ping' })
  t.equal(res.protocol, 'h2')
  t.equal(res.headers['x-authority'], 'engine.local:2375', ':authority is the origin')
  t.equal(await res.body.text(), 'h2 over unix')
})

t.test('a missing socket file → WP_CONNECT_REFUSED naming the path', async (t) => {
  const file = socketFile(t)
  const pool = new Pool('http://docker', { socketPath: file, retry: false })
  t.teardown(() => pool.destroy())
  await t.rejects(pool.request({ path: '/_ping' }), { code: ErrorCode.CONNECT_REFUSED, message: new RegExp(`unix socket ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: ENOENT`) })
})

t.test('socketPath with an https origin is refused clearly; bad values at construction', async (t) => {
  const pool = new Pool('https://docker', { socketPath: '/tmp/none.sock', retry: false })
  t.teardown(() => pool.destroy())
  await t.rejects(pool.request({ path: '/' }), { code: ErrorCode.INVALID_ARG, message: /http: origins only/ })
  t.throws(() => new Pool('http://docker', { socketPath: '' }), { code: ErrorCode.INVALID_ARG })
  t.throws(() => new Pool('http://docker', { socketPath: 42 as unknown as string }), { code: ErrorCode.INVALID_ARG })
})

t.test('connectTcp with socketPath connects an AF_UNIX socket', async (t) => {
  const file = socketFile(t)
  // A listener that exists: the connect succeeds at once and the socket is AF_UNIX.
  const server = http.createServer((_req, res) => res.end())
  await listenOn(t, server, file)
  const socket = await connectTcp({ host: 'docker', port: 80, connectTimeout: 1000, socketPath: file })
  t.teardown(() => socket.destroy())
  t.equal(socket.remoteAddress, undefined, 'no IP peer: a Unix socket')
})
