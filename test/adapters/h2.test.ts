/**
 * The embedding adapters over HTTP/2: undici.request and undici.fetch through
 * WirepoolDispatcher, and wirepool's own fetch, against node:http2 servers over TLS (ALPN h2)
 * and cleartext (h2c, prior knowledge). `agent.stats()` shows the traffic went over h2 and
 * was multiplexed; the server shows what reached the wire (sessions, RST_STREAM codes).
 */
import t from 'tap'
import { once } from 'node:events'
import http2 from 'node:http2'
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import * as undici from 'undici'
import { Agent, WirepoolError } from '../../src/index.js'
import type { AgentOptions } from '../../src/options.js'
import { WirepoolDispatcher } from '../../src/adapters/undici.js'
import { createFetch } from '../../src/adapters/fetch.js'
import { makeCertificates } from '../support/certs.js'

const { errors } = undici
const { NGHTTP2_CANCEL } = http2.constants

type Teardown = { teardown(fn: () => unknown): void }
type StreamHandler = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => void

interface H2Server {
  origin: string
  /** Sessions (connections) the server accepted. */
  sessions: () => number
  /** Resolves with the RST_STREAM code of the next server stream that closes (0 = closed cleanly). */
  nextClose: () => Promise<number>
  /** Resolves with the :path of the next stream the server receives. */
  nextStream: () => Promise<string>
}

