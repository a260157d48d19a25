/**
 * The runner (SPEC §7): a durable per-session job queue in front of an
 * executor (the pool). Jobs of one session run in order, one at a time;
 * sessions run concurrently. It is driven by
 *
 * - `poke(session)`: submit the session's oldest queued job, unless the
 *   session is in flight (a session in flight is never submitted twice);
 * - completion (when a job reaches its outcome) re-drives the session;
 * - a poll (default 400 ms) that pokes every session with queued work — but
 *   only while no session is in flight — to recover work present at start-up
 *   or whose poke was lost;
 * - and, for every job stored, an order on the wake ladder that pokes its
 *   session until the job has left the queue, instead of relying on the poll.
 *
 * Every stored job reaches exactly one recorded outcome (`done` or
 * `failed`). A job cut off by a crash of liege is queued again at the next
 * start and runs again: execution is at-least-once.
 *
 * The state file is opened (and locked: one liege per file) at start when
 * it exists, else when the first job is stored: a runner that never stores
 * a job leaves no file behind.
 */
import * as fs from "node:fs"
import { Context, Effect, FiberSet, Layer, Schema, type Scope } from "effect"
import { decodeOptions, DurationInput, toMillis } from "../internal/options.ts"
import { InvalidOptions } from "../errors.ts"
import { make as makeLadder } from "../wake/ladder.ts"
import { isCutOff, outcomeOf } from "./outcome.ts"
import { type Job, JobStore, StoreError, type Summary } from "./store.ts"

export const RunnerOptions = Schema.Struct({
  /** The SQLite state file. */
  file: Schema.String.check(Schema.isMinLength(1)),
  /** The recovery poll (default 400 ms). */
  pollInterval: Schema.optional(DurationInput)
})

/** The state file cannot be opened or written. */
export class RunnerStoreError extends Schema.TaggedError<RunnerStoreError>()("RunnerStoreError", {
  reason: Schema.String
}) {
  override get message() {
    return this.reason
  }
}

export interface RunnerStats {
  readonly inFlight: number
  readonly submitted: number
  readonly settled: number
  readonly recovered: number
  /** Polls run so far (whether they submitted anything or not). */
  readonly polls: number
}

export interface Runner {
  /** Stores a job (durable when this succeeds) and pokes its session; returns its id. */
  readonly enqueue: (session: string, payload: unknown) => Effect.Effect<number, RunnerStoreError>
  readonly get: (id: number) => Effect.Effect<Job | undefined>
  /** Submits the oldest queued job of `session` — or, without a session, polls every session. */
  readonly poke: (session?: string) => Effect.Effect<void>
  readonly stats: () => RunnerStats
  /** Jobs by state and the busiest sessions, from the store. */
  readonly sessions: Effect.Effect<Summary>
  /** Stops submitting; jobs cut off from here on are queued again. */
  readonly shutdown: Effect.Effect<void>
}

const noJobs: Summary = { byState: { queued: 0, running: 0, done: 0, failed: 0 }, busiest: [] }

