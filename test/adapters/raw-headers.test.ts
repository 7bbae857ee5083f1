import t from 'tap'
import * as undici from 'undici'
import { Agent } from '../../src/index.js'
import type { DispatchHandler, HeaderRecord } from '../../src/dispatch.js'
import { WirepoolDispatcher } from '../../src/adapters/undici.js'
import { rawHeadersToBuffers, recordToRawHeaders } from '../../src/adapters/raw-headers.js'
import { onRequestHeads, rawServer } from '../support/servers.js'

/** Buffers back to latin1 strings, so lists compare with t.same. */
function latin1(list: readonly Buffer[] | null): string[] | null {
  return list === null ? null : list.map((b) => b.toString('latin1'))
}

/** A response whose fields are in mixed case, repeated and carry obs-text (RFC 9110 §5.5). */
const HEAD_FIELDS = ['Content-Type', 'text/plain', 'X-Twice', 'one', 'x-twice', 'two', 'X-Latin', 'caf\u00e9 \u00ff', 'Content-Length', '2', 'X-Empty', '']
const RESPONSE = `HTTP/1.1 200 OK\r\n${HEAD_FIELDS.map((f, i) => (i % 2 === 0 ? `${f}: ` : `${f}\r\n`)).join('')}\r\nok`

async function fieldServer(t: { teardown(fn: () => unknown): void }): Promise<string> {
  const srv = await rawServer(t, (socket) => {
    onRequestHeads(socket, () => socket.write(Buffer.from(RESPONSE, 'latin1')))
  })
  return srv.origin
}

t.test('rawHeadersToBuffers: one Buffer per item, bytes as latin1, views of one allocation', async (t) => {
  const raw = ['Name', 'value', 'X-High', '\u00e9\u00ff\u0080', 'Empty', '']
  const out = rawHeadersToBuffers(raw)
  t.equal(out.length, raw.length)
  t.same(latin1(out), raw, 'every string comes back unchanged')
  t.same([...(out[3] as Buffer)], [0xe9, 0xff, 0x80], 'obs-text stays one byte per character')
  t.equal((out[5] as Buffer).length, 0, 'an empty value is an empty Buffer')
  t.equal((out[0] as Buffer).buffer, (out[3] as Buffer).buffer, 'all fields share one backing store')
  t.same(rawHeadersToBuffers([]), [])
})

t.test('recordToRawHeaders: arrays become repeated pairs, order kept', async (t) => {
  const record: HeaderRecord = { 'content-type': 'a/b', 'set-cookie': ['x=1', 'y=2'], 'x-e': '\u00e9' }
  t.same(latin1(recordToRawHeaders(record)), ['content-type', 'a/b', 'set-cookie', 'x=1', 'set-cookie', 'y=2', 'x-e', '\u00e9'])
  t.same(recordToRawHeaders({}), [])
})

t.test('an HTTP/1.1 connection hands the handler the wire list next to the record', async (t) => {
  const origin = await fieldServer(t)
  const agent = new Agent()
  t.teardown(() => agent.destroy())
  const seen = await new Promise<{ headers: HeaderRecord; raw: readonly string[] | undefined }>((resolve, reject) => {
    let head: { headers: HeaderRecord; raw: readonly string[] | undefined } | undefined
    const handler: DispatchHandler = {
      onHeaders(_status, headers, _resume, _text, raw) {
        head = { headers, raw }
      },
      onData() {},
      onComplete() {
        if (head === undefined) reject(new Error('no head'))
        else resolve(head)
      },
      onError: reject,
    }
    agent.dispatch({ origin, path: '/' }, handler)
  })
  t.same(seen.raw, HEAD_FIELDS, 'wire order and wire case, through the pool')
  t.same(seen.headers['x-twice'], ['one', 'two'], 'the record is still built')
})

t.test('legacy undici handler: raw header Buffers in wire case and order', async (t) => {
  const origin = await fieldServer(t)
  const dispatcher = new WirepoolDispatcher()
  t.teardown(() => dispatcher.destroy())
  const got = await new Promise<{ raw: Buffer[]; body: string }>((resolve, reject) => {
    let raw: Buffer[] = []
    let body = ''
    dispatcher.dispatch(
      { origin, path: '/', method: 'GET' },
      {
        onConnect() {},
        onHeaders(_status: number, rawHeaders: Buffer[]) {
          raw = rawHeaders
          return true
        },
        onData(chunk: Buffer) {
          body += chunk.toString('latin1')
          return true
        },
        onComplete() {
          resolve({ raw, body })
        },
        onError: reject,
      } as unknown as undici.Dispatcher.DispatchHandler,
    )
  })
  t.ok(got.raw.every((b) => Buffer.isBuffer(b)), 'Buffers, as llhttp gives undici')
  t.same(latin1(got.raw), HEAD_FIELDS)
  t.equal(got.body, 'ok')

  // undici's own parsers read them as they read llhttp's.
  const res = await undici.request(origin, { dispatcher })
  t.equal(res.headers['x-latin'], 'caf\u00e9 \u00ff')
  t.same(res.headers['x-twice'], ['one', 'two'])
  t.equal(res.headers['x-empty'], '')
  t.equal(await res.body.text(), 'ok')
  const fetched = await undici.fetch(origin, { dispatcher })
  t.equal(fetched.headers.get('x-twice'), 'one, two')
  t.equal(fetched.headers.get('x-latin'), 'caf\u00e9 \u00ff')
  t.equal(await fetched.text(), 'ok')
})

t.test('controller handler: rawHeaders built on first read, replaceable, trailers too', async (t) => {
  const origin = await fieldServer(t)
  const dispatcher = new WirepoolDispatcher()
  t.teardown(() => dispatcher.destroy())
  interface Controller {
    rawHeaders: Buffer[] | null
    rawTrailers: Buffer[] | null
  }
  const got = await new Promise<{ first: string[] | null; again: boolean; replaced: string[] | null; trailers: string[] | null; before: string[] | null }>(
    (resolve, reject) => {
      let first: string[] | null = null
      let again = false
      let replaced: string[] | null = null
      let before: string[] | null = []
      dispatcher.dispatch({ origin, path: '/', method: 'GET' }, {
        onRequestStart(controller: Controller) {
          before = latin1(controller.rawHeaders)
        },
        onResponseStart(controller: Controller) {
          const raw = controller.rawHeaders
          first = latin1(raw)
          again = controller.rawHeaders === raw
          controller.rawHeaders = [Buffer.from('x'), Buffer.from('y')]
          replaced = latin1(controller.rawHeaders)
        },
        onResponseData() {},
        onResponseEnd(controller: Controller) {
          resolve({ first, again, replaced, trailers: latin1(controller.rawTrailers), before })
        },
        onResponseError(_c: unknown, err: Error) {
          reject(err)
        },
      } as unknown as undici.Dispatcher.DispatchHandler)
    },
  )
  t.equal(got.before, null, 'no head yet: null, as undici')
  t.same(got.first, HEAD_FIELDS, 'the wire list, as the legacy API sees it')
  t.ok(got.again, 'built once: the same array on every read')
  t.same(got.replaced, ['x', 'y'], 'an assignment replaces it')
  t.same(got.trailers, [], 'no trailers: an empty list')
})
