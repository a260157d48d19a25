import { Layer, Logger } from "effect"

export interface Captured {
  readonly level: string
  readonly message: string
  readonly annotations: Record<string, unknown>
}

/** A logger layer that records every line (instead of printing it). */
export const captureLogs = () => {
  const lines: Array<Captured> = []
  const layer = Layer.mergeAll(
    Logger.layer([
      Logger.map(Logger.formatStructured, (r) => {
        lines.push({
          level: r.level,
          message: Array.isArray(r.message) ? r.message.join(" ") : String(r.message),
          annotations: r.annotations
        })
      })
    ])
  )
  return { lines, layer }
}
