import t from 'tap'
import { once } from 'node:events'
import { setTimeout as tick } from 'node:timers/promises'
import zlib from 'node:zlib'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { Agent, WirepoolError, getDefaultAgent } from '../../src/index.js'
import { createFetch, fetch as defaultFetch } from '../../src/adapters/fetch.js'
import { closedPort, httpServer, readAll } from '../support/servers.js'

function newFetch(t: { teardown(fn: () => unknown): void }, options?: ConstructorParameters<typeof Agent>[0]) {
  const agent = new Agent(options)
  t.teardown(() => agent.destroy())
  return { agent, fetch: createFetch(agent) }
}

/** Echo of what the server received, as JSON. */
async function echo(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = await readAll(req)
  res.setHeader('content-type', 'application/json')
  res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body }))
}

interface Echo {
  method: string
  url: string
  headers: Record<string, string | undefined>
  body: string
}

t.test('GET through the agent: head, headers, body, url, and a reused connection', async (t) => {
  const srv = await httpServer(t, (req, res) => {
    res.setHeader('set-cookie', ['a=1', 'b=2'])
    res.setHeader('x-url', req.url as string)
    res.end('hello fetch')
  })
  const { agent, fetch } = newFetch(t)
  for (let i = 0; i < 2; i++) {
    const res = await fetch(`${srv.origin}/p?i=${i}#frag`)
    t.equal(res.status, 200)
    t.equal(res.ok, true)
    t.equal(res.statusText, 'OK')
    t.equal(res.headers.get('x-url'), `/p?i=${i}`, 'the fragment is not sent')
    t.same(res.headers.getSetCookie(), ['a=1', 'b=2'])
    t.equal(res.url, `${srv.origin}/p?i=${i}`)
    t.equal(res.redirected, false)
    t.equal(await res.text(), 'hello fetch')
  }
  const stats = agent.stats().origins[srv.origin]
  t.equal(stats?.requests, 2)
  t.equal(stats?.reused, 1)
  t.equal(srv.connections(), 1)
})

t.test('request bodies: buffered with a length, streamed without one', async (t) => {
  const srv = await httpServer(t, echo)
  const { fetch } = newFetch(t)
  const text = (await (await fetch(`${srv.origin}/s`, { method: 'POST', body: 'héllo' })).json()) as Echo
  t.equal(text.body, 'héllo')
  t.equal(text.headers['content-length'], '6')
  t.equal(text.headers['content-type'], 'text/plain;charset=UTF-8')
  t.equal(text.headers.accept, '*/*')
  t.equal(text.headers['accept-encoding'], 'gzip, deflate, br')

  const form = (await (await fetch(`${srv.origin}/f`, { method: 'PUT', body: new URLSearchParams({ a: '1 2' }) })).json()) as Echo
  t.equal(form.body, 'a=1+2')
  t.equal(form.headers['content-type'], 'application/x-www-form-urlencoded;charset=UTF-8')

  let pulls = 0
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (pulls++ < 3) controller.enqueue(new TextEncoder().encode(`c${pulls}`))
      else controller.close()
    },
  })
  const streamed = (await (await fetch(`${srv.origin}/st`, { method: 'POST', body: stream, duplex: 'half' } as RequestInit)).json()) as Echo
  t.equal(streamed.body, 'c1c2c3')
  t.equal(streamed.headers['transfer-encoding'], 'chunked')
  t.equal(streamed.headers['content-length'], undefined)

  const dropped = (await (await fetch(`${srv.origin}/h`, { headers: { connection: 'close', 'x-keep': 'yes' } })).json()) as Echo
  t.equal(dropped.headers['x-keep'], 'yes')
  t.equal(dropped.headers.connection, undefined, 'connection management stays wirepool’s')
})

t.test('the response body streams with backpressure down to the socket', async (t) => {
  const total = 32 * 1024 * 1024
  let written = 0
  let resStream: ServerResponse | undefined
  const srv = await httpServer(t, (_req, res) => {
    resStream = res
    res.setHeader('content-length', total)
    const chunk = Buffer.alloc(64 * 1024, 0x61)
    const pump = (): void => {
      while (written < total) {
        written += chunk.length
        if (!res.write(chunk)) {
          res.once('drain', pump)
          return
        }
      }
      res.end()
    }
    pump()
  })
  const { fetch } = newFetch(t)
  const res = await fetch(`${srv.origin}/big`)
  const reader = (res.body as ReadableStream<Uint8Array>).getReader()
  let received = (await reader.read()).value?.byteLength ?? 0
  // Stop reading: the server must soon be unable to write more.
  await tick(100)
  t.ok(written < total, `server wrote ${written} of ${total} bytes while the reader was idle`)
  t.ok(resStream !== undefined)
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    received += value.byteLength
  }
  t.equal(received, total)
})

