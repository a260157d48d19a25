/**
 * The pool's slots (SPEC §5): each slot runs one worker after another on
 * the keeper (../internal/keeper.ts); this module is a slot's child spec —
 * how to run its next worker and what that worker's end means.
 *
 * - A worker let go (recycled) or killed (`execTimeout`) is replaced at
 *   once: not a restart. One that died or failed is a restart, after the
 *   slot's backoff (it starts again from its first step once the slot's
 *   workers have been serving for `restartWindow`); only failures (a failed
 *   boot, a protocol break, a death with nothing in flight, a missed pong)
 *   count towards the pool's intensity window.
 * - Too many failures fail the pool (./health.ts): slot 1 tries one worker
 *   after each cool-down, the others wait until the pool is healthy.
 * - While liege stops, a worker that dies or fails is not replaced.
 * - A worker replaced new-first (recycling, a reload: ./successor.ts) hands
 *   its slot to its successor: once it has ended, the keeper runs the
 *   successor — booting, or serving already — as the slot's next worker.
 * - An elastic pool's slot is active while it is part of the pool: started
 *   to grow it, its keeper stops once its worker was let go to shrink it.
 */
import { type Deferred, Effect, Fiber } from "effect"
import type { ChildSpec, Ran } from "../internal/keeper.ts"
import * as Keeper from "../internal/keeper.ts"
import { backsOff, counts, type End, type RecycleReason, restartKind } from "./end.ts"
import type { SpawnFailed } from "../supervisor/errors.ts"
import type { Health } from "./health.ts"
import type { PoolSettings } from "./options.ts"
import { run, type WorkerRun } from "./spawn.ts"
import type { Worker, WorkerHost } from "./worker.ts"

/** How a slot's last worker ended, when, and why. */
export interface LastExit {
  readonly at: number
  readonly end: End["_tag"]
  readonly reason: string
  readonly code: number | null
  readonly signal: string | null
}

export interface Slot {
  /** 1-based: its workers' `LIEGE_WORKER_ID`, the `worker` of their errors and log lines. */
  readonly number: number
  /** Set while it waits to start its next worker (ms on the clock). */
  nextTryAt: number | undefined
  lastExit: LastExit | undefined
  /** Since when its workers have been serving without dying or failing (for the backoff's reset). */
  upSince: number | undefined
  /** Its worker ended while liege was stopping: it stays empty. */
  stopped: boolean
  /** Its current worker is slot 1's try of a failed pool. */
  trying: boolean
  /** It has a keeper: every slot of a fixed pool; in an elastic one, while it is part of the pool. */
  active: boolean
  /** Elastic: started to grow the pool, its first worker not ready yet. */
  growing: boolean
  /** Elastic: its worker was let go to shrink the pool; its keeper stops once that worker has ended. */
  shrinking: boolean
  /** Its old worker, let go when its successor took over, while it finishes what it holds. */
  outgoing: Worker | undefined
  /** The worker booting to replace its current one, until its keeper runs it (./successor.ts). */
  successor: Successor | undefined
  /** A successor failed its boot: recycling starts no other before then (ms on the clock). */
  replaceAfter: number
}

/**
 * A worker started to replace a slot's current one (SPEC §5: recycling, a
 * reload): it boots while the old one serves; once ready it takes over the
 * slot and the old one is let go (it finishes what it holds).
 */
export interface Successor {
  readonly why: RecycleReason
  readonly reason: string
  readonly generation: number
  /** Its worker, once spawned. */
  worker: Worker | undefined
  /** `swapped`: it took over its slot; `failed`: it ended before it was ready. */
  state: "booting" | "swapped" | "failed"
  /** Its slot's keeper runs it as its next worker (the old one has ended). */
  adopted: boolean
  /** Done once it took over; failed with why it did not. */
  readonly done: Deferred.Deferred<void, string>
  /** Its run, which the keeper joins once it adopts it. */
  fiber: Fiber.Fiber<WorkerRun> | undefined
}

export const makeSlot = (number: number): Slot => ({
  number,
  nextTryAt: undefined,
  lastExit: undefined,
  upSince: undefined,
  stopped: false,
  trying: false,
  active: false,
  growing: false,
  shrinking: false,
  outgoing: undefined,
  successor: undefined,
  replaceAfter: 0
})

/** What a slot's keeper needs of its pool. */
export interface SlotsHost {
  readonly settings: PoolSettings
  readonly worker: WorkerHost
  readonly health: Health
  /** Each slot's current worker, from its spawn until its process is gone (dispatch reads it). */
  readonly workers: Array<Worker | undefined>
  readonly now: () => number
  /** The next worker's number in the pool. */
  readonly serial: () => number
  /** The generation a worker spawned now belongs to (SPEC §5 Reload). */
  readonly generation: () => number
  /** A slot's worker has ended (an elastic pool may grow again). */
  readonly ended: (slot: Slot) => void
  readonly stopping: () => boolean
  /** Too many failures: the pool fails (its waiting requests are answered). */
  readonly fail: (reason: string) => Effect.Effect<void>
  /** Every slot stopped while liege stops: nothing will serve what waits. */
  readonly allStopped: () => void
  /** A worker could not be spawned: the command is missing or not executable (no restart will help). */
  readonly cannotSpawn: (error: SpawnFailed) => void
  readonly slots: ReadonlyArray<Slot>
}

