/**
 * The README benchmark report: results JSON (in the shape bench/h1.ts and bench/h2.ts
 * write) to markdown tables, the ratio chart, and the section replacement between the
 * README markers. Fixtures are written into a temp dir, never into bench/results.
 */
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import {
  chartBars,
  familyMarkdown,
  formatMachine,
  markdownCell,
  parseCpuInfo,
  parseFamily,
  parseMemInfo,
  ratioChartSvg,
  replaceSection,
  reportSection,
  xmlText,
  type Machine,
} from '../../bench/report-format.js'
import { generateReport, readMachine } from '../../bench/report-run.js'

const row = (contender: string, tool: string, reqPerSec: number | null, extra: Record<string, unknown>) => ({
  contender,
  tool,
  reqPerSec,
  mbPerSec: reqPerSec === null ? null : (reqPerSec * 5) / 1e6,
  okRuns: reqPerSec === null ? 0 : 3,
  runs: 3,
  errors: 0,
  error: null,
  perRound: [reqPerSec, reqPerSec, reqPerSec],
  ...extra,
})

const H2_FIXTURE = {
  benchmark: 'h2',
  date: '2026-11-26T20:45:00.000Z',
  node: 'v20.20.2',
  cpus: 2,
  cpuModel: 'Test CPU',
  server: 'nghttpd nghttp2/1.52.0',
  pinned: true,
  durationSeconds: 3,
  warmupSeconds: 0.5,
  rounds: 3,
  cTool: 'h2load',
  scenarios: [
    {
      name: 'h2c_c1_m100_body5',
      title: 'h2c, 1 connection, 100 streams, 5 B body',
      results: [
        row('wirepool', 'wirepool', 60_000, { vsHttp2: 3.2, vsH2load: 0.5 }),
        row('http2', 'node:http2', 18_750, { vsHttp2: 1, vsH2load: 0.15625 }),
        row('undici', 'undici 7', null, { vsHttp2: null, vsH2load: null, error: 'exited with code 1: boom | bang' }),
        row('h2load', 'h2load -c1 -m100', 120_000, { vsHttp2: 6.4, vsH2load: 1 }),
      ],
    },
    {
      name: 'h2c_c1_m1_body5',
      results: [
        row('wirepool', 'wirepool', 8_000, { vsHttp2: 1.6, vsH2load: null }),
        row('http2', 'node:http2', 5_000, { vsHttp2: 1, vsH2load: null }),
      ],
    },
  ],
  targets: [
    { scenario: 'h2c_c1_m100_body5', anchor: 'http2', atLeast: 3, ratio: 3.2, met: true },
    { scenario: 'h2c_c1_m1_body5', anchor: 'h2load', atLeast: 0.9, ratio: null, met: null },
  ],
}

const H1_FIXTURE = {
  benchmark: 'h1',
  date: '2026-11-25T10:00:00.000Z',
  node: 'v20.20.2',
  server: 'nginx/1.22.1',
  durationSeconds: 3,
  rounds: 3,
  scenarios: [{ name: 'h1_c1_body5', results: [row('wirepool', 'wirepool', 20_000, { vsUndici: 1.25, vsWrk: 0.8 }), row('undici', 'undici 7', 16_000, { vsUndici: 1, vsWrk: 0.64 })] }],
}

const MEMORY_FIXTURE = {
  benchmark: 'memory',
  date: '2026-11-26T20:00:00.000Z',
  node: 'v20.20.2',
  rounds: 1,
  counts: [
    {
      connections: 100,
      results: [
        { contender: 'net', label: 'node:net sockets', connections: 100, rssMiBPer100: 1.25, heapMiBPer100: 0.5, bytesPerConnection: { rss: 1, heap: 2 }, openMs: 30, runs: 1, okRuns: 1, error: null, note: null, perRound: [1.25] },
        { contender: 'wirepool-h1', label: 'wirepool h1', connections: 100, rssMiBPer100: 1.5, heapMiBPer100: 0.75, bytesPerConnection: null, openMs: 40, runs: 1, okRuns: 1, error: null, note: null, perRound: [1.5] },
      ],
      verdicts: [{ contender: 'wirepool-h1', connections: 100, floor: 'net', vsFloor: 1.2, node: 'undici-h1', vsNode: 0.8, target: '≤ 1.50× net', met: true }],
      profiles: {},
    },
    { results: [], verdicts: [{ contender: 'wirepool-tls-h1', target: '≤ 2.0 MiB', met: null }, { bogus: true }] },
  ],
}

