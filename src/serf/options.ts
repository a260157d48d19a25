/**
 * A serf's options (SPEC §2, §3) and the settings they come to once every
 * default (../defaults.ts) is applied.
 */
import { Schema } from "effect"
import { serfDefaults, workerDefaults } from "../defaults.ts"
import { DurationInput, toMillis } from "../internal/options.ts"
import { WorkerFields } from "../internal/worker.ts"
import type { CodecName } from "../wire/codec.ts"

const PositiveInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(1))

/** How to run a serf process: shared by `SerfOptions` and the pier's options. */
export const SerfProcessFields = {
  ...WorkerFields,
  /** `ripe` must arrive within this. */
  bootTimeout: Schema.optional(DurationInput),
  /** After `exit`, before the supervisor escalates. */
  stopGrace: Schema.optional(DurationInput),
  /** `work` writs outstanding at most. */
  maxInFlight: Schema.optional(PositiveInt),
  /** Events per `play` in replay. */
  batchSize: Schema.optional(PositiveInt),
  /**
   * Longest a serf may take on its oldest unanswered writ, counted from when
   * it became the oldest (0: no limit): then it is stuck, and
   * killed (SPEC §3).
   */
  workTimeout: Schema.optional(DurationInput)
}

export const SerfOptions = Schema.Struct({
  ...SerfProcessFields,
  /** Told to the serf as `LIEGE_PIER`. */
  pier: Schema.optional(Schema.String),
  /** Told to the serf as `LIEGE_WORKER_ID`. */
  workerId: Schema.optional(Schema.Int),
  /** Told to the serf as `LIEGE_GENERATION` (the pier's: 1, then one more per reload). */
  generation: Schema.optional(Schema.Int),
  annotations: Schema.optional(Schema.Record(Schema.String, Schema.Unknown))
})
export type SerfOptions = typeof SerfOptions.Type


/** The options with every default applied; durations in ms (0: none). */
export interface SerfSettings {
  readonly codecName: CodecName
  readonly workerId: number
  readonly bootMs: number
  readonly stopGraceMs: number
  readonly batchSize: number
  readonly maxInFlight: number
  readonly workTimeoutMs: number
  readonly heartbeatMs: number
  /** Record spans of its own (SPEC §8 Tracing; the pier's work and commit). */
  readonly spans: boolean
}

const ms = (d: SerfOptions["stopGrace"], fallback: number) => d === undefined ? fallback : toMillis(d)

export const settings = (o: Omit<SerfOptions, "pier" | "workerId" | "generation" | "annotations"> & { readonly workerId?: number | undefined }): SerfSettings => ({
  codecName: o.codec ?? workerDefaults.codec,
  workerId: o.workerId ?? 1,
  bootMs: ms(o.bootTimeout, serfDefaults.bootTimeoutMs),
  stopGraceMs: ms(o.stopGrace, serfDefaults.stopGraceMs),
  batchSize: o.batchSize ?? serfDefaults.batchSize,
  maxInFlight: o.maxInFlight ?? serfDefaults.maxInFlight,
  workTimeoutMs: ms(o.workTimeout, serfDefaults.workTimeoutMs),
  heartbeatMs: ms(o.heartbeat, workerDefaults.heartbeatMs),
  spans: o.spans ?? false
})
