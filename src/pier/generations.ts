/**
 * The pier's serf, generation after generation (SPEC §3), on the keeper
 * (../internal/keeper.ts). One generation: start → check identity → catch
 * up (./catch-up.ts) → serve → die; its process gone, the keeper asks what
 * the end means:
 *
 * - fatal (a diverged replay, a mismatched pier, a command that cannot
 *   start, the log claimed by another writer): the pier gives up;
 * - liege stopping: no next serf;
 * - else a restart. After a death owing events, the oldest goes alone to
 *   the next serf (a suspect, the backoff's first step, not counted); if
 *   that serf ends owing it too, it is poison: refused, never logged
 *   (./poison.ts). Deaths with no event to blame count, and so does a second
 *   poison event with none done since the first.
 *
 * A generation ends only once its commits are done: the next one replays a
 * log that holds them.
 */
import { Clock, Effect, Exit, Option } from "effect"
import { InvalidOptions } from "../errors.ts"
import type { ChildSpec, Ran } from "../internal/keeper.ts"
import * as Keeper from "../internal/keeper.ts"
import { ReplayDiverged, SerfDied, SerfIncompatible, SerfStuck } from "../serf/errors.ts"
import { start as startSerf } from "../serf/host.ts"
import type { SerfOptions } from "../serf/options.ts"
import { processIdentity } from "../supervisor/group.ts"
import { SpawnFailed } from "../supervisor/errors.ts"
import { catchUp, type CatchUp } from "./catch-up.ts"
import { PierBootFailed, PierFenced, PierGaveUp, PierIo, PierMismatch, SerfPoisoned } from "./errors.ts"
import type { Leftover } from "./leftover.ts"
import type { PendingEvents } from "./pending.ts"
import type { PierFatal } from "./types.ts"

export interface GenerationsHost extends CatchUp {
  /** How to start each serf (the pier's options, less its own). */
  readonly serf: SerfOptions
  readonly leftover: Leftover
  readonly pending: PendingEvents
  readonly windowMs: number
  readonly now: () => number
  /** Every event answered, or nothing more can be: a drain may stop waiting. */
  readonly settle: () => void
}

const isFatal = (e: unknown): e is PierFatal =>
  e instanceof ReplayDiverged || e instanceof PierMismatch || e instanceof PierBootFailed ||
  e instanceof SerfIncompatible || e instanceof InvalidOptions || e instanceof PierFenced ||
  (e instanceof SpawnFailed && (e.code === "ENOENT" || e.code === "EACCES"))

/** A restart's kind, as the status document counts restarts. */
const kindOf = (why: unknown): string => {
  const tag = (why as { _tag?: unknown })._tag
  switch (tag) {
    case "SerfDied":
      return "died"
    case "SerfStuck":
      return "stuck"
    case "SerfProtocolError":
      return "protocol"
    case "SerfBootTimeout":
      return "boot"
    case "SerfNotRunning":
      return "let go"
    default:
      return "failed"
  }
}

/** The pier gives up for good: every event waiting is answered with `error`. */
export const giveUp = (pier: GenerationsHost, error: PierFatal) =>
  Effect.gen(function*() {
    pier.lifecycle.failed(error)
    yield* Effect.logError(error.message)
    pier.pending.refuseAll(error)
    pier.settle()
  })

/** One serf, from spawn to death: why it ended. */
const generation = (pier: GenerationsHost, n: number) =>
  Effect.scoped(Effect.gen(function*() {
    const { lifecycle, commit, pending } = pier
    lifecycle.stage = { _tag: "Booting" }
    const serf = yield* startSerf({ ...pier.serf, pier: pier.dir, workerId: n }, { afterPleas: commit.commit })
    lifecycle.starting = serf.pid
    yield* Effect.addFinalizer(() => Effect.sync(() => (lifecycle.starting = undefined)))
    const id = processIdentity(serf.pid)
    if (id !== undefined) yield* pier.leftover.set(id)
    yield* catchUp(serf, pier)
    const ripeAt = yield* Clock.currentTimeMillis
    lifecycle.replay = { ...lifecycle.replay, eve: serf.state().eve }
    yield* Effect.logInfo(`serf ${serf.pid} is ripe at event ${serf.state().eve}`)
    if (pending.resume({ serf, gen: n }) !== undefined) {
      yield* Effect.logWarning(`sent the oldest event the last serf died owing to serf ${serf.pid} alone`)
    }
    // whatever ends this generation (a death, an interruption), its serf is handed out no more
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        if (lifecycle.currentGen === n) lifecycle.current = undefined
      })
    )
    lifecycle.serve(serf, n)
    const death = yield* serf.dead
    const upMs = (yield* Clock.currentTimeMillis) - ripeAt
    lifecycle.current = undefined
    // the next serf replays the log: it must hold what this one's answers are being committed with
    yield* commit.drain
    // the process is gone before the next one starts; its exit tells how it died
    const result = yield* serf.exited
    return {
      why: death._tag === "SerfDied" && death.result === null ? new SerfDied({ pid: death.pid, result }) : death,
      upMs,
      exit: { code: result.code, signal: result.signal }
    }
  }))

