/**
 * A user's one-request script, run by clean-exit.test.ts as a child process: it does its
 * work with keepAliveTimeout 60 s, prints `done` as its last line and returns. The parent
 * measures how long the process lives after that line.
 *
 *   node --import tsx one-request-child.ts h1|h1-last|h2c|ws URL
 *
 * h1-last: the request is its connection's last (maxRequestsPerConnection: 1), so the
 * connection drains while the response is on its way: it must keep the process alive.
 */
import { Agent, WebSocket } from '../../src/index.js'

const [mode, url] = process.argv.slice(2)
if (url === undefined) throw new Error('usage: one-request-child.ts h1|h2c|ws URL')
const agent = new Agent({ keepAliveTimeout: 60_000, h2c: mode === 'h2c', ...(mode === 'h1-last' ? { maxRequestsPerConnection: 1 } : {}) })

if (mode === 'ws') {
  const ws = new WebSocket(url, { agent })
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener('open', () => ws.send('hi'))
    ws.addEventListener('message', (e) => {
      if (e.data !== 'hi') reject(new Error(`unexpected echo ${String(e.data)}`))
      ws.close(1000)
    })
    ws.addEventListener('error', (e) => reject(e.error))
    ws.addEventListener('close', () => resolve())
  })
} else {
  const res = await agent.request({ url })
  const text = await res.body.text()
  if (res.protocol !== (mode === 'h2c' ? 'h2' : 'http/1.1') || text !== 'hello') throw new Error(`unexpected ${res.protocol} ${text}`)
  if (mode === 'h1-last') {
    process.stdout.write('done\n')
    process.exit(0)
  }
  // The connection stays pooled (idle, from the check phase on) and must not keep the
  // process alive.
  await new Promise((resolve) => setImmediate(resolve))
  if (agent.stats().origins[new URL(url).origin]?.connections.idle !== 1) throw new Error('expected one idle pooled connection')
}
process.stdout.write('done\n')
