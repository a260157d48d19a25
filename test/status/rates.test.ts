/**
 * The status document's rates: counts per window, per-second sparkline,
 * and latency quantiles within one bucket (×1.25, three digits) above the exact ones.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { RateWindow } from "../../src/status/rates.ts"

const T0 = 1_800_000_000_000

describe("rate window", () => {
  it("counts the last 10 s and 60 s and keeps a 60-point per-second series", () => {
    const w = new RateWindow(T0)
    for (let s = 0; s < 70; s++) for (let k = 0; k <= s % 3; k++) w.observe(1, T0 + s * 1000 + 10)
    const now = T0 + 69 * 1000 + 500
    const snap = w.snapshot(now)
    const perSec = (s: number) => (s % 3) + 1
    const sum = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => perSec(from + i)).reduce((a, b) => a + b, 0)
    expect(snap.last10s.count).toBe(sum(60, 69))
    expect(snap.last60s.count).toBe(sum(10, 69))
    expect(snap.perSecond).toHaveLength(60)
    expect(snap.perSecond.at(-1)).toBe(perSec(69))
    expect(snap.perSecond[0]).toBe(perSec(10))
    expect(snap.last10s.perSec).toBeCloseTo(sum(60, 69) / 10, 5)
    expect(w.count(10, now)).toBe(sum(60, 69))
    expect(w.count(60, now)).toBe(sum(10, 69))
  })

  it("seconds with nothing are zero, and old seconds are forgotten", () => {
    const w = new RateWindow(T0)
    w.observe(5, T0)
    const snap = w.snapshot(T0 + 120_000)
    expect(snap.last60s.count).toBe(0)
    expect(snap.perSecond.every((n) => n === 0)).toBe(true)
    expect(snap.last60s.p50Ms).toBeNull()
  })

  it("p50 and p99 are never below the exact quantiles and within one bucket above them", () => {
    fc.assert(fc.property(fc.array(fc.double({ min: 0.06, max: 50_000, noNaN: true }), { minLength: 1, maxLength: 400 }), (ms) => {
      const w = new RateWindow(T0)
      for (const m of ms) w.observe(m, T0 + 100)
      const snap = w.snapshot(T0 + 500)
      const sorted = [...ms].sort((a, b) => a - b)
      const exact = (q: number) => sorted[Math.ceil(q * sorted.length) - 1]!
      for (const [q, got] of [[0.5, snap.last10s.p50Ms], [0.99, snap.last10s.p99Ms]] as const) {
        expect(got).not.toBeNull()
        expect(got!).toBeGreaterThanOrEqual(exact(q))
        expect(got!).toBeLessThanOrEqual(exact(q) * 1.2546)
      }
    }), { examples: [[[1431.4314314314317]]] }) // once reported as 1430: rounded after the comparison
  })
})
