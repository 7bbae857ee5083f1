/**
 * `wirepool/testing`: a fault-injecting HTTP/1.1 + HTTP/2 + WebSocket server for tests, and
 * the in-memory certificates it serves. See docs/testing.md.
 */
export { createTestServer, type TestServer, type PathMatcher } from './server.js'
export { makeTestCertificates, issueCertificate, type TestCertificates, type CertificateOptions, type IssuedCertificate } from './certificates.js'
export type {
  TestServerOptions,
  TestProtocol,
  RecordedRequest,
  RouteResponse,
  RouteHandler,
  ResponseFault,
  ConnectionFault,
  Fault,
  FieldRecord,
} from './types.js'
