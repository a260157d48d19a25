/**
 * The pier (SPEC §3): one serf and its durable log.
 *
 * - `poke`: the event goes through the serf's `run` pipeline; its answer is
 *   released only once the event is in the log (group commit: one
 *   transaction per chunk of pleas read from the serf).
 * - A keeper fiber runs the serf generation after generation. Each one:
 *   start → check identity → catch up (boot a fresh pier, or replay the log
 *   after the serf's snapshot, checking mugs) → serve → die. Then capped
 *   backoff and the next one; more than `maxRestarts` deaths within
 *   `restartWindow` and the pier gives up. Events that arrive meanwhile wait,
 *   and everything sent to a dead serf without a durable answer is sent
 *   again, in order: callers see one answer per event.
 * - `save` runs under the serf lock after the last answers were committed:
 *   a snapshot is never ahead of the log.
 * - The serf's process identity is kept in the pier, so that a liege that
 *   was killed can find and reap the serf it left behind.
 */
import { Context, Deferred, Duration, Effect, Exit, Fiber, Layer, Option, Schema, type Scope, Stream } from "effect"
import { decodeOptions, DurationInput, toMillis } from "../internal/options.ts"
import { isError, type WorkAnswer } from "../serf/window.ts"
import { ReplayDiverged, type SerfError, SerfIncompatible } from "../serf/errors.ts"
import { type ReplayEvent, type Serf, SerfProcessFields, start as startSerf } from "../serf/host.ts"
import { Event, type Goof, type Ripe } from "../serf/protocol.ts"
import { isAlive, liveMembers, processIdentity, signalGroup } from "../supervisor/group.ts"
import { InvalidOptions } from "../errors.ts"
import { SpawnFailed } from "../supervisor/errors.ts"
import { type LoggedEvent, PierDb, PierDbError } from "./db.ts"
import { PierBootFailed, PierGaveUp, PierIo, PierLocked, PierMismatch, ShuttingDown } from "./errors.ts"

export const PierOptions = Schema.Struct({
  /** The pier folder (created if missing). */
  dir: Schema.String.check(Schema.isMinLength(1)),
  ...SerfProcessFields,
  /** Boot events for a fresh pier, sent as one `play`. */
  boot: Schema.optional(Schema.Array(Event)),
  /** Serf deaths tolerated within `restartWindow` (default 10). */
  maxRestarts: Schema.optional(Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))),
  restartWindow: Schema.optional(DurationInput)
})
export type PierOptions = typeof PierOptions.Type

export type PokeAnswer =
  | { readonly _tag: "Done"; readonly eve: number; readonly mug: number; readonly effects: ReadonlyArray<unknown> }
  | {
    readonly _tag: "Swap"
    readonly eve: number
    readonly mug: number
    readonly effects: ReadonlyArray<unknown>
    readonly ev: unknown
  }
  | { readonly _tag: "Bail"; readonly goofs: ReadonlyArray<Goof> }

/** Why a pier stopped for good. */
export type PierFatal =
  | ReplayDiverged
  | PierMismatch
  | PierGaveUp
  | PierBootFailed
  | PierIo
  | SpawnFailed
  | InvalidOptions
  | SerfIncompatible

export type PokeError = ShuttingDown | PierIo | PierFatal

export interface ReplayStatus {
  readonly done: number
  readonly total: number
  readonly eve: number
}

export interface PierStats {
  readonly eve: number
  readonly events: number
  readonly commits: number
  readonly lastBatch: number
  readonly pending: number
  readonly inFlight: number
  readonly restarts: number
  readonly replay: ReplayStatus
  readonly ready: boolean
  /** The running serf's pid. */
  readonly serf: number | undefined
}

export interface PierHooks {
  /** Replay progress, once per batch (and once at the start and the end). */
  readonly onReplay?: ((status: ReplayStatus) => void) | undefined
  /** Every commit's size (for a batch-size histogram). */
  readonly onCommit?: ((events: number) => void) | undefined
}

