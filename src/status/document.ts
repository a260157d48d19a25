/**
 * The live state of a server (SPEC §10), one JSON document: `GET
 * /v1/status`, pushed by `GET /v1/status/stream`, shown by `GET /ui`, and
 * `pool.status` / `pier.status` in the library. Times are milliseconds since
 * the Unix epoch; durations are milliseconds; sizes are bytes.
 */
import { Schema } from "effect"

const Int = Schema.Int
const Ms = Schema.Number
const NullOr = Schema.NullOr

/** Whether a server can serve now, and if not why (SPEC §8: `GET /readyz`). */
export const Readiness = Schema.Union([
  Schema.Struct({ ready: Schema.Literal(true) }),
  Schema.Struct({ ready: Schema.Literal(false), why: Schema.String })
])
export type Readiness = typeof Readiness.Type

export const Ready: Readiness = { ready: true }
export const notReady = (why: string): Readiness => ({ ready: false, why })

/** Requests (or events) per second and latency over a recent window. */
export const Rate = Schema.Struct({
  /** The window's length (10 s or 60 s), or less just after start. */
  windowMs: Ms,
  count: Int,
  perSec: Schema.Number,
  p50Ms: NullOr(Schema.Number),
  p99Ms: NullOr(Schema.Number)
})
export type Rate = typeof Rate.Type

export const Rates = Schema.Struct({
  last10s: Rate,
  last60s: Rate,
  /** Per-second counts of the last 60 s, oldest first: a sparkline. */
  perSecond: Schema.Array(Int),
  /** Per-second p50 latency of the last 60 s (null where nothing finished), oldest first. */
  p50PerSecond: Schema.Array(NullOr(Schema.Number))
})
export type Rates = typeof Rates.Type

/** Something that went wrong, recently. */
export const RecentError = Schema.Struct({
  at: Ms,
  tag: Schema.String,
  message: Schema.String
})
export type RecentError = typeof RecentError.Type

/** One restart of a worker or a serf (SPEC §3, §5). */
export const Restart = Schema.Struct({
  at: Ms,
  /** Short and stable, what restarts are counted by: `died serving`, `died idle`, `boot`, `protocol`, `stuck`… */
  kind: Schema.String,
  /** What happened, in words. */
  reason: Schema.String,
  /** Counted towards `maxRestarts` within `restartWindow`. */
  counted: Schema.Boolean,
  /** It found a poison event (a serf). */
  poison: Schema.Boolean,
  code: NullOr(Int),
  signal: NullOr(Schema.String)
})
export type Restart = typeof Restart.Type

/** Restarts so far: how many, by kind, and the last few (newest first). */
export const Restarts = Schema.Struct({
  total: Int,
  byReason: Schema.Record(Schema.String, Int),
  recent: Schema.Array(Restart)
})
export type Restarts = typeof Restarts.Type

/** How a slot's last worker ended: let go (Retired), killed (an execTimeout), Died, Failed, or Closed with the pool. */
export const SlotExit = Schema.Struct({
  at: Ms,
  end: Schema.Literals(["Retired", "Killed", "Died", "Failed", "Closed"]),
  reason: Schema.String,
  code: NullOr(Int),
  signal: NullOr(Schema.String)
})
export type SlotExit = typeof SlotExit.Type

export const SlotState = Schema.Literals(["booting", "ready", "busy", "retiring", "restarting"])
export type SlotState = typeof SlotState.Type

export const Slot = Schema.Struct({
  /** 1-based: the worker's LIEGE_WORKER_ID. */
  slot: Int,
  /** Which worker of the pool this is (1 for the first one spawned), null between two workers. */
  worker: NullOr(Int),
  pid: NullOr(Int),
  state: SlotState,
  /** When `restarting`: when the next worker will be started. */
  nextTryAt: NullOr(Ms),
  inFlight: Int,
  served: Int,
  rssBytes: NullOr(Int),
  startedAt: NullOr(Ms),
  /** When its worker became ready. */
  readyAt: NullOr(Ms),
  lastExit: NullOr(SlotExit),
  /** Its worker's `LIEGE_GENERATION` (SPEC §5 Reload). */
  generation: NullOr(Int),
  /** The worker booting to replace it (recycling, a reload): it takes over once ready. */
  successor: NullOr(Schema.Struct({ pid: NullOr(Int), generation: Int, why: Schema.String }))
})
export type Slot = typeof Slot.Type

