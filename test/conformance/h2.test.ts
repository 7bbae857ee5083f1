/** The conformance suite (cases.ts) against node:http2 over TLS, ALPN h2. */
import t from 'tap'
import { runConformance } from './run.js'

await runConformance(t, 'h2')
