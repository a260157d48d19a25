/**
 * The pier (SPEC §3): one serf and its durable log.
 *
 * The log is a `PierLog` (./log.ts): `open` opens the embedded SQLite one
 * in the pier folder (./sqlite.ts); `openWith` takes any other (the
 * cluster's PostgreSQL log of one serf, ../cluster/pier-log.ts), the folder
 * then being the serf's own, for its snapshots (`LIEGE_PIER`).
 *
 * This module puts the pier together and takes its callers; the parts are
 * their own modules, each a machine with plain state:
 *
 * - the events accepted and their way to the serf (./pending.ts), with the
 *   poison isolation (./poison.ts);
 * - group commit: an answer is released only once its event is in the log
 *   (./commit.ts);
 * - the serf, generation after generation, on the keeper (./generations.ts),
 *   each one caught up with the log first (./catch-up.ts);
 * - what the pier is doing (./lifecycle.ts) and its one view (./view.ts).
 *
 * Control requests (`peek`, `save`, `pack`) run under the serf lock on the
 * serving serf, in a fiber of the pier's: a caller that goes away stops
 * waiting but does not interrupt a flow holding the lock (which would kill
 * the serf). `save` runs after the last answers were committed: a snapshot
 * is never ahead of the log. A log that another writer claimed
 * (`PierFenced`) ends the pier. The serf's process identity is kept in a
 * `Leftover` (./leftover.ts), so a liege that was killed can find and reap
 * the serf it left behind. Every fiber is the pier's (its `FiberSet`); time
 * comes from Effect's `Clock`.
 */
import * as fs from "node:fs"
import { Cause, Clock, Context, Deferred, Effect, Exit, Fiber, FiberSet, Layer, Option, Schema, Scope } from "effect"
import { InvalidOptions, ReloadFailed } from "../errors.ts"
import * as Keeper from "../internal/keeper.ts"
import { decodeOptions } from "../internal/options.ts"
import * as RestartPolicy from "../internal/restart-policy.ts"
import type { SerfError } from "../serf/errors.ts"
import type { Serf } from "../serf/host.ts"
import { Histogram, powersOfTwo } from "../status/counters.ts"
import type * as Status from "../status/document.ts"
import { GroupCommit } from "./commit.ts"
import { PierIo, type PierLocked, type PierMismatch, ShuttingDown, Timeout } from "./errors.ts"
import { type GenerationsHost, giveUp, serfKeeper } from "./generations.ts"
import { fileLeftover, type Leftover, reap } from "./leftover.ts"
import { Lifecycle, type Reloaded } from "./lifecycle.ts"
import type { PierFenced } from "./errors.ts"
import type { PierLog } from "./log.ts"
import { PierOptions, settings as settingsOf } from "./options.ts"
import { PendingEvents } from "./pending.ts"
import { openSqlite } from "./sqlite.ts"
import type { PierFatal, PokeAnswer, PokeError, ReplayStatus } from "./types.ts"
import * as View from "./view.ts"

export { PierOptions } from "./options.ts"
export type { Reloaded } from "./lifecycle.ts"
export type { PierFatal, PierState, PokeAnswer, PokeError, ReplayStatus } from "./types.ts"

export interface PierHooks {
  /** Replay progress, once per batch (and once at the start and the end). */
  readonly onReplay?: ((status: ReplayStatus) => void) | undefined
  /** Every commit's size. */
  readonly onCommit?: ((events: number) => void) | undefined
}

/** What the pier counts beyond its status document (read by `/metrics`). */
export interface PierCounters {
  /** Events per group commit. */
  readonly commitBatches: Histogram
  /** The last replay's progress (events after the serf's snapshot). */
  readonly replay: () => ReplayStatus
}