const MACHINE: Machine = { cores: 2, cpuModel: 'Intel(R) Xeon(R) Processor @ 2.50GHz', ramBytes: 24_684_096 * 1024 }

const README = `# wirepool\n\nIntro.\n\n## Benchmarks\n\n<!-- bench:start -->\n(old)\n<!-- bench:end -->\n\n## Layout\n\nMore.\n`

t.test('parseCpuInfo counts processors and takes the first model name', async (t) => {
  const text = 'processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Processor @ 2.50GHz\nflags\t\t: fpu\n\nprocessor\t: 1\nmodel name\t: Intel(R) Xeon(R) Processor @ 2.50GHz\n'
  t.same(parseCpuInfo(text), { cores: 2, cpuModel: 'Intel(R) Xeon(R) Processor @ 2.50GHz' })
  t.same(parseCpuInfo('processor : 0\n'), { cores: 1, cpuModel: null }, 'ARM kernels may print no model name')
})

t.test('parseMemInfo reads MemTotal in kB as bytes', async (t) => {
  t.equal(parseMemInfo('MemTotal:       24684096 kB\nMemFree:         1000 kB\n'), 24_684_096 * 1024)
  t.equal(parseMemInfo('MemFree: 1 kB\n'), null)
})

t.test('formatMachine', async (t) => {
  t.equal(formatMachine(MACHINE), '2 logical CPUs (Intel(R) Xeon(R) Processor @ 2.50GHz), 23.5 GiB RAM')
  t.equal(formatMachine({ cores: 1, cpuModel: null, ramBytes: null }), '1 logical CPU (model unknown), RAM unknown')
})

t.test('parseFamily reads the benchmark files and rejects other shapes', async (t) => {
  const family = parseFamily('h2.json', H2_FIXTURE)
  t.equal(family.name, 'h2')
  t.equal(family.date, '2026-11-26T20:45:00.000Z')
  t.equal(family.settings, 'median of 3 × 3 s after 0.5 s warm-up')
  t.equal(family.scenarios.length, 2)
  const wirepool = family.scenarios[0]?.results[0]
  t.same([...(wirepool?.values.keys() ?? [])], ['reqPerSec', 'mbPerSec', 'vsHttp2', 'vsH2load'], 'figures only, bookkeeping fields left out')
  t.equal(family.scenarios[0]?.results[2]?.error, 'exited with code 1: boom | bang')
  t.same(family.targets, [
    '`h2c_c1_m100_body5`: wirepool 3.20× node:http2 (target ≥ 3×): met',
    '`h2c_c1_m1_body5`: wirepool — h2load (target ≥ 0.9×): not measured',
  ])
  t.equal(parseFamily('other.json', { scenarios: [] }).name, 'other', 'the file name when there is no benchmark field')
  t.throws(() => parseFamily('x.json', [1]), /x\.json: not a JSON object/)
  t.throws(() => parseFamily('x.json', { rows: [] }), /x\.json: no "scenarios" \(or "counts"\) array/)
  t.throws(() => parseFamily('x.json', { scenarios: [3] }), /x\.json: scenario 0 is not an object/)
  t.throws(() => parseFamily('x.json', { scenarios: [{ name: 's' }] }), /scenario s has no "results" array/)
  t.throws(() => parseFamily('x.json', { scenarios: [{ name: 's', results: [{ reqPerSec: 1 }] }] }), /no "tool", "label" or "contender"/)
  t.throws(() => parseFamily('x.json', { scenarios: [{ name: 's', results: [7] }] }), /x\.json s: a result is not an object/)
})

t.test('parseFamily reads bench/memory.ts counts, labels and verdicts', async (t) => {
  const family = parseFamily('memory.json', MEMORY_FIXTURE)
  t.equal(family.name, 'memory')
  t.same(family.scenarios.map((s) => s.name), ['100 connections', 'scenario 2'], 'a count without its number gets a positional name')
  const wirepool = family.scenarios[0]?.results[1]
  t.equal(wirepool?.tool, 'wirepool h1')
  t.equal(wirepool?.values.get('openMs'), 40)
  t.notOk(wirepool?.values.has('connections'), 'the count is the scenario, not a figure')
  t.same(family.targets, ['wirepool-h1 at 100 connections: 1.20× net, 0.80× undici-h1 (target ≤ 1.50× net): met', 'wirepool-tls-h1: (target ≤ 2.0 MiB): not measured'])
  t.throws(() => parseFamily('m.json', { counts: [null] }), /m\.json: count 0 is not an object/)
  const md = familyMarkdown(family)
  t.match(md, '### Memory (`npm run bench:memory`)')
  t.match(md, '| scenario | contender | RSS MiB / 100 conns | heap MiB / 100 conns | open ms |\n', 'no column for fields null in every row')
  t.match(md, '| `100 connections` | node:net sockets | 1.25 | 0.50 | 30 |\n|  | **wirepool h1** | 1.50 | 0.75 | 40 |')
  t.match(md, '- wirepool-h1 at 100 connections: 1.20× net, 0.80× undici-h1 (target ≤ 1.50× net): met')
  t.same(chartBars([family]), [], 'memory ratios are not throughput ratios: no bars')
})

