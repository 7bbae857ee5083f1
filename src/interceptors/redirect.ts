/**
 * `redirect()`: an interceptor that follows redirects (README "Redirects"), each hop one more
 * dispatch down the chain — a pooled request like any other. The decisions (where to, which
 * method, which fields go) are redirect-policy.ts's; this file only moves one request's hops
 * along and keeps the caller's handler seeing one response: the final one.
 *
 * The caller's handler gets `onConnect` once, for the connection of the final response (so
 * `res.connection` and `res.protocol` describe it), after an `onRedirect(status, url)` for
 * each redirect followed; the redirect responses themselves never reach it. Their bodies are
 * read and dropped so their connections go back to the pool, up to 64 KiB: a longer one is
 * aborted (which costs an HTTP/1.1 connection, not a stream of an HTTP/2 one).
 */
import type { ConnectionInfo, DispatchHandler, HeaderRecord } from '../dispatch.js'
import { AbortedError, ErrorCode, InvalidArgumentError, RedirectLoopError, RedirectRefusedError, RequestTimeoutError, TooManyRedirectsError, toWirepoolError, type WirepoolError } from '../errors.js'
import { maxRedirectionsOption, redirectModeOption, type RedirectMode, type RequestOptions } from '../request-options.js'
import { isResendableBodyInit } from '../body-source.js'
import { illegalTransition } from '../state-machine.js'
import type { Dispatch, Interceptor } from './compose.js'
import { headerEntries } from './request-headers.js'
import { withoutOptions } from './options-copy.js'
import { locationOf, RedirectChain, REDIRECT_STATUSES, type BodyKind, type HopDecision, type RedirectRules } from './redirect-policy.js'

export interface RedirectOptions {
  /** Redirects followed before the request fails with WP_TOO_MANY_REDIRECTS. Default 20 (fetch's). */
  maxRedirections?: number
  /** For requests that do not say (their `redirect` option wins). Default 'follow'. */
  mode?: RedirectMode
  /**
   * More request fields (any case) dropped when the chain leaves the first origin, beside
   * `authorization`, `cookie` and `proxy-authorization`: an API key header, say.
   */
  stripHeaders?: readonly string[]
  /** Follow a redirect from https: to http:. Default false: it fails with WP_REDIRECT_REFUSED. */
  allowDowngrade?: boolean
}

/** @internal The checked settings of one redirect dispatcher. */
export interface RedirectSettings {
  mode: RedirectMode
  rules: RedirectRules
}

/** Bytes of a redirect response's body read (and dropped) to keep its connection; past this it is aborted. */
export const MAX_DRAINED_BODY = 64 * 1024

/** A request that follows redirects: its `redirect` option (or the interceptor's mode) is `follow`. */
export function redirect(options: RedirectOptions = {}): Interceptor {
  const settings = redirectSettings(options, undefined)
  return (dispatch) => redirectDispatch(dispatch, settings)
}

/** @internal Check `redirect()`'s options; `onlyOrigin` for a Pool's own. */
export function redirectSettings(options: RedirectOptions, onlyOrigin: string | undefined): RedirectSettings {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError('redirect() options must be an object')
  for (const key of Object.keys(options)) {
    if (key !== 'maxRedirections' && key !== 'mode' && key !== 'stripHeaders' && key !== 'allowDowngrade') throw new InvalidArgumentError(`unknown redirect() option ${key}`)
  }
  const strip = options.stripHeaders ?? []
  if (!Array.isArray(strip) || strip.some((name) => typeof name !== 'string')) throw new InvalidArgumentError('redirect() option stripHeaders must be an array of header names')
  if (options.allowDowngrade !== undefined && typeof options.allowDowngrade !== 'boolean') throw new InvalidArgumentError('redirect() option allowDowngrade must be a boolean')
  return {
    mode: redirectModeOption(options.mode, 'follow'),
    rules: {
      methodRewrite: 'client',
      maxRedirections: maxRedirectionsOption(options.maxRedirections, 20),
      allowDowngrade: options.allowDowngrade ?? false,
      stripHeaders: new Set(strip.map((name) => name.toLowerCase())),
      detectLoops: true,
      onlyOrigin,
    },
  }
}

/**
 * @internal The request asks for redirects to be dealt with (`follow` or `error`): an Agent or
 * Pool then sends it through its own redirect dispatcher. One property read for the others.
 */
export function handlesRedirects(options: RequestOptions): boolean {
  const mode = options?.redirect
  return mode !== undefined && mode !== 'manual'
}

