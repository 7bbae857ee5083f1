/**
 * The HTTP/2 benchmark's fallback server when nghttpd is not installed: node:http2 in a
 * process of its own (bench/h2.ts pins it to core 0), serving the bench bodies over h2c
 * (prior knowledge) on one port and over TLS (ALPN h2) on another.
 *
 *   node --import tsx bench/h2-server.ts <key.pem> <cert.pem>
 *
 * Prints `{"port":N,"tlsPort":M}` once both listen; exits on SIGTERM.
 */
import { readFileSync } from 'node:fs'
import http2 from 'node:http2'
import type { AddressInfo } from 'node:net'
import { BODIES } from './h1-scenarios.js'

const [keyFile, certFile] = process.argv.slice(2)
if (keyFile === undefined || certFile === undefined) throw new Error('usage: h2-server.ts <key.pem> <cert.pem>')

// Bodies built once, so the server measures its HTTP/2 work, not buffer allocation.
const bodies = new Map<string, Buffer>(Object.entries(BODIES).map(([path, size]) => [path, Buffer.alloc(size, 'x')]))

function respond(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
  const body = bodies.get(String(headers[':path']))
  if (body === undefined) {
    stream.respond({ ':status': 404, 'content-length': '0' }, { endStream: true })
    return
  }
  stream.respond({ ':status': 200, 'content-type': 'application/octet-stream', 'content-length': String(body.length) })
  stream.end(body)
}

// nghttpd's default, which the scenarios were written against (c=1 m=100).
const settings = { maxConcurrentStreams: 100 }
const cleartext = http2.createServer({ settings })
const secure = http2.createSecureServer({ key: readFileSync(keyFile), cert: readFileSync(certFile), settings })
for (const server of [cleartext, secure]) {
  server.on('stream', respond)
  // A client that goes away mid-stream must not crash the server.
  server.on('sessionError', () => {})
}

const listening = (server: http2.Http2Server | http2.Http2SecureServer): Promise<number> =>
  new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)))

const [port, tlsPort] = await Promise.all([listening(cleartext), listening(secure)])
process.stdout.write(`${JSON.stringify({ port, tlsPort })}\n`)

process.once('SIGTERM', () => process.exit(0))
