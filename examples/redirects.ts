/**
 * The README's redirect block, verbatim between the markers
 * (test/adoption/load.test.ts checks that it is), type-checked under --strict.
 */
// README ─────────────────────────────────────────────────────────────────────────────────
import { Agent, redirect } from 'wirepool'

const res = await agent.request({ url, redirect: 'follow' })   // also on a Pool, and in dispatch()
res.url          // where it ended: 'https://example.test/new' (the request's URL when not redirected)
res.redirects    // [{ status: 301, url: 'https://example.test/new' }] — each hop followed, in order

// or as an interceptor, with defaults for every request made through it
const client = agent.compose(redirect({ maxRedirections: 5, stripHeaders: ['x-api-key'] }))
await client.request({ url })                        // followed
await client.request({ url, redirect: 'manual' })    // the request's own option wins
// ─────────────────────────────────────────────────────────────────────────────── README

declare const agent: Agent
declare const url: string

export { res }
