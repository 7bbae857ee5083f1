/**
 * A finished request must not keep its undici handler alive through what is left of it.
 * undici's response body keeps the abort callback it was given (which reaches the engine's
 * exchange and the bridge); while the bridge still pointed at the handler, a body promoted
 * to the old generation kept every handler graph it reached alive through young
 * collections — undici.request() spent 3× undici's own scavenge time (UndiciBridge#finish).
 */
import t from 'tap'
import v8 from 'node:v8'
import vm from 'node:vm'
import { WirepoolDispatcher } from '../../src/adapters/undici.js'
import { httpServer } from '../support/servers.js'

v8.setFlagsFromString('--expose-gc')
const gc = vm.runInNewContext('gc') as () => void

interface Outcome {
  /** The abort callback the handler was given: what outlives the request in undici. */
  abort: (reason?: Error) => void
  handler: WeakRef<object>
}

function runOne(dispatcher: WirepoolDispatcher, origin: string, fail: boolean): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    let abort: ((reason?: Error) => void) | undefined
    const handler = {
      onConnect(a: (reason?: Error) => void) {
        abort = a
      },
      onHeaders() {
        return true
      },
      onData() {
        return true
      },
      onComplete() {
        resolve({ abort: abort as (reason?: Error) => void, handler: new WeakRef(handler) })
      },
      onError(err: Error) {
        if (!fail || abort === undefined) reject(err)
        else resolve({ abort, handler: new WeakRef(handler) })
      },
    }
    dispatcher.dispatch({ origin, path: fail ? '/reset' : '/ok', method: 'GET' }, handler)
  })
}

async function collected(ref: WeakRef<object>): Promise<boolean> {
  for (let i = 0; i < 20; i++) {
    gc()
    if (ref.deref() === undefined) return true
    await new Promise((r) => setImmediate(r))
  }
  return false
}

t.test('after the response, or a failure, the handler is not reachable from its abort callback', async (t) => {
  const srv = await httpServer(t, (req, res) => {
    if (req.url === '/reset') req.socket.destroy()
    else res.end('ok')
  })
  const dispatcher = new WirepoolDispatcher({ retry: false })
  t.teardown(() => dispatcher.destroy())

  const done = await runOne(dispatcher, srv.origin, false)
  t.ok(await collected(done.handler), 'a completed request let go of its handler')
  done.abort(new Error('late abort'))
  t.pass('a late abort of a finished request is harmless')

  const failed = await runOne(dispatcher, srv.origin, true)
  t.ok(await collected(failed.handler), 'a failed request let go of its handler')
  failed.abort()
})