/** The child spec of the pier's keeper. */
export const serfKeeper = (pier: GenerationsHost): ChildSpec<unknown> => {
  const { lifecycle, pending } = pier
  /** What the restart decided does next, and the generation that ended, for its log line. */
  let next = ""
  let ended = 0
  return {
    run: (n) =>
      Effect.map(Effect.exit(generation(pier, n)), (exit): Ran<unknown> => {
        if (Exit.isSuccess(exit)) return { end: exit.value.why, upMs: exit.value.upMs, exit: exit.value.exit }
        const error = Option.getOrUndefined(Exit.findErrorOption(exit))
        return { end: error ?? exit.cause, upMs: 0, exit: undefined }
      }),

    verdict: ({ end }, n) =>
      Effect.gen(function*() {
        ended = n
        if (lifecycle.lost !== undefined) {
          yield* giveUp(pier, lifecycle.lost)
          return Keeper.Stop
        }
        if (lifecycle.closing) {
          // liege is stopping: a serf that ended now is not restarted, and what it owed cannot be answered
          yield* Effect.logInfo(`serf generation ${n} ended while liege was stopping; not restarted`)
          lifecycle.stopped = true
          pier.settle()
          return Keeper.Stop
        }
        let why = end
        if (!(why instanceof Error)) {
          yield* Effect.logError("a serf generation died", why)
          why = new PierIo({ dir: pier.dir, reason: "a serf generation died (see the log)" })
        }
        if (isFatal(why)) {
          yield* giveUp(pier, why)
          return Keeper.Stop
        }
        const message = (why as Error).message
        const blame = pending.isolation.ended(n, pending.pending)
        if (blame._tag === "Poison") {
          const poisoned = why instanceof SerfStuck
            ? new SerfPoisoned({ last: why.how, stuckMs: why.ms })
            : new SerfPoisoned({ last: why instanceof SerfDied ? why.how : message })
          lifecycle.noteError("Poison", poisoned.message)
          pending.refuse(blame.event, poisoned)
          yield* Effect.logWarning(
            `refused a poison event (SerfPoisoned): serf generation ${n} ended on it alone (${message}); it was not logged`
          )
        }
        const counts = blame._tag === "None" || (blame._tag === "Poison" && blame.again)
        next = blame._tag === "Suspect"
          ? "the oldest event it owed goes to the next serf alone"
          : blame._tag === "Poison"
          ? `going on with the events after the poison${counts ? " (a second in a row: counted)" : ""}`
          : "counted against maxRestarts"
        return {
          _tag: "Restart",
          kind: kindOf(why),
          reason: message,
          counts,
          first: blame._tag !== "None",
          poison: blame._tag === "Poison"
        } as const
      }),

    exceeded: (restart, failures) =>
      Effect.as(giveUp(pier, new PierGaveUp({ restarts: failures, windowMs: pier.windowMs, last: restart.reason })), false),

    restarting: (restart, delayMs, failures) =>
      Effect.suspend(() => {
        lifecycle.stage = { _tag: "Restarting", at: pier.now() + delayMs }
        const what = restart.counted && !restart.poison ? `${next} (${failures} within ${pier.windowMs} ms)` : next
        return Effect.logWarning(`serf generation ${ended} ended (${restart.reason}); ${what}; restarting in ${delayMs} ms`)
      })
  }
}