/** @internal `dispatch` behind a redirect-following one (what `redirect()` returns, and the Agent's and Pool's own). */
export function redirectDispatch(dispatch: Dispatch, settings: RedirectSettings): Dispatch {
  return (options, handler) => {
    let mode: RedirectMode
    let sent: RequestOptions
    try {
      if (options === null || typeof options !== 'object') throw new InvalidArgumentError('request options must be an object')
      mode = redirectModeOption(options.redirect, settings.mode)
      maxRedirectionsOption(options.maxRedirections, 0)
      sent = withoutRedirectOptions(options)
    } catch (err) {
      handler.onError(toWirepoolError(err))
      return
    }
    // An upgrade (WebSocket) hands over its connection: nothing to follow there.
    if (mode === 'manual' || sent.upgrade !== undefined) {
      dispatch(sent, handler)
      return
    }
    new RedirectFlow(dispatch, sent, handler, settings.rules, mode, options.maxRedirections).start()
  }
}

/** The options only this layer reads. */
const REDIRECT_OPTIONS: readonly string[] = ['redirect', 'maxRedirections']
/** What a next hop's options leave out of the previous hop's: its target, and with a dropped body the body's fields. */
const NOT_FOR_A_NEXT_HOP: readonly string[] = ['origin', 'path']
const NOT_FOR_A_BODYLESS_HOP: readonly string[] = ['origin', 'path', 'body', 'json', 'idempotent']

/** The options without the two only this layer reads, so the layers below see a plain request. */
function withoutRedirectOptions(options: RequestOptions): RequestOptions {
  if (options.redirect === undefined && options.maxRedirections === undefined) return options
  return withoutOptions(options, REDIRECT_OPTIONS)
}

/**
 * Where one request's chain stands:
 *
 *   idle ──► sending                        the first hop goes
 *   sending ──► forwarding ──► done        the response is not a redirect: it is the caller's
 *      │  └───► draining ──► sending       a redirect: its body is dropped, then the next hop
 *      │            └──────► done          (or the redirect was refused: error reported, body dropped)
 *      └──────► done                       the hop failed before its head
 *
 * Each state names the hop whose events it takes: an event of another hop (an aborted
 * redirect's late error) is not for it and is ignored.
 */
type FlowState =
  | { kind: 'idle' }
  | { kind: 'sending'; hop: Hop }
  | { kind: 'forwarding'; hop: Hop }
  /** `next`: the request to send once the body is dropped; undefined when the chain failed. */
  | { kind: 'draining'; hop: Hop; next: RequestOptions | undefined; received: number }
  | { kind: 'done' }

const MOVES: Readonly<Record<FlowState['kind'], readonly FlowState['kind'][]>> = {
  idle: ['sending'],
  sending: ['forwarding', 'draining', 'done'],
  forwarding: ['done'],
  draining: ['sending', 'done'],
  done: [],
}

const DONE: FlowState = { kind: 'done' }

/** One hop's handler: hands its events to the flow, which knows whether they are still wanted. */
class Hop implements DispatchHandler {
  readonly #flow: RedirectFlow
  abort: ((reason?: Error) => void) | undefined
  info: ConnectionInfo | undefined
  informational: Array<{ status: number; headers: HeaderRecord }> | undefined

  constructor(flow: RedirectFlow) {
    this.#flow = flow
  }

  onConnect(abort: (reason?: Error) => void, info: ConnectionInfo): void {
    this.abort = abort
    this.info = info
  }

  onInformational(status: number, headers: HeaderRecord): void {
    ;(this.informational ??= []).push({ status, headers })
  }

  onHeaders(status: number, headers: HeaderRecord, resume: () => void, statusText: string, rawHeaders?: readonly string[]): boolean | void {
    return this.#flow.headers(this, status, headers, resume, statusText, rawHeaders)
  }

  onData(chunk: Uint8Array): boolean | void {
    return this.#flow.data(this, chunk)
  }

  onTrailers(trailers: HeaderRecord): void {
    this.#flow.trailers(this, trailers)
  }

  onComplete(): void {
    this.#flow.complete(this)
  }

  onError(err: WirepoolError): void {
    this.#flow.error(this, err)
  }
}

/** One request through its redirects. */
class RedirectFlow {
  readonly #dispatch: Dispatch
  readonly #handler: DispatchHandler
  readonly #rules: RedirectRules
  readonly #mode: RedirectMode
  readonly #maxRedirections: number | undefined
  /** The options of the hop in flight. */
  #options: RequestOptions
  /** Made at the first redirect: a request that is not redirected pays for no URL parsing. */
  #chain: RedirectChain | undefined
  /** The `timeout` option (ms, 0: none) and its end (performance.now()). */
  #timeout = 0
  #deadline = 0
  #state: FlowState = { kind: 'idle' }

