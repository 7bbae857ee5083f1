/**
 * Which proxy each origin's connections go through, in the Prometheus exposition: an info
 * gauge (value 1) labelled by origin and the proxy's URL without credentials, written only
 * for proxied origins (nothing at all when no proxy is configured).
 */
export function proxyRouteMetrics(pools: Iterable<{ origin: string; proxy: string | null }>): string {
  let lines = ''
  for (const pool of pools) {
    if (pool.proxy !== null) lines += `wirepool_proxy_route{origin="${label(pool.origin)}",proxy="${label(pool.proxy)}"} 1\n`
  }
  return lines === '' ? '' : `# HELP wirepool_proxy_route The proxy an origin's connections go through.\n# TYPE wirepool_proxy_route gauge\n${lines}`
}

/** Label values escape backslash, double quote and newline (exposition format 0.0.4). */
function label(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}
