/**
 * One clock: a pool's timeouts come from Effect's `Clock`, so a library
 * user's test on a `TestClock` (`it.effect`) decides when they fire — and
 * a request that hits `execTimeout` there still ends with its worker
 * killed, the scope closed and no process left.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Logger } from "effect"
import { TestClock } from "effect/testing"
import { make } from "../../src/pool/pool.ts"
import { faulty, readyWorkers } from "../support/pools.ts"
import { until } from "../support/procs.ts"

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** Waits on real time (the worker's boot, its death), under a test whose clock is a TestClock. */
const live = TestClock.withLive

describe("a pool on a TestClock", () => {
  it.effect("execTimeout fires when the test clock passes it: the worker is killed, the scope closes, no process is left", () =>
    Effect.gen(function*() {
      const hung = yield* Effect.scoped(Effect.gen(function*() {
        const pool = yield* make({ ...faulty(), workers: 1, execTimeout: "30 seconds" })
        yield* live(readyWorkers(pool, 1))
        const [pid] = pool.pids()
        const answer = yield* Effect.forkChild(Effect.flip(pool.submit({ op: "hang" })))
        yield* live(until(() => pool.view().inFlight === 1))
        // 29 s of test time: nothing happens (and no real time is waited)
        yield* TestClock.adjust("29 seconds")
        expect(answer.pollUnsafe()).toBeUndefined()
        expect(alive(pid!)).toBe(true)
        yield* TestClock.adjust("2 seconds")
        const error = yield* Fiber.join(answer)
        expect(error).toMatchObject({ _tag: "Timeout", ms: 30_000 })
        // the hung worker is killed, and its slot boots the next one
        yield* live(until(() => !alive(pid!) && pool.view().ready === 1))
        expect(pool.view().restarts.total).toBe(0)
        return pid!
      }))
      expect(alive(hung)).toBe(false)
    }).pipe(Effect.provide(Logger.layer([]))))

  it.effect("a worker that sends no ready fails its boot when the test clock passes bootTimeout", () =>
    Effect.gen(function*() {
      yield* Effect.scoped(Effect.gen(function*() {
        const pool = yield* make({ ...faulty({ FAULTY_NO_READY: "1" }), workers: 1, bootTimeout: "10 seconds", maxRestarts: 5 })
        yield* live(until(() => pool.pids().length === 1))
        const [pid] = pool.pids()
        yield* TestClock.adjust("9 seconds")
        expect(pool.view().workers[0]!.state).toBe("booting")
        yield* TestClock.adjust("1 second")
        yield* live(until(() => pool.view().workers[0]!.lastExit !== null))
        expect(pool.view().workers[0]!.lastExit).toMatchObject({ end: "Failed", reason: "boot: no ready within 10000 ms (bootTimeout)" })
        expect(pool.view().restarts.total).toBe(1)
        yield* live(until(() => !alive(pid!)))
      }))
    }).pipe(Effect.provide(Logger.layer([]))))
})
