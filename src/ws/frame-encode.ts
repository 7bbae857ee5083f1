/**
 * Sans-I/O RFC 6455 frame writer for the client side, and payload masking.
 *
 * RFC 6455 §5.3: every frame a client sends is masked with a fresh 32-bit key "derived from
 * a strong source of entropy", so that a hostile script cannot choose the bytes a proxy
 * sees on the wire. Keys come from node:crypto, fetched in batches into a pool so that a
 * frame does not cost a syscall.
 */
import { randomFillSync } from 'node:crypto'
import { InvalidArgumentError } from '../errors.js'
import { isValidCloseCode, Opcode } from './frame.js'

export interface EncodeFrameOptions {
  /** Last frame of its message (§5.2 FIN). Default true. Control frames must be final. */
  fin?: boolean
  /** permessage-deflate "Per-Message Compressed" bit (RFC 7692 §6); first data frame only. Default false. */
  rsv1?: boolean
  /**
   * Mask the payload (§5.3). Default true: a client MUST mask every frame. `false` writes a
   * server-style frame (for a test peer or a server), which a server must reject from a client.
   */
  mask?: boolean
}

const OPCODES: ReadonlySet<number> = new Set(Object.values(Opcode))
/** §5.5: control frames carry at most 125 bytes. */
const MAX_CONTROL_PAYLOAD = 125
/** §5.5.1: a Close body is a 2-byte code plus a reason, within the 125-byte control limit. */
const MAX_CLOSE_REASON = MAX_CONTROL_PAYLOAD - 2

/** Mask keys are taken 4 bytes at a time from this many random bytes (one randomFillSync per 2048 frames). */
const KEY_POOL_SIZE = 8192
let keyPool: Uint8Array | undefined
let keyPoolPos = KEY_POOL_SIZE

/** Write a fresh mask key into target[at..at+4]. */
function writeMaskKey(target: Uint8Array, at: number): void {
  if (keyPoolPos === KEY_POOL_SIZE) {
    keyPool ??= new Uint8Array(KEY_POOL_SIZE)
    randomFillSync(keyPool)
    keyPoolPos = 0
  }
  const pool = keyPool as Uint8Array
  target[at] = pool[keyPoolPos] as number
  target[at + 1] = pool[keyPoolPos + 1] as number
  target[at + 2] = pool[keyPoolPos + 2] as number
  target[at + 3] = pool[keyPoolPos + 3] as number
  keyPoolPos += 4
}

/**
 * Encode one frame: header, then the (masked) payload, in one buffer. A string payload is
 * written as UTF-8 straight into the frame. Throws InvalidArgumentError for a reserved
 * opcode or a control frame that breaks §5.5 (over 125 bytes, not final, RSV1 set).
 */
