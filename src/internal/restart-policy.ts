/**
 * The restart policy shared by the pool's slots and the pier's serf (SPEC §3,
 * §5): one mechanism, two parameters it is given.
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

export interface RestartPolicyOptions {
  readonly maxRestarts: number
  readonly windowMs: number
  /** First backoff step (default 50 ms), doubling up to `maxDelay` (default 5 s). */
  readonly firstDelay?: Duration.Input
  readonly maxDelay?: Duration.Input
  /** Scales each step by a random factor in [0.8, 1.2] (default true). */
  readonly jitter?: boolean
}

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

export interface RestartPolicy {
  /** A process ended and another is to be started: count it (or not) and say how long to wait. */
  readonly ended: (end: Ended) => Effect.Effect<RestartDecision>
  /** Counted failures within the window right now. */
  readonly recent: Effect.Effect<number>
}

export const make = (options: RestartPolicyOptions): Effect.Effect<RestartPolicy> =>
  Effect.gen(function*() {
    const maxDelay = Duration.fromInputUnsafe(options.maxDelay ?? "5 seconds")
    const capped = Schedule.exponential(options.firstDelay ?? "50 millis").pipe(
      Schedule.modifyDelay(({ duration }) => Effect.succeed(Duration.min(duration, maxDelay)))
    )
    const schedule = options.jitter === false ? capped : Schedule.jittered(capped)
    let step = yield* Schedule.toStep(schedule)
    const failures: Array<number> = []

    const prune = (now: number) => {
      while (failures.length > 0 && failures[0]! <= now - options.windowMs) failures.shift()
    }

    const nextDelay = (now: number, restart: boolean): Effect.Effect<Duration.Duration> =>
      Effect.gen(function*() {
        if (restart) step = yield* Schedule.toStep(schedule)
        const stepped = yield* Effect.exit(step(now, undefined))
        // an exponential schedule never halts; should it, wait the longest step
        return stepped._tag === "Success" ? stepped.value[1] : maxDelay
      })

    const ended = (end: Ended): Effect.Effect<RestartDecision> =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        prune(now)
        if (end.counts) failures.push(now)
        const exceeded = failures.length > options.maxRestarts
        const delay = yield* nextDelay(now, end.first === true || end.upMs >= options.windowMs)
        return { exceeded, failures: failures.length, delay }
      })

    const recent = Effect.map(Clock.currentTimeMillis, (now) => {
      prune(now)
      return failures.length
    })

    return { ended, recent }
  })
