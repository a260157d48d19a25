/**
 * Counters a component keeps on its hot path (plain numbers: an `observe` is
 * a few comparisons and additions), read by its status document and by
 * `/metrics` alike.
 */

/** A histogram with fixed upper bounds; `observe` is a few comparisons and additions. */
export class Histogram {
  readonly bounds: ReadonlyArray<number>
  readonly counts: Array<number>
  sum = 0
  count = 0

  constructor(bounds: ReadonlyArray<number>) {
    this.bounds = bounds
    this.counts = bounds.map(() => 0)
  }

  observe(value: number): void {
    this.sum += value
    this.count++
    for (let i = 0; i < this.bounds.length; i++) {
      if (value <= this.bounds[i]!) {
        this.counts[i]!++
        return
      }
    }
  }
}

/** 1, 2, 4, … up to `max`. */
export const powersOfTwo = (max: number): Array<number> => {
  const out: Array<number> = []
  for (let b = 1; b <= max; b *= 2) out.push(b)
  return out
}
