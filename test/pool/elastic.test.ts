/**
 * Elastic pools and limits (SPEC §5 Sizing and limits): `workers: MIN..MAX`
 * grows one boot at a time while requests wait, up to MAX, and lets idle
 * workers go after `idleTtl` down to MIN — neither a restart nor a failure,
 * every decision in the status document; recycling never empties the pool
 * and is jittered; `queueTimeout`; `maxMemoryMb` over the worker's whole
 * process group.
 */
import { describe, expect } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import * as path from "node:path"
import { make } from "../../src/pool/pool.ts"
import { groupRssMb } from "../../src/pool/memory.ts"
import { live } from "../support/live.ts"
import { faulty, nodeWorker, readyWorkers } from "../support/pools.ts"
import { node, root, until } from "../support/procs.ts"

describe("elastic pools", () => {
  live("grows to MAX while requests wait, one boot at a time, and shrinks to MIN once idle", () =>
    Effect.gen(function*() {
      const pool = yield* make({ ...faulty({ FAULTY_READY_DELAY: "150" }), workers: "1..4", idleTtl: 400 })
      yield* readyWorkers(pool, 1)
      expect(pool.view().size).toMatchObject({ min: 1, max: 4, running: 1, up: 0, down: 0 })

      // never more than MAX workers, never more than one booting at a time
      let most = 0
      let mostBooting = 0
      const sampler = yield* Effect.forkChild(Effect.forever(Effect.andThen(Effect.sync(() => {
        most = Math.max(most, pool.pids().length)
        mostBooting = Math.max(mostBooting, pool.view().workers.filter((w) => w.state === "booting").length)
      }), Effect.sleep(2))))
      const t0 = Date.now()
      const sleeps = yield* Effect.forEach(Array.from({ length: 12 }, () => 0), () =>
        Effect.forkChild(pool.submit({ op: "sleep", ms: 700 })))
      yield* until(() => pool.view().ready === 4, 10_000)
      const grownMs = Date.now() - t0
      console.log(`elastic: 1 → 4 workers in ${grownMs} ms under load (each boot ~150 ms + node start)`)
      const grown = pool.view().size
      expect(grown).toMatchObject({ running: 4, up: 3 })
      expect(grown.last).toMatchObject({ change: "up", workers: 4 })
      expect(grown.last!.reason).toContain("requests wait")
      for (const f of sleeps) yield* Fiber.join(f)

      // idle: back to MIN, one idleTtl later
      yield* until(() => pool.view().size.running === 1 && pool.pids().length === 1, 10_000)
      yield* Fiber.interrupt(sampler)
      const status = pool.view()
      expect(status.size).toMatchObject({ running: 1, up: 3, down: 3, last: { change: "down", workers: 1 } })
      expect(status.workers.length).toBe(1)
      expect(status.restarts.total).toBe(0)
      expect(status.recycles.total).toBe(0)
      expect(status.failed).toBe(null)
      expect(most).toBeLessThanOrEqual(4)
      expect(mostBooting).toBeLessThanOrEqual(1)
      // and it serves, and grows again when asked
      expect(yield* pool.submit({ op: "echo", value: 1 })).toMatchObject({ value: 1 })
    }), 30_000)

  live("an invalid range is refused before anything is spawned", () =>
    Effect.gen(function*() {
      for (const workers of ["3..1", "0..2", "2..", "a..b"]) {
        const e = yield* Effect.flip(make({ ...nodeWorker, workers }))
        expect(e).toMatchObject({ _tag: "InvalidOptions", field: "workers" })
      }
    }))
})

