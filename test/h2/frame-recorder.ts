/**
 * A FrameHandler for tests: every call becomes a plain record, views copied into fresh Buffers
 * so that records from different feedings of the same bytes compare with `t.same`.
 */
import { FrameReader } from '../../src/h2/frame-reader.js'
import type { SettingsEntry } from '../../src/h2/frame.js'
import type { FrameHandler, FrameReaderOptions, Priority } from '../../src/h2/frame-reader.js'
import type { H2ProtocolError } from '../../src/errors.js'

export type FrameRecord =
  | { kind: 'data'; streamId: number; flags: number; data: Buffer; flowControlledLength: number }
  | { kind: 'headers'; streamId: number; flags: number; fragment: Buffer; priority: Priority | undefined }
  | { kind: 'priority'; streamId: number; priority: Priority }
  | { kind: 'rst_stream'; streamId: number; errorCode: number }
  | { kind: 'settings'; ack: boolean; settings: SettingsEntry[] }
  | { kind: 'push_promise'; streamId: number; flags: number; promisedStreamId: number; fragment: Buffer }
  | { kind: 'ping'; ack: boolean; opaque: Buffer }
  | { kind: 'goaway'; lastStreamId: number; errorCode: number; debugData: Buffer }
  | { kind: 'window_update'; streamId: number; increment: number }
  | { kind: 'continuation'; streamId: number; flags: number; fragment: Buffer }
  | { kind: 'unknown'; type: number; flags: number; streamId: number; payload: Buffer }
  | { kind: 'stream_error'; streamId: number; h2Code: number; h2CodeName: string }

export class FrameRecorder implements FrameHandler {
  readonly records: FrameRecord[] = []
  /** The views exactly as the reader handed them out (for zero-copy checks). */
  readonly views: Uint8Array[] = []

  onData(streamId: number, flags: number, data: Uint8Array, flowControlledLength: number): void {
    this.views.push(data)
    this.records.push({ kind: 'data', streamId, flags, data: Buffer.from(data), flowControlledLength })
  }
  onHeaders(streamId: number, flags: number, fragment: Uint8Array, priority: Priority | undefined): void {
    this.views.push(fragment)
    this.records.push({ kind: 'headers', streamId, flags, fragment: Buffer.from(fragment), priority })
  }
  onPriority(streamId: number, priority: Priority): void {
    this.records.push({ kind: 'priority', streamId, priority })
  }
  onRstStream(streamId: number, errorCode: number): void {
    this.records.push({ kind: 'rst_stream', streamId, errorCode })
  }
  onSettings(ack: boolean, settings: readonly SettingsEntry[]): void {
    this.records.push({ kind: 'settings', ack, settings: [...settings] })
  }
  onPushPromise(streamId: number, flags: number, promisedStreamId: number, fragment: Uint8Array): void {
    this.views.push(fragment)
    this.records.push({ kind: 'push_promise', streamId, flags, promisedStreamId, fragment: Buffer.from(fragment) })
  }
  onPing(ack: boolean, opaque: Uint8Array): void {
    this.views.push(opaque)
    this.records.push({ kind: 'ping', ack, opaque: Buffer.from(opaque) })
  }
  onGoaway(lastStreamId: number, errorCode: number, debugData: Uint8Array): void {
    this.views.push(debugData)
    this.records.push({ kind: 'goaway', lastStreamId, errorCode, debugData: Buffer.from(debugData) })
  }
  onWindowUpdate(streamId: number, increment: number): void {
    this.records.push({ kind: 'window_update', streamId, increment })
  }
  onContinuation(streamId: number, flags: number, fragment: Uint8Array): void {
    this.views.push(fragment)
    this.records.push({ kind: 'continuation', streamId, flags, fragment: Buffer.from(fragment) })
  }
  onUnknown(type: number, flags: number, streamId: number, payload: Uint8Array): void {
    this.views.push(payload)
    this.records.push({ kind: 'unknown', type, flags, streamId, payload: Buffer.from(payload) })
  }
  onStreamError(error: H2ProtocolError): void {
    this.records.push({ kind: 'stream_error', streamId: error.streamId, h2Code: error.h2Code, h2CodeName: error.h2CodeName })
  }
}

/** What feeding `bytes` in pieces cut at `cuts` produced: the records, and the error thrown (if any). */
export function feed(
  bytes: Uint8Array,
  cuts: readonly number[] = [],
  options: FrameReaderOptions = {},
): { records: FrameRecord[]; error: unknown; reader: FrameReader; recorder: FrameRecorder } {
  const recorder = new FrameRecorder()
  const reader = new FrameReader(recorder, options)
  let error: unknown = undefined
  let at = 0
  try {
    for (const cut of [...cuts, bytes.length]) {
      reader.push(bytes.subarray(at, cut))
      at = cut
    }
  } catch (err) {
    error = err
  }
  return { records: recorder.records, error, reader, recorder }
}
