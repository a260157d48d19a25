/**
 * The pier's one view (SPEC §10): its status document, built from the
 * pier's machines — what it is doing (./lifecycle.ts), where its log ends
 * and what was committed (./commit.ts), the events waiting (./pending.ts)
 * and its restarts. `/v1/status`, `/metrics`, the status page and the tests
 * all read this.
 */
import type { RestartLog } from "../internal/keeper.ts"
import * as Status from "../status/document.ts"
import type { GroupCommit } from "./commit.ts"
import type { Lifecycle } from "./lifecycle.ts"
import type { PendingEvents } from "./pending.ts"

export interface PierParts {
  readonly startedAt: number
  readonly maxInFlight: number
  readonly lifecycle: Lifecycle
  readonly commit: GroupCommit
  readonly pending: PendingEvents
  readonly restarts: RestartLog
  /** The log's size on disk, as last read (null: unknown). */
  readonly logBytes: () => number | null
}

/** `ready`, or why not (booting, the replay's progress, restarting): SPEC §8 `/readyz`. */
export const readiness = (pier: PierParts, now: number): Status.Readiness => {
  const { lifecycle } = pier
  if (lifecycle.serving() !== undefined) return Status.Ready
  const stage = lifecycle.stage
  switch (stage._tag) {
    case "Booting":
      return Status.notReady("the serf is booting")
    case "Replaying":
      return Status.notReady(
        `the serf is replaying the log: ${stage.done} of ${stage.total} events (${Math.floor(100 * stage.done / Math.max(1, stage.total))} %)`
      )
    case "Running":
      return Status.notReady("the serf ended (it died or is stuck); the next one starts once it is gone")
    case "Restarting":
      return Status.notReady(`the serf is restarting: the next one starts in ${Math.max(0, stage.at - now)} ms`)
    case "Stopping":
      return Status.notReady("liege is stopping")
    case "Failed":
      return Status.notReady(`the serf failed for good: ${stage.reason}`)
  }
}

export const view = (pier: PierParts, now: number): Status.SerfStatus => {
  const { lifecycle, commit, pending, restarts } = pier
  const stage = lifecycle.stage
  const current = lifecycle.current
  const events = commit.eventRates.snapshot(now)
  const commits10s = commit.commitRates.count(10, now)
  return {
    kind: "serf",
    now,
    startedAt: pier.startedAt,
    healthy: lifecycle.serving() !== undefined,
    state: stage._tag === "Booting" ? "booting"
      : stage._tag === "Replaying" ? "replaying"
      : stage._tag === "Running" ? "running"
      : stage._tag === "Restarting" ? "restarting"
      : "stopped",
    pid: current?.pid ?? lifecycle.starting ?? null,
    replay: stage._tag === "Replaying" ? { done: stage.done, total: stage.total } : null,
    nextTryAt: stage._tag === "Restarting" ? stage.at : null,
    failed: stage._tag === "Failed" ? stage.reason : null,
    isolating: pending.isolation.active,
    eve: commit.logged,
    mug: commit.lastMug,
    window: { inFlight: current?.inFlight() ?? 0, max: pier.maxInFlight },
    pending: pending.size,
    events,
    logged: commit.events,
    poisoned: pending.isolation.poisoned,
    commits: {
      total: commit.commits,
      meanBatch: commits10s === 0 ? null : Number((events.last10s.count / commits10s).toFixed(2)),
      maxBatch: commit.maxBatch
    },
    restarts: {
      total: restarts.total,
      byReason: Object.fromEntries(restarts.byKind),
      recent: restarts.recent.slice().reverse()
    },
    lastSnapshotEve: lifecycle.lastSnapshot === 0 ? null : lifecycle.lastSnapshot,
    logBytes: pier.logBytes(),
    errors: lifecycle.errors.slice().reverse(),
    reload: { generation: lifecycle.generation, ...lifecycle.reloads }
  }
}