  constructor(dispatch: Dispatch, options: RequestOptions, handler: DispatchHandler, rules: RedirectRules, mode: RedirectMode, maxRedirections: number | undefined) {
    this.#dispatch = dispatch
    this.#options = options
    this.#handler = handler
    this.#rules = rules
    this.#mode = mode
    this.#maxRedirections = maxRedirections
  }

  start(): void {
    // `timeout` is for the whole request (README): its clock starts now, with the first hop.
    // (A bad value is the first hop's WP_INVALID_ARG, from the pool's validation.)
    const timeout = this.#options.timeout
    if (typeof timeout === 'number' && timeout > 0 && Number.isFinite(timeout)) {
      this.#timeout = timeout
      this.#deadline = performance.now() + timeout
    }
    this.#send(this.#options, true)
  }

  #transition(to: FlowState): void {
    if (!MOVES[this.#state.kind].includes(to.kind)) {
      const err = illegalTransition('redirect flow', this.#state.kind, to.kind)
      this.#fail(err)
      return
    }
    this.#state = to
  }

  #send(options: RequestOptions, first: boolean): void {
    if (!first && this.#deadline > 0) {
      const left = Math.ceil(this.#deadline - performance.now())
      if (left <= 0) {
        this.#transition(DONE)
        this.#handler.onError(new RequestTimeoutError(this.#timeout))
        return
      }
      options.timeout = left
    }
    this.#options = options
    const hop = new Hop(this)
    this.#transition({ kind: 'sending', hop })
    this.#dispatch(options, hop)
  }

  /** The hop `hop` is the one the state is about, in a state of that kind. */
  #current(hop: Hop): FlowState {
    const state = this.#state
    return state.kind !== 'done' && state.kind !== 'idle' && state.hop === hop ? state : DONE
  }

