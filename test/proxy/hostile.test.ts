/**
 * Hostile proxies on raw node:net sockets: answers that never end, oversized heads, SOCKS
 * replies with a bad version or an unknown address type, refusals, and bytes sent after the
 * answer (which belong to the next layer and must not be lost).
 */
import type net from 'node:net'
import t, { type Test } from 'tap'
import { Agent } from '../../src/index.js'
import { AbortedError, ConnectTimeoutError, ProxyAuthError, ProxyConnectError } from '../../src/errors.js'
import { onRequestHeads, rawServer } from '../support/servers.js'

/** A raw SOCKS5 server: `script` is called with each chunk the client sent and its index. */
async function socksServer(t: Test, script: (socket: net.Socket, chunk: Buffer, index: number) => void): Promise<number> {
  const server = await rawServer(t, (socket) => {
    let index = 0
    socket.on('data', (chunk: Buffer) => script(socket, chunk, index++))
  })
  return server.port
}

async function failure(agent: Agent, url: string): Promise<Error> {
  return agent.request({ url }).then(
    () => {
      throw new Error('request should have failed')
    },
    (err: unknown) => err as Error,
  )
}

t.test('a CONNECT answer that never ends: the connect timeout, naming the proxy', async (t) => {
  const proxy = await rawServer(t, (socket) => onRequestHeads(socket, () => socket.write('HTTP/1.1 200 OK\r\nx-slow: 1\r\n')))
  const agent = new Agent({ proxy: `http://127.0.0.1:${proxy.port}`, connectTimeout: 300, retry: false })
  t.teardown(() => agent.destroy())
  const started = performance.now()
  const err = await failure(agent, 'https://origin.test/')
  t.type(err, ProxyConnectError)
  t.match(err.message, `proxy http://127.0.0.1:${proxy.port} did not answer for origin.test:443 within 300 ms`)
  t.type(err.cause, ConnectTimeoutError)
  t.ok(performance.now() - started < 3000)
})

t.test('a huge CONNECT answer head: cut at the bound, the socket closed', async (t) => {
  let closed = false
  let sent = 0
  const proxy = await rawServer(t, (socket) => {
    socket.on('close', () => (closed = true))
    socket.on('error', () => {})
    onRequestHeads(socket, () => {
      socket.write('HTTP/1.1 200 OK\r\n')
      // Bounded by the test too: 64 KiB of header lines, never the blank line.
      for (let i = 0; i < 1024 && !socket.destroyed; i++) {
        socket.write(`x-fill-${i}: ${'a'.repeat(50)}\r\n`)
        sent += 60
      }
    })
  })
  const agent = new Agent({ proxy: `http://127.0.0.1:${proxy.port}`, maxHeaderSize: 4096, retry: false })
  t.teardown(() => agent.destroy())
  const err = await failure(agent, 'https://origin.test/')
  t.type(err, ProxyConnectError)
  t.match(err.message, /exceeds 4096 bytes/)
  t.ok(sent > 4096)
  await new Promise<void>((resolve) => {
    const check = (): void => (closed ? resolve() : void setImmediate(check))
    check()
  })
  t.ok(closed, 'the proxy connection was closed')
})

t.test('a non-HTTP answer to CONNECT', async (t) => {
  const proxy = await rawServer(t, (socket) => onRequestHeads(socket, () => socket.end('SSH-2.0-OpenSSH_9.2\r\n\r\n')))
  const agent = new Agent({ proxy: `http://127.0.0.1:${proxy.port}`, retry: false })
  t.teardown(() => agent.destroy())
  const err = await failure(agent, 'https://origin.test/')
  t.type(err, ProxyConnectError)
  t.match(err.message, /invalid answer to CONNECT origin\.test:443: not an HTTP\/1\.x status line/)
})

t.test('the proxy closes before answering', async (t) => {
  const proxy = await rawServer(t, (socket) => onRequestHeads(socket, () => socket.destroy()))
  const agent = new Agent({ proxy: `http://127.0.0.1:${proxy.port}`, retry: false })
  t.teardown(() => agent.destroy())
  const err = await failure(agent, 'https://origin.test/')
  t.type(err, ProxyConnectError)
  t.match(err.message, /closed the connection before it answered/)
})

