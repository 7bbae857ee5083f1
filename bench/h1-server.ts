/**
 * The benchmark's fallback server when nginx is not installed: node:http in a process of
 * its own (bench/h1.ts pins it to core 0), serving the same paths and bodies as the nginx
 * configuration. Prints `{"port":N}` once listening; exits on SIGTERM.
 */
import http from 'node:http'
import { BODIES } from './h1-scenarios.js'

// Bodies built once, so the server measures its HTTP work, not buffer allocation.
const bodies = new Map<string, Buffer>(Object.entries(BODIES).map(([path, size]) => [path, Buffer.alloc(size, 'x')]))

const server = http.createServer((req, res) => {
  const body = bodies.get(req.url ?? '')
  if (body === undefined) {
    res.writeHead(404, { 'content-length': '0' }).end()
    return
  }
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(body.length) })
  res.end(body)
})
// Like the nginx config (keepalive_requests 1000000, keepalive_timeout 75s): never end
// a benchmark connection on the server's initiative.
server.keepAliveTimeout = 75_000
server.maxRequestsPerSocket = 0
server.headersTimeout = 0
server.requestTimeout = 0

server.listen(0, '127.0.0.1', () => {
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('unexpected server address')
  process.stdout.write(`${JSON.stringify({ port: address.port })}\n`)
})

process.once('SIGTERM', () => {
  server.closeAllConnections()
  server.close(() => process.exit(0))
})
