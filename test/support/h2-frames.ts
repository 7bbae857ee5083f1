/**
 * Raw HTTP/2 frames for tests: a 9-octet header (RFC 9113 §4.1) with any field values at all,
 * then the payload as given — for the frames the frame.ts encoders refuse to build.
 */
import { FRAME_HEADER_LENGTH } from '../../src/h2/frame.js'
import { writeFrameHeader } from '../../src/h2/frame-writer.js'

/**
 * A frame header plus payload. `length` overrides the header's Length field (default: the
 * payload's length), for frames whose header promises octets that are not there.
 */
export function rawFrame(
  type: number,
  flags: number,
  streamId: number,
  payload: Uint8Array | readonly number[] = [],
  length: number = payload.length,
): Buffer {
  const frame = Buffer.alloc(FRAME_HEADER_LENGTH + payload.length)
  // writeFrameHeader writes the 32-bit stream field as given: the reserved bit can be set too.
  writeFrameHeader(frame, 0, length, type, flags, streamId >>> 0)
  frame.set(payload, FRAME_HEADER_LENGTH)
  return frame
}
