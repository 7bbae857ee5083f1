/**
 * `onProgress` (issue #13): upload progress as the body goes to the socket and download
 * progress as the response body arrives, with totals when known, against node:http.
 */
import t from 'tap'
import { Readable } from 'node:stream'
import { Agent, type Progress } from '../../src/index.js'
import { httpServer } from '../support/servers.js'

t.test('upload and download progress, with totals when known', async (t) => {
  const download = Buffer.alloc(300 * 1024, 7)
  const srv = await httpServer(t, (req, res) => {
    let received = 0
    req.on('data', (c: Buffer) => (received += c.length))
    req.on('end', () => {
      if (req.url === '/chunked') {
        res.write(download.subarray(0, 1000))
        res.end(download.subarray(1000, 5000))
      } else {
        res.setHeader('x-received', String(received))
        res.setHeader('content-length', download.length)
        res.end(download)
      }
    })
  })
  const agent = new Agent()
  t.teardown(() => agent.destroy())

  const events: Progress[] = []
  const upload = Buffer.alloc(200 * 1024, 1)
  const res = await agent.request({ url: `${srv.origin}/`, method: 'POST', body: upload, onProgress: (p) => events.push(p) })
  t.equal((await res.body.bytes()).byteLength, download.length)
  t.equal(res.headers['x-received'], String(upload.length), 'the server got the whole body')
  const up = events.filter((e) => e.direction === 'upload')
  const down = events.filter((e) => e.direction === 'download')
  t.ok(up.length >= 4, `upload reported in slices (${up.length} events)`)
  t.same(up.at(-1), { direction: 'upload', transferred: upload.length, total: upload.length })
  t.ok(up.every((e, i) => i === 0 || e.transferred > (up[i - 1] as Progress).transferred), 'upload only grows')
  t.ok(down.length >= 1)
  t.same(down.at(-1), { direction: 'download', transferred: download.length, total: download.length })
  t.ok(events.indexOf(up.at(-1) as Progress) < events.indexOf(down[0] as Progress), 'the upload finished before the download began')

  const streamed: Progress[] = []
  const res2 = await agent.request({
    url: `${srv.origin}/chunked`,
    method: 'POST',
    body: Readable.from([Buffer.from('abc'), Buffer.from('defg')]),
    onProgress: (p) => streamed.push(p),
  })
  await res2.body.bytes()
  t.same(streamed.filter((e) => e.direction === 'upload'), [
    { direction: 'upload', transferred: 3, total: undefined },
    { direction: 'upload', transferred: 7, total: undefined },
  ], 'a stream of unknown length: no total')
  t.same(streamed.filter((e) => e.direction === 'download').at(-1), { direction: 'download', transferred: 5000, total: undefined }, 'a chunked response: no total')
})

t.test('onProgress must be a function', async (t) => {
  const agent = new Agent()
  t.teardown(() => agent.destroy())
  await t.rejects(agent.request({ url: 'http://127.0.0.1:1/', onProgress: 5 as never }), { code: 'WP_INVALID_ARG', message: /onProgress must be a function/ })
})
