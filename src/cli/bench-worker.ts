/**
 * worker_threads entry for `bench -t N`: runs one thread's clients with its own Agent and
 * posts `{ progress }` messages (every `liveMs`, when the main thread shows a live line) and
 * finally `{ result }`.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { runClients, type ClientConfig } from './bench-client.js'

if (parentPort === null) throw new Error('bench-worker must run in a worker thread')
const port = parentPort
const result = await runClients(workerData as ClientConfig, (progress) => port.postMessage({ progress }))
port.postMessage({ result })
