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
 *
 * A serving generation also runs the reloads asked for (./reload.ts): a
 * reload that succeeds hands its place to the new serf, already serving,
 * and lets the old one go; the keeper's next generation is then that serf
 * (not a restart). A reload that fails leaves the generation serving.
 */
import { Cause, Clock, Deferred, Effect, Exit, Option, Scope } from "effect"
import { InvalidOptions, ReloadFailed } from "../errors.ts"
import type { ChildSpec, Ran } from "../internal/keeper.ts"
import * as Keeper from "../internal/keeper.ts"
import { ReplayDiverged, SerfDied, SerfIncompatible, SerfStuck } from "../serf/errors.ts"
import { type Serf, start as startSerf } from "../serf/host.ts"
import type { SerfOptions } from "../serf/options.ts"
import { processIdentity } from "../supervisor/group.ts"
import { SpawnFailed } from "../supervisor/errors.ts"
import { catchUp, type CatchUp } from "./catch-up.ts"
import { PierBootFailed, PierFenced, PierGaveUp, PierIo, PierMismatch, SerfPoisoned } from "./errors.ts"
import type { Leftover } from "./leftover.ts"
import type { Reloaded, ReloadRequest } from "./lifecycle.ts"
import type { PendingEvents } from "./pending.ts"
import { type Heir, reload } from "./reload.ts"
import type { PierFatal } from "./types.ts"

export interface GenerationsHost extends CatchUp {
  /** How to start each serf (the pier's options, less its own). */
  readonly serf: SerfOptions
  readonly leftover: Leftover
  readonly pending: PendingEvents
  readonly windowMs: number
  /** Each phase of a reload is bounded by this (`bootTimeout`). */
  readonly reloadMs: number
  /** The scope a reload starts its new serf in (the pier's, closed after its keeper stopped). */
  readonly heirs: Scope.Scope
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
    pier.lifecycle.refuseReload(new ReloadFailed({ reason: error.message }))
    yield* Effect.logError(error.message)
    pier.pending.refuseAll(error)
    pier.settle()
  })

/** How a generation ends that handed its place to a reload's new serf. */
class HandedOver {
  readonly heir: Heir
  constructor(heir: Heir) {
    this.heir = heir
  }
}

/**
 * Runs the reload `request` on generation `n`'s serving serf: the new serf,
 * serving, once the old one is let go; undefined when it failed (the old
 * one goes on). Its callers are answered either way.
 */
const reloading = (pier: GenerationsHost, old: Serf, n: number, request: ReloadRequest) =>
  Effect.gen(function*() {
    const { lifecycle } = pier
    request.taken = true
    /** Its callers are answered (and its record kept); a reload asked from now on is a new one. */
    let answered = false
    const answer = (outcome: Reloaded | ReloadFailed) => {
      if (answered) return
      answered = true
      const failed = outcome instanceof ReloadFailed
      const { reloads } = lifecycle
      reloads.total++
      if (failed) reloads.failed++
      reloads.last = {
        at: pier.now(),
        generation: reloads.running?.generation ?? lifecycle.generationsGiven,
        eve: failed ? null : outcome.eve,
        error: failed ? outcome.reason : null
      }
      reloads.running = null
      lifecycle.reloadEnded(request)
      Deferred.doneUnsafe(request.done, failed ? Effect.fail(outcome) : Effect.succeed(outcome))
    }
    const exit = yield* Effect.exit(reload(pier, old, n)).pipe(
      Effect.onInterrupt(() => Effect.sync(() => answer(new ReloadFailed({ reason: "the pier closed" }))))
    )
    if (Exit.isSuccess(exit)) {
      const heir = exit.value
      yield* Effect.logInfo(
        `reload: serf ${heir.serf.pid} (generation ${heir.generation}) took over at event ${heir.eve} ` +
          `(events waited ${heir.heldMs} ms); letting serf ${old.pid} go: reloaded`
      )
      // answered once the old serf is gone (an interruption meanwhile: the pier closes, the reload was done)
      yield* Effect.ensuring(
        old.stop,
        Effect.sync(() => answer({ reloaded: 1, eve: heir.eve, generation: heir.generation }))
      )
      return heir
    }
    if (Cause.hasInterruptsOnly(exit.cause)) {
      answer(new ReloadFailed({ reason: "the pier closed" }))
      return yield* Effect.interrupt
    }
    const error = Option.getOrUndefined(Exit.findErrorOption(exit)) ?? new ReloadFailed({ reason: "it died (see the log)" })
    if (Option.isNone(Exit.findErrorOption(exit))) yield* Effect.logError("a reload died", exit.cause)
    lifecycle.noteError(error._tag, error.message)
    yield* Effect.logWarning(old.running() ? `${error.message}; serf ${old.pid} goes on serving` : error.message)
    answer(error)
    return undefined
  })

