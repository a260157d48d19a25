/**
 * The pier (SPEC §3): one serf and its durable log.
 *
 * The log is a `PierLog` (./log.ts): `open` opens the embedded SQLite one
 * in the pier folder (./sqlite.ts); `openWith` takes any other (the
 * cluster's PostgreSQL log of one serf, ../cluster/pier-log.ts), the folder
 * then being the serf's own, for its snapshots (`LIEGE_PIER`).
 *
 * - `poke`: the event goes through the serf's `run` pipeline; its answer is
 *   released only once the event is in the log (group commit: one
 *   transaction per chunk of pleas read from the serf). A log that appends
 *   synchronously (SQLite) commits right there; otherwise one commit is in
 *   flight at a time, the answers that come meanwhile go in the next one,
 *   and answers are released in order, once their commit succeeded.
 * - A keeper fiber runs the serf generation after generation. Each one:
 *   start → check identity → catch up (boot a fresh pier, or replay the log
 *   after the serf's snapshot, checking mugs) → serve → die. Then the shared
 *   restart policy (../internal/restart-policy.ts) says how long to wait and
 *   whether the pier gives up. Events that arrive meanwhile wait, and
 *   everything sent to a dead serf without a durable answer is sent again, in
 *   order: callers see one answer per event.
 * - Poison events (./poison.ts): after a death with events in flight, the
 *   oldest of them goes alone to the next serf; if that one dies on it too,
 *   the event is refused (`SerfPoisoned`) and never logged.
 * - `save` runs under the serf lock after the last answers were committed:
 *   a snapshot is never ahead of the log. A serf generation ends only once
 *   its commits are done: the next one replays a log that holds them.
 * - A log that another writer claimed (`PierFenced`) ends the pier: the serf
 *   is killed, and every event not yet answered fails with that error.
 * - The serf's process identity is kept in a `Leftover` (./leftover.ts), so
 *   that a liege that was killed can find and reap the serf it left behind.
 *
 * The pier owns a `FiberSet` for the lifetime of its scope: the keeper and
 * every control flow run there, with the context `open` was called in (its
 * logger, among others).
 */
import { Cause, Clock, Context, Deferred, Duration, Effect, Exit, Fiber, FiberSet, Layer, Option, Schema, type Scope, Stream } from "effect"
import { decodeOptions, DurationInput, toMillis } from "../internal/options.ts"
import * as RestartPolicy from "../internal/restart-policy.ts"
import { ReplayDiverged, SerfDied, type SerfError, SerfIncompatible } from "../serf/errors.ts"
import { type ReplayEvent, type Serf, SerfProcessFields, start as startSerf } from "../serf/host.ts"
import { Event, type Goof, type Ripe } from "../serf/protocol.ts"
import { isError, type WorkAnswer } from "../serf/window.ts"
import { processIdentity } from "../supervisor/group.ts"
import { InvalidOptions } from "../errors.ts"
import type * as Status from "../status/document.ts"
import { RateWindow } from "../status/rates.ts"
import { SpawnFailed } from "../supervisor/errors.ts"
import * as fs from "node:fs"
import { PierBootFailed, PierFenced, PierGaveUp, PierIo, type PierLocked, PierMismatch, SerfPoisoned, ShuttingDown } from "./errors.ts"
import { fileLeftover, type Leftover, reap } from "./leftover.ts"
import type { LoggedEvent, PierLog } from "./log.ts"
import { Isolation, type Suspect } from "./poison.ts"
import { openSqlite } from "./sqlite.ts"

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
  | PierFenced
  | SpawnFailed
  | InvalidOptions
  | SerfIncompatible

export type PokeError = ShuttingDown | PierIo | SerfPoisoned | PierFatal

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

/** What the pier is doing. */
export type PierState =
  | { readonly _tag: "Booting" }
  | { readonly _tag: "Replaying"; readonly done: number; readonly total: number }
  /** Serving; `isolating` while an event is with the serf alone (a poison suspect). */
  | { readonly _tag: "Running"; readonly isolating: boolean }
  /** Waiting for the next serf: `at` is when it is started (ms since the epoch). */
  | { readonly _tag: "Restarting"; readonly at: number }
  | { readonly _tag: "Stopping" }
  | { readonly _tag: "Failed"; readonly reason: string }

