/**
 * Requests (or events) per second and their latency over the last 10 s and
 * 60 s, for the status document. `observe` is the hot path: an array index,
 * two additions and a binary search over a fixed log scale — no allocation.
 * The quantiles are read from the merged per-second histograms when the
 * status is asked for (about twice a second at most).
 */
import type { Rate, Rates } from "./document.ts"

const SECONDS = 60
/**
 * Bucket upper bounds in ms: 0.05 ms to ~100 s, ×1.25 apart, each written
 * with three significant digits. A quantile is reported as the upper bound
 * of its bucket, so it is never below the exact one and at most ×1.255
 * above it; the bounds are the printed numbers themselves, so nothing is
 * rounded after the comparison.
 */
const BOUNDS: ReadonlyArray<number> = (() => {
  const out: Array<number> = []
  for (let b = 0.05; b < 120_000; b *= 1.25) out.push(Number(b.toPrecision(3)))
  return out
})()

export class RateWindow {
  private readonly counts = new Int32Array(SECONDS)
  private readonly hist = new Int32Array(SECONDS * (BOUNDS.length + 1))
  private readonly timed = new Int32Array(SECONDS)
  /** The second (since the epoch) each slot of the ring holds. */
  private readonly stamp = new Float64Array(SECONDS).fill(-1)
  private readonly started: number

  constructor(now = Date.now()) {
    this.started = now
  }

  private slotFor(second: number): number {
    const i = second % SECONDS
    if (this.stamp[i] !== second) {
      this.stamp[i] = second
      this.counts[i] = 0
      this.timed[i] = 0
      this.hist.fill(0, i * (BOUNDS.length + 1), (i + 1) * (BOUNDS.length + 1))
    }
    return i
  }

  /** One request (event) finished now, after `ms` (undefined: count it, no latency). */
  observe(ms?: number, now = Date.now()): void {
    const i = this.slotFor(Math.floor(now / 1000))
    this.counts[i]!++
    if (ms === undefined) return
    this.timed[i]!++
    // the first bound not below ms (BOUNDS.length: above them all), by halving
    let lo = 0
    let hi = BOUNDS.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (ms > BOUNDS[mid]!) lo = mid + 1
      else hi = mid
    }
    this.hist[i * (BOUNDS.length + 1) + lo]!++
  }

  /** How many were observed in the last `seconds` (the current one included). */
  count(seconds: number, now = Date.now()): number {
    const current = Math.floor(now / 1000)
    let n = 0
    for (let s = current - seconds + 1; s <= current; s++) {
      const i = s % SECONDS
      if (this.stamp[i] === s) n += this.counts[i]!
    }
    return n
  }

  private quantile(merged: Int32Array, total: number, q: number): number | null {
    if (total === 0) return null
    const rank = Math.ceil(q * total)
    let seen = 0
    for (let b = 0; b < merged.length; b++) {
      seen += merged[b]!
      if (seen >= rank) return BOUNDS[Math.min(b, BOUNDS.length - 1)]!
    }
    return null
  }

  private window(seconds: number, now: number): Rate {
    const current = Math.floor(now / 1000)
    const merged = new Int32Array(BOUNDS.length + 1)
    let count = 0
    let timed = 0
    for (let s = current - seconds + 1; s <= current; s++) {
      const i = s % SECONDS
      if (this.stamp[i] !== s) continue
      count += this.counts[i]!
      timed += this.timed[i]!
      for (let b = 0; b <= BOUNDS.length; b++) merged[b]! += this.hist[i * (BOUNDS.length + 1) + b]!
    }
    const windowMs = Math.max(1, Math.min(seconds * 1000, now - this.started))
    return {
      windowMs,
      count,
      perSec: Number((count / (windowMs / 1000)).toFixed(2)),
      p50Ms: this.quantile(merged, timed, 0.5),
      p99Ms: this.quantile(merged, timed, 0.99)
    }
  }

  snapshot(now = Date.now()): Rates {
    const current = Math.floor(now / 1000)
    const perSecond: Array<number> = []
    const p50PerSecond: Array<number | null> = []
    for (let s = current - SECONDS + 1; s <= current; s++) {
      const i = s % SECONDS
      const here = this.stamp[i] === s
      perSecond.push(here ? this.counts[i]! : 0)
      if (!here || this.timed[i] === 0) {
        p50PerSecond.push(null)
        continue
      }
      p50PerSecond.push(this.quantile(this.hist.subarray(i * (BOUNDS.length + 1), (i + 1) * (BOUNDS.length + 1)), this.timed[i]!, 0.5))
    }
    return { last10s: this.window(10, now), last60s: this.window(60, now), perSecond, p50PerSecond }
  }
}
