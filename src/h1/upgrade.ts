/**
 * The end of HTTP/1.1 on a connection: a 101 to our Upgrade request (RFC 9110 §15.2.2) or
 * a 2xx to our CONNECT (RFC 9112 §6.3 rule 2) gives the socket, with the bytes that came
 * after the head, to the request's handler. `H1Connection` has stepped aside before this.
 */
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { AbortedError, InvalidArgumentError, WirepoolError } from '../errors.js'
import { rawHeadersToRecord } from '../http/headers.js'
import type { Exchange } from './exchange.js'
import type { ResponseHead } from './parser-events.js'

/**
 * Hand `socket` to `ex.handler.onUpgrade`. If the handler has none, or it throws, the
 * socket is destroyed, the handler's onError hears why, and the error is returned (what
 * the connection's 'close' carries); undefined when the new owner took the socket.
 */
export function deliverSocket(ex: Exchange, head: ResponseHead, socket: Socket, rest: Uint8Array, origin: string): WirepoolError | undefined {
  const onUpgrade = ex.handler.onUpgrade
  try {
    if (onUpgrade === undefined) throw new InvalidArgumentError('101 Switching Protocols but the handler has no onUpgrade')
    onUpgrade.call(ex.handler, head.statusCode, rawHeadersToRecord(head.rawHeaders), socket as Duplex, rest)
    return undefined
  } catch (err) {
    socket.destroy()
    const error = err instanceof WirepoolError ? err : new AbortedError('request handler threw in onUpgrade', { cause: err, origin })
    if (error.origin === undefined) error.origin = origin
    try {
      ex.handler.onError(error)
    } catch {
      // Nothing is left to tell: the handler failed while being told of its own failure.
    }
    return error
  }
}
