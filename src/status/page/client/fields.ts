/**
 * Every field of the status document, each either shown by the page or
 * knowingly left out (types only: nothing of this reaches the page).
 *
 * The client is typed against the document, so a field renamed, removed or
 * changed in type fails tsc where the client reads it. A field *added* would
 * pass unseen; here it fails tsc ("undecided: …") until it is listed as
 * shown (and the client shows it) or as left out. Likewise a kind or a
 * role added. (A slot or serf state added fails in dom.ts, pool.ts and
 * runner.ts, where the page colours and counts the states.)
 */
import type { PoolStatus, Rate, Rates, RecentError, Restart, RunnerStatus, SerfStatus, Slot, SlotExit, Status } from "../../document.ts"

/** `true` when `Shown` and `Left` together are the keys of `T`; else the keys neither names. */
type Decided<T, Shown extends keyof T, Left extends keyof T = never> = [Exclude<keyof T, Shown | Left>] extends [never]
  ? true
  : { readonly undecided: Exclude<keyof T, Shown | Left> }
/** `true` when the union `A` is exactly `B`. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : { readonly gone: Exclude<B, A> }) : { readonly undecided: Exclude<A, B> }
type Check<T extends true> = T

type Pool = PoolStatus
type Serf = SerfStatus
type Runner = RunnerStatus

export type Fields = [
  Check<Same<Status["kind"], "pool" | "serf" | "runner">>,
  Check<
    Decided<
      Pool,
      | "kind" | "now" | "startedAt" | "healthy" | "failed" | "workers" | "queue" | "requests" | "restarts" | "recycles" | "size" | "reload"
      | "errors" | "sessions",
      "ready" | "inFlight" | "answers"
    >
  >,
  Check<Decided<NonNullable<Pool["failed"]>, "reason" | "retryAt", "since">>,
  Check<
    Decided<
      Slot,
      "slot" | "worker" | "pid" | "state" | "nextTryAt" | "inFlight" | "served" | "rssBytes" | "startedAt" | "lastExit" | "generation" | "successor",
      "readyAt"
    >
  >,
  Check<Decided<NonNullable<Slot["successor"]>, "pid" | "generation" | "why">>,
  Check<Decided<SlotExit, "at" | "reason" | "code" | "signal", "end">>,
  Check<Decided<Restart, "at" | "reason" | "code" | "signal", "kind" | "counted" | "poison">>,
  Check<Decided<Pool["queue"], "depth" | "max">>,
  Check<Decided<Rates, "last10s" | "last60s" | "perSecond" | "p50PerSecond">>,
  Check<Decided<Rate, "count" | "perSec" | "p50Ms" | "p99Ms", "windowMs">>,
  Check<Decided<Pool["restarts"], "total" | "byReason", "recent">>,
  Check<Decided<Pool["recycles"], "total" | "byReason">>,
  Check<Decided<Pool["size"], "min" | "max" | "running" | "up" | "down" | "last">>,
  Check<Decided<NonNullable<Pool["size"]["last"]>, "at" | "change" | "workers" | "reason">>,
  Check<Same<NonNullable<Pool["size"]["last"]>["change"], "up" | "down">>,
  Check<Decided<Pool["reload"], "generation" | "running" | "total" | "failed" | "last">>,
  Check<Decided<NonNullable<Pool["reload"]["running"]>, "generation" | "since" | "replaced">>,
  Check<Decided<NonNullable<Pool["reload"]["last"]>, "at" | "generation" | "replaced" | "error">>,
  Check<Decided<RecentError, "at" | "tag" | "message">>,
  Check<Decided<NonNullable<Pool["sessions"]>, "byState" | "busiest">>,
  Check<Decided<NonNullable<Pool["sessions"]>["byState"], "queued" | "running" | "done" | "failed">>,
  Check<Decided<NonNullable<Pool["sessions"]>["busiest"][number], "session" | "queued" | "running">>,
  Check<
    Decided<
      Serf,
      | "kind" | "now" | "startedAt" | "healthy" | "state" | "pid" | "replay" | "nextTryAt" | "eve" | "mug" | "window" | "pending" | "events"
      | "commits" | "restarts" | "lastSnapshotEve" | "logBytes" | "errors",
      "failed" | "isolating" | "logged" | "poisoned" | "reload"
    >
  >,
  Check<Decided<NonNullable<Serf["replay"]>, "done" | "total">>,
  Check<Decided<Serf["window"], "inFlight" | "max">>,
  Check<Decided<Serf["commits"], "total" | "meanBatch" | "maxBatch">>,
  Check<Decided<Serf["restarts"], "total" | "recent", "byReason">>,
  Check<Decided<Runner, "kind" | "role" | "now" | "startedAt" | "healthy" | "runner" | "shards" | "forwarded" | "serfs" | "pool" | "sessions">>,
  Check<Same<Runner["role"], "serf" | "pool">>,
  Check<Decided<Runner["serfs"][number], "id" | "status">>,
  Check<Decided<NonNullable<Runner["sessions"]>, "owned" | "started" | "settled">>
]
