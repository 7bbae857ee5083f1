/**
 * worker_threads entry for `bench -t N`: runs one thread's clients with its own Agent and
 * posts `{ progress }` messages (at most every 100 ms) and finally `{ result }`.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { runClients, type ClientConfig } from './bench-client.js'

const PROGRESS_INTERVAL_MS = 100

if (parentPort === null) throw new Error('bench-worker must run in a worker thread')
const port = parentPort
let lastProgress = 0
const result = await runClients(workerData as ClientConfig, (done) => {
  const now = Date.now()
  if (now - lastProgress < PROGRESS_INTERVAL_MS) return
  lastProgress = now
  port.postMessage({ progress: done })
})
port.postMessage({ result })
