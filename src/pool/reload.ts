/**
 * A pool's rolling reload (SPEC §5 Reload): every worker is replaced by a
 * new one of the same command, one slot at a time, new-first
 * (./successor.ts): the new worker must be ready before the slot's old one
 * is let go, so the pool never has fewer ready workers and no request fails
 * because of the reload. Workers spawned from its start on are of the next
 * generation (`LIEGE_GENERATION`), restarts and an elastic pool's new
 * slots included.
 *
 * - A slot whose worker is still booting (of the old generation) lets it go
 *   at once: its keeper boots one of the new generation, and nobody was
 *   served by it yet. A slot between two workers, or whose worker is of the
 *   new generation already, has nothing to replace.
 * - A new worker that fails its boot stops the reload there: the workers
 *   not replaced yet go on serving, and the reload fails with
 *   `ReloadFailed` saying why (the slots replaced so far keep their new
 *   workers).
 * - A reload asked for while one runs joins it (the same answer).
 * - The reload runs in the pool's fibers: a caller that goes away does not
 *   stop it half-way.
 */
import { Cause, Deferred, Effect, Exit, Option } from "effect"
import { ReloadFailed } from "../errors.ts"
import type { Slot } from "./slots.ts"
import * as Successor from "./successor.ts"

/** A reload's answer: how many workers were replaced, and the generation they are of. */
export interface Reloaded {
  readonly reloaded: number
  readonly generation: number
}

/** The reload under way, for the status document. */
export interface Reloading {
  readonly generation: number
  readonly since: number
  replaced: number
}

/** The last reload's outcome, and how many there were. */
export interface ReloadRecord {
  total: number
  failed: number
  last: { readonly at: number; readonly generation: number; readonly replaced: number; readonly error: string | null } | null
}

export interface ReloadHost extends Successor.SuccessorHost {
  readonly slots: ReadonlyArray<Slot>
  /** Why the pool cannot reload now (stopping, failed), if it cannot. */
  readonly refusal: () => string | undefined
  /** Moves the pool to the next generation; its number. */
  readonly nextGeneration: () => number
  /** Runs the reload in the pool's fibers. */
  readonly run: (effect: Effect.Effect<void>) => void
}

export class Reload {
  current: Reloading | undefined = undefined
  readonly record: ReloadRecord = { total: 0, failed: 0, last: null }
  private done: Deferred.Deferred<Reloaded, ReloadFailed> | undefined = undefined
  private readonly host: ReloadHost

  constructor(host: ReloadHost) {
    this.host = host
  }

  /** Reloads every worker (or joins the reload under way). */
  readonly reload: Effect.Effect<Reloaded, ReloadFailed> = Effect.suspend(() => {
    if (this.done !== undefined) return Deferred.await(this.done)
    const refused = this.host.refusal()
    if (refused !== undefined) return Effect.fail(new ReloadFailed({ reason: refused }))
    const generation = this.host.nextGeneration()
    const done = Deferred.makeUnsafe<Reloaded, ReloadFailed>()
    this.done = done
    const current: Reloading = { generation, since: this.host.now(), replaced: 0 }
    this.current = current
    this.host.log("Info", `reloading: every worker is replaced by one of generation ${generation}, one slot at a time`, 0)
    this.host.run(
      this.slots(current).pipe(
        // the pool closed under it: it failed (its callers are answered)
        Effect.onInterrupt(() => Effect.fail("the pool closed")),
        Effect.exit,
        Effect.flatMap((exit) =>
          Effect.sync(() => {
            this.done = undefined
            this.current = undefined
            this.record.total++
            const error = Exit.isFailure(exit) ? reasonOf(exit) : null
            if (error !== null) this.record.failed++
            this.record.last = { at: this.host.now(), generation, replaced: current.replaced, error }
            if (error === null) {
              this.host.log("Info", `reloaded: ${current.replaced} workers replaced; generation ${generation}`, 0)
              Deferred.doneUnsafe(done, Effect.succeed({ reloaded: current.replaced, generation }))
            } else {
              const reason = `${error}; ${current.replaced} workers were replaced, the others go on serving`
              this.host.log("Warn", `reload to generation ${generation} failed: ${reason}`, 0)
              Deferred.doneUnsafe(done, Effect.fail(new ReloadFailed({ reason })))
            }
          })
        )
      )
    )
    return Deferred.await(done)
  })

  private slots(current: Reloading): Effect.Effect<void, string> {
    const self = this
    return Effect.gen(function*() {
      for (const slot of self.host.slots) current.replaced += yield* self.slot(slot, current.generation)
    })
  }

  /** Replaces `slot`'s worker with one of `generation`: 1 if it did, 0 if there was none to replace. */
  private slot(slot: Slot, generation: number): Effect.Effect<number, string> {
    const host = this.host
    return Effect.gen(function*() {
      for (;;) {
        const refused = host.refusal()
        if (refused !== undefined) return yield* Effect.fail(refused)
        if (!slot.active) return 0
        const underway = slot.successor
        if (underway !== undefined) {
          // a successor is booting (recycling): the new generation's if it started since
          const exit = yield* Effect.exit(Deferred.await(underway.done))
          if (underway.generation < generation) continue
          if (Exit.isFailure(exit)) return yield* Effect.fail(`worker ${slot.number}'s new worker failed: ${reasonOf(exit)}`)
          return 1
        }
        const w = host.workers[slot.number - 1]
        if (w === undefined || w.end !== undefined || w.state === "retiring" || w.generation >= generation) return 0
        if (w.state === "booting") {
          w.retire("reload", `reload to generation ${generation} (it was still booting)`)
          return 1
        }
        const succ = Successor.start(host, slot, "reload", `reload to generation ${generation}`, generation)
        const exit = yield* Effect.exit(Deferred.await(succ.done))
        if (Exit.isFailure(exit)) return yield* Effect.fail(`worker ${slot.number}'s new worker failed: ${reasonOf(exit)}`)
        return 1
      }
    })
  }
}

const reasonOf = (exit: Exit.Exit<unknown, string>): string => {
  if (Exit.isSuccess(exit)) return ""
  const error = Cause.findErrorOption(exit.cause)
  return Option.isSome(error) ? error.value : "interrupted"
}