export interface RestartRecord {
  /** When the serf ended (ms since the epoch). */
  readonly at: number
  readonly reason: string
  /** Counted against `maxRestarts` (no event to blame, or a second poison event in a row). */
  readonly counted: boolean
  /** The death found a poison event. */
  readonly poison: boolean
  /** How the serf exited, when it died and its exit was seen. */
  readonly code: number | null
  readonly signal: string | null
}

/** The pier's live state now, cheap to take and synchronous. */
export interface PierSnapshot {
  readonly state: PierState
  /** The last logged event and its mug (null when not recorded). */
  readonly eve: number
  readonly mug: number | null
  /** The running serf's pid. */
  readonly serf: number | undefined
  readonly window: { readonly inFlight: number; readonly max: number }
  /** Events accepted, not yet answered. */
  readonly pending: number
  readonly restarts: {
    readonly total: number
    /** Counted restarts within `restartWindow`, as of the last restart. */
    readonly counted: number
    /** The last few, oldest first. */
    readonly recent: ReadonlyArray<RestartRecord>
  }
  /** Poison events refused since the pier opened. */
  readonly poisoned: number
  /** The event of the last snapshot the serf started from or saved (0: none). */
  readonly snapshot: number
}

export interface PierHooks {
  /** Replay progress, once per batch (and once at the start and the end). */
  readonly onReplay?: ((status: ReplayStatus) => void) | undefined
  /** Every commit's size (for a batch-size histogram). */
  readonly onCommit?: ((events: number) => void) | undefined
}

export interface Pier {
  readonly dir: string
  /**
   * One event; answers once it is durable (Bail answers are not logged).
   * `json` is its JSON text, logged as given; `key`, the caller's key for it,
   * is logged with its effects by a log that keeps them (the cluster's).
   */
  readonly poke: (ev: unknown, json?: string, key?: string) => Effect.Effect<PokeAnswer, PokeError>
  readonly peek: (path: ReadonlyArray<string>) => Effect.Effect<unknown, PokeError>
  /** A snapshot at the last logged event; returns it. */
  readonly snapshot: Effect.Effect<number, PokeError>
  readonly pack: Effect.Effect<number, PokeError>
  /** A ripe serf is serving. */
  readonly ready: () => boolean
  readonly stats: () => PierStats
  /** The pier's live state now (cheap, synchronous). */
  readonly inspect: () => PierSnapshot
  /** The status document (SPEC §10): state, replay, eve, window, rates, commits, restarts, errors. */
  readonly status: Effect.Effect<Status.SerfStatus>
  /** Completes when the pier gave up for good. */
  readonly fatal: Effect.Effect<PierFatal>
  /**
   * Stops taking events, answers those accepted within `drainMs` (the rest
   * get `ShuttingDown`), saves a snapshot and stops the serf. The window
   * ends early once `cutShort()` holds (the log is known to be gone). A
   * commit still in flight when it ends is not waited for: its events are
   * answered `PierIo` (they may or may not be logged), and the serf, whose
   * state may be ahead of the log, is stopped unsaved.
   */
  readonly shutdown: (drainMs: number, cutShort?: () => boolean) => Effect.Effect<void>
}

interface Pending extends Suspect {
  readonly ev: unknown
  readonly json: string | undefined
  readonly key: string | undefined
  readonly wen: number
  readonly done: (answer: PokeAnswer | PokeError) => void
  /** The generation it was last submitted to (0: none yet). */
  gen: number
  /** Cancels that submission while it stands (true: the writ was not sent yet). */
  cancel: (() => boolean) | undefined
}

/** An event the serf answered, waiting for its commit. */
interface Answered {
  readonly p: Pending
  readonly answer: Exclude<WorkAnswer, { _tag: "Bail" }>
}

const toAnswer = (a: WorkAnswer): PokeAnswer =>
  a._tag === "Bail"
    ? a
    : a._tag === "Done"
    ? { _tag: "Done", eve: a.eve, mug: a.mug, effects: a.effects }
    : { _tag: "Swap", eve: a.eve, mug: a.mug, effects: a.effects, ev: a.ev }

/** The serf ended under a control flow: run it again on the next serf. */
const serfEnded = (e: SerfError): boolean =>
  e._tag === "SerfDied" || e._tag === "SerfNotRunning" || e._tag === "SerfProtocolError" ||
  e._tag === "SerfBootTimeout"

