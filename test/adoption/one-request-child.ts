/**
 * A user's one-request script, run by clean-exit.test.ts as a child process: it does its
 * work with keepAliveTimeout 60 s, prints `done` as its last line and returns. The parent
 * measures how long the process lives after that line.
 *
 *   node --import tsx one-request-child.ts h1|h2c|ws URL
 */
import { Agent, WebSocket } from '../../src/index.js'

const [mode, url] = process.argv.slice(2)
if (url === undefined) throw new Error('usage: one-request-child.ts h1|h2c|ws URL')
const agent = new Agent({ keepAliveTimeout: 60_000, h2c: mode === 'h2c' })

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
  // The connection stays pooled (idle, from the check phase on) and must not keep the
  // process alive.
  await new Promise((resolve) => setImmediate(resolve))
  if (agent.stats().origins[new URL(url).origin]?.connections.idle !== 1) throw new Error('expected one idle pooled connection')
}
process.stdout.write('done\n')