t.test('familyMarkdown: one table, ratios, failures and targets', async (t) => {
  const md = familyMarkdown(parseFamily('h2.json', H2_FIXTURE))
  const lines = md.split('\n')
  t.equal(lines[0], '### HTTP/2 (`npm run bench:h2`)')
  t.equal(lines[2], 'run 2026-11-26; Node.js v20.20.2; server nghttpd nghttp2/1.52.0; median of 3 × 3 s after 0.5 s warm-up.')
  t.equal(lines[4], '| scenario | contender | req/s | MB/s | vs node:http2 | vs h2load |')
  t.equal(lines[5], '| :-- | :-- | --: | --: | --: | --: |')
  t.equal(lines[6], '| `h2c_c1_m100_body5` | **wirepool** | 60,000 | 0.30 | 3.20× | 0.50× |')
  t.equal(lines[8], '|  | undici 7 | — | — | — | — |', 'a failed contender: dashes, and the scenario named once')
  t.equal(lines[10], '| `h2c_c1_m1_body5` | **wirepool** | 8,000 | 0.04 | 1.60× | — |')
  t.match(md, '- `h2c_c1_m100_body5`: wirepool 3.20× node:http2 (target ≥ 3×): met')
  t.match(md, '- `h2c_c1_m100_body5` undici 7: exited with code 1: boom \\| bang', 'pipes escaped in the error list')
  const h1 = familyMarkdown(parseFamily('h1.json', H1_FIXTURE))
  t.match(h1, '| scenario | contender | req/s | MB/s | vs undici | vs wrk |')
  t.notMatch(h1, 'Targets:', 'no targets section without targets')
  t.notMatch(h1, 'Errors:', 'no errors section without errors')
})

t.test('markdownCell and xmlText escape what would break the markup', async (t) => {
  t.equal(markdownCell('a|b\n  c'), 'a\\|b c')
  t.equal(xmlText(`<a & "b" 'c'>`), '&lt;a &amp; &quot;b&quot; &apos;c&apos;&gt;')
})

t.test('chartBars takes wirepool’s measured ratios only', async (t) => {
  const bars = chartBars([parseFamily('h1.json', H1_FIXTURE), parseFamily('h2.json', H2_FIXTURE)])
  t.same(bars, [
    { group: 'h1_c1_body5', anchor: 'undici', ratio: 1.25 },
    { group: 'h1_c1_body5', anchor: 'wrk', ratio: 0.8 },
    { group: 'h2c_c1_m100_body5', anchor: 'node:http2', ratio: 3.2 },
    { group: 'h2c_c1_m100_body5', anchor: 'h2load', ratio: 0.5 },
    { group: 'h2c_c1_m1_body5', anchor: 'node:http2', ratio: 1.6 },
  ])
})

t.test('ratioChartSvg draws one bar per ratio, scaled, with a parity line', async (t) => {
  const svg = ratioChartSvg(
    [
      { group: 'a<b', anchor: 'x', ratio: 2 },
      { group: 'a<b', anchor: 'y', ratio: 1 },
      { group: 'c', anchor: 'x', ratio: 0.5 },
    ],
    'Title & more',
  )
  t.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" width="760" height="\d+"/)
  t.ok(svg.trimEnd().endsWith('</svg>'))
  const widths = [...svg.matchAll(/<rect x="200" y="\d+" width="([\d.]+)" height="14"/g)].map((m) => Number(m[1]))
  t.same(widths, [504, 252, 126], 'plot width 504 px for the largest ratio (2×), proportional below')
  t.match(svg, '<line x1="452.0"', 'parity line at 1×: half the plot width')
  t.match(svg, '>a&lt;b</text>', 'labels escaped')
  t.match(svg, 'Title &amp; more')
  t.match(svg, '>vs x</text>')
  t.match(svg, '>vs y</text>')
  t.match(svg, '>2.00×</text>')
  const small = ratioChartSvg([{ group: 'g', anchor: 'x', ratio: 0.5 }], 't')
  t.match(small, '<rect x="200" y="44" width="201.6"', 'the axis reaches 1.25× at least: 0.5 / 1.25 of 504 px')
})

