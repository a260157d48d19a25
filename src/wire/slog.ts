/**
 * `{"t":"slog","pri":0..3,"msg":string}` (SPEC §1): a log line from either
 * side, handed to the Effect logger and never counted as a reply.
 * Priorities map to levels 0 Debug, 1 Info, 2 Warn, 3 Error.
 */
import { Schema } from "effect"
import type { Severity } from "effect/LogLevel"

export const Slog = Schema.Struct({
  t: Schema.Literal("slog"),
  pri: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 3 })),
  msg: Schema.String
})
export type Slog = typeof Slog.Type

const levels: ReadonlyArray<Severity> = ["Debug", "Info", "Warn", "Error"]

export const slogLevel = (pri: unknown): Severity | undefined =>
  typeof pri === "number" ? levels[pri] : undefined
