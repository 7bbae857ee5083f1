import { once } from 'node:events'
import net from 'node:net'
import t, { type Test } from 'tap'
import { bareHost, connectTcp, validateConnectOptions, type TcpConnectOptions } from '../../src/tcp/connect.js'
import {
  AbortedError,
  ConnectRefusedError,
  ConnectTimeoutError,
  ErrorCode,
  InvalidArgumentError,
} from '../../src/errors.js'
import { closedPort } from '../support/servers.js'


interface Listening {
  port: number
  server: net.Server
  /** Resolves with each server-side socket, in accept order. */
  nextConnection(): Promise<net.Socket>
}

/** A loopback TCP server that holds what it accepts; everything is closed at teardown. */
async function listen(t: Test, host = '127.0.0.1'): Promise<Listening> {
  const server = net.createServer()
  const accepted: net.Socket[] = []
  server.on('connection', (socket) => {
    socket.on('error', () => {})
    accepted.push(socket)
  })
  server.listen(0, host)
  await once(server, 'listening')
  t.teardown(() => {
    for (const socket of accepted) socket.destroy()
    server.close()
  })
  return {
    port: (server.address() as net.AddressInfo).port,
    server,
    nextConnection: async () => {
      const [socket] = (await once(server, 'connection')) as [net.Socket]
      return socket
    },
  }
}

/**
 * node:net has no getter for TCP_NODELAY or SO_KEEPALIVE. It records what it applied to
 * the handle in symbol-keyed fields (Node 20: kSetNoDelay, kSetKeepAlive,
 * kSetKeepAliveInitialDelay in seconds); read those.
 */
function netFlag(socket: net.Socket, name: string): unknown {
  const key = Object.getOwnPropertySymbols(socket).find((s) => s.description === name)
  return key === undefined ? undefined : (socket as unknown as Record<symbol, unknown>)[key]
}

function track(t: Test, socket: net.Socket): net.Socket {
  t.teardown(() => {
    socket.destroy()
  })
  return socket
}

/** Counts live timers: the connector must leave none behind once connected. */
function timerCount(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
}

/** The sockets net.connect returned, from a tap capture of it. */
function socketsOf(calls: object[]): net.Socket[] {
  return calls.map((call) => (call as { returned: net.Socket }).returned)
}

/** A lookup that never answers: DNS hangs, deterministically, without any network traffic. */
const hangingLookup: net.LookupFunction = () => {}

t.test('connects, with TCP_NODELAY and keep-alive by default, and leaves nothing attached', async (t) => {
  const { port, nextConnection } = await listen(t)
  const controller = new AbortController()
  const timersBefore = timerCount()
  const accepted = nextConnection()
  const socket = track(t, await connectTcp({ host: '127.0.0.1', port, connectTimeout: 5000, signal: controller.signal }))
  await accepted
  t.equal(socket.remotePort, port)
  t.equal(socket.readyState, 'open')
  t.equal(netFlag(socket, 'kSetNoDelay'), true, 'TCP_NODELAY on')
  t.equal(netFlag(socket, 'kSetKeepAlive'), true, 'SO_KEEPALIVE on')
  t.equal(netFlag(socket, 'kSetKeepAliveInitialDelay'), 60, 'first probe after 60 s')
  t.equal(socket.listenerCount('connect'), 0, 'no connect listener left')
  t.equal(socket.listenerCount('error'), 0, 'no error listener left')
  t.equal(timerCount(), timersBefore, 'connect timer cleared')
  controller.abort()
  t.equal(socket.destroyed, false, 'abort after connect no longer touches the socket')
})

