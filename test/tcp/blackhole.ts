/**
 * Loopback addresses that black-hole SYNs, for Happy Eyeballs tests, without a firewall.
 *
 * A listening socket that never accepts, with backlog 1: Linux queues two completed
 * connections (accept queue holds backlog + 1; backlog 0 would also make the SYN queue
 * "full" and cost the first filler a SYN retransmit) and then drops every further SYN while the
 * queue is full (tcp_conn_request: sk_acceptq_is_full → drop), so the client's connect
 * hangs in SYN_SENT with retransmits. Node's own servers always accept (libuv accepts as
 * soon as the fd is readable), hence a small python3 process that only binds and listens.
 * `blackHoles()` makes the queued connections, after which the address is a black hole.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import net from 'node:net'
import { once } from 'node:events'

interface Teardown {
  teardown(fn: () => unknown): void
}

const SCRIPT = `
import socket, sys
hosts = sys.argv[1:]
port = 0
held = []
for h in hosts:
    s = socket.socket(socket.AF_INET6 if ':' in h else socket.AF_INET, socket.SOCK_STREAM)
    s.bind((h, port))
    s.listen(1)
    port = s.getsockname()[1]
    held.append(s)
print(port, flush=True)
sys.stdin.read()
`

/** Connections the accept queue holds with backlog 1 (backlog + 1). */
const QUEUED = 2

export interface BlackHoles {
  port: number
}

/**
 * Listen (never accepting) on every host at one port and fill each accept queue. `port`
 * may then be used by a live listener on other addresses.
 */
export async function blackHoles(t: Teardown, hosts: string[]): Promise<BlackHoles> {
  const child: ChildProcess = spawn('python3', ['-c', SCRIPT, ...hosts], { stdio: ['pipe', 'pipe', 'inherit'] })
  const fillers: net.Socket[] = []
  t.teardown(async () => {
    for (const s of fillers) s.destroy()
    child.stdin?.end()
    if (child.exitCode === null) await once(child, 'exit')
  })
  const [line] = (await once(child.stdout as NodeJS.ReadableStream, 'data')) as [Buffer]
  const port = Number(line.toString().trim())
  if (!(port > 0)) throw new Error(`black hole helper failed: ${line.toString()}`)
  for (const host of hosts) {
    // One after the other: each SYN finds the SYN queue empty (backlog 1 also bounds it).
    for (let i = 0; i < QUEUED; i++) {
      const filler = net.connect({ host, port })
      filler.on('error', () => {})
      fillers.push(filler)
      await once(filler, 'connect')
    }
  }
  return { port }
}

/** True when python3 is there to hold the black holes. */
export async function havePython(): Promise<boolean> {
  const child = spawn('python3', ['-c', 'print(1)'], { stdio: 'ignore' })
  const [code] = (await once(child, 'exit').catch(() => [1])) as [number]
  return code === 0
}
