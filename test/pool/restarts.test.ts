/**
 * Which ends count towards `maxRestarts` (SPEC §5), the failed pool's
 * cool-down and recovery, and each slot's backoff reset.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import * as fs from "node:fs"
import * as path from "node:path"
import { make, type Pool } from "../../src/pool/pool.ts"
import { live, quiet } from "../support/live.ts"
import { faulty, readyWorkers } from "../support/pools.ts"
import { until } from "../support/procs.ts"
import { tempDir } from "../support/serfs.ts"


const tagOf = (e: unknown) => (e as { _tag?: string })._tag
const echo = (pool: Pool) => pool.submit({ op: "echo", value: 1 }) as Effect.Effect<{ pid: number }, unknown>
/** Waits until the worker `pid` is gone from the pool (its end has been dealt with). */
const gone = (pool: Pool, pid: number) => until(() => !pool.pids().includes(pid), 10_000, `worker ${pid} to leave`)

describe("pool restarts", () => {
  live("poison requests (a worker dying while serving) never fail the pool", () =>
    Effect.gen(function*() {
      const pool = yield* make({ ...faulty(), workers: 1, maxRestarts: 1 })
      for (let i = 0; i < 4; i++) {
        expect(tagOf(yield* Effect.flip(pool.submit({ op: "crash-before" })))).toBe("WorkerDied")
      }
      expect(yield* echo(pool)).toHaveProperty("pid")
      expect(pool.ready()).toBe(true)
      expect((pool.view().failed !== null)).toBe(false)
      expect(pool.view().restarts.total).toBe(4)
    }), 20_000)

  live("timeouts, cancels and recycling never count", () =>
    Effect.gen(function*() {
      const pool = yield* make({ ...faulty(), workers: 1, maxRestarts: 0, execTimeout: 100, cancelGrace: 50, maxJobs: 2 })
      for (let i = 0; i < 3; i++) expect(tagOf(yield* Effect.flip(pool.submit({ op: "hang" })))).toBe("Timeout")
      for (let i = 0; i < 2; i++) {
        const f = yield* Effect.forkChild(pool.submit({ op: "stubborn", ms: 2000 }))
        yield* until(() => pool.view().inFlight === 1)
        yield* Fiber.interrupt(f)
      }
      for (let i = 0; i < 5; i++) yield* echo(pool)
      expect((pool.view().failed !== null)).toBe(false)
      expect(pool.view().restarts.total).toBe(0)
      expect(pool.view().recycles.total).toBeGreaterThanOrEqual(4)
    }), 20_000)

  live("a death with no request in flight counts", () =>
    Effect.gen(function*() {
      const pool = yield* make({ ...faulty(), workers: 1, maxRestarts: 1 })
      for (let i = 0; i < 2; i++) {
        yield* readyWorkers(pool, 1)
        // answers, then exits idle
        const { pid } = (yield* pool.submit({ op: "crash-after" })) as { pid: number }
        yield* gone(pool, pid)
      }
      const failed = yield* pool.failed
      expect(failed.reason).toContain("2 worker failures")
      expect(tagOf(yield* Effect.flip(echo(pool)))).toBe("PoolFailed")
    }), 20_000)

  live("a protocol break counts", () =>
    Effect.gen(function*() {
      const pool = yield* make({ ...faulty(), workers: 1, maxRestarts: 1 })
      for (let i = 0; i < 2; i++) expect(tagOf(yield* Effect.flip(pool.submit({ op: "garbage" })))).toBe("Protocol")
      yield* pool.failed
      expect((pool.view().failed !== null)).toBe(true)
    }), 20_000)

  live("a failed pool tries one worker after a cool-down of restartWindow, and is healthy again once it is ready", () =>
    Effect.gen(function*() {
      const dir = tempDir("liege-pool-cool-")
      yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))
      const noReady = path.join(dir, "no-ready")
      const starts = path.join(dir, "starts")
      fs.writeFileSync(noReady, "")
      const started = () => fs.existsSync(starts) ? fs.readFileSync(starts, "utf8").trim().split("\n").length : 0
      const pool = yield* make({
        ...faulty({ FAULTY_NO_READY_FILE: noReady, FAULTY_START_LOG: starts }),
        workers: 2,
        bootTimeout: 1000, // long enough for the worker to note its start
        maxRestarts: 1,
        restartWindow: 400,
        grace: 100
      })
      const waiting = yield* Effect.forkChild(Effect.flip(echo(pool)))
      yield* pool.failed
      expect(tagOf(yield* Fiber.join(waiting))).toBe("PoolFailed")
      expect(tagOf(yield* Effect.flip(echo(pool)))).toBe("PoolFailed")
      expect(pool.ready()).toBe(false)
      // the slots that were booting are stopped: nothing runs until the cool-down ends
      yield* until(() => pool.view().workers.every((s) => s.state === "restarting"), 10_000, "every slot to wait")
      const before = started()
      expect(pool.view().failed?.retryAt).toBeGreaterThan(0)

      // the first try after the cool-down: one worker, which does not get ready
      yield* until(() => started() === before + 1, 10_000, "one try")
      yield* until(() => pool.view().workers[0]!.state === "restarting", 10_000, "the try to fail")
      expect(started()).toBe(before + 1)
      expect((pool.view().failed !== null)).toBe(true)
      expect(tagOf(yield* Effect.flip(echo(pool)))).toBe("PoolFailed")

      // the next one does: the pool serves again, every slot is refilled
      fs.rmSync(noReady)
      yield* until(() => pool.ready(), 10_000, "the pool to recover")
      expect((pool.view().failed !== null)).toBe(false)
      expect(pool.view().failed).toBeNull()
      expect(yield* echo(pool)).toHaveProperty("pid")
      yield* readyWorkers(pool, 2)
      // `failed` waits for the next failure, it does not answer with the old one
      expect(yield* Effect.timeoutOption(pool.failed, 200)).toMatchObject({ _tag: "None" })
    }), 20_000)

  it.effect("a slot's backoff starts again from its first step once its worker has been ready for restartWindow (TestClock)", () =>
    Effect.gen(function*() {
      const windowMs = 60_000
      const pool = yield* make({ ...faulty(), workers: 1, maxRestarts: 100, restartWindow: windowMs })
      const slot = () => pool.view().workers[0]!
      /** A poison request, then the delay the slot chose before its next start (waited on the test clock). */
      const crash = Effect.gen(function*() {
        yield* TestClock.withLive(readyWorkers(pool, 1))
        expect(tagOf(yield* Effect.flip(pool.submit({ op: "crash-before" })))).toBe("WorkerDied")
        yield* TestClock.withLive(until(() => slot().state === "restarting"))
        const s = slot()
        const delay = s.nextTryAt! - s.lastExit!.at
        yield* TestClock.adjust(delay)
        return delay
      })
      const delays: Array<number> = []
      for (let i = 0; i < 4; i++) delays.push(yield* crash)
      // the steps grow (100, 200, 400, 800 ms, each ± 20 %)
      expect(delays[3]!).toBeGreaterThan(3 * delays[0]!)
      yield* TestClock.withLive(readyWorkers(pool, 1))
      yield* TestClock.adjust(windowMs)
      const after = yield* crash
      expect(after).toBeLessThan(delays[1]!)
      expect(slot().lastExit).toMatchObject({ end: "Died" })
    }).pipe(Effect.scoped, Effect.provide(quiet)))
})
