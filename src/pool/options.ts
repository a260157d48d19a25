/**
 * A pool's options (SPEC §5) and the settings they come to once every
 * default (../defaults.ts) is applied.
 */
import { availableParallelism } from "node:os"
import { Schema } from "effect"
import { poolDefaults, workerDefaults } from "../defaults.ts"
import { DurationInput, toMillis } from "../internal/options.ts"
import { WorkerFields } from "../internal/worker.ts"
import { type Codec, type CodecName, codec as codecOf } from "../wire/codec.ts"

const PositiveInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(1))
const Count = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))

/** `MIN..MAX`: whole numbers, 1 ≤ MIN ≤ MAX. */
const RANGE = /^(\d+)\.\.(\d+)$/
/** A range of workers, as `"MIN..MAX"` (SPEC §5 Sizing): the pool is elastic. */
export const WorkerRange = Schema.String.check(Schema.makeFilter((s: string) => {
  const m = RANGE.exec(s)
  if (m === null) return `expected a number of workers or a range MIN..MAX, got ${JSON.stringify(s)}`
  const min = Number(m[1])
  const max = Number(m[2])
  if (!Number.isSafeInteger(max) || min < 1 || min > max) return `expected 1 <= MIN <= MAX in ${s}`
  return undefined
}))

/** The least and most workers of `workers`: a number is both. */
export const workerBounds = (workers: number | string): { readonly min: number; readonly max: number } => {
  if (typeof workers === "number") return { min: workers, max: workers }
  const m = RANGE.exec(workers)!
  return { min: Number(m[1]), max: Number(m[2]) }
}

/** Every field is optional; the defaults are `poolDefaults` (and the CPU count for `workers`). */
export const PoolOptions = Schema.Struct({
  ...WorkerFields,
  /**
   * Slots (default: the CPU count), or a range `"MIN..MAX"`: the pool starts
   * MIN workers, grows while requests wait, and lets idle ones go down to MIN
   * (SPEC §5 Sizing).
   */
  workers: Schema.optional(Schema.Union([PositiveInt, WorkerRange])),
  /** Requests pipelined to one worker. */
  maxInFlight: Schema.optional(PositiveInt),
  /** The ready handshake limit. */
  bootTimeout: Schema.optional(DurationInput),
  /** Per request; the worker is replaced. */
  execTimeout: Schema.optional(DurationInput),
  /** Recycle after this many jobs (0: never). */
  maxJobs: Schema.optional(Count),
  /** Recycle above this resident size in MiB (0: never). */
  maxMemoryMb: Schema.optional(Count),
  /** Recycle by age (none by default). */
  ttl: Schema.optional(DurationInput),
  /**
   * A fixed pool: recycle a worker idle this long, once it has served (none
   * by default). A range: let a worker idle this long go while more than MIN
   * run (default 60 s).
   */
  idleTtl: Schema.optional(DurationInput),
  /** Waiting requests before `Busy`. */
  maxQueue: Schema.optional(Count),
  /** The longest a request waits in the queue before it fails with `Busy` (none by default). */
  queueTimeout: Schema.optional(DurationInput),
  /** Failures tolerated within `restartWindow`; the window is also the failed pool's cool-down and the backoff's reset. */
  maxRestarts: Schema.optional(Count),
  restartWindow: Schema.optional(DurationInput),
  /** The workers' escalation windows. */
  grace: Schema.optional(DurationInput),
  /** After a `cancel`, how long a worker may take to let go. */
  cancelGrace: Schema.optional(DurationInput)
})
export type PoolOptions = typeof PoolOptions.Type

/** The options with every default applied; durations in ms (0: none). */
export interface PoolSettings {
  readonly command: string
  readonly args: ReadonlyArray<string>
  readonly env: Record<string, string> | undefined
  readonly cwd: string | undefined
  readonly codecName: CodecName
  readonly codec: Codec
  readonly maxFrameBytes: number
  readonly heartbeatMs: number
  readonly spans: boolean
  /** The least and most workers: equal unless the pool is elastic. */
  readonly minWorkers: number
  readonly maxWorkers: number
  readonly elastic: boolean
  readonly maxInFlight: number
  readonly bootMs: number
  readonly execMs: number
  readonly maxJobs: number
  readonly maxMemoryMb: number
  readonly ttlMs: number
  readonly idleTtlMs: number
  readonly maxQueue: number
  readonly queueMs: number
  readonly maxRestarts: number
  readonly windowMs: number
  readonly graceMs: number
  readonly cancelGraceMs: number
}

const ms = (d: PoolOptions["ttl"], fallback: number) => d === undefined ? fallback : toMillis(d)

export const settings = (o: PoolOptions): PoolSettings => {
  const codecName: CodecName = o.codec ?? workerDefaults.codec
  const { min, max } = workerBounds(o.workers ?? availableParallelism())
  const elastic = min < max
  return {
    command: o.command,
    args: o.args ?? [],
    env: o.env,
    cwd: o.cwd,
    codecName,
    codec: codecOf(codecName),
    maxFrameBytes: o.maxFrameBytes ?? workerDefaults.maxFrameBytes,
    heartbeatMs: ms(o.heartbeat, workerDefaults.heartbeatMs),
    spans: o.spans ?? false,
    minWorkers: min,
    maxWorkers: max,
    elastic,
    maxInFlight: o.maxInFlight ?? poolDefaults.maxInFlight,
    bootMs: ms(o.bootTimeout, poolDefaults.bootTimeoutMs),
    execMs: ms(o.execTimeout, poolDefaults.execTimeoutMs),
    maxJobs: o.maxJobs ?? poolDefaults.maxJobs,
    maxMemoryMb: o.maxMemoryMb ?? poolDefaults.maxMemoryMb,
    ttlMs: ms(o.ttl, 0),
    idleTtlMs: ms(o.idleTtl, elastic ? poolDefaults.elasticIdleTtlMs : 0),
    maxQueue: o.maxQueue ?? poolDefaults.maxQueue,
    queueMs: ms(o.queueTimeout, 0),
    maxRestarts: o.maxRestarts ?? poolDefaults.maxRestarts,
    windowMs: ms(o.restartWindow, poolDefaults.restartWindowMs),
    graceMs: ms(o.grace, poolDefaults.graceMs),
    cancelGraceMs: ms(o.cancelGrace, poolDefaults.cancelGraceMs)
  }
}
