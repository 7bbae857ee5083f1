/**
 * Where the time of one request went (`res.timings`, `ConnectionInfo.timings`, the
 * `wirepool:request` channel): the edges got's http-timer and the browser's Resource Timing
 * name — waiting for a connection, DNS, TCP, proxy tunnel, TLS, request sent, first byte,
 * body end — taken where the engine already passes them.
 *
 * Cost, since this is on every request: one object per request (made when the request is
 * handed to a connection, reused by its retries), one `performance.now()` at each edge the
 * request itself crosses (sent, first byte, end; the queue and dispatch times were already
 * read), and for a reused connection nothing at all for the connect phases. A new
 * connection records its own connect edges once (`ConnectTimings`); its first request
 * copies them, relative to its own start. `phases` is computed when asked for.
 */

/**
 * When a connection's connect phases ended, as absolute `performance.now()` times: recorded
 * once by the connector for the connection's whole life.
 */
export interface ConnectTimings {
  /** The dial began. */
  readonly start: number
  /** The origin's name was resolved (the first address was dialled); undefined when nothing was looked up (IP literal, Unix socket, proxy). */
  readonly dns: number | undefined
  /** The TCP connection was established (to the proxy, when there is one). */
  readonly tcp: number
  /** The proxy's tunnel was up (CONNECT 2xx, SOCKS5 reply); undefined when direct or forwarding. */
  readonly proxy: number | undefined
  /** The TLS handshake with the origin ended; undefined for cleartext. */
  readonly tls: number | undefined
}

/** Durations in ms between the edges of `RequestTimings`, each undefined when an edge it needs is. */
export interface TimingPhases {
  /**
   * From the request's start until it was handed to a connection, less the part of that
   * time spent opening the connection it went on (the dns/tcp/proxy/tls phases below): the
   * pool's queue, an HTTP/2 connection waiting for the peer's SETTINGS, earlier attempts
   * and their retry backoff.
   */
  wait: number
  /** The DNS lookup of the connection (new connections that resolved a name). */
  dns: number | undefined
  /** TCP connect (after DNS), new connections only. */
  tcp: number | undefined
  /** The proxy tunnel's handshake, new tunnelled connections only. */
  proxy: number | undefined
  /** TLS handshake, new TLS connections only. */
  tls: number | undefined
  /** From being handed to the connection until the request's last byte was sent. */
  request: number | undefined
  /** From the request sent until the response head arrived (server think time + one RTT). */
  firstByte: number | undefined
  /** From the response head until its last byte. */
  download: number | undefined
  /** From the start until the response's last byte. */
  total: number | undefined
}

/**
 * Timings of one request. `start` is an absolute `performance.now()` time (ms since
 * `performance.timeOrigin`); every other edge is in ms relative to `start`, as a
 * fractional number. The object is live: `sent`, `firstByte` and `end` are filled in as the
 * request gets there, so `end` (and `phases.download`, `phases.total`) is undefined until
 * the response body has been received in full.
 *
 * The connect edges (`connect`, `dns`, `tcp`, `proxy`, `tls`) describe the connection the
 * request went on, only when it is that connection's first request (`ConnectionInfo.reused`
 * false); they are undefined on a reused connection. A connection opened before the request
 * started (warm-up, or opened for an earlier request that went elsewhere) has negative edges.
 *
 * With retries, the edges from `dispatched` on describe the last attempt; `start` stays
 * the request's start, so the earlier attempts count as `phases.wait`.
 */
export interface RequestTimings {
  /** When the request was made (`request()` / `dispatch()`): `performance.now()`. */
  readonly start: number
  /** The dial of the request's connection began (new connections only). */
  readonly connect: number | undefined
  /** DNS answer (new connections that looked a name up). */
  readonly dns: number | undefined
  /** TCP connected (new connections; the proxy's TCP when there is one). */
  readonly tcp: number | undefined
  /** Proxy tunnel established (new tunnelled connections). */
  readonly proxy: number | undefined
  /** TLS handshake done (new TLS connections). */
  readonly tls: number | undefined
  /** The request left the queue for a connection (its last attempt did). */
  readonly dispatched: number
  /**
   * The request's last byte was handed to the socket (HTTP/1.1) or its END_STREAM flag
   * queued (HTTP/2); undefined until then.
   */
  readonly sent: number | undefined
  /** The final response head arrived (parsed); undefined until then. */
  readonly firstByte: number | undefined
  /** The response's last byte arrived; undefined until the body has ended. */
  readonly end: number | undefined
  /** Durations between the edges, computed when read. */
  readonly phases: TimingPhases
}

/** The engine's implementation (not exported from the package: only the RequestTimings type is). */
export class Timings implements RequestTimings {
  readonly start: number
  connect: number | undefined = undefined
  dns: number | undefined = undefined
  tcp: number | undefined = undefined
  proxy: number | undefined = undefined
  tls: number | undefined = undefined
  dispatched: number
  sent: number | undefined = undefined
  firstByte: number | undefined = undefined
  end: number | undefined = undefined

  /** `start` and `dispatchedAt` are absolute `performance.now()` times. */
  constructor(start: number, dispatchedAt: number, connection: ConnectTimings | undefined) {
    this.start = start
    this.dispatched = dispatchedAt - start
    if (connection !== undefined) this.#connection(connection)
  }

  /** A retry was handed to a connection: the attempt's edges start over. */
  redispatched(at: number, connection: ConnectTimings | undefined): void {
    this.dispatched = at - this.start
    this.sent = undefined
    this.firstByte = undefined
    this.end = undefined
    if (connection !== undefined) {
      this.#connection(connection)
    } else {
      this.connect = undefined
      this.dns = undefined
      this.tcp = undefined
      this.proxy = undefined
      this.tls = undefined
    }
  }

  #connection(c: ConnectTimings): void {
    const start = this.start
    this.connect = c.start - start
    this.dns = c.dns === undefined ? undefined : c.dns - start
    this.tcp = c.tcp - start
    this.proxy = c.proxy === undefined ? undefined : c.proxy - start
    this.tls = c.tls === undefined ? undefined : c.tls - start
  }

  get phases(): TimingPhases {
    const { connect, dns, tcp, proxy, tls, dispatched, sent, firstByte, end } = this
    let opening = 0
    if (connect !== undefined && tcp !== undefined) {
      // Only the part of the connect that happened after the request started kept it waiting.
      const opened = tls ?? proxy ?? tcp
      opening = Math.max(0, Math.min(opened, dispatched) - Math.max(connect, 0))
    }
    return {
      wait: dispatched - opening,
      dns: dns === undefined || connect === undefined ? undefined : dns - connect,
      tcp: tcp === undefined || connect === undefined ? undefined : tcp - (dns ?? connect),
      proxy: proxy === undefined || tcp === undefined ? undefined : proxy - tcp,
      tls: tls === undefined || tcp === undefined ? undefined : tls - (proxy ?? tcp),
      request: sent === undefined ? undefined : sent - dispatched,
      firstByte: firstByte === undefined || sent === undefined ? undefined : firstByte - sent,
      download: end === undefined || firstByte === undefined ? undefined : end - firstByte,
      total: end,
    }
  }

  /** Plain data with the phases, for loggers and `JSON.stringify`. */
  toJSON(): RequestTimings {
    const { start, connect, dns, tcp, proxy, tls, dispatched, sent, firstByte, end } = this
    return { start, connect, dns, tcp, proxy, tls, dispatched, sent, firstByte, end, phases: this.phases }
  }
}