t.test('noDelay, keepAlive and keepAliveInitialDelay are honoured', async (t) => {
  const { port } = await listen(t)
  const off = track(t, await connectTcp({ host: '127.0.0.1', port, connectTimeout: 5000, noDelay: false, keepAlive: false }))
  t.equal(netFlag(off, 'kSetNoDelay'), false)
  t.equal(netFlag(off, 'kSetKeepAlive'), false)
  const tuned = track(t, await connectTcp({ host: '127.0.0.1', port, connectTimeout: 5000, keepAliveInitialDelay: 5000 }))
  t.equal(netFlag(tuned, 'kSetKeepAlive'), true)
  t.equal(netFlag(tuned, 'kSetKeepAliveInitialDelay'), 5)
})

t.test('onread is passed to node:net', async (t) => {
  const { port, nextConnection } = await listen(t)
  const accepted = nextConnection()
  const received: string[] = []
  let delivered!: () => void
  const done = new Promise<void>((resolve) => (delivered = resolve))
  const buffer = Buffer.alloc(64)
  const socket = track(
    t,
    await connectTcp({
      host: '127.0.0.1',
      port,
      connectTimeout: 5000,
      onread: {
        buffer,
        callback(bytes, buf) {
          t.equal(buf, buffer, 'reads land in the caller buffer')
          received.push(Buffer.from(buf.subarray(0, bytes)).toString())
          delivered()
          return true
        },
      },
    }),
  )
  let dataEvents = 0
  socket.on('data', () => dataEvents++)
  ;(await accepted).write('ping')
  await done
  t.same(received, ['ping'])
  t.equal(dataEvents, 0, 'no data events with onread')
})

t.test('IPv6 literal in URL brackets', async (t) => {
  let server: Listening
  try {
    server = await listen(t, '::1')
  } catch (err) {
    t.plan(0, `IPv6 loopback unavailable: ${(err as Error).message}`)
    return
  }
  const socket = track(t, await connectTcp({ host: '[::1]', port: server.port, connectTimeout: 5000 }))
  t.equal(socket.remoteAddress, '::1')
  t.equal(bareHost('[::1]'), '::1')
  t.equal(bareHost('example.com'), 'example.com')
})

t.test('custom lookup resolves the name', async (t) => {
  const { port } = await listen(t)
  const asked: string[] = []
  const lookup: net.LookupFunction = (hostname, options, callback) => {
    asked.push(hostname)
    if (options.all === true) callback(null, [{ address: '127.0.0.1', family: 4 }])
    else callback(null, '127.0.0.1', 4)
  }
  const socket = track(t, await connectTcp({ host: 'wirepool.test', port, connectTimeout: 5000, lookup }))
  t.same(asked, ['wirepool.test'])
  t.equal(socket.remoteAddress, '127.0.0.1')
})

t.test('refused connect → ConnectRefusedError with the OS code', async (t) => {
  const port = await closedPort()
  const err = await connectTcp({ host: '127.0.0.1', port, connectTimeout: 5000, origin: `http://127.0.0.1:${port}` }).then(
    () => t.fail('connected to a closed port'),
    (e: unknown) => e,
  )
  t.type(err, ConnectRefusedError)
  const refused = err as ConnectRefusedError
  t.equal(refused.code, ErrorCode.CONNECT_REFUSED)
  t.match(refused.message, /ECONNREFUSED/)
  t.match(refused.message, `127.0.0.1:${port}`)
  t.equal((refused.cause as NodeJS.ErrnoException).code, 'ECONNREFUSED')
  t.equal(refused.origin, `http://127.0.0.1:${port}`)
})

t.test('DNS failure → DnsError (WP_DNS) with ENOTFOUND', async (t) => {
  const lookup: net.LookupFunction = (hostname, _options, callback) => {
    const err: NodeJS.ErrnoException = new Error(`getaddrinfo ENOTFOUND ${hostname}`)
    err.code = 'ENOTFOUND'
    callback(err, '', 0)
  }
  await t.rejects(connectTcp({ host: 'missing.test', port: 80, connectTimeout: 5000, lookup }), {
    code: ErrorCode.DNS,
    message: 'cannot resolve missing.test: ENOTFOUND',
    hostname: 'missing.test',
    dnsCode: 'ENOTFOUND',
    cause: { code: 'ENOTFOUND' },
  })
})

