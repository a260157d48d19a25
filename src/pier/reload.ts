/**
 * Serf reload (SPEC §8 `POST /v1/reload`, `SIGHUP`): the serf's code is
 * upgraded without losing an event. It runs in the fiber of the serving
 * generation (./generations.ts), which owns the old serf:
 *
 * 1. the serving serf saves (a snapshot at the last logged event);
 * 2. a new process of the same command starts, with the next
 *    `LIEGE_GENERATION`, in a scope of the pier's own (so the pier closes it
 *    at the latest); it must be ripe within `bootTimeout`, report the pier's
 *    identity, and its snapshot must be in the log with the log's mug;
 * 3. it replays the log after its snapshot, in rounds, while the old serf
 *    goes on serving and the log grows, until it is within a few events of
 *    the log's end;
 * 4. the last round holds the events: new ones wait, pending (none is
 *    refused), while the old serf's window drains (the hold is a lock op of
 *    the old serf's) and its answers are committed; the new serf replays
 *    the rest, and its mug must equal the log's at the log's last event.
 *    Then it serves: the events that waited go to it, in order, and it is
 *    the next generation; the old serf is let go (stopped by its caller).
 *
 * Any failure — the spawn, no ripe, another identity, a replay bail,
 * another mug, a phase over its limit, liege stopping — kills the new serf,
 * and the old one goes on: the events that waited go to it, in order.
 * Each phase but the save is bounded by `bootTimeout` (the save, a writ of
 * the old serf's, by `workTimeout` like any other); every `play` batch by
 * `workTimeout`. Time comes from Effect's `Clock`.
 */
import { Cause, Clock, Effect, Exit, Scope } from "effect"
import { ReloadFailed } from "../errors.ts"
import type { ReplayDiverged, SerfError } from "../serf/errors.ts"
import { type Serf, start as startSerf } from "../serf/host.ts"
import { goofText, identity, logStream } from "./catch-up.ts"
import type { PierIo } from "./errors.ts"
import type { GenerationsHost } from "./generations.ts"

/** A serf a reload caught up, to serve as the next generation. */
export interface Heir {
  readonly serf: Serf
  /** Its process's scope: the generation it serves in closes it. */
  readonly scope: Scope.Closeable
  /** Its `LIEGE_GENERATION`. */
  readonly generation: number
  /** The log's last event when it took over: it serves from the next one. */
  readonly eve: number
  /** How long events were held while it took over (ms). */
  readonly heldMs: number
}

/** Catch-up rounds while the old serf serves, before the last (held) one. */
const MAX_ROUNDS = 8
/** The last round (events held) begins once the new serf is this close to the log's end (or after MAX_ROUNDS). */
const CLOSE_ENOUGH = 32

const failed = (reason: string) => new ReloadFailed({ reason })

const mugText = (eve: number, serf: number, logged: number) =>
  `the new serf's mug at event ${eve} is ${serf}, the log's is ${logged}`

/** `effect` within `ms` (bootTimeout), else the reload fails saying what did not finish. */
const within = (ms: number, what: string) => <A>(effect: Effect.Effect<A, ReloadFailed>) =>
  ms <= 0 ? effect : effect.pipe(
    Effect.timeoutOrElse({ duration: ms, orElse: () => Effect.fail(failed(`${what} within ${ms} ms (bootTimeout)`)) })
  )

const logError = (e: PierIo) => failed(`the log could not be read: ${e.message}`)

const replayReason = (e: SerfError | ReplayDiverged | PierIo): string => {
  switch (e._tag) {
    case "ReplayDiverged":
      return mugText(e.eve, e.serf, e.logged)
    case "PierIo":
      return `the log could not be read: ${e.message}`
    default:
      return `the new serf failed while replaying: ${e.message}`
  }
}

/**
 * Reloads generation `n`'s serf `old`: the new serf, caught up and serving
 * (the events go to it), or why not (the old one serves again).
 */
