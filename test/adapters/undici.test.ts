import t from 'tap'
import { once } from 'node:events'
import { Readable } from 'node:stream'
import { setTimeout as tick } from 'node:timers/promises'
import * as undici from 'undici'
import { Agent, WirepoolError } from '../../src/index.js'
import { WirepoolDispatcher } from '../../src/adapters/undici.js'
import { makeCertificates } from '../support/certs.js'
import { closedPort, httpServer, httpsServer, readAll } from '../support/servers.js'

const { errors } = undici

function newDispatcher(t: { teardown(fn: () => unknown): void }, options?: ConstructorParameters<typeof WirepoolDispatcher>[0]): WirepoolDispatcher {
  const dispatcher = new WirepoolDispatcher(options)
  t.teardown(() => dispatcher.destroy())
  return dispatcher
}

t.test('undici.request goes through the wirepool pool and reuses its connection', async (t) => {
  const srv = await httpServer(t, (req, res) => {
    res.setHeader('x-seen', `${req.method} ${req.url}`)
    res.setHeader('set-cookie', ['a=1', 'b=2'])
    res.end('hello')
  })
  const dispatcher = newDispatcher(t)
  for (let i = 0; i < 3; i++) {
    const res = await undici.request(`${srv.origin}/r${i}?q=${i}`, { dispatcher })
    t.equal(res.statusCode, 200)
    t.equal(res.headers['x-seen'], `GET /r${i}?q=${i}`)
    t.same(res.headers['set-cookie'], ['a=1', 'b=2'], 'repeated fields arrive as an array')
    t.equal(await res.body.text(), 'hello')
  }
  const stats = dispatcher.agent.stats().origins[srv.origin]
  t.equal(stats?.requests, 3, 'wirepool counted every request')
  t.equal(stats?.reused, 2)
  t.equal(stats?.connectionsCreated, 1)
  t.equal(srv.connections(), 1, 'the server saw one connection')
})

t.test('query option, header shapes and undici-only headers', async (t) => {
  const seen: Array<{ url: string; headers: Record<string, unknown> }> = []
  const srv = await httpServer(t, (req, res) => {
    seen.push({ url: req.url as string, headers: req.headers })
    res.end()
  })
  const dispatcher = newDispatcher(t)
  await (await undici.request(`${srv.origin}/q`, { dispatcher, query: { a: 'x y', b: [1, 2] } })).body.dump()
  await (await undici.request(`${srv.origin}/flat`, { dispatcher, headers: ['x-a', '1', 'connection', 'keep-alive'] })).body.dump()
  await (await undici.request(`${srv.origin}/multi`, { dispatcher, headers: { 'x-m': ['1', '2'], 'x-n': 3 as unknown as string } })).body.dump()
  t.equal(seen[0]?.url, '/q?a=x%20y&b=1&b=2')
  t.equal(seen[1]?.headers['x-a'], '1')
  t.equal(seen[1]?.headers.connection, undefined, 'connection management is wirepool’s: the caller’s header was dropped')
  t.equal(seen[2]?.headers['x-m'], '1, 2')
  t.equal(seen[2]?.headers['x-n'], '3')
  await t.rejects(undici.request(srv.origin, { dispatcher, headers: { connection: 'upgrade' } }), errors.InvalidArgumentError)
  await t.rejects(undici.request(`${srv.origin}/?x=1`, { dispatcher, query: { y: 1 } }), errors.InvalidArgumentError)
})

t.test('streaming request body up and a large response down with backpressure', async (t) => {
  const size = 4 * 1024 * 1024
  const srv = await httpServer(t, async (req, res) => {
    if (req.method === 'POST') {
      res.end(`${req.headers['transfer-encoding']}:${(await readAll(req)).length}`)
      return
    }
    res.setHeader('content-length', size)
    res.end(Buffer.alloc(size, 0x61))
  })
  const dispatcher = newDispatcher(t)
  async function* upload(): AsyncGenerator<Buffer> {
    for (let i = 0; i < 64; i++) yield Buffer.alloc(1024, 0x62)
  }
  const up = await undici.request(`${srv.origin}/up`, { dispatcher, method: 'POST', body: upload() as unknown as Readable })
  t.equal(await up.body.text(), 'chunked:65536', 'async iterable streamed chunked')
  const upReadable = await undici.request(`${srv.origin}/up`, { dispatcher, method: 'POST', body: Readable.from([Buffer.from('ab'), Buffer.from('cd')]) })
  t.equal(await upReadable.body.text(), 'chunked:4', 'Readable streamed chunked')

  const down = await undici.request(`${srv.origin}/down`, { dispatcher, highWaterMark: 16 * 1024 })
  // Nobody reads for a while: the body must stop well short of the whole response.
  await tick(50)
  t.ok(down.body.readableLength < size / 2, `body buffered ${down.body.readableLength} of ${size} bytes while unread`)
  let total = 0
  for await (const chunk of down.body) total += (chunk as Buffer).length
  t.equal(total, size)
})

