/**
 * `for await (const data of ws)`: the messages, in order, as `message` events carry them.
 * Ends after a clean close; throws the error of an unclean one. Too many unread messages
 * pause reading from the socket (TCP backpressure reaches the server). Leaving the loop
 * early (break/return) closes the WebSocket with 1000, as leaving a `for await` over a Node
 * stream destroys it.
 */
import { SocketClosedError } from '../errors.js'
import type { CloseEvent } from './events.js'

/** The async iterator pauses the socket when this many messages wait unread, resumes below the low mark. */
const ITERATOR_HIGH_WATER = 64
const ITERATOR_LOW_WATER = 16

/** What the iterator needs from its WebSocket beyond its events (one object per iterator). */
export interface IteratorHost {
  /** Stop (true) or resume (false) reading from the socket for the iterator. */
  pause(paused: boolean): void
  /** The error of an unclean close, once closed. */
  closeError(): Error | undefined
  /** The loop was left early: close with 1000 if still open. */
  leave(): void
}

/** `T`: what the `message` events of `target` carry in `data`. */
export function messageIterator<T>(target: EventTarget, host: IteratorHost): AsyncIterableIterator<T> {
  const queue: T[] = []
  let waiter: { resolve: (r: IteratorResult<T>) => void; reject: (e: Error) => void } | undefined
  let ended = false
  let error: Error | undefined
  const onMessage = (event: Event): void => {
    const data = (event as MessageEvent).data as T
    if (waiter !== undefined) {
      const w = waiter
      waiter = undefined
      w.resolve({ value: data, done: false })
      return
    }
    queue.push(data)
    if (queue.length >= ITERATOR_HIGH_WATER) host.pause(true)
  }
  const onClose = (event: Event): void => {
    ended = true
    const close = event as CloseEvent
    if (!close.wasClean) error = host.closeError() ?? new SocketClosedError(`WebSocket closed with ${close.code}`)
    cleanup()
    if (waiter !== undefined) {
      const w = waiter
      waiter = undefined
      if (error !== undefined) w.reject(error)
      else w.resolve({ value: undefined, done: true })
    }
  }
  const cleanup = (): void => {
    target.removeEventListener('message', onMessage)
    target.removeEventListener('close', onClose)
  }
  target.addEventListener('message', onMessage)
  target.addEventListener('close', onClose)
  const iterator: AsyncIterableIterator<T> = {
    next: () => {
      const value = queue.shift()
      if (value !== undefined) {
        if (queue.length <= ITERATOR_LOW_WATER) host.pause(false)
        return Promise.resolve({ value, done: false })
      }
      if (ended) {
        if (error !== undefined) {
          const e = error
          error = undefined
          return Promise.reject(e)
        }
        return Promise.resolve({ value: undefined, done: true })
      }
      return new Promise((resolve, reject) => (waiter = { resolve, reject }))
    },
    return: () => {
      cleanup()
      ended = true
      host.pause(false)
      host.leave()
      return Promise.resolve({ value: undefined, done: true })
    },
    [Symbol.asyncIterator]() {
      return iterator
    },
  }
  return iterator
}
