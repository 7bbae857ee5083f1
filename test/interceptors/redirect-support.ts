// Real loopback servers for the redirect tests: two origins per protocol (two servers, two
// ports), each answering redirects it is told to make and echoing what it received.
import type { Test } from 'tap'
import type { LookupFunction } from 'node:net'
import { Agent, type WirepoolError } from '../../src/index.js'
import { createTestServer, type RecordedRequest, type TestServer } from '../../src/testing/index.js'

export interface Rig {
  label: 'h1' | 'h2'
  protocol: 'http/1.1' | 'h2'
  /** Two origins. */
  a: TestServer
  b: TestServer
  /** Trusts both servers' CAs. */
  agent: Agent
}

export interface Echo {
  method: string
  path: string
  headers: Record<string, string | string[]>
  body: string
}

/**
 * Routes:
 * - `/r?status=N&to=LOCATION[&pad=BYTES]`: answer N with that Location (and BYTES of body);
 * - `/hop/N`: a chain of N same-origin 302s ending at /echo;
 * - `/loop`: a 302 to itself;
 * - anything with `echo` in the path: 200 with the request as JSON.
 */
export function serve(server: TestServer): TestServer {
  server.route('*', /echo/, (req) => ({ headers: { 'content-type': 'application/json' }, body: JSON.stringify(echoOf(req)) }))
  server.route('*', /^\/r\?/, (req) => {
    const query = new URL(req.path, 'http://x').searchParams
    const pad = Number(query.get('pad') ?? 0)
    const headers: Record<string, string> = {}
    const to = query.get('to')
    if (to !== null) headers['location'] = to
    return { status: Number(query.get('status') ?? 302), headers, body: pad > 0 ? Buffer.alloc(pad, 0x2e) : 'moved' }
  })
  server.route('*', /^\/hop\/\d+$/, (req) => {
    const n = Number(req.path.slice('/hop/'.length))
    return { status: 302, headers: { location: n <= 1 ? '/echo' : `/hop/${n - 1}` }, body: '' }
  })
  server.route('*', '/loop', { status: 302, headers: { location: '/loop' }, body: '' })
  return server
}

export function echoOf(req: RecordedRequest): Echo {
  return { method: req.method, path: req.path, headers: req.headers, body: req.body.toString() }
}

/** `/r?status=…&to=…` on `origin`. */
export function redirectUrl(origin: string, status: number, to: string, pad = 0): string {
  return `${origin}/r?status=${status}&to=${encodeURIComponent(to)}${pad > 0 ? `&pad=${pad}` : ''}`
}

/** An h1 pair (cleartext) and an h2 pair (TLS, ALPN h2), each with an agent; closed at teardown. */
export async function rigs(t: Test): Promise<Rig[]> {
  const [a1, b1, a2, b2] = await Promise.all([
    createTestServer({ tls: false }),
    createTestServer({ tls: false }),
    createTestServer({ protocols: ['h2'], tls: true }),
    createTestServer({ protocols: ['h2'], tls: true }),
  ])
  const agent1 = new Agent()
  const agent2 = new Agent({ tls: { ca: [a2.ca as string, b2.ca as string] } })
  t.teardown(async () => {
    await Promise.all([agent1.destroy(), agent2.destroy()])
    await Promise.all([a1, b1, a2, b2].map((s) => s.close()))
  })
  return [
    { label: 'h1', protocol: 'http/1.1', a: serve(a1), b: serve(b1), agent: agent1 },
    { label: 'h2', protocol: 'h2', a: serve(a2), b: serve(b2), agent: agent2 },
  ]
}

/** Every name resolves to 127.0.0.1: origins with any host name, on the loopback servers. */
export const loopbackLookup: LookupFunction = ((hostname: string, options: unknown, callback?: unknown) => {
  const cb = (typeof options === 'function' ? options : callback) as (err: Error | null, address: unknown, family?: number) => void
  const all = typeof options === 'object' && options !== null && (options as { all?: boolean }).all === true
  if (all) cb(null, [{ address: '127.0.0.1', family: 4 }])
  else cb(null, '127.0.0.1', 4)
}) as LookupFunction

/** The requests `server` received for paths starting with `prefix`. */
export function received(server: TestServer, prefix: string): RecordedRequest[] {
  return server.requests.filter((r) => r.path.startsWith(prefix))
}

/** The echo a test route answers with (`serve`). */
export async function echo(res: { body: { json(): Promise<unknown> } }): Promise<Echo> {
  return (await res.body.json()) as Echo
}

/** The error a request must fail with (a success fails the test). */
export function failure(p: Promise<unknown>): Promise<WirepoolError> {
  return p.then(
    () => {
      throw new Error('expected the request to fail')
    },
    (err: WirepoolError) => err,
  )
}