t.test('trailers reach undici.request', async (t) => {
  const srv = await httpServer(t, (_req, res) => {
    res.writeHead(200, { trailer: 'x-checksum' })
    res.write('body')
    res.addTrailers({ 'x-checksum': 'abc' })
    res.end()
  })
  const dispatcher = newDispatcher(t)
  const res = await undici.request(`${srv.origin}/`, { dispatcher })
  t.equal(await res.body.text(), 'body')
  t.same(res.trailers, { 'x-checksum': 'abc' })
})

t.test('abort through an AbortSignal, before the head and during the body', async (t) => {
  let onRequest: (() => void) | undefined
  const srv = await httpServer(t, (req, res) => {
    onRequest?.()
    if (req.url === '/body') {
      res.writeHead(200)
      res.write('partial')
    }
  })
  const dispatcher = newDispatcher(t)
  const ac = new AbortController()
  const arrived = new Promise<void>((resolve) => (onRequest = resolve))
  const pending = undici.request(`${srv.origin}/head`, { dispatcher, signal: ac.signal })
  await arrived
  ac.abort()
  const err = await pending.then(() => null, (e: unknown) => e as Error)
  t.equal(err?.name, 'AbortError', 'the signal’s reason comes back as it was given')

  const ac2 = new AbortController()
  const res = await undici.request(`${srv.origin}/body`, { dispatcher, signal: ac2.signal })
  const first = await once(res.body, 'data')
  t.equal(String(first[0]), 'partial')
  ac2.abort()
  const bodyErr = await res.body.text().then(() => null, (e: unknown) => e as Error)
  t.equal(bodyErr?.name, 'AbortError')
  t.equal(dispatcher.agent.stats().origins[srv.origin]?.requests, 2)
})

t.test('errors map to the undici classes and keep the WirepoolError as cause', async (t) => {
  const srv = await httpServer(t, (req, res) => {
    if (req.url === '/close') req.socket.destroy()
    if (req.url === '/slow-body') {
      res.writeHead(200)
      res.write('x')
    }
  })
  const dispatcher = newDispatcher(t, { retry: false })

  const headers = (await undici.request(`${srv.origin}/hang`, { dispatcher, headersTimeout: 50 }).catch((e: unknown) => e)) as Error
  t.ok(headers instanceof errors.HeadersTimeoutError, 'HeadersTimeoutError')
  t.equal((headers.cause as WirepoolError).code, 'WP_HEADERS_TIMEOUT')

  const res = await undici.request(`${srv.origin}/slow-body`, { dispatcher, bodyTimeout: 50 })
  const body = await res.body.text().catch((e: unknown) => e as Error)
  t.ok(body instanceof errors.BodyTimeoutError, 'BodyTimeoutError')
  t.equal(((body as Error).cause as WirepoolError).code, 'WP_BODY_TIMEOUT')

  const closed = await undici.request(`${srv.origin}/close`, { dispatcher }).catch((e: unknown) => e as Error)
  t.ok(closed instanceof errors.SocketError, 'SocketError')
  t.equal((closed as Error & { code: string }).code, 'UND_ERR_SOCKET')
  t.ok((closed as Error).cause instanceof WirepoolError)

  const port = await closedPort()
  const refused = await undici.request(`http://127.0.0.1:${port}/`, { dispatcher }).catch((e: unknown) => e as Error)
  t.equal((refused as Error & { code: string }).code, 'ECONNREFUSED', 'system error code as undici reports it')
  t.equal(((refused as Error).cause as WirepoolError).code, 'WP_CONNECT_REFUSED')

  const badBody = await undici.request(`${srv.origin}/`, { dispatcher, method: 'POST', body: 42 as unknown as string }).catch((e: unknown) => e as Error)
  t.ok(badBody instanceof errors.InvalidArgumentError)
})

