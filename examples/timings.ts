/**
 * The README's "Timings" block, verbatim between the markers (test/adoption/load.test.ts
 * checks that it is), type-checked under --strict by `npm run typecheck`.
 */
import { Agent } from 'wirepool'

declare const agent: Agent

// README ─────────────────────────────────────────────────────────────────────────────────
const timed = await agent.request({ url: 'https://127.0.0.1:8443/' })
await timed.body.text()                      // `end` is undefined until the body has ended
const t = timed.timings
if (t !== undefined) {
  console.log(t.dns, t.tcp, t.tls, t.dispatched, t.sent, t.firstByte, t.end)   // edges, ms after t.start
  console.log(t.phases)   // { wait, dns, tcp, proxy, tls, request, firstByte, download, total }
}
// ─────────────────────────────────────────────────────────────────────────────── README

export {}
