/**
 * The embedded HTTPS server (h2 and http/1.1) `npm start` runs in a child process (so that it has its own
 * event loop, ideally its own core). Reads its certificate from the environment, listens on
 * a free loopback port and reports it on stdout as one JSON line.
 */
import { createSecureServer } from 'node:http2'

const key = process.env.WIREPOOL_DEMO_KEY
const cert = process.env.WIREPOOL_DEMO_CERT
if (key === undefined || cert === undefined) {
  console.error('demo-server: WIREPOOL_DEMO_KEY and WIREPOOL_DEMO_CERT must be set')
  process.exit(2)
}

const megabyte = Buffer.alloc(1024 * 1024, 'wirepool ')
let requests = 0
const sockets = new Set<unknown>()

// HTTP/2 and HTTP/1.1 on one port, chosen by ALPN (RFC 7301).
const server = createSecureServer({ key, cert, allowHTTP1: true }, (req, res) => {
  requests++
  if (req.url === '/1mb') {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': megabyte.length })
    res.end(megabyte)
    return
  }
  if (req.url === '/stats') {
    const body = JSON.stringify({ requests, connections: sockets.size })
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
    res.end(body)
    return
  }
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 5 })
  res.end('hello')
})
server.on('secureConnection', (socket) => {
  sockets.add(socket)
  socket.on('close', () => sockets.delete(socket))
})
server.listen(0, '127.0.0.1', () => {
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  process.stdout.write(JSON.stringify({ port: address.port }) + '\n')
})
process.on('SIGTERM', () => {
  for (const socket of sockets) (socket as { destroy(): void }).destroy()
  server.close(() => process.exit(0))
})
