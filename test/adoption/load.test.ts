/**
 * The package loads where users are (issue #13): built as `npm run build` builds it, copied
 * into a scratch project's node_modules with its package.json (so `exports` is what resolves),
 * then required from CommonJS and imported from ESM on Node 20 (this process's binary) and
 * on Node 24 when one is at hand, and type-checked from a CommonJS TypeScript file. Also: the
 * README's TypeScript blocks are the ones examples/ type-checks.
 */
import t from 'tap'
import { execFile } from 'node:child_process'
import { cp, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const execFileAsync = promisify(execFile)
/**
 * Children run as a user's would: without the test runner's loaders (tap's process-info hook
 * puts itself back into NODE_OPTIONS of every child it sees spawned, so a shell removes it).
 */
const run = (file: string, args: string[], options: { cwd?: string } = {}) =>
  execFileAsync('/bin/sh', ['-c', 'unset NODE_OPTIONS; exec "$0" "$@"', file, ...args], options)
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const tsc = join(root, 'node_modules/.bin/tsc')
/** A Node 24 binary (`npm install node@24` in a scratch folder); NODE24 overrides the path. */
const node24 = process.env['NODE24'] ?? '/work/node24/node_modules/.bin/node'

t.setTimeout(240_000)

t.test('README TypeScript blocks are the ones examples/ type-checks', async (t) => {
  const readme = await readFile(join(root, 'README.md'), 'utf8')
  const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] ?? '')
  t.ok(blocks.length >= 2, 'the README has TypeScript blocks')
  const examples = await Promise.all((await readdir(join(root, 'examples'))).filter((f) => f.endsWith('.ts'))
    .map((f) => readFile(join(root, 'examples', f), 'utf8')))
  for (const [i, block] of blocks.entries()) {
    t.ok(examples.some((text) => text.includes(block)), `README ts block ${i + 1} appears verbatim in examples/`)
  }
  const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
  t.match(pkg.scripts['typecheck'], /examples\/tsconfig\.json/, 'npm run typecheck type-checks examples/')
  const checked = await run(tsc, ['-p', join(root, 'examples/tsconfig.json')]).then(() => '', (err: { stdout?: string }) => err.stdout ?? String(err))
  t.equal(checked, '', 'examples/ type-check under --strict, as a user compiles them')
})

