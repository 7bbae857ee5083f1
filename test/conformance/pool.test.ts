/**
 * The conformance suite (cases.ts) through the pool over both protocols: one node:http2 TLS
 * server that also speaks HTTP/1.1 (allowHTTP1), reached through an Agent's pool whose ALPN
 * offer (`allowH2` on or off) decides the protocol. Same server, same cases, both answers.
 */
import t from 'tap'
import { runConformance } from './run.js'

await t.test('ALPN picks h2', (t) => runConformance(t, 'alpn-h2'))
await t.test('ALPN picks http/1.1 (allowH2: false)', (t) => runConformance(t, 'alpn-http1'))
