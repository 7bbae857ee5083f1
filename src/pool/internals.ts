/**
 * How the Agent, the WebSocket and the adapters reach into a Pool: a module-level object the
 * Pool class fills in from its static block, so none of it is a member of the public class
 * (nor in the published `.d.ts`). Not exported from src/index.ts.
 */
import type { DispatchHandler } from '../dispatch.js'
import type { PoolRequestOptions } from '../request-options.js'
import type { Response } from '../response.js'
import type { Origin } from './origin.js'
import type { OriginFigures, WebSocketFigures } from './stats.js'
import type { Pool } from './pool.js'

export interface PoolInternals {
  /** `request()` with the request-target split from the caller's URL (no options copy). */
  request(pool: Pool, options: PoolRequestOptions, path: string | undefined): Promise<Response>
  /**
   * Coalescing: a `request()` response whose handler `start` sends, with whether it asks for
   * compressed bodies (`accept-encoding`), as the pool's options say; `path` for `res.url`.
   */
  respond(pool: Pool, start: (handler: DispatchHandler, acceptEncoding: boolean) => void, path: string | undefined): Promise<Response>
  /** `dispatch()` with the request-target split from a URL (else the options' own). */
  enqueue(pool: Pool, options: PoolRequestOptions, handler: DispatchHandler, acceptEncoding: boolean, path: string | undefined): void
  /** The pool's host, port and authority. */
  origin(pool: Pool): Readonly<Origin>
  /** A connection of its own is open or opening. */
  hasLiveConnection(pool: Pool): boolean
  /**
   * Coalescing (RFC 9113 §9.1.1): send a request for another origin (`authority`, `hostname`)
   * on one of the pool's HTTP/2 connections, if one has room right now, reached an address
   * that name resolves to (`addresses`), and holds a certificate valid for that name. False,
   * having done nothing, when none does. The request is not retried there: its handler sends
   * it again on its own origin.
   */
  tryCoalesce(pool: Pool, hostname: string, authority: string, addresses: ReadonlySet<string>, options: PoolRequestOptions, path: string | undefined, handler: DispatchHandler, acceptEncoding: boolean): boolean
  /** The pool's figures, for an exposition over every origin. */
  figures(pool: Pool): OriginFigures
  /** The figures a WebSocket to this origin reports into. */
  webSocketFigures(pool: Pool): WebSocketFigures
}

/** Filled in once the Pool module is loaded (its callers hold a Pool by then). */
export const poolInternals = {} as PoolInternals

/** Called once, by the Pool class. */
export function providePoolInternals(provided: PoolInternals): void {
  Object.assign(poolInternals, provided)
}
