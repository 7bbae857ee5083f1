/** fields.ts: request fields and response section checks. */
import t from 'tap'
import { parseResponseSection, requestFields } from '../../src/h2/fields.js'
import { makeRequest } from './session-helpers.js'

t.test('request fields: pseudo-headers first, lowercase, no connection-specific fields', async (t) => {
  const fields = requestFields(
    makeRequest({ method: 'POST', path: '', headers: ['Accept', 'a', 'TE', 'trailers', 'Host', 'h', 'content-length', '99', 'Expect', '100-continue'] }),
    'https',
    5,
  )
  t.same(fields, [':method', 'POST', ':scheme', 'https', ':authority', 'localhost', ':path', '/', 'accept', 'a', 'te', 'trailers', 'content-length', '5'])
  t.same(requestFields(makeRequest({ headers: ['content-length', '0'] }), 'http', 0).slice(8), ['content-length', '0'])
  t.same(requestFields(makeRequest({ method: 'PUT' }), 'http', 0).slice(8), ['content-length', '0'])
  t.same(requestFields(makeRequest({ method: 'POST', headers: ['content-length', '3'] }), 'http', -1).slice(8), ['content-length', '3'])
  t.throws(() => requestFields(makeRequest({ method: '' }), 'http', 0), { code: 'WP_INVALID_ARG' })
  t.same(requestFields(makeRequest({ method: 'PUT', expectContinue: true }), 'http', 3).slice(8), ['content-length', '3', 'expect', '100-continue'])
  t.same(requestFields(makeRequest({ method: 'PUT', expectContinue: true }), 'http', 0).slice(8), ['content-length', '0'])
})

t.test('response sections: valid heads, trailers and each malformation', async (t) => {
  t.same(parseResponseSection([':status', '200', 'content-length', '5', 'content-length', '5', 'x', ''], false), {
    status: 200,
    fields: ['content-length', '5', 'content-length', '5', 'x', ''],
    contentLength: 5,
  })
  t.same(parseResponseSection(['x-t', '1'], true), { status: -1, fields: ['x-t', '1'], contentLength: -1 })
  const bad: Array<[string[], boolean]> = [
    [['', 'x'], false],
    [[':status', '099'], false],
    [[':status', '20'], false],
    [[':status', '200', 'content-length', 'x'], false],
    [[':status', '200', 'content-length', '1', 'content-length', '2'], false],
    [[':status', '200', 'content-length', ''], false],
    [[':status', '200', 'x', 'a\nb'], false],
    [[':status', '200', 'x', 'a\t'], false],
    [[':status', '200', 'bad name', '1'], false],
    [[':status', '200', 'x\u00ff', '1'], false],
    [[':status', '200', 'keep-alive', '1'], false],
  ]
  for (const [section, trailers] of bad) t.type(parseResponseSection(section, trailers), 'string', JSON.stringify(section))
})

