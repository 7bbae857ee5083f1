#!/usr/bin/env bash
# The package as a user gets it (issue #13): `npm pack`, the tarball installed offline into a
# fresh project outside the repository, then used from ESM, CommonJS and strict TypeScript
# (node16/nodenext and bundler resolution), and its command line run: `wirepool get` against
# a local server and `wirepool bench -n 1000` against the embedded server.
#
#   scripts/pack-check.sh            with the `node` on PATH (run it again with another first
#                                    on PATH for another Node line: .ci/run does 20 and 24)
#
# The TypeScript compiler and the optional `undici` peer come from this repository's
# node_modules (a user installs them from the registry; this check stays offline).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
step() { echo "== pack-check ($(node --version)): $*"; }

step "npm pack"
tarball=$(cd "$repo" && npm pack --silent --pack-destination "$work" | tail -1)
tar -tzf "$work/$tarball" > "$work/contents"
for must in package/dist/index.js package/dist/index.d.ts package/dist/cli/main.js package/README.md package/docs/embedding.md package/docs/architecture.md package/bench/results/ratios.svg package/examples/usage.ts; do
  grep -qx "$must" "$work/contents" || { echo "pack-check: $must is not in the tarball" >&2; exit 1; }
done
internal=$(tar -xzOf "$work/$tarball" --wildcards 'package/dist/*.d.ts' | grep -c '@internal' || true)
[ "$internal" = 0 ] || { echo "pack-check: $internal @internal members in the shipped declarations" >&2; exit 1; }

step "npm install --offline the tarball into a fresh project"
app="$work/app"
mkdir -p "$app"
cd "$app"
echo '{ "name": "pack-check-app", "private": true, "type": "module" }' > package.json
install_log="$work/install.log"
npm install --offline --no-audit --no-fund "$work/$tarball" > "$install_log" 2>&1 || { cat "$install_log" >&2; exit 1; }
if grep -qi 'warn' "$install_log"; then cat "$install_log" >&2; echo "pack-check: npm warned on install" >&2; exit 1; fi
ln -s "$repo/node_modules/undici" node_modules/undici
mkdir -p node_modules/@types
ln -s "$repo/node_modules/@types/node" node_modules/@types/node

step "ESM import"
cat > esm.mjs <<'EOF'
import { Agent, Pool, request, WebSocket, WirepoolError } from 'wirepool'
import { WirepoolDispatcher } from 'wirepool/undici'
import { fetch } from 'wirepool/fetch'
import { WirepoolHttpAgent } from 'wirepool/http-agent'
for (const [name, value] of Object.entries({ Agent, Pool, request, WebSocket, WirepoolError, WirepoolDispatcher, fetch, WirepoolHttpAgent })) {
  if (typeof value !== 'function') throw new Error(`${name} is ${typeof value}`)
}
console.log('esm ok')
EOF
node esm.mjs

step "CommonJS require"
cat > cjs.cjs <<'EOF'
const { Agent, Pool, request, WebSocket } = require('wirepool')
const subpaths = ['wirepool/undici', 'wirepool/fetch', 'wirepool/http-agent', 'wirepool/mock', 'wirepool/testing']
for (const sub of subpaths) if (Object.keys(require(sub)).length === 0) throw new Error(`${sub} is empty`)
if ([Agent, Pool, request, WebSocket].some((f) => typeof f !== 'function')) throw new Error('missing exports')
// wirepool/otel needs the optional peer @opentelemetry/api, not installed here: only it fails, saying so.
let otelError
try { require('wirepool/otel') } catch (err) { otelError = err }
if (otelError === undefined || !String(otelError.message).includes('@opentelemetry/api')) throw new Error(`wirepool/otel without @opentelemetry/api: ${otelError}`)
console.log('cjs ok')
EOF
node cjs.cjs 2> "$work/cjs.err" || { cat "$work/cjs.err" >&2; exit 1; }

step "strict TypeScript: nodenext (ESM and CommonJS), node16 (ESM) and bundler resolution"
cat > program.mts <<'EOF'
import { Agent, Pool, request, WebSocket, WirepoolError, type DispatchHandler, type Response } from 'wirepool'
import { WirepoolDispatcher } from 'wirepool/undici'
import { createFetch } from 'wirepool/fetch'
import { WirepoolHttpAgent } from 'wirepool/http-agent'

const agent = new Agent({ connections: 4, tls: { ca: 'system' } })
const pool: Pool = agent.pool('http://127.0.0.1:8080')
const handler: DispatchHandler = {
  onHeaders: (status) => status < 500,
  onData: () => true,
  onComplete: () => {},
  onError: (err: WirepoolError) => console.error(err.code),
}
agent.dispatch({ url: 'http://127.0.0.1:8080/', method: 'GET' }, handler)
const pending: Promise<Response> = request('http://127.0.0.1:8080/', { timeout: 1000, onProgress: (p) => p.transferred })
const ws = new WebSocket('ws://127.0.0.1:8080/', { agent })
ws.addEventListener('message', (e) => console.log(e.data))
ws.addEventListener('close', (e) => console.log(e.code, e.wasClean))
const dispatcher = new WirepoolDispatcher(agent)
const wirepoolFetch = createFetch(agent)
const httpAgent = new WirepoolHttpAgent({ keepAlive: true, connectTimeout: 5000 })
void pool; void pending; void dispatcher; void wirepoolFetch; void httpAgent
EOF
cp program.mts program.cts   # the same program as a CommonJS module (imports become require)
tsc="$repo/node_modules/.bin/tsc"
common=(--noEmit --strict --skipLibCheck false --types node --target es2022)
"$tsc" "${common[@]}" --module nodenext --moduleResolution nodenext program.mts
"$tsc" "${common[@]}" --module nodenext --moduleResolution nodenext program.cts
"$tsc" "${common[@]}" --module node16 --moduleResolution node16 program.mts
"$tsc" "${common[@]}" --module esnext --moduleResolution bundler program.mts
echo "typescript ok"

step "wirepool get against a local server"
mkfifo "$work/port"
node -e "
  const server = require('node:http').createServer((req, res) => res.end('hello from ' + req.url))
  server.listen(0, '127.0.0.1', () => console.log(server.address().port))
" > "$work/port" &
server_pid=$!
read -r port < "$work/port"   # blocks until the server listens
out=$(npx --offline wirepool get "http://127.0.0.1:$port/pack-check")
[ "$out" = "hello from /pack-check" ] || { echo "pack-check: wirepool get printed '$out'" >&2; exit 1; }
echo "get ok"

step "wirepool bench -n 1000 against the embedded server"
npx --offline wirepool bench -n 1000 > "$work/bench.out"
grep -q '1000 succeeded' "$work/bench.out" || { cat "$work/bench.out" >&2; echo "pack-check: bench did not complete 1000 requests" >&2; exit 1; }
grep -E '^(requests|finished in)' "$work/bench.out"
echo "== pack-check ($(node --version)): all green"
