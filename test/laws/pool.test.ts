/**
 * Pool laws (SPEC §5), over generated worker faults (crash before or after
 * answering, hang, garbage frame, wrong id, slow ready, a worker that clings
 * to a cancelled request) and generated caller interruptions, with real
 * worker processes:
 *
 * 1. every accepted request gets exactly one answer (or, its caller gone, is cancelled);
 * 2. never more than N workers alive, nor more than maxInFlight requests on one worker;
 * 3. no request waits while a worker has room;
 * 4. restarts and recycling never leave a process behind;
 * 5. poison requests (a worker dying while serving) never fail the pool, however many;
 * 6. a request whose frame could not be written (its worker already gone) is served by the next worker.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Logger } from "effect"
import fc from "fast-check"
import * as fs from "node:fs"
import * as path from "node:path"
import { make, type Pool } from "../../src/pool/pool.ts"
import { killUnnoticed } from "../pool/unnoticed.ts"
import { faulty, readyWorkers } from "../support/pools.ts"
import { until } from "../support/procs.ts"
import { tempDir } from "../support/serfs.ts"
import { liveProcesses } from "../support/proc.ts"

const payload = fc.oneof(
  { weight: 6, arbitrary: fc.integer().map((value) => ({ op: "echo", value })) },
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 80 }).map((ms) => ({ op: "sleep", ms })) },
  { weight: 1, arbitrary: fc.constantFrom(
    { op: "crash-before" },
    { op: "crash-after" },
    { op: "hang" },
    { op: "garbage" },
    { op: "wrong-id" },
    { op: "fail" },
    { op: "stubborn", ms: 400 }
  ) }
)

const call = fc.record({
  payload,
  /** start this long after the previous call */
  delay: fc.integer({ min: 0, max: 30 }),
  /** interrupt the caller after this long, if set */
  interruptAfter: fc.option(fc.integer({ min: 0, max: 150 }), { nil: undefined })
})

/** Live processes carrying `tag` in their environment. */
const alive = (tag: string): Array<number> => liveProcesses({ env: `LAW_POOL=${tag}` }).map((p) => p.pid)

