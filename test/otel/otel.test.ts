// wirepool/otel against real loopback servers, spans read back from the OpenTelemetry SDK's
// in-memory exporter: semantic-convention attributes over HTTP/1.1 and HTTP/2, W3C trace
// context in the request headers, parent spans, failures, statuses, and the span ending with
// the body.
import { context, propagation, trace, SpanKind, SpanStatusCode } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { W3CTraceContextPropagator } from '@opentelemetry/core'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base'
import t from 'tap'
import type { Test } from 'tap'
import { Agent, type WirepoolError } from '../../src/index.js'
import { otel } from '../../src/interceptors/otel.js'
import { createTestServer, type TestServer } from '../../src/testing/index.js'
import { closedPort, httpServer } from '../support/servers.js'

const exporter = new InMemorySpanExporter()
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
// What an application's SDK set-up registers: the provider, a context manager, the W3C propagator.
trace.setGlobalTracerProvider(provider)
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
propagation.setGlobalPropagator(new W3CTraceContextPropagator())
t.teardown(async () => {
  await provider.shutdown()
  trace.disable()
  context.disable()
  propagation.disable()
})
t.beforeEach(() => exporter.reset())

async function testServer(t: Test, protocols: Array<'http/1.1' | 'h2'>, tls: boolean): Promise<TestServer> {
  const server = await createTestServer({ protocols, tls })
  t.teardown(() => server.close())
  return server
}

function onlySpan(t: Test): ReadableSpan {
  const spans = exporter.getFinishedSpans()
  t.equal(spans.length, 1, 'one span')
  return spans[0] as ReadableSpan
}

for (const protocol of ['http/1.1', 'h2'] as const) {
  t.test(`${protocol} over TLS: a client span with the semantic-convention attributes, its context in traceparent`, async (t) => {
    const server = await testServer(t, [protocol], true)
    server.route('GET', '/items', { body: 'listed' })
    const agent = new Agent({ tls: { ca: server.ca as string }, allowH2: protocol === 'h2' })
    t.teardown(() => agent.destroy())
    const api = agent.compose(otel())
    const port = Number(new URL(server.origin).port)

    const res = await api.request({ url: `${server.origin}/items?page=2` })
    t.equal(await res.body.text(), 'listed')
    const span = onlySpan(t)
    t.equal(span.name, 'GET')
    t.equal(span.kind, SpanKind.CLIENT)
    t.same(span.attributes, {
      'http.request.method': 'GET',
      'server.address': '127.0.0.1',
      'server.port': port,
      'url.full': `${server.origin}/items?page=2`,
      'network.protocol.name': 'http',
      'network.protocol.version': protocol === 'h2' ? '2' : '1.1',
      'network.peer.address': '127.0.0.1',
      'network.peer.port': port,
      'http.response.status_code': 200,
    })
    t.equal(span.status.code, SpanStatusCode.UNSET)
    t.equal(span.parentSpanContext, undefined, 'a root span: nothing was active')

    const seen = server.requests.at(-1)?.headers
    const { traceId, spanId } = span.spanContext()
    t.equal(seen?.['traceparent'], `00-${traceId}-${spanId}-01`, 'the server got the span as its parent (W3C Trace Context)')
  })
}

t.test('inside an active span: the request span is its child, in the same trace', async (t) => {
  const server = await testServer(t, ['http/1.1'], false)
  server.route('POST', '/orders', { status: 201, body: 'made' })
  const agent = new Agent()
  t.teardown(() => agent.destroy())
  const api = agent.compose(otel())
  const tracer = trace.getTracer('test')
  const parentIds = await tracer.startActiveSpan('checkout', async (parent) => {
    const res = await api.request({ url: `${server.origin}/orders`, method: 'POST', body: '{}' })
    await res.body.text()
    parent.end()
    return parent.spanContext()
  })
  const spans = exporter.getFinishedSpans()
  const child = spans.find((s) => s.name === 'POST')
  t.ok(child !== undefined)
  t.equal(child?.spanContext().traceId, parentIds.traceId)
  t.equal(child?.parentSpanContext?.spanId, parentIds.spanId)
  t.equal(child?.attributes['http.response.status_code'], 201)
  t.match(server.requests.at(-1)?.headers['traceparent'], new RegExp(`^00-${parentIds.traceId}-`))
})

