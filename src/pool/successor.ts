/**
 * Replacing a worker new-first (SPEC §5: recycling, Reload): its slot boots
 * a successor while the old worker goes on serving; once the successor is
 * ready it takes over the slot and the old one is let go — it takes nothing
 * new, finishes what it holds, and leaves. The pool never has fewer ready
 * workers for it, and never more slots serving than it had.
 *
 * A successor that fails its boot is killed and recorded as a restart (not
 * counted towards `maxRestarts`: the old worker still serves, so a bad
 * deploy cannot fail the pool); the old worker goes on, and recycling tries
 * again after a pause of `restartWindow / 10` (at most 5 s).
 *
 * If the old worker ends first (it died, or took its last `maxJobs`
 * request), the slot's keeper runs the successor as its next worker
 * (./slots.ts).
 */
import { Deferred, Effect, type Fiber } from "effect"
import type { RestartLog } from "../internal/keeper.ts"
import type { RecycleReason } from "./end.ts"
import type { Slot, Successor } from "./slots.ts"
import { run, type WorkerRun } from "./spawn.ts"
import type { Worker, WorkerHost } from "./worker.ts"

export interface SuccessorHost {
  readonly worker: WorkerHost
  /** Each slot's current worker (the successor takes its place here). */
  readonly workers: Array<Worker | undefined>
  readonly serial: () => number
  readonly now: () => number
  readonly restarts: RestartLog
  /** The pool has failed: a successor's end is part of that, not recorded. */
  readonly failed: () => boolean
  /** Runs a fiber of the pool's. */
  readonly fork: (effect: Effect.Effect<WorkerRun>) => Fiber.Fiber<WorkerRun>
  readonly log: (level: "Info" | "Warn", message: string, slot: number) => void
}

/** Starts `slot`'s successor: its worker boots now (the slot must have none underway). */
export const start = (
  host: SuccessorHost,
  slot: Slot,
  why: RecycleReason,
  reason: string,
  generation: number
): Successor => {
  const succ: Successor = {
    why,
    reason,
    generation,
    worker: undefined,
    state: "booting",
    adopted: false,
    done: Deferred.makeUnsafe<void, string>(),
    fiber: undefined
  }
  slot.successor = succ
  const i = slot.number - 1
  const old = host.workers[i]
  host.log("Info", `replacing worker ${slot.number}${old === undefined ? "" : ` (pid ${old.child.pid})`}: ${reason}; its successor boots first`, slot.number)
  succ.fiber = host.fork(
    run(slot.number, host.serial(), generation, host.worker, (w) => {
      succ.worker = w
      // adopted before it was spawned: the slot's worker it is
      if (succ.adopted && host.workers[i] === undefined) host.workers[i] = w
    }).pipe(Effect.tap((ran) => Effect.sync(() => ended(host, slot, succ, ran))))
  )
  return succ
}

/**
 * A worker got ready: if it is `slot`'s successor, it takes over the slot
 * and the old worker is let go (true); else it is the slot's own (false).
 */
export const readied = (host: SuccessorHost, slot: Slot, w: Worker): boolean => {
  const succ = slot.successor
  if (succ === undefined || succ.worker !== w || succ.state !== "booting") return false
  succ.state = "swapped"
  if (succ.adopted) slot.successor = undefined
  const i = slot.number - 1
  const old = host.workers[i]
  host.workers[i] = w
  if (old !== undefined && old !== w) {
    slot.outgoing = old
    old.retire(succ.why, succ.reason)
  }
  Deferred.doneUnsafe(succ.done, Effect.void)
  return true
}

/** The successor's run ended: before it was ready, it failed (the old worker goes on). */
const ended = (host: SuccessorHost, slot: Slot, succ: Successor, ran: WorkerRun) => {
  if (succ.state !== "booting") return
  succ.state = "failed"
  if (slot.successor === succ) slot.successor = undefined
  const why = ran.end.reason
  Deferred.doneUnsafe(succ.done, Effect.fail(why))
  // adopted (its old worker had ended): the keeper decides about its end, as for any worker
  if (succ.adopted || host.failed()) return
  const at = host.now()
  slot.replaceAfter = at + Math.min(5_000, host.worker.settings.windowMs / 10)
  host.restarts.add({
    at,
    kind: "boot",
    reason: `worker ${slot.number}'s successor: ${why}`,
    counted: false,
    poison: false,
    code: ran.exit?.code ?? null,
    signal: ran.exit?.signal ?? null
  })
  host.log("Warn", `worker ${slot.number}'s successor (generation ${succ.generation}) failed: ${why}; the old worker goes on`, slot.number)
}