t.test('content codings are decoded as the body streams', async (t) => {
  const plain = 'wirepool '.repeat(1000)
  const srv = await httpServer(t, (req, res) => {
    if (req.url === '/gzip') {
      res.setHeader('content-encoding', 'gzip')
      res.end(zlib.gzipSync(plain))
    } else if (req.url === '/br') {
      res.setHeader('content-encoding', 'br')
      res.end(zlib.brotliCompressSync(plain))
    } else {
      res.setHeader('content-encoding', 'gzip')
      res.end('this is not gzip')
    }
  })
  const { fetch } = newFetch(t)
  t.equal(await (await fetch(`${srv.origin}/gzip`)).text(), plain)
  const br = await fetch(`${srv.origin}/br`)
  t.equal(br.headers.get('content-encoding'), 'br', 'headers are left as received')
  t.equal(await br.text(), plain)
  const bad = await fetch(`${srv.origin}/bad`)
  await t.rejects(bad.text(), TypeError)
})

t.test('redirects: method rewrites, body headers, credentials, modes and limits', async (t) => {
  const other = await httpServer(t, echo)
  const srv = await httpServer(t, async (req, res) => {
    const url = new URL(req.url as string, 'http://x')
    const to = url.searchParams.get('to')
    const status = Number(url.searchParams.get('status') ?? 302)
    if (url.pathname === '/loop') {
      await readAll(req)
      res.writeHead(302, { location: '/loop' })
      res.end('redirect body')
      return
    }
    if (to !== null) {
      await readAll(req)
      res.writeHead(status, { location: to === 'other' ? `${other.origin}/landed` : to })
      res.end()
      return
    }
    await echo(req, res)
  })
  const { agent, fetch } = newFetch(t)
  const post = { method: 'POST', body: 'data', headers: { 'content-type': 'text/x', authorization: 'secret', cookie: 'c=1' } }

  const r302 = await fetch(`${srv.origin}/r?to=/landed&status=302`, post)
  const e302 = (await r302.json()) as Echo
  t.equal(e302.method, 'GET', '302 POST → GET (RFC 9110 §15.4.3)')
  t.equal(e302.headers['content-type'], undefined, 'body headers dropped')
  t.equal(e302.body, '')
  t.equal(e302.headers.authorization, 'secret', 'same origin keeps credentials')
  t.equal(r302.redirected, true)
  t.equal(r302.url, `${srv.origin}/landed`)

  const e303 = (await (await fetch(`${srv.origin}/r?to=/landed&status=303`, { ...post, method: 'PUT' })).json()) as Echo
  t.equal(e303.method, 'GET', '303 → GET')
  const e307 = (await (await fetch(`${srv.origin}/r?to=/landed&status=307`, post)).json()) as Echo
  t.equal(e307.method, 'POST', '307 keeps the method')
  t.equal(e307.body, 'data', 'and the body')
  t.equal(e307.headers['content-type'], 'text/x')
  const e308 = (await (await fetch(`${srv.origin}/r?to=/landed&status=308`, post)).json()) as Echo
  t.equal(e308.method, 'POST')

  const cross = (await (await fetch(`${srv.origin}/r?to=other&status=307`, post)).json()) as Echo
  t.equal(cross.url, '/landed')
  t.equal(cross.headers.authorization, undefined, 'authorization stripped across origins')
  t.equal(cross.headers.cookie, undefined, 'cookie stripped across origins')
  t.equal(cross.body, 'data')

  const manual = await fetch(`${srv.origin}/r?to=/landed&status=301`, { redirect: 'manual' })
  t.equal(manual.status, 301)
  t.equal(manual.headers.get('location'), '/landed')
  await manual.arrayBuffer()

  await t.rejects(fetch(`${srv.origin}/r?to=/landed`, { redirect: 'error' }), TypeError)
  const loop = await fetch(`${srv.origin}/loop`).catch((e: unknown) => e as TypeError)
  t.ok(loop instanceof TypeError)
  t.match(String((loop as TypeError).cause), /redirect count exceeded/)

  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(new Uint8Array([1]))
      c.close()
    },
  })
  const streamed = await fetch(`${srv.origin}/r?to=/landed&status=307`, { method: 'POST', body: stream, duplex: 'half' } as RequestInit).catch((e: unknown) => e as TypeError)
  t.ok(streamed instanceof TypeError, 'a streamed body cannot follow a 307')
  await t.rejects(fetch(`${srv.origin}/r?to=ftp://x/`), TypeError)

  // The 21 hops of /loop and the other redirects each reused the connection their redirect drained.
  const stats = agent.stats().origins[srv.origin]
  t.ok((stats?.reused ?? 0) > 20, `redirect hops reused connections (${stats?.reused} of ${stats?.requests})`)
})