t.test("the caller's own traceparent is replaced, never sent twice", async (t) => {
  const server = await testServer(t, ['http/1.1'], false)
  server.route('GET', '/', { body: 'x' })
  const agent = new Agent()
  t.teardown(() => agent.destroy())
  const stale = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'
  for (const headers of [{ traceparent: stale, 'x-kept': 'yes' }, [['TraceParent', stale], ['x-kept', 'yes']] as Array<[string, string]>]) {
    exporter.reset()
    const res = await agent.compose(otel()).request({ url: `${server.origin}/`, headers })
    await res.body.text()
    const span = onlySpan(t)
    const seen = server.requests.at(-1)?.headers
    t.equal(seen?.['traceparent'], `00-${span.spanContext().traceId}-${span.spanContext().spanId}-01`, 'one traceparent: ours')
    t.equal(seen?.['x-kept'], 'yes', 'other fields go as given')
  }
})

t.test('a failed connect: error.type is the error code, the exception is recorded', async (t) => {
  const port = await closedPort()
  const agent = new Agent({ retry: false })
  t.teardown(() => agent.destroy())
  const err = (await agent.compose(otel()).request({ url: `http://127.0.0.1:${port}/` }).catch((e: unknown) => e)) as WirepoolError
  t.equal(err.code, 'WP_CONNECT_REFUSED')
  const span = onlySpan(t)
  t.equal(span.attributes['error.type'], 'WP_CONNECT_REFUSED')
  t.equal(span.attributes['http.response.status_code'], undefined)
  t.equal(span.status.code, SpanStatusCode.ERROR)
  t.equal(span.events.find((e) => e.name === 'exception')?.attributes?.['exception.message'], err.message)
})

t.test('4xx and 5xx statuses make an error span (client spans, semantic conventions)', async (t) => {
  const server = await testServer(t, ['h2'], true)
  server.route('GET', '/missing', { status: 404, body: 'no' })
  server.route('GET', '/broken', { status: 503, body: 'down' })
  server.route('GET', '/moved', { status: 301, headers: { location: '/' } })
  const agent = new Agent({ tls: { ca: server.ca as string } })
  t.teardown(() => agent.destroy())
  const api = agent.compose(otel())
  for (const [path, status, code] of [['/missing', 404, SpanStatusCode.ERROR], ['/broken', 503, SpanStatusCode.ERROR], ['/moved', 301, SpanStatusCode.UNSET]] as const) {
    exporter.reset()
    const res = await api.request({ url: `${server.origin}${path}` })
    await res.body.text()
    const span = onlySpan(t)
    t.equal(span.attributes['http.response.status_code'], status)
    t.equal(span.attributes['error.type'], status >= 400 ? String(status) : undefined, `${status}: error.type`)
    t.equal(span.status.code, code, `${status}: span status`)
  }
})

t.test('the span ends when the body has been received, not at the head', async (t) => {
  let finish: (() => void) | undefined
  const srv = await httpServer(t, (_req, res) => {
    res.writeHead(200, { 'content-length': '8' })
    res.write('half')
    finish = () => res.end('done')
  })
  const agent = new Agent()
  t.teardown(() => agent.destroy())
  const res = await agent.compose(otel()).request({ url: `${srv.origin}/` })
  t.equal(exporter.getFinishedSpans().length, 0, 'still open while the body streams')
  ;(finish as () => void)()
  t.equal(await res.body.text(), 'halfdone')
  const span = onlySpan(t)
  t.equal(span.ended, true)
})

