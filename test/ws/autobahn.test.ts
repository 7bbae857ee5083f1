/**
 * Autobahn|Testsuite, client side, sections 1–7 and 9, replayed by a small scripted peer.
 *
 * The real fuzzing server cannot run here (../shared/corpus/autobahn-testsuite/SOURCE.md:
 * Python 2 only, no Docker Hub), so each case of cases.json that can be expressed as "the
 * server sends X, the client must echo / answer / close with Y" is written out below from
 * its DESCRIPTION and EXPECTATION; the 6.5–6.23 UTF-8 cases come from utf8-sequences.json.
 * The client under test is our WebSocket running the fuzzing-server protocol's echo agent:
 * every message is sent back with its type. A case passes when the frames the peer sees
 * match the expectation and the client reports exactly one close event.
 */
import t from 'tap'
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Agent } from '../../src/pool/agent.js'
import { WebSocket } from '../../src/ws/websocket.js'
import { CloseEvent } from '../../src/ws/events.js'
import { startRawPeer, type ClientFrame, type PeerConnection, type RawPeer } from './raw-peer.js'
import { corpusMissing, corpusUrl } from '../support/corpus.js'

const CORPUS = fileURLToPath(corpusUrl('autobahn-testsuite/'))

interface CaseEntry {
  case: string
  description: string
  expectation: string
  in_default_run: boolean
}
interface Utf8Entry {
  case: string
  valid: boolean
  hex: string
}

const TEXT = 0x1
const BINARY = 0x2
const CLOSE = 0x8
const PING = 0x9
const PONG = 0xa

/** A server frame (unmasked) with any header bits, including reserved ones. */
function sf(opcode: number, payload: Uint8Array | string = '', options: { fin?: boolean; rsv?: number } = {}): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload) : Buffer.from(payload)
  const b0 = ((options.fin ?? true) ? 0x80 : 0) | ((options.rsv ?? 0) << 4) | opcode
  let head: Buffer
  if (data.length < 126) head = Buffer.from([b0, data.length])
  else if (data.length <= 0xffff) {
    head = Buffer.from([b0, 126, 0, 0])
    head.writeUInt16BE(data.length, 2)
  } else {
    head = Buffer.from([b0, 127, 0, 0, 0, 0, 0, 0, 0, 0])
    head.writeUInt32BE(Math.floor(data.length / 2 ** 32), 2)
    head.writeUInt32BE(data.length >>> 0, 6)
  }
  return Buffer.concat([head, data])
}

function closeFrame(code: number, reason: string | Buffer = ''): Buffer {
  const body = Buffer.concat([Buffer.from([code >> 8, code & 0xff]), typeof reason === 'string' ? Buffer.from(reason) : reason])
  return sf(CLOSE, body)
}

class CaseFailure extends Error {}

function check(cond: boolean, message: string): asserts cond {
  if (!cond) throw new CaseFailure(message)
}

function describe(f: ClientFrame | null): string {
  if (f === null) return 'TCP end'
  const code = f.opcode === CLOSE && f.payload.length >= 2 ? ` code ${f.payload.readUInt16BE(0)}` : ''
  return `opcode ${f.opcode} (${f.payload.length} bytes)${code}`
}

async function expectMessage(p: PeerConnection, opcode: number, payload: Buffer | string): Promise<void> {
  const f = await p.nextMessage()
  const want = typeof payload === 'string' ? Buffer.from(payload) : payload
  check(f !== null && f.opcode === opcode, `expected an echo with opcode ${opcode}, got ${describe(f)}`)
  check(f.masked, 'client frame not masked')
  check(f.payload.equals(want), `echo payload differs (${f.payload.length} vs ${want.length} bytes)`)
}

async function expectPong(p: PeerConnection, payload: Buffer | string): Promise<void> {
  const f = await p.next()
  check(f !== null && f.opcode === PONG, `expected a pong, got ${describe(f)}`)
  check(f.payload.equals(typeof payload === 'string' ? Buffer.from(payload) : payload), 'pong payload differs')
}

/** The connection fails: the next frame is a Close with one of `codes` (or TCP simply ends). */
async function expectFail(p: PeerConnection, codes: number[]): Promise<void> {
  const f = await p.next()
  if (f === null) return
  check(f.opcode === CLOSE, `expected the connection to fail, got ${describe(f)}`)
  const code = f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005
  check(codes.includes(code), `expected close code ${codes.join('/')}, got ${code}`)
  const after = await p.next()
  check(after === null, `frame after the Close: ${describe(after)}`)
}