t.test('undici.fetch with the dispatcher: bodies both ways, redirect handled by fetch', async (t) => {
  const srv = await httpServer(t, async (req, res) => {
    if (req.url === '/redirect') {
      res.writeHead(302, { location: '/json' })
      res.end()
      return
    }
    if (req.method === 'POST') {
      res.end(`${req.headers['content-length']}|${await readAll(req)}`)
      return
    }
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify({ ok: true, url: req.url }))
  })
  const dispatcher = newDispatcher(t)
  const json = await undici.fetch(`${srv.origin}/redirect`, { dispatcher })
  t.equal(json.status, 200)
  t.equal(json.redirected, true)
  t.same(await json.json(), { ok: true, url: '/json' })
  const posted = await undici.fetch(`${srv.origin}/post`, { dispatcher, method: 'POST', body: 'héllo' })
  t.equal(await posted.text(), '6|héllo')
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode('ab'))
      controller.enqueue(new TextEncoder().encode('cd'))
      controller.close()
    },
  })
  const streamed = await undici.fetch(`${srv.origin}/post`, { dispatcher, method: 'POST', body: stream, duplex: 'half' })
  t.equal(await streamed.text(), 'undefined|abcd', 'ReadableStream body streamed without a length')
  t.equal(dispatcher.agent.stats().origins[srv.origin]?.requests, 4)
})

t.test('undici.fetch abort maps to an AbortError', async (t) => {
  let arrived: (() => void) | undefined
  const srv = await httpServer(t, () => arrived?.())
  const dispatcher = newDispatcher(t)
  const ac = new AbortController()
  const seen = new Promise<void>((resolve) => (arrived = resolve))
  const pending = undici.fetch(`${srv.origin}/`, { dispatcher, signal: ac.signal })
  await seen
  ac.abort()
  const err = await pending.catch((e: unknown) => e as Error)
  t.equal((err as Error).name, 'AbortError')
})

t.test('setGlobalDispatcher routes undici.fetch and undici.request through wirepool', async (t) => {
  const srv = await httpServer(t, (_req, res) => res.end('global'))
  const previous = undici.getGlobalDispatcher()
  const dispatcher = new WirepoolDispatcher()
  undici.setGlobalDispatcher(dispatcher)
  t.teardown(async () => {
    undici.setGlobalDispatcher(previous)
    await dispatcher.destroy()
  })
  t.equal(await (await undici.fetch(`${srv.origin}/a`)).text(), 'global')
  t.equal(await (await undici.request(`${srv.origin}/b`)).body.text(), 'global')
  t.equal(dispatcher.agent.stats().origins[srv.origin]?.requests, 2)
})

t.test('Node’s global fetch uses the dispatcher stored under the global dispatcher symbol', async (t) => {
  const srv = await httpServer(t, (req, res) => {
    res.setHeader('x-method', req.method as string)
    res.end(`node:${req.url}`)
  })
  const symbol = Symbol.for('undici.globalDispatcher.1')
  // Touch fetch first: Node loads its bundled undici lazily, which installs its own default.
  t.equal(typeof globalThis.fetch, 'function')
  const store = globalThis as unknown as Record<symbol, unknown>
  const previous = store[symbol]
  const dispatcher = new WirepoolDispatcher()
  store[symbol] = dispatcher
  t.teardown(async () => {
    store[symbol] = previous
    await dispatcher.destroy()
  })
  const res = await fetch(`${srv.origin}/native`, { method: 'PUT', body: 'x' })
  t.equal(res.headers.get('x-method'), 'PUT')
  t.equal(await res.text(), 'node:/native')
  t.equal(dispatcher.agent.stats().origins[srv.origin]?.requests, 1, 'Node 20’s fetch (undici v6) went through wirepool')
})

