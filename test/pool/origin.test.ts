/**
 * The URL fast path (splitPlainUrl) must never disagree with the WHATWG parser: whenever it
 * takes a URL as it is, `new URL()` gives the same origin and the same path + query.
 */
import t, { type Test } from 'tap'
import http from 'node:http'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { parseOrigin, splitPlainUrl, splitUrl } from '../../src/pool/origin.js'
import { Agent } from '../../src/index.js'

function agreesWithWhatwg(t: Test, input: string): void {
  const plain = splitPlainUrl(input)
  if (plain === undefined) return
  const url = new URL(input)
  t.equal(plain.path, `${url.pathname}${url.search}`, `path of ${JSON.stringify(input)}`)
  t.equal(parseOrigin(plain.originPart).origin, url.origin, `origin of ${JSON.stringify(input)}`)
}

t.test('plain URLs are split as the WHATWG parser splits them', async (t) => {
  const taken = [
    'http://127.0.0.1:8080/hello',
    'https://example.com/a/b/c?x=1&y=2',
    'http://example.com',
    'http://example.com/',
    'http://example.com//double//slash',
    'http://example.com/a%20b?q=%41',
    'http://example.com/a.b/c..d?x=.',
    'http://example.com:80/default-port',
    'https://EXAMPLE.com:443/upper-host',
    "http://example.com/~user/!$&()*+,;=:@",
    'http://example.com/p?a=/b?c',
  ]
  for (const input of taken) {
    t.not(splitPlainUrl(input), undefined, `fast path takes ${input}`)
    agreesWithWhatwg(t, input)
  }
  const parsed = [
    'http://example.com/./a',
    'http://example.com/a/../b',
    'http://example.com/%2e%2E/b',
    'http://example.com/.hidden',
    'http://example.com/a b',
    'http://example.com/a#frag',
    'http://example.com/a\\b',
    'http://example.com?q',
    "http://example.com/?q='",
    'http://example.com/é',
    'http://example.com/a{b}',
    'HTTP://example.com/a',
    ' http://example.com/a',
    'http://example.com/a ',
    'ws://example.com/a',
    'http://example.com/a\tb',
    'http://example.com/a?',
  ]
  for (const input of parsed) t.equal(splitPlainUrl(input), undefined, `parser needed for ${JSON.stringify(input)}`)
})

t.test('random URLs: the fast path never disagrees with the parser', async (t) => {
  // A deterministic generator (no Math.random): the same cases on every run.
  let seed = 0x2545f491
  const next = (n: number): number => {
    seed = (seed * 1103515245 + 12345) >>> 0
    return seed % n
  }
  const alphabet = "abcXYZ019-._~!$&'()*+,;=:@%/?#.\\ \t\"<>`{}^|[]é"
  let taken = 0
  for (let i = 0; i < 5000; i++) {
    let path = ''
    const length = next(12)
    for (let k = 0; k < length; k++) path += alphabet[next(alphabet.length)]
    const input = `http://host.example:8080/${path}`
    if (splitPlainUrl(input) !== undefined) taken++
    const plain = splitPlainUrl(input)
    if (plain === undefined) continue
    const url = new URL(input)
    if (plain.path !== `${url.pathname}${url.search}`) t.fail(`disagrees on ${JSON.stringify(input)}: ${plain.path} vs ${url.pathname}${url.search}`)
  }
  t.ok(taken > 500, `the fast path took ${taken} of 5000`)
})

t.test('the agent routes fast-path URLs to the same pool and target as parsed ones', async (t) => {
  const seen: string[] = []
  const server = http.createServer((req, res) => {
    seen.push(req.url ?? '')
    res.end('ok')
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  const agent = new Agent()
  t.teardown(async () => {
    await agent.close()
    server.close()
  })
  for (const url of [`http://127.0.0.1:${port}/a?x=1`, `http://127.0.0.1:${port}/b`, `http://127.0.0.1:${port}/./c`, `http://127.0.0.1:${port}`]) {
    const res = await agent.request({ url })
    t.equal(await res.body.text(), 'ok')
  }
  t.same(seen, ['/a?x=1', '/b', '/c', '/'])
  t.same(Object.keys(agent.stats().origins), [`http://127.0.0.1:${port}`], 'one pool')
  t.equal(splitUrl(`http://127.0.0.1:${port}/b`).path, '/b')
})