/** Clean close initiated by the server: Close(1000) → the client echoes Close with `codes` and nothing else. */
async function closeNormally(p: PeerConnection, frame = closeFrame(1000), codes = [1000]): Promise<void> {
  p.send(frame)
  await expectClientClose(p, codes)
}

async function expectClientClose(p: PeerConnection, codes: number[]): Promise<void> {
  const f = await p.next()
  check(f !== null && f.opcode === CLOSE, `expected a Close, got ${describe(f)}`)
  const code = f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005
  check(codes.includes(code), `expected close code ${codes.join('/')}, got ${code}`)
  const after = await p.next()
  check(after === null, `frame after the Close: ${describe(after)}`)
}

type Script = (p: PeerConnection) => Promise<void>

function bytes(n: number, fill = 0xfe): Buffer {
  return Buffer.alloc(n, fill)
}
function text(n: number): string {
  return '*'.repeat(n)
}

/** Send a frame sequence, each frame its own write ('frame'), in 1-byte writes ('octet') or as one write ('one'). */
function sendAll(p: PeerConnection, frames: Buffer[], mode: 'one' | 'frame' | 'octet' = 'frame'): void {
  if (mode === 'one') p.send(Buffer.concat(frames))
  else for (const f of frames) p.send(f, mode === 'octet' ? 1 : undefined)
}

const echoCase = (opcode: number, payload: Buffer | string, chop?: number): Script => async (p) => {
  p.send(sf(opcode, payload), chop)
  await expectMessage(p, opcode, payload)
  await closeNormally(p)
}

