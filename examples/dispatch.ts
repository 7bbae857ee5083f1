/**
 * The README's low-level handler block, verbatim between the markers
 * (test/adoption/readme-examples.test.ts checks that it is), type-checked under --strict.
 */
import { Agent } from 'wirepool'

declare const agent: Agent
declare const url: string

// README ─────────────────────────────────────────────────────────────────────────────────
agent.dispatch({ url, method: 'GET' }, {
  onConnect(abort, info) {},                  // assigned to a connection
  onInformational(status, headers) {},         // 100, 103 …
  onHeaders(status, headers, resume, statusText) { return true },
  onData(chunk) { return true },               // false pauses until resume()
  onTrailers(trailers) {},
  onComplete() {},
  onError(err) {},                             // a WirepoolError with a stable code
})
// ─────────────────────────────────────────────────────────────────────────────── README

export {}