export function encodeFrame(opcode: Opcode, payload: Uint8Array | string, options?: EncodeFrameOptions): Buffer {
  // No options object is made per frame for the common case (a final, masked, uncompressed frame).
  const fin = options?.fin ?? true
  const rsv1 = options?.rsv1 ?? false
  const masked = options?.mask ?? true
  if (!OPCODES.has(opcode)) {
    throw new InvalidArgumentError(`not a WebSocket opcode: ${String(opcode)}`)
  }
  const length = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length
  if (opcode >= Opcode.CLOSE) {
    if (length > MAX_CONTROL_PAYLOAD) throw new InvalidArgumentError(`control frame payload of ${length} bytes (max 125)`)
    if (!fin) throw new InvalidArgumentError('control frames cannot be fragmented')
  }
  if (rsv1 && opcode !== Opcode.TEXT && opcode !== Opcode.BINARY) {
    // RFC 7692 §6.1: only the first frame of a data message carries the compressed bit.
    throw new InvalidArgumentError('RSV1 is only set on the first frame of a data message')
  }

  const frame = Buffer.allocUnsafe(frameLength(length, masked))
  writeFrame(frame, 0, (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode, payload, length, masked)
  return frame
}

/** Bytes of a frame carrying `length` payload bytes: header (§5.2), mask key, payload. */
export function frameLength(length: number, masked = true): number {
  return 2 + (length < 126 ? 0 : length <= 0xffff ? 2 : 8) + (masked ? 4 : 0) + length
}

/**
 * A final, masked, uncompressed data frame written into `target` at `at` (the caller checked
 * the opcode and that `frameLength(length)` bytes fit); returns the offset after it. The
 * WebSocket encodes a burst of small messages into one buffer this way: one write and no
 * Buffer per message.
 */
export function writeDataFrame(target: Buffer, at: number, opcode: Opcode, payload: Uint8Array | string, length: number): number {
  return writeFrame(target, at, 0x80 | opcode, payload, length, true)
}

function writeFrame(frame: Buffer, at: number, firstByte: number, payload: Uint8Array | string, length: number, masked: boolean): number {
  // §5.2: the minimal length encoding, 7, 16 or 64 bits.
  const lengthBytes = length < 126 ? 0 : length <= 0xffff ? 2 : 8
  const payloadAt = at + 2 + lengthBytes + (masked ? 4 : 0)
  frame[at] = firstByte
  if (lengthBytes === 0) {
    frame[at + 1] = length
  } else if (lengthBytes === 2) {
    frame[at + 1] = 126
    frame.writeUInt16BE(length, at + 2)
  } else {
    frame[at + 1] = 127
    // 2^53 bounds any JS length, so the high word's most significant bit is 0 as §5.2 requires.
    frame.writeUInt32BE(Math.floor(length / 0x1_0000_0000), at + 2)
    frame.writeUInt32BE(length >>> 0, at + 6)
  }
  if (masked) {
    frame[at + 1] = (frame[at + 1] as number) | 0x80
    writeMaskKey(frame, payloadAt - 4)
  }

  if (typeof payload === 'string') {
    frame.write(payload, payloadAt, 'utf8')
    if (masked) maskFrame(frame, payloadAt, frame, payloadAt, length)
  } else if (masked) {
    maskFrame(payload, 0, frame, payloadAt, length)
  } else {
    frame.set(payload, payloadAt)
  }
  return payloadAt + length
}

/**
 * Mask `length` bytes of `source` from `sourceAt` into `frame` at `payloadAt`, with the key
 * already written in the 4 bytes before `payloadAt`. Small payloads (most chat or RPC
 * messages) are XORed here with the key in locals: a key view (one object per frame) would
 * cost more than the XOR itself.
 */
function maskFrame(source: Uint8Array, sourceAt: number, frame: Buffer, payloadAt: number, length: number): void {
  if (length >= WORD_MIN_BYTES) {
    mask(source, frame.subarray(payloadAt - 4, payloadAt), frame, payloadAt, length, sourceAt)
    return
  }
  const k0 = frame[payloadAt - 4] as number
  const k1 = frame[payloadAt - 3] as number
  const k2 = frame[payloadAt - 2] as number
  const k3 = frame[payloadAt - 1] as number
  let i = 0
  for (; i + 4 <= length; i += 4) {
    frame[payloadAt + i] = (source[sourceAt + i] as number) ^ k0
    frame[payloadAt + i + 1] = (source[sourceAt + i + 1] as number) ^ k1
    frame[payloadAt + i + 2] = (source[sourceAt + i + 2] as number) ^ k2
    frame[payloadAt + i + 3] = (source[sourceAt + i + 3] as number) ^ k3
  }
  if (i < length) frame[payloadAt + i] = (source[sourceAt + i] as number) ^ k0
  if (i + 1 < length) frame[payloadAt + i + 1] = (source[sourceAt + i + 1] as number) ^ k1
  if (i + 2 < length) frame[payloadAt + i + 2] = (source[sourceAt + i + 2] as number) ^ k2
}

/**
 * Encode a Close frame (§5.5.1). No code: an empty body (the peer reports 1005). A code must
 * be one a Close frame may carry (1000–1003, 1007–1014, 3000–4999; never 1005, 1006 or
 * 1015, §7.4.1), and the reason at most 123 bytes of UTF-8.
 */
export function encodeClose(code?: number, reason = '', options: Pick<EncodeFrameOptions, 'mask'> = {}): Buffer {
  if (code === undefined) {
    if (reason !== '') throw new InvalidArgumentError('a close reason needs a close code')
    return encodeFrame(Opcode.CLOSE, new Uint8Array(0), options)
  }
  if (!Number.isInteger(code) || !isValidCloseCode(code)) {
    throw new InvalidArgumentError(`close code ${code} cannot be sent (valid: 1000-1003, 1007-1014, 3000-4999)`)
  }
  const reasonLength = Buffer.byteLength(reason)
  if (reasonLength > MAX_CLOSE_REASON) {
    throw new InvalidArgumentError(`close reason of ${reasonLength} bytes (max ${MAX_CLOSE_REASON})`)
  }
  const body = Buffer.allocUnsafe(2 + reasonLength)
  body.writeUInt16BE(code, 0)
  body.write(reason, 2, 'utf8')
  return encodeFrame(Opcode.CLOSE, body, options)
}

/** Below this, setting up word views costs more than it saves. */
const WORD_MIN_BYTES = 32
/** The mask key, rotated to the word boundary, read as one native-endian 32-bit word. */
const keyBytes = new Uint8Array(4)
const keyWord = new Uint32Array(keyBytes.buffer)

/**
 * target[offset + i] = source[sourceOffset + i] ^ maskKey[i % 4] for i < length (§5.3).
 * source and target may be the same memory at the same position (in-place); other overlaps
 * are not supported. Long runs are XORed a 32-bit word at a time: byte order does not
 * matter because key and data are read through views of the same endianness.
 */
export function mask(
  source: Uint8Array,
  maskKey: Uint8Array,
  target: Uint8Array,
  offset: number,
  length: number,
  sourceOffset = 0,
): void {
  if (maskKey.length < 4) throw new InvalidArgumentError('a mask key is 4 bytes')
  if (length < 0 || sourceOffset < 0 || offset < 0 || sourceOffset + length > source.length || offset + length > target.length) {
    throw new InvalidArgumentError('mask range outside the source or target')
  }
  if (length < WORD_MIN_BYTES) {
    maskBytes(source, sourceOffset, maskKey, target, offset, 0, length)
    return
  }

  let src = source
  let srcAt = sourceOffset
  const targetAddress = target.byteOffset + offset
  if (((source.byteOffset + sourceOffset) & 3) !== (targetAddress & 3)) {
    // Different alignments: copy first (memcpy), then mask in place where both agree.
    target.set(source.subarray(sourceOffset, sourceOffset + length), offset)
    src = target
    srcAt = offset
  }
  // Bytes up to the first 4-byte boundary, then whole words, then the tail.
  const head = (4 - (targetAddress & 3)) & 3
  maskBytes(src, srcAt, maskKey, target, offset, 0, head)
  const words = (length - head) >>> 2
  keyBytes[0] = maskKey[head & 3] as number
  keyBytes[1] = maskKey[(head + 1) & 3] as number
  keyBytes[2] = maskKey[(head + 2) & 3] as number
  keyBytes[3] = maskKey[(head + 3) & 3] as number
  const key = keyWord[0] as number
  const out = new Uint32Array(target.buffer, targetAddress + head, words)
  const data = src === target ? out : new Uint32Array(src.buffer, src.byteOffset + srcAt + head, words)
  for (let w = 0; w < words; w++) out[w] = (data[w] as number) ^ key
  const done = head + words * 4
  maskBytes(src, srcAt, maskKey, target, offset, done, length)
}

/** Unmask (or mask) a buffer in place: the XOR is its own inverse. */
export function unmask(buffer: Uint8Array, maskKey: Uint8Array): void {
  mask(buffer, maskKey, buffer, 0, buffer.length)
}

/** The byte loop for payload positions [from, to); `i & 3` picks the key byte. */
function maskBytes(
  source: Uint8Array,
  sourceAt: number,
  maskKey: Uint8Array,
  target: Uint8Array,
  targetAt: number,
  from: number,
  to: number,
): void {
  for (let i = from; i < to; i++) {
    target[targetAt + i] = (source[sourceAt + i] as number) ^ (maskKey[i & 3] as number)
  }
}
