/**
 * The embedded bench server, run in a child process so it has its own event loop (and,
 * on a multi-core machine, its own core): node:http2 `createSecureServer` with
 * `allowHTTP1`, so ALPN picks h2 or http/1.1 as the client offers. A test peer and demo,
 * not part of the engine. Key and certificate come from the environment; the port and,
 * on `stats` on stdin, the request count go to stdout as JSON lines.
 */
import { createSecureServer } from 'node:http2'
import { createInterface } from 'node:readline'

const key = process.env.WIREPOOL_BENCH_KEY
const cert = process.env.WIREPOOL_BENCH_CERT
if (key === undefined || cert === undefined) {
  process.stderr.write('embedded-server: WIREPOOL_BENCH_KEY and WIREPOOL_BENCH_CERT must be set\n')
  process.exit(2)
}

const hello = Buffer.from('hello, wirepool\n')
const sizes: Readonly<Record<string, number>> = { '/16k': 16 * 1024, '/1mb': 1024 * 1024 }
const bodies = new Map<string, Buffer>(Object.entries(sizes).map(([path, n]) => [path, Buffer.alloc(n, 'wirepool ')]))
let requests = 0
let connections = 0

const server = createSecureServer({ key, cert, allowHTTP1: true }, (req, res) => {
  requests++
  // A request body (bench -d) is read and dropped, so a POST completes like a GET.
  req.resume()
  req.on('end', () => {
    const body = bodies.get(req.url ?? '/') ?? hello
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length })
    res.end(body)
  })
})
server.on('secureConnection', () => connections++)
server.listen(0, '127.0.0.1', () => {
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('embedded-server: no port')
  process.stdout.write(`${JSON.stringify({ port: address.port })}\n`)
})

// The parent asks for the figures over stdin, and closing stdin (the parent exited) stops us.
const input = createInterface({ input: process.stdin })
input.on('line', (line) => {
  if (line.trim() === 'stats') process.stdout.write(`${JSON.stringify({ requests, connections })}\n`)
})
input.on('close', () => {
  server.close()
  process.exit(0)
})
