/**
 * Plain-text tables and the statistics the benchmarks report (medians of rounds and
 * ratios measured in the same run; PERF.md: absolute numbers drift on a shared machine).
 */

/** Median of a non-empty list; the mean of the two middle values for an even count. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of no values')
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  const upper = sorted[mid] as number
  return sorted.length % 2 === 1 ? upper : ((sorted[mid - 1] as number) + upper) / 2
}

/** `a / b`, or null when either side is missing or b is zero. */
export function ratio(a: number | null, b: number | null): number | null {
  return a === null || b === null || b === 0 ? null : a / b
}

/** A ratio shown as `0.97×`, or `—` when there is none. */
export function formatRatio(value: number | null): string {
  return value === null ? '—' : `${value.toFixed(2)}×`
}

/** Thousands separators for rates, two decimals below 10 so small MB/s values stay readable. */
export function formatNumber(value: number): string {
  return value < 10 ? value.toFixed(2) : Math.round(value).toLocaleString('en-US')
}

/**
 * Columns padded to their widest cell: the first column left-aligned (names), the others
 * right-aligned (numbers), a dashed rule under the header.
 */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, col) => Math.max(h.length, ...rows.map((row) => (row[col] ?? '').length)))
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, col) => (col === 0 ? cell.padEnd(widths[col] ?? 0) : cell.padStart(widths[col] ?? 0)))
      .join('  ')
      .trimEnd()
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n')
}
