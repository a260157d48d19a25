/**
 * Runner laws (SPEC §7), on real SQLite files:
 * no duplicate submission while a session is in flight; the global poll
 * submits nothing while any session is in flight; completion re-drives its
 * session; every stored job reaches exactly one recorded outcome, in order
 * within its session. (kill -9 of liege and a restart: test/cli/pool.test.ts.)
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Logger } from "effect"
import fc from "fast-check"
import * as fs from "node:fs"
import * as path from "node:path"
import { make } from "../../src/runner/runner.ts"
import { JobStore } from "../../src/runner/store.ts"
import { until } from "../support/procs.ts"
import { tempDir } from "../support/serfs.ts"

const quiet = Logger.layer([])

describe("runner laws", () => {
  it("one job per session at a time, in order; every job settles once; pokes can storm", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ session: fc.constantFrom("a", "b", "c"), fail: fc.boolean(), ms: fc.integer({ min: 0, max: 8 }) }), { minLength: 1, maxLength: 25 }),
        fc.integer({ min: 0, max: 30 }),
        (jobs, storms) =>
          Effect.runPromise(Effect.gen(function*() {
            const dir = tempDir("liege-runner-")
            try {
              const active = new Map<string, number>()
              const order = new Map<string, Array<number>>()
              const calls = new Map<number, number>()
              let violations = 0
              const ids = yield* Effect.scoped(Effect.gen(function*() {
                const runner = yield* make({ file: path.join(dir, "state.db"), pollInterval: 20 }, (job) =>
                  Effect.gen(function*() {
                    const n = (active.get(job.session) ?? 0) + 1
                    active.set(job.session, n)
                    if (n > 1) violations++
                    calls.set(job.id, (calls.get(job.id) ?? 0) + 1)
                    order.set(job.session, [...(order.get(job.session) ?? []), job.id])
                    const p = job.payload as { fail: boolean; ms: number }
                    yield* Effect.sleep(p.ms)
                    active.set(job.session, active.get(job.session)! - 1)
                    if (p.fail) return yield* Effect.fail({ _tag: "Nope", message: "refused" })
                    return { done: job.id }
                  }))
                const ids: Array<number> = []
                for (const j of jobs) ids.push(yield* runner.enqueue(j.session, j))
                yield* Effect.forEach(Array.from({ length: storms }, (_, i) => ["a", "b", "c", undefined][i % 4]), (s) => runner.poke(s), { concurrency: "unbounded", discard: true })
                for (;;) {
                  const states = yield* Effect.forEach(ids, (id) => runner.get(id))
                  if (states.every((j) => j!.state === "done" || j!.state === "failed")) break
                  yield* Effect.sleep(5)
                }
                return ids
              }))
              expect(violations).toBe(0)
              const store = new JobStore(path.join(dir, "state.db"))
              try {
                ids.forEach((id, i) => {
                  const job = store.get(id)!
                  expect(job.state).toBe(jobs[i]!.fail ? "failed" : "done")
                  if (jobs[i]!.fail) expect(job.error).toMatchObject({ tag: "Nope", message: "refused" })
                  else expect(job.ok).toEqual({ done: id })
                  expect(calls.get(id)).toBe(1)
                })
              } finally {
                store.close()
              }
              for (const [session, seen] of order) {
                const expected = ids.filter((_, i) => jobs[i]!.session === session)
                expect(seen).toEqual(expected)
              }
            } finally {
              fs.rmSync(dir, { recursive: true, force: true })
            }
          }).pipe(Effect.provide(quiet)))
      ),
      { numRuns: 25 }
    )
  }, 120_000)

  it.live("the global poll submits nothing while any session is in flight", () =>
    Effect.gen(function*() {
      const dir = tempDir("liege-runner-")
      const file = path.join(dir, "state.db")
      // a job of another session present at start-up (its poke was lost): only the poll can find it
      const pre = new JobStore(file)
      pre.add("b", "2")
      pre.close()
      const release = yield* Deferred.make<void>()
      const started: Array<string> = []
      yield* Effect.scoped(Effect.gen(function*() {
        const runner = yield* make({ file, pollInterval: 20 }, (job) =>
          Effect.gen(function*() {
            started.push(job.session)
            if (job.session === "a") yield* Deferred.await(release)
          }))
        yield* runner.enqueue("a", 1) // before the first poll
        expect(yield* Effect.flip(make({ file }, () => Effect.void))).toMatchObject({ _tag: "RunnerStoreError" })
        yield* until(() => runner.stats().polls >= 5) // five polls while "a" is in flight
        expect(started).toEqual(["a"])
        yield* Deferred.succeed(release, undefined)
        while (started.length < 2) yield* Effect.sleep(5)
        expect(started).toEqual(["a", "b"])
      }))
      fs.rmSync(dir, { recursive: true, force: true })
    }).pipe(Effect.provide(quiet)))

  it.live("completion re-drives its session (no poll, no ladder needed)", () =>
    Effect.gen(function*() {
      const dir = tempDir("liege-runner-")
      const file = path.join(dir, "state.db")
      const pre = new JobStore(file)
      const ids = [pre.add("s", "1"), pre.add("s", "2"), pre.add("s", "3")]
      pre.close()
      const ran: Array<number> = []
      yield* Effect.scoped(Effect.gen(function*() {
        const runner = yield* make({ file, pollInterval: "1 hour" }, (job) => Effect.sync(() => ran.push(job.id)))
        yield* runner.poke("s")
        while (ran.length < 3) yield* Effect.sleep(5)
      }))
      expect(ran).toEqual(ids)
      fs.rmSync(dir, { recursive: true, force: true })
    }).pipe(Effect.provide(quiet)))

  it.live("a job cut off by a crash is queued again at the next start and runs again", () =>
    Effect.gen(function*() {
      const dir = tempDir("liege-runner-")
      const file = path.join(dir, "state.db")
      const pre = new JobStore(file)
      const id = pre.add("s", "1")
      expect(pre.start(id)).toBe(true) // running when "liege died"
      pre.close()
      const ran: Array<number> = []
      yield* Effect.scoped(Effect.gen(function*() {
        const runner = yield* make({ file, pollInterval: 10 }, (job) => Effect.sync(() => ran.push(job.id)))
        expect(runner.stats().recovered).toBe(1)
        while ((yield* runner.get(id))?.state !== "done") yield* Effect.sleep(5)
      }))
      expect(ran).toEqual([id])
      fs.rmSync(dir, { recursive: true, force: true })
    }).pipe(Effect.provide(quiet)))
})