t.test('replaceSection keeps the markers and everything around them', async (t) => {
  const out = replaceSection(README, '\nnew table\n')
  t.equal(out, README.replace('(old)', 'new table'))
  t.throws(() => replaceSection('# no markers\n', 'x'), /must contain the line <!-- bench:start --> exactly once \(found 0\)/)
  t.throws(() => replaceSection(`${README}<!-- bench:end -->\n`, 'x'), /<!-- bench:end --> exactly once \(found 2\)/)
  t.throws(() => replaceSection('<!-- bench:end -->\n<!-- bench:start -->\n', 'x'), /bench:end --> comes before/)
})

t.test('reportSection without results says how to make some', async (t) => {
  const section = reportSection(MACHINE, [], null, [])
  t.match(section, 'Machine: 2 logical CPUs (Intel(R) Xeon(R) Processor @ 2.50GHz), 23.5 GiB RAM.')
  t.match(section, 'No results yet')
  t.notMatch(section, '![')
})

t.test('generateReport rewrites the section and writes the chart from a results dir', async (t) => {
  const dir = t.testdir({
    'README.md': README,
    results: {
      'h2.json': JSON.stringify(H2_FIXTURE),
      'h1.json': JSON.stringify(H1_FIXTURE),
      'memory.json': JSON.stringify({ benchmark: 'memory', heap: 1 }),
      'notes.txt': 'not a result',
    },
  })
  const outcome = await generateReport({ resultsDir: join(dir, 'results'), readme: join(dir, 'README.md') }, MACHINE)
  t.same(outcome.families, ['h1', 'h2'], 'h1 before h2 whatever the directory order')
  t.same(outcome.skipped, ['memory.json not shown: memory.json: no "scenarios" (or "counts") array'])
  t.equal(outcome.chart, join(dir, 'results', 'ratios.svg'))
  const readme = await readFile(join(dir, 'README.md'), 'utf8')
  t.ok(readme.startsWith('# wirepool\n\nIntro.\n\n## Benchmarks\n\n<!-- bench:start -->\n'), 'text before the section untouched')
  t.ok(readme.endsWith('<!-- bench:end -->\n\n## Layout\n\nMore.\n'), 'text after the section untouched')
  t.notMatch(readme, '(old)')
  t.match(readme, '![wirepool\'s throughput relative to each anchor, per scenario](results/ratios.svg)', 'chart linked relative to the README')
  t.ok(readme.indexOf('### HTTP/1.1') < readme.indexOf('### HTTP/2'))
  t.match(readme, '- memory.json not shown')
  const svg = await readFile(join(dir, 'results', 'ratios.svg'), 'utf8')
  t.equal([...svg.matchAll(/<\/title><\/rect>/g)].length, 5, 'one bar per wirepool ratio')
})

t.test('generateReport fails without the markers and writes nothing', async (t) => {
  const dir = t.testdir({ 'README.md': '# no section\n', results: { 'h2.json': JSON.stringify(H2_FIXTURE) } })
  await t.rejects(generateReport({ resultsDir: join(dir, 'results'), readme: join(dir, 'README.md') }, MACHINE), /README\.md must contain the line <!-- bench:start -->/)
  t.equal(await readFile(join(dir, 'README.md'), 'utf8'), '# no section\n')
  t.notOk(existsSync(join(dir, 'results', 'ratios.svg')))
})

t.test('generateReport with no results dir yet', async (t) => {
  const dir = t.testdir({ 'README.md': README })
  const outcome = await generateReport({ resultsDir: join(dir, 'results'), readme: join(dir, 'README.md') }, MACHINE)
  t.equal(outcome.chart, null)
  t.same(outcome.families, [])
  t.match(await readFile(join(dir, 'README.md'), 'utf8'), 'No results yet')
})

t.test('readMachine describes the machine it runs on', async (t) => {
  const machine = await readMachine()
  t.ok(Number.isInteger(machine.cores) && machine.cores >= 1, `${machine.cores} cores`)
  t.ok(machine.ramBytes !== null && machine.ramBytes > 0, 'RAM size known')
  t.match(formatMachine(machine), /^\d+ logical CPUs? \(.+\), \d+\.\d GiB RAM$/)
})