t.test('controller-style handlers (undici v7 API): pause, resume, trailers, errors', async (t) => {
  const srv = await httpServer(t, (req, res) => {
    if (req.url === '/err') {
      req.socket.destroy()
      return
    }
    res.writeHead(200, { trailer: 'x-t' })
    res.write('one')
    setImmediate(() => {
      res.addTrailers({ 'x-t': 'done' })
      res.end('two')
    })
  })
  const dispatcher = newDispatcher(t, { retry: false })
  const events: string[] = []
  const result = await new Promise<{ trailers: Record<string, unknown>; body: string }>((resolve, reject) => {
    let body = ''
    dispatcher.dispatch(
      { origin: srv.origin, path: '/ok', method: 'GET' },
      {
        onRequestStart(_controller, context) {
          events.push(`start:${typeof (context as { connection?: { id?: unknown } }).connection?.id}`)
        },
        onResponseStart(controller, status, headers) {
          events.push(`head:${status}:${String(headers['trailer'])}`)
          controller.pause()
          // Resumed later, from outside any callback.
          setImmediate(() => {
            events.push('resume')
            controller.resume()
          })
        },
        onResponseData(_controller, chunk) {
          events.push('data')
          body += chunk.toString()
        },
        onResponseEnd(controller, trailers) {
          events.push('end')
          t.ok(Array.isArray(controller.rawTrailers))
          resolve({ trailers, body })
        },
        onResponseError(_controller, err) {
          reject(err)
        },
      },
    )
  })
  t.same(events.slice(0, 4), ['start:number', 'head:200:x-t', 'resume', 'data'], 'nothing reaches a paused handler')
  t.equal(events.at(-1), 'end')
  t.equal(result.body, 'onetwo')
  t.same(result.trailers, { 'x-t': 'done' })

  const err = await new Promise<Error>((resolve) => {
    dispatcher.dispatch({ origin: srv.origin, path: '/err', method: 'GET' }, {
      onRequestStart() {},
      onResponseError(controller, e) {
        t.equal(controller.aborted, false)
        resolve(e)
      },
    })
  })
  t.ok(err instanceof errors.SocketError)
})

t.test('composed interceptors (controller API) work on top of the dispatcher', async (t) => {
  let calls = 0
  const srv = await httpServer(t, (_req, res) => {
    calls++
    if (calls === 1) {
      res.writeHead(503, { 'retry-after': '0' })
      res.end()
      return
    }
    res.end('second time')
  })
  const dispatcher = newDispatcher(t)
  const composed = dispatcher.compose(undici.interceptors.retry({ maxRetries: 2, minTimeout: 1, statusCodes: [503] }))
  const res = await undici.request(`${srv.origin}/`, { dispatcher: composed })
  t.equal(res.statusCode, 200)
  t.equal(await res.body.text(), 'second time')
  t.equal(dispatcher.agent.stats().origins[srv.origin]?.requests, 2)
})

t.test('https: TLS sessions are resumed across the dispatcher’s connections', async (t) => {
  const certs = await makeCertificates()
  const srv = await httpsServer(t, { key: certs.key, cert: certs.cert }, (_req, res) => {
    res.setHeader('connection', 'close')
    res.end('tls')
  })
  const dispatcher = newDispatcher(t, { tls: { ca: certs.ca } })
  for (let i = 0; i < 3; i++) t.equal(await (await undici.request(`${srv.origin}/`, { dispatcher })).body.text(), 'tls')
  const stats = dispatcher.agent.stats().origins[srv.origin]
  t.equal(stats?.tlsHandshakes, 3)
  t.ok((stats?.tlsResumed ?? 0) >= 1, `resumed ${stats?.tlsResumed} of 3 handshakes`)
})

t.test('upgrade: undici.upgrade gets the socket after 101', async (t) => {
  const srv = await httpServer(t, () => {})
  srv.server.on('upgrade', (req, socket) => {
    socket.write('HTTP/1.1 101 Switching Protocols\r\nupgrade: echo\r\nconnection: upgrade\r\n\r\nearly')
    socket.on('data', (d: Buffer) => socket.write(d))
  })
  const dispatcher = newDispatcher(t)
  const { headers, socket } = await undici.upgrade(`${srv.origin}/up`, { dispatcher, protocol: 'echo' })
  t.teardown(() => socket.destroy())
  t.equal(headers.upgrade, 'echo')
  let got = ''
  socket.on('data', (d: Buffer) => (got += d.toString()))
  socket.write('ping')
  while (got !== 'earlyping') await once(socket, 'data')
  t.equal(got, 'earlyping', 'bytes after the 101 come first, then the echo')
})