export const PoolStatus = Schema.Struct({
  kind: Schema.Literal("pool"),
  now: Ms,
  startedAt: Ms,
  healthy: Schema.Boolean,
  /** Set while the pool has failed (SPEC §5): why, and when it tries again. */
  failed: NullOr(Schema.Struct({ reason: Schema.String, since: Ms, retryAt: NullOr(Ms) })),
  workers: Schema.Array(Slot),
  /** Workers that can take a request (ready or busy, not retiring). */
  ready: Int,
  /** Requests running on workers. */
  inFlight: Int,
  queue: Schema.Struct({ depth: Int, max: Int }),
  requests: Rates,
  /** Every request answered, by outcome (`ok` or an error tag). */
  answers: Schema.Struct({ total: Int, byOutcome: Schema.Record(Schema.String, Int) }),
  restarts: Restarts,
  recycles: Schema.Struct({ total: Int, byReason: Schema.Record(Schema.String, Int) }),
  /**
   * Its size (SPEC §5 Sizing): workers running and the bounds (equal unless
   * elastic); how often it grew and shrank, and its last decision.
   */
  size: Schema.Struct({
    min: Int,
    max: Int,
    running: Int,
    up: Int,
    down: Int,
    last: NullOr(Schema.Struct({ at: Ms, change: Schema.Literals(["up", "down"]), workers: Int, reason: Schema.String }))
  }),
  /**
   * Reloads (SPEC §5 Reload): the generation new workers are of, the reload
   * under way, how many there were, how many failed, and the last.
   */
  reload: Schema.Struct({
    generation: Int,
    running: NullOr(Schema.Struct({ generation: Int, since: Ms, replaced: Int })),
    total: Int,
    failed: Int,
    last: NullOr(Schema.Struct({ at: Ms, generation: Int, replaced: Int, error: NullOr(Schema.String) }))
  }),
  errors: Schema.Array(RecentError),
  /** The durable session jobs (`liege pool` only; null for a pool without a runner). */
  sessions: NullOr(Schema.Struct({
    byState: Schema.Struct({ queued: Int, running: Int, done: Int, failed: Int }),
    /** Sessions with the most jobs waiting, most first (at most 10). */
    busiest: Schema.Array(Schema.Struct({ session: Schema.String, queued: Int, running: Int }))
  }))
})
export type PoolStatus = typeof PoolStatus.Type

export const SerfState = Schema.Literals(["booting", "replaying", "running", "restarting", "stopped"])
export type SerfState = typeof SerfState.Type

/**
 * A serf's reloads (SPEC §8): the serving serf's `LIEGE_GENERATION`, the
 * reload under way (the generation it tries, since when), how many there
 * were and how many failed, and the last one (`eve`: the event the new serf
 * took over at; `error`: why it failed, else null).
 */
export const SerfReload = Schema.Struct({
  generation: Int,
  running: NullOr(Schema.Struct({ generation: Int, since: Ms })),
  total: Int,
  failed: Int,
  last: NullOr(Schema.Struct({ at: Ms, generation: Int, eve: NullOr(Int), error: NullOr(Schema.String) }))
})
export type SerfReload = typeof SerfReload.Type

export const SerfStatus = Schema.Struct({
  kind: Schema.Literal("serf"),
  now: Ms,
  startedAt: Ms,
  healthy: Schema.Boolean,
  state: SerfState,
  pid: NullOr(Int),
  /** While replaying: events done of total (after the serf's snapshot). */
  replay: NullOr(Schema.Struct({ done: Int, total: Int })),
  /** When `restarting`: when the next serf will be started. */
  nextTryAt: NullOr(Ms),
  /** Why the pier gave up, once it did (`stopped`). */
  failed: NullOr(Schema.String),
  /** An event is with the serf alone (a poison suspect): the others wait. */
  isolating: Schema.Boolean,
  eve: Int,
  /** The mug of the last logged event (null for an empty log, or a boot play's inner events). */
  mug: NullOr(Int),
  window: Schema.Struct({ inFlight: Int, max: Int }),
  /** Events accepted and not answered yet (waiting or in flight). */
  pending: Int,
  events: Rates,
  /** Events logged since the pier opened. */
  logged: Int,
  /** Poison events refused (never logged) since the pier opened. */
  poisoned: Int,
  commits: Schema.Struct({
    total: Int,
    /** Events per group commit: mean over the last 10 s and the largest seen. */
    meanBatch: NullOr(Schema.Number),
    maxBatch: Int
  }),
  restarts: Restarts,
  lastSnapshotEve: NullOr(Int),
  logBytes: NullOr(Int),
  errors: Schema.Array(RecentError),
  /** Reloads (SPEC §8): as a pool's, the generation being the serving serf's. */
  reload: Schema.optional(SerfReload)
})
export type SerfStatus = typeof SerfStatus.Type

/** A runner of a cluster (SPEC §9, §10): the serfs running on it, or its pool. */
export const RunnerStatus = Schema.Struct({
  kind: Schema.Literal("runner"),
  /** `liege cluster serf` or `liege cluster pool`. */
  role: Schema.Literals(["serf", "pool"]),
  now: Ms,
  startedAt: Ms,
  healthy: Schema.Boolean,
  /** This runner's address in the cluster (`HOST:PORT`). */
  runner: Schema.String,
  /** Shards it owns. */
  shards: Int,
  /** Requests taken here for a serf or session another runner owns. */
  forwarded: Int,
  /** The serfs running here, by id (role serf). */
  serfs: Schema.Array(Schema.Struct({ id: Schema.String, status: SerfStatus })),
  /** Its pool (role pool); `sessions` counts the sessions it owns. */
  pool: NullOr(PoolStatus),
  sessions: NullOr(Schema.Struct({ owned: Int, started: Int, settled: Int }))
})
export type RunnerStatus = typeof RunnerStatus.Type

export const Status = Schema.Union([PoolStatus, SerfStatus, RunnerStatus])
export type Status = typeof Status.Type
