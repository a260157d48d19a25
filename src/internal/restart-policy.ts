/**
 * The restart policy shared by the pool's slots and the pier's serf (SPEC §3,
 * §5): one mechanism, two parameters it is given, in two parts that can be
 * used apart (the pool keeps one intensity window for all its slots and one
 * backoff per slot) or together (`make`, the pier's one process).
 *
 * - **Intensity** (OTP style): at most `maxRestarts` counted failures within
 *   any `restartWindow`; one more and the caller gives up (`PoolFailed`,
 *   `PierGaveUp`). Which deaths count is the caller's decision: a worker that
 *   dies while serving requests, or on a poison event, is not counted.
 * - **Backoff**: an Effect `Schedule` (exponential from `firstDelay`, capped,
 *   jittered) stepped once per restart. It starts again from its first step
 *   once a process has been up (ready, ripe) for `restartWindow`, and a caller
 *   may ask for the first step (`{ first: true }`) when it isolates a poison
 *   event.
 *
 * Time is read from Effect's `Clock`, so both rules run on a TestClock.
 */
import { Clock, Duration, Effect, Schedule } from "effect"

export interface IntensityOptions {
  readonly maxRestarts: number
  readonly windowMs: number
}

export interface BackoffOptions {
  /** Up this long, a process starts the backoff again from its first step. */
  readonly windowMs: number
  /** First backoff step (default 50 ms), doubling up to `maxDelay` (default 5 s). */
  readonly firstDelay?: Duration.Input
  readonly maxDelay?: Duration.Input
  /** Scales each step by a random factor in [0.8, 1.2] (default true). */
  readonly jitter?: boolean
}

export interface RestartPolicyOptions extends IntensityOptions, BackoffOptions {}

export interface RestartDecision {
  /** More than `maxRestarts` counted failures within the window: give up. */
  readonly exceeded: boolean
  /** Counted failures within the window, this one included. */
  readonly failures: number
  /** How long to wait before starting the next process. */
  readonly delay: Duration.Duration
}

export interface Ended {
  /** Whether this end counts towards the intensity limit. */
  readonly counts: boolean
  /** How long the process had been up (ready, ripe) when it ended; 0 if it never was. */
  readonly upMs: number
  /** Use the first backoff step, whatever came before (poison isolation). */
  readonly first?: boolean
}

export interface Intensity {
  /** One end: counted (`counts`) or not; whether the limit is now exceeded. */
  readonly record: (counts: boolean) => Effect.Effect<{ readonly exceeded: boolean; readonly failures: number }>
  /** Counted failures within the window right now. */
  readonly recent: Effect.Effect<number>
}

export interface Backoff {
  /** The wait before the next start: the next step, or the first one after `windowMs` up (or with `first`). */
  readonly next: (end: Omit<Ended, "counts">) => Effect.Effect<Duration.Duration>
}

export interface RestartPolicy {
  /** A process ended and another is to be started: count it (or not) and say how long to wait. */
  readonly ended: (end: Ended) => Effect.Effect<RestartDecision>
  /** Counted failures within the window right now. */
  readonly recent: Effect.Effect<number>
}

/** The intensity window alone (one per pool, whatever its slots). */
export const intensity = (options: IntensityOptions): Effect.Effect<Intensity> =>
  Effect.sync(() => {
    const failures: Array<number> = []
    const prune = (now: number) => {
      while (failures.length > 0 && failures[0]! <= now - options.windowMs) failures.shift()
    }
    const record = (counts: boolean) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        prune(now)
        if (counts) failures.push(now)
        return { exceeded: failures.length > options.maxRestarts, failures: failures.length }
      })
    const recent = Effect.map(Clock.currentTimeMillis, (now) => {
      prune(now)
      return failures.length
    })
    return { record, recent }
  })

/** The backoff alone (one per restarted process: a pool slot, the pier's serf). */
export const backoff = (options: BackoffOptions): Effect.Effect<Backoff> =>
  Effect.gen(function*() {
    const maxDelay = Duration.fromInputUnsafe(options.maxDelay ?? "5 seconds")
    const capped = Schedule.exponential(options.firstDelay ?? "50 millis").pipe(
      Schedule.modifyDelay(({ duration }) => Effect.succeed(Duration.min(duration, maxDelay)))
    )
    const schedule = options.jitter === false ? capped : Schedule.jittered(capped)
    let step = yield* Schedule.toStep(schedule)
    const next = (end: Omit<Ended, "counts">): Effect.Effect<Duration.Duration> =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        if (end.first === true || end.upMs >= options.windowMs) step = yield* Schedule.toStep(schedule)
        const stepped = yield* Effect.exit(step(now, undefined))
        // an exponential schedule never halts; should it, wait the longest step
        return stepped._tag === "Success" ? stepped.value[1] : maxDelay
      })
    return { next }
  })

/** Both, for one process: count the end, then step (or restart) the backoff. */
export const make = (options: RestartPolicyOptions): Effect.Effect<RestartPolicy> =>
  Effect.gen(function*() {
    const window = yield* intensity(options)
    const delays = yield* backoff(options)
    const ended = (end: Ended): Effect.Effect<RestartDecision> =>
      Effect.gen(function*() {
        const { exceeded, failures } = yield* window.record(end.counts)
        const delay = yield* delays.next(end)
        return { exceeded, failures, delay }
      })
    return { ended, recent: window.recent }
  })