t.test('close and destroy', async (t) => {
  let release: (() => void) | undefined
  const srv = await httpServer(t, (req, res) => {
    if (req.url === '/slow') release = () => res.end('late')
    else res.end('ok')
  })
  const shared = new Agent()
  t.teardown(() => shared.destroy())
  const d1 = new WirepoolDispatcher(shared)
  t.equal(d1.agent, shared)
  const connects: string[] = []
  t.equal(shared.listenerCount('connection'), 0, 'no lifecycle subscription while nobody listens for connect/disconnect')
  const onDisconnect = (): void => {}
  d1.on('disconnect', onDisconnect)
  d1.on('connect', (origin) => connects.push(origin.origin))
  t.equal(shared.listenerCount('connection'), 1, 'one subscription for both events')
  d1.off('disconnect', onDisconnect)
  t.equal(shared.listenerCount('connection'), 1, 'kept while a connect listener remains')
  const slow = undici.request(`${srv.origin}/slow`, { dispatcher: d1 })
  while (release === undefined) await once(srv.server, 'request')
  const closing = d1.close()
  t.equal(d1.closed, true)
  await t.rejects(undici.request(`${srv.origin}/x`, { dispatcher: d1 }), errors.ClientClosedError)
  release()
  t.equal(await (await slow).body.text(), 'late', 'an in-flight request finishes during close')
  await closing
  t.same(connects, [srv.origin], 'connect event from wirepool’s lifecycle')
  t.equal(shared.listenerCount('connection'), 0, 'a closed dispatcher leaves the shared agent')
  t.equal(await (await shared.request({ url: `${srv.origin}/ok` })).body.text(), 'ok', 'a shared agent outlives the dispatcher')

  const d2 = new WirepoolDispatcher(shared)
  release = undefined
  const hanging = undici.request(`${srv.origin}/slow`, { dispatcher: d2 })
  while (release === undefined) await once(srv.server, 'request')
  await d2.destroy(new Error('stop'))
  const err = await hanging.catch((e: unknown) => e as Error)
  t.equal((err as Error).message, 'stop', 'destroy fails in-flight requests with its reason')
  await t.rejects(undici.request(`${srv.origin}/x`, { dispatcher: d2 }), errors.ClientDestroyedError)
  t.equal(d2.destroyed, true)

  const d3 = new WirepoolDispatcher()
  await new Promise<void>((resolve) => d3.close(() => resolve()))
  await new Promise<void>((resolve) => d3.destroy(() => resolve()))
  t.equal(d3.destroyed, true)
})

t.test('1xx responses reach onInfo; a throwing handler gets its own error back', async (t) => {
  const srv = await httpServer(t, (_req, res) => {
    res.writeEarlyHints({ link: '</style.css>; rel=preload' })
    res.end('after hints')
  })
  const dispatcher = newDispatcher(t)
  const infos: number[] = []
  const res = await undici.request(`${srv.origin}/`, { dispatcher, onInfo: (info) => infos.push(info.statusCode) })
  t.equal(await res.body.text(), 'after hints')
  t.same(infos, [103])

  const thrown = new Error('handler bug')
  const got = await new Promise<Error>((resolve) => {
    dispatcher.dispatch({ origin: srv.origin, path: '/', method: 'GET' }, {
      onConnect() {},
      onHeaders(status) {
        if (status >= 200) throw thrown
        return true
      },
      onData: () => true,
      onComplete() {},
      onError: resolve,
    })
  })
  t.equal(got, thrown)
})

