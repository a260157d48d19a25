/**
 * A pool's rolling reload (SPEC §5 Reload): one slot at a time, each new
 * worker ready before the old one is let go, so a steady load sees no
 * failed request and the pool never has fewer ready workers; workers of the
 * new generation see `LIEGE_GENERATION`; a new worker that fails its boot
 * (a bad deploy) stops the reload with `ReloadFailed` while the old workers
 * go on serving; a reload asked for while one runs joins it.
 */
import { describe, expect } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { make, type Pool } from "../../src/pool/pool.ts"
import { liveIn } from "../support/live.ts"
import { readyWorkers } from "../support/pools.ts"
import { node, root } from "../support/procs.ts"

const live = liveIn("liege-reload-")

/** A "deployed" worker: a script in `dir` the test rewrites, as a deploy would. */
const deploy = (dir: string, code: string) => fs.writeFileSync(path.join(dir, "worker.mjs"), code)
const good = `import ${JSON.stringify(path.join(root, "examples/pool-worker.ts"))}\n`
const deployed = (dir: string) => ({ command: node, args: [path.join(dir, "worker.mjs")] })

/** `callers` fibers submitting echo requests until `stop` is set: every answer and error, with the times of the answers. */
const steadyLoad = (pool: Pool, callers: number) =>
  Effect.gen(function*() {
    const state = { stop: false, ok: 0, errors: [] as Array<string>, answeredAt: [] as Array<number> }
    const fibers = yield* Effect.forEach(Array.from({ length: callers }, (_, i) => i), (i) =>
      Effect.forkChild(Effect.gen(function*() {
        for (let n = 0; !state.stop; n++) {
          const r = yield* Effect.result(pool.submit({ op: "echo", value: [i, n] }))
          state.answeredAt.push(performance.now())
          if (r._tag === "Success") {
            expect(r.success).toEqual([i, n])
            state.ok++
          } else state.errors.push(`${r.failure._tag}: ${r.failure.message}`)
        }
      })))
    return { state, stop: Effect.andThen(Effect.sync(() => void (state.stop = true)), Fiber.joinAll(fibers)) }
  })

/** The longest gap between two answers, in ms. */
const longestGap = (times: ReadonlyArray<number>) => {
  let gap = 0
  for (let i = 1; i < times.length; i++) gap = Math.max(gap, times[i]! - times[i - 1]!)
  return Math.round(gap)
}

describe("pool reload", () => {
  live("a reload under steady load: every worker replaced, no request fails, never fewer ready workers", (dir) =>
    Effect.gen(function*() {
      deploy(dir, good)
      const pool = yield* make({ ...deployed(dir), workers: 3 })
      yield* readyWorkers(pool, 3)
      const before = new Set(pool.pids())
      expect(yield* pool.submit({ op: "env" })).toMatchObject({ generation: "1" })

      const load = yield* steadyLoad(pool, 8)
      // the fewest ready workers seen while the reload runs
      let fewest = Infinity
      const sampler = yield* Effect.forkChild(Effect.forever(Effect.andThen(Effect.sync(() => {
        fewest = Math.min(fewest, pool.view().ready)
      }), Effect.sleep(2))))
      yield* Effect.sleep(100)
      const startedAt = load.state.answeredAt.length
      const reloaded = yield* pool.reload
      const during = load.state.answeredAt.slice(startedAt)
      yield* Effect.sleep(100)
      yield* Fiber.interrupt(sampler)
      yield* load.stop

      expect(reloaded).toEqual({ reloaded: 3, generation: 2 })
      expect(load.state.errors).toEqual([])
      expect(load.state.ok).toBeGreaterThan(100)
      expect(fewest).toBe(3)
      console.log(`reload under load: ${load.state.ok} answers, 0 failed, longest gap between answers during the reload ${longestGap(during)} ms`)
      // every worker is new, of generation 2; the old ones are gone
      yield* readyWorkers(pool, 3)
      const after = pool.pids()
      expect(after.filter((p) => before.has(p))).toEqual([])
      for (let i = 0; i < 6; i++) expect(yield* pool.submit({ op: "env" })).toMatchObject({ generation: "2" })
      const status = pool.view()
      expect(status.reload).toMatchObject({ generation: 2, running: null, total: 1, failed: 0, last: { generation: 2, replaced: 3, error: null } })
      expect(status.recycles.byReason).toMatchObject({ reload: 3 })
      expect(status.restarts.total).toBe(0)
      expect(status.workers.map((w) => w.generation)).toEqual([2, 2, 2])
    }), 60_000)

  live("a bad deploy: the new worker fails its boot, the reload fails with why, and the old workers go on serving", (dir) =>
    Effect.gen(function*() {
      deploy(dir, good)
      const pool = yield* make({ ...deployed(dir), workers: 2, bootTimeout: 5_000 })
      yield* readyWorkers(pool, 2)
      const before = [...pool.pids()].sort()

      deploy(dir, `console.error("syntax, say"); process.exit(3)\n`)
      const failed = yield* Effect.flip(pool.reload)
      expect(failed._tag).toBe("ReloadFailed")
      expect(failed.message).toContain("exited (code 3) before ready")
      expect(failed.message).toContain("0 workers were replaced")
      // the old workers serve as before: same processes, still generation 1
      expect([...pool.pids()].sort()).toEqual(before)
      expect(pool.view().ready).toBe(2)
      for (let i = 0; i < 4; i++) expect(yield* pool.submit({ op: "env" })).toMatchObject({ generation: "1" })
      expect(pool.view().reload).toMatchObject({ total: 1, failed: 1, running: null })
      expect(pool.view().reload.last!.error).toContain("code 3")
      // the failed boot is recorded, not counted towards the pool's failure
      expect(pool.view().restarts.recent[0]).toMatchObject({ kind: "boot", counted: false })
      expect(pool.view().failed).toBe(null)

      // fixed: the next reload goes through
      deploy(dir, good)
      expect(yield* pool.reload).toEqual({ reloaded: 2, generation: 3 })
      expect(yield* pool.submit({ op: "env" })).toMatchObject({ generation: "3" })
    }), 60_000)

  live("a reload asked for while one runs joins it", (dir) =>
    Effect.gen(function*() {
      deploy(dir, good)
      const pool = yield* make({ ...deployed(dir), workers: 2 })
      yield* readyWorkers(pool, 2)
      const first = yield* Effect.forkChild(pool.reload)
      yield* Effect.yieldNow
      expect(pool.view().reload.running).toMatchObject({ generation: 2 })
      const second = yield* pool.reload
      expect(second).toEqual({ reloaded: 2, generation: 2 })
      expect(yield* Fiber.join(first)).toEqual(second)
      expect(pool.view().reload.total).toBe(1)
    }), 60_000)
})
