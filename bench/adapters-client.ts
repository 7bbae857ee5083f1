/**
 * One contender of the embedding benchmark, alone in its process (started by
 * bench/adapters.ts under `taskset -c 1`): undici's `request()` or `fetch()` on undici's own
 * Agent, or the same call on `WirepoolDispatcher`.
 *
 *   node --import tsx bench/adapters-client.ts <undici|wirepool> <case> <origin> <warmup s> <duration s> [ca.pem]
 *
 * Runs the case's closed loops (bench/closed-loop.ts) and prints one JSON `RunResult` line.
 * An https origin is verified against the CA file given.
 */
import { readFile } from 'node:fs/promises'
import * as undici from 'undici'
// The compiled dist/ is measured (as users run it), not the sources through tsx, whose
// import bindings cost a getter call on every access (bench/h1-client.ts does the same).
const { WirepoolDispatcher } = (await import(new URL('../dist/adapters/undici.js', import.meta.url).href)) as typeof import('../src/adapters/undici.js')
import { ADAPTER_CASES, ADAPTER_CONNECTIONS, ADAPTER_CONCURRENCY, type AdapterBackend, type AdapterCase } from './adapters-cases.js'
import { drive, runContender, seconds, type Client } from './closed-loop.js'

/**
 * The dispatcher a user of each library would write for the case's protocol, with the same
 * connection budget. undici's h2 is `allowH2` (ALPN over TLS); its cleartext h2 needs the
 * connector's `useH2c`, which its .d.ts does not declare.
 */
function makeDispatcher(backend: AdapterBackend, c: AdapterCase, ca: string | null): undici.Dispatcher {
  if (backend === 'wirepool') {
    // No accept-encoding from wirepool's side: both send the request undici's API builds.
    const base = { connections: ADAPTER_CONNECTIONS, decompress: false }
    if (c.protocol === 'h2c') return new WirepoolDispatcher({ ...base, h2c: true })
    if (c.protocol === 'h2') return new WirepoolDispatcher(ca === null ? base : { ...base, tls: { ca } })
    return new WirepoolDispatcher(base)
  }
  if (c.protocol === 'h2c') {
    return new undici.Agent({ connections: ADAPTER_CONNECTIONS, allowH2: true, connect: { allowH2: true, useH2c: true } as undici.buildConnector.BuildOptions })
  }
  if (c.protocol === 'h2') return new undici.Agent({ connections: ADAPTER_CONNECTIONS, allowH2: true, connect: ca === null ? {} : { ca } })
  return new undici.Agent({ connections: ADAPTER_CONNECTIONS })
}

async function drain(body: AsyncIterable<unknown>): Promise<number> {
  let bytes = 0
  for await (const chunk of body) bytes += (chunk as Uint8Array).byteLength
  return bytes
}

function client(backend: AdapterBackend, c: AdapterCase, origin: string, ca: string | null): Client {
  const dispatcher = makeDispatcher(backend, c, ca)
  const url = `${origin}${c.path}`
  // A wirepool connection that fell back to HTTP/1.1 would measure the wrong protocol.
  const checkProtocol = (): void => {
    if (!(dispatcher instanceof WirepoolDispatcher) || c.protocol === 'h1') return
    const stats = dispatcher.agent.stats().origins[origin]
    if (stats !== undefined && (stats.protocols['http/1.1'] ?? 0) > 0) throw new Error('wirepool negotiated http/1.1, not h2')
  }
  return {
    async fetch() {
      checkProtocol()
      if (c.api === 'request') {
        const res = await undici.request(url, { dispatcher })
        return { status: res.statusCode, bytes: await drain(res.body) }
      }
      const res = await undici.fetch(url, { dispatcher })
      return { status: res.status, bytes: await drain(res.body as unknown as AsyncIterable<Uint8Array>) }
    },
    close: () => dispatcher.close(),
  }
}

runContender(async () => {
  const [backend, name, origin, warmup, duration, caFile] = process.argv.slice(2)
  if (backend !== 'undici' && backend !== 'wirepool') throw new Error(`unknown backend ${backend}`)
  const c = ADAPTER_CASES.find((x) => x.name === name)
  if (c === undefined || origin === undefined) throw new Error('usage: adapters-client.ts <undici|wirepool> <case> <origin> <warmup s> <duration s> [ca.pem]')
  const ca = caFile === undefined ? null : await readFile(caFile, 'utf8')
  const bench = client(backend, c, origin, ca)
  try {
    return await drive(bench, ADAPTER_CONCURRENCY, c.bodySize, seconds(warmup, 'warm-up') * 1000, seconds(duration, 'duration') * 1000)
  } finally {
    await bench.close()
  }
})
