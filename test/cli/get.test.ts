import t, { type Test } from 'tap'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import http2 from 'node:http2'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { closedPort, httpServer, httpsServer, listenLoopback, onRequestHeads, rawServer } from '../support/servers.js'
import { makeCertificates, spkiPin, type TestCertificates } from '../support/certs.js'
import { captureIo, runCli } from './run-cli.js'
import { runGet } from '../../src/cli/get.js'

// Each case spawns a CLI process (about a second under tsx on a busy 2-core machine).
t.setTimeout(180_000)

async function tempDir(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'wirepool-cli-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

/** The test certificates, with the CA also written to a file for `--cacert`. */
async function certificatesWithCaFile(t: Test): Promise<{ certs: TestCertificates; caFile: string }> {
  const certs = await makeCertificates()
  const caFile = join(await tempDir(t), 'ca.pem')
  await writeFile(caFile, certs.ca)
  return { certs, caFile }
}

type Seen = { method: string; url: string; headers: Record<string, unknown>; body: string }

async function echoServer(t: Test) {
  const seen: Seen[] = []
  const srv = await httpServer(t, (req, res) => {
    let body = ''
    req.setEncoding('utf8').on('data', (s: string) => (body += s))
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body })
      if (req.url === '/missing') {
        res.writeHead(404, { 'content-type': 'text/plain' })
        res.end('not here\n')
        return
      }
      if (req.url === '/trailers') {
        res.writeHead(200, { trailer: 'x-checksum' })
        res.write('part')
        res.addTrailers({ 'x-checksum': 'abc123' })
        res.end()
        return
      }
      res.writeHead(200, { 'content-type': 'text/plain', 'x-served-by': 'echo' })
      res.end(`${req.method} ${req.url} ${body}`)
    })
  })
  return { ...srv, seen }
}

t.test('get prints the body, sends method, headers and body, exits 0', async (t) => {
  const srv = await echoServer(t)
  const plain = await runCli(t, ['get', `${srv.origin}/a?b=1`])
  t.equal(plain.code, 0)
  t.equal(plain.stdout, 'GET /a?b=1 ')
  t.equal(srv.seen.length, 1)

  const post = await runCli(t, ['get', '-X', 'PUT', '-H', 'x-one: 1', '-H', 'X-Two:  two ', '-d', 'payload', `${srv.origin}/p`])
  t.equal(post.code, 0)
  t.equal(post.stdout, 'PUT /p payload')
  const req = srv.seen[1]
  t.equal(req?.method, 'PUT')
  t.equal(req?.headers['x-one'], '1')
  t.equal(req?.headers['x-two'], 'two')
  t.equal(req?.headers['content-length'], '7')

  const implied = await runCli(t, ['get', '-d', 'x=1', srv.origin])
  t.equal(implied.stdout, 'POST / x=1', '-d without -X is a POST, as curl')
  t.equal(srv.seen.length, 3, 'the server counted every request')
})

t.test('-i prints the head, -o writes the body to a file, -d @file and @- read the body', async (t) => {
  const srv = await echoServer(t)
  const dir = await tempDir(t)
  const bodyFile = join(dir, 'body.txt')
  await writeFile(bodyFile, 'from a file')
  const out = join(dir, 'out.txt')

  const included = await runCli(t, ['get', '-i', srv.origin])
  t.equal(included.code, 0)
  t.match(included.stdout, /^HTTP\/1\.1 200 OK\r\n/)
  t.match(included.stdout, /\r\nx-served-by: echo\r\n/)
  t.match(included.stdout, /\r\n\r\nGET \/ $/)

  const saved = await runCli(t, ['get', '-o', out, '-d', `@${bodyFile}`, `${srv.origin}/f`])
  t.equal(saved.code, 0)
  t.equal(saved.stdout, '', 'nothing on stdout with -o')
  t.equal(await readFile(out, 'utf8'), 'POST /f from a file')

  const piped = await runCli(t, ['get', '-d', '@-', `${srv.origin}/s`], 'from stdin')
  t.equal(piped.stdout, 'POST /s from stdin')

  const unreadable = await runCli(t, ['get', '-d', `@${join(dir, 'absent')}`, srv.origin])
  t.equal(unreadable.code, 26, 'an unreadable body file is curl 26')
  t.equal(srv.seen.length, 3, 'no request for the unreadable body')
})

