/**
 * A session entity (SPEC §9): on the runner that owns session S, S's stored
 * jobs run in order, one at a time, through that runner's own pool.
 *
 * On activation the runner claims the session (a fencing epoch in
 * PostgreSQL, which also queues again a job its previous owner was running:
 * at-least-once); a stale owner can neither start nor settle a job. `Wake`
 * tells the owner there may be work; a poll on every runner wakes the
 * sessions with queued or running jobs (lost wakes; a dead owner's
 * sessions, even one whose last job it was running).
 */
import { Cause, Deferred, Effect, Exit, Schedule } from "effect"
import { Entity } from "effect/cluster"
import type { Pool } from "../pool/pool.ts"
import { isCutOff, outcomeOf, runStored } from "../runner/outcome.ts"
import type { JobStore, SessionOwner } from "./job-store.ts"
import { Session } from "./protocol.ts"

export interface SessionCounters {
  active: number
  started: number
  settled: number
}

export const makeCounters = (): SessionCounters => ({ active: 0, started: 0, settled: 0 })

/** Longer than the runners' lock expiry (2 s). */
const FENCED_PAUSE = "5 seconds"

/** A job's end is recorded through a passing database error (else the job would run again). */
const retryIo = <A, E extends { readonly _tag: string }>(effect: Effect.Effect<A, E>) =>
  Effect.retry(effect, { while: (e) => e._tag === "JobIo", schedule: Schedule.exponential("100 millis"), times: 6 })

export const layer = (store: JobStore, pool: Pool, counters: SessionCounters, idleMs: number) =>
  Session.toLayer(
    Effect.gen(function*() {
      const { entityId: session } = yield* Entity.CurrentAddress
      /** Takes the session over (again): a job its last owner left running is queued again. */
      const claim = Effect.gen(function*() {
        const claimed = yield* store.claimSession(session)
        if (claimed.recovered > 0) yield* Effect.logInfo(`session ${session}: a job cut off on its last owner runs again`)
        return claimed
      })
      let owner: SessionOwner | undefined = yield* Effect.orDie(claim)
      counters.active++
      yield* Effect.addFinalizer(() => Effect.sync(() => counters.active--))

      /** Runs the session's queued jobs, oldest first, one at a time, until none is left. */
      const drain = Effect.gen(function*() {
        let fresh = false
        for (;;) {
          if (owner === undefined) {
            owner = yield* claim
            fresh = true
          }
          const current = owner
          const job = yield* store.head(session)
          if (job === undefined) return
          if (!(yield* current.start(job.id))) {
            if (fresh) return
            // a job of the session is still marked running (its settle was lost) or it was claimed
            // elsewhere: claim it again, once, which queues that job again
            owner = undefined
            continue
          }
          counters.started++
          const exit = yield* Effect.exit(runStored(pool, job.payload).pipe(
            // cut off (the runner stopping, the session moving away): queued again at once for
            // its next owner; if that fails, the next owner's claim queues it again
            Effect.onInterrupt(() => Effect.ignore(Effect.timeout(Effect.interruptible(current.requeue(job.id)), "2 seconds")))
          ))
          if (isCutOff(exit)) {
            // the pool is stopping (the runner is leaving): queued again for the next owner
            if (!Exit.hasInterrupts(exit)) yield* current.requeue(job.id).pipe(retryIo)
            return
          }
          yield* current.settle(job.id, outcomeOf(exit)).pipe(retryIo)
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
            yield* Effect.catchCause(drain, (cause) =>
              Effect.gen(function*() {
                yield* Effect.logWarning(`session ${session}: its jobs stopped; it is claimed again at the next wake`, cause)
                owner = undefined
                // fenced: another runner took the session; give the cluster past its lock expiry to
                // settle which runner owns it before this one claims it back
                const error = Cause.findErrorOption(cause)
                if (error._tag === "Some" && error.value._tag === "JobFenced") yield* Effect.sleep(FENCED_PAUSE)
              }))
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