describe("pool laws", () => {
  it("1–4 hold under generated faults and interruptions", async () => {
    let runs = 0
    await fc.assert(
      fc.asyncProperty(
        fc.array(call, { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 3 }),
        fc.constantFrom("0", "0", "150"),
        (calls, workers, maxInFlight, readyDelay) =>
          Effect.runPromise(Effect.gen(function*() {
            const tag = `${process.pid}-${runs++}`
            const dir = tempDir("liege-pool-law-")
            const log = path.join(dir, "inflight")
            const accepted = new Set<number>()
            const answered = new Map<number, number>()
            const cancelled = new Set<number>()
            const violations: Array<string> = []
            try {
              yield* Effect.scoped(Effect.gen(function*() {
                const pool = yield* make({
                  ...faulty({ LAW_POOL: tag, FAULTY_MAX_LOG: log, FAULTY_READY_DELAY: readyDelay }),
                  workers,
                  maxInFlight,
                  execTimeout: 300,
                  cancelGrace: 100,
                  grace: 200,
                  maxRestarts: 1000
                }, {
                  onAccept: (id) => accepted.add(id),
                  onAnswer: (id) => answered.set(id, (answered.get(id) ?? 0) + 1),
                  onCancel: (id) => cancelled.add(id)
                })
                // 2 and 3, sampled while the calls run
                const watch = yield* Effect.forkChild(Effect.forever(Effect.andThen(Effect.sync(() => {
                  const v = pool.view()
                  const idle = v.workers.filter((w) => w.state === "ready").length
                  if (v.queue.depth > 0 && idle > 0) violations.push(`queued ${v.queue.depth} while ${idle} workers were idle`)
                  const n = alive(tag).length
                  if (n > workers) violations.push(`${n} workers alive, more than ${workers}`)
                }), Effect.sleep(3))))
                const fibers = []
                for (const c of calls) {
                  yield* Effect.sleep(c.delay)
                  const f = yield* Effect.forkChild(Effect.exit(pool.submit(c.payload)))
                  fibers.push(f)
                  if (c.interruptAfter !== undefined) {
                    yield* Effect.forkChild(Effect.andThen(Effect.sleep(c.interruptAfter), Fiber.interrupt(f)))
                  }
                }
                // every caller ends: answered, or interrupted — nobody waits forever
                yield* Effect.forEach(fibers, (f) => Fiber.await(f), { discard: true }).pipe(Effect.timeout(20_000))
                yield* Fiber.interrupt(watch)
                expect(pool.view().inFlight).toBe(0)
                expect(pool.view().queue.depth).toBe(0)
              }))
              // 1. exactly one answer per accepted request, or cancelled (its caller gone)
              for (const id of accepted) {
                const n = answered.get(id) ?? 0
                if (cancelled.has(id)) expect(n).toBe(0)
                else expect(n).toBe(1)
              }
              for (const id of answered.keys()) expect(accepted.has(id)).toBe(true)
              expect(violations).toEqual([])
              // 2. (worker side) never more than maxInFlight held at once
              if (fs.existsSync(log)) {
                const seen = fs.readFileSync(log, "utf8").trim().split("\n").map((l) => Number(l.split(" ")[1]))
                expect(Math.max(...seen)).toBeLessThanOrEqual(maxInFlight)
              }
              // 4. nothing left behind
              expect(alive(tag)).toEqual([])
            } finally {
              fs.rmSync(dir, { recursive: true, force: true })
            }
          }).pipe(Effect.provide(Logger.layer([]))))
      ),
      { numRuns: 14, endOnFailure: true }
    )
  }, 240_000)

  it("5. poison requests never fail the pool", async () => {
    const poisonCall = fc.record({
      payload: fc.oneof(
        { weight: 3, arbitrary: fc.constant({ op: "crash-before" }) },
        { weight: 4, arbitrary: fc.integer().map((value) => ({ op: "echo", value })) },
        { weight: 3, arbitrary: fc.integer({ min: 0, max: 40 }).map((ms) => ({ op: "sleep", ms })) }
      ),
      delay: fc.integer({ min: 0, max: 20 })
    })
    await fc.assert(
      fc.asyncProperty(
        fc.array(poisonCall, { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 1, max: 2 }),
        (calls, workers) =>
          Effect.runPromise(Effect.scoped(Effect.gen(function*() {
            // not one counted failure is tolerated: a poison death must not be one
            const pool = yield* make({ ...faulty(), workers, maxRestarts: 0 })
            const failedEver = yield* Effect.forkChild(pool.failed)
            const fibers = []
            for (const c of calls) {
              yield* Effect.sleep(c.delay)
              fibers.push(yield* Effect.forkChild(Effect.exit(pool.submit(c.payload))))
            }
            const exits = yield* Effect.forEach(fibers, (f) => Fiber.join(f)).pipe(Effect.timeout(30_000))
            exits.forEach((exit, i) => {
              const poison = (calls[i]!.payload as { op: string }).op === "crash-before"
              if (poison) expect(exit._tag === "Failure" && (exit.cause.reasons[0] as any)?.error?._tag).toBe("WorkerDied")
              else expect(exit._tag).toBe("Success")
            })
            expect(failedEver.pollUnsafe()).toBeUndefined()
            expect((pool.view().failed !== null)).toBe(false)
            expect(yield* pool.submit({ op: "echo", value: "after" })).toMatchObject({ value: "after" })
          })).pipe(Effect.provide(Logger.layer([]))))
      ),
      { numRuns: 6, endOnFailure: true }
    )
  }, 240_000)

  it("6. a request whose frame could not be written is served by the next worker", async () => {
    const windowMs = 100
    /** Every slot ready, and up for the restart window (so that its backoff starts again from its first step). */
    const settled = (pool: Pool) =>
      Effect.gen(function*() {
        yield* readyWorkers(pool, pool.view().workers.length)
        yield* until(() => pool.view().workers.every((s) => s.readyAt !== null && Date.now() - s.readyAt > windowMs))
      })
    const round = fc.record({
      /** which idle workers to kill behind the pool's back (by their place in `pids()`) */
      kill: fc.uniqueArray(fc.integer({ min: 0, max: 2 }), { maxLength: 3 }),
      /** then this many requests at once */
      requests: fc.integer({ min: 1, max: 4 }),
      /** after this long (0: before the pool can have seen anything) */
      after: fc.constantFrom(0, 0, 1, 3)
    })
    await fc.assert(
      fc.asyncProperty(
        fc.array(round, { minLength: 1, maxLength: 3 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 3 }),
        (rounds, workers, maxInFlight) =>
          Effect.runPromise(Effect.scoped(Effect.gen(function*() {
            const pool = yield* make({ ...faulty(), workers, maxInFlight, maxRestarts: 1000, restartWindow: windowMs })
            for (const r of rounds) {
              yield* settled(pool)
              const pids = pool.pids()
              const killed = r.kill.filter((i) => i < pids.length).map((i) => pids[i]!)
              for (const pid of killed) yield* killUnnoticed(pid)
              if (r.after > 0) yield* Effect.sleep(r.after)
              const answers = yield* Effect.all(
                Array.from({ length: r.requests }, (_, i) => pool.submit({ op: "echo", value: i })),
                { concurrency: "unbounded" }
              ).pipe(Effect.timeout(30_000))
              for (const a of answers as Array<{ pid: number }>) expect(killed).not.toContain(a.pid)
            }
            expect((pool.view().failed !== null)).toBe(false)
          })).pipe(Effect.provide(Logger.layer([]))))
      ),
      { numRuns: 8, endOnFailure: true }
    )
  }, 240_000)
})
