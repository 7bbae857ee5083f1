/**
 * Our SETTINGS frames and their acknowledgements (RFC 9113 §6.5.3): each frame we send is
 * acknowledged by the peer in order; one timer watches the oldest unacknowledged one. "If
 * the sender of a SETTINGS frame does not receive an acknowledgment within a reasonable
 * amount of time, it MAY issue a connection error of type SETTINGS_TIMEOUT" — `onTimeout`.
 */
import type { BatchWriter } from '../batch-writer.js'
import { type SettingsEntry } from './frame.js'
import { encodeSettings } from './frame-writer.js'

export class SettingsAcks {
  readonly #writer: BatchWriter
  /** How long the peer has to acknowledge (ms); 0 or non-finite: no limit. */
  readonly #timeoutMs: number
  readonly #onTimeout: () => void
  #unacked = 0
  #timer: NodeJS.Timeout | undefined = undefined

  constructor(writer: BatchWriter, timeoutMs: number, onTimeout: () => void) {
    this.#writer = writer
    this.#timeoutMs = timeoutMs
    this.#onTimeout = onTimeout
  }

  send(entries: readonly SettingsEntry[]): void {
    this.#writer.push(encodeSettings(entries))
    this.#unacked++
    if (this.#timer === undefined && this.#timeoutMs > 0 && Number.isFinite(this.#timeoutMs)) {
      this.#timer = setTimeout(this.#expired, this.#timeoutMs)
      this.#timer.unref()
    }
  }

  /** The ACK confirms our oldest unacknowledged SETTINGS; the next one gets a full timeout. */
  acked(): void {
    if (this.#unacked > 0) this.#unacked--
    if (this.#timer === undefined) return
    if (this.#unacked === 0) {
      clearTimeout(this.#timer)
      this.#timer = undefined
    } else {
      this.#timer.refresh()
    }
  }

  /** The connection closed. */
  stop(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
  }

  #expired = (): void => {
    this.#timer = undefined
    if (this.#unacked > 0) this.#onTimeout()
  }
}
