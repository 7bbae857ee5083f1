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
