/**
 * DispatchRequest literals for tests that drive a connection (or the serializer) directly,
 * below the pool that normally builds and validates them.
 */
import type { DispatchRequest } from '../../src/dispatch.js'

/** A GET / to localhost without a body and without timeouts; override what the test is about. */
export function dispatchRequest(overrides: Partial<DispatchRequest> = {}): DispatchRequest {
  return {
    method: 'GET',
    path: '/',
    authority: 'localhost',
    headers: [],
    body: undefined,
    bodyLength: 0,
    idempotent: true,
    expectContinue: false,
    headersTimeout: 0,
    bodyTimeout: 0,
    upgrade: undefined,
    ...overrides,
  }
}
