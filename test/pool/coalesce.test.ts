/**
 * HTTP/2 connection coalescing (Agent `coalesce`, RFC 9113 §9.1.1): another https origin
 * on the same address and port, covered by the connection's certificate, shares it; a 421
 * sends the request again on its own origin; off by default.
 */
import t from 'tap'
import { X509Certificate } from 'node:crypto'
import http2 from 'node:http2'
import { Agent } from '../../src/index.js'
import { certificateCovers } from '../../src/tls/connect.js'
import { makeCertificates } from '../support/certs.js'
import { listenLoopback } from '../support/servers.js'

interface Seen {
  session: number
  authority: string
}

/**
 * An h2 TLS server answering with the session number and :authority it saw; with
 * `misdirect`, a stream whose authority differs from its session's first one gets a 421.
 */
async function h2Server(t: Parameters<typeof listenLoopback>[0], misdirect = false) {
  const certs = await makeCertificates()
  const server = http2.createSecureServer({ key: certs.key, cert: certs.cert })
  const sessions = new Set<http2.ServerHttp2Session>()
  const numbers = new WeakMap<http2.ServerHttp2Session, { n: number; first: string | undefined }>()
  const seen: Seen[] = []
  server.on('session', (s) => {
    sessions.add(s)
    numbers.set(s, { n: sessions.size + seen.length, first: undefined })
    s.on('close', () => sessions.delete(s))
  })
  let sessionCount = 0
  server.on('session', () => sessionCount++)
  server.on('stream', (stream, headers) => {
    stream.on('error', () => {})
    const info = numbers.get(stream.session as http2.ServerHttp2Session) as { n: number; first: string | undefined }
    const authority = String(headers[':authority'])
    info.first ??= authority
    if (misdirect && authority !== info.first) {
      stream.respond({ ':status': 421 })
      stream.end('misdirected')
      return
    }
    seen.push({ session: info.n, authority })
    stream.respond({ ':status': 200 })
    stream.end(authority)
  })
  const port = await listenLoopback(t, server, () => sessions)
  return { port, seen, ca: certs.ca, sessions: () => sessionCount }
}

t.test('an origin with the same address, port and a covering certificate shares the h2 connection', async (t) => {
  const srv = await h2Server(t)
  const agent = new Agent({ coalesce: true, tls: { ca: srv.ca } })
  t.teardown(() => agent.destroy())
  const first = await agent.request({ url: `https://127.0.0.1:${srv.port}/a` })
  t.equal(await first.body.text(), `127.0.0.1:${srv.port}`)
  t.equal(first.protocol, 'h2')
  const second = await agent.request({ url: `https://localhost:${srv.port}/b` })
  t.equal(await second.body.text(), `localhost:${srv.port}`, 'the server saw the second origin as :authority')
  t.equal(second.connection.id, first.connection.id, 'carried on the first origin’s connection')
  t.equal(srv.sessions(), 1, 'one TLS connection for both origins')
  const stats = agent.stats()
  t.equal(stats.origins[`https://127.0.0.1:${srv.port}`]?.coalesced, 1)
  t.equal(stats.origins[`https://localhost:${srv.port}`]?.connectionsCreated, 0, 'localhost opened no connection')
  t.match(agent.metrics(), new RegExp(`wirepool_requests_coalesced_total\\{origin="https://127\\.0\\.0\\.1:${srv.port}"\\} 1`))
})

t.test('without coalesce (the default) every origin gets its own connection', async (t) => {
  const srv = await h2Server(t)
  const agent = new Agent({ tls: { ca: srv.ca } })
  t.teardown(() => agent.destroy())
  const first = await agent.request({ url: `https://127.0.0.1:${srv.port}/a` })
  await first.body.text()
  const second = await agent.request({ url: `https://localhost:${srv.port}/b` })
  await second.body.text()
  t.not(second.connection.id, first.connection.id)
  t.equal(srv.sessions(), 2)
})

t.test('another port is another server: no coalescing', async (t) => {
  const [one, two] = await Promise.all([h2Server(t), h2Server(t)])
  const agent = new Agent({ coalesce: true, tls: { ca: one.ca } })
  t.teardown(() => agent.destroy())
  await (await agent.request({ url: `https://127.0.0.1:${one.port}/` })).body.text()
  const res = await agent.request({ url: `https://localhost:${two.port}/` })
  t.equal(await res.body.text(), `localhost:${two.port}`)
  t.equal(two.sessions(), 1)
  t.equal(one.seen.length, 1, 'the first server saw only its own request')
})

t.test('a 421 sends the request again on the origin’s own connection, and that pair is not coalesced again', async (t) => {
  const srv = await h2Server(t, true)
  const agent = new Agent({ coalesce: true, tls: { ca: srv.ca } })
  t.teardown(() => agent.destroy())
  const first = await agent.request({ url: `https://127.0.0.1:${srv.port}/a` })
  await first.body.text()
  const post = await agent.request({ url: `https://localhost:${srv.port}/post`, method: 'POST', body: 'once' })
  t.equal(post.status, 200, 'the caller never sees the 421')
  t.equal(await post.body.text(), `localhost:${srv.port}`)
  t.not(post.connection.id, first.connection.id, 'answered on a connection of its own')
  t.equal(srv.sessions(), 2)
  t.same(
    srv.seen.map((s) => s.authority),
    [`127.0.0.1:${srv.port}`, `localhost:${srv.port}`],
    'each request was processed once (the 421 was not)',
  )
  const again = await agent.request({ url: `https://localhost:${srv.port}/again` })
  t.equal(again.status, 200)
  await again.body.text()
  t.equal(again.connection.id, post.connection.id, 'later requests use the origin’s own connection')
  t.equal(srv.sessions(), 2)
})

t.test('certificateCovers applies the RFC 6125 name rules of node:tls', async (t) => {
  const certs = await makeCertificates()
  const info = (pem: string) => {
    const x = new X509Certificate(pem)
    return { subject: '', issuer: '', validTo: new Date(x.validTo), spkiPin: undefined, commonName: undefined, subjectAltName: x.subjectAltName }
  }
  const local = info(certs.cert)
  t.ok(certificateCovers(local, 'localhost'))
  t.ok(certificateCovers(local, '127.0.0.1'))
  t.notOk(certificateCovers(local, 'example.com'))
  const wrong = info(certs.wrongHost.cert)
  t.ok(certificateCovers(wrong, 'wrong.example'))
  t.notOk(certificateCovers(wrong, 'localhost'))
  t.notOk(certificateCovers(wrong, '127.0.0.1'))
})