/**
 * One serf, from spawn (or from a reload's hand-over, `heir`) to death, or
 * to the hand-over of its place to a reload's serf: why it ended.
 */
const generation = (pier: GenerationsHost, n: number, heir: Heir | undefined) =>
  Effect.scoped(Effect.gen(function*() {
    const { lifecycle, commit, pending } = pier
    let serf: Serf
    if (heir === undefined) {
      lifecycle.stage = { _tag: "Booting" }
      serf = yield* startSerf(
        { ...pier.serf, pier: pier.dir, workerId: n, generation: lifecycle.generation },
        { afterPleas: commit.commit }
      )
      lifecycle.starting = serf.pid
      yield* Effect.addFinalizer(() => Effect.sync(() => (lifecycle.starting = undefined)))
    } else {
      // already serving (since the switch): its process is this generation's from now on
      serf = heir.serf
      yield* Effect.addFinalizer((exit) => Scope.close(heir.scope, exit))
    }
    const id = processIdentity(serf.pid)
    if (id !== undefined) yield* pier.leftover.set(id)
    if (heir === undefined) {
      yield* catchUp(serf, pier)
      lifecycle.replay = { ...lifecycle.replay, eve: serf.state().eve }
      yield* Effect.logInfo(`serf ${serf.pid} is ripe at event ${serf.state().eve}`)
    }
    const ripeAt = yield* Clock.currentTimeMillis
    if (heir === undefined && pending.resume({ serf, gen: n }) !== undefined) {
      yield* Effect.logWarning(`sent the oldest event the last serf died owing to serf ${serf.pid} alone`)
    }
    // whatever ends this generation (a death, an interruption), its serf is handed out no more
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        if (lifecycle.currentGen === n) lifecycle.current = undefined
      })
    )
    lifecycle.serve(serf, n)
    let death: Effect.Success<typeof serf.dead>
    for (;;) {
      const next = yield* Effect.raceFirst(
        Effect.map(serf.dead, (error) => ({ _tag: "Dead" as const, error })),
        Effect.map(lifecycle.awaitReload, (request) => ({ _tag: "Reload" as const, request }))
      )
      if (next._tag === "Dead") {
        death = next.error
        break
      }
      // refused meanwhile (liege began stopping): nothing to run
      if (lifecycle.reload !== next.request) continue
      const handed = yield* reloading(pier, serf, n, next.request)
      if (handed !== undefined) {
        const upMs = (yield* Clock.currentTimeMillis) - ripeAt
        const result = yield* serf.exited
        return { why: new HandedOver(handed), upMs, exit: { code: result.code, signal: result.signal } }
      }
    }
    const upMs = (yield* Clock.currentTimeMillis) - ripeAt
    if (lifecycle.currentGen === n) lifecycle.current = undefined
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
  /** The serf a reload's hand-over left for the next generation. */
  let heir: Heir | undefined = undefined
  return {
    run: (n) => {
      const from = heir
      heir = undefined
      return Effect.map(Effect.exit(generation(pier, n, from)), (exit): Ran<unknown> => {
        if (Exit.isSuccess(exit)) return { end: exit.value.why, upMs: exit.value.upMs, exit: exit.value.exit }
        const error = Option.getOrUndefined(Exit.findErrorOption(exit))
        return { end: error ?? exit.cause, upMs: 0, exit: undefined }
      })
    },

    verdict: ({ end }, n) =>
      Effect.gen(function*() {
        ended = n
        if (end instanceof HandedOver) {
          if (lifecycle.lost === undefined) {
            // not a restart: the reload's serf serves already, as the next generation
            heir = end.heir
            return Keeper.Next
          }
          end.heir.serf.abandon(lifecycle.lost.message)
          yield* Scope.close(end.heir.scope, Exit.void)
        }
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
