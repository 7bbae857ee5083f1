/**
 * The CI version of `npm run soak` (issue #18): 30 seconds of h1 + h2c requests in a child
 * process with --expose-gc; the script asserts no failed request, exact bodies and heap growth
 * ≤ 1 MiB after GC from the 10 % sample to the end, and prints its figures.
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const script = fileURLToPath(new URL('../../scripts/soak.ts', import.meta.url))
const seconds = process.env.SOAK_SECONDS ?? '30'

// Longer than tap's 30 s default per file: the suite is bounded by its own deadlines.
t.setTimeout(120_000)
t.test(`soak for ${seconds} s`, { timeout: (Number(seconds) + 60) * 1000 }, async (t) => {
  const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', script], { env: { ...process.env, SOAK_SECONDS: seconds }, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr.on('data', (d: Buffer) => (out += d.toString()))
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  for (const line of out.trim().split('\n')) t.comment(line)
  t.equal(code, 0, 'the soak passed')
  t.match(out, /failed: 0, wrong bodies: 0/)
  t.match(out, /soak: PASS/)
})
