/**
 * HPACK micro-benchmark (mitata): our HpackEncoder / HpackDecoder against hpack.js 2.1.6 (the
 * library they replaced, driven through test/h2/hpack-oracle.ts), in the same run, for a
 * 7-field request block and a 15-field response block.
 *
 *   node --import tsx bench/hpack.ts
 *
 * `cold` blocks are what a first request/response sends (literals, Huffman, entries added to
 * the dynamic table); `warm` blocks are the repeats (indexed fields). Both decoders decode the
 * same bytes (our encoder's). hpack.js gets the same never-indexed choice for `set-cookie` as
 * ours makes. Inputs are built once.
 */
import { bench, do_not_optimize, group, run, summary } from 'mitata'
import { HpackDecoder, HpackEncoder } from '../src/h2/hpack.js'
import { OracleDecoder, OracleEncoder, type OracleField } from '../test/h2/hpack-oracle.js'

const REQUEST_7: Array<[string, string]> = [
  [':method', 'GET'],
  [':scheme', 'https'],
  [':authority', 'api.example.com'],
  [':path', '/v1/items?limit=20&cursor=eyJpZCI6MTIzfQ'],
  ['user-agent', 'wirepool/0.1.0 node/20'],
  ['accept', 'application/json'],
  ['accept-encoding', 'gzip, deflate, br'],
]

const RESPONSE_15: Array<[string, string]> = [
  [':status', '200'],
  ['date', 'Wed, 26 Nov 2025 19:36:00 GMT'],
  ['content-type', 'application/json; charset=utf-8'],
  ['content-length', '18234'],
  ['cache-control', 'private, max-age=0, must-revalidate'],
  ['etag', 'W/"4739-1a2b3c4d5e6f"'],
  ['last-modified', 'Tue, 25 Nov 2025 08:00:00 GMT'],
  ['server', 'nginx'],
  ['vary', 'accept-encoding, origin'],
  ['x-content-type-options', 'nosniff'],
  ['strict-transport-security', 'max-age=63072000; includeSubDomains'],
  ['x-frame-options', 'DENY'],
  ['access-control-allow-origin', '*'],
  ['set-cookie', 'session=8f14e45fceea167a5a36dedd4bea2543; Path=/; HttpOnly; Secure'],
  ['x-request-id', 'c0ffee00-1234-5678-9abc-def012345678'],
]

function oracleFields(fields: Array<[string, string]>): OracleField[] {
  return fields.map(([name, value]) => (name === 'set-cookie' ? { name, value, neverIndex: true } : { name, value }))
}

/** The first (cold) and second (warm) block of one encoder, and decoders primed to decode either repeatedly. */
function blocks(fields: Array<[string, string]>) {
  const encoder = new HpackEncoder()
  const cold = encoder.encode(fields)
  const warm = encoder.encode(fields)
  const warmDecoder = new HpackDecoder()
  warmDecoder.decode(cold)
  const warmOracle = new OracleDecoder()
  warmOracle.decode(cold)
  const oracle = new OracleEncoder()
  const oracleCold = oracle.encode(oracleFields(fields))
  const oracleWarm = oracle.encode(oracleFields(fields))
  return { cold, warm, warmDecoder, coldDecoder: new HpackDecoder(), warmOracle, coldOracle: new OracleDecoder(), oracleCold, oracleWarm }
}

const req = blocks(REQUEST_7)
const res = blocks(RESPONSE_15)
const reqEncoder = new HpackEncoder()
const resEncoder = new HpackEncoder()
const reqOracleEncoder = new OracleEncoder()
const resOracleEncoder = new OracleEncoder()
const reqOracleFields = oracleFields(REQUEST_7)
const resOracleFields = oracleFields(RESPONSE_15)

console.log(`request 7 fields: cold ${req.cold.length} B, warm ${req.warm.length} B (hpack.js: ${req.oracleCold.length} B, ${req.oracleWarm.length} B)`)
console.log(`response 15 fields: cold ${res.cold.length} B, warm ${res.warm.length} B (hpack.js: ${res.oracleCold.length} B, ${res.oracleWarm.length} B)`)

group('request, 7 fields', () => {
  summary(() => {
    bench('h2_hpack_encode_req7_warm_wirepool', () => do_not_optimize(reqEncoder.encode(REQUEST_7)))
    bench('h2_hpack_encode_req7_warm_hpackjs', () => do_not_optimize(reqOracleEncoder.encode(reqOracleFields)))
  })
  summary(() => {
    bench('h2_hpack_decode_req7_warm_wirepool', () => do_not_optimize(req.warmDecoder.decode(req.warm)))
    bench('h2_hpack_decode_req7_warm_hpackjs', () => do_not_optimize(req.warmOracle.decode(req.warm)))
  })
  summary(() => {
    bench('h2_hpack_decode_req7_cold_wirepool', () => do_not_optimize(req.coldDecoder.decode(req.cold)))
    bench('h2_hpack_decode_req7_cold_hpackjs', () => do_not_optimize(req.coldOracle.decode(req.cold)))
  })
})

group('response, 15 fields', () => {
  summary(() => {
    bench('h2_hpack_encode_resp15_warm_wirepool', () => do_not_optimize(resEncoder.encode(RESPONSE_15)))
    bench('h2_hpack_encode_resp15_warm_hpackjs', () => do_not_optimize(resOracleEncoder.encode(resOracleFields)))
  })
  summary(() => {
    bench('h2_hpack_decode_resp15_warm_wirepool', () => do_not_optimize(res.warmDecoder.decode(res.warm)))
    bench('h2_hpack_decode_resp15_warm_hpackjs', () => do_not_optimize(res.warmOracle.decode(res.warm)))
  })
  summary(() => {
    bench('h2_hpack_decode_resp15_cold_wirepool', () => do_not_optimize(res.coldDecoder.decode(res.cold)))
    bench('h2_hpack_decode_resp15_cold_hpackjs', () => do_not_optimize(res.coldOracle.decode(res.cold)))
  })
})

await run()
