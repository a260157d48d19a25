import { describe, expect } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { make } from "../../src/pool/pool.ts"
import { isAlive } from "../../src/supervisor/group.ts"
import { live } from "../support/live.ts"
import { faulty, readyWorkers } from "../support/pools.ts"
import { until } from "../support/procs.ts"
import { tempDir } from "../support/serfs.ts"


const tagOf = (e: unknown) => (e as { _tag?: string })._tag

describe("pool", () => {
  live("answers requests; a worker's err is Application", () =>
    Effect.gen(function*() {
      const pool = yield* make({ ...faulty(), workers: 2 })
      const r = (yield* pool.submit({ op: "echo", value: "hi" })) as { value: string }
      expect(r.value).toBe("hi")
      const e = yield* Effect.flip(pool.submit({ op: "fail" }))
      expect(e).toMatchObject({ _tag: "Application", code: "nope", message: "refused" })
      expect(pool.ready()).toBe(true)
    }))

  live("a request never waits behind a busy worker while another is idle", () =>
    Effect.gen(function*() {
      const pool = yield* make({ ...faulty(), workers: 2 })
      yield* readyWorkers(pool, 2)
      const slow = yield* Effect.forkChild(pool.submit({ op: "sleep", ms: 2000 }))
      yield* until(() => pool.view().inFlight === 1)
      const t0 = Date.now()
      const fast = (yield* pool.submit({ op: "echo", value: 1 })) as { inflight: number }
      expect(Date.now() - t0).toBeLessThan(1000)
      expect(fast.inflight).toBe(1)
      yield* Fiber.interrupt(slow)
    }))

  live("a full queue answers Busy at once; maxQueue counts waiting requests only", () =>
    Effect.gen(function*() {
      const pool = yield* make({ ...faulty(), workers: 1, maxQueue: 2 })
      yield* readyWorkers(pool, 1)
      const running = yield* Effect.forkChild(pool.submit({ op: "sleep", ms: 300 }))
      const waiting = yield* Effect.forkChild(Effect.all([pool.submit({ op: "echo", value: 1 }), pool.submit({ op: "echo", value: 2 })], { concurrency: 2 }))
      yield* until(() => pool.view().queue.depth === 2)
      const busy = yield* Effect.flip(pool.submit({ op: "echo", value: 3 }))
      expect(tagOf(busy)).toBe("Busy")
      yield* Fiber.join(running)
      expect((yield* Fiber.join(waiting)).length).toBe(2)
    }))

  live("execTimeout fails the request with Timeout and replaces the worker", () =>
    Effect.gen(function*() {
      const pool = yield* make({ ...faulty(), workers: 1, execTimeout: 200 })
      yield* readyWorkers(pool, 1)
      const [before] = pool.pids()
      const t0 = Date.now()
      const e = yield* Effect.flip(pool.submit({ op: "hang" }))
      expect(tagOf(e)).toBe("Timeout")
      expect(Date.now() - t0).toBeLessThan(2000)
      const after = (yield* pool.submit({ op: "echo", value: 1 })) as { pid: number }
      expect(after.pid).not.toBe(before)
      expect(isAlive(before!)).toBe(false)
      expect(pool.view().restarts.total).toBe(0)
    }))

  live("maxJobs recycles between requests and loses none", () =>
    Effect.gen(function*() {
      const pool = yield* make({ ...faulty(), workers: 1, maxJobs: 3 })
      const pids: Array<number> = []
      for (let i = 0; i < 9; i++) pids.push(((yield* pool.submit({ op: "echo", value: i })) as { pid: number }).pid)
      expect(new Set(pids).size).toBe(3)
      expect(pids.slice(0, 3).every((p) => p === pids[0])).toBe(true)
      expect(pool.view().recycles.total).toBeGreaterThanOrEqual(2)
      expect(pool.view().restarts.total).toBe(0)
    }))

  live("idleTtl, maxMemoryMb and ttl each recycle a worker, between requests", () =>
    Effect.gen(function*() {
      const pid = (p: { readonly submit: (x: unknown) => Effect.Effect<unknown, unknown> }) =>
        Effect.map(p.submit({ op: "echo", value: 1 }), (r) => (r as { pid: number }).pid)
      const idle = yield* make({ ...faulty(), workers: 1, idleTtl: 100 })
      const a = yield* pid(idle)
      yield* until(() => idle.view().recycles.total >= 1 && idle.view().ready === 1)
      expect(yield* pid(idle)).not.toBe(a)

      const memory = yield* make({ ...faulty(), workers: 1, maxMemoryMb: 150 })
      const b = ((yield* memory.submit({ op: "grow", mb: 200 })) as { pid: number }).pid
      yield* until(() => memory.view().recycles.total >= 1 && memory.view().ready === 1)
      expect(yield* pid(memory)).not.toBe(b)

      const ttl = yield* make({ ...faulty(), workers: 1, ttl: 150 })
      const d = yield* pid(ttl)
      yield* until(() => ttl.view().recycles.total >= 1 && ttl.view().ready === 1)
      expect(yield* pid(ttl)).not.toBe(d)
      for (const p of [idle, memory, ttl]) expect(p.view().restarts.total).toBe(0)
    }))

  live("a crash fails what the worker held with WorkerDied; the slot restarts", () =>
    Effect.gen(function*() {
      const pool = yield* make({ ...faulty(), workers: 1 })
      expect(tagOf(yield* Effect.flip(pool.submit({ op: "crash-before" })))).toBe("WorkerDied")
      const after = yield* pool.submit({ op: "crash-after" })
      expect(after).toHaveProperty("pid")
      // the answer came before the exit: it counts; the slot restarts after it
      while (pool.view().restarts.total < 2) yield* Effect.sleep(5)
      expect((yield* pool.submit({ op: "echo", value: 1 })) as object).toHaveProperty("pid")
    }))

  live("a garbage frame or an answer to an unknown id is Protocol; the worker is replaced", () =>
    Effect.gen(function*() {
      const pool = yield* make({ ...faulty(), workers: 1 })
      expect(tagOf(yield* Effect.flip(pool.submit({ op: "garbage" })))).toBe("Protocol")
      expect(tagOf(yield* Effect.flip(pool.submit({ op: "wrong-id" })))).toBe("Protocol")
      expect((yield* pool.submit({ op: "echo", value: 1 })) as object).toHaveProperty("pid")
    }))

  live("a slow ready within bootTimeout is fine", () =>
    Effect.gen(function*() {
      const pool = yield* make({ ...faulty({ FAULTY_READY_DELAY: "300" }), workers: 1, bootTimeout: 3000 })
      expect(pool.ready()).toBe(false)
      expect((yield* pool.submit({ op: "echo", value: 1 })) as object).toHaveProperty("pid")
      expect(pool.view().restarts.total).toBe(0)
    }))

  live("no ready: restarts with backoff, then the pool fails and every waiter gets PoolFailed", () =>
    Effect.gen(function*() {
      const pool = yield* make({ ...faulty({ FAULTY_NO_READY: "1" }), workers: 2, bootTimeout: 100, maxRestarts: 3, grace: 100 })
      const waiting = yield* Effect.forkChild(Effect.flip(pool.submit({ op: "echo", value: 1 })))
      const failed = yield* pool.failed
      expect(failed._tag).toBe("PoolFailed")
      expect(tagOf(yield* Fiber.join(waiting))).toBe("PoolFailed")
      expect(tagOf(yield* Effect.flip(pool.submit({ op: "echo", value: 2 })))).toBe("PoolFailed")
      expect(pool.ready()).toBe(false)
      expect(pool.view().restarts.total).toBe(4)
    }))

  live("interrupting a caller cancels its request; the worker lets go and is reused", () =>
    Effect.gen(function*() {
      const pool = yield* make({ ...faulty(), workers: 1 })
      const first = ((yield* pool.submit({ op: "echo", value: 0 })) as { pid: number }).pid
      const f = yield* Effect.forkChild(pool.submit({ op: "sleep", ms: 5000 }))
      yield* until(() => pool.view().inFlight === 1)
      yield* Fiber.interrupt(f)
      const next = (yield* pool.submit({ op: "echo", value: 1 })) as { pid: number; inflight: number }
      expect(next.pid).toBe(first)
      expect(next.inflight).toBe(1)
    }))

  live("a worker that stays silent after a cancel is recycled after cancelGrace", () =>
    Effect.gen(function*() {
      const pool = yield* make({ ...faulty(), workers: 1, cancelGrace: 100 })
      const first = ((yield* pool.submit({ op: "echo", value: 0 })) as { pid: number }).pid
      const f = yield* Effect.forkChild(pool.submit({ op: "stubborn", ms: 5000 }))
      yield* until(() => pool.view().inFlight === 1)
      yield* Fiber.interrupt(f)
      const next = (yield* pool.submit({ op: "echo", value: 1 })) as { pid: number }
      expect(next.pid).not.toBe(first)
    }))

  live("an answer written just before the worker exits still reaches its caller", () =>
    Effect.gen(function*() {
      const pool = yield* make({ ...faulty(), workers: 1 })
      for (let i = 0; i < 5; i++) { // (each crash is a restart: the backoff doubles)
        yield* readyWorkers(pool, 1)
        const { pid } = (yield* pool.submit({ op: "crash-after" })) as { pid: number }
        // (a request sent while it is exiting would rightly get WorkerDied: wait until it is gone)
        while (pool.pids().includes(pid)) yield* Effect.sleep(2)
      }
    }))

  live("a payload the codec cannot encode is refused at once; the worker is untouched", () =>
    Effect.gen(function*() {
      const pool = yield* make({ ...faulty(), workers: 1 })
      const before = ((yield* pool.submit({ op: "echo", value: 1 })) as { pid: number }).pid
      const e = yield* Effect.flip(pool.submit({ op: "echo", value: 10n }))
      expect(e).toMatchObject({ _tag: "Protocol" })
      expect(e.message).toContain("cannot be encoded")
      expect(((yield* pool.submit({ op: "echo", value: 2 })) as { pid: number }).pid).toBe(before)
    }))

  live("cancelling the last request of a retiring worker frees its slot", () =>
    Effect.gen(function*() {
      const pool = yield* make({ ...faulty(), workers: 1, ttl: 200, cancelGrace: 100, execTimeout: 60_000 })
      const first = ((yield* pool.submit({ op: "echo", value: 0 })) as { pid: number }).pid
      const hung = yield* Effect.forkChild(pool.submit({ op: "hang" }))
      yield* until(() => pool.view().recycles.total === 1) // the ttl sweep retires the busy worker
      yield* Fiber.interrupt(hung)
      const next = (yield* pool.submit({ op: "echo", value: 1 }).pipe(Effect.timeout(5000))) as { pid: number }
      expect(next.pid).not.toBe(first)
    }))

  live("a drain refills slots: recycled workers are replaced until the queue is answered", () =>
    Effect.gen(function*() {
      const pool = yield* make({ ...faulty(), workers: 2, maxJobs: 1 })
      yield* readyWorkers(pool, 2)
      const all = yield* Effect.forkChild(Effect.forEach(
        Array.from({ length: 10 }, () => ({ op: "sleep", ms: 20 })),
        (p) => pool.submit(p),
        { concurrency: "unbounded" }
      ))
      yield* until(() => pool.view().inFlight === 2)
      yield* pool.shutdown(20_000)
      const answers = yield* Fiber.join(all)
      expect(answers).toHaveLength(10)
    }))

  live("maxInFlight pipelines requests to one worker", () =>
    Effect.gen(function*() {
      const log = path.join(tempDir(), "inflight")
      const pool = yield* make({ ...faulty({ FAULTY_MAX_LOG: log }), workers: 1, maxInFlight: 4 })
      yield* readyWorkers(pool, 1)
      const t0 = Date.now()
      yield* Effect.forEach(Array.from({ length: 8 }, () => ({ op: "sleep", ms: 300 })), (p) => pool.submit(p), { concurrency: 8 })
      expect(Date.now() - t0).toBeLessThan(1500)
      const seen = fs.readFileSync(log, "utf8").trim().split("\n").map((l) => Number(l.split(" ")[1]))
      expect(Math.max(...seen)).toBe(4)
    }))

  live("shutdown answers what it accepted within the drain window, the rest ShuttingDown", () =>
    Effect.gen(function*() {
      const pool = yield* make({ ...faulty(), workers: 1, grace: 200 })
      yield* readyWorkers(pool, 1)
      const quick = yield* Effect.forkChild(pool.submit({ op: "sleep", ms: 100 }))
      const slow = yield* Effect.forkChild(Effect.flip(pool.submit({ op: "hang" })))
      yield* until(() => pool.view().inFlight === 1 && pool.view().queue.depth === 1)
      yield* pool.shutdown(500)
      expect(yield* Fiber.join(quick)).toMatchObject({ slept: 100 })
      expect(tagOf(yield* Fiber.join(slow))).toBe("ShuttingDown")
      expect(tagOf(yield* Effect.flip(pool.submit({ op: "echo", value: 1 })))).toBe("ShuttingDown")
      expect(pool.pids()).toEqual([])
    }))
})