t.test('timeout during DNS → ConnectTimeoutError naming the target, and no socket was made', async (t) => {
  // A SYN to a loopback port is always answered at once (accepted or refused), so the
  // hang is made in the DNS phase, which the connect timeout covers as well.
  const connects = t.capture(net, 'connect', net.connect)
  const err = await connectTcp({
    host: 'hang.test',
    port: 80,
    connectTimeout: 20,
    lookup: hangingLookup,
    origin: 'http://hang.test',
  }).then(
    () => t.fail('connected'),
    (e: unknown) => e,
  )
  t.type(err, ConnectTimeoutError)
  t.equal((err as ConnectTimeoutError).code, ErrorCode.CONNECT_TIMEOUT)
  t.equal((err as ConnectTimeoutError).timeoutMs, 20)
  t.equal((err as ConnectTimeoutError).origin, 'http://hang.test')
  t.equal((err as ConnectTimeoutError).message, 'connect timed out after 20 ms to hang.test:80 (no address tried)')
  // Resolution comes before any socket now (the race dials addresses, not names).
  t.equal(socketsOf(connects()).length, 0, 'no socket while the name was unresolved')
})

t.test('already-aborted signal rejects without creating a socket', async (t) => {
  const connects = t.capture(net, 'connect', net.connect)
  const reason = new Error('caller gave up')
  await t.rejects(
    connectTcp({ host: '127.0.0.1', port: 1, connectTimeout: 5000, signal: AbortSignal.abort(reason) }),
    { code: ErrorCode.ABORTED, cause: reason },
  )
  t.equal(connects().length, 0, 'net.connect never called')
})

t.test('abort during name resolution → AbortedError, no socket made', async (t) => {
  const connects = t.capture(net, 'connect', net.connect)
  const controller = new AbortController()
  const reason = new Error('stop')
  const lookup: net.LookupFunction = () => controller.abort(reason)
  const err = await connectTcp({ host: 'abort.test', port: 80, connectTimeout: 5000, lookup, signal: controller.signal }).then(
    () => t.fail('connected'),
    (e: unknown) => e,
  )
  t.type(err, AbortedError)
  t.equal((err as AbortedError).cause, reason)
  t.equal(socketsOf(connects()).length, 0, 'net.connect never called')
})

t.test('invalid options → InvalidArgumentError', async (t) => {
  const good: TcpConnectOptions = { host: '127.0.0.1', port: 80, connectTimeout: 1000 }
  t.doesNotThrow(() => validateConnectOptions(good))
  const bad: Array<[string, Partial<TcpConnectOptions>]> = [
    ['empty host', { host: '' }],
    ['empty brackets', { host: '[]' }],
    ['port 0', { port: 0 }],
    ['port 65536', { port: 65536 }],
    ['fractional port', { port: 80.5 }],
    ['zero timeout', { connectTimeout: 0 }],
    ['negative timeout', { connectTimeout: -1 }],
    ['NaN timeout', { connectTimeout: Number.NaN }],
    ['infinite timeout', { connectTimeout: Number.POSITIVE_INFINITY }],
    ['timeout beyond setTimeout range', { connectTimeout: 2 ** 31 }],
    ['negative keep-alive delay', { keepAliveInitialDelay: -1 }],
  ]
  for (const [name, patch] of bad) {
    t.throws(() => validateConnectOptions({ ...good, ...patch }), InvalidArgumentError, name)
  }
  await t.rejects(connectTcp({ ...good, port: 0 }), { code: ErrorCode.INVALID_ARG })
  await t.rejects(connectTcp({ ...good, localAddress: 'not-an-address' }), {
    code: ErrorCode.INVALID_ARG,
    message: /invalid connect options/,
  })
})
