/**
 * The per-second time series of a bench run: for each second of the measured phase (by
 * completion time), the requests that completed, how many failed, the bytes received and the
 * latency histogram of that second (so seconds of several threads, processes or machines
 * merge exactly: counts add, histograms merge). Collected only when an output needs it
 * (--json, --csv, --html), so a plain run pays nothing per request for it.
 */
import { Histogram, type HistogramSnapshot } from './histogram.js'

export interface SeriesPoint {
  /** Seconds since the start of the measured phase: this point covers [second, second + 1). */
  second: number
  requests: number
  errors: number
  bytes: number
  latency: HistogramSnapshot
}

interface Slot {
  requests: number
  errors: number
  bytes: number
  latency: Histogram
}

/** A run longer than a day keeps its last second's slot for everything after it. */
const MAX_SECONDS = 86_400

export class SeriesRecorder {
  readonly #slots: Array<Slot | undefined> = []
  #origin = 0

  /** performance.now() at the start of the measured phase. */
  start(origin: number): void {
    this.#origin = origin
  }

  record(now: number, latencyUs: number, bytes: number, failed: boolean): void {
    const second = Math.min(MAX_SECONDS, Math.max(0, Math.floor((now - this.#origin) / 1000)))
    let slot = this.#slots[second]
    if (slot === undefined) {
      slot = { requests: 0, errors: 0, bytes: 0, latency: new Histogram() }
      this.#slots[second] = slot
    }
    slot.requests++
    if (failed) slot.errors++
    slot.bytes += bytes
    slot.latency.record(latencyUs)
  }

  snapshot(): SeriesPoint[] {
    const points: SeriesPoint[] = []
    for (let second = 0; second < this.#slots.length; second++) {
      const slot = this.#slots[second]
      points.push(
        slot === undefined
          ? emptyPoint(second)
          : { second, requests: slot.requests, errors: slot.errors, bytes: slot.bytes, latency: slot.latency.snapshot() },
      )
    }
    return points
  }
}

function emptyPoint(second: number): SeriesPoint {
  return { second, requests: 0, errors: 0, bytes: 0, latency: new Histogram().snapshot() }
}

/** Adds series second by second (threads of one run, or runs being merged). */
export function mergeSeries(all: ReadonlyArray<readonly SeriesPoint[]>): SeriesPoint[] {
  const seconds: Array<{ requests: number; errors: number; bytes: number; latency: Histogram }> = []
  for (const series of all) {
    for (const p of series) {
      if (p.second < 0 || p.second > MAX_SECONDS) continue
      const slot = (seconds[p.second] ??= { requests: 0, errors: 0, bytes: 0, latency: new Histogram() })
      slot.requests += p.requests
      slot.errors += p.errors
      slot.bytes += p.bytes
      slot.latency.merge(p.latency)
    }
  }
  const out: SeriesPoint[] = []
  for (let second = 0; second < seconds.length; second++) {
    const slot = seconds[second]
    out.push(slot === undefined ? emptyPoint(second) : { second, requests: slot.requests, errors: slot.errors, bytes: slot.bytes, latency: slot.latency.snapshot() })
  }
  return out
}
