// Option copies as interceptors make them: the spread's meaning, without the spread's cost on
// Node 20 (a map per copy, which made every options read below megamorphic; see options-copy.ts).
import { execFileSync } from 'node:child_process'
import t from 'tap'
import { copyOptions, withOption, withoutOptions } from '../../src/interceptors/options-copy.js'
import type { RequestOptions } from '../../src/request-options.js'

t.test('withOption and withoutOptions mean what the spread and delete meant, leaving the source alone', async (t) => {
  const source: RequestOptions = { url: 'http://a.test/x', method: 'POST', body: 'b', redirect: 'follow' }
  const added = withOption(source, 'headers', { a: '1' })
  t.same(added, { ...source, headers: { a: '1' } })
  t.same(withOption(source, 'method', 'PUT'), { ...source, method: 'PUT' })
  t.same(withoutOptions(source, ['redirect', 'body']), { url: 'http://a.test/x', method: 'POST' })
  t.same(source, { url: 'http://a.test/x', method: 'POST', body: 'b', redirect: 'follow' }, 'source unchanged')
  t.equal(Object.getPrototypeOf(copyOptions(source)), Object.prototype)
})

t.test('an own __proto__ field (as JSON.parse makes) stays an own field, the prototype untouched', async (t) => {
  const parsed = JSON.parse('{"url":"http://a.test/","__proto__":{"polluted":true}}') as RequestOptions
  for (const copy of [copyOptions(parsed), withOption(parsed, 'method', 'GET'), withoutOptions(parsed, ['method'])]) {
    t.equal(Object.getPrototypeOf(copy), Object.prototype)
    t.ok(Object.hasOwn(copy, '__proto__'), 'kept as an own field, so validation still refuses it')
    t.equal((copy as Record<string, unknown>)['polluted'], undefined)
  }
})

t.test('copies share their shape once optimized (V8 natives in a child process)', async (t) => {
  // The regression this file exists for: on Node 20, `{ ...o, field }` gave each copy a new map.
  const script = `
    import { withOption, withoutOptions } from ${JSON.stringify(new URL('../../src/interceptors/options-copy.ts', import.meta.url).href)}
    const same = new Function('a', 'b', 'return %HaveSameMap(a, b)')
    const fast = new Function('o', 'return %HasFastProperties(o)')
    const accept = Object.freeze({ 'accept-encoding': 'gzip' })
    const made = []
    for (let i = 0; i < 50000; i++) {
      const a = withOption({ url: 'http://a.test/' }, 'headers', accept)
      const b = withoutOptions({ url: 'http://a.test/', redirect: 'follow' }, ['redirect'])
      if (i >= 49998) made.push(a, b)
    }
    console.log(JSON.stringify({ sharedWith: same(made[0], made[2]), sharedWithout: same(made[1], made[3]), fast: fast(made[1]) }))
  `
  const out = execFileSync(process.execPath, ['--allow-natives-syntax', '--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 })
  t.same(JSON.parse(out.trim()), { sharedWith: true, sharedWithout: true, fast: true })
})