export interface Pier {
  readonly dir: string
  /** One event; answers once it is durable (Bail answers are not logged). */
  readonly poke: (ev: unknown, json?: string) => Effect.Effect<PokeAnswer, PokeError>
  readonly peek: (path: ReadonlyArray<string>) => Effect.Effect<unknown, PokeError>
  /** A snapshot at the last logged event; returns it. */
  readonly snapshot: Effect.Effect<number, PokeError>
  readonly pack: Effect.Effect<number, PokeError>
  /** A ripe serf is serving. */
  readonly ready: () => boolean
  readonly stats: () => PierStats
  /** Completes when the pier gave up for good. */
  readonly fatal: Effect.Effect<PierFatal>
  /**
   * Stops taking events, answers those accepted within `drainMs` (the rest
   * get `ShuttingDown`), saves a snapshot and stops the serf.
   */
  readonly shutdown: (drainMs: number) => Effect.Effect<void>
}

interface Pending {
  readonly id: number
  readonly ev: unknown
  readonly json: string | undefined
  readonly wen: number
  readonly done: (answer: PokeAnswer | PokeError) => void
  cancel: (() => boolean) | undefined
}

const toAnswer = (a: WorkAnswer): PokeAnswer =>
  a._tag === "Bail"
    ? a
    : a._tag === "Done"
    ? { _tag: "Done", eve: a.eve, mug: a.mug, effects: a.effects }
    : { _tag: "Swap", eve: a.eve, mug: a.mug, effects: a.effects, ev: a.ev }

/** Kills what a killed liege left running on this pier (identified by pid and start time). */
const reapLeftover = (db: PierDb) =>
  Effect.gen(function*() {
    const recorded = db.meta("serf")
    if (recorded === undefined) return
    const pid = Number(recorded.split(":")[0])
    if (processIdentity(pid) !== recorded) return db.setMeta("serf", undefined)
    yield* Effect.logWarning(`reaping serf ${pid} left behind by an earlier liege`)
    signalGroup(pid, "SIGTERM")
    for (let i = 0; i < 50 && liveMembers(pid).length > 0; i++) yield* Effect.sleep(20)
    if (liveMembers(pid).length > 0) signalGroup(pid, "SIGKILL")
    for (let i = 0; i < 100 && isAlive(pid); i++) yield* Effect.sleep(20)
    db.setMeta("serf", undefined)
  })

