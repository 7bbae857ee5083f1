import t from 'tap'
import { parseKeepAliveTimeout, rawHeadersToRecord } from '../../src/http/headers.js'

t.test('rawHeadersToRecord lowercases names and keeps values as sent', async (t) => {
  const record = rawHeadersToRecord(['Content-Type', 'text/plain', 'X-Custom-Thing', 'A b', 'etag', '"x"', 'ETag', '"y"'])
  t.same(record, { 'content-type': 'text/plain', 'x-custom-thing': 'A b', etag: ['"x"', '"y"'] })
})

t.test('repeats become arrays in arrival order; set-cookie is always an array', async (t) => {
  const record = rawHeadersToRecord(['Vary', 'a', 'vary', 'b', 'VARY', 'c', 'Set-Cookie', 'k=v', 'x', '1'])
  t.same(record.vary, ['a', 'b', 'c'])
  t.same(record['set-cookie'], ['k=v'])
  t.equal(record.x, '1')
  t.same(rawHeadersToRecord(['set-cookie', 'a=1', 'SET-COOKIE', 'b=2'])['set-cookie'], ['a=1', 'b=2'])
})

t.test('known Title-Case names and unknown mixed-case names give the same keys', async (t) => {
  const names = ['Content-Length', 'content-length', 'CONTENT-LENGTH', 'Www-Authenticate', 'WWW-Authenticate', 'X-Powered-By', 'x-PoWeReD-by']
  for (const name of names) {
    const keys = Object.keys(rawHeadersToRecord([name, 'v']))
    t.same(keys, [name.toLowerCase()], name)
  }
})

t.test('a header named __proto__ is an own property, not a prototype change', async (t) => {
  const record = rawHeadersToRecord(['__proto__', 'x', '__Proto__', 'y'])
  t.equal(Object.getPrototypeOf(record), Object.prototype)
  t.same(Object.getOwnPropertyDescriptor(record, '__proto__')?.value, ['x', 'y'])
  const three = rawHeadersToRecord(['__proto__', 'a', '__proto__', 'b', '__proto__', 'c'])
  t.same(Object.getOwnPropertyDescriptor(three, '__proto__')?.value, ['a', 'b', 'c'])
  t.equal(Object.getOwnPropertyDescriptor(rawHeadersToRecord(['__proto__', 'only']), '__proto__')?.value, 'only')
})

t.test('names of Object.prototype members are ordinary headers', async (t) => {
  const record = rawHeadersToRecord(['toString', 'a', 'constructor', 'b', 'constructor', 'c', 'hasOwnProperty', 'd'])
  t.equal(Object.getOwnPropertyDescriptor(record, 'tostring')?.value, 'a')
  t.same(Object.getOwnPropertyDescriptor(record, 'constructor')?.value, ['b', 'c'])
  t.equal(Object.getOwnPropertyDescriptor(record, 'hasownproperty')?.value, 'd')
})

t.test('an odd trailing name without value is ignored', async (t) => {
  t.same(rawHeadersToRecord(['a', '1', 'b']), { a: '1' })
  t.same(rawHeadersToRecord([]), {})
})

t.test('parseKeepAliveTimeout', async (t) => {
  t.equal(parseKeepAliveTimeout('timeout=5, max=100'), 5000)
  t.equal(parseKeepAliveTimeout('max=100, Timeout=7'), 7000)
  t.equal(parseKeepAliveTimeout(' timeout = 3 '), 3000)
  t.equal(parseKeepAliveTimeout('timeout="4"'), 4000)
  t.equal(parseKeepAliveTimeout('timeout=2s'), 2000, 'a unit suffix reads as seconds')
  t.equal(parseKeepAliveTimeout('timeout=1s'), 1000)
  t.equal(parseKeepAliveTimeout('timeout=0'), 0)
  t.equal(parseKeepAliveTimeout('timeoutasdasd=1s'), undefined, 'malformed parameter name')
  t.equal(parseKeepAliveTimeout('timeout=abc'), undefined)
  t.equal(parseKeepAliveTimeout('timeout='), undefined)
  t.equal(parseKeepAliveTimeout('max=5'), undefined)
  t.equal(parseKeepAliveTimeout(''), undefined)
  t.equal(parseKeepAliveTimeout('timeout'), undefined)
})