t.test('a body cut short fails the span', async (t) => {
  const server = await testServer(t, ['http/1.1'], false)
  server.route('GET', '/cut', { body: 'x'.repeat(1000), fault: { kind: 'close', afterBytes: 10 } })
  const agent = new Agent({ retry: false })
  t.teardown(() => agent.destroy())
  const res = await agent.compose(otel()).request({ url: `${server.origin}/cut` })
  const err = (await res.body.text().catch((e: unknown) => e)) as WirepoolError
  t.equal(err.code, 'WP_BODY_INCOMPLETE')
  const span = onlySpan(t)
  t.equal(span.attributes['http.response.status_code'], 200)
  t.equal(span.attributes['error.type'], 'WP_BODY_INCOMPLETE')
  t.equal(span.status.code, SpanStatusCode.ERROR)
})

t.test('url.full carries no credentials; an unknown method is _OTHER, its span named HTTP', async (t) => {
  const server = await testServer(t, ['http/1.1'], false)
  server.route('PURGE', '/cache', { body: 'purged' })
  const agent = new Agent()
  t.teardown(() => agent.destroy())
  const res = await agent.compose(otel()).request({ url: `${server.origin}/cache?sig=s3cret&x=1`, method: 'PURGE' })
  t.equal(await res.body.text(), 'purged')
  t.equal(server.requests.at(-1)?.path, '/cache?sig=s3cret&x=1', 'the request itself is unchanged')
  const span = onlySpan(t)
  t.equal(span.name, 'HTTP')
  t.equal(span.attributes['http.request.method'], '_OTHER')
  t.equal(span.attributes['http.request.method_original'], 'PURGE')
  t.equal(span.attributes['url.full'], `${server.origin}/cache?sig=REDACTED&x=1`)
})

t.test('options: ignore, propagate false, an explicit tracerProvider, hooks', async (t) => {
  const server = await testServer(t, ['http/1.1'], false)
  server.route('GET', '/health', { body: 'ok' })
  server.route('GET', '/data', { headers: { 'x-version': '7' }, body: 'data' })
  const agent = new Agent()
  t.teardown(() => agent.destroy())

  const quiet = agent.compose(otel({ ignore: (o) => String(o.url).endsWith('/health') }))
  await (await quiet.request({ url: `${server.origin}/health` })).body.text()
  t.equal(exporter.getFinishedSpans().length, 0, 'ignored: no span')
  t.equal(server.requests.at(-1)?.headers['traceparent'], undefined, 'ignored: no context sent')

  const unpropagated = agent.compose(otel({ propagate: false }))
  await (await unpropagated.request({ url: `${server.origin}/data` })).body.text()
  t.equal(exporter.getFinishedSpans().length, 1, 'a span')
  t.equal(server.requests.at(-1)?.headers['traceparent'], undefined, 'but no traceparent')

  const ownExporter = new InMemorySpanExporter()
  const own = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(ownExporter)] })
  t.teardown(() => own.shutdown())
  exporter.reset()
  const hooked = agent.compose(
    otel({
      tracerProvider: own,
      requestHook: (span) => span.setAttribute('url.template', '/data'),
      responseHook: (span, { headers }) => {
        span.setAttribute('app.version', String(headers['x-version']))
        throw new Error('a broken hook does not fail the request')
      },
    }),
  )
  const res = await hooked.request({ url: `${server.origin}/data` })
  t.equal(await res.body.text(), 'data')
  t.equal(exporter.getFinishedSpans().length, 0, 'nothing on the global provider')
  const span = ownExporter.getFinishedSpans()[0]
  t.equal(span?.instrumentationScope.name, 'wirepool')
  t.equal(span?.attributes['url.template'], '/data')
  t.equal(span?.attributes['app.version'], '7')
})

t.test('without a registered SDK the interceptor is a no-op that still sends the request', async (t) => {
  const server = await testServer(t, ['http/1.1'], false)
  server.route('GET', '/', { body: 'plain' })
  const agent = new Agent()
  t.teardown(() => agent.destroy())
  propagation.disable()
  trace.disable()
  t.teardown(() => {
    trace.setGlobalTracerProvider(provider)
    propagation.setGlobalPropagator(new W3CTraceContextPropagator())
  })
  const res = await agent.compose(otel()).request({ url: `${server.origin}/` })
  t.equal(await res.body.text(), 'plain')
  t.equal(server.requests.at(-1)?.headers['traceparent'], undefined)
  t.equal(exporter.getFinishedSpans().length, 0)
})
