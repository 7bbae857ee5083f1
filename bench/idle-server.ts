/**
 * The server of the memory and scale benchmarks, in a process of its own: four loopback
 * listeners that keep every connection open for as long as the client does (no idle,
 * header or request timeout on the server's side), and count them.
 *
 *   node --import tsx bench/idle-server.ts <key.pem> <cert.pem>
 *
 * - `plain`: node:http (HTTP/1.1; bare `net` sockets connect here too)
 * - `h2c`:   node:http2 cleartext (prior knowledge)
 * - `tlsH1`: node:https, ALPN http/1.1 (bare TLS sockets connect here too)
 * - `tlsH2`: node:http2 over TLS, ALPN h2 only
 *
 * Every listener answers `GET /hello` with `hello`; `GET /connections` on `plain` answers
 * the number of connections open on each listener, so a client can check it really holds
 * as many as it claims. Prints `{"plain":port,"h2c":port,"tlsH1":port,"tlsH2":port}` once
 * listening; exits on SIGTERM.
 */
import { readFileSync } from 'node:fs'
import http from 'node:http'
import http2 from 'node:http2'
import https from 'node:https'
import type net from 'node:net'

const [keyFile, certFile] = process.argv.slice(2)
if (keyFile === undefined || certFile === undefined) throw new Error('usage: idle-server.ts <key.pem> <cert.pem>')
const tlsMaterial = { key: readFileSync(keyFile), cert: readFileSync(certFile) }

/** Connections open per listener, by TCP connection (a TLS listener counts before its handshake). */
const open = { plain: 0, h2c: 0, tlsH1: 0, tlsH2: 0 }
type ListenerName = keyof typeof open

/** Above the default 511 so that a burst of thousands of connects is not dropped (capped by net.core.somaxconn). */
const BACKLOG = 65_535

const HELLO = Buffer.from('hello')

function h1Handler(req: http.IncomingMessage, res: http.ServerResponse): void {
  if (req.url === '/connections') {
    const body = JSON.stringify(open)
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) }).end(body)
    return
  }
  res.writeHead(req.url === '/hello' ? 200 : 404, { 'content-length': req.url === '/hello' ? '5' : '0' })
  res.end(req.url === '/hello' ? HELLO : undefined)
}

function h2Handler(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
  const found = headers[':path'] === '/hello'
  stream.respond({ ':status': found ? 200 : 404, 'content-length': found ? '5' : '0' })
  stream.end(found ? HELLO : undefined)
}

/** Node's HTTP/1.1 servers close idle or slow connections on their own; the benchmark must not see that. */
function neverTimeOut(server: http.Server | https.Server): void {
  server.keepAliveTimeout = 0
  server.headersTimeout = 0
  server.requestTimeout = 0
  server.maxRequestsPerSocket = 0
  server.setTimeout(0)
}

function count(name: ListenerName, server: net.Server): void {
  server.on('connection', (socket: net.Socket) => {
    open[name]++
    socket.once('close', () => open[name]--)
  })
}

const plain = http.createServer(h1Handler)
const tlsH1 = https.createServer(tlsMaterial, h1Handler)
neverTimeOut(plain)
neverTimeOut(tlsH1)
const h2c = http2.createServer()
const tlsH2 = http2.createSecureServer({ ...tlsMaterial, allowHTTP1: false })
for (const server of [h2c, tlsH2]) {
  server.setTimeout(0)
  server.on('stream', h2Handler)
}
const servers: Array<[ListenerName, net.Server]> = [
  ['plain', plain],
  ['h2c', h2c],
  ['tlsH1', tlsH1],
  ['tlsH2', tlsH2],
]
for (const [name, server] of servers) count(name, server)

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen({ port: 0, host: '127.0.0.1', backlog: BACKLOG }, () => {
      const address = server.address()
      if (address === null || typeof address === 'string') reject(new Error('unexpected server address'))
      else resolve(address.port)
    })
  })
}

const ports = await Promise.all(servers.map(([, server]) => listen(server)))
process.stdout.write(`${JSON.stringify(Object.fromEntries(servers.map(([name], i) => [name, ports[i]])))}\n`)

process.once('SIGTERM', () => {
  plain.closeAllConnections()
  tlsH1.closeAllConnections()
  // http2 servers have no closeAllConnections; exiting closes their sockets.
  process.exit(0)
})
