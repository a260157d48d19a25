/**
 * `{"t":"slog","pri":0..3,"msg":string}` (SPEC §1): a log line from either
 * side, handed to the Effect logger and never counted as a reply.
 * Priority 0 is the ordinary level (SPEC §8): 0 and 1 log at Info, 2 at
 * Warning, 3 at Error, so every slog line shows at the default level.
 */
import { Schema } from "effect"
import type { Severity } from "effect/LogLevel"

export const Slog = Schema.Struct({
  t: Schema.Literal("slog"),
  pri: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 3 })),
  msg: Schema.String
})
export type Slog = typeof Slog.Type

const levels: ReadonlyArray<Severity> = ["Info", "Info", "Warn", "Error"]

export const slogLevel = (pri: unknown): Severity | undefined =>
  typeof pri === "number" ? levels[pri] : undefined