async function listen(t: Teardown, server: http2.Http2Server | http2.Http2SecureServer, scheme: string, onStream: StreamHandler): Promise<H2Server> {
  const live = new Set<http2.ServerHttp2Session>()
  let total = 0
  const closeWaiters: Array<(code: number) => void> = []
  const streamWaiters: Array<(path: string) => void> = []
  server.on('session', (session) => {
    total++
    live.add(session)
    session.on('close', () => live.delete(session))
    // A client that resets or goes away must not crash the test process.
    session.on('error', () => {})
  })
  server.on('stream', (stream, headers) => {
    stream.on('error', () => {})
    stream.on('close', () => closeWaiters.shift()?.(stream.rstCode))
    onStream(stream, headers)
    streamWaiters.shift()?.(String(headers[':path']))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const port = (server.address() as AddressInfo).port
  t.teardown(async () => {
    for (const session of live) session.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })
  return {
    origin: `${scheme}://127.0.0.1:${port}`,
    sessions: () => total,
    nextClose: () => new Promise<number>((resolve) => closeWaiters.push(resolve)),
    nextStream: () => new Promise<string>((resolve) => streamWaiters.push(resolve)),
  }
}

/** The two ways wirepool reaches h2: TLS with ALPN (the default) and h2c with prior knowledge. */
interface Flavour {
  name: string
  start(t: Teardown, onStream: StreamHandler): Promise<H2Server>
  options(): Promise<AgentOptions>
}

const FLAVOURS: Flavour[] = [
  {
    name: 'TLS (ALPN h2)',
    async start(t, onStream) {
      const certs = await makeCertificates()
      return listen(t, http2.createSecureServer({ key: certs.key, cert: certs.cert }), 'https', onStream)
    },
    async options() {
      return { tls: { ca: (await makeCertificates()).ca } }
    },
  },
  {
    name: 'h2c',
    start: (t, onStream) => listen(t, http2.createServer(), 'http', onStream),
    options: async () => ({ h2c: true }),
  },
]

async function readStream(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(chunk)
  return Buffer.concat(chunks)
}

/** Echo: method, path, a few request headers and the request body, as JSON. */
const echo: StreamHandler = (stream, headers) => {
  void readStream(stream).then((body) => {
    if (stream.destroyed) return
    stream.respond({ ':status': 200, 'content-type': 'application/json', 'x-proto': 'h2' })
    stream.end(
      JSON.stringify({
        method: headers[':method'],
        path: headers[':path'],
        length: headers['content-length'] ?? null,
        body: body.toString('utf8'),
      }),
    )
  })
}

interface Echo {
  method: string
  path: string
  length: string | null
  body: string
}

const BIG = 8 * 1024 * 1024

/**
 * Serves BIG bytes honouring backpressure and counts what the session took (write callbacks):
 * with a reader that stops, HTTP/2 flow control must stop the server well short of the end.
 */
function bigWriter(): { onStream: (stream: http2.ServerHttp2Stream) => void; written: () => number; stalled: () => Promise<number> } {
  let written = 0
  let session: http2.Http2Session | undefined
  const chunk = Buffer.alloc(16 * 1024, 0x7a)
  return {
    onStream(stream) {
      session = stream.session
      stream.respond({ ':status': 200, 'content-length': String(BIG) })
      let sent = 0
      const pump = (): void => {
        while (sent < BIG) {
          sent += chunk.length
          const last = sent >= BIG
          const more = stream.write(chunk, () => (written += chunk.length))
          if (last) stream.end()
          if (!more && !last) {
            stream.once('drain', pump)
            return
          }
        }
      }
      pump()
    },
    written: () => written,
    /**
     * Waits until the server can write no more: a PING round trip is ordered after every
     * WINDOW_UPDATE the client sent before it (RFC 9113 §6.7), so two round trips with no
     * progress in between mean the client granted nothing more. Bounded.
     */
    async stalled() {
      for (let i = 0; i < 200; i++) {
        const before = written
        for (let k = 0; k < 2; k++) {
          await new Promise<void>((resolve, reject) => session?.ping((err) => (err === null ? resolve() : reject(err))))
        }
        // Let write callbacks queued by the same round trip run.
        await new Promise((resolve) => setImmediate(resolve))
        if (written === before) return written
      }
      throw new Error('the server never stopped writing')
    },
  }
}

function newDispatcher(t: Teardown, options: AgentOptions): WirepoolDispatcher {
  const dispatcher = new WirepoolDispatcher(options)
  t.teardown(() => dispatcher.destroy())
  return dispatcher
}

async function* upload(chunks: number, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < chunks; i++) yield Buffer.alloc(size, 0x61 + (i % 26))
}

for (const flavour of FLAVOURS) {
  t.test(`${flavour.name}: undici.request through the dispatcher`, async (t) => {
    t.test('requests go over h2, bodies stream both ways', async (t) => {
      const srv = await flavour.start(t, (stream, headers) => {
        if (headers[':path'] === '/big') {
          stream.respond({ ':status': 200, 'content-length': String(1024 * 1024) })
          stream.end(Buffer.alloc(1024 * 1024, 0x7a))
          return
        }
        echo(stream, headers)
      })
      const dispatcher = newDispatcher(t, await flavour.options())
      const get = await undici.request(`${srv.origin}/get?q=1`, { dispatcher, headers: { 'x-a': '1' } })
      t.equal(get.statusCode, 200)
      t.equal(get.headers['x-proto'], 'h2')
      t.same(await get.body.json(), { method: 'GET', path: '/get?q=1', length: null, body: '' })

      const sent = await readStream(upload(64, 1024))
      const up = await undici.request(`${srv.origin}/up`, { dispatcher, method: 'POST', body: upload(64, 1024) as unknown as Readable })
      const echoed = (await up.body.json()) as Echo
      t.equal(echoed.length, null, 'an async iterable body streams without a content-length')
      t.equal(echoed.body, sent.toString('utf8'), 'every byte of the streamed body arrived')
      const upReadable = await undici.request(`${srv.origin}/up`, { dispatcher, method: 'PUT', body: Readable.from([Buffer.from('ab'), Buffer.from('cd')]) })
      t.equal(((await upReadable.body.json()) as Echo).body, 'abcd')
      const upString = await undici.request(`${srv.origin}/up`, { dispatcher, method: 'POST', body: 'héllo' })
      t.same(await upString.body.json(), { method: 'POST', path: '/up', length: '6', body: 'héllo' }, 'a known length is sent as content-length')

      const down = await undici.request(`${srv.origin}/big`, { dispatcher })
      let total = 0
      for await (const chunk of down.body) total += (chunk as Buffer).length
      t.equal(total, 1024 * 1024, 'a 1 MiB body arrives whole over h2 flow control')

      const stats = dispatcher.agent.stats().origins[srv.origin]
      t.equal(stats?.requests, 5, 'wirepool counted every request')
      t.equal(stats?.protocols.h2, 1, 'on one h2 connection')
      t.equal(stats?.protocols['http/1.1'], 0)
      t.equal(srv.sessions(), 1, 'the server saw one session')
    })

    t.test('backpressure: an unread body stops the server through flow control', async (t) => {
      const big = bigWriter()
      const srv = await flavour.start(t, big.onStream)
      const dispatcher = newDispatcher(t, await flavour.options())
      const res = await undici.request(`${srv.origin}/big`, { dispatcher, highWaterMark: 16 * 1024 })
      const stuck = await big.stalled()
      t.ok(stuck < BIG / 2, `the server could send only ${stuck} of ${BIG} bytes while nobody read`)
      let total = 0
      for await (const chunk of res.body) total += (chunk as Buffer).length
      t.equal(total, BIG, 'reading resumes the flow to the end')
    })

    t.test('50 concurrent requests are multiplexed on one session', async (t) => {
      let open = 0
      let maxOpen = 0
      const held: http2.ServerHttp2Stream[] = []
      let allArrived: (() => void) | undefined
      const arrived = new Promise<void>((resolve) => (allArrived = resolve))
      const srv = await flavour.start(t, (stream, headers) => {
        open++
        maxOpen = Math.max(maxOpen, open)
        stream.on('close', () => open--)
        held.push(stream)
        // Answer none until all 50 are open at once: that proves they share the session.
        if (held.length === 50) {
          allArrived?.()
          for (const s of held) {
            s.respond({ ':status': 200 })
            s.end(String(headers[':path']))
          }
        }
      })
      const dispatcher = newDispatcher(t, await flavour.options())
      const results = Promise.all(
        Array.from({ length: 50 }, async (_, i) => {
          const res = await undici.request(`${srv.origin}/n${i}`, { dispatcher })
          return res.body.text()
        }),
      )
      await arrived
      t.equal((await results).length, 50)
      t.equal(maxOpen, 50, 'the server had all 50 streams open at once')
      t.equal(srv.sessions(), 1, 'on a single session')
      const stats = dispatcher.agent.stats().origins[srv.origin]
      t.equal(stats?.requests, 50)
      t.equal(stats?.connectionsCreated, 1)
      t.equal(stats?.protocols.h2, 1)
    })

    t.test('trailers reach undici.request', async (t) => {
      const srv = await flavour.start(t, (stream) => {
        stream.respond({ ':status': 200 }, { waitForTrailers: true })
        stream.on('wantTrailers', () => stream.sendTrailers({ 'x-checksum': 'abc', 'x-count': '2' }))
        stream.write('part1,')
        stream.end('part2')
      })
      const dispatcher = newDispatcher(t, await flavour.options())
      const res = await undici.request(`${srv.origin}/`, { dispatcher })
      t.equal(await res.body.text(), 'part1,part2')
      t.same(res.trailers, { 'x-checksum': 'abc', 'x-count': '2' })
    })

    t.test('abort before the head and during the body resets the stream (CANCEL)', async (t) => {
      const srv = await flavour.start(t, (stream, headers) => {
        if (headers[':path'] === '/body') {
          stream.respond({ ':status': 200 })
          stream.write('partial')
        }
        if (headers[':path'] === '/body-less') {
          stream.respond({ ':status': 204 })
          stream.end()
        }
      })
      const dispatcher = newDispatcher(t, await flavour.options())

      const ac = new AbortController()
      const seen = srv.nextStream()
      const closed = srv.nextClose()
      const pending = undici.request(`${srv.origin}/head`, { dispatcher, signal: ac.signal })
      await seen
      ac.abort()
      const err = await pending.then(() => null, (e: unknown) => e as Error)
      t.equal(err?.name, 'AbortError', 'the signal’s reason comes back as given')
      t.equal(await closed, NGHTTP2_CANCEL, 'the server saw RST_STREAM CANCEL')

      const ac2 = new AbortController()
      const closed2 = srv.nextClose()
      const res = await undici.request(`${srv.origin}/body`, { dispatcher, signal: ac2.signal })
      const [first] = (await once(res.body, 'data')) as [Buffer]
      t.equal(String(first), 'partial')
      ac2.abort()
      const bodyErr = await res.body.text().then(() => null, (e: unknown) => e as Error)
      t.equal(bodyErr?.name, 'AbortError')
      t.equal(await closed2, NGHTTP2_CANCEL, 'the server saw RST_STREAM CANCEL mid-body')

      // The session survives the resets: the next request reuses it.
      const after = await undici.request(`${srv.origin}/body-less`, { dispatcher })
      await after.body.dump()
      t.equal(srv.sessions(), 1, 'a stream reset does not cost the connection')
      t.equal(dispatcher.agent.stats().origins[srv.origin]?.requests, 3)
    })

    t.test('errors: a reset stream and timeouts map to undici’s classes', async (t) => {
      const srv = await flavour.start(t, (stream, headers) => {
        const path = headers[':path']
        if (path === '/reset') stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR)
        if (path === '/slow-body') {
          stream.respond({ ':status': 200 })
          stream.write('x')
        }
      })
      const dispatcher = newDispatcher(t, { ...(await flavour.options()), retry: false })
      const reset = await undici.request(`${srv.origin}/reset`, { dispatcher }).catch((e: unknown) => e as Error)
      t.ok(reset instanceof errors.SocketError, 'a reset stream is a SocketError to undici')
      t.equal(((reset as Error).cause as WirepoolError).code, 'WP_H2_STREAM_RESET', 'with the WirepoolError as cause')

      const headers = await undici.request(`${srv.origin}/hang`, { dispatcher, headersTimeout: 50 }).catch((e: unknown) => e as Error)
      t.ok(headers instanceof errors.HeadersTimeoutError, 'HeadersTimeoutError')
      const res = await undici.request(`${srv.origin}/slow-body`, { dispatcher, bodyTimeout: 50 })
      const body = await res.body.text().catch((e: unknown) => e as Error)
      t.ok(body instanceof errors.BodyTimeoutError, 'BodyTimeoutError')
      // (issue #18: a request that timed out makes its connection suspect until a PING answers,
      // so a request sent meanwhile may open a second session; the first one is kept)
      t.ok(srv.sessions() <= 2, 'stream-level failures keep the session')
    })
  })

  t.test(`${flavour.name}: a controller-style handler (undici v7 API) pauses and gets trailers`, async (t) => {
    const srv = await flavour.start(t, (stream) => {
      stream.respond({ ':status': 200 }, { waitForTrailers: true })
      stream.on('wantTrailers', () => stream.sendTrailers({ 'x-t': 'done' }))
      stream.write('one')
      setImmediate(() => stream.end('two'))
    })
    const dispatcher = newDispatcher(t, await flavour.options())
    const events: string[] = []
    const result = await new Promise<{ trailers: Record<string, unknown>; body: string }>((resolve, reject) => {
      let body = ''
      dispatcher.dispatch(
        { origin: srv.origin, path: '/', method: 'GET' },
        {
          onRequestStart(_controller, context) {
            events.push(`start:${(context as { connection?: { protocol?: unknown } }).connection?.protocol}`)
          },
          onResponseStart(controller, status) {
            events.push(`head:${status}`)
            controller.pause()
            setImmediate(() => {
              events.push('resume')
              controller.resume()
            })
          },
          onResponseData(_controller, chunk) {
            if (events.at(-1) !== 'data') events.push('data')
            body += chunk.toString()
          },
          onResponseEnd(_controller, trailers) {
            events.push('end')
            resolve({ trailers, body })
          },
          onResponseError(_controller, err) {
            reject(err)
          },
        },
      )
    })
    t.same(events, ['start:h2', 'head:200', 'resume', 'data', 'end'], 'nothing reaches a paused handler')
    t.equal(result.body, 'onetwo')
    t.same(result.trailers, { 'x-t': 'done' })
  })

  t.test(`${flavour.name}: undici.fetch through the dispatcher`, async (t) => {
    const srv = await flavour.start(t, (stream, headers) => {
      if (headers[':path'] === '/redirect') {
        stream.respond({ ':status': 302, location: '/json' })
        stream.end()
        return
      }
      if (headers[':path'] === '/trailers') {
        stream.respond({ ':status': 200 }, { waitForTrailers: true })
        stream.on('wantTrailers', () => stream.sendTrailers({ 'x-t': '1' }))
        stream.end('with trailers')
        return
      }
      if (headers[':path'] === '/hang') return
      echo(stream, headers)
    })
    const dispatcher = newDispatcher(t, await flavour.options())
    const redirected = await undici.fetch(`${srv.origin}/redirect`, { dispatcher })
    t.equal(redirected.status, 200)
    t.equal(redirected.redirected, true)
    t.equal(((await redirected.json()) as Echo).path, '/json')
    const posted = await undici.fetch(`${srv.origin}/post`, { dispatcher, method: 'POST', body: 'héllo' })
    t.same(await posted.json(), { method: 'POST', path: '/post', length: '6', body: 'héllo' })
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('ab'))
        controller.enqueue(new TextEncoder().encode('cd'))
        controller.close()
      },
    })
    const streamed = await undici.fetch(`${srv.origin}/post`, { dispatcher, method: 'POST', body: stream, duplex: 'half' })
    t.same(await streamed.json(), { method: 'POST', path: '/post', length: null, body: 'abcd' }, 'ReadableStream body streamed without a length')
    const trailers = await undici.fetch(`${srv.origin}/trailers`, { dispatcher })
    t.equal(await trailers.text(), 'with trailers', 'a response with trailers completes (fetch exposes no trailers)')

    const ac = new AbortController()
    const closed = srv.nextClose()
    const seen = srv.nextStream()
    const aborted = undici.fetch(`${srv.origin}/hang`, { dispatcher, signal: ac.signal }).then(() => null, (e: unknown) => e as Error)
    await seen
    ac.abort()
    t.equal((await aborted)?.name, 'AbortError')
    t.equal(await closed, NGHTTP2_CANCEL, 'the server saw RST_STREAM CANCEL')

    const stats = dispatcher.agent.stats().origins[srv.origin]
    t.equal(stats?.requests, 6)
    t.equal(stats?.protocols.h2, 1)
    t.equal(srv.sessions(), 1)
  })

  t.test(`${flavour.name}: wirepool fetch`, async (t) => {
    const srv = await flavour.start(t, (stream, headers) => {
      if (headers[':path'] === '/redirect') {
        stream.respond({ ':status': 307, location: '/after' })
        stream.end()
        return
      }
      if (headers[':path'] === '/reset') {
        stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR)
        return
      }
      if (headers[':path'] === '/body') {
        stream.respond({ ':status': 200 })
        stream.write('partial')
        return
      }
      if (headers[':path'] === '/trailers') {
        stream.respond({ ':status': 200 }, { waitForTrailers: true })
        stream.on('wantTrailers', () => stream.sendTrailers({ 'x-t': '1' }))
        stream.end('with trailers')
        return
      }
      echo(stream, headers)
    })
    const agent = new Agent({ ...(await flavour.options()), retry: false })
    t.teardown(() => agent.destroy())
    const fetch = createFetch(agent)

    const get = await fetch(`${srv.origin}/get`)
    t.equal(get.headers.get('x-proto'), 'h2')
    t.equal(((await get.json()) as Echo).path, '/get')
    const redirected = await fetch(`${srv.origin}/redirect`, { method: 'POST', body: 'again' })
    t.same(await redirected.json(), { method: 'POST', path: '/after', length: '5', body: 'again' }, '307 re-sends a buffered body')
    t.equal(redirected.redirected, true)
    let pulls = 0
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (pulls++ < 3) controller.enqueue(new TextEncoder().encode(`c${pulls}`))
        else controller.close()
      },
    })
    const streamed = await fetch(`${srv.origin}/st`, { method: 'POST', body, duplex: 'half' } as RequestInit)
    t.same(await streamed.json(), { method: 'POST', path: '/st', length: null, body: 'c1c2c3' })
    t.equal(await (await fetch(`${srv.origin}/trailers`)).text(), 'with trailers')

    const reset = await fetch(`${srv.origin}/reset`).catch((e: unknown) => e as Error)
    t.ok(reset instanceof TypeError, 'a reset stream rejects as fetch does: TypeError')
    t.equal(((reset as Error).cause as WirepoolError).code, 'WP_H2_STREAM_RESET')

    const ac = new AbortController()
    const closed = srv.nextClose()
    const res = await fetch(`${srv.origin}/body`, { signal: ac.signal })
    const reader = (res.body as ReadableStream<Uint8Array>).getReader()
    t.equal(new TextDecoder().decode((await reader.read()).value), 'partial')
    ac.abort()
    const readErr = await reader.read().then(() => null, (e: unknown) => e as Error)
    t.equal(readErr?.name, 'AbortError', 'the body errors with the signal’s reason')
    t.equal(await closed, NGHTTP2_CANCEL, 'the server saw RST_STREAM CANCEL')

    const stats = agent.stats().origins[srv.origin]
    t.equal(stats?.requests, 7, 'every hop counted, the redirect included')
    t.equal(stats?.streamsOpen, 0, 'no stream left open')
    t.equal(stats?.protocols.h2, 1)
    t.equal(srv.sessions(), 1)
  })
}

