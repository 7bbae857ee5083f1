/**
 * The opening handshake's I/O: the HTTP/1.1 Upgrade (RFC 6455 §4.1), or the extended CONNECT
 * on an HTTP/2 connection whose peer allows it (RFC 8441 §4–5), dispatched through the pool;
 * the handshake timeout; the checks of the server's answer (handshake.ts, pure). It reports
 * to its WebSocket, which owns the state and decides what a report means.
 */
import type { Duplex } from 'node:stream'
import type { DispatchHandler, HeaderRecord, Protocol } from '../dispatch.js'
import { WsHandshakeError, toWirepoolError, type WirepoolError } from '../errors.js'
import type { Agent } from '../pool/agent.js'
import {
  checkExtendedConnectResponse,
  checkHandshakeResponse,
  generateKey,
  handshakeHeaders,
  type HandshakeResult,
  type PerMessageDeflateOptions,
} from './handshake.js'

/** What the handshake reports (one object per WebSocket). */
export interface OpeningEvents {
  /** Whether the WebSocket still waits for this handshake (close() or the timeout may have won the race). */
  waiting(): boolean
  /** The handshake failed: a status other than 101 (2xx on h2), a §4.1 check, the timeout, the connection. */
  failed(err: WirepoolError): void
  /** A valid 101 (or 2xx): the socket carries the WebSocket now; `head` is what came with the answer. */
  upgraded(socket: Duplex, result: HandshakeResult, head: Uint8Array): void
}

export interface OpeningRequest {
  /** The http(s): URL of the handshake request. */
  url: URL
  /** The caller's extra headers. */
  headers: Record<string, string> | Iterable<readonly [string, string]> | undefined
  protocols: readonly string[]
  /** Our permessage-deflate offer, or null. */
  offer: PerMessageDeflateOptions | null
  /** ms to a valid answer; 0: no limit. */
  timeout: number
}

export class Opening {
  readonly #agent: Agent
  readonly #request: OpeningRequest
  readonly #events: OpeningEvents
  readonly #key = generateKey()
  readonly #headers: [string, string][]
  readonly #abort = new AbortController()
  #timer: NodeJS.Timeout | undefined
  /** The HTTP version the handshake went over: set once a connection took it. */
  #transport: Protocol | undefined

  /** Throws InvalidArgumentError for a header the handshake owns. */
  constructor(agent: Agent, request: OpeningRequest, events: OpeningEvents) {
    this.#agent = agent
    this.#request = request
    this.#events = events
    this.#headers = handshakeHeaders(request.headers, this.#key, request.protocols, request.offer)
  }

  get transport(): Protocol | undefined {
    return this.#transport
  }

  start(): void {
    const timeout = this.#request.timeout
    if (timeout > 0) {
      this.#timer = setTimeout(() => {
        this.#events.failed(new WsHandshakeError(0, `WebSocket handshake timed out after ${timeout} ms`, { initiator: 'library' }))
      }, timeout)
      this.#timer.unref()
    }
    const handler: DispatchHandler = {
      onConnect: (_abort, info) => {
        this.#transport = info.protocol
      },
      onHeaders: (status) => {
        // §4.1: "If the status code received from the server is not 101, the client handles
        // the response per HTTP procedures": for a WebSocket that is a failure (RFC 8441 §5:
        // over HTTP/2, anything but a 2xx). The request is aborted (an HTTP/1.1 connection is
        // not reused: we do not wait for its body; an HTTP/2 stream is reset).
        const expected = this.#transport === 'h2' ? '2xx to the extended CONNECT' : '101 Switching Protocols'
        this.#events.failed(new WsHandshakeError(status, `server answered ${status} instead of ${expected}`))
      },
      onData: () => {},
      onComplete: () => {},
      onError: (err) => {
        this.#events.failed(err)
      },
      onUpgrade: (status, headers, socket, head) => this.#onUpgrade(status, headers, socket, head),
    }
    this.#agent.dispatch(
      {
        url: this.#request.url,
        method: 'GET',
        headers: this.#headers,
        upgrade: 'websocket',
        signal: this.#abort.signal,
      },
      handler,
    )
  }

  /** The handshake is over, one way or the other: its timeout goes. */
  stopTimer(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
  }

  /** Cancel the request wherever it is (queued, connecting, awaiting the head). */
  abort(err: WirepoolError): void {
    this.#abort.abort(err)
  }

  #onUpgrade(status: number, headers: HeaderRecord, socket: Duplex, head: Uint8Array): void {
    if (!this.#events.waiting()) {
      // close() or the timeout won the race with the 101 (or 2xx).
      socket.destroy()
      return
    }
    let result: HandshakeResult
    try {
      const { protocols, offer } = this.#request
      // 101: an HTTP/1.1 Upgrade (RFC 6455 §4.1); 2xx: an HTTP/2 extended CONNECT (RFC 8441 §5).
      result =
        status === 101
          ? checkHandshakeResponse(headers, this.#key, protocols, offer)
          : checkExtendedConnectResponse(status, headers, protocols, offer)
    } catch (err) {
      socket.destroy()
      this.#events.failed(toWirepoolError(err))
      return
    }
    this.#events.upgraded(socket, result, head)
  }
}
