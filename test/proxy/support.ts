/**
 * A small but real CONNECT proxy for tests (node:net, or node:tls for an HTTPS proxy):
 * reads the CONNECT head, checks Basic credentials when configured, dials the target and
 * pipes bytes both ways. It records every head it was sent, and every byte that went
 * through a tunnel towards the origin, so tests can assert where credentials went.
 */
import net from 'node:net'
import tls from 'node:tls'
import type { Test } from 'tap'
import { listenLoopback } from '../support/servers.js'

export interface TestProxy {
  port: number
  url: string
  /** Every CONNECT (or other) head the proxy received, in order. */
  heads: string[]
  /** Bytes clients sent into tunnels (client → origin), concatenated per tunnel. */
  tunnelled: Buffer[]
  /** Tunnels opened. */
  tunnels: () => number
}

export interface TestProxyOptions {
  /** `user:pass` required as Basic credentials (else 407). */
  credentials?: string
  /** TLS to the proxy itself (an HTTPS proxy). */
  tls?: { key: string; cert: string }
}

export async function startConnectProxy(t: Test, options: TestProxyOptions = {}): Promise<TestProxy> {
  const heads: string[] = []
  const tunnelled: Buffer[] = []
  const open = new Set<net.Socket>()
  let tunnels = 0
  const expected = options.credentials === undefined ? undefined : `Basic ${Buffer.from(options.credentials).toString('base64')}`
  const onSocket = (client: net.Socket): void => {
    open.add(client)
    client.on('close', () => open.delete(client))
    client.on('error', () => client.destroy())
    let buffered = Buffer.alloc(0)
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk])
      const end = buffered.indexOf('\r\n\r\n')
      if (end < 0) return
      client.off('data', onData)
      const head = buffered.toString('latin1', 0, end)
      const rest = buffered.subarray(end + 4)
      heads.push(head)
      const [method, target] = head.split(' ') as [string, string]
      const auth = /\r\nproxy-authorization: *([^\r\n]*)/i.exec(head)?.[1]
      if (expected !== undefined && auth !== expected) {
        client.end('HTTP/1.1 407 Proxy Authentication Required\r\nproxy-authenticate: Basic realm="test"\r\ncontent-length: 0\r\n\r\n')
        return
      }
      if (method !== 'CONNECT') {
        client.end('HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\n\r\n')
        return
      }
      const colon = target.lastIndexOf(':')
      const host = target.slice(0, colon).replace(/^\[|\]$/g, '')
      const upstream = net.connect(Number(target.slice(colon + 1)), host)
      open.add(upstream)
      upstream.on('close', () => open.delete(upstream))
      upstream.on('error', () => client.destroy())
      upstream.once('connect', () => {
        tunnels++
        const seen: Buffer[] = [rest]
        const index = tunnelled.push(Buffer.alloc(0)) - 1
        client.on('data', (c: Buffer) => {
          seen.push(c)
          tunnelled[index] = Buffer.concat(seen)
        })
        client.write('HTTP/1.1 200 Connection established\r\n\r\n')
        if (rest.length > 0) upstream.write(rest)
        client.pipe(upstream)
        upstream.pipe(client)
      })
    }
    client.on('data', onData)
  }
  const server = options.tls === undefined ? net.createServer(onSocket) : tls.createServer({ key: options.tls.key, cert: options.tls.cert }, onSocket)
  const port = await listenLoopback(t, server, () => open)
  const scheme = options.tls === undefined ? 'http' : 'https'
  return { port, url: `${scheme}://127.0.0.1:${port}`, heads, tunnelled, tunnels: () => tunnels }
}
