/**
 * Prometheus text exposition for liege's own counters: plain numbers on the
 * hot path, formatted only when `/metrics` is scraped.
 */
import type { Histogram } from "../status/counters.ts"

export { Histogram, powersOfTwo } from "../status/counters.ts"

export type Labels = Record<string, string | number>

export interface Sample {
  readonly labels?: Labels | undefined
  readonly value: number
}

export type Family =
  | {
    readonly name: string
    readonly help: string
    readonly type: "counter" | "gauge"
    readonly samples: ReadonlyArray<Sample>
  }
  | {
    readonly name: string
    readonly help: string
    readonly type: "histogram"
    readonly histogram: Histogram
  }

const escape = (v: string | number) => String(v).replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, "\\\"")

const labelText = (labels: Labels | undefined) => {
  if (labels === undefined) return ""
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escape(v)}"`)
  return parts.length === 0 ? "" : `{${parts.join(",")}}`
}

export const format = (families: ReadonlyArray<Family>): string => {
  let out = ""
  for (const f of families) {
    out += `# HELP ${f.name} ${f.help}\n# TYPE ${f.name} ${f.type}\n`
    if (f.type !== "histogram") {
      for (const s of f.samples) out += `${f.name}${labelText(s.labels)} ${s.value}\n`
      continue
    }
    const h = f.histogram
    let cumulative = 0
    for (let i = 0; i < h.bounds.length; i++) {
      cumulative += h.counts[i]!
      out += `${f.name}_bucket{le="${h.bounds[i]}"} ${cumulative}\n`
    }
    out += `${f.name}_bucket{le="+Inf"} ${h.count}\n${f.name}_sum ${h.sum}\n${f.name}_count ${h.count}\n`
  }
  return out
}