export const reload = (pier: GenerationsHost, old: Serf, n: number): Effect.Effect<Heir, ReloadFailed> =>
  Effect.gen(function*() {
    const { lifecycle, commit, pending, log, dir } = pier
    const limit = pier.reloadMs
    if (lifecycle.closing) return yield* failed("liege is stopping")
    const generation = ++lifecycle.generationsGiven
    lifecycle.reloads.running = { generation, since: pier.now() }

    // 1. the serving serf saves: the new one starts from that snapshot
    const saved = yield* Effect.mapError(
      old.save(commit.drain),
      (e) => failed(`the serving serf ${old.pid} did not save: ${e.message}`)
    )
    lifecycle.lastSnapshot = saved
    yield* Effect.logInfo(`reload: serf ${old.pid} saved at event ${saved}; starting a new serf (generation ${generation})`)

    /** `effect`, unless the serving serf ends first (then there is nothing to hand over: the reload fails at once). */
    const whileServing = <A>(effect: Effect.Effect<A, ReloadFailed>) =>
      Effect.raceFirst(
        effect,
        Effect.flatMap(old.dead, (e) =>
          Effect.fail(failed(
            lifecycle.closing ? "liege is stopping" : `the serving serf ${old.pid} ended during the reload: ${e.message}`
          )))
      )

    // 2. the new serf, in a scope of the pier's until a generation takes it
    const scope = yield* Scope.fork(pier.heirs)
    const nw = yield* startSerf(
      { ...pier.serf, pier: dir, workerId: n + 1, generation },
      { afterPleas: commit.commit }
    ).pipe(
      Scope.provide(scope),
      Effect.mapError((e) =>
        failed(
          e._tag === "SerfDied"
            ? `the new serf did not boot: serf ${e.pid} exited before it was ripe (${e.how})`
            : `the new serf did not boot: ${e.message}`
        )
      ),
      whileServing,
      Effect.onError((cause) => Scope.close(scope, Exit.failCause(cause)))
    )

    const catchUp = Effect.gen(function*() {
      const { ripe } = nw
      yield* Effect.logInfo(`reload: the new serf ${nw.pid} is ripe at event ${ripe.eve}; catching up with the log`)
      const known = yield* Effect.mapError(log.identity, logError)
      if (known !== undefined && known !== identity(ripe)) {
        return yield* failed(`the new serf reports ${identity(ripe)}, but this pier was made by ${known}`)
      }
      const readLast = Effect.mapError(log.last, logError)
      const first = yield* readLast
      if (ripe.eve > first) {
        return yield* failed(`the new serf's snapshot is at event ${ripe.eve}, ahead of the log (${first})`)
      }
      if (ripe.eve > 0) {
        const mug = yield* Effect.mapError(log.mugOf(ripe.eve), logError)
        if (mug !== null && mug !== ripe.mug) return yield* failed(mugText(ripe.eve, ripe.mug, mug))
      }

      /** The new serf replays the log up to `upTo` (each batch's last mug checked). */
      const replayTo = (upTo: number) =>
        Effect.suspend(() => {
          const from = nw.state().eve
          if (from >= upTo) return Effect.void
          return nw.replay(logStream(log, from, upTo, pier.batchSize)).pipe(
            Effect.mapError((e) => failed(replayReason(e))),
            Effect.flatMap((r) =>
              r._tag === "Bail"
                ? Effect.fail(failed(`the new serf refused event ${r.eve} while replaying: ${goofText(r)}`))
                : Effect.void
            ),
            within(limit, `the new serf did not replay events ${from + 1}..${upTo}`)
          )
        })

      // 3. rounds, while the old serf serves and the log grows
      yield* whileServing(Effect.gen(function*() {
        for (let round = 0; round < MAX_ROUNDS; round++) {
          const last = yield* readLast
          if (last - nw.state().eve <= CLOSE_ENOUGH) return
          yield* replayTo(last)
        }
      }))

      // 4. the last round: events wait, the old serf's window drains, the new one catches up and takes over
      if (lifecycle.closing) return yield* failed("liege is stopping")
      let switched = false
      /** Under the old serf's lock (its window drained, the events held): the new serf catches up and takes over. */
      const switchOver = Effect.gen(function*() {
        yield* commit.drain
        const last = yield* readLast
        yield* replayTo(last)
        const state = nw.state()
        if (state.eve !== last) {
          return yield* failed(`the new serf is at event ${state.eve} after its replay; the log ends at ${last}`)
        }
        const mug = last === 0 ? null : yield* Effect.mapError(log.mugOf(last), logError)
        if (mug !== null && mug !== state.mug) return yield* failed(mugText(last, state.mug, mug))
        // what could have changed while the log was read
        if (lifecycle.closing) return yield* failed("liege is stopping")
        const ended = lifecycle.fatal ?? lifecycle.lost
        if (ended !== undefined) return yield* failed(ended.message)
        if (!nw.running()) return yield* failed(`the new serf ended while catching up`)
        // the switch: nothing between here and the release yields
        lifecycle.generation = generation
        lifecycle.serve(nw, n + 1)
        switched = true
        pending.release({ serf: nw, gen: n + 1 })
        return last
      })
      const heldAt = yield* Clock.currentTimeMillis
      const took = yield* Effect.suspend(() => {
        pending.hold()
        return old.hold(switchOver)
      }).pipe(
        Effect.mapError((e) => failed(`the serving serf ${old.pid} ended during the reload: ${e.message}`)),
        Effect.flatten,
        within(limit, `the new serf did not take over`),
        Effect.ensuring(Effect.sync(() => {
          // the old serf serves again: what waited goes to it, in order
          if (!switched) pending.release({ serf: old, gen: n })
        }))
      )
      const heldMs = (yield* Clock.currentTimeMillis) - heldAt
      return { serf: nw, scope, generation, eve: took, heldMs } satisfies Heir
    })

    return yield* Effect.onExit(catchUp, (exit) => {
      if (Exit.isSuccess(exit)) return Effect.void
      const why = Exit.findErrorOption(exit).pipe((o) =>
        o._tag === "Some" ? o.value.reason : Cause.hasInterruptsOnly(exit.cause) ? "the pier closed" : "the reload died"
      )
      return Effect.andThen(Effect.logWarning(`reload: killing the new serf ${nw.pid}: ${why}`), Scope.close(scope, exit))
    })
  })