function buildCases(catalogue: CaseEntry[], utf8: Utf8Entry[]): Map<string, Script> {
  const cases = new Map<string, Script>()
  const add = (id: string, s: Script): void => {
    cases.set(id, s)
  }

  // 1 Framing: text and binary of lengths around each length-encoding boundary.
  const sizes = [0, 125, 126, 127, 128, 65535, 65536]
  sizes.forEach((n, i) => {
    add(`1.1.${i + 1}`, echoCase(TEXT, text(n)))
    add(`1.2.${i + 1}`, echoCase(BINARY, bytes(n)))
  })
  add('1.1.8', echoCase(TEXT, text(65536), 997))
  add('1.2.8', echoCase(BINARY, bytes(65536), 997))

  // 2 Ping/Pong.
  const pingCase = (payload: Buffer | string, chop?: number): Script => async (p) => {
    p.send(sf(PING, payload), chop)
    await expectPong(p, payload)
    await closeNormally(p)
  }
  add('2.1', pingCase(''))
  add('2.2', pingCase('Hello, world!'))
  add('2.3', pingCase(Buffer.from([0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff])))
  add('2.4', pingCase(bytes(125)))
  add('2.5', async (p) => {
    p.send(sf(PING, bytes(126)))
    await expectFail(p, [1002])
  })
  add('2.6', pingCase(bytes(125), 1))
  add('2.7', async (p) => {
    p.send(sf(PONG))
    await closeNormally(p)
  })
  add('2.8', async (p) => {
    p.send(sf(PONG, 'unsolicited pong payload'))
    await closeNormally(p)
  })
  add('2.9', async (p) => {
    p.send(sf(PONG, 'unsolicited pong payload'))
    p.send(sf(PING, 'ping payload'))
    await expectPong(p, 'ping payload')
    await closeNormally(p)
  })
  for (const [id, chop] of [['2.10', undefined], ['2.11', 1]] as const) {
    add(id, async (p) => {
      for (let i = 0; i < 10; i++) p.send(sf(PING, `payload-${i}`), chop)
      for (let i = 0; i < 10; i++) await expectPong(p, `payload-${i}`)
      await closeNormally(p)
    })
  }

  // 3 Reserved bits: fail; when a valid message comes first it is echoed, a later ping is not answered.
  add('3.1', async (p) => {
    p.send(sf(TEXT, 'Hello, world!', { rsv: 1 }))
    await expectFail(p, [1002])
  })
  for (const [id, rsv, mode] of [['3.2', 2, 'one'], ['3.3', 3, 'frame'], ['3.4', 4, 'octet']] as const) {
    add(id, async (p) => {
      sendAll(p, [sf(TEXT, 'Hello, world!'), sf(TEXT, 'Hello, world!', { rsv }), sf(PING)], mode)
      await expectMessage(p, TEXT, 'Hello, world!')
      await expectFail(p, [1002])
    })
  }
  add('3.5', async (p) => {
    p.send(sf(BINARY, bytes(10), { rsv: 5 }))
    await expectFail(p, [1002])
  })
  add('3.6', async (p) => {
    p.send(sf(PING, 'Hello, world!', { rsv: 6 }))
    await expectFail(p, [1002])
  })
  add('3.7', async (p) => {
    p.send(Buffer.concat([Buffer.from([0x80 | (7 << 4) | CLOSE, 2]), Buffer.from([0x03, 0xe8])]))
    await expectFail(p, [1002])
  })

  // 4 Opcodes: reserved non-control 3–7 and control 11–15.
  const opcodeCases: [string, number, boolean][] = [
    ['4.1.1', 3, false], ['4.1.2', 4, false], ['4.1.3', 5, true], ['4.1.4', 6, true], ['4.1.5', 7, true],
    ['4.2.1', 11, false], ['4.2.2', 12, false], ['4.2.3', 13, true], ['4.2.4', 14, true], ['4.2.5', 15, true],
  ]
  for (const [id, opcode, withEcho] of opcodeCases) {
    add(id, async (p) => {
      if (withEcho) p.send(sf(TEXT, 'Hello, world!'))
      p.send(sf(opcode, id.endsWith('.1') ? '' : 'reserved opcode payload'))
      if (withEcho) p.send(sf(PING))
      if (withEcho) await expectMessage(p, TEXT, 'Hello, world!')
      await expectFail(p, [1002])
    })
  }

  // 5 Fragmentation.
  add('5.1', async (p) => {
    sendAll(p, [sf(PING, 'fragment1', { fin: false }), sf(0, 'fragment2')])
    await expectFail(p, [1002])
  })
  add('5.2', async (p) => {
    sendAll(p, [sf(PONG, 'fragment1', { fin: false }), sf(0, 'fragment2')])
    await expectFail(p, [1002])
  })
  const fragmented = [sf(TEXT, 'fragment1', { fin: false }), sf(0, 'fragment2')]
  ;(['one', 'frame', 'octet'] as const).forEach((mode, i) => {
    add(`5.${3 + i}`, async (p) => {
      sendAll(p, fragmented, mode)
      await expectMessage(p, TEXT, 'fragment1fragment2')
      await closeNormally(p)
    })
    add(`5.${6 + i}`, async (p) => {
      sendAll(p, [sf(TEXT, 'fragment1', { fin: false }), sf(PING, 'pongme!'), sf(0, 'fragment2')], mode)
      await expectPong(p, 'pongme!')
      await expectMessage(p, TEXT, 'fragment1fragment2')
      await closeNormally(p)
    })
    add(`5.${9 + i}`, async (p) => {
      sendAll(p, [sf(0, 'non-continuation payload'), sf(TEXT, 'Hello, world!')], mode)
      await expectFail(p, [1002])
    })
    add(`5.${12 + i}`, async (p) => {
      sendAll(p, [sf(0, 'non-continuation payload', { fin: false }), sf(TEXT, 'Hello, world!')], mode)
      await expectFail(p, [1002])
    })
  })
  add('5.15', async (p) => {
    sendAll(p, [sf(TEXT, 'fragment1', { fin: false }), sf(0, 'fragment2'), sf(0, 'fragment3', { fin: false }), sf(TEXT, 'fragment4')], 'one')
    await expectMessage(p, TEXT, 'fragment1fragment2')
    await expectFail(p, [1002])
  })
  for (const [id, fin] of [['5.16', false], ['5.17', true]] as const) {
    add(id, async (p) => {
      const round = [sf(0, 'fragment1', { fin }), sf(TEXT, 'fragment2', { fin: false }), sf(0, 'fragment3')]
      sendAll(p, [...round, ...round])
      await expectFail(p, [1002])
    })
  }
  add('5.18', async (p) => {
    sendAll(p, [sf(TEXT, 'fragment1', { fin: false }), sf(TEXT, 'fragment2')], 'one')
    await expectFail(p, [1002])
  })
  for (const id of ['5.19', '5.20']) {
    add(id, async (p) => {
      // "The peer immediately answers the first Ping before it has received the last
      // fragment": the rest is sent only once that pong is in (no timed wait needed).
      sendAll(p, [sf(TEXT, 'frag1', { fin: false }), sf(0, 'frag2', { fin: false }), sf(PING, 'pongme 1!')])
      await expectPong(p, 'pongme 1!')
      sendAll(p, [sf(0, 'frag3', { fin: false }), sf(0, 'frag4', { fin: false }), sf(PING, 'pongme 2!'), sf(0, 'frag5')])
      await expectPong(p, 'pongme 2!')
      await expectMessage(p, TEXT, 'frag1frag2frag3frag4frag5')
      await closeNormally(p)
    })
  }

  // 6 UTF-8.
  add('6.1.1', echoCase(TEXT, ''))
  add('6.1.2', async (p) => {
    sendAll(p, [sf(TEXT, '', { fin: false }), sf(0, '', { fin: false }), sf(0, '')])
    await expectMessage(p, TEXT, '')
    await closeNormally(p)
  })
  add('6.1.3', async (p) => {
    sendAll(p, [sf(TEXT, '', { fin: false }), sf(0, 'middle frame payload', { fin: false }), sf(0, '')])
    await expectMessage(p, TEXT, 'middle frame payload')
    await closeNormally(p)
  })
  const hello = Buffer.from('Hello-µ@ßöäüàá-UTF-8!!')
  const kosme = Buffer.from('κόσμε')
  const octetFrames = (b: Buffer): Buffer[] =>
    [...b].map((byte, i) => sf(i === 0 ? TEXT : 0, Buffer.from([byte]), { fin: i === b.length - 1 }))
  add('6.2.1', echoCase(TEXT, hello))
  add('6.2.2', async (p) => {
    const cut = Buffer.from('Hello-µ@ßöäü').length // a code point boundary
    sendAll(p, [sf(TEXT, hello.subarray(0, cut), { fin: false }), sf(0, hello.subarray(cut))])
    await expectMessage(p, TEXT, hello)
    await closeNormally(p)
  })
  for (const [id, msg] of [['6.2.3', hello], ['6.2.4', kosme]] as const) {
    add(id, async (p) => {
      sendAll(p, octetFrames(msg))
      await expectMessage(p, TEXT, msg)
      await closeNormally(p)
    })
  }
  const invalid = Buffer.concat([kosme, Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('edited')])
  add('6.3.1', async (p) => {
    p.send(sf(TEXT, invalid))
    await expectFail(p, [1007])
  })
  add('6.3.2', async (p) => {
    sendAll(p, octetFrames(invalid))
    await expectFail(p, [1007])
  })
  // 6.4.x fail fast: PART3 is sent only after the client has failed on PART2, which it must
  // do without waiting for the end of the message.
  const parts41 = [kosme, Buffer.from([0xf4, 0x90, 0x80, 0x80]), Buffer.from('edited')]
  const parts42 = [Buffer.concat([kosme, Buffer.from([0xf4])]), Buffer.from([0x90]), Buffer.from([0x80, 0x80, 0x65, 0x64, 0x69, 0x74, 0x65, 0x64])]
  for (const [id, parts] of [['6.4.1', parts41], ['6.4.2', parts42]] as const) {
    add(id, async (p) => {
      p.send(sf(TEXT, parts[0] as Buffer, { fin: false }))
      p.send(sf(0, parts[1] as Buffer, { fin: false }))
      await expectFail(p, [1007])
      p.send(sf(0, parts[2] as Buffer))
    })
  }
  for (const [id, parts] of [['6.4.3', parts41], ['6.4.4', parts42]] as const) {
    add(id, async (p) => {
      const whole = sf(TEXT, Buffer.concat(parts))
      const headLength = 2
      const cut1 = headLength + (parts[0] as Buffer).length
      const cut2 = cut1 + (parts[1] as Buffer).length
      p.send(whole.subarray(0, cut1))
      p.send(whole.subarray(cut1, cut2))
      await expectFail(p, [1007])
      p.send(whole.subarray(cut2))
    })
  }
  for (const u of utf8) {
    const payload = Buffer.from(u.hex, 'hex')
    add(
      u.case,
      u.valid
        ? echoCase(TEXT, payload)
        : async (p) => {
            p.send(sf(TEXT, payload))
            await expectFail(p, [1007])
          },
    )
  }

  // 7 Close handling.
  add('7.1.1', async (p) => {
    p.send(sf(TEXT, 'Hello World!'))
    await expectMessage(p, TEXT, 'Hello World!')
    await closeNormally(p)
  })
  add('7.1.2', async (p) => {
    p.send(Buffer.concat([closeFrame(1000), closeFrame(1000)]))
    await expectClientClose(p, [1000])
  })
  add('7.1.3', async (p) => {
    p.send(Buffer.concat([closeFrame(1000), sf(PING, 'Hello World!')]))
    await expectClientClose(p, [1000])
  })
  add('7.1.4', async (p) => {
    p.send(Buffer.concat([closeFrame(1000), sf(TEXT, 'Hello World!')]))
    await expectClientClose(p, [1000])
  })
  add('7.1.5', async (p) => {
    p.send(Buffer.concat([sf(TEXT, 'fragment1', { fin: false }), closeFrame(1000), sf(0, 'fragment2')]))
    await expectClientClose(p, [1000])
  })
  add('7.1.6', async (p) => {
    // "Implementation defined": the echo of the 256 KiB message may come before the Close or not at all.
    const big = Buffer.from(text(256 * 1024))
    p.send(Buffer.concat([sf(TEXT, big), closeFrame(1000), sf(PING, 'Hello World!')]))
    let f = await p.next()
    if (f !== null && f.opcode === TEXT) {
      check(f.payload.equals(big), 'echo differs')
      f = await p.next()
    }
    check(f !== null && f.opcode === CLOSE && f.payload.readUInt16BE(0) === 1000, `expected Close 1000, got ${describe(f)}`)
    check((await p.next()) === null, 'frame after the Close')
  })
  add('7.3.1', (p) => closeNormally(p, sf(CLOSE), [1000, 1005]))
  add('7.3.2', async (p) => {
    p.send(sf(CLOSE, Buffer.from([0x03])))
    await expectFail(p, [1002])
  })
  add('7.3.3', (p) => closeNormally(p, closeFrame(1000)))
  add('7.3.4', (p) => closeNormally(p, closeFrame(1000, 'Hello World!')))
  add('7.3.5', (p) => closeNormally(p, closeFrame(1000, '*'.repeat(123))))
  add('7.3.6', async (p) => {
    p.send(closeFrame(1000, '*'.repeat(124)))
    await expectFail(p, [1002])
  })
  add('7.5.1', async (p) => {
    p.send(closeFrame(1000, invalid))
    await expectFail(p, [1002, 1007])
  })
  const validCodes = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999]
  validCodes.forEach((code, i) => add(`7.7.${i + 1}`, (p) => closeNormally(p, closeFrame(code), [1000, code])))
  const invalidCodes = [0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999]
  invalidCodes.forEach((code, i) =>
    add(`7.9.${i + 1}`, async (p) => {
      p.send(closeFrame(code))
      await expectFail(p, [1002])
    }),
  )
  for (const [id, code] of [['7.13.1', 5000], ['7.13.2', 65535]] as const) {
    // Undefined by the spec; we treat them as invalid codes. Any Close (or TCP end) passes.
    add(id, async (p) => {
      p.send(closeFrame(code))
      const f = await p.next()
      check(f === null || f.opcode === CLOSE, `expected a Close, got ${describe(f)}`)
    })
  }

  // 9 Limits: big messages, whole, fragmented and chopped, and 1000 round trips.
  const big = [64 * 1024, 256 * 1024, 1 << 20, 4 << 20, 8 << 20, 16 << 20]
  big.forEach((n, i) => {
    add(`9.1.${i + 1}`, echoCase(TEXT, text(n)))
    add(`9.2.${i + 1}`, echoCase(BINARY, bytes(n)))
  })
  const fragSizes = [64, 256, 1024, 4096, 16384, 65536, 262144, 1 << 20, 4 << 20]
  fragSizes.forEach((frag, i) => {
    for (const [section, opcode] of [['9.3', TEXT], ['9.4', BINARY]] as const) {
      add(`${section}.${i + 1}`, async (p) => {
        const data = opcode === TEXT ? Buffer.from(text(4 << 20)) : bytes(4 << 20)
        const frames: Buffer[] = []
        for (let at = 0; at < data.length; at += frag) {
          frames.push(sf(at === 0 ? opcode : 0, data.subarray(at, at + frag), { fin: at + frag >= data.length }))
        }
        p.send(Buffer.concat(frames))
        await expectMessage(p, opcode, data)
        await closeNormally(p)
      })
    }
  })
  ;[64, 128, 256, 512, 1024, 2048].forEach((chop, i) => {
    add(`9.5.${i + 1}`, echoCase(TEXT, text(1 << 20), chop))
    add(`9.6.${i + 1}`, echoCase(BINARY, bytes(1 << 20), chop))
  })
  ;[0, 16, 64, 256, 1024, 4096].forEach((n, i) => {
    for (const [section, opcode] of [['9.7', TEXT], ['9.8', BINARY]] as const) {
      add(`${section}.${i + 1}`, async (p) => {
        const payload = opcode === TEXT ? Buffer.from(text(n)) : bytes(n)
        for (let k = 0; k < 1000; k++) {
          p.send(sf(opcode, payload))
          await expectMessage(p, opcode, payload)
        }
        await closeNormally(p)
      })
    }
  })

  // Only ids the catalogue has, in its order.
  const ordered = new Map<string, Script>()
  for (const c of catalogue) {
    const s = cases.get(c.case)
    if (s !== undefined) ordered.set(c.case, s)
  }
  return ordered
}