describe("limits that hold", () => {
  live("recycling by ttl never leaves the pool with fewer ready workers", () =>
    Effect.gen(function*() {
      const pool = yield* make({ ...faulty({ FAULTY_READY_DELAY: "250" }), workers: 3, ttl: 400 })
      yield* readyWorkers(pool, 3)
      let fewest = Infinity
      const sampler = yield* Effect.forkChild(Effect.forever(Effect.andThen(Effect.sync(() => {
        fewest = Math.min(fewest, pool.view().ready)
      }), Effect.sleep(2))))
      // requests go on meanwhile, and none fails
      for (let i = 0; pool.view().recycles.total < 6; i++) {
        expect(yield* pool.submit({ op: "echo", value: i })).toMatchObject({ value: i })
        yield* Effect.sleep(5)
      }
      yield* Fiber.interrupt(sampler)
      expect(fewest).toBe(3)
      expect(pool.view().recycles.byReason["ttl"]).toBeGreaterThanOrEqual(6)
      expect(pool.view().restarts.total).toBe(0)
    }), 30_000)

  live("maxJobs is jittered by up to ±10 %, so workers do not retire in step", () =>
    Effect.gen(function*() {
      const pool = yield* make({ ...faulty(), workers: 1, maxJobs: 20 })
      yield* readyWorkers(pool, 1)
      const pids: Array<number> = []
      for (let i = 0; i < 240; i++) pids.push(((yield* pool.submit({ op: "echo", value: i })) as { pid: number }).pid)
      // jobs per worker, for the workers that served all theirs
      const runs: Array<number> = []
      for (let i = 0, n = 1; i < pids.length; i++, n++) {
        if (pids[i + 1] !== pids[i]) {
          runs.push(n)
          n = 0
        }
      }
      const whole = runs.slice(0, -1)
      expect(whole.length).toBeGreaterThanOrEqual(8)
      for (const n of whole) {
        expect(n).toBeGreaterThanOrEqual(18)
        expect(n).toBeLessThanOrEqual(22)
      }
      expect(new Set(whole).size).toBeGreaterThan(1)
    }), 30_000)

  live("queueTimeout: a request that waited that long gets Busy, saying how long", () =>
    Effect.gen(function*() {
      const pool = yield* make({ ...faulty(), workers: 1, queueTimeout: 200 })
      yield* readyWorkers(pool, 1)
      const sleeping = yield* Effect.forkChild(pool.submit({ op: "sleep", ms: 1000 }))
      yield* until(() => pool.view().inFlight === 1)
      const t0 = Date.now()
      const busy = yield* Effect.flip(pool.submit({ op: "echo", value: 1 }))
      expect(Date.now() - t0).toBeGreaterThanOrEqual(190)
      expect(busy).toMatchObject({ _tag: "Busy" })
      expect(busy.message).toMatch(/waited \d+ ms in the queue \(queueTimeout\)/)
      expect((busy as { waitedMs?: number }).waitedMs).toBeGreaterThanOrEqual(200)
      expect(yield* Fiber.join(sleeping)).toMatchObject({ slept: 1000 })
      expect(pool.view().answers.byOutcome).toMatchObject({ ok: 1, Busy: 1 })
    }), 30_000)

  live("maxMemoryMb counts the worker's whole process group: a worker whose child holds the memory is recycled", () =>
    Effect.gen(function*() {
      const pool = yield* make({ command: node, args: [path.join(root, "examples/memory-worker.ts")], workers: 1, maxMemoryMb: 120 })
      yield* readyWorkers(pool, 1)
      const first = (yield* pool.submit({ op: "pid" })) as number
      const held = (yield* pool.submit({ op: "hold", mb: 160 })) as { pid: number }
      expect(groupRssMb([first]).get(first)).toBeGreaterThan(150)
      // the sweep sees the group's memory: the worker is replaced (new-first), its child goes with it
      yield* until(() => pool.view().recycles.byReason["maxMemoryMb"] === 1, 10_000)
      yield* until(() => !pool.pids().includes(first), 10_000)
      // nothing of its group is left alive: the holding child neither
      yield* until(() => groupRssMb([first]).get(first) === undefined, 10_000)
      expect(held.pid).not.toBe(first)
      expect(yield* pool.submit({ op: "pid" })).not.toBe(first)
    }), 30_000)
})
