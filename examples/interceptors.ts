/**
 * The README's interceptor block, verbatim between the markers
 * (test/adoption/load.test.ts checks that it is), type-checked under --strict.
 */
import { Agent, DelegatingHandler, type HeaderRecord, type Interceptor } from 'wirepool'

declare const token: string

// README ─────────────────────────────────────────────────────────────────────────────────
// An interceptor wraps dispatch: change the options, wrap the handler, or answer itself.
// (this one assumes `headers` are given as a record; they may also be [name, value] pairs)
const bearer = (token: string): Interceptor => (dispatch) => (options, handler) =>
  dispatch({ ...options, headers: { ...(options.headers as Record<string, string>), authorization: `Bearer ${token}` } }, handler)

const logStatus: Interceptor = (dispatch) => (options, handler) =>
  dispatch(options, new (class extends DelegatingHandler {
    override onHeaders(status: number, headers: HeaderRecord, resume: () => void, statusText: string) {
      console.log(`${options.method ?? 'GET'} ${String(options.url)} → ${status}`)
      return super.onHeaders(status, headers, resume, statusText)
    }
  })(handler))

const agent = new Agent()
const api = agent.compose(logStatus, bearer(token))   // logStatus sees each request first
const res = await api.request({ url: 'https://api.example.test/me' })
// ─────────────────────────────────────────────────────────────────────────────── README

export { res }