/** Run one case: a fresh client running the echo agent against the scripted peer. */
async function runCase(peer: RawPeer, agent: Agent, script: Script): Promise<string | null> {
  const ws = new WebSocket(peer.url + '/runCase', { agent, closeTimeout: 5000 })
  ws.binaryType = 'nodebuffer'
  ws.addEventListener('message', (e) => ws.send((e as MessageEvent).data as string | Buffer))
  let closes = 0
  const closed = new Promise<CloseEvent>((resolve) =>
    ws.addEventListener('close', (e) => {
      closes++
      resolve(e as CloseEvent)
    }),
  )
  ws.addEventListener('error', () => {})
  const conn = await peer.connection()
  conn.accept()
  let failure: string | null = null
  try {
    await script(conn)
  } catch (err) {
    failure = err instanceof CaseFailure ? err.message : String(err)
  }
  // The fuzzing server closes TCP after the closing handshake (RFC 6455 §7.1.1).
  conn.socket.end()
  await closed
  if (failure === null && closes !== 1) failure = `${closes} close events`
  if (failure !== null && ws.readyState !== WebSocket.CLOSED) ws.close()
  return failure
}

if (!existsSync(CORPUS + 'cases.json')) {
  t.plan(0, corpusMissing('autobahn-testsuite/cases.json'))
} else {
  const catalogue = (JSON.parse(readFileSync(CORPUS + 'cases.json', 'utf8')) as { cases: CaseEntry[] }).cases
  const utf8 = (JSON.parse(readFileSync(CORPUS + 'utf8-sequences.json', 'utf8')) as { subcategories: { cases: Utf8Entry[] }[] })
    .subcategories.flatMap((s) => s.cases)
  const scripts = buildCases(catalogue, utf8)
  const inScope = catalogue.filter((c) => c.in_default_run && /^(1|2|3|4|5|6|7|9)\./.test(c.case))

  const totals = { run: 0, pass: 0 }
  for (const section of ['1', '2', '3', '4', '5', '6', '7', '9']) {
    t.test(`autobahn section ${section}`, { timeout: 120_000 }, async (t) => {
      const peer = await startRawPeer(t)
      const agent = new Agent({ retry: false })
      t.teardown(() => agent.destroy())
      const cases = inScope.filter((c) => c.case.startsWith(`${section}.`))
      let run = 0
      let pass = 0
      const failures: string[] = []
      const notExpressed: string[] = []
      for (const c of cases) {
        const script = scripts.get(c.case)
        if (script === undefined) {
          notExpressed.push(c.case)
          continue
        }
        run++
        const failure = await runCase(peer, agent, script)
        if (failure === null) pass++
        else failures.push(`${c.case}: ${failure}`)
      }
      totals.run += run
      totals.pass += pass
      t.comment(`autobahn: ${pass} pass of ${run} run (section ${section}, ${cases.length} cases in the catalogue)`)
      if (notExpressed.length > 0) t.comment(`not expressed: ${notExpressed.join(' ')}`)
      t.same(failures, [], `section ${section}: every case run passes`)
      t.ok(run > 0, 'some cases ran')
    })
  }
  // Subtests run in order, so the sections above are done when this one starts.
  t.test('autobahn total', async (t) => {
    t.comment(`autobahn: ${totals.pass} pass of ${totals.run} run (sections 1-7 and 9, of ${inScope.length} in the catalogue)`)
    t.equal(totals.pass, totals.run)
  })
}
