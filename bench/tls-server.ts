/**
 * The server of the TLS benchmark, in a process of its own: one node:https listener per
 * case (ECDSA or RSA certificate, TLS 1.2 or 1.3 only), all with Node's default session
 * tickets, so resumption works for TLS 1.2 (RFC 5077 tickets) and TLS 1.3 (PSK tickets,
 * RFC 8446 §4.6.1).
 *
 *   node --import tsx bench/tls-server.ts <dir>
 *
 * `<dir>` holds `<keyType>-key.pem` and `<keyType>-cert.pem` for `ec` and `rsa`. Prints
 * `{"ec-TLSv1.2":port,…}` once listening; exits on SIGTERM.
 */
import { readFileSync } from 'node:fs'
import https from 'node:https'
import { join } from 'node:path'
import { CASES } from './tls-cases.js'

const [dir] = process.argv.slice(2)
if (dir === undefined) throw new Error('usage: tls-server.ts <dir>')
const certDir = dir

const servers = CASES.map((c) => {
  const server = https.createServer(
    {
      key: readFileSync(join(certDir, `${c.keyType}-key.pem`)),
      cert: readFileSync(join(certDir, `${c.keyType}-cert.pem`)),
      minVersion: c.version,
      maxVersion: c.version,
    },
    (req, res) => {
      res.writeHead(200, { 'content-length': '5' }).end('hello')
    },
  )
  // The clients hold their connections until they exit: no server-side idle timeout.
  server.keepAliveTimeout = 0
  server.headersTimeout = 0
  server.requestTimeout = 0
  return { name: c.name, server }
})

const ports = await Promise.all(
  servers.map(
    ({ server }) =>
      new Promise<number>((resolve, reject) => {
        server.once('error', reject)
        server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => {
          const address = server.address()
          if (address === null || typeof address === 'string') reject(new Error('unexpected server address'))
          else resolve(address.port)
        })
      }),
  ),
)
process.stdout.write(`${JSON.stringify(Object.fromEntries(servers.map(({ name }, i) => [name, ports[i]])))}\n`)

process.once('SIGTERM', () => {
  for (const { server } of servers) server.closeAllConnections()
  process.exit(0)
})
