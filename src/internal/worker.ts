/**
 * What every liege worker (serf or pool worker) is started with: the
 * command, and the environment SPEC §8 promises it.
 */
import { Schema } from "effect"
import type { CodecName } from "../wire/codec.ts"
import { DurationInput } from "./options.ts"

const PositiveInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(1))

/** How to run a worker process: shared by the serf's, the pier's and the pool's options. */
export const WorkerFields = {
  command: Schema.String,
  args: Schema.optional(Schema.Array(Schema.String)),
  /** Added to the host's environment. */
  env: Schema.optional(Schema.Record(Schema.String, Schema.String)),
  cwd: Schema.optional(Schema.String),
  codec: Schema.optional(Schema.Literals(["json", "msgpack"])),
  /** The largest frame accepted from the worker (default 64 MiB). */
  maxFrameBytes: Schema.optional(PositiveInt),
  /**
   * Ping a worker that has owed nothing this long; no pong within as long
   * again and it is stuck: killed and replaced (SPEC §1). Default: off.
   */
  heartbeat: Schema.optional(DurationInput),
  /**
   * Record liege's own spans between a caller's span and the worker's part
   * (SPEC §8 Tracing): the wait in the queue and the exec (pool), the work
   * and the log commit (serf); the worker's part runs in the exec or work
   * span. Default off: a caller's span context is sent as it is.
   */
  spans: Schema.optional(Schema.Boolean)
}

/**
 * `env` plus `LIEGE_PROTOCOL`, `LIEGE_CODEC`, `LIEGE_WORKER_ID` (and, for a
 * serf, `LIEGE_PIER`; when given, `LIEGE_GENERATION`: 1, then one more per
 * reload).
 */
export const workerEnv = (
  env: Record<string, string> | undefined,
  codec: CodecName,
  id: number,
  pier?: string,
  generation?: number
): Record<string, string> => ({
  ...env,
  LIEGE_PROTOCOL: "1",
  LIEGE_CODEC: codec,
  LIEGE_WORKER_ID: String(id),
  ...(pier === undefined ? {} : { LIEGE_PIER: pier }),
  ...(generation === undefined ? {} : { LIEGE_GENERATION: String(generation) })
})
