/**
 * Run by system-ca.test.ts in a child process whose SSL_CERT_FILE names a system-style
 * bundle: one request with `tls: { ca: 'system' }`; prints the status or the error code.
 *
 *   node --import tsx system-ca-child.ts URL
 */
import { Agent, WirepoolError } from '../../src/index.js'

const url = process.argv[2]
if (url === undefined) throw new Error('usage: system-ca-child.ts URL')
const agent = new Agent({ tls: { ca: 'system' }, retry: false })
try {
  const res = await agent.request({ url })
  process.stdout.write(`${res.status} ${await res.body.text()}\n`)
} catch (err) {
  process.stdout.write(`${err instanceof WirepoolError ? err.code : String(err)}\n`)
}
await agent.close()