export const open = (
  input: Schema.Codec.Encoded<typeof PierOptions> | PierOptions,
  hooks: PierHooks = {}
): Effect.Effect<Pier, InvalidOptions | PierLocked | PierMismatch | PierIo, Scope.Scope> =>
  Effect.gen(function*() {
    const options = yield* decodeOptions(PierOptions, input, (i) => new InvalidOptions(i))
    const { dir } = options
    const db = yield* Effect.acquireRelease(
      Effect.try({
        try: () => PierDb.open(dir),
        catch: (e) => {
          const err = e as PierDbError
          if (!(err instanceof PierDbError)) return new PierIo({ dir, reason: String(e) })
          if (err.code === "locked") return new PierLocked({ dir, reason: err.message })
          if (err.code === "version") return new PierMismatch({ dir, reason: err.message })
          return new PierIo({ dir, reason: err.message })
        }
      }),
      (db) => Effect.sync(() => db.close())
    )
    yield* reapLeftover(db)

    const batchSize = options.batchSize ?? 1000
    const stopGraceMs = toMillis(options.stopGrace ?? 2000)
    const maxRestarts = options.maxRestarts ?? 10
    const windowMs = toMillis(options.restartWindow ?? 60_000)
    const fatalSignal = yield* Deferred.make<PierFatal>()

    // ── state ─────────────────────────────────────────────────────────────
    const pending = new Map<number, Pending>()
    let nextId = 0
    let batch: Array<{ readonly p: Pending; readonly answer: Exclude<WorkAnswer, { _tag: "Bail" }> }> = []
    let current: Serf | undefined = undefined
    let closing = false
    let fatal: PierFatal | undefined = undefined
    let readyWaiters: Array<() => void> = []
    const stats = {
      events: 0,
      commits: 0,
      lastBatch: 0,
      restarts: 0,
      replay: { done: 0, total: 0, eve: db.lastEve } as ReplayStatus
    }

    const wakeWaiters = () => {
      const waiters = readyWaiters
      readyWaiters = []
      for (const w of waiters) w()
    }

    // ── the hot path ──────────────────────────────────────────────────────
    const commit = () => {
      if (batch.length === 0) return
      const done = batch
      batch = []
      const rows = new Array<LoggedEvent>(done.length)
      for (let i = 0; i < done.length; i++) {
        const { p, answer } = done[i]!
        const json = answer._tag === "Done" && p.json !== undefined ? p.json : JSON.stringify(answer.ev) ?? "null"
        rows[i] = { eve: answer.eve, wen: answer.wen, mug: answer.mug, ev: json }
      }
      try {
        db.append(rows)
      } catch (e) {
        const error = new PierIo({ dir, reason: (e as Error).message })
        for (const { p } of done) p.done(error)
        // the serf is ahead of the log now: it must start over from the log
        current?.abandon(`the log could not be written: ${error.reason}`)
        return
      }
      stats.events += rows.length
      stats.commits++
      stats.lastBatch = rows.length
      hooks.onCommit?.(rows.length)
      for (const { p, answer } of done) p.done(toAnswer(answer))
    }

    const send = (serf: Serf, p: Pending) => {
      p.cancel = serf.submit(p.ev, p.wen, (answer) => {
        if (isError(answer)) {
          if (answer._tag === "EventNotEncodable") {
            pending.delete(p.id)
            return p.done(new PierIo({ dir, reason: answer.message }))
          }
          p.cancel = undefined // still pending: sent again to the next serf
          return
        }
        pending.delete(p.id)
        if (answer._tag === "Bail") p.done(answer)
        else batch.push({ p, answer })
      }, p.json)
    }

    const poke = (ev: unknown, json?: string) =>
      Effect.callback<PokeAnswer, PokeError>((resume) => {
        if (fatal !== undefined) return resume(Effect.fail(fatal))
        if (closing) return resume(Effect.fail(new ShuttingDown({ reason: "liege is stopping" })))
        let gone = false
        const p: Pending = {
          id: nextId++,
          ev,
          json,
          wen: Date.now(),
          done: (answer) => {
            if (!gone) resume(isError(answer) ? Effect.fail(answer) : Effect.succeed(answer))
          },
          cancel: undefined
        }
        pending.set(p.id, p)
        if (current !== undefined) send(current, p)
        return Effect.sync(() => {
          gone = true
          // not yet sent: it never will be; sent: it is logged, nobody listens
          if (p.cancel === undefined || p.cancel()) pending.delete(p.id)
        })
      })

    // ── control requests go to whichever serf is ready ────────────────────
    const awaitReady = Effect.callback<Serf, PokeError>((resume) => {
      const check = () => {
        if (fatal !== undefined) return resume(Effect.fail(fatal))
        if (closing) return resume(Effect.fail(new ShuttingDown({ reason: "liege is stopping" })))
        if (current !== undefined) return resume(Effect.succeed(current))
        readyWaiters.push(check)
      }
      check()
    })

    /**
     * Runs `f` on the ready serf; when the serf dies under it, on the next one.
     * `f` runs in a fiber of its own: a caller that goes away (an HTTP client
     * hanging up) stops waiting, but does not interrupt a flow holding the
     * serf lock — which would kill the serf.
     */
    const withSerf = <A>(f: (serf: Serf) => Effect.Effect<A, SerfError>): Effect.Effect<A, PokeError> =>
      Effect.flatMap(awaitReady, (serf) =>
        Effect.flatMap(Effect.forkDetach(Effect.exit(f(serf))), (fiber) =>
          Effect.flatMap(Fiber.join(fiber), (exit) =>
            Exit.isSuccess(exit) ? Effect.succeed(exit.value) : Effect.suspend(() => withSerf(f)))))

    const flush = Effect.sync(commit)

    // ── generations ───────────────────────────────────────────────────────
    const identity = (ripe: Ripe) => JSON.stringify({ pro: ripe.pro, hon: ripe.hon, nok: ripe.nok })

    const logStream = (after: number, upTo: number): Stream.Stream<ReplayEvent> =>
      Stream.paginate(after, (at) =>
        Effect.sync(() => {
          const rows = db.read(at, upTo, batchSize)
          const events = new Array<ReplayEvent>(rows.length)
          for (let i = 0; i < rows.length; i++) {
            const r = rows[i]!
            events[i] = { wen: r.wen, json: r.ev, mug: r.mug ?? undefined }
          }
          const last = rows.length === 0 ? upTo : rows[rows.length - 1]!.eve
          return [events, last >= upTo ? Option.none() : Option.some(last)] as const
        }))

    const catchUp = (serf: Serf): Effect.Effect<void, PierFatal | SerfError> =>
      Effect.gen(function*() {
        const { ripe } = serf
        const known = db.meta("identity")
        if (known === undefined) db.setMeta("identity", identity(ripe))
        else if (known !== identity(ripe)) {
          return yield* new PierMismatch({
            dir,
            reason: `the serf reports ${identity(ripe)}, but this pier was made by ${known}; refusing it`
          })
        }
        const last = db.lastEve
        if (ripe.eve > last) {
          return yield* new PierMismatch({
            dir,
            reason: `the serf's snapshot is at event ${ripe.eve}, ahead of the log (${last}); refusing it`
          })
        }
        if (ripe.eve > 0) {
          const logged = db.mugOf(ripe.eve)
          if (logged !== null && logged !== ripe.mug) {
            return yield* new ReplayDiverged({ eve: ripe.eve, logged, serf: ripe.mug })
          }
        }
        if (last === 0 && (options.boot?.length ?? 0) > 0) {
          const events = options.boot!
          const r = yield* serf.boot(events)
          if (r._tag === "Bail") {
            return yield* new PierBootFailed({ eve: r.eve, reason: `${r.goof.mote}: ${r.goof.tang.join(" | ")}` })
          }
          yield* Effect.try({
            try: () =>
              db.append(events.map((e, i) => ({
                eve: i + 1,
                wen: e.wen,
                mug: i === events.length - 1 ? r.mug : null,
                ev: JSON.stringify(e.ev) ?? "null"
              }))),
            catch: (e) => new PierIo({ dir, reason: (e as Error).message })
          })
          stats.events += events.length
          return
        }
        if (ripe.eve < last) {
          stats.replay = { done: 0, total: last - ripe.eve, eve: ripe.eve }
          hooks.onReplay?.(stats.replay)
          const r = yield* serf.replay(logStream(ripe.eve, last), (p) => {
            stats.replay = { done: p.events, total: last - ripe.eve, eve: p.eve }
            hooks.onReplay?.(stats.replay)
          })
          if (r._tag === "Bail") {
            return yield* new PierBootFailed({ eve: r.eve, reason: `${r.goof.mote}: ${r.goof.tang.join(" | ")}` })
          }
        }
      })

    /** One serf, from spawn to death. Returns why it ended. */
    const generation = (n: number) =>
      Effect.scoped(Effect.gen(function*() {
        const { dir: _dir, boot: _boot, maxRestarts: _max, restartWindow: _window, ...serfProcess } = options
        const serf = yield* startSerf({ ...serfProcess, batchSize, pier: dir, workerId: n        }, { afterPleas: commit })
        const id = processIdentity(serf.pid)
        if (id !== undefined) db.setMeta("serf", id)
        yield* catchUp(serf)
        current = serf
        stats.replay = { ...stats.replay, eve: serf.state().eve }
        yield* Effect.logInfo(`serf ${serf.pid} is ripe at event ${serf.state().eve}`)
        for (const p of pending.values()) send(serf, p)
        wakeWaiters()
        const death = yield* serf.dead
        current = undefined
        commit()
        return death
      }))

    const isFatal = (e: unknown): e is PierFatal =>
      e instanceof ReplayDiverged || e instanceof PierMismatch || e instanceof PierBootFailed ||
      e instanceof SerfIncompatible || e instanceof InvalidOptions ||
      (e instanceof SpawnFailed && (e.code === "ENOENT" || e.code === "EACCES"))

    const giveUp = (error: PierFatal) =>
      Effect.gen(function*() {
        fatal = error
        current = undefined
        yield* Effect.logError(error.message)
        for (const p of pending.values()) p.done(error)
        pending.clear()
        wakeWaiters()
        yield* Deferred.succeed(fatalSignal, error)
      })

    const keeper = Effect.gen(function*() {
      const deaths: Array<number> = []
      for (let n = 1;; n++) {
        const exit = yield* Effect.exit(generation(n))
        if (closing) return
        const why = Exit.isSuccess(exit)
          ? exit.value
          : Option.getOrUndefined(Exit.findErrorOption(exit)) ?? new PierIo({ dir, reason: "the serf's keeper died" })
        if (isFatal(why)) return yield* giveUp(why)
        const now = Date.now()
        deaths.push(now)
        while (deaths.length > 0 && deaths[0]! < now - windowMs) deaths.shift()
        stats.restarts++
        const message = (why as { message?: string }).message ?? String(why)
        if (deaths.length > maxRestarts) {
          return yield* giveUp(new PierGaveUp({ restarts: deaths.length, windowMs, last: message }))
        }
        const backoff = Math.min(5000, 50 * 2 ** Math.min(deaths.length - 1, 10))
        yield* Effect.logWarning(`serf generation ${n} ended (${message}); restarting in ${backoff} ms`)
        yield* Effect.sleep(Duration.millis(backoff))
      }
    })
    yield* Effect.forkScoped(keeper)

    const shutdown = (drainMs: number) =>
      Effect.gen(function*() {
        if (closing) return
        closing = true
        const deadline = Date.now() + drainMs
        while (pending.size > 0 && fatal === undefined && Date.now() < deadline) yield* Effect.sleep(10)
        wakeWaiters() // control requests waiting for a serf: ShuttingDown
        const serf = current
        if (pending.size > 0) {
          // Events the serf may be working on must not be logged after their
          // callers were told ShuttingDown: the serf goes, unsaved, and its
          // state is rebuilt from the log at the next start.
          serf?.abandon(`${pending.size} events not answered within the drain window`)
          const late = new ShuttingDown({ reason: `not answered within the drain window (${drainMs} ms)` })
          for (const p of pending.values()) p.done(late)
          for (const { p } of batch) p.done(late)
          pending.clear()
          batch = []
        } else if (serf !== undefined && serf.running()) {
          const saved = yield* Effect.timeoutOption(Effect.exit(serf.save(flush)), stopGraceMs)
          if (Option.isNone(saved)) serf.abandon("the snapshot at shutdown did not finish within stopGrace")
        }
        if (serf !== undefined) {
          yield* serf.stop
          db.setMeta("serf", undefined)
        }
        commit()
      })

    return {
      dir,
      poke,
      peek: (path) => withSerf((serf) => serf.peek(path)),
      snapshot: withSerf((serf) => serf.save(flush)),
      pack: withSerf((serf) => serf.pack(flush)),
      ready: () => current !== undefined,
      stats: () => ({
        eve: db.lastEve,
        events: stats.events,
        commits: stats.commits,
        lastBatch: stats.lastBatch,
        pending: pending.size,
        inFlight: current?.inFlight() ?? 0,
        restarts: stats.restarts,
        replay: stats.replay,
        ready: current !== undefined,
        serf: current?.pid
      }),
      fatal: Deferred.await(fatalSignal),
      shutdown
    } satisfies Pier
  })

/** The pier as a service: `Pier.Service.layer(options)` opens it for the layer's lifetime. */
export class Service extends Context.Service<Service, Pier>()("liege/pier/Pier") {
  static readonly layer = (options: Schema.Codec.Encoded<typeof PierOptions> | PierOptions, hooks?: PierHooks) =>
    Layer.effect(Service, open(options, hooks))
}
