/**
 * The README's OpenTelemetry block, verbatim between the markers (test/adoption/load.test.ts
 * checks that it is), type-checked under --strict.
 */
import { Agent } from 'wirepool'

declare const agent: Agent

// README ─────────────────────────────────────────────────────────────────────────────────
import { otel } from 'wirepool/otel'

const traced = agent.compose(otel())     // first: one span per request the caller makes
const reply = await traced.request({ url: 'https://api.example.test/orders' })
// options: { tracerProvider, ignore: (options) => boolean, propagate: false,
//            requestHook: (span, options) => {}, responseHook: (span, { status, headers }) => {} }
// ─────────────────────────────────────────────────────────────────────────────── README

export { reply }