const inSlot = (slot: Slot) => Effect.annotateLogs({ worker: slot.number })

/** The child spec of `slot`'s keeper. */
export const slotKeeper = (slot: Slot, pool: SlotsHost): ChildSpec<WorkerRun> => ({
  before: Effect.gen(function*() {
    const failure = pool.health.failure
    if (failure !== undefined) {
      // failed: slot 1 tries one worker after the cool-down, the others wait until that one is ready
      slot.nextTryAt = failure.nextTryAt
      if (slot.number === 1) yield* Effect.sleep(Math.max(0, failure.nextTryAt - pool.now()))
      else yield* pool.health.healthy
    }
    slot.nextTryAt = undefined
    slot.trying = pool.health.failure !== undefined
  }),

  run: () => {
    const i = slot.number - 1
    const succ = slot.successor
    let mine: Worker | undefined = undefined
    let ran: Effect.Effect<WorkerRun>
    if (succ !== undefined && succ.state !== "failed" && succ.fiber !== undefined) {
      // the old worker has ended: its successor (booting, or serving already) is the slot's worker now
      succ.adopted = true
      if (succ.state === "swapped") slot.successor = undefined
      mine = succ.worker
      if (mine !== undefined && pool.workers[i] === undefined) pool.workers[i] = mine
      ran = Effect.tap(Fiber.join(succ.fiber), () => Effect.sync(() => void (mine = succ.worker)))
    } else {
      ran = run(slot.number, pool.serial(), pool.generation(), pool.worker, (w) => {
        mine = w
        pool.workers[i] = w
      })
    }
    const release = () => {
      if (mine !== undefined && pool.workers[i] === mine) pool.workers[i] = undefined
      if (mine !== undefined && slot.outgoing === mine) slot.outgoing = undefined
    }
    return ran.pipe(
      Effect.map((ran): Ran<WorkerRun> => {
        release()
        slot.lastExit = {
          at: ran.endedAt,
          end: ran.end._tag,
          reason: ran.end.reason,
          code: ran.exit?.code ?? null,
          signal: ran.exit?.signal ?? null
        }
        return { end: ran, upMs: slot.upSince === undefined ? 0 : ran.endedAt - slot.upSince, exit: ran.exit }
      }),
      Effect.onInterrupt(() => Effect.sync(release))
    )
  },

  verdict: ({ end: ran }) =>
    Effect.gen(function*() {
      const end = ran.end
      slot.growing = false
      pool.ended(slot)
      if (slot.shrinking) {
        // let go to shrink an elastic pool: the slot leaves the pool
        slot.shrinking = false
        slot.active = false
        slot.upSince = undefined
        return Keeper.Stop
      }
      if (ran.spawnFailed !== undefined && (ran.spawnFailed.code === "ENOENT" || ran.spawnFailed.code === "EACCES")) {
        pool.cannotSpawn(ran.spawnFailed)
      }
      if (end._tag === "Killed") {
        yield* Effect.logWarning(`killed worker ${slot.number} (pid ${ran.pid}): ${end.reason}; a new one starts`).pipe(inSlot(slot))
      }
      if (pool.health.failure !== undefined) {
        // an end while failed: a worker let go when the pool failed, or a try that did not get ready
        if (!slot.trying || ran.readyAt !== undefined) return Keeper.Next
        pool.health.triedAt(pool.now())
        yield* Effect.logWarning(
          `the pool is still failed: worker ${slot.number} ${end.reason}; next try in ${pool.settings.windowMs} ms`
        )
        return { _tag: "Next", restart: { kind: restartKind(end), reason: end.reason } } as const
      }
      if (!backsOff(end)) return Keeper.Next // let go or killed: the next one starts at once
      if (pool.stopping()) {
        // liege is stopping (a service manager may have signalled the whole group): not a restart
        yield* Effect.logInfo(
          `worker ${slot.number} (pid ${ran.pid}) ended while liege was stopping (${end.reason}); not restarted`
        ).pipe(inSlot(slot))
        slot.stopped = true
        if (pool.slots.every((s) => !s.active || s.stopped)) pool.allStopped()
        return Keeper.Stop
      }
      slot.upSince = undefined
      return { _tag: "Restart", kind: restartKind(end), reason: end.reason, counts: counts(end) } as const
    }),

  exceeded: (restart, failures) =>
    Effect.as(
      pool.fail(`${failures} worker failures within ${pool.settings.windowMs} ms (last: worker ${slot.number}: ${restart.reason})`),
      true
    ),

  restarting: (restart, delayMs) =>
    Effect.suspend(() => {
      slot.nextTryAt = pool.now() + delayMs
      const how = restart.kind === "died serving" ? "died" : "failed"
      return Effect.logWarning(`worker ${slot.number} ${how} (${restart.reason}); restarting in ${delayMs} ms`).pipe(inSlot(slot))
    })
})
