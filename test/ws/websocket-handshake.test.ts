/**
 * The pure handshake checks (RFC 6455 §4.1) and the permessage-deflate negotiation
 * (RFC 7692 §7.1), without sockets.
 */
import t from 'tap'
import {
  acceptFor,
  checkHandshakeResponse,
  deflateOffer,
  generateKey,
  normalizeProtocols,
  resolveDeflateOptions,
} from '../../src/ws/handshake.js'
import { WsHandshakeError } from '../../src/errors.js'
import type { HeaderRecord } from '../../src/dispatch.js'

const KEY = 'dGhlIHNhbXBsZSBub25jZQ=='

function ok(extra: HeaderRecord = {}): HeaderRecord {
  return { upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-accept': acceptFor(KEY), ...extra }
}

t.test('key and accept', async (t) => {
  // RFC 6455 §1.3's worked example.
  t.equal(acceptFor(KEY), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=')
  const a = generateKey()
  const b = generateKey()
  t.equal(Buffer.from(a, 'base64').length, 16)
  t.not(a, b)
})

t.test('a valid 101', async (t) => {
  t.same(checkHandshakeResponse(ok(), KEY, [], null), { protocol: '', extensions: '', deflate: null })
  // Case-insensitive Upgrade, Connection as a list, repeated header fields.
  t.same(
    checkHandshakeResponse(ok({ upgrade: 'WebSocket', connection: ['keep-alive', 'UPGRADE'] }), KEY, [], null).protocol,
    '',
  )
  t.equal(checkHandshakeResponse(ok({ 'sec-websocket-protocol': 'b' }), KEY, ['a', 'b'], null).protocol, 'b')
})

t.test('violations', async (t) => {
  const cases: [string, HeaderRecord, string[], RegExp][] = [
    ['no upgrade', { connection: 'upgrade', 'sec-websocket-accept': acceptFor(KEY) }, [], /Upgrade: websocket/],
    ['wrong upgrade', ok({ upgrade: 'h2c' }), [], /Upgrade: websocket/],
    ['no connection', { upgrade: 'websocket', 'sec-websocket-accept': acceptFor(KEY) }, [], /Connection: upgrade/],
    ['connection close', ok({ connection: 'close' }), [], /Connection: upgrade/],
    ['no accept', { upgrade: 'websocket', connection: 'upgrade' }, [], /without Sec-WebSocket-Accept/],
    ['wrong accept', ok({ 'sec-websocket-accept': acceptFor('other') }), [], /wrong Sec-WebSocket-Accept/],
    ['unoffered protocol', ok({ 'sec-websocket-protocol': 'c' }), ['a'], /did not offer/],
    ['protocol with none offered', ok({ 'sec-websocket-protocol': 'a' }), [], /did not offer/],
    ['empty protocol list', ok({ 'sec-websocket-protocol': ' , ' }), ['a'], /0 subprotocols/],
    ['extension not offered', ok({ 'sec-websocket-extensions': 'permessage-deflate' }), [], /did not offer/],
  ]
  for (const [name, headers, protocols, message] of cases) {
    t.throws(() => checkHandshakeResponse(headers, KEY, protocols, null), message, name)
  }
  try {
    checkHandshakeResponse(ok({ upgrade: 'x' }), KEY, [], null)
    t.fail('should throw')
  } catch (err) {
    t.ok(err instanceof WsHandshakeError)
    t.equal((err as WsHandshakeError).status, 101)
    t.equal((err as WsHandshakeError).code, 'WP_WS_HANDSHAKE')
  }
})

t.test('permessage-deflate negotiation', async (t) => {
  const ext = (value: string, offer = {}) =>
    checkHandshakeResponse(ok({ 'sec-websocket-extensions': value }), KEY, [], offer).deflate

  t.same(ext('permessage-deflate'), {
    clientMaxWindowBits: 15,
    serverMaxWindowBits: 15,
    clientNoContextTakeover: false,
    serverNoContextTakeover: false,
  })
  t.same(ext('permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=10'), {
    clientMaxWindowBits: 10,
    serverMaxWindowBits: 9,
    clientNoContextTakeover: true,
    serverNoContextTakeover: true,
  })
  // Quoted values are allowed (RFC 7692 §7.1 uses the RFC 6455 extension-param grammar).
  t.equal(ext('permessage-deflate; client_max_window_bits="12"')?.clientMaxWindowBits, 12)
  // Our own offered client window stays when the server does not lower it.
  t.equal(ext('permessage-deflate', { clientMaxWindowBits: 11 })?.clientMaxWindowBits, 11)
  t.equal(ext('permessage-deflate', { clientNoContextTakeover: true })?.clientNoContextTakeover, true)

  const bad: [string, object, RegExp][] = [
    ['permessage-deflate; bogus', {}, /unknown permessage-deflate parameter/],
    ['permessage-deflate; server_no_context_takeover; server_no_context_takeover', {}, /repeated/],
    ['permessage-deflate; server_no_context_takeover=1', {}, /takes no value/],
    ['permessage-deflate; client_no_context_takeover=1', {}, /takes no value/],
    ['permessage-deflate; server_max_window_bits', {}, /invalid window bits/],
    ['permessage-deflate; server_max_window_bits=16', {}, /invalid window bits/],
    ['permessage-deflate; server_max_window_bits=7', {}, /invalid window bits/],
    ['permessage-deflate; server_max_window_bits=12', { serverMaxWindowBits: 10 }, /larger than the 10/],
    ['permessage-deflate; client_max_window_bits=12', { clientMaxWindowBits: 10 }, /larger than our 10/],
    ['permessage-deflate; client_max_window_bits=12', { clientMaxWindowBits: false }, /not in our offer/],
    ['permessage-deflate; client_max_window_bits=8', {}, /cannot be honoured/],
    ['permessage-deflate, permessage-deflate', {}, /twice/],
    ['permessage-deflate, x-other', {}, /did not offer/],
  ]
  for (const [value, offer, message] of bad) t.throws(() => ext(value, offer), message, value)
})

t.test('offers and options', async (t) => {
  t.equal(deflateOffer({}), 'permessage-deflate; client_max_window_bits')
  t.equal(deflateOffer({ clientMaxWindowBits: false }), 'permessage-deflate')
  t.equal(
    deflateOffer({ serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 12 }),
    'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12',
  )
  t.equal(resolveDeflateOptions(undefined), null)
  t.equal(resolveDeflateOptions(false), null)
  t.same(resolveDeflateOptions(true), { offer: {}, threshold: 1024, level: undefined })
  t.same(resolveDeflateOptions({ threshold: 0, level: 1 }), { offer: { threshold: 0, level: 1 }, threshold: 0, level: 1 })
  for (const bad of [
    { serverMaxWindowBits: 7 },
    { serverMaxWindowBits: 16 },
    { clientMaxWindowBits: 8 },
    { clientMaxWindowBits: 9.5 },
    { threshold: -1 },
    { level: 10 },
  ]) {
    t.throws(() => resolveDeflateOptions(bad), { code: 'WP_INVALID_ARG' }, JSON.stringify(bad))
  }
  t.throws(() => resolveDeflateOptions('yes' as unknown as boolean), { code: 'WP_INVALID_ARG' })

  t.same(normalizeProtocols(undefined), [])
  t.same(normalizeProtocols('chat'), ['chat'])
  t.same(normalizeProtocols(['a', 'b.c']), ['a', 'b.c'])
  t.throws(() => normalizeProtocols(['']), { code: 'WP_INVALID_ARG' })
  t.throws(() => normalizeProtocols(['a,b']), { code: 'WP_INVALID_ARG' })
  t.throws(() => normalizeProtocols(['x', 'x']), { code: 'WP_INVALID_ARG' })
})
