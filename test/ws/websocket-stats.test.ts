import t from 'tap'
import { once } from 'node:events'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { WebSocketServer } from 'ws'
import { Agent, WebSocket } from '../../src/index.js'

t.test('WebSockets are counted in stats() and metrics(): open, messages, bytes, closes by code', async (t) => {
  const server = http.createServer()
  const wss = new WebSocketServer({ server })
  wss.on('connection', (socket) => socket.on('message', (data, binary) => socket.send(data, { binary })))
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => {
    wss.close()
    server.closeAllConnections()
    server.close()
  })
  const port = (server.address() as AddressInfo).port
  const agent = new Agent()
  t.teardown(() => agent.destroy())
  const origin = `http://127.0.0.1:${port}`
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { agent })
  await once(ws, 'open')
  t.equal(agent.stats().origins[origin]?.webSockets.open, 1)
  const echoed = new Promise<void>((resolve) => {
    let received = 0
    ws.addEventListener('message', () => {
      if (++received === 2) resolve()
    })
  })
  ws.send('hello')
  ws.send(new Uint8Array(10))
  await echoed
  ws.close(1000, 'done')
  await once(ws, 'close')
  const w = agent.stats().origins[origin]?.webSockets
  t.same(w, { open: 0, opened: 1, messagesIn: 2, messagesOut: 2, bytesIn: 15, bytesOut: 15, closes: { 1000: 1 } })
  const text = agent.metrics()
  t.match(text, `wirepool_websocket_messages_in_total{origin="${origin}"} 2`)
  t.match(text, `wirepool_websocket_closes_total{origin="${origin}",code="1000"} 1`)
  t.match(text, `wirepool_websockets_open{origin="${origin}"} 0`)
})
