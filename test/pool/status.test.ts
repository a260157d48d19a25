/**
 * The pool's status (for a `/v1/status` page): per slot its worker, pid,
 * state, next try, requests in flight, jobs, start and last exit; the queue
 * depth.
 */
import { describe, expect } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { make } from "../../src/pool/pool.ts"
import { live } from "../support/live.ts"
import { faulty, readyWorkers } from "../support/pools.ts"
import { until } from "../support/procs.ts"


describe("pool status", () => {
  live("each slot goes booting → ready → busy → retiring → restarting, and says so", () =>
    Effect.gen(function*() {
      const t0 = Date.now()
      const pool = yield* make({ ...faulty({ FAULTY_READY_DELAY: "200" }), workers: 1, maxJobs: 2, maxQueue: 5 })
      const slot = () => pool.view().workers[0]!
      yield* until(() => slot().state === "booting" && slot().pid !== null)
      expect(slot()).toMatchObject({ slot: 1, worker: 1, inFlight: 0, served: 0, nextTryAt: null, readyAt: null, lastExit: null })
      expect(slot().startedAt).toBeGreaterThanOrEqual(t0)

      yield* readyWorkers(pool, 1)
      expect(slot()).toMatchObject({ state: "ready", pid: pool.pids()[0] })
      expect(slot().readyAt).toBeGreaterThanOrEqual(slot().startedAt!)

      const sleeping = yield* Effect.forkChild(pool.submit({ op: "sleep", ms: 300 }))
      const queued = yield* Effect.forkChild(pool.submit({ op: "echo", value: 1 }))
      yield* until(() => pool.view().queue.depth === 1)
      expect(slot()).toMatchObject({ state: "busy", inFlight: 1 })
      yield* Fiber.join(sleeping)
      yield* Fiber.join(queued)
      // two jobs (maxJobs): it retires, and a new worker boots in its slot
      yield* until(() => slot().worker === 2)
      expect(slot().lastExit).toMatchObject({ end: "Retired" })
      expect(slot().lastExit!.reason).toContain("maxJobs")
      yield* readyWorkers(pool, 1)

      // a crash while serving: restarting, with the time of the next try
      yield* Effect.flip(pool.submit({ op: "crash-before" }))
      yield* until(() => slot().state === "restarting")
      expect(slot().nextTryAt).toBeGreaterThanOrEqual(slot().lastExit!.at)
      expect(slot()).toMatchObject({ pid: null, inFlight: 0, lastExit: { end: "Died" } })
      expect(slot().lastExit!.reason).toContain("code 1")
      yield* readyWorkers(pool, 1)
      expect(slot()).toMatchObject({ worker: 3, state: "ready", nextTryAt: null })
    }))

  live("a worker recycled by ttl is replaced new-first, and finishes what it holds before it leaves", () =>
    Effect.gen(function*() {
      const pool = yield* make({ ...faulty(), workers: 1, ttl: 300, execTimeout: 60_000 })
      const slot = () => pool.view().workers[0]!
      yield* readyWorkers(pool, 1)
      const first = slot().pid!
      const sleeping = yield* Effect.forkChild(pool.submit({ op: "sleep", ms: 1500 }))
      // its successor boots while it serves, and takes over the slot once ready
      yield* until(() => slot().successor !== null)
      yield* until(() => slot().worker === 2 && slot().state === "ready")
      expect(pool.view().ready).toBe(1)
      // the old one still holds the sleeping request, and answers it
      expect(pool.pids()).toContain(first)
      expect(pool.view().inFlight).toBe(1)
      expect(yield* Fiber.join(sleeping)).toMatchObject({ slept: 1500 })
      yield* until(() => !pool.pids().includes(first))
      expect(pool.view().recycles.byReason).toMatchObject({ ttl: 1 })
    }))
})
