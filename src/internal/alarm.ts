/**
 * One clock for the synchronous state machines (a pool worker, the serf
 * lock): an alarm on Effect's `Clock`, so their timeouts run on a
 * `TestClock` like every other wait in liege.
 *
 * A machine keeps its deadlines as plain numbers (ms on the clock) and asks
 * to be woken at the earliest (`at`); when the alarm rings it is called with
 * the time, looks at what is due, and asks again for its next deadline, if
 * any. One sleeping fiber at a time, owned by the alarm's `FiberSet`: asking
 * for a later time than the one already set costs a comparison (the hot
 * path: every request or event pushes its deadline), an earlier one replaces
 * the sleeper. A ring that finds nothing due is harmless: the machine just
 * asks for its next deadline.
 */
import { Clock, Duration, Effect, type Fiber, FiberSet, type Scope } from "effect"

export interface Alarm {
  /** The clock's time now, in ms (synchronous, for the machine's hot path). */
  readonly now: () => number
  /** Rings at `at` (ms on the clock) or earlier. */
  readonly at: (at: number) => void
}

/** An alarm for the scope's lifetime; `ring` is called with the time whenever it rings. */
export const make = (ring: (now: number) => void): Effect.Effect<Alarm, never, Scope.Scope> =>
  Effect.gen(function*() {
    const clock = yield* Clock.Clock
    const run = yield* FiberSet.makeRuntime<never, void, never>()
    const now = () => clock.currentTimeMillisUnsafe()
    /** When the sleeper wakes, while there is one. */
    let due: number | undefined = undefined
    let sleeper: Fiber.Fiber<void> | undefined = undefined
    let serial = 0
    // a sleeper replaced just as it woke may still ring: harmless, and it leaves the new one set
    const rang = (mine: number) =>
      Effect.sync(() => {
        if (mine === serial) {
          due = undefined
          sleeper = undefined
        }
        ring(now())
      })
    const at = (t: number) => {
      if (due !== undefined && due <= t) return
      sleeper?.interruptUnsafe()
      due = t
      sleeper = run(Effect.andThen(clock.sleep(Duration.millis(Math.max(0, t - now()))), rang(++serial)))
    }
    return { now, at }
  })
