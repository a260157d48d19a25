/**
 * The status page's client, part 1 (see page/client/index.ts): numbers,
 * sizes, durations and times as the page writes them. Every number of the
 * document goes through one of these; what is not a finite number is "—".
 *
 * Runs in the browser. This function is embedded in the page as its source
 * text, so it may refer to nothing outside itself but browser globals and
 * types.
 */
export const formats = () => {
  const fInt = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 })
  const f1 = new Intl.NumberFormat(undefined, { minimumFractionDigits: 1, maximumFractionDigits: 1 })
  const f2 = new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 })
  const fClock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" })

  const isNum = (n: unknown): n is number => typeof n === "number" && isFinite(n)
  /** A count: 1,234. */
  const int = (n: number | null | undefined): string => (isNum(n) ? fInt.format(n) : "—")
  /** One decimal: 8.6. */
  const one = (n: number | null): string => (isNum(n) ? f1.format(n) : "—")
  /** A rate per second, with fewer decimals as it grows. */
  const rate = (n: number): string => (!isNum(n) ? "—" : n >= 100 ? fInt.format(n) : n >= 10 ? f1.format(n) : f2.format(n))
  /** A latency in milliseconds. */
  const ms = (n: number | null): string => {
    if (!isNum(n)) return "—"
    if (n < 1) return f2.format(n) + " ms"
    if (n < 100) return f1.format(n) + " ms"
    if (n < 1000) return fInt.format(n) + " ms"
    return f2.format(n / 1000) + " s"
  }
  /** A memory size in megabytes. */
  const mb = (b: number | null): string => (isNum(b) ? f1.format(b / 1e6) + " MB" : "—")
  /** A size on disk, in its unit. */
  const size = (b: number | null): string => {
    if (!isNum(b)) return "—"
    if (b < 1e3) return fInt.format(b) + " B"
    if (b < 1e6) return f1.format(b / 1e3) + " kB"
    if (b < 1e9) return f1.format(b / 1e6) + " MB"
    return f2.format(b / 1e9) + " GB"
  }
  const pad = (n: number): string => (n < 10 ? "0" + n : "" + n)
  /** A duration, in its two largest units: "3 h 12 m". */
  const dur = (d: number): string => {
    if (!isNum(d)) return "—"
    const s = Math.max(0, Math.floor(d / 1000))
    if (s < 60) return s + " s"
    const m = Math.floor(s / 60)
    if (m < 60) return m + " m " + pad(s % 60) + " s"
    const h = Math.floor(m / 60)
    if (h < 24) return h + " h " + pad(m % 60) + " m"
    return Math.floor(h / 24) + " d " + pad(h % 24) + " h"
  }
  /** A time of day, to the second: "09:30:00". */
  const clock = (t: number | null): string => (isNum(t) ? fClock.format(new Date(t)) : "—")
  /** A short wait: "1.2 s", "14 s". */
  const secs = (d: number): string => {
    const s = Math.max(0, d) / 1000
    return (s < 10 ? f1.format(s) : fInt.format(Math.ceil(s))) + " s"
  }
  /** A 32-bit number in hexadecimal: "0x9e3779b9". */
  const hex = (n: number | null): string => (isNum(n) ? "0x" + (n >>> 0).toString(16).padStart(8, "0") : "—")

  return { isNum, int, one, rate, ms, mb, size, dur, clock, secs, hex }
}

export type Formats = ReturnType<typeof formats>
