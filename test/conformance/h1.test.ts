/** The conformance suite (cases.ts) against node:http over cleartext HTTP/1.1. */
import t from 'tap'
import { runConformance } from './run.js'

await runConformance(t, 'h1')