const RECENT_RESTARTS = 8
const RECENT_ERRORS = 20

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
    const { dir } = options
    yield* Effect.try({
      try: () => fs.mkdirSync(dir, { recursive: true }),
      catch: (e) => new PierIo({ dir, reason: `cannot create the folder: ${(e as Error).message}` })
    })
    const leftover = leftoverIn ?? fileLeftover(dir)
    yield* logIn.checkFormat
    yield* reap(leftover)
    /** The last event known to be in the log. */
    let logged = yield* log.last
    let lastMug: number | null = logged === 0 ? null : yield* log.mugOf(logged)
    const appendNow = log.appendNow

    const batchSize = options.batchSize ?? 1000
    const maxInFlight = options.maxInFlight ?? 10
    const stopGraceMs = toMillis(options.stopGrace ?? 2000)
    const windowMs = toMillis(options.restartWindow ?? 60_000)
    const policy = yield* RestartPolicy.make({ maxRestarts: options.maxRestarts ?? 10, windowMs })
    const fatalSignal = yield* Deferred.make<PierFatal>()
    // after the log (opened by the caller): it closes first, interrupting the keeper and every control flow
    const run = yield* FiberSet.makeRuntime()

    // ── state ─────────────────────────────────────────────────────────────
    const pending = new Map<number, Pending>()
    let nextId = 0
    /** Answers waiting for their commit, in order. */
    let batch: Array<Answered> = []
    /** The commit in flight (an asynchronous log), if any: the next one waits for it. */
    let committing: ReadonlyArray<Answered> | undefined = undefined
    /** A commit in flight that the shutdown stopped waiting for (its outcome is unknown). */
    let givenUp: ReadonlyArray<Answered> | undefined = undefined
    /** Waiting for every answer so far to be committed. */
    let idleWaiters: Array<() => void> = []
    /** The pier's scope is closing: nothing more is committed. */
    let closed = false
    /** Another writer claimed the log: the pier is ending. */
    let lost: PierFenced | undefined = undefined
    /** The serving serf (ripe, caught up) and its generation. */
    let current: Serf | undefined = undefined
    let currentGen = 0
    /** The pid of the generation's serf from its spawn on (booting and replaying too). */
    let starting: number | undefined = undefined
    let closing = false
    let fatal: PierFatal | undefined = undefined
    let readyWaiters: Array<() => void> = []
    const isolation = new Isolation<Pending>()
    let state: PierState = { _tag: "Booting" }
    let lastSnapshot = 0
    const recentRestarts: Array<RestartRecord> = []
    // for the status document: a counter or two on the hot path
    const startedAt = Date.now()
    const eventRates = new RateWindow(startedAt)
    const commitRates = new RateWindow(startedAt)
    let maxBatch = 0
    const recentErrors: Array<Status.RecentError> = []
    const noteError = (tag: string, message: string) => {
      recentErrors.push({ at: Date.now(), tag, message })
      if (recentErrors.length > RECENT_ERRORS) recentErrors.shift()
    }
    const stats = {
      events: 0,
      commits: 0,
      lastBatch: 0,
      restarts: 0,
      counted: 0,
      replay: { done: 0, total: 0, eve: logged } as ReplayStatus
    }

    const wakeWaiters = () => {
      const waiters = readyWaiters
      readyWaiters = []
      for (const w of waiters) w()
    }

    // ── the hot path ──────────────────────────────────────────────────────
    const rowsOf = (done: ReadonlyArray<Answered>): Array<LoggedEvent> => {
      const rows = new Array<LoggedEvent>(done.length)
      for (let i = 0; i < done.length; i++) {
        const { p, answer } = done[i]!
        const json = answer._tag === "Done" && p.json !== undefined ? p.json : JSON.stringify(answer.ev) ?? "null"
        rows[i] = p.key === undefined
          ? { eve: answer.eve, wen: answer.wen, mug: answer.mug, ev: json }
          : { eve: answer.eve, wen: answer.wen, mug: answer.mug, ev: json, key: p.key, fec: JSON.stringify(answer.effects) }
      }
      return rows
    }

    /** The commit is durable: its answers go out, in order. */
    const committed = (done: ReadonlyArray<Answered>, rows: ReadonlyArray<LoggedEvent>) => {
      stats.events += rows.length
      stats.commits++
      stats.lastBatch = rows.length
      const last = rows[rows.length - 1]!
      logged = last.eve
      lastMug = last.mug
      hooks.onCommit?.(rows.length)
      const now = Date.now()
      commitRates.observe(undefined, now)
      if (rows.length > maxBatch) maxBatch = rows.length
      for (const { p, answer } of done) {
        eventRates.observe(now - p.wen, now)
        p.done(toAnswer(answer))
      }
    }

    /**
     * The commit failed: its events, and those answered behind it, are not
     * logged and never will be (they cannot follow a gap). The serf is ahead
     * of the log now: it goes, and the next one starts over from the log —
     * unless the log was lost to another writer, which ends the pier.
     */
    const refused = (done: ReadonlyArray<Answered>, error: PierIo | PierFenced | ShuttingDown) => {
      const behind = batch
      batch = []
      if (error._tag !== "ShuttingDown") noteError(error._tag, error.message)
      if (error._tag === "PierFenced" && lost === undefined) lost = error
      for (const { p } of done) p.done(error)
      for (const { p } of behind) p.done(error)
      current?.abandon(
        error._tag === "PierFenced" ? error.message : `the log could not be written: ${error.message}`
      )
    }

    /** Commits the answers so far, unless a commit is in flight (then they go in the next one). */
    const commit = () => {
      if (committing !== undefined || batch.length === 0) return
      const done = batch
      batch = []
      if (closed) return refused(done, new ShuttingDown({ reason: "the pier closed before the event was logged" }))
      const rows = rowsOf(done)
      if (appendNow !== undefined) {
        const error = appendNow(rows)
        return error === undefined ? committed(done, rows) : refused(done, error)
      }
      committing = done
      run(Effect.onExit(log.append(rows), (exit) =>
        Effect.gen(function*() {
          committing = undefined
          if (Exit.isSuccess(exit)) committed(done, rows)
          else {
            const error = Option.getOrUndefined(Exit.findErrorOption(exit))
            if (error === undefined && !Cause.hasInterruptsOnly(exit.cause)) yield* Effect.logError("a commit died", exit.cause)
            refused(
              done,
              error ?? (Cause.hasInterruptsOnly(exit.cause)
                ? new ShuttingDown({ reason: "the pier closed while the event was being logged" })
                : new PierIo({ dir, reason: "a commit died (see the log)" }))
            )
          }
          commit()
          if (committing === undefined) {
            const waiters = idleWaiters
            idleWaiters = []
            for (const w of waiters) w()
          }
        })))
    }

    /** Every answer so far is committed (or refused). */
    const drain: Effect.Effect<void> = Effect.suspend(() => {
      commit()
      if (committing === undefined || committing === givenUp) return Effect.void
      return Effect.callback<void>((resume) => {
        const waiter = () => resume(Effect.void)
        idleWaiters.push(waiter)
        return Effect.sync(() => {
          idleWaiters = idleWaiters.filter((w) => w !== waiter)
        })
      })
    })

    // closes before the fibers: a commit in flight ends first, then what waits is told
    yield* Effect.addFinalizer(() =>
      Effect.andThen(
        Effect.suspend(() => {
          closed = true
          return drain
        }),
        Effect.sync(() => {
          const gone = new ShuttingDown({ reason: "the pier closed" })
          for (const p of pending.values()) p.done(gone)
          pending.clear()
        })
      )
    )

    /** Submits `p` to `serf` (generation `gen`). */
    const send = (serf: Serf, gen: number, p: Pending) => {
      p.gen = gen
      let settled = false
      const cancel = serf.submit(p.ev, p.wen, (answer) => {
        settled = true
        p.cancel = undefined
        if (isError(answer)) {
          if (answer._tag === "EventNotEncodable") {
            pending.delete(p.id)
            return p.done(new PierIo({ dir, reason: answer.message }))
          }
          // still pending: sent again to the next serf
          if (answer._tag === "SerfDied" || answer._tag === "SerfProtocolError") p.lostIn = gen
          return
        }
        pending.delete(p.id)
        if (answer._tag === "Bail") p.done(answer)
        else batch.push({ p, answer })
        // the serf survived it: if it was alone, the others follow in order
        if (isolation.answered(p)) sendAll(serf, gen)
      }, p.json)
      if (!settled) p.cancel = cancel
    }

    /** Submits, in order, every pending event not yet submitted to generation `gen`. */
    const sendAll = (serf: Serf, gen: number) => {
      for (const p of pending.values()) if (p.gen !== gen) send(serf, gen, p)
    }

    const poke = (ev: unknown, json?: string, key?: string) =>
      Effect.callback<PokeAnswer, PokeError>((resume) => {
        const ended = fatal ?? lost
        if (ended !== undefined) return resume(Effect.fail(ended))
        if (closing) return resume(Effect.fail(new ShuttingDown({ reason: "liege is stopping" })))
        let gone = false
        const p: Pending = {
          id: nextId++,
          ev,
          json,
          key,
          wen: Date.now(),
          done: (answer) => {
            if (gone) return
            gone = true
            resume(isError(answer) ? Effect.fail(answer) : Effect.succeed(answer))
          },
          gen: 0,
          cancel: undefined,
          lostIn: 0
        }
        pending.set(p.id, p)
        // while an event is with the serf alone, the others wait
        if (current !== undefined && !isolation.active) send(current, currentGen, p)
        return Effect.sync(() => {
          gone = true
          // not yet sent: it never will be; sent: it is logged, nobody listens
          if (p.cancel === undefined || p.cancel()) pending.delete(p.id)
        })
      })

    // ── control requests go to whichever serf is ready ────────────────────
    const serving = (): Serf | undefined => current !== undefined && current.running() ? current : undefined

    const awaitReady = Effect.callback<Serf, PokeError>((resume) => {
      const check = () => {
        const ended = fatal ?? lost
        if (ended !== undefined) return resume(Effect.fail(ended))
        if (closing) return resume(Effect.fail(new ShuttingDown({ reason: "liege is stopping" })))
        // a serf whose lock ended is never handed out: the next one is awaited
        const serf = serving()
        if (serf !== undefined) return resume(Effect.succeed(serf))
        readyWaiters.push(check)
      }
      check()
      return Effect.sync(() => {
        readyWaiters = readyWaiters.filter((w) => w !== check)
      })
    })

    const retry: unique symbol = Symbol("retry")

    /**
     * Runs `f` on the ready serf; when the serf ends under it, on the next one
     * (only then: any other failure, and any defect, goes to the caller).
     * `f` runs in a fiber of the pier's: a caller that goes away (an HTTP
     * client hanging up) stops waiting, but does not interrupt a flow holding
     * the serf lock — which would kill the serf. The pier closing does.
     */
    const withSerf = <A>(f: (serf: Serf) => Effect.Effect<A, SerfError>): Effect.Effect<A, PokeError> =>
      Effect.flatMap(awaitReady, (serf) => {
        const fiber = run(Effect.catch(
          f(serf),
          (e): Effect.Effect<typeof retry, PierIo> =>
            serfEnded(e) ? Effect.succeed(retry) : Effect.fail(new PierIo({ dir, reason: e.message }))
        ))
        return Effect.flatMap(Fiber.await(fiber), (exit): Effect.Effect<A, PokeError> => {
          if (Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)) {
            return Effect.fail(new ShuttingDown({ reason: "the pier closed" }))
          }
          return Effect.flatMap(exit, (a) => a === retry ? withSerf(f) : Effect.succeed(a))
        })
      })

    /** Before a `save` or a `pack`, under the serf lock: the log holds every event the serf has done. */
    const flush = drain

    // ── generations ───────────────────────────────────────────────────────
    const identity = (ripe: Ripe) => JSON.stringify({ pro: ripe.pro, hon: ripe.hon, nok: ripe.nok })

    const logStream = (after: number, upTo: number): Stream.Stream<ReplayEvent, PierIo> =>
      Stream.paginate(after, (at) =>
        Effect.map(log.read(at, upTo, batchSize), (rows) => {
          const events = new Array<ReplayEvent>(rows.length)
          for (let i = 0; i < rows.length; i++) {
            const r = rows[i]!
            events[i] = { wen: r.wen, json: r.ev, mug: r.mug ?? undefined }
          }
          const last = rows.length === 0 ? upTo : rows[rows.length - 1]!.eve
          return [events, last >= upTo ? Option.none<number>() : Option.some(last)] as const
        }))

    const replayed = (status: ReplayStatus) => {
      stats.replay = status
      state = { _tag: "Replaying", done: status.done, total: status.total }
      hooks.onReplay?.(status)
    }

    const catchUp = (serf: Serf): Effect.Effect<void, PierFatal | SerfError> =>
      Effect.gen(function*() {
        const { ripe } = serf
        const known = yield* log.identity
        if (known === undefined) yield* log.setIdentity(identity(ripe))
        else if (known !== identity(ripe)) {
          return yield* new PierMismatch({
            dir,
            reason: `the serf reports ${identity(ripe)}, but this pier was made by ${known}; refusing it`
          })
        }
        // read again: after a failed commit, only the log knows where it ends
        const last = yield* log.last
        logged = last
        if (ripe.eve > last) {
          return yield* new PierMismatch({
            dir,
            reason: `the serf's snapshot is at event ${ripe.eve}, ahead of the log (${last}); refusing it`
          })
        }
        if (ripe.eve > 0) {
          const mug = yield* log.mugOf(ripe.eve)
          if (mug !== null && mug !== ripe.mug) {
            return yield* new ReplayDiverged({ eve: ripe.eve, logged: mug, serf: ripe.mug })
          }
        }
        lastSnapshot = ripe.eve
        if (last === 0 && (options.boot?.length ?? 0) > 0) {
          const events = options.boot!
          const r = yield* serf.boot(events)
          if (r._tag === "Bail") {
            return yield* new PierBootFailed({ eve: r.eve, reason: `${r.goof.mote}: ${r.goof.tang.join(" | ")}` })
          }
          yield* log.append(events.map((e, i) => ({
            eve: i + 1,
            wen: e.wen,
            mug: i === events.length - 1 ? r.mug : null,
            ev: JSON.stringify(e.ev) ?? "null"
          })))
          logged = events.length
          stats.events += events.length
          lastMug = r.mug
          return
        }
        if (ripe.eve < last) {
          replayed({ done: 0, total: last - ripe.eve, eve: ripe.eve })
          const r = yield* serf.replay(
            logStream(ripe.eve, last),
            (p) => replayed({ done: p.events, total: last - ripe.eve, eve: p.eve })
          )
          if (r._tag === "Bail") {
            return yield* new PierBootFailed({ eve: r.eve, reason: `${r.goof.mote}: ${r.goof.tang.join(" | ")}` })
          }
        }
      })

    /** One serf, from spawn to death. Returns why it ended and how long it served. */
    const generation = (n: number) =>
      Effect.scoped(Effect.gen(function*() {
        state = { _tag: "Booting" }
        const { dir: _dir, boot: _boot, maxRestarts: _max, restartWindow: _window, ...serfProcess } = options
        const serf = yield* startSerf({ ...serfProcess, batchSize, pier: dir, workerId: n }, { afterPleas: commit })
        starting = serf.pid
        yield* Effect.addFinalizer(() => Effect.sync(() => (starting = undefined)))
        const id = processIdentity(serf.pid)
        if (id !== undefined) yield* leftover.set(id)
        yield* catchUp(serf)
        const ripeAt = yield* Clock.currentTimeMillis
        stats.replay = { ...stats.replay, eve: serf.state().eve }
        yield* Effect.logInfo(`serf ${serf.pid} is ripe at event ${serf.state().eve}`)
        const alone = isolation.begin(pending)
        if (alone !== undefined) {
          yield* Effect.logWarning(`sending the oldest event the last serf died owing to serf ${serf.pid} alone`)
          send(serf, n, alone)
        } else {
          sendAll(serf, n)
        }
        // whatever ends this generation (a death, an interruption), its serf is handed out no more
        yield* Effect.addFinalizer(() =>
          Effect.sync(() => {
            if (currentGen === n) current = undefined
          })
        )
        current = serf
        currentGen = n
        state = { _tag: "Running", isolating: isolation.active }
        wakeWaiters()
        const death = yield* serf.dead
        const upMs = (yield* Clock.currentTimeMillis) - ripeAt
        current = undefined
        // the next serf replays the log: it must hold what this one's answers are being committed with
        yield* drain
        // the process is gone before the next one starts; its exit tells how it died
        const result = yield* serf.exited
        return {
          death: death._tag === "SerfDied" && death.result === null ? new SerfDied({ pid: death.pid, result }) : death,
          upMs
        }
      }))

    const isFatal = (e: unknown): e is PierFatal =>
      e instanceof ReplayDiverged || e instanceof PierMismatch || e instanceof PierBootFailed ||
      e instanceof SerfIncompatible || e instanceof InvalidOptions || e instanceof PierFenced ||
      (e instanceof SpawnFailed && (e.code === "ENOENT" || e.code === "EACCES"))

    const giveUp = (error: PierFatal) =>
      Effect.gen(function*() {
        fatal = error
        current = undefined
        state = { _tag: "Failed", reason: error.message }
        noteError(error._tag, error.message)
        yield* Effect.logError(error.message)
        for (const p of pending.values()) p.done(error)
        pending.clear()
        wakeWaiters()
        yield* Deferred.succeed(fatalSignal, error)
      })

    const keeper = Effect.gen(function*() {
      for (let n = 1;; n++) {
        const exit = yield* Effect.exit(generation(n))
        if (lost !== undefined) return yield* giveUp(lost)
        if (closing) return
        let why: unknown
        if (Exit.isSuccess(exit)) why = exit.value.death
        else {
          why = Option.getOrUndefined(Exit.findErrorOption(exit))
          if (why === undefined) {
            yield* Effect.logError("a serf generation died", exit.cause)
            why = new PierIo({ dir, reason: "a serf generation died (see the log)" })
          }
        }
        if (isFatal(why)) return yield* giveUp(why)
        const message = (why as { message?: string }).message ?? String(why)
        const blame = isolation.ended(n, pending)
        if (blame._tag === "Poison") {
          pending.delete(blame.event.id)
          const poisoned = new SerfPoisoned({ last: why instanceof SerfDied ? why.how : message })
          noteError("Poison", poisoned.message)
          blame.event.done(poisoned)
          yield* Effect.logWarning(
            `refused a poison event (SerfPoisoned): serf generation ${n} died on it alone (${message}); it was not logged`
          )
        }
        const counts = blame._tag === "None" || (blame._tag === "Poison" && blame.again)
        const upMs = Exit.isSuccess(exit) ? exit.value.upMs : 0
        const decision = yield* policy.ended({ counts, upMs, first: blame._tag !== "None" })
        const now = yield* Clock.currentTimeMillis
        stats.restarts++
        stats.counted = decision.failures
        const exited = why instanceof SerfDied ? why.result : null
        recentRestarts.push({
          at: now,
          reason: message,
          counted: counts,
          poison: blame._tag === "Poison",
          code: exited?.code ?? null,
          signal: exited?.signal ?? null
        })
        if (recentRestarts.length > RECENT_RESTARTS) recentRestarts.shift()
        if (decision.exceeded) {
          return yield* giveUp(new PierGaveUp({ restarts: decision.failures, windowMs, last: message }))
        }
        const delay = Duration.toMillis(decision.delay)
        state = { _tag: "Restarting", at: now + delay }
        const what = blame._tag === "Suspect"
          ? "the oldest event it owed goes to the next serf alone"
          : blame._tag === "Poison"
          ? `going on with the events after the poison${counts ? " (a second in a row: counted)" : ""}`
          : `counted against maxRestarts (${decision.failures} within ${windowMs} ms)`
        yield* Effect.logWarning(`serf generation ${n} ended (${message}); ${what}; restarting in ${Math.round(delay)} ms`)
        yield* Effect.sleep(decision.delay)
      }
    })
    run(Effect.tapCause(keeper, (cause) =>
      Cause.hasInterruptsOnly(cause)
        ? Effect.void
        : Effect.andThen(
          Effect.logError("the serf's keeper died", cause),
          giveUp(new PierIo({ dir, reason: "the serf's keeper died (see the log)" }))
        )))

    /** Done once a shutdown ended: a second one waits for the first. */
    const stopped = Deferred.makeUnsafe<void>()
    const shutdown = (drainMs: number, cutShort?: () => boolean) =>
      Effect.suspend(() => {
        if (closing) return Deferred.await(stopped)
        closing = true
        return Effect.ensuring(stopping(drainMs, cutShort), Effect.sync(() => Deferred.doneUnsafe(stopped, Effect.void)))
      })
    const stopping = (drainMs: number, cutShort?: () => boolean) =>
      Effect.gen(function*() {
        if (fatal === undefined) state = { _tag: "Stopping" }
        const deadline = Date.now() + drainMs
        const busy = () => (pending.size > 0 || committing !== undefined) && fatal === undefined && lost === undefined
        while (busy() && Date.now() < deadline && cutShort?.() !== true) yield* Effect.sleep(10)
        wakeWaiters() // control requests waiting for a serf: ShuttingDown
        const serf = current
        const inFlight = committing
        if (pending.size > 0 || inFlight !== undefined) {
          // Events the serf may be working on must not be logged after their
          // callers were told ShuttingDown: the serf goes, unsaved, and its
          // state is rebuilt from the log at the next start.
          serf?.abandon(
            inFlight === undefined
              ? `${pending.size} events not answered within the drain window`
              : "its log did not confirm a commit within the drain window"
          )
          const late = new ShuttingDown({
            reason: cutShort?.() === true
              ? "not answered: its log cannot be reached, the serf is let go"
              : `not answered within the drain window (${drainMs} ms)`
          })
          for (const p of pending.values()) p.done(late)
          // answered, but waiting behind a commit in flight: not logged either
          for (const { p } of batch) p.done(late)
          pending.clear()
          batch = []
          if (inFlight !== undefined) {
            // sent to the log, never confirmed: nobody waits for it any more, and its callers are
            // told the truth (a later confirmation or refusal finds them answered)
            givenUp = inFlight
            const unknown = new PierIo({ dir, reason: "the log did not confirm the event before the serf was let go: it may or may not be logged" })
            for (const { p } of inFlight) p.done(unknown)
            noteError("PierIo", unknown.message)
          }
        } else if (serf !== undefined && serf.running()) {
          const saved = yield* Effect.timeoutOption(Effect.exit(serf.save(flush)), stopGraceMs)
          if (Option.isNone(saved)) serf.abandon("the snapshot at shutdown did not finish within stopGrace")
          else if (Exit.isSuccess(saved.value)) lastSnapshot = saved.value.value
        }
        if (serf !== undefined) {
          yield* serf.stop
          yield* Effect.catch(leftover.set(undefined), (e) => Effect.logWarning(e.message))
        }
        yield* drain
      })

    return {
      dir,
      poke,
      peek: (path) => withSerf((serf) => serf.peek(path)),
      snapshot: Effect.tap(withSerf((serf) => serf.save(flush)), (eve) => Effect.sync(() => (lastSnapshot = eve))),
      pack: withSerf((serf) => serf.pack(flush)),
      ready: () => serving() !== undefined,
      stats: () => ({
        eve: logged,
        events: stats.events,
        commits: stats.commits,
        lastBatch: stats.lastBatch,
        pending: pending.size,
        inFlight: current?.inFlight() ?? 0,
        restarts: stats.restarts,
        replay: stats.replay,
        ready: serving() !== undefined,
        serf: current?.pid
      }),
      status: Effect.flatMap(log.sizeOnDisk, (logBytes) => Effect.sync((): Status.SerfStatus => {
        const now = Date.now()
        const events = eventRates.snapshot(now)
        const commits10s = commitRates.count(10, now)
        return {
          kind: "serf",
          now,
          startedAt,
          healthy: serving() !== undefined,
          state: state._tag === "Booting" ? "booting"
            : state._tag === "Replaying" ? "replaying"
            : state._tag === "Running" ? "running"
            : state._tag === "Restarting" ? "restarting"
            : "stopped",
          pid: current?.pid ?? starting ?? null,
          replay: state._tag === "Replaying" ? { done: state.done, total: state.total } : null,
          nextTryAt: state._tag === "Restarting" ? state.at : null,
          eve: logged,
          mug: lastMug,
          window: { inFlight: current?.inFlight() ?? 0, max: maxInFlight },
          pending: pending.size,
          events,
          commits: {
            total: stats.commits,
            meanBatch: commits10s === 0 ? null : Number((events.last10s.count / commits10s).toFixed(2)),
            maxBatch
          },
          restarts: {
            total: stats.restarts,
            recent: recentRestarts.map((r) => ({ at: r.at, reason: r.reason, code: r.code, signal: r.signal })).reverse()
          },
          lastSnapshotEve: lastSnapshot === 0 ? null : lastSnapshot,
          logBytes,
          errors: recentErrors.slice().reverse()
        }
      })),
      inspect: () => ({
        state: state._tag === "Running" ? { _tag: "Running", isolating: isolation.active } : state,
        eve: logged,
        mug: lastMug,
        serf: current?.pid,
        window: { inFlight: current?.inFlight() ?? 0, max: maxInFlight },
        pending: pending.size,
        restarts: { total: stats.restarts, counted: stats.counted, recent: recentRestarts.slice() },
        poisoned: isolation.poisoned,
        snapshot: lastSnapshot
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