  headers(hop: Hop, status: number, headers: HeaderRecord, resume: () => void, statusText: string, rawHeaders: readonly string[] | undefined): boolean | void {
    if (this.#current(hop).kind !== 'sending') return false
    const location = REDIRECT_STATUSES.has(status) ? locationOf(headers) : undefined
    if (location === undefined) return this.#forward(hop, status, headers, resume, statusText, rawHeaders)
    const decision = this.#decide(status, location)
    if (decision instanceof Error) {
      this.#transition({ kind: 'draining', hop, next: undefined, received: 0 })
      this.#handler.onError(decision)
    } else {
      try {
        this.#handler.onRedirect?.(status, decision.next.url)
      } catch (err) {
        this.#fail(toWirepoolError(err))
        return false
      }
      this.#transition({ kind: 'draining', hop, next: this.#nextOptions(decision), received: 0 })
    }
    // A body announced past the bound is not worth reading to save the connection.
    const declared = headers['content-length']
    if (typeof declared === 'string' && Number(declared) > MAX_DRAINED_BODY) this.#stopDraining(hop)
    return true
  }

  /** The final response: the caller's handler hears of this hop's connection, its 1xx, its head. */
  #forward(hop: Hop, status: number, headers: HeaderRecord, resume: () => void, statusText: string, rawHeaders: readonly string[] | undefined): boolean | void {
    this.#transition({ kind: 'forwarding', hop })
    const handler = this.#handler
    try {
      handler.onConnect?.((reason) => this.#abortByCaller(hop, reason), hop.info as ConnectionInfo)
      if (hop.informational !== undefined) for (const { status: s, headers: h } of hop.informational) handler.onInformational?.(s, h)
    } catch (err) {
      this.#fail(toWirepoolError(err))
      return false
    }
    // (the handler may have aborted in onConnect: its error was reported, the head is not wanted)
    if (this.#state.kind !== 'forwarding') return false
    return handler.onHeaders(status, headers, resume, statusText, rawHeaders)
  }

  /** What to do with a redirect: a decision to follow, or the error the request fails with. */
  #decide(status: number, location: string): Extract<HopDecision, { kind: 'follow' }> | WirepoolError {
    if (this.#mode === 'error') return new RedirectRefusedError('mode-error', status, location, `${status} redirect to ${JSON.stringify(location)} refused: the request said redirect: 'error'`)
    let chain = this.#chain
    if (chain === undefined) {
      const options = this.#options
      try {
        const rules = this.#maxRedirections === undefined ? this.#rules : { ...this.#rules, maxRedirections: this.#maxRedirections }
        chain = new RedirectChain({ url: targetOf(options), method: options.method ?? 'GET', headers: headerEntries(options.headers), body: bodyKind(options) }, rules)
      } catch (err) {
        return toWirepoolError(err)
      }
      this.#chain = chain
    }
    const decision = chain.next(status, location)
    if (decision.kind === 'follow') return decision
    const followed = chain.followed.slice()
    if (decision.reason === 'too-many') return new TooManyRedirectsError(this.#maxRedirections ?? this.#rules.maxRedirections, followed, decision.message)
    if (decision.reason === 'loop') return new RedirectLoopError(chain.current.url.href, followed, decision.message)
    return new RedirectRefusedError(decision.reason, status, location, decision.message)
  }

  #nextOptions(decision: Extract<HopDecision, { kind: 'follow' }>): RequestOptions {
    const { next, bodyDropped } = decision
    // The target is now `url` alone; a dropped body takes what described it along (RFC 9110 §15.4).
    const options = withoutOptions(this.#options, bodyDropped ? NOT_FOR_A_BODYLESS_HOP : NOT_FOR_A_NEXT_HOP)
    options.url = next.url.href
    options.method = next.method
    options.headers = next.headers
    return options
  }

  data(hop: Hop, chunk: Uint8Array): boolean | void {
    const state = this.#current(hop)
    if (state.kind === 'forwarding') return this.#handler.onData(chunk)
    if (state.kind !== 'draining') return false
    state.received += chunk.byteLength
    if (state.received > MAX_DRAINED_BODY) this.#stopDraining(hop)
    return true
  }

  trailers(hop: Hop, trailers: HeaderRecord): void {
    if (this.#current(hop).kind === 'forwarding') this.#handler.onTrailers?.(trailers)
  }

  complete(hop: Hop): void {
    const state = this.#current(hop)
    if (state.kind === 'forwarding') {
      this.#transition(DONE)
      this.#handler.onComplete()
    } else if (state.kind === 'draining') {
      this.#drained(state.next)
    }
  }

  error(hop: Hop, err: WirepoolError): void {
    const state = this.#current(hop)
    if (state.kind === 'sending' || state.kind === 'forwarding') {
      this.#transition(DONE)
      // A later hop was given what was left of `timeout`: the request missed the whole of it.
      if (err.code === ErrorCode.REQUEST_TIMEOUT && this.#chain !== undefined && this.#timeout > 0) err = new RequestTimeoutError(this.#timeout, err.origin === undefined ? { cause: err } : { origin: err.origin, cause: err })
      this.#handler.onError(err)
    } else if (state.kind === 'draining') {
      // The redirect was decided on its head; its body failing (or being aborted by us) does
      // not change where the request goes next.
      this.#drained(state.next)
    }
  }

  /** The redirect response is done with (read, failed or aborted): on to the next hop, if any. */
  #drained(next: RequestOptions | undefined): void {
    if (next === undefined) this.#transition(DONE)
    else this.#send(next, false)
  }

  /** A redirect body too long to read: abort that exchange and go on without waiting for it. */
  #stopDraining(hop: Hop): void {
    const state = this.#current(hop)
    if (state.kind !== 'draining') return
    this.#drained(state.next)
    hop.abort?.(new AbortedError(`redirect response body longer than ${MAX_DRAINED_BODY} bytes: not read`))
  }

  #abortByCaller(hop: Hop, reason: Error | undefined): void {
    if (this.#current(hop).kind === 'forwarding') hop.abort?.(reason)
  }

  /** The caller's handler threw, or our own bug: the request fails with it and its hop stops. */
  #fail(err: WirepoolError): void {
    const state = this.#state
    this.#state = DONE
    if (state.kind !== 'done' && state.kind !== 'idle') state.hop.abort?.(err)
    this.#handler.onError(err)
  }
}

/** The absolute URL a request inside a composition names (its url, or origin and path). */
function targetOf(options: RequestOptions): URL {
  if (options.url !== undefined) return new URL(String(options.url))
  if (options.origin === undefined) throw new InvalidArgumentError('request needs a url, or an origin and a path')
  return new URL(options.path ?? '/', options.origin)
}

function bodyKind(options: RequestOptions): BodyKind {
  if (options.json !== undefined) return 'replayable'
  const body = options.body
  if (body === undefined || body === null) return 'none'
  return isResendableBodyInit(body) ? 'replayable' : 'once'
}
