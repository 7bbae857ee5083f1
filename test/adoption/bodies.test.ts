/**
 * Bodies users send (issue #13), checked by a real node:http server: FormData arrives as
 * multipart/form-data that an independent parser (the Fetch `Request.formData()` of Node's
 * bundled undici) reads back, with a crypto boundary; Blob, URLSearchParams, a web
 * ReadableStream and the `json` option arrive with the right content-type, and with a
 * content-length whenever the size is known.
 */
import t, { type Test } from 'tap'
import type { IncomingHttpHeaders } from 'node:http'
import { Agent, ErrorCode, WirepoolError, type RequestOptions } from '../../src/index.js'
import { httpServer } from '../support/servers.js'

interface Received {
  method: string
  headers: IncomingHttpHeaders
  body: Buffer
}

/** A node:http server that records each request, and an Agent pointed at it. */
async function setup(t: Test) {
  const received: Received[] = []
  const srv = await httpServer(t, (req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      received.push({ method: req.method ?? '', headers: req.headers, body: Buffer.concat(chunks) })
      res.end('ok')
    })
  })
  const agent = new Agent({ retry: false })
  t.teardown(() => agent.destroy())
  const send = async (options: Omit<RequestOptions, 'url'>): Promise<Received> => {
    const res = await agent.request({ url: `${srv.origin}/upload`, method: 'POST', ...options })
    t.equal(await res.body.text(), 'ok')
    return received[received.length - 1] as Received
  }
  return { send, agent, origin: srv.origin }
}

/** Parse multipart with the Fetch API's parser (undici's, independent of ours). */
function parseForm(got: Received): Promise<FormData> {
  return new Request('http://x/', { method: 'POST', headers: { 'content-type': String(got.headers['content-type']) }, body: got.body }).formData()
}

t.test('FormData: multipart/form-data with a crypto boundary, read back by a real parser', async (t) => {
  const { send } = await setup(t)
  const form = new FormData()
  form.append('name', 'Ada "Countess" Lovelace')
  form.append('lines', 'one\ntwo\r\nthree')
  form.append('upload', new Blob([new Uint8Array([0, 1, 2, 255])], { type: 'application/x-demo' }), 'notes "v2".bin')
  form.append('name', 'second value')

  // The boundary must come from node:crypto, never Math.random (CVE-2025-22150).
  const random = Math.random
  Math.random = () => {
    throw new Error('Math.random used')
  }
  let got: Received
  try {
    got = await send({ body: form })
  } finally {
    Math.random = random
  }
  const type = String(got.headers['content-type'])
  t.match(type, /^multipart\/form-data; boundary=----wirepool-[0-9a-f]{32}$/)
  t.equal(got.headers['content-length'], String(got.body.byteLength), 'content-length is the exact size')
  t.equal(got.headers['transfer-encoding'], undefined, 'not chunked')
  const parsed = await parseForm(got)
  t.same(parsed.getAll('name'), ['Ada "Countess" Lovelace', 'second value'])
  t.equal(parsed.get('lines'), 'one\r\ntwo\r\nthree', 'line breaks normalised to CRLF (HTML form encoding)')
  const file = parsed.get('upload') as File
  t.equal(file.type, 'application/x-demo')
  t.match(got.body.toString('latin1'), /filename="notes %22v2%22\.bin"\r\n/, 'the quote is escaped on the wire, as browsers do')
  t.equal(file.name, 'notes "v2".bin', 'and the parser reads the name back')
  t.same([...new Uint8Array(await file.arrayBuffer())], [0, 1, 2, 255])

  const again = await send({ body: form })
  t.not(String(again.headers['content-type']), type, 'a fresh boundary per request')
})

t.test('FormData whose value contains the boundary pattern cannot forge a part', async (t) => {
  const { send } = await setup(t)
  const form = new FormData()
  form.append('a', '--\r\ncontent-disposition: form-data; name="forged"\r\n\r\nx')
  const parsed = await parseForm(await send({ body: form }))
  t.same([...parsed.keys()], ['a'], 'one field, no forged part')
})

t.test('Blob: its bytes, its type, content-length', async (t) => {
  const { send } = await setup(t)
  const got = await send({ body: new Blob(['hello ', 'blob'], { type: 'text/plain' }) })
  t.equal(got.body.toString(), 'hello blob')
  t.equal(got.headers['content-type'], 'text/plain')
  t.equal(got.headers['content-length'], '10')
  const untyped = await send({ body: new Blob([new Uint8Array(3)]) })
  t.equal(untyped.headers['content-type'], undefined, 'no type, no content-type')
  t.equal(untyped.headers['content-length'], '3')
})

t.test('URLSearchParams: form-urlencoded, content-length', async (t) => {
  const { send } = await setup(t)
  const got = await send({ body: new URLSearchParams({ q: 'a b&c', n: '1' }) })
  t.equal(got.body.toString(), 'q=a+b%26c&n=1')
  t.equal(got.headers['content-type'], 'application/x-www-form-urlencoded;charset=UTF-8')
  t.equal(got.headers['content-length'], String(got.body.byteLength))
  const own = await send({ body: new URLSearchParams({ x: '1' }), headers: { 'content-type': 'application/x-custom' } })
  t.equal(own.headers['content-type'], 'application/x-custom', "the caller's content-type wins")
})

t.test('web ReadableStream: streamed (chunked), bytes intact', async (t) => {
  const { send } = await setup(t)
  const parts = ['stream', 'ed ', 'body']
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      const next = parts.shift()
      if (next === undefined) controller.close()
      else controller.enqueue(new TextEncoder().encode(next))
    },
  })
  const got = await send({ body: stream })
  t.equal(got.body.toString(), 'streamed body')
  t.equal(got.headers['transfer-encoding'], 'chunked', 'size unknown: chunked')
})

t.test('json: serialised, content-type application/json, content-length', async (t) => {
  const { send, agent, origin } = await setup(t)
  const got = await send({ json: { id: 1, tags: ['a', 'é'] } })
  t.same(JSON.parse(got.body.toString()), { id: 1, tags: ['a', 'é'] })
  t.equal(got.headers['content-type'], 'application/json')
  t.equal(got.headers['content-length'], String(got.body.byteLength))
  const both = await agent.request({ url: `${origin}/`, method: 'POST', json: 1, body: 'x' }).catch((e: unknown) => e)
  t.ok(both instanceof WirepoolError && both.code === ErrorCode.INVALID_ARG, 'body and json together are refused')
  const fn = await agent.request({ url: `${origin}/`, method: 'POST', json: () => 1 }).catch((e: unknown) => e)
  t.ok(fn instanceof WirepoolError && fn.code === ErrorCode.INVALID_ARG, 'a value JSON cannot represent is refused')
})
