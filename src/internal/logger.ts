/**
 * liege's log output (SPEC §8): one line per record on stderr, `pretty` or
 * `json`. Annotations (a worker's id and pid, …) become fields.
 */
import { Layer, Logger } from "effect"

export type LogFormat = "pretty" | "json"

const oneLine = (s: string) => s.replace(/\r?\n/g, "\\n")

const text = (u: unknown): string => typeof u === "string" ? u : JSON.stringify(u)

export const formatLine = (format: LogFormat) =>
  Logger.map(Logger.formatStructured, (r) => {
    const message = Array.isArray(r.message) ? r.message.map(text).join(" ") : text(r.message)
    if (format === "json") {
      const record: Record<string, unknown> = { time: r.timestamp, level: r.level, message }
      for (const [k, v] of Object.entries(r.annotations)) if (!(k in record)) record[k] = v
      if (r.cause !== undefined) record["cause"] = r.cause
      return JSON.stringify(record)
    }
    let line = `${r.timestamp} ${r.level.padEnd(5)} ${oneLine(message)}`
    for (const [k, v] of Object.entries(r.annotations)) line += ` ${k}=${oneLine(text(v))}`
    if (r.cause !== undefined) line += ` cause=${oneLine(r.cause)}`
    return line
  })

/** Replaces the default logger with one line per record on stderr. */
export const layer = (format: LogFormat): Layer.Layer<never> => {
  const line = formatLine(format)
  return Logger.layer([
    Logger.make((options) => {
      process.stderr.write(line.log(options) + "\n")
    })
  ])
}

export const defaultFormat = (): LogFormat => process.stderr.isTTY ? "pretty" : "json"
