/**
 * Flag helpers shared by the subcommands: durations written `500ms`, `5s`,
 * `2m`, `1h`; counts; the log format.
 */
import { Flag } from "effect/cli"
import { parseListen } from "../http/server.ts"

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

/** Milliseconds for `500ms`, `5s`, `2m`, `1h`; undefined when the text is not a duration. */
export const parseDuration = (text: string): number | undefined => {
  const m = DURATION.exec(text.trim())
  if (m === null) return undefined
  return Math.round(Number(m[1]) * UNIT_MS[m[2]!]!)
}

const toDuration = (text: string): number => {
  const ms = parseDuration(text)
  if (ms === undefined) throw new Error("a duration like 500ms, 5s, 2m")
  return ms
}

/** A duration flag in milliseconds, with a default written like `5s`. */
export const duration = (name: string, fallback: string) =>
  Flag.String(name).pipe(
    Flag.withDefault(fallback),
    Flag.mapTryCatch(toDuration, (e) => (e as Error).message)
  )

/** An optional duration flag in milliseconds. */
export const optionalDuration = (name: string) =>
  Flag.String(name).pipe(Flag.mapTryCatch(toDuration, (e) => (e as Error).message), Flag.optional)

/** A whole number ≥ `min`. */
export const count = (name: string, fallback: number, min = 0) =>
  Flag.Int(name).pipe(
    Flag.withDefault(fallback),
    Flag.filter((n) => n >= min, (n) => `--${name}: ${n} is below ${min}`)
  )

export const logFormat = Flag.Literals("log-format", ["pretty", "json"]).pipe(
  Flag.withDescription("log lines on stderr: pretty (default on a TTY) or json"),
  Flag.optional
)

const toListen = (text: string) => {
  const listen = parseListen(text)
  if (listen === undefined) throw new Error("HOST:PORT, like 127.0.0.1:7070 (port 0: any free port)")
  return listen
}

/** The flags both servers take (`liege serf`, `liege pool`). */
export const serverFlags = {
  listen: Flag.String("listen").pipe(
    Flag.withDefault("127.0.0.1:7070"),
    Flag.mapTryCatch(toListen, (e) => (e as Error).message),
    Flag.withDescription("HTTP address, HOST:PORT (port 0: any free port)")
  ),
  token: Flag.String("token").pipe(Flag.withDescription("require Authorization: Bearer T"), Flag.optional),
  drain: duration("drain", "30s").pipe(Flag.withDescription("on SIGTERM: time to finish accepted work")),
  codec: Flag.Literals("codec", ["json", "msgpack"]).pipe(Flag.withDefault("json"), Flag.withDescription("wire codec")),
  maxFrameBytes: count("max-frame-bytes", 64 * 1024 * 1024, 1).pipe(
    Flag.withDescription("largest frame accepted from a worker")
  ),
  maxBody: count("max-body", 1024 * 1024, 1).pipe(Flag.withDescription("largest HTTP request body"))
}