t.test('HEAD and null-body statuses resolve with a null body', async (t) => {
  const srv = await httpServer(t, (req, res) => {
    if (req.url === '/204') {
      res.writeHead(204)
      res.end()
      return
    }
    res.setHeader('content-length', 5)
    res.end(req.method === 'HEAD' ? undefined : 'hello')
  })
  const { fetch } = newFetch(t)
  const head = await fetch(`${srv.origin}/`, { method: 'HEAD' })
  t.equal(head.body, null)
  t.equal(head.headers.get('content-length'), '5')
  const none = await fetch(`${srv.origin}/204`)
  t.equal(none.status, 204)
  t.equal(none.body, null)
  t.equal(await (await fetch(`${srv.origin}/`)).text(), 'hello', 'the connection is still usable')
})

t.test('AbortSignal: already aborted, before the head, during the body', async (t) => {
  let arrived: (() => void) | undefined
  const srv = await httpServer(t, (req, res) => {
    arrived?.()
    if (req.url === '/body') {
      res.writeHead(200)
      res.write('partial')
    }
  })
  const { fetch } = newFetch(t)
  await t.rejects(fetch(`${srv.origin}/`, { signal: AbortSignal.abort() }), { name: 'AbortError' })

  const ac = new AbortController()
  let seen = new Promise<void>((resolve) => (arrived = resolve))
  const pending = fetch(`${srv.origin}/hang`, { signal: ac.signal })
  await seen
  ac.abort()
  await t.rejects(pending, { name: 'AbortError' })

  const reason = new Error('custom reason')
  const ac2 = new AbortController()
  seen = new Promise<void>((resolve) => (arrived = resolve))
  const res = await fetch(`${srv.origin}/body`, { signal: ac2.signal })
  const reader = (res.body as ReadableStream<Uint8Array>).getReader()
  t.equal(new TextDecoder().decode((await reader.read()).value), 'partial')
  ac2.abort(reason)
  const err = await reader.read().catch((e: unknown) => e)
  t.equal(err, reason, 'the body errors with the signal’s reason')
})

t.test('cancelling the body releases the request; errors are TypeError with the WirepoolError as cause', async (t) => {
  const srv = await httpServer(t, (_req, res) => {
    res.writeHead(200)
    res.write('x'.repeat(1000))
  })
  const { agent, fetch } = newFetch(t)
  const res = await fetch(`${srv.origin}/`)
  await (res.body as ReadableStream<Uint8Array>).cancel()
  const events: string[] = []
  agent.on('connection', (e) => events.push(e.to))
  while (!events.includes('closed')) await once(agent, 'connection')
  t.equal(agent.stats().origins[srv.origin]?.connections.total, 0, 'the half-read connection was not reused')

  const port = await closedPort()
  const refused = await fetch(`http://127.0.0.1:${port}/`).catch((e: unknown) => e as TypeError)
  t.ok(refused instanceof TypeError)
  t.equal((refused as TypeError).message, 'fetch failed')
  t.ok((refused as TypeError).cause instanceof WirepoolError)
  t.equal(((refused as TypeError).cause as WirepoolError).code, 'WP_CONNECT_REFUSED')
  await t.rejects(fetch('not a url'), TypeError)
})

t.test('fetch() without an agent uses the default agent', async (t) => {
  const srv = await httpServer(t, (_req, res) => res.end('default'))
  const agent = getDefaultAgent()
  t.equal(await (await defaultFetch(`${srv.origin}/`)).text(), 'default')
  t.equal(agent.stats().origins[srv.origin]?.requests, 1)
  t.teardown(() => agent.pool(srv.origin).destroy())
})
