/**
 * The event classes a WebSocket dispatches beyond MessageEvent (a Node 20 global): Node 20
 * has no global CloseEvent or ErrorEvent (WHATWG HTML §9.3.4, §8.1.8.2), so these carry the
 * same fields under the same names.
 */
import type { WirepoolError } from '../errors.js'

export interface CloseEventInit {
  code: number
  reason: string
  wasClean: boolean
}

/** WHATWG `CloseEvent`: the connection is closed (RFC 6455 §7.1.4, §7.1.5, §7.1.6). */
export class CloseEvent extends Event {
  readonly code: number
  readonly reason: string
  readonly wasClean: boolean
  constructor(type: string, init: CloseEventInit) {
    super(type)
    this.code = init.code
    this.reason = init.reason
    this.wasClean = init.wasClean
  }
}

/** WHATWG `ErrorEvent` shape, with the WirepoolError that says what went wrong. */
export class ErrorEvent extends Event {
  readonly error: WirepoolError
  readonly message: string
  constructor(type: string, error: WirepoolError) {
    super(type)
    this.error = error
    this.message = error.message
  }
}
