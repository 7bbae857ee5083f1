/** The conformance suite (cases.ts) against node:http2 cleartext (h2c, prior knowledge). */
import t from 'tap'
import { runConformance } from './run.js'

await runConformance(t, 'h2c')