for (const flavour of FLAVOURS) {
  t.test(`${flavour.name}: wirepool fetch body backpressure`, async (t) => {
    const big = bigWriter()
    const srv = await flavour.start(t, big.onStream)
    const agent = new Agent(await flavour.options())
    t.teardown(() => agent.destroy())
    const res = await createFetch(agent)(`${srv.origin}/big`)
    const stuck = await big.stalled()
    t.ok(stuck < BIG / 2, `the server could send only ${stuck} of ${BIG} bytes while nobody read`)
    let total = 0
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) total += chunk.byteLength
    t.equal(total, BIG)
  })
}

t.test('undici.upgrade over h2: an RFC 8441 extended CONNECT tunnel', async (t) => {
  const server = http2.createServer({ settings: { enableConnectProtocol: true } })
  const srv = await listen(t, server, 'http', (stream, headers) => {
    if (headers[':path'] === '/throw') {
      stream.respond({ ':status': 200 })
      return
    }
    stream.respond({ ':status': 200, 'x-method': String(headers[':method']), 'x-protocol': String(headers[':protocol']) })
    stream.on('data', (chunk: Buffer) => stream.write(chunk))
  })
  const dispatcher = newDispatcher(t, { h2c: true })
  const { headers, socket } = await undici.upgrade(`${srv.origin}/chat`, { dispatcher, protocol: 'websocket' })
  t.teardown(() => socket.destroy())
  t.equal(headers['x-method'], 'CONNECT', 'sent as an extended CONNECT')
  t.equal(headers['x-protocol'], 'websocket')
  socket.write('ping')
  const [echoed] = (await once(socket, 'data')) as [Buffer]
  t.equal(String(echoed), 'ping', 'the tunnel carries bytes both ways')
  t.equal(dispatcher.agent.stats().origins[srv.origin]?.protocols.h2, 1)

  // A handler that throws from onUpgrade gets its error back; the tunnel is closed and
  // the session (which handed the socket over) carries on.
  const thrown = new Error('upgrade handler bug')
  const closed = srv.nextClose()
  const got = await new Promise<Error>((resolve) => {
    dispatcher.dispatch({ origin: srv.origin, path: '/throw', method: 'GET', upgrade: 'websocket' }, {
      onConnect() {},
      onHeaders: () => true,
      onData: () => true,
      onComplete() {},
      onUpgrade() {
        throw thrown
      },
      onError: resolve,
    })
  })
  t.equal(got, thrown)
  t.equal(await closed, NGHTTP2_CANCEL, 'the tunnel stream was reset')
  const after = await undici.request(`${srv.origin}/chat`, { dispatcher, method: 'POST', body: '' })
  t.equal(after.statusCode, 200)
  await after.body.destroy()
  t.equal(srv.sessions(), 1, 'still one session')
})

t.test('Node’s global fetch over h2 via the global dispatcher symbol', async (t) => {
  const flavour = FLAVOURS[0] as Flavour
  const srv = await flavour.start(t, echo)
  const symbol = Symbol.for('undici.globalDispatcher.1')
  t.equal(typeof globalThis.fetch, 'function')
  const store = globalThis as unknown as Record<symbol, unknown>
  const previous = store[symbol]
  const dispatcher = new WirepoolDispatcher(await flavour.options())
  store[symbol] = dispatcher
  t.teardown(async () => {
    store[symbol] = previous
    await dispatcher.destroy()
  })
  const res = await fetch(`${srv.origin}/native`, { method: 'PUT', body: 'x' })
  t.equal(res.headers.get('x-proto'), 'h2')
  t.same(await res.json(), { method: 'PUT', path: '/native', length: '1', body: 'x' })
  const stats = dispatcher.agent.stats().origins[srv.origin]
  t.equal(stats?.requests, 1)
  t.equal(stats?.protocols.h2, 1, 'Node’s own fetch, which cannot speak h2 by itself here, went over wirepool’s h2')
})