t.test('HTTP errors: body and exit 0 by default, exit 22 and no body with --fail', async (t) => {
  const srv = await echoServer(t)
  const lenient = await runCli(t, ['get', `${srv.origin}/missing`])
  t.equal(lenient.code, 0)
  t.equal(lenient.stdout, 'not here\n')
  const strict = await runCli(t, ['get', '--fail', `${srv.origin}/missing`])
  t.equal(strict.code, 22)
  t.equal(strict.stdout, '')
  t.match(strict.stderr, /returned error: 404/)
  t.equal(srv.seen.length, 2)
})

t.test('-v traces the connection life, both heads and trailers on stderr', async (t) => {
  const srv = await echoServer(t)
  const run = await runCli(t, ['get', '-v', '-H', 'x-trace: yes', `${srv.origin}/trailers`])
  t.equal(run.code, 0)
  t.equal(run.stdout, 'part')
  const err = run.stderr
  t.match(err, /\* connection #\d+: connecting to http:\/\/127\.0\.0\.1:\d+ \(demand\)/)
  t.match(err, /\* connection #\d+: connected in \d+\.\d+ ms \(DNS \+ TCP\), protocol http\/1\.1/)
  t.match(err, /\* using connection #\d+ to 127\.0\.0\.1:\d+, new/)
  t.match(err, /> GET \/trailers HTTP\/1\.1\n> host: 127\.0\.0\.1:\d+\n> x-trace: yes\n>\n/)
  t.match(err, /< HTTP\/1\.1 200 OK\n/)
  t.match(err, /< trailer: x-checksum\n/)
  t.match(err, /\* trailer: x-checksum: abc123/)
  // The connect phases at onConnect (an IP literal: nothing to resolve), the request's at its end.
  t.match(err, /\* timings: DNS none \(no name to resolve\), TCP connect \d+\.\d\d ms\n/)
  t.match(err, /\* timings: wait \d+\.\d\d ms, request sent \d+\.\d\d ms, first byte \d+\.\d\d ms, download \d+\.\d\d ms, total \d+\.\d\d ms\n/)
  t.match(err, /idle -> draining \(pool-closing\)/)
  t.match(err, /draining -> closed/)
})

t.test('HTTP/2: --h2c with prior knowledge, h2 by ALPN over TLS; heads as pseudo-headers', async (t) => {
  const { certs, caFile } = await certificatesWithCaFile(t)
  let streams = 0
  const onStream = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void => {
    streams++
    stream.respond({ ':status': 200, 'x-path': String(headers[':path']) }, { waitForTrailers: true })
    stream.on('wantTrailers', () => stream.sendTrailers({ 'x-sum': '42' }))
    stream.end('over h2')
  }
  const servers: Array<http2.Http2Server | http2.Http2SecureServer> = [http2.createServer(), http2.createSecureServer({ key: certs.key, cert: certs.cert })]
  const origins: string[] = []
  for (const server of servers) {
    const sessions = new Set<http2.ServerHttp2Session>()
    server.on('session', (s: http2.ServerHttp2Session) => sessions.add(s))
    server.on('stream', onStream)
    const port = await listenLoopback(t, server, () => sessions)
    origins.push(`${server === servers[0] ? 'http' : 'https'}://127.0.0.1:${port}`)
  }
  const cleartext = await runCli(t, ['get', '-v', '-i', '--h2c', `${origins[0]}/c`])
  t.equal(cleartext.code, 0, cleartext.stderr)
  t.match(cleartext.stdout, /^HTTP\/2 200\r\nx-path: \/c\r\n/)
  t.match(cleartext.stdout, /\r\n\r\nover h2$/)
  t.match(cleartext.stderr, /\* cleartext h2\n/)
  t.match(cleartext.stderr, /> :method: GET\n> :scheme: http\n> :authority: 127\.0\.0\.1:\d+\n> :path: \/c\n/)
  t.match(cleartext.stderr, /\* trailer: x-sum: 42/)
  const alpn = await runCli(t, ['get', '-v', '--h2', '--cacert', caFile, `${origins[1]}/t`])
  t.equal(alpn.code, 0, alpn.stderr)
  t.equal(alpn.stdout, 'over h2')
  t.match(alpn.stderr, /\* ALPN: server accepted h2\n/)
  t.match(alpn.stderr, /< HTTP\/2 200\n/)
  t.equal(streams, 2)
})

t.test('connect refused exits 7', async (t) => {
  const port = await closedPort()
  const run = await runCli(t, ['get', `http://127.0.0.1:${port}/`])
  t.equal(run.code, 7)
  t.match(run.stderr, /WP_CONNECT_REFUSED/)
})

t.test('TLS: verification failure exits 60, --cacert and -k succeed, -k warns', async (t) => {
  const { certs, caFile } = await certificatesWithCaFile(t)
  let served = 0
  const handler = (_req: unknown, res: { end(s: string): void }) => {
    served++
    res.end('secret')
  }
  const trusted = await httpsServer(t, { key: certs.key, cert: certs.cert }, handler as never)
  const selfSigned = await httpsServer(t, certs.selfSigned, handler as never)

  const untrusted = await runCli(t, ['get', trusted.origin])
  t.equal(untrusted.code, 60)
  t.match(untrusted.stderr, /WP_TLS_VERIFY/)
  t.equal(untrusted.stdout, '')

  // By name (--resolve answers the lookup): the DNS phase is timed too.
  const byName = trusted.origin.replace('127.0.0.1', 'localhost')
  const withCa = await runCli(t, ['get', '-v', '--h1', '--cacert', caFile, '--resolve', `localhost:${trusted.port}:127.0.0.1`, byName])
  t.equal(withCa.code, 0)
  t.equal(withCa.stdout, 'secret')
  t.match(withCa.stderr, /ALPN: server accepted http\/1\.1/)
  t.match(withCa.stderr, /TLS session: full handshake/)
  t.match(withCa.stderr, /connected in [\d.]+ ms \(DNS \+ TCP \+ TLS handshake\)/)
  t.match(withCa.stderr, /\* timings: DNS [\d.]+ ms, TCP connect [\d.]+ ms, TLS handshake [\d.]+ ms\n/)
  t.match(withCa.stderr, /\* timings: wait [\d.]+ ms, request sent [\d.]+ ms, first byte [\d.]+ ms, download [\d.]+ ms, total [\d.]+ ms\n/)
  t.match(withCa.stderr, /\* server certificate: subject CN=localhost; issuer CN=wirepool test CA/)
  t.match(withCa.stderr, /\* server certificate: expires \d{4}-\d\d-\d\dT[\d:.]+Z \((29|30)(\.\d+)? days left\)/)
  t.notMatch(withCa.stderr, /WARNING/)

  const selfSignedRun = await runCli(t, ['get', selfSigned.origin])
  t.equal(selfSignedRun.code, 60)
  t.match(selfSignedRun.stderr, /DEPTH_ZERO_SELF_SIGNED_CERT/)

  const insecure = await runCli(t, ['get', '-k', selfSigned.origin])
  t.equal(insecure.code, 0)
  t.equal(insecure.stdout, 'secret')
  t.match(insecure.stderr, /WARNING: --insecure: the server certificate is NOT verified/)
  t.equal(served, 2, 'only the verified and the -k requests reached the handler')
})

t.test('--pin: the matching key connects, another key exits 90 before any request', async (t) => {
  const { certs, caFile } = await certificatesWithCaFile(t)
  let served = 0
  const srv = await httpsServer(t, { key: certs.key, cert: certs.cert }, (_req, res) => {
    served++
    res.end('pinned')
  })
  const good = await runCli(t, ['get', '--cacert', caFile, '--pin', spkiPin(certs.cert), srv.origin])
  t.equal(good.code, 0, good.stderr)
  t.equal(good.stdout, 'pinned')
  const other = await runCli(t, ['get', '--cacert', caFile, '--pin', spkiPin(certs.selfSigned.cert), srv.origin])
  t.equal(other.code, 90)
  t.match(other.stderr, /WP_TLS_PIN_MISMATCH/)
  t.equal(other.stdout, '')
  t.equal(served, 1, 'the mismatched connection carried no request')
})

t.test('bad arguments exit 2 with a message', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [[], /missing URL/],
    [['http://a/', 'http://b/'], /one URL expected, got 2/],
    [['--bogus', 'http://x/'], /Unknown option '--bogus'/],
    [['ftp://x/'], /unsupported URL scheme/],
    [['not a url'], /invalid URL/],
    [['--h2', 'http://127.0.0.1/'], /for an http: URL use --h2c/],
    [['--h2c', 'https://127.0.0.1/'], /--h2c is cleartext HTTP\/2: it needs an http: URL/],
    [['--h1', '--h2c', 'http://127.0.0.1/'], /--h1 and --h2c cannot be combined/],
    [['--pin', 'md5/xyz', 'https://127.0.0.1/'], /tls\.pins entries must look like 'sha256\/<base64 of 32 bytes>'/],
    [['--pin', `sha256/${'A'.repeat(43)}=`, 'http://127.0.0.1/'], /--pin checks a TLS certificate: it needs an https: URL/],
    [['-H', 'no-colon', 'http://127.0.0.1/'], /expected 'Name: value'/],
    [['-k', '--cacert', 'x.pem', 'https://127.0.0.1/'], /cannot be combined/],
    [['--cacert', '/nonexistent/ca.pem', 'https://127.0.0.1/'], /--cacert \/nonexistent\/ca\.pem/],
    [['-m', 'soon', 'http://127.0.0.1/'], /--max-time needs a positive number/],
    [['--connect-timeout', '0', 'http://127.0.0.1/'], /--connect-timeout needs a positive number/],
  ]
  for (const args of cases) {
    const { io, err } = captureIo()
    t.equal(await runGet(args[0], io), 2, args[0].join(' '))
    t.match(err(), args[1], args[0].join(' '))
  }
  const { io, out } = captureIo()
  t.equal(await runGet(['--help'], io), 0)
  t.match(out(), /--insecure/)
  // Through the real entry point too: the exit code reaches the shell.
  const run = await runCli(t, ['get', '--bogus'])
  t.equal(run.code, 2)
  const unknown = await runCli(t, ['frobnicate'])
  t.equal(unknown.code, 2)
  t.match(unknown.stderr, /unknown command 'frobnicate'/)
})

t.test('hostile peers: garbage is a parse error (8), an early close is 56, silence times out (28)', async (t) => {
  const garbage = await rawServer(t, (socket) => {
    onRequestHeads(socket, () => socket.write('HTTP/1.1 2x0 Nope\r\n\r\n'))
  })
  const closing = await rawServer(t, (socket) => {
    onRequestHeads(socket, () => socket.destroy())
  })
  let silentRequests = 0
  const silent = await rawServer(t, (socket) => {
    onRequestHeads(socket, () => silentRequests++)
  })
  const parse = await runCli(t, ['get', garbage.origin])
  t.equal(parse.code, 8)
  t.match(parse.stderr, /WP_H1_PARSE/)
  const closed = await runCli(t, ['get', closing.origin])
  t.equal(closed.code, 56)
  t.match(closed.stderr, /WP_SOCKET_CLOSED/)
  const timeout = await runCli(t, ['get', '-m', '0.3', silent.origin])
  t.equal(timeout.code, 28)
  t.match(timeout.stderr, /--max-time/)
  t.equal(silentRequests, 1, 'the request reached the silent server before the timeout')
})

t.test('help and version', async (t) => {
  const help = await runCli(t, ['--help'])
  t.equal(help.code, 0)
  t.match(help.stdout, /Exit codes/)
  t.match(help.stdout, /wirepool bench/)
  const version = await runCli(t, ['--version'])
  t.match(version.stdout, /^wirepool \d+\.\d+\.\d+\n$/)
})
