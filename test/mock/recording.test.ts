import t from 'tap'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { MockAgent } from '../../src/mock/index.js'
import { createTestServer } from '../../src/testing/index.js'

t.test('record real exchanges to JSON (credentials redacted), replay them without a network', async (t) => {
  const server = await createTestServer({ protocols: ['http/1.1', 'h2'], tls: true })
  t.teardown(() => server.close())
  server.route('GET', '/profile', { status: 200, headers: { 'set-cookie': 'session=secret', 'content-type': 'application/json' }, body: '{"name":"ada"}' })
  server.route('GET', '/archive', { headers: { 'content-encoding': 'gzip' }, body: gzipSync('zipped text') })
  server.route('POST', '/orders', async (req) => ({ status: 201, body: `order ${req.body.toString()}`, trailers: { 'x-order': '7' } }))

  const recorder = new MockAgent({ tls: { ca: server.ca as string } })
  t.teardown(() => recorder.destroy())
  recorder.startRecording()
  const profile = await recorder.request({ url: `${server.origin}/profile?v=1`, headers: { authorization: 'Bearer top-secret' } })
  t.equal(await profile.body.text(), '{"name":"ada"}')
  const archive = await recorder.request({ url: `${server.origin}/archive` })
  t.equal(await archive.body.text(), 'zipped text', 'decoded for the caller while recording')
  const order = await recorder.request({ url: `${server.origin}/orders`, method: 'POST', body: 'x1' })
  t.equal(await order.body.text(), 'order x1')
  t.same(await order.trailers, { 'x-order': '7' })

  const file = join(t.testdir(), 'recording.json')
  await recorder.saveRecording(file)
  const text = await readFile(file, 'utf8')
  t.notMatch(text, /top-secret/, 'authorization redacted')
  t.notMatch(text, /session=secret/, 'set-cookie redacted')
  t.match(text, /\[REDACTED\]/)
  const saved = JSON.parse(text) as { exchanges: Array<{ request: { url: string } }> }
  t.same(saved.exchanges.map((e) => new URL(e.request.url).pathname), ['/profile', '/archive', '/orders'])

  const replayer = new MockAgent()
  replayer.disableNetConnect()
  t.teardown(() => replayer.destroy())
  await replayer.loadRecording(file)
  const before = server.requests.length
  const p = await replayer.request({ url: `${server.origin}/profile?v=1` })
  t.same(await p.body.json(), { name: 'ada' })
  t.equal(p.headers['content-type'], 'application/json')
  t.equal(await (await replayer.request({ url: `${server.origin}/archive` })).body.text(), 'zipped text', 'replayed gzip is decoded')
  const o = await replayer.request({ url: `${server.origin}/orders`, method: 'POST', body: 'x1' })
  t.equal(await o.body.text(), 'order x1')
  t.same(await o.trailers, { 'x-order': '7' })
  t.equal(server.requests.length, before, 'nothing reached the server while replaying')
  replayer.assertNoPendingInterceptors()
})
