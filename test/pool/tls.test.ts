import t from 'tap'
import { Agent, type WirepoolError } from '../../src/index.js'
import { makeCertificates, spkiPin } from '../support/certs.js'
import { httpsServer } from '../support/servers.js'

t.test('TLS through the pool: custom CA, verification, resumption, SPKI pins', async (t) => {
  const certs = await makeCertificates()
  let requests = 0
  const srv = await httpsServer(t, { key: certs.key, cert: certs.cert }, (_req, res) => {
    requests++
    res.end('secure')
  })
  const goodPin = spkiPin(certs.cert)
  const otherPin = spkiPin(certs.selfSigned.cert)

  t.test('default verification rejects an unknown CA with the OpenSSL reason', async (t) => {
    const agent = new Agent()
    t.teardown(() => agent.destroy())
    const err = (await agent.request({ url: `${srv.origin}/` }).catch((e: unknown) => e)) as WirepoolError & { reason: string }
    t.equal(err.code, 'WP_TLS_VERIFY')
    t.match(err.reason, /UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED|UNABLE_TO_GET_ISSUER/)
  })

  t.test('a matching pin connects, and resumed connections are still checked', async (t) => {
    const agent = new Agent({ tls: { ca: certs.ca, pins: [otherPin, goodPin] }, maxRequestsPerConnection: 1 })
    t.teardown(() => agent.destroy())
    const resumed: Array<boolean | null> = []
    for (let i = 0; i < 4; i++) {
      const res = await agent.request({ url: `${srv.origin}/` })
      t.equal(await res.body.text(), 'secure')
      resumed.push(res.connection.tlsResumed)
    }
    t.same(resumed, [false, true, true, true])
    const stats = agent.stats().origins[srv.origin]
    t.equal(stats?.tlsHandshakes, 4)
    t.equal(stats?.tlsResumed, 3)
  })

  t.test('a pin mismatch fails with WP_TLS_PIN_MISMATCH before any request byte', async (t) => {
    const before = requests
    const agent = new Agent({ tls: { ca: certs.ca, pins: [otherPin] } })
    t.teardown(() => agent.destroy())
    const err = (await agent.request({ url: `${srv.origin}/` }).catch((e: unknown) => e)) as WirepoolError & { actual: string }
    t.equal(err.code, 'WP_TLS_PIN_MISMATCH')
    t.equal(err.actual, goodPin)
    t.equal(requests, before, 'the server never saw the request')
    // Pins hold even when chain verification is off.
    const lax = new Agent({ tls: { rejectUnauthorized: false, pins: [otherPin] } })
    t.teardown(() => lax.destroy())
    const err2 = (await lax.request({ url: `${srv.origin}/` }).catch((e: unknown) => e)) as WirepoolError
    t.equal(err2.code, 'WP_TLS_PIN_MISMATCH')
  })

  t.test('malformed pins are rejected at construction', async (t) => {
    t.throws(() => new Agent({ tls: { pins: ['md5/abc'] } }), { code: 'WP_INVALID_ARG' })
    t.throws(() => new Agent({ tls: { pins: [] } }), { code: 'WP_INVALID_ARG' })
  })
})

t.test('warm-up, connection records, certificate expiry and TLS rotation', async (t) => {
  const certs = await makeCertificates()
  const srv = await httpsServer(t, { key: certs.key, cert: certs.cert }, (_req, res) => res.end('ok'))

  t.test('pool.connect(n) / agent.preconnect open ready connections ahead of traffic', async (t) => {
    const agent = new Agent({ tls: { ca: certs.ca }, connections: 3 })
    t.teardown(() => agent.destroy())
    await agent.preconnect(srv.origin, 5)
    const pool = agent.pool(srv.origin)
    const records = pool.connections()
    t.equal(records.length, 3, 'never more than `connections`')
    for (const r of records) {
      t.equal(r.state, 'idle')
      t.equal(r.requests, 0)
      t.equal(r.protocol, 'http/1.1')
      t.ok(r.tcpMs > 0 && r.tlsMs > 0, 'handshake times recorded')
      t.ok(r.certificateDaysLeft !== null && r.certificateDaysLeft > 1, 'certificate days left known')
    }
    const res = await agent.request({ url: `${srv.origin}/` })
    await res.body.text()
    t.equal(pool.stats().connectionsCreated, 3, 'the request used a warm connection')
    const stats = pool.stats()
    t.ok(stats.tlsHandshakeMs.max > 0)
    t.ok(stats.certificateDaysLeft !== null)
    t.match(agent.metrics(), /wirepool_certificate_days_left\{origin="[^"]+"\} \d/)
    t.match(agent.metrics(), /wirepool_tls_handshake_seconds_count\{origin="[^"]+"\} 3/)
    await t.rejects(pool.connect(0), { code: 'WP_INVALID_ARG' })
  })

  t.test('certificate-expiring fires once per certificate under the threshold', async (t) => {
    const agent = new Agent({ tls: { ca: certs.ca }, certificateExpiryWarningDays: 1_000_000, maxRequestsPerConnection: 1 })
    t.teardown(() => agent.destroy())
    const events: Array<{ daysLeft: number; subject: string }> = []
    agent.on('certificate-expiring', (e) => events.push(e))
    for (let i = 0; i < 3; i++) await (await agent.request({ url: `${srv.origin}/` })).body.text()
    t.equal(events.length, 1)
    t.ok((events[0]?.daysLeft ?? 0) > 0)
    t.match(events[0]?.subject ?? '', /CN=/)
  })

  t.test('setTls rotates trust for new connections without dropping live ones', async (t) => {
    const agent = new Agent({ tls: { ca: certs.ca }, connections: 1 })
    t.teardown(() => agent.destroy())
    const first = await agent.request({ url: `${srv.origin}/` })
    await first.body.text()
    // Trust only another CA from now on: the live connection keeps working…
    agent.setTls({ ca: certs.selfSigned.cert })
    const reused = await agent.request({ url: `${srv.origin}/` })
    t.equal(await reused.body.text(), 'ok')
    t.equal(reused.connection.reused, true)
    // …and a new connection is verified against the new trust.
    const fresh = new Agent({ tls: { ca: certs.ca } })
    t.teardown(() => fresh.destroy())
    fresh.setTls({ ca: certs.selfSigned.cert })
    const err = (await fresh.request({ url: `${srv.origin}/` }).catch((e: unknown) => e)) as WirepoolError
    t.equal(err.code, 'WP_TLS_VERIFY')
    fresh.setTls({ ca: certs.ca })
    t.equal(await (await fresh.request({ url: `${srv.origin}/` })).body.text(), 'ok')
    t.throws(() => agent.setTls({ minVersion: 'TLSv1' as 'TLSv1.2' }), { code: 'WP_INVALID_ARG' })
  })
})
