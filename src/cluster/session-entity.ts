/**
 * A session entity (SPEC §9): on the runner that owns session S, S's stored
 * jobs run in order, one at a time, through that runner's own pool.
 *
 * On activation the runner claims the session (a fencing epoch in
 * PostgreSQL, which also queues again a job its previous owner was running:
 * at-least-once); a stale owner can neither start nor settle a job. `Wake`
 * tells the owner there may be work; a poll on every runner wakes the
 * sessions with queued jobs (lost wakes, a dead owner's sessions).
 */
import { Deferred, Effect, Exit } from "effect"
import { Entity } from "effect/cluster"
import type { Pool } from "../pool/pool.ts"
import type { JobStore, Outcome } from "./job-store.ts"
import { Session } from "./protocol.ts"

export interface SessionCounters {
  active: number
  started: number
  settled: number
}

export const makeCounters = (): SessionCounters => ({ active: 0, started: 0, settled: 0 })

/** A stored job waits out a full queue instead of failing on Busy. */
const runJob = (pool: Pool, payload: unknown): Effect.Effect<unknown, { readonly _tag: string; readonly message: string }> =>
  pool.submit(payload).pipe(
    Effect.catchTag("Busy", () => Effect.andThen(Effect.sleep(50), Effect.suspend(() => runJob(pool, payload))))
  )

const outcomeOf = (exit: Exit.Exit<unknown, { readonly _tag: string; readonly message: string }>): Outcome => {
  if (Exit.isSuccess(exit)) return { ok: exit.value }
  const error = Exit.findErrorOption(exit)
  if (error._tag === "Some") {
    const e = error.value
    const plain: Record<string, unknown> = { tag: e._tag, message: e.message }
    for (const [k, v] of Object.entries(e)) {
      if (k !== "_tag" && k !== "message" && (v === null || ["string", "number", "boolean"].includes(typeof v))) plain[k] = v
    }
    return { error: plain }
  }
  return { error: { tag: "Defect", message: "the job failed unexpectedly" } }
}

export const layer = (store: JobStore, pool: Pool, counters: SessionCounters, idleMs: number) =>
  Session.toLayer(
    Effect.gen(function*() {
      const { entityId: session } = yield* Entity.CurrentAddress
      const owner = yield* Effect.orDie(store.claimSession(session))
      counters.active++
      yield* Effect.addFinalizer(() => Effect.sync(() => counters.active--))
      if (owner.recovered > 0) yield* Effect.logInfo(`session ${session}: a job cut off on its last owner runs again`)

      /** Runs the session's queued jobs, oldest first, one at a time, until none is left. */
      const drain = Effect.gen(function*() {
        for (;;) {
          const job = yield* store.head(session)
          if (job === undefined) return
          if (!(yield* owner.start(job.id))) return
          counters.started++
          const exit = yield* Effect.exit(runJob(pool, job.payload))
          // cut off by the runner stopping: it runs again under the next owner
          if (Exit.hasInterrupts(exit)) {
            yield* owner.requeue(job.id)
            return
          }
          yield* owner.settle(job.id, outcomeOf(exit))
          counters.settled++
        }
      })

      // One drain at a time, in the session's own fiber (a Wake whose caller goes away does not
      // cut a job off). Every Wake waits for the queue to be empty: while a Wake is outstanding
      // the entity is not idle, so a long job keeps its session here.
      const scope = yield* Effect.scope
      let running: Deferred.Deferred<void> | undefined
      let again = false
      const wakeUp = Effect.suspend(() => {
        if (running !== undefined) {
          again = true
          return Deferred.await(running)
        }
        const done = Deferred.makeUnsafe<void>()
        running = done
        const loop: Effect.Effect<void> = Effect.gen(function*() {
          do {
            again = false
            yield* Effect.catchCause(drain, (cause) => Effect.logWarning(`session ${session}: its jobs stopped`, cause))
          } while (again)
        })
        return Effect.forkIn(
          Effect.ensuring(loop, Effect.sync(() => {
            running = undefined
            Deferred.doneUnsafe(done, Effect.void)
          })),
          scope
        ).pipe(Effect.andThen(Deferred.await(done)))
      })
      return Session.of({ Wake: () => wakeUp })
    }),
    { maxIdleTime: idleMs, concurrency: "unbounded" }
  )