t.test('request shapes: header iterables, FormData and Blob bodies, rejected options', async (t) => {
  const srv = await httpServer(t, async (req, res) => {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    res.end(JSON.stringify({ headers: req.headers, body: Buffer.concat(chunks).toString() }))
  })
  const dispatcher = newDispatcher(t)
  const post = async (options: Record<string, unknown>): Promise<{ headers: Record<string, string>; body: string }> => {
    const res = await undici.request(`${srv.origin}/`, { dispatcher, method: 'POST', ...options })
    return (await res.body.json()) as { headers: Record<string, string>; body: string }
  }
  const viaHeaders = await post({ headers: new Headers([['x-a', '1']]) as unknown as Record<string, string>, body: 'b' })
  t.equal(viaHeaders.headers['x-a'], '1')
  const viaPairs = await post({ headers: [['x-b', '2']] as unknown as string[], body: 'b' })
  t.equal(viaPairs.headers['x-b'], '2')
  const form = new FormData()
  form.set('field', 'value')
  const viaForm = await post({ body: form })
  t.match(viaForm.headers['content-type'], /^multipart\/form-data; boundary=/)
  t.match(viaForm.body, /name="field"\r\n\r\nvalue/)
  const viaBlob = await post({ body: new Blob(['blob!'], { type: 'text/x-blob' }) as unknown as string })
  t.equal(viaBlob.headers['content-type'], 'text/x-blob')
  t.equal(viaBlob.headers['content-length'], '5')
  t.equal(viaBlob.body, 'blob!')
  const chunked = await post({ headers: { 'transfer-encoding': 'chunked' }, body: Readable.from(['x']) })
  t.equal(chunked.headers['transfer-encoding'], 'chunked')
  const expect = await post({ expectContinue: true, body: 'e' })
  t.equal(expect.body, 'e', 'expectContinue becomes expect: 100-continue')

  const failWith = (opts: Record<string, unknown>): Promise<Error> =>
    new Promise((resolve) => dispatcher.dispatch(opts as unknown as undici.Dispatcher.DispatchOptions, { onError: resolve } as undici.Dispatcher.DispatchHandler))
  t.ok((await failWith({ path: '/', method: 'GET' })) instanceof errors.InvalidArgumentError, 'no origin')
  t.ok((await failWith({ origin: srv.origin, path: '/', method: 'CONNECT' })) instanceof errors.InvalidArgumentError, 'CONNECT')
  t.ok((await failWith({ origin: srv.origin, path: '/', method: 'GET', headers: ['odd'] })) instanceof errors.InvalidArgumentError)
  t.ok((await failWith({ origin: srv.origin, path: '/', method: 'GET', headers: [['a']] })) instanceof errors.InvalidArgumentError)
  t.ok((await failWith({ origin: srv.origin, path: '/', method: 'GET', headers: 'x' })) instanceof errors.InvalidArgumentError)
  t.ok((await failWith({ origin: srv.origin, path: 1, method: 'GET' })) instanceof errors.InvalidArgumentError)
  t.throws(() => dispatcher.dispatch({ origin: srv.origin, path: '/', method: 'GET' }, null as unknown as undici.Dispatcher.DispatchHandler), TypeError)
})

t.test('more error mappings: TLS verification, malformed responses, destroyed dispatcher', async (t) => {
  const certs = await makeCertificates()
  const untrusted = await httpsServer(t, { key: certs.selfSigned.key, cert: certs.selfSigned.cert }, (_req, res) => res.end())
  const dispatcher = newDispatcher(t)
  const tlsErr = (await undici.request(`${untrusted.origin}/`, { dispatcher }).catch((e: unknown) => e)) as Error & { code: string }
  t.equal(tlsErr.code, 'DEPTH_ZERO_SELF_SIGNED_CERT', 'OpenSSL’s reason as the code, as Node’s TLS errors')
  t.equal((tlsErr.cause as WirepoolError).code, 'WP_TLS_VERIFY')

  const raw = await (await import('../support/servers.js')).rawServer(t, (socket) => {
    socket.once('data', () => socket.end('HTTP/1.1 2000 Nope\r\n\r\n'))
  })
  const parseErr = await undici.request(`${raw.origin}/`, { dispatcher }).catch((e: unknown) => e as Error)
  t.ok(parseErr instanceof errors.HTTPParserError)
  t.equal(((parseErr as Error).cause as WirepoolError).code, 'WP_H1_PARSE')

  let arrived: (() => void) | undefined
  const srv = await httpServer(t, () => arrived?.())
  const owned = new WirepoolDispatcher()
  const seen = new Promise<void>((resolve) => (arrived = resolve))
  // Caught at once: the rejection happens during destroy(), before the await below.
  const pending = undici.request(`${srv.origin}/`, { dispatcher: owned }).catch((e: unknown) => e)
  await seen
  await owned.destroy()
  t.ok((await pending) instanceof errors.ClientDestroyedError, 'in-flight requests of a destroyed dispatcher')
})

t.test('destroy while a paused handler still holds the end of its response', async (t) => {
  const srv = await httpServer(t, (_req, res) => res.end())
  const shared = new Agent()
  t.teardown(() => shared.destroy())
  const dispatcher = new WirepoolDispatcher(shared)
  const stop = new Error('stop')
  const outcome = await new Promise<string>((resolve) => {
    dispatcher.dispatch({ origin: srv.origin, path: '/', method: 'GET' }, {
      onRequestStart() {},
      onResponseStart(controller) {
        controller.pause()
        // The empty body is complete already; the end waits for a resume that never comes.
        setImmediate(() => void dispatcher.destroy(stop))
      },
      onResponseEnd: () => resolve('end'),
      onResponseError: (_c, err) => resolve(err === stop ? 'error:stop' : `error:${err.message}`),
    })
  })
  t.equal(outcome, 'error:stop')
})