export const make = <E>(
  input: Schema.Codec.Encoded<typeof RunnerOptions>,
  execute: (job: Job) => Effect.Effect<unknown, E>
): Effect.Effect<Runner, InvalidOptions | RunnerStoreError, Scope.Scope> =>
  Effect.gen(function*() {
    const options = yield* decodeOptions(RunnerOptions, input, (i) => new InvalidOptions(i))
    const pollMs = toMillis(options.pollInterval ?? 400)
    let store: JobStore | undefined = undefined
    yield* Effect.addFinalizer(() => Effect.sync(() => store?.close()))
    /** The store, opened now if it was not yet (creating the file). */
    const opened = Effect.suspend(() =>
      store !== undefined ? Effect.succeed(store) : Effect.try({
        try: () => (store = new JobStore(options.file)),
        catch: (e) => new RunnerStoreError({ reason: e instanceof StoreError ? e.message : String(e) })
      })
    )
    if (fs.existsSync(options.file)) {
      const recovered = (yield* opened).recovered
      if (recovered > 0) yield* Effect.logWarning(`${recovered} jobs were cut off by a crash; they run again`)
    }
    const ladder = yield* makeLadder({ initialBackoff: 5, cap: 1000 })
    const running = yield* FiberSet.make<void, never>()
    const inFlight = new Map<string, number>()
    const counts = { submitted: 0, settled: 0, polls: 0 }
    let closing = false

    /** Submits a job found in the store (which is open, then). */
    const submit = (store: JobStore, job: Job) =>
      Effect.suspend(() => {
        if (!store.start(job.id)) return Effect.void
        inFlight.set(job.session, job.id)
        counts.submitted++
        /** True when the job reached an outcome (its session goes on); false when it was cut off. */
        const run = Effect.gen(function*() {
          const exit = yield* Effect.exit(execute(job))
          if (isCutOff(exit)) {
            // it runs again before the rest of its session: now if liege goes on, else at the next start
            store.requeue(job.id)
            return false
          }
          const outcome = outcomeOf(exit)
          if (store.settle(job.id, outcome)) counts.settled++
          return true
        })
        // the session is always released; it is re-driven when the job reached an outcome (a job whose
        // outcome could not be stored stays `running` and is queued again at the next start)
        return Effect.asVoid(FiberSet.run(
          running,
          run.pipe(
            Effect.catchCause((cause) =>
              Effect.as(Effect.logError(`job ${job.id}: its outcome could not be stored`, cause), false)
            ),
            Effect.onExit((exit) =>
              Effect.suspend(() => {
                inFlight.delete(job.session)
                return exit._tag === "Success" && exit.value ? poke(job.session) : Effect.void
              })
            )
          )
        ))
      })

    const poke = (session?: string): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (closing || store === undefined) return Effect.void
        if (session === undefined) {
          // the global poll submits nothing while any session is in flight
          if (inFlight.size > 0) return Effect.void
          return Effect.forEach(store.sessionsWithWork(), (s) => poke(s), { discard: true })
        }
        if (inFlight.has(session)) return Effect.void
        const head = store.head(session)
        return head === undefined ? Effect.void : submit(store, head)
      })

    const poll = Effect.suspend(() => {
      counts.polls++
      return poke()
    })
    yield* Effect.forkScoped(Effect.forever(Effect.andThen(Effect.sleep(pollMs), poll)))


    const enqueue = (session: string, payload: unknown) =>
      Effect.gen(function*() {
        const jobs = yield* opened
        const id = yield* Effect.try({
          try: () => jobs.add(session, JSON.stringify(payload) ?? "null"),
          catch: (e) => new RunnerStoreError({ reason: `cannot store the job: ${(e as Error).message}` })
        })
        yield* poke(session)
        yield* ladder.confirm(poke(session), Effect.sync(() => closing || jobs.get(id)?.state !== "queued"))
        return id
      })

    // closing first: jobs cut off by the scope's close release their sessions without submitting more
    yield* Effect.addFinalizer(() => Effect.sync(() => {
      closing = true
    }))

    return {
      enqueue,
      get: (id) => Effect.sync(() => store?.get(id)),
      poke,
      stats: () => ({ inFlight: inFlight.size, ...counts, recovered: store?.recovered ?? 0 }),
      sessions: Effect.sync(() => store?.summary() ?? noJobs),
      shutdown: Effect.suspend(() => {
        closing = true
        return ladder.shutdown
      })
    } satisfies Runner
  })

/** The runner as a service, over an executor. */
export class Service extends Context.Service<Service, Runner>()("liege/runner/Runner") {
  static readonly layer = <E>(
    options: Schema.Codec.Encoded<typeof RunnerOptions>,
    execute: (job: Job) => Effect.Effect<unknown, E>
  ) => Layer.effect(Service, make(options, execute))
}