t.test('bytes after the CONNECT answer are the tunnel\'s: handed to HTTP/1.1, not lost', async (t) => {
  const proxy = await rawServer(t, (socket) =>
    onRequestHeads(socket, (head, index) => {
      // The answer and the "origin's" response in one write (a proxy that coalesces them).
      if (index === 0) socket.write('HTTP/1.1 200 Connection established\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nearly')
    }),
  )
  const agent = new Agent({ proxy: `http://127.0.0.1:${proxy.port}`, proxyTunnel: true, retry: false })
  t.teardown(() => agent.destroy())
  const res = await agent.request({ url: 'http://origin.test/' })
  t.equal(res.status, 200)
  t.equal(await res.body.text(), 'early')
})

t.test('SOCKS5: bytes after the reply are handed on', async (t) => {
  const port = await socksServer(t, (socket, chunk, index) => {
    if (index === 0) socket.write(Buffer.from([5, 0]))
    if (index === 1) {
      t.same([...chunk.subarray(0, 5)], [5, 1, 0, 3, 'origin.test'.length], 'socks5h sends the name')
      socket.write(Buffer.concat([Buffer.from([5, 0, 0, 1, 127, 0, 0, 1, 0, 80]), Buffer.from('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nhi')]))
    }
  })
  const agent = new Agent({ proxy: `socks5h://127.0.0.1:${port}`, retry: false })
  t.teardown(() => agent.destroy())
  const res = await agent.request({ url: 'http://origin.test/' })
  t.equal(await res.body.text(), 'hi')
})

t.test('SOCKS5: a bad version, an unknown address type, a refusal', async (t) => {
  const cases: Array<[string, (socket: net.Socket, index: number) => void, RegExp, number]> = [
    ['bad version', (s, i) => i === 0 && s.write(Buffer.from([4, 0])), /SOCKS version 4 in the method reply/, 0],
    ['bad reply version', (s, i) => (i === 0 ? s.write(Buffer.from([5, 0])) : s.write(Buffer.from([6, 0, 0, 1]))), /SOCKS version 6 in the CONNECT reply/, 0],
    ['unknown address type', (s, i) => (i === 0 ? s.write(Buffer.from([5, 0])) : s.write(Buffer.from([5, 0, 0, 7, 1, 2, 3, 4, 5, 6]))), /address type 0x7/, 0],
    ['host unreachable', (s, i) => (i === 0 ? s.write(Buffer.from([5, 0])) : s.write(Buffer.from([5, 4, 0, 1, 0, 0, 0, 0, 0, 0]))), /could not connect to origin\.test:80: host unreachable/, 4],
  ]
  for (const [name, script, message, status] of cases) {
    const port = await socksServer(t, (socket, _chunk, index) => script(socket, index))
    const agent = new Agent({ proxy: `socks5h://127.0.0.1:${port}`, retry: false })
    const err = (await failure(agent, 'http://origin.test/')) as ProxyConnectError
    await agent.destroy()
    t.type(err, ProxyConnectError, name)
    t.match(err.message, message, name)
    t.equal(err.status, status, name)
  }
})

t.test('SOCKS5: wrong credentials are WP_PROXY_AUTH, never printed', async (t) => {
  const port = await socksServer(t, (socket, chunk, index) => {
    if (index === 0) socket.write(Buffer.from([5, 2]))
    if (index === 1) {
      t.equal(chunk.subarray(2, 2 + chunk[1]!).toString(), 'user')
      socket.write(Buffer.from([1, 1]))
    }
  })
  const agent = new Agent({ proxy: `socks5://user:n0tthis@127.0.0.1:${port}`, retry: false })
  t.teardown(() => agent.destroy())
  const err = await failure(agent, 'http://127.0.0.1:9/')
  t.type(err, ProxyAuthError)
  t.equal((err as ProxyAuthError).code, 'WP_PROXY_AUTH')
  t.notOk(err.message.includes('n0tthis'))
})

t.test('an abort during the proxy handshake is WP_ABORTED', async (t) => {
  let seen!: () => void
  const asked = new Promise<void>((resolve) => (seen = resolve))
  const proxy = await rawServer(t, (socket) => onRequestHeads(socket, () => seen()))
  const agent = new Agent({ proxy: `http://127.0.0.1:${proxy.port}`, retry: false })
  t.teardown(() => agent.destroy())
  const controller = new AbortController()
  const pending = agent.request({ url: 'https://origin.test/', signal: controller.signal }).catch((e: unknown) => e)
  await asked
  controller.abort()
  t.type(await pending, AbortedError)
})