export interface Pier {
  readonly dir: string
  /**
   * One event; answers once it is durable (Bail answers are not logged).
   * `json` is its JSON text, logged as given; `key`, the caller's key for it,
   * is logged with its effects by a log that keeps them (the cluster's).
   */
  readonly poke: (ev: unknown, json?: string, key?: string) => Effect.Effect<PokeAnswer, PokeError>
  /**
   * `poke` without a fiber, for a caller on a hot path outside Effect (the
   * HTTP front, a cluster runner): `done` is called once with the answer or
   * the error; the function returned stops listening (the event, if sent,
   * is logged all the same); a refusal is returned at once instead. Not
   * traced beyond `options.traceparent`.
   */
  readonly call: (
    ev: unknown,
    done: (answer: PokeAnswer | PokeError) => void,
    options?: { readonly json?: string | undefined; readonly key?: string | undefined; readonly traceparent?: string | undefined }
  ) => (() => void) | PokeError
  readonly peek: (path: ReadonlyArray<string>) => Effect.Effect<unknown, PokeError>
  /** A snapshot at the last logged event; returns it. */
  readonly snapshot: Effect.Effect<number, PokeError>
  readonly pack: Effect.Effect<number, PokeError>
  /** A ripe serf is serving. */
  readonly ready: () => boolean
  /** `ready`, or why not (booting, the replay's progress, restarting): SPEC §8 `/readyz`. */
  readonly readiness: () => Status.Readiness
  /** The status document (SPEC §10) now: state, replay, eve, window, rates, commits, restarts, errors. */
  readonly view: () => Status.SerfStatus
  /** `view`, with the log's size on disk read now. */
  readonly status: Effect.Effect<Status.SerfStatus>
  readonly counters: PierCounters
  /** Completes when the pier gave up for good. */
  readonly fatal: Effect.Effect<PierFatal>
  /**
   * Upgrades the serf's code without losing an event (SPEC §8, ./reload.ts):
   * the serf saves, a new process of the same command starts from that
   * snapshot and catches up with the log while the old one serves, then
   * takes over (events that arrive meanwhile wait; none is refused) and the
   * old one stops. If the new serf fails (its boot, its replay, another
   * mug), it is killed, the old one goes on, and the reload fails saying
   * why. Asked while one runs, it joins it; asked while no serf serves, it
   * runs once one does.
   */
  readonly reload: Effect.Effect<Reloaded, ReloadFailed>
  /**
   * Stops taking events, answers those accepted within `drainMs` (the rest
   * get `ShuttingDown`), saves a snapshot and stops the serf. The window
   * ends early when `cutShort` completes (the log is known to be gone). A
   * commit still in flight when it ends is not waited for: its events are
   * answered `PierIo` (they may or may not be logged), and the serf, whose
   * state may be ahead of the log, is stopped unsaved. A second call waits
   * for the first.
   */
  readonly shutdown: (drainMs: number, cutShort?: Effect.Effect<void>) => Effect.Effect<void>
}

/** The serf ended under a control flow: run it again on the next serf. */
const serfEnded = (e: SerfError): boolean =>
  e._tag === "SerfDied" || e._tag === "SerfNotRunning" || e._tag === "SerfProtocolError" ||
  e._tag === "SerfBootTimeout"

/**
 * Opens the pier in `options.dir` on its embedded SQLite log (created if
 * missing), for the scope's lifetime.
 */
export const open = (
  input: Schema.Codec.Encoded<typeof PierOptions> | PierOptions,
  hooks: PierHooks = {}
): Effect.Effect<Pier, InvalidOptions | PierLocked | PierMismatch | PierIo, Scope.Scope> =>
  Effect.gen(function*() {
    const options = yield* decodeOptions(PierOptions, input, (i) => new InvalidOptions(i))
    // before the pier: the database closes after it
    const { leftover, log } = yield* openSqlite(options.dir)
    return yield* openWith(log, options, hooks, leftover)
  })

/**
 * The pier on a log its caller opened (and closes, after the pier's scope).
 * `options.dir` is the serf's folder (created if missing): its snapshots,
 * its `LIEGE_PIER`, and by default the record of its process
 * (`fileLeftover`).
 */
