/**
 * Every default of liege's options, in one place: the option decoders
 * apply them, the `liege` command's flags and help read them. Plain data
 * (nothing here loads Effect: the command's help and `liege run` start
 * without it). Durations are in milliseconds.
 */

/** A worker process of any kind (SPEC §1, §8). */
export const workerDefaults = {
  codec: "json",
  /** The largest frame accepted from a worker. */
  maxFrameBytes: 64 * 1024 * 1024,
  /** Off: no ping is ever sent. */
  heartbeatMs: 0
} as const

/** One supervised process (SPEC §4). */
export const supervisorDefaults = {
  graceMs: 5_000,
  killWaitMs: 1_000
} as const

/** A pool (SPEC §5). `workers` defaults to the CPU count. */
export const poolDefaults = {
  maxInFlight: 1,
  bootTimeoutMs: 10_000,
  execTimeoutMs: 30_000,
  maxJobs: 0,
  maxMemoryMb: 0,
  maxQueue: 1024,
  /** A range of workers: an idle worker above MIN is let go after this long. */
  elasticIdleTtlMs: 60_000,
  maxRestarts: 10,
  restartWindowMs: 60_000,
  graceMs: 5_000,
  cancelGraceMs: 1_000
} as const

/** A serf (SPEC §2) and its pier (SPEC §3). */
export const serfDefaults = {
  maxInFlight: 10,
  batchSize: 1_000,
  bootTimeoutMs: 30_000,
  stopGraceMs: 2_000,
  workTimeoutMs: 30_000,
  maxRestarts: 10,
  restartWindowMs: 60_000
} as const

/** The runner's recovery poll (SPEC §7). */
export const runnerDefaults = {
  pollIntervalMs: 400
} as const

/** The servers' HTTP front and shutdown (SPEC §8). */
export const serverDefaults = {
  listen: "127.0.0.1:7070",
  drainMs: 30_000,
  maxBody: 1024 * 1024,
  maxDepth: 128,
  state: "liege-state.db"
} as const

/** A cluster runner (SPEC §9). */
export const clusterDefaults = {
  /** A serf (a session) idle this long is let go. */
  idleMs: 5 * 60_000,
  data: "./data/cluster"
} as const