t.test('built package: require() and import on Node 20 and 24, CommonJS TypeScript', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'wirepool-load-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const pkg = join(dir, 'app/node_modules/wirepool')
  await mkdir(join(dir, 'app/node_modules/@types'), { recursive: true })
  await run(tsc, ['-p', join(root, 'tsconfig.build.json'), '--outDir', join(pkg, 'dist'), '--sourceMap', 'false', '--declarationMap', 'false'])
  await cp(join(root, 'package.json'), join(pkg, 'package.json'))
  // The optional peer the undici adapter imports, and Node's types, as a user installs them.
  await symlink(join(root, 'node_modules/undici'), join(dir, 'app/node_modules/undici'))
  await symlink(join(root, 'node_modules/@types/node'), join(dir, 'app/node_modules/@types/node'))
  const app = join(dir, 'app')
  await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'commonjs' }))
  const subpaths = Object.keys((JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { exports: Record<string, unknown> }).exports)
    .filter((key) => key !== '.' && key !== './package.json').map((key) => `wirepool/${key.slice(2)}`)
  t.ok(subpaths.length >= 3, `subpaths: ${subpaths.join(', ')}`)
  await writeFile(join(app, 'main.cjs'), [
    "const w = require('wirepool')",
    "const names = ['Agent', 'Pool', 'request', 'WebSocket', 'WirepoolError'].filter((n) => typeof w[n] !== 'function')",
    "if (names.length) throw new Error('missing ' + names)",
    `for (const sub of ${JSON.stringify(subpaths)}) {`,
    "  const m = require(sub); if (Object.keys(m).length === 0) throw new Error(sub + ' is empty')",
    '}',
    "console.log('cjs ok', require('wirepool/package.json').name)",
  ].join('\n'))
  await writeFile(join(app, 'main.mjs'), [
    "import { Agent, request } from 'wirepool'",
    "import { fetch } from 'wirepool/fetch'",
    "import { WirepoolDispatcher } from 'wirepool/undici'",
    "import { WirepoolHttpAgent } from 'wirepool/http-agent'",
    "console.log('esm ok', typeof Agent, typeof request, typeof fetch, typeof WirepoolDispatcher, typeof WirepoolHttpAgent)",
  ].join('\n'))

  const binaries: [string, string][] = [['node ' + process.version, process.execPath]]
  if (existsSync(node24)) binaries.push(['node 24', node24])
  else t.comment(`no Node 24 binary at ${node24} (set NODE24): only ${process.version} checked`)

  // Without the optional OpenTelemetry peer: everything but wirepool/otel loads, and that one
  // says what is missing.
  await writeFile(join(app, 'peerless.cjs'), [
    `for (const sub of ${JSON.stringify(['wirepool', ...subpaths.filter((s) => s !== 'wirepool/otel')])}) require(sub)`,
    "try { require('wirepool/otel'); throw new Error('wirepool/otel loaded without @opentelemetry/api') }",
    "catch (err) { if (!/MODULE_NOT_FOUND$/.test(String(err.code)) || !String(err.message).includes('@opentelemetry/api')) throw err }",
    "console.log('peerless ok')",
  ].join('\n'))
  for (const [label, bin] of binaries) {
    const peerless = await run(bin, ['peerless.cjs'], { cwd: app })
    t.equal(peerless.stdout.trim(), 'peerless ok', `${label}: without @opentelemetry/api only wirepool/otel fails to load`)
  }
  await mkdir(join(app, 'node_modules/@opentelemetry'), { recursive: true })
  await symlink(join(root, 'node_modules/@opentelemetry/api'), join(app, 'node_modules/@opentelemetry/api'))

  for (const [label, bin] of binaries) {
    const cjs = await run(bin, ['main.cjs'], { cwd: app })
    t.equal(cjs.stdout.trim(), 'cjs ok wirepool', `${label}: require('wirepool') and each subpath`)
    t.notMatch(cjs.stderr, /Error/, `${label}: nothing on stderr but warnings`)
    const esm = await run(bin, ['main.mjs'], { cwd: app })
    t.equal(esm.stdout.trim(), 'esm ok function function function function function', `${label}: import`)
  }

  // A CommonJS TypeScript project: `import` compiles to require() (module nodenext models
  // require(esm); TypeScript's node16 mode models Node 16, which could not).
  await writeFile(join(app, 'main.cts'), [
    "import { Agent, Pool, request, WebSocket, WirepoolError, type Response } from 'wirepool'",
    "import { fetch } from 'wirepool/fetch'",
    "const agent: Agent = new Agent({ connections: 2 })",
    "const pool: Pool = new Pool('http://127.0.0.1:1')",
    "const ws = new WebSocket('ws://127.0.0.1:1/', { agent })",
    "ws.addEventListener('message', (e) => console.log(e.data))",
    "const p: Promise<Response | boolean> = request('http://127.0.0.1:1/').catch((e: unknown) => e instanceof WirepoolError)",
    'void p; void pool; void fetch',
  ].join('\n'))
  await writeFile(join(app, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', strict: true, noEmit: true, types: ['node'], skipLibCheck: true },
    files: ['main.cts'],
  }))
  const checked = await run(tsc, ['-p', join(app, 'tsconfig.json')], { cwd: app }).then(() => '', (err: { stdout?: string }) => err.stdout ?? String(err))
  t.equal(checked, '', 'a CommonJS TypeScript file type-checks against the package (module nodenext, strict)')
})

t.test('engines names the versions that can require() the package', async (t) => {
  const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { engines: { node: string }, exports: Record<string, unknown> }
  t.equal(pkg.engines.node, '>=20.19', 'require(esm) without a flag: Node 20.19, 22.12, 24')
  for (const [key, value] of Object.entries(pkg.exports)) {
    if (typeof value === 'object' && value !== null) t.ok('default' in value, `exports["${key}"] has a default condition`)
  }
})