export const openWith = <Lost extends PierFenced = PierFenced>(
  logIn: PierLog<Lost>,
  input: Schema.Codec.Encoded<typeof PierOptions> | PierOptions,
  hooks: PierHooks = {},
  leftoverIn?: Leftover
): Effect.Effect<Pier, InvalidOptions | PierMismatch | PierIo | Lost, Scope.Scope> =>
  Effect.gen(function*() {
    const log: PierLog = logIn
    const options = yield* decodeOptions(PierOptions, input, (i) => new InvalidOptions(i))
    const settings = settingsOf(options)
    const { dir } = settings
    yield* Effect.try({
      try: () => fs.mkdirSync(dir, { recursive: true }),
      catch: (e) => new PierIo({ dir, reason: `cannot create the folder: ${(e as Error).message}` })
    })
    const leftover = leftoverIn ?? fileLeftover(dir)
    yield* logIn.checkFormat
    yield* reap(leftover)
    const logged = yield* log.last
    const mug = logged === 0 ? null : yield* log.mugOf(logged)
    const clock = yield* Clock.Clock
    const now = () => clock.currentTimeMillisUnsafe()
    // a reload's new serf lives here until a generation takes it: closed after the keeper stopped
    const heirs = yield* Scope.fork(yield* Effect.scope)
    // after the log (opened by the caller): it closes first, interrupting the keeper and every control flow
    const run = yield* FiberSet.makeRuntime()

    const lifecycle = new Lifecycle(logged, now)
    const commitBatches = new Histogram(powersOfTwo(1024))
    const commit: GroupCommit = new GroupCommit(log, { logged, mug }, dir, now, run, {
      onCommit: (n) => {
        commitBatches.observe(n)
        hooks.onCommit?.(n)
      },
      refused: (error) => {
        if (error._tag !== "ShuttingDown") lifecycle.noteError(error._tag, error.message)
        if (error._tag === "PierFenced" && lifecycle.lost === undefined) lifecycle.lost = error
        // the serf is ahead of the log now: it goes, and the next one starts over from the log
        lifecycle.current?.abandon(
          error._tag === "PierFenced" ? error.message : `the log could not be written: ${error.message}`
        )
      },
      idle: () => settle()
    })
    const pending = new PendingEvents(commit, dir, () => settle(), { on: settings.spans, clock })

    /** While draining: done once every accepted event is answered, or nothing more can be. */
    let quiet: Deferred.Deferred<void> | undefined = undefined
    const settle = () => {
      if (quiet === undefined) return
      const done = (pending.size === 0 && commit.idle) || lifecycle.stopped || lifecycle.lost !== undefined
      if (done) Deferred.doneUnsafe(quiet, Effect.void)
    }

    // closes before the fibers: a commit in flight ends first, then what waits is told
    yield* Effect.addFinalizer(() =>
      Effect.andThen(
        Effect.suspend(() => {
          commit.closed = true
          return commit.drain
        }),
        Effect.sync(() => pending.refuseAll(new ShuttingDown({ reason: "the pier closed" })))
      )
    )

    // ── the serf, generation after generation ─────────────────────────────
    const { dir: _dir, boot, maxRestarts, restartWindow: _window, ...serf } = options
    const restarts = new Keeper.RestartLog()
    const host: GenerationsHost = {
      dir,
      log,
      batchSize: settings.batchSize,
      boot,
      commit,
      lifecycle,
      onReplay: hooks.onReplay,
      serf: { ...serf, batchSize: settings.batchSize },
      leftover,
      pending,
      windowMs: settings.windowMs,
      reloadMs: settings.bootMs,
      heirs,
      now,
      settle
    }
    const policy = {
      intensity: yield* RestartPolicy.intensity({ maxRestarts: maxRestarts ?? settings.maxRestarts, windowMs: settings.windowMs }),
      backoff: yield* RestartPolicy.backoff({ windowMs: settings.windowMs }),
      restarts
    }
    run(Effect.tapCause(Keeper.keep(serfKeeper(host), policy), (cause) =>
      Cause.hasInterruptsOnly(cause)
        ? Effect.void
        : Effect.andThen(
          Effect.logError("the serf's keeper died", cause),
          giveUp(host, new PierIo({ dir, reason: "the serf's keeper died (see the log)" }))
        )))

    // ── control requests go to whichever serf is ready ────────────────────
    const retry: unique symbol = Symbol("retry")

    /**
     * Runs `f` on the ready serf; when the serf ends under it, on the next one
     * (only then: any other failure, and any defect, goes to the caller). A
     * serf stuck on it is killed, and the request is a `Timeout`.
     */
    const withSerf = <A>(f: (serf: Serf) => Effect.Effect<A, SerfError>): Effect.Effect<A, PokeError> =>
      Effect.flatMap(lifecycle.awaitReady, (serf) => {
        const fiber = run(Effect.catch(
          f(serf),
          (e): Effect.Effect<typeof retry, PierIo | Timeout> =>
            e._tag === "SerfStuck" ? Effect.fail(new Timeout({ writ: e.writ, ms: e.ms }))
            : serfEnded(e) ? Effect.succeed(retry)
            : Effect.fail(new PierIo({ dir, reason: e.message }))
        ))
        return Effect.flatMap(Fiber.await(fiber), (exit): Effect.Effect<A, PokeError> => {
          if (Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)) {
            return Effect.fail(new ShuttingDown({ reason: "the pier closed" }))
          }
          return Effect.flatMap(exit, (a) => a === retry ? withSerf(f) : Effect.succeed(a))
        })
      })

    /** Done once a shutdown ended: a second one waits for the first. */
    const stopped = Deferred.makeUnsafe<void>()
    const shutdown = (drainMs: number, cutShort?: Effect.Effect<void>) =>
      Effect.suspend(() => {
        if (lifecycle.closing) return Deferred.await(stopped)
        lifecycle.closing = true
        // a reload not begun is not begun now (one running sees `closing` and gives up)
        lifecycle.refuseReload(new ReloadFailed({ reason: "liege is stopping" }))
        return Effect.ensuring(stopping(drainMs, cutShort), Deferred.succeed(stopped, undefined))
      })
    const stopping = (drainMs: number, cutShort: Effect.Effect<void> | undefined) =>
      Effect.gen(function*() {
        if (lifecycle.fatal === undefined) lifecycle.stage = { _tag: "Stopping" }
        quiet = Deferred.makeUnsafe()
        settle()
        let cut = false
        const logGone = cutShort === undefined ? Effect.never : Effect.andThen(cutShort, Effect.sync(() => (cut = true)))
        yield* Effect.timeoutOption(Effect.raceFirst(Deferred.await(quiet), logGone), drainMs)
        lifecycle.wake() // control requests waiting for a serf: ShuttingDown
        const current = lifecycle.current
        if (pending.size > 0 || commit.inFlight) {
          // Events the serf may be working on must not be logged after their
          // callers were told ShuttingDown: the serf goes, unsaved, and its
          // state is rebuilt from the log at the next start.
          const why = commit.inFlight
            ? "its log did not confirm a commit within the drain window"
            : `${pending.size} events not answered within the drain window`
          if (current !== undefined) {
            yield* Effect.logWarning(`stopping serf ${current.pid} unsaved: ${why}`)
            current.abandon(why)
          }
          const late = new ShuttingDown({
            reason: cut ? "not answered: its log cannot be reached, the serf is let go" : `not answered within the drain window (${drainMs} ms)`
          })
          pending.refuseAll(late)
          // answered, but waiting behind a commit in flight: not logged either
          commit.abandon(late)
          // sent to the log, never confirmed: nobody waits for it any more, and its callers are told the truth
          if (commit.inFlight) {
            const unknown = new PierIo({ dir, reason: "the log did not confirm the event before the serf was let go: it may or may not be logged" })
            commit.giveUp(unknown)
            lifecycle.noteError("PierIo", unknown.message)
          }
        } else if (current !== undefined && current.running()) {
          const saved = yield* Effect.timeoutOption(Effect.exit(current.save(commit.drain)), settings.stopGraceMs)
          if (Option.isNone(saved)) {
            yield* Effect.logWarning(`stopping serf ${current.pid} unsaved: its snapshot did not finish within stopGrace (${settings.stopGraceMs} ms)`)
            current.abandon("the snapshot at shutdown did not finish within stopGrace")
          } else if (Exit.isSuccess(saved.value)) lifecycle.lastSnapshot = saved.value.value
        }
        if (current !== undefined) {
          yield* current.stop
          yield* Effect.catch(leftover.set(undefined), (e) => Effect.logWarning(e.message))
        }
        yield* commit.drain
      })

    let logBytes: number | null = null
    const parts: View.PierParts = {
      startedAt: now(),
      maxInFlight: settings.maxInFlight,
      lifecycle,
      commit,
      pending,
      restarts,
      logBytes: () => logBytes
    }
    const view = () => View.view(parts, now())

    const reload = Effect.suspend((): Effect.Effect<Reloaded, ReloadFailed> => {
      if (lifecycle.closing) return Effect.fail(new ReloadFailed({ reason: "liege is stopping" }))
      const ended = lifecycle.fatal ?? lifecycle.lost
      if (ended !== undefined) return Effect.fail(new ReloadFailed({ reason: ended.message }))
      return Deferred.await(lifecycle.askReload().done)
    })
    return {
      dir,
      poke: (ev, json, key) => pending.poke(ev, json, key, now(), lifecycle.refusal, lifecycle.servingNow),
      call: (ev, done, o) => pending.start(ev, o?.json, o?.key, now(), lifecycle.refusal, lifecycle.servingNow, o?.traceparent, done),
      peek: (path) => withSerf((serf) => serf.peek(path)),
      snapshot: Effect.tap(withSerf((serf) => serf.save(commit.drain)), (eve) => Effect.sync(() => (lifecycle.lastSnapshot = eve))),
      pack: withSerf((serf) => serf.pack(commit.drain)),
      ready: () => lifecycle.serving() !== undefined,
      readiness: () => View.readiness(parts, now()),
      view,
      status: Effect.map(log.sizeOnDisk, (bytes) => {
        logBytes = bytes
        return view()
      }),
      counters: { commitBatches, replay: () => lifecycle.replay },
      fatal: Deferred.await(lifecycle.fatalSignal),
      reload,
      shutdown
    } satisfies Pier
  })

/** The pier as a service: `Pier.Service.layer(options)` opens it for the layer's lifetime. */
export class Service extends Context.Service<Service, Pier>()("liege/pier/Pier") {
  static readonly layer = (options: Schema.Codec.Encoded<typeof PierOptions> | PierOptions, hooks?: PierHooks) =>
    Layer.effect(Service, open(options, hooks))
}
